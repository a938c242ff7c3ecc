"""What this plugin provides, as plain data (read by ``plugin.py`` and ``__init__.py``; imports nothing)."""

from __future__ import annotations

_SINABS = "spikekit_surrogates.sinabs_family"
_PEERS = "spikekit_surrogates.peer_family"

#: (name, module, one-line description) of every surrogate this plugin provides.
SURROGATES: tuple[tuple[str, str, str], ...] = (
    ("Heaviside", _SINABS, "box surrogate 1[v >= thr - window] / thr (sinabs)"),
    ("Gaussian", _SINABS, "Gaussian bump around the threshold (sinabs)"),
    ("MultiGaussian", _SINABS, "Gaussian with negative side lobes, Yin et al. 2021 (sinabs)"),
    ("SingleExponential", _SINABS, "two-sided exponential, Shrestha & Orchard 2018 (sinabs default)"),
    ("PeriodicExponential", _SINABS, "exponential repeating at multiples of the threshold, Weidel & Sheik 2021"),
    ("FastSigmoid", _PEERS, "SuperSpike fast sigmoid 1/(1+k|x|)^2, Zenke & Ganguli 2018"),
    ("SuperSpike", _PEERS, "alias of FastSigmoid"),
    ("ATan", _PEERS, "arctangent surrogate, Fang et al. 2021"),
    ("Sigmoid", _PEERS, "logistic-derivative surrogate"),
    ("Triangle", _PEERS, "triangle (tent) around the threshold, Esser et al. 2016 / Bellec et al. 2018"),
    ("Rectangular", _PEERS, "boxcar around the threshold, Wu et al. 2018"),
    ("Erf", _PEERS, "Gaussian-error-function surrogate (spikingjelly Erf)"),
    ("PiecewiseLinear", _PEERS, "box with leaky tails (spikingjelly PiecewiseLeakyReLU)"),
    ("StraightThrough", _PEERS, "straight-through estimator, Bengio et al. 2013"),
)

#: The module that is ``spikekit.activation.surrogate_gradient_fn`` (sinabs's module path of its five surrogates).
SINABS_MODULE = "spikekit_surrogates:sinabs_family"

#: Aliases: norse and the SuperSpike paper call the fast sigmoid "SuperSpike" (norse's default slope is 100).
ALIASES: dict[str, str] = {"SuperSpike": "FastSigmoid"}
