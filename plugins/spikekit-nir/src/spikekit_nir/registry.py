"""The converter contract of spikekit-nir and the look-ups through spikekit's ``spikekit_converters`` hook.

A plugin adds a NIR mapping by returning :class:`~spikekit.plugins.records.ConverterSpec` records with
``format="nir"``:

Export (``direction="export"``): ``name`` is the dotted path of the torch class it converts,
``f"{cls.__module__}.{cls.__qualname__}"`` (e.g. ``"torch.nn.modules.linear.Linear"``), or a public spikekit alias
such as ``"spikekit.layers.LIF"`` (resolved when ``to_nir`` runs; skipped when its plugin is not installed). The
exporter walks ``type(module).__mro__`` and uses the converter of the most specific class. The target is::

    def export_my_layer(module: torch.nn.Module, ctx: ExportContext) -> nir.NIRNode: ...

returning a NIR node, or :data:`PASSTHROUGH` for a module that only routes signals (its inputs are summed and
handed to its consumers, as NIR sums every edge into a node; ``Merge``, ``Identity``, ``Dropout``). Raise
:class:`~spikekit_nir.conventions.ConversionError` naming ``ctx.name`` when the module cannot be expressed.

Import (``direction="import"``): ``name`` is the NIR node class name (``"LIF"``, ``"Affine"``), or the dotted
path of a torch class: ``to_nir`` writes the exported module's class path and the distribution providing it into
every node's metadata (``spikekit_class``, ``spikekit_provider``), and ``from_nir`` uses the import converter
registered under that class path before the one of the node type. So a plugin brings its own layer back. The
target is::

    def import_my_node(node: nir.NIRNode, ctx: ImportContext) -> torch.nn.Module: ...

returning the module that computes the node on spikekit's squeezed layout ``(B*T, ...)``.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.metadata
import warnings
from collections.abc import Callable
from typing import Any

from torch import nn

from spikekit_nir.conventions import Convention, ConversionError

#: Default bound on the number of nodes of a graph ``from_nir`` builds (nested graphs included).
DEFAULT_MAX_NODES = 10_000

__all__ = [
    "DEFAULT_MAX_NODES",
    "ExportContext",
    "ImportContext",
    "PASSTHROUGH",
    "class_path",
    "export_converters",
    "find_exporter",
    "find_importer",
    "metadata_value",
    "provider_of",
    "stamp",
]

#: Returned by an export converter for a module that only routes (sums) signals: it leaves no node behind.
PASSTHROUGH: Any = type("Passthrough", (), {"__repr__": lambda self: "PASSTHROUGH"})()


@dataclasses.dataclass
class ExportContext:
    """What an export converter knows besides the module.

    Attributes:
        name: the node name (the module's qualified name in the model, e.g. ``"encoder.0"``).
        convention: the :class:`~spikekit_nir.conventions.Convention` of this export.
        input_shape: shape of the module's (first) input on the sample data, without the ignored dims, or None.
        output_shape: shape of its output on the sample data, without the ignored dims, or None.
        n_ignored_dims: how many leading dims (batch, and time when given) the shapes leave out.
    """

    name: str
    convention: Convention
    input_shape: tuple[int, ...] | None = None
    output_shape: tuple[int, ...] | None = None
    n_ignored_dims: int = 1


@dataclasses.dataclass
class ImportContext:
    """What an import converter knows besides the node.

    Attributes:
        name: the node's name in the NIR graph.
        convention: the :class:`~spikekit_nir.conventions.Convention` of this import.
        batch_size: batch size for the Squeeze layers (or None).
        num_timesteps: number of time steps for the Squeeze layers (or None).
        load_graph: ``load_graph(subgraph, name)`` turns a nested ``nir.NIRGraph`` into a module.
        max_depth: the deepest nesting of subgraphs ``load_graph`` accepts.
        max_nodes: the most nodes the whole graph (nested graphs included) may hold.
        node_count: nodes counted so far, shared by every context of one import (see :meth:`count_nodes`).
    """

    name: str
    convention: Convention
    batch_size: int | None = None
    num_timesteps: int | None = None
    load_graph: Callable[[Any, str], nn.Module] | None = None
    max_depth: int = 32
    max_nodes: int = DEFAULT_MAX_NODES
    node_count: list[int] = dataclasses.field(default_factory=lambda: [0])

    def count_nodes(self, n: int, where: str) -> None:
        """Add ``n`` nodes to the import's count; a ConversionError once it passes ``max_nodes``."""
        self.node_count[0] += n
        if self.node_count[0] > self.max_nodes:
            label = f"graph {where!r}" if where else "the graph"
            raise ConversionError(
                f"from_nir: {label} brings the node count to {self.node_count[0]}, more than max_nodes="
                f"{self.max_nodes}; pass a larger max_nodes to from_nir if the graph is trusted"
            )

    def require_time(self, node: Any) -> None:
        """Raise unless ``batch_size`` or ``num_timesteps`` is known (Squeeze layers need one)."""
        if not self.batch_size and not self.num_timesteps:
            raise ConversionError(
                f"NIR node {self.name!r} ({type(node).__name__}) becomes a Squeeze layer that takes (batch*time, ...) "
                "input: pass batch_size or num_timesteps to from_nir"
            )


def _warn_missing_provider(node: Any, written_by: Any) -> None:
    provider = metadata_value(node, "spikekit_provider")
    if not isinstance(provider, str) or not provider:
        return
    try:
        importlib.metadata.distribution(provider)
    except importlib.metadata.PackageNotFoundError:
        warnings.warn(
            f"from_nir: a {type(node).__name__} node was written from {written_by} of {provider}, which is not "
            f"installed; it is imported as a plain NIR {type(node).__name__}",
            UserWarning,
            stacklevel=4,
        )


def class_path(cls: type) -> str:
    """``"module.QualName"`` of a class: the key of export converters."""
    return f"{cls.__module__}.{cls.__qualname__}"


def _converters(direction: str) -> dict[str, Any]:
    from spikekit.plugins import host

    return host().converters("nir", direction)


def export_converters() -> dict[type | str, Callable[..., Any]]:
    """``{class path or class: converter}`` of every registered NIR exporter, public aliases resolved to classes."""
    from spikekit.plugins import host

    table: dict[type | str, Callable[..., Any]] = {}
    for name, spec in _converters("export").items():
        fn = spec.load()
        if name.startswith("spikekit."):
            namespace, _, attr = name.rpartition(".")
            try:
                cls = host().resolve_export(namespace, attr)
            except Exception:  # the alias's plugin is not installed: nothing of that class can be in a model
                continue
            table[cls] = fn
        else:
            table[name] = fn
    return table


def find_exporter(module: nn.Module, table: dict[type | str, Callable[..., Any]]) -> Callable[..., Any] | None:
    """The converter of the most specific class in ``type(module).__mro__`` that has one, or None."""
    for cls in type(module).__mro__:
        fn = table.get(cls)
        if fn is None:
            fn = table.get(class_path(cls))
        if fn is not None:
            return fn
    return None


def metadata_value(node: Any, key: str) -> Any:
    """A node's metadata entry as Python data (text read back from a file decoded), or None."""
    value: Any = (getattr(node, "metadata", None) or {}).get(key)
    if isinstance(value, bytes):
        value = value.decode()
    if hasattr(value, "dtype") and value.dtype.kind in "SOU" and value.size == 1:
        value = value.item()
        value = value.decode() if isinstance(value, bytes) else value
    return value


def provider_of(cls: type) -> str:
    """The distribution that installs ``cls``'s top-level package (``""`` when not known)."""
    return _distribution_of(cls.__module__.partition(".")[0])


@functools.cache
def _distribution_of(package: str) -> str:
    found = importlib.metadata.packages_distributions().get(package) or [""]
    return found[0]


def stamp(node: Any, module: nn.Module) -> None:
    """Write the exported module's class path and provider into the node's metadata (what import looks up)."""
    if type(node).__name__ == "NIRGraph" or not isinstance(getattr(node, "metadata", None), dict):
        return
    node.metadata["spikekit_class"] = class_path(type(module))
    node.metadata["spikekit_provider"] = provider_of(type(module))


def find_importer(node: Any) -> Callable[..., Any] | None:
    """The import converter registered for the class named in the node's metadata (``spikekit_class``, written
    on export), else for the NIR node's class name (then its base classes), or None."""
    table = _converters("import")
    written_by = metadata_value(node, "spikekit_class")
    if isinstance(written_by, str) and written_by in table:
        return table[written_by].load()
    _warn_missing_provider(node, written_by)
    for cls in type(node).__mro__:
        spec = table.get(cls.__name__)
        if spec is not None:
            return spec.load()
    return None
