"""Typed records that plugins return from their hooks.

Every record names a thing and points at it through ``ref``: either the object itself, or a lazy import reference
``"package.module:attribute"`` that is imported only when the thing is first used (so registering a GPU backend
never imports the GPU library). The core validates each record and detects name clashes between plugins.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import re
from typing import Any, ClassVar, Literal

__all__ = [
    "Record",
    "Export",
    "BackendSpec",
    "TargetSpec",
    "ConverterSpec",
    "EncoderSpec",
    "CommandSpec",
    "NAMESPACES",
    "NAMESPACE_DISTRIBUTIONS",
    "install_hint",
    "load_ref",
]

#: The namespaces a plugin may add names to (each mirrors the sinabs module of the same name; ``spikekit.plot`` is
#: spikekit's own), each with the first-party distribution that fills it: what a missing name's error says to install.
NAMESPACE_DISTRIBUTIONS: dict[str, str] = {
    "spikekit": "spikekit-convert",
    "spikekit.layers": "spikekit-neurons",
    "spikekit.activation": "spikekit-neurons",
    "spikekit.from_torch": "spikekit-convert",
    "spikekit.network": "spikekit-convert",
    "spikekit.conversion": "spikekit-convert",
    "spikekit.synopcounter": "spikekit-convert",
    "spikekit.utils": "spikekit-convert",
    "spikekit.cnnutils": "spikekit-convert",
    "spikekit.hooks": "spikekit-convert",
    "spikekit.nir": "spikekit-nir",
    "spikekit.backend.dynapcnn": "spikekit-speck",
    "spikekit.validate_memory_speck": "spikekit-speck",
    "spikekit.plot": "spikekit-plot",
}
NAMESPACES: tuple[str, ...] = tuple(NAMESPACE_DISTRIBUTIONS)


def install_hint(namespace: str) -> str:
    """What to install for a missing name of ``namespace``: its first-party distribution, if the table names one."""
    dist = NAMESPACE_DISTRIBUTIONS.get(namespace)
    if dist is None:
        return "install the distribution that provides it"
    return f"{namespace} is filled by the {dist} distribution: pip install {dist}"


_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]*$")
_PATH = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def load_ref(ref: Any) -> Any:
    """Import ``"package.module:attribute"`` (dots allowed after the colon) or the module ``"package.module"``;
    return anything that is not a string unchanged."""
    if not isinstance(ref, str):
        return ref
    module_name, _, attr_path = ref.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in filter(None, attr_path.split(".")):
        obj = getattr(obj, part)
    return obj


@dataclasses.dataclass(frozen=True)
class Record:
    """Base of every record: a ``name``, a ``ref`` (the object or a lazy ``"module:attr"`` reference), a description."""

    name: str
    ref: Any
    description: str = ""
    kind: ClassVar[str] = "record"

    def key(self) -> tuple[str, ...]:
        """What must be unique across plugins."""
        return (self.kind, self.name)

    def validate(self) -> None:
        """Raise ``ValueError`` naming the problem if the record is malformed."""
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise ValueError(f"{type(self).__name__}.name must be an identifier-like string, got {self.name!r}")
        if isinstance(self.ref, str) and not _PATH.match(self.ref):
            raise ValueError(
                f"{type(self).__name__} {self.name!r}: a string ref must look like 'package.module:attribute', "
                f"got {self.ref!r}"
            )
        if self.ref is None:
            raise ValueError(f"{type(self).__name__} {self.name!r}: ref is None")
        if not isinstance(self.description, str):
            raise ValueError(f"{type(self).__name__} {self.name!r}: description must be a string")

    def load(self) -> Any:
        """The object ``ref`` points at (imported on first call if given as a reference)."""
        return load_ref(self.ref)


@dataclasses.dataclass(frozen=True)
class Export(Record):
    """A public name in one of spikekit's namespaces, e.g. ``spikekit.layers.LIF`` or ``spikekit.from_model``.

    ``namespace`` is one of :data:`NAMESPACES`; the default is ``"spikekit.layers"``.
    """

    namespace: str = "spikekit.layers"
    kind: ClassVar[str] = "export"

    def key(self) -> tuple[str, ...]:
        return (self.kind, self.namespace, self.name)

    def validate(self) -> None:
        super().validate()
        if self.namespace not in NAMESPACES:
            raise ValueError(
                f"Export {self.name!r}: unknown namespace {self.namespace!r}; expected one of {NAMESPACES}"
            )
        if not self.name.isidentifier():
            raise ValueError(f"Export name must be a Python identifier, got {self.name!r}")


@dataclasses.dataclass(frozen=True)
class BackendSpec(Record):
    """A compute backend (see :mod:`spikekit.compute`); ``ref`` is a ``ComputeBackend`` instance, or its class
    (instantiated once, without arguments, on first use).

    ``requires`` names the top-level modules the backend needs (``("triton",)``): where one cannot be found (looked
    up without importing it), the backend is listed as unavailable with that reason instead of failing at first use.
    """

    requires: tuple[str, ...] = ()
    kind: ClassVar[str] = "backend"

    def missing_requirements(self) -> list[str]:
        """The modules of :attr:`requires` that cannot be found here (none are imported)."""
        return [m for m in self.requires if importlib.util.find_spec(m) is None]


@dataclasses.dataclass(frozen=True)
class TargetSpec(Record):
    """A hardware target (see :mod:`spikekit.targets`); ``ref`` is a ``HardwareTarget`` instance or its class."""

    kind: ClassVar[str] = "target"


@dataclasses.dataclass(frozen=True)
class ConverterSpec(Record):
    """One mapping of an interchange format, for example NIR.

    For ``direction="export"``, ``name`` is the dotted name of the torch class it converts
    (``"torch.nn.Linear"``); for ``direction="import"`` it is the format's node type (``"Affine"``). ``ref`` is
    the conversion function; its signature is defined by the plugin that owns the format.
    """

    format: str = "nir"
    direction: Literal["export", "import"] = "export"
    kind: ClassVar[str] = "converter"

    def key(self) -> tuple[str, ...]:
        return (self.kind, self.format, self.direction, self.name)

    def validate(self) -> None:
        super().validate()
        if self.direction not in ("export", "import"):
            raise ValueError(
                f"ConverterSpec {self.name!r}: direction must be 'export' or 'import', got {self.direction!r}"
            )
        if not isinstance(self.format, str) or not self.format:
            raise ValueError(f"ConverterSpec {self.name!r}: format must be a non-empty string")


@dataclasses.dataclass(frozen=True)
class EncoderSpec(Record):
    """A spike encoder: ``ref`` is a callable or ``nn.Module`` class turning values into spike trains."""

    kind: ClassVar[str] = "encoder"


@dataclasses.dataclass(frozen=True)
class CommandSpec(Record):
    """A ``spikekit`` command-line sub-command.

    ``ref`` has ``add_arguments(parser)`` and ``run(args) -> int`` (a module or an object).
    """

    kind: ClassVar[str] = "command"
