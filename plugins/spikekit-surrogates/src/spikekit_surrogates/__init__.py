"""spikekit-surrogates: surrogate gradient functions, reachable as ``spikekit.activation.<Name>``.

The sinabs set (:class:`Heaviside`, :class:`Gaussian`, :class:`MultiGaussian`, :class:`SingleExponential`,
:class:`PeriodicExponential`) with sinabs 3.1.3's defaults and numerics, and the surrogates of other SNN
libraries (:class:`FastSigmoid` / SuperSpike, :class:`ATan`, :class:`Sigmoid`, :class:`Triangle`,
:class:`Rectangular`, :class:`Erf`, :class:`PiecewiseLinear`, :class:`StraightThrough`). Each is a small dataclass
``sg(v_mem, spike_threshold) -> tensor``; any callable with that signature works in their place
(see :mod:`spikekit_surrogates.callables`).
"""

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
from spikekit_surrogates.sinabs_family import Gaussian, Heaviside, MultiGaussian, PeriodicExponential, SingleExponential

#: Alias: norse and the SuperSpike paper call the fast sigmoid "SuperSpike" (norse's default is slope 100).
SuperSpike = FastSigmoid

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
