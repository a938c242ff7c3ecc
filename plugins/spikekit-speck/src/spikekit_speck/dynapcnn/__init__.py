"""sinabs's ``sinabs.backend.dynapcnn`` API, served as ``spikekit.backend.dynapcnn`` and its submodules.

Each submodule mirrors the sinabs module of the same name (``dvs_layer``, ``dynapcnn_network``, ``exceptions``, ...)
and is imported on first use, so that importing this package (or the plugin's hooks) stays cheap. The plugin
(:mod:`spikekit_speck.plugin`) exports the submodules into the core's ``spikekit.backend.dynapcnn`` namespace.
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from typing import Any

from spikekit_speck.plugin import DYNAPCNN_NAMES

# Names that ``sinabs.backend.dynapcnn`` itself offers, and the submodule defining each (the plugin's records).
_NAMES = {name: module for name, (module, _) in DYNAPCNN_NAMES.items()}

__all__ = list(_NAMES)


def __getattr__(name: str) -> Any:
    if name in _NAMES:
        value = getattr(importlib.import_module(f"{__name__}.{_NAMES[name]}"), name)
    elif not name.startswith("_") and importlib.util.find_spec(f"{__name__}.{name}") is not None:
        value = importlib.import_module(f"{__name__}.{name}")
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | {m.name for m in pkgutil.iter_modules(__path__)})
