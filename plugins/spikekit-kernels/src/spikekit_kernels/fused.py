"""Deprecated module: the ``fused-cpu`` backend moved to :mod:`spikekit_kernels.cpu_backend`, the fused op to
:mod:`spikekit_kernels.op` and :func:`run_plan` to :mod:`spikekit_kernels.layout`. The names below keep working for
one release, each with a :class:`DeprecationWarning` naming its new home."""

from __future__ import annotations

import importlib
import warnings
from typing import Any

_MOVED = {
    "FusedCPUBackend": "spikekit_kernels.cpu_backend",
    "run_plan": "spikekit_kernels.layout",
    "lif_forward": "spikekit_kernels.op",
    "lif_backward": "spikekit_kernels.op",
}


def __getattr__(name: str) -> Any:
    home = _MOVED.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    warnings.warn(f"spikekit_kernels.fused.{name} is deprecated; use {home}.{name}", DeprecationWarning, stacklevel=2)
    return getattr(importlib.import_module(home), name)
