"""Submodules of the core's namespaces, e.g. ``spikekit.layers.lif`` or ``spikekit.backend.dynapcnn.dvs_layer``:
every sinabs module path is a module of spikekit, most of them served by the plugin that owns their contents.

A plugin exports a *module* into a namespace package with an ordinary :class:`~spikekit.plugins.records.Export`
whose target is a module, e.g. ``Export("dvs_layer", "spikekit_speck.dynapcnn:dvs_layer",
namespace="spikekit.backend.dynapcnn")``. Attribute access (``spikekit.backend.dynapcnn.dvs_layer``) resolves it
through the namespace's ``__getattr__``; this module makes the import statement work too
(``from spikekit.backend.dynapcnn.dvs_layer import DVSLayer``): a meta-path finder that answers only for names under
the namespaces that asked for it, looks the first part up among the plugins' exports, and binds the import name to
the plugin's module object itself (an alias: one module, one set of classes). Deeper names
(``...dynapcnn.chips.speck2f``) are imported from the plugin's module and aliased the same way.

The few paths whose contents the core defines (``spikekit.layers.stateful_layer``) are aliases of the core's
modules, listed in :data:`CORE_SUBMODULES`.

The finder joins ``sys.meta_path`` only when the import system first asks a namespace for its ``__path__`` (just
before importing a submodule of it, or a ``from`` import out of it), never on ``import spikekit``; nothing is
imported from a plugin until such a submodule is first imported.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
import types
from collections.abc import Sequence
from typing import Any

from spikekit.plugins import host

__all__ = ["install_submodule_finder", "CORE_SUBMODULES"]

#: sinabs module paths whose contents the core itself defines: path -> the core module that holds them.
CORE_SUBMODULES: dict[str, str] = {
    "spikekit.layers.stateful_layer": "spikekit.state",
    "spikekit.layers.reshape": "spikekit.time",
}

_LOCK = threading.Lock()


class _AliasLoader(importlib.abc.Loader):
    """Loads nothing: hands the import system an already imported module, keeping that module's own ``__spec__``."""

    def __init__(self, module: types.ModuleType) -> None:
        self._module = module
        self._spec = getattr(module, "__spec__", None)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return self._module

    def exec_module(self, module: types.ModuleType) -> None:
        # The import system wrote the alias's spec onto the module; give the module back its own.
        if self._spec is not None:
            module.__spec__ = self._spec


class _PluginSubmoduleFinder(importlib.abc.MetaPathFinder):
    """Finds ``<namespace>.<name>[.<more>]`` where a plugin exports a module as ``<namespace>.<name>``."""

    def __init__(self) -> None:
        self.namespaces: set[str] = set()

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: types.ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith("spikekit."):  # what every other import of the process costs
            return None
        # The longest namespace first: ``spikekit.backend.dynapcnn.io`` belongs to ``spikekit.backend.dynapcnn``.
        namespace = max((n for n in self.namespaces if fullname.startswith(n + ".")), key=len, default=None)
        if namespace is None:
            return None
        module = _provided_module(namespace, fullname[len(namespace) + 1 :])
        if module is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(module))


def _provided_module(namespace: str, tail: str) -> types.ModuleType | None:
    """The module for ``namespace.tail`` (the core's or a plugin's), or None if nobody provides
    ``namespace.<first part>``."""
    first, _, rest = tail.partition(".")
    core = CORE_SUBMODULES.get(f"{namespace}.{first}")
    if core is not None and not rest:
        return importlib.import_module(core)
    if first not in host().exports(namespace):
        return None
    obj: Any = host().resolve_export(namespace, first)
    if not isinstance(obj, types.ModuleType):
        return None
    if not rest:
        return obj
    return importlib.import_module(f"{obj.__name__}.{rest}")


_FINDER = _PluginSubmoduleFinder()


def install_submodule_finder(namespace: str) -> None:
    """Let ``import <namespace>.<x>`` find modules that plugins export into ``namespace`` (a package).

    Called by the namespace when the import system first asks for its ``__path__``; idempotent.
    """
    with _LOCK:
        _FINDER.namespaces.add(namespace)
        if _FINDER not in sys.meta_path:
            # First, so that a plugin module's own ``__path__`` is never searched a second time under the alias name.
            sys.meta_path.insert(0, _FINDER)
