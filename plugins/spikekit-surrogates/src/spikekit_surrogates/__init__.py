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

from typing import TYPE_CHECKING

from spikekit.plugins import lazy_exports
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

#: public name -> where it is defined; an alias points at the class it stands for
_WHERE = {name: f"{module}:{ALIASES.get(name, name)}" for name, module, _ in SURROGATES}
_WHERE["check_surrogate"] = "spikekit_surrogates.callables:check_surrogate"
_WHERE["sinabs_family"] = "spikekit_surrogates.sinabs_family"  # a module: spikekit.activation.surrogate_gradient_fn

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


__getattr__, __dir__ = lazy_exports(globals(), _WHERE)
