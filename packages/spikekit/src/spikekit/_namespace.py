"""The namespaces that plugins fill (``spikekit.layers``, ``spikekit.nir``, ...): module-level ``__getattr__`` /
``__dir__`` (PEP 562) that resolve names through the plugin registry, and the modules made from the one table of
namespaces (:data:`spikekit.plugins.records.NAMESPACES`) for those where the core has no code of its own."""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types
from collections.abc import Callable, Iterable
from typing import Any

from spikekit._submodules import CORE_SUBMODULES, install_submodule_finder
from spikekit.errors import PluginNotInstalledError
from spikekit.plugins import host

ModuleHooks = tuple[Callable[[str], Any], Callable[[], list[str]]]


def namespace_hooks(namespace: str, module_globals: dict[str, Any], provider: str | None = None) -> ModuleHooks:
    """Make ``namespace``'s unknown attributes resolve through the plugin registry.

    Names defined in the module itself (the core's own) are found by Python before ``__getattr__`` is called;
    every other public name is looked up among the plugins' exports, loaded on first use and cached by the host.
    Dunder and private names (``_ipython_canary_method_should_not_exist_``, ``__wrapped__``, ...), which IPython,
    Jupyter, doctest and pickle probe for, are never exported and never start plugin discovery. ``__path__``, which
    the import system reads before importing a submodule (``import spikekit.layers.lif``), makes the namespace a
    package whose submodules the plugins serve (:mod:`spikekit._submodules`). ``provider``, for a namespace that
    one distribution fills, is named in the error raised when no plugin provides the name.
    """

    def __getattr__(name: str) -> Any:
        if name == "__path__" and "__path__" not in module_globals:
            install_submodule_finder(namespace)
            module_globals["__path__"] = []
            return module_globals["__path__"]
        if name.startswith("_"):
            raise AttributeError(f"module {namespace!r} has no attribute {name!r}")
        try:
            return host().resolve_export(namespace, name)
        except (AttributeError, ImportError) as exc:
            own = _own_submodule(namespace, name, module_globals)
            if own is not None:
                return own
            if provider is not None and isinstance(exc, PluginNotInstalledError):
                message = f"{namespace}.{name} comes from the {provider} distribution: pip install {provider} ({exc})"
                raise PluginNotInstalledError(message) from None
            raise

    def __dir__() -> list[str]:
        own = [n for n in module_globals if not n.startswith("_")]
        return sorted(set(own) | set(host().exports(namespace)))

    return __getattr__, __dir__


def _own_submodule(namespace: str, name: str, module_globals: dict[str, Any]) -> types.ModuleType | None:
    """The core's own submodule ``namespace.name`` (a file of the package, or a path of :data:`~spikekit._submodules.CORE_SUBMODULES`).

    ``from spikekit import encoders`` asks for the attribute before importing the submodule of that name; looked up
    only after the registry missed."""
    path = module_globals.get("__path__")
    fullname = f"{namespace}.{name}"
    if fullname in CORE_SUBMODULES or (path and importlib.machinery.PathFinder.find_spec(name, path) is not None):
        return importlib.import_module(fullname)
    return None


def make_namespaces(namespaces: Iterable[str]) -> None:
    """Make a module for each of ``namespaces`` that is not imported yet (and for its parents): a namespace where
    every name comes from a plugin, mirroring the sinabs module of the same path. Each is bound in ``sys.modules``
    and as an attribute of its parent, so ``import spikekit.nir`` and ``spikekit.nir`` both find it."""
    for namespace in namespaces:
        parts = namespace.split(".")
        for depth in range(2, len(parts) + 1):
            name = ".".join(parts[:depth])
            if name not in sys.modules:
                _make_namespace(name)


def _make_namespace(name: str) -> None:
    sinabs_path = "sinabs" + name[len("spikekit") :]
    module = types.ModuleType(name, f"Mirrors ``{sinabs_path}``: every public name here comes from a plugin.")
    module.__spec__ = importlib.machinery.ModuleSpec(name, None, origin="spikekit namespace")
    module.__getattr__, module.__dir__ = namespace_hooks(name, vars(module))  # type: ignore[method-assign]
    sys.modules[name] = module
    parent, _, child = name.rpartition(".")
    setattr(sys.modules[parent], child, module)
