"""Module-level ``__getattr__`` / ``__dir__`` (PEP 562): for the namespaces that plugins fill, and for packages whose
names load on first access."""

from __future__ import annotations

import importlib
import importlib.machinery
from collections.abc import Callable, Mapping
from typing import Any

from spikekit.errors import PluginNotInstalledError

ModuleHooks = tuple[Callable[[str], Any], Callable[[], list[str]]]


def namespace_hooks(namespace: str, module_globals: dict[str, Any], provider: str | None = None) -> ModuleHooks:
    """Make ``namespace``'s unknown attributes resolve through the plugin registry.

    Names defined in the module itself (the core's own) are found by Python before ``__getattr__`` is called;
    every other public name is looked up among the plugins' exports, loaded on first use and cached by the host.
    Dunder and private names (``_ipython_canary_method_should_not_exist_``, ``__wrapped__``, ...), which IPython,
    Jupyter, doctest and pickle probe for, are never exported and never start plugin discovery. ``provider``, for
    a namespace that one distribution fills, is named in the error raised when no plugin provides the name.
    """

    def __getattr__(name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(f"module {namespace!r} has no attribute {name!r}")
        from spikekit.plugins import host

        try:
            return host().resolve_export(namespace, name)
        except (AttributeError, ImportError) as exc:
            # ``from spikekit import encoders`` asks for the attribute before importing the core's own submodule of
            # that name: import it rather than report a missing plugin (looked up only after the registry missed)
            path = module_globals.get("__path__")
            if path is not None and importlib.machinery.PathFinder.find_spec(name, path) is not None:
                return importlib.import_module(f"{namespace}.{name}")
            if provider is not None and isinstance(exc, PluginNotInstalledError):
                message = f"{namespace}.{name} comes from the {provider} distribution: pip install {provider} ({exc})"
                raise PluginNotInstalledError(message) from None
            raise

    def __dir__() -> list[str]:
        from spikekit.plugins import host

        own = [n for n in module_globals if not n.startswith("_")]
        return sorted(set(own) | set(host().exports(namespace)))

    return __getattr__, __dir__


def lazy_exports(module_globals: dict[str, Any], names: Mapping[str, str]) -> ModuleHooks:
    """Module-level ``__getattr__`` and ``__dir__`` for a package whose public names load on first access.

    ``names`` maps each public name to where it lives: ``"package.module:attribute"`` (dots allowed after the colon,
    the attribute may have another name: an alias) or a module, ``"package.module"``. The first access imports it
    and keeps it in the package's globals; ``dir()`` lists every name without importing any. So importing the package
    (which discovering its plugin does) stays cheap.

    Example (a plugin's ``__init__.py``)::

        from spikekit.plugins import lazy_exports

        __all__ = ["MyNeuron", "functional"]
        __getattr__, __dir__ = lazy_exports(
            globals(), {"MyNeuron": "my_plugin.layers:MyNeuron", "functional": "my_plugin.functional"}
        )
    """
    from spikekit.plugins.records import load_ref

    module = module_globals["__name__"]

    def __getattr__(name: str) -> Any:
        ref = names.get(name)
        if ref is None:
            raise AttributeError(f"module {module!r} has no attribute {name!r}")
        value = load_ref(ref)
        module_globals[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(module_globals) | set(names))

    return __getattr__, __dir__
