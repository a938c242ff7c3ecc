"""Lazy access to SynSense's SDK ``samna``: imported only inside the functions that need it.

Nothing in ``spikekit_speck.dynapcnn`` imports samna at import time. A function that can only work through samna
(open a device, build samna's configuration objects, run specksim, show the visualizer) calls :func:`require_samna`,
which raises :class:`SamnaRequiredError` naming what needed it when samna is not installed.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["SamnaRequiredError", "require_samna", "optional_samna"]


class SamnaRequiredError(ModuleNotFoundError):
    """``what`` can only be done by SynSense's SDK ``samna``, which is not installed.

    A ``ModuleNotFoundError`` (hence an ``ImportError``), as sinabs raises when samna is missing.
    """

    def __init__(self, what: str, module: str = "samna") -> None:
        super().__init__(
            f"{what} needs SynSense's SDK {module!r}, which is not installed (install it as SynSense documents). "
            "See the 'Without samna' page of the spikekit-speck docs for what works offline.",
            name=module,
        )
        self.what = what


def require_samna(what: str, module: str = "samna") -> Any:
    """Import and return ``module`` (``samna`` or one of its submodules, or ``samnagui``), or raise
    :class:`SamnaRequiredError` saying that ``what`` needs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise SamnaRequiredError(what, module.split(".")[0]) from exc


def optional_samna(module: str = "samna") -> Any:
    """``module`` when samna is installed, else None."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None
