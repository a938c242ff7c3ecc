"""Deprecated alias of :mod:`spikekit.compute` (the compute backends' module was renamed); removed in a later release.

Every name resolves to the same object in :mod:`spikekit.compute`; importing this module warns once with a
:class:`DeprecationWarning` naming the replacement.
"""

from __future__ import annotations

from typing import Any

from spikekit import compute as _compute
from spikekit.compute import *  # noqa: F403  (the whole public API, under the old path)
from spikekit.compute import __all__ as __all__
from spikekit.errors import warn_at_caller

warn_at_caller("spikekit.backends is deprecated: import spikekit.compute instead", DeprecationWarning)


def __getattr__(name: str) -> Any:
    return getattr(_compute, name)
