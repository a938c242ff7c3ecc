"""``lazy_exports``: module-level ``__getattr__`` / ``__dir__`` (PEP 562) for a plugin package whose public names
load on first access."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from spikekit.plugins.records import load_ref

__all__ = ["lazy_exports"]


def lazy_exports(
    module_globals: dict[str, Any], names: Mapping[str, str]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
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
