"""spikekit-surrogates: surrogate gradient functions, reachable as ``spikekit.activation.<Name>``.

The sinabs set (:class:`Heaviside`, :class:`Gaussian`, :class:`MultiGaussian`, :class:`SingleExponential`,
:class:`PeriodicExponential`) with sinabs 3.1.3's defaults and numerics, and the surrogates of other SNN
libraries (:class:`FastSigmoid` / SuperSpike, :class:`ATan`, :class:`Sigmoid`, :class:`Triangle`,
:class:`Rectangular`, :class:`Erf`, :class:`PiecewiseLinear`, :class:`StraightThrough`). Each is a small dataclass
``sg(v_mem, spike_threshold) -> tensor``; any callable with that signature works in their place
(see :mod:`spikekit_surrogates.callables`).

Names load on first access (PEP 562), so importing the plugin module (``spikekit_surrogates.plugin``) stays cheap.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from spikekit_surrogates._catalog import ALIASES, SURROGATES

if TYPE_CHECKING:
    from spikekit_surrogates.callables import check_surrogate
    from spikekit_surrogates.peer_family import (
        ATan,
        Erf,
        FastSigmoid,
        PiecewiseLinear,
        Rectangular,
        Sigmoid,
        StraightThrough,
        Triangle,
    )
    from spikekit_surrogates.sinabs_family import (
        Gaussian,
        Heaviside,
        MultiGaussian,
        PeriodicExponential,
        SingleExponential,
    )

    SuperSpike = FastSigmoid

#: public name -> defining module; aliases map to the class they stand for
_WHERE = {name: module for name, module, _ in SURROGATES if name not in ALIASES}
_WHERE["check_surrogate"] = "spikekit_surrogates.callables"

__all__ = [
    "Heaviside",
    "Gaussian",
    "MultiGaussian",
    "SingleExponential",
    "PeriodicExponential",
    "FastSigmoid",
    "SuperSpike",
    "ATan",
    "Sigmoid",
    "Triangle",
    "Rectangular",
    "Erf",
    "PiecewiseLinear",
    "StraightThrough",
    "check_surrogate",
]


def __getattr__(name: str) -> Any:
    target = ALIASES.get(name, name)
    if target not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[target]), target)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
