"""Module-level ``__getattr__`` / ``__dir__`` for the namespaces that plugins fill (PEP 562)."""

from __future__ import annotations

import importlib
import importlib.machinery
from collections.abc import Callable
from typing import Any


def namespace_hooks(
    namespace: str, module_globals: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """Make ``namespace``'s unknown attributes resolve through the plugin registry.

    Names defined in the module itself (the core's own) are found by Python before ``__getattr__`` is called;
    every other public name is looked up among the plugins' exports, loaded on first use and cached by the host.
    Dunder and private names (``_ipython_canary_method_should_not_exist_``, ``__wrapped__``, ...), which IPython,
    Jupyter, doctest and pickle probe for, are never exported and never start plugin discovery.
    """

    def __getattr__(name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(f"module {namespace!r} has no attribute {name!r}")
        from spikekit.plugins import host

        try:
            return host().resolve_export(namespace, name)
        except (AttributeError, ImportError):
            # ``from spikekit import encoders`` asks for the attribute before importing the core's own submodule of
            # that name: import it rather than report a missing plugin (looked up only after the registry missed)
            path = module_globals.get("__path__")
            if path is None or importlib.machinery.PathFinder.find_spec(name, path) is None:
                raise
            return importlib.import_module(f"{namespace}.{name}")

    def __dir__() -> list[str]:
        from spikekit.plugins import host

        own = [n for n in module_globals if not n.startswith("_")]
        return sorted(set(own) | set(host().exports(namespace)))

    return __getattr__, __dir__
