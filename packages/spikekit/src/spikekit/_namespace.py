"""Module-level ``__getattr__`` / ``__dir__`` for the namespaces that plugins fill (PEP 562)."""

from __future__ import annotations

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

        return host().resolve_export(namespace, name)

    def __dir__() -> list[str]:
        from spikekit.plugins import host

        own = [n for n in module_globals if not n.startswith("_")]
        return sorted(set(own) | set(host().exports(namespace)))

    return __getattr__, __dir__
