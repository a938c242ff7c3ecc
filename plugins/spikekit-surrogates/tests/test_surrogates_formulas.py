"""Each surrogate against its documented formula (computed here in plain Python ``math``), sinabs's published
reference values, and a finite-difference derivative of its primitive."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from spikekit_surrogates import (
    ATan,
    Erf,
    FastSigmoid,
    Gaussian,
    Heaviside,
    MultiGaussian,
    PeriodicExponential,
    PiecewiseLinear,
    Rectangular,
    Sigmoid,
    SingleExponential,
    StraightThrough,
    Triangle,
)

POINTS = [-1.0, 0.0, 0.5, 1.0, 1.5, 2.0, 2.5]


def _eval(sg, points, thr=1.0, dtype=torch.float64):
    return sg(torch.tensor(points, dtype=dtype), torch.tensor(thr, dtype=dtype)).tolist()


# ------------------------------------------------------------------ sinabs's reference values (sinabs-3.md, §4)
# Measured on sinabs 3.1.3 at v = -1, 0, .5, 1, 1.5, 2, 2.5 with thr = 1, rounded to 4 significant digits.
SINABS_TABLE = {
    "SingleExponential": (SingleExponential(), [0.0366, 0.2707, 0.7358, 2, 0.7358, 0.2707, 0.0996]),
    "Gaussian": (Gaussian(), [0.0003, 0.108, 0.4839, 0.7979, 0.4839, 0.108, 0.0089]),
    "MultiGaussian": (MultiGaussian(), [-0.0314, 0.0869, 0.5177, 0.8782, 0.5177, 0.0869, -0.0246]),
    "PeriodicExponential": (PeriodicExponential(), [0.0183, 0.1353, 0.3679, 1, 0.1353, 1, 0.1353]),
    "Heaviside": (Heaviside(), [0, 1, 1, 1, 1, 1, 1]),
}


@pytest.mark.parametrize("name", sorted(SINABS_TABLE))
def test_sinabs_reference_values(name):
    sg, expected = SINABS_TABLE[name]
    for got, want in zip(_eval(sg, POINTS, dtype=torch.float32), expected, strict=True):
        assert got == pytest.approx(want, abs=1e-4, rel=1e-3), (name, got, want)


def test_sinabs_defaults():
    assert (Heaviside().window,) == (1.0,)
    assert (Gaussian().mu, Gaussian().sigma, Gaussian().grad_scale) == (0.0, 0.5, 1.0)
    mg = MultiGaussian()
    assert (mg.mu, mg.sigma, mg.h, mg.s, mg.grad_scale) == (0.0, 0.5, 0.15, 6, 1.0)
    assert (SingleExponential().grad_width, SingleExponential().grad_scale) == (0.5, 1.0)
    assert (PeriodicExponential().grad_width, PeriodicExponential().grad_scale) == (0.5, 1.0)


# ------------------------------------------------------------------------------- formulas in plain Python
def _npdf(x, mu, sigma):
    # sinabs forms the normaliser sigma * sqrt(2 pi) in float32 (pi rounded to float32, then sqrt), for every
    # input dtype; spikekit keeps that, so the float64 reference below does the same.
    f32 = np.float32
    norm = float(f32(f32(sigma) * np.sqrt(f32(2) * f32(math.pi))))
    return math.exp(-((x - mu) ** 2) / (2 * sigma**2)) / norm


def _periodic(v, thr, width, scale):
    if v < thr:
        z = v - thr
    else:
        u = v / thr - 0.5
        z = thr * (2 * (u - math.floor(u)) - 1)
    return scale * math.exp(-abs(z) / width)


def _sig(z):
    return 1 / (1 + math.exp(-z))


FORMULAS = [
    (Heaviside(window=0.3), lambda v, t: (1.0 if v >= t - 0.3 else 0.0) / t),
    (Gaussian(mu=0.2, sigma=0.7, grad_scale=1.5), lambda v, t: 1.5 * _npdf(v - t, 0.2, 0.7)),
    (
        MultiGaussian(mu=0.1, sigma=0.4, h=0.2, s=3, grad_scale=2.0),
        lambda v, t: (
            2.0 * (1.2 * _npdf(v - t, 0.1, 0.4) - 0.2 * _npdf(v - t, 0.4, 1.2) - 0.2 * _npdf(v - t, -0.4, 1.2))
        ),
    ),
    (
        SingleExponential(grad_width=0.3, grad_scale=2.0),
        lambda v, t: 2.0 / (0.3 * t) * math.exp(-abs(v - t) / (0.3 * t)),
    ),
    (PeriodicExponential(grad_width=0.4, grad_scale=3.0), lambda v, t: _periodic(v, t, 0.4, 3.0)),
    (FastSigmoid(), lambda v, t: 1 / (25 * abs(v - t) + 1) ** 2),
    (FastSigmoid(slope=100.0), lambda v, t: 1 / (100 * abs(v - t) + 1) ** 2),
    (ATan(), lambda v, t: 1 / (1 + (math.pi * (v - t)) ** 2)),
    (ATan(alpha=5.0), lambda v, t: 2.5 / (1 + (2.5 * math.pi * (v - t)) ** 2)),
    (Sigmoid(), lambda v, t: 25 * _sig(25 * (v - t)) * (1 - _sig(25 * (v - t)))),
    (Sigmoid(slope=4.0), lambda v, t: 4 * _sig(4 * (v - t)) * (1 - _sig(4 * (v - t)))),
    (Triangle(), lambda v, t: max(0.0, 1 - abs(v - t))),
    (Triangle(width=0.5, grad_scale=0.3), lambda v, t: 0.3 / 0.5 * max(0.0, 1 - abs(v - t) / 0.5)),
    (Rectangular(), lambda v, t: 1.0 if abs(v - t) < 0.5 else 0.0),
    (Rectangular(width=2.0, grad_scale=3.0), lambda v, t: 1.5 if abs(v - t) < 1.0 else 0.0),
    (Erf(), lambda v, t: 2 / math.sqrt(math.pi) * math.exp(-4 * (v - t) ** 2)),
    (Erf(alpha=0.5), lambda v, t: 0.5 / math.sqrt(math.pi) * math.exp(-0.25 * (v - t) ** 2)),
    (PiecewiseLinear(), lambda v, t: 0.5 if abs(v - t) < 1 else 0.01),
    (PiecewiseLinear(width=0.25, leak=0.1), lambda v, t: 2.0 if abs(v - t) < 0.25 else 0.1),
    (StraightThrough(), lambda v, t: 1.0),
    (StraightThrough(grad_scale=0.5), lambda v, t: 0.5),
]
FORMULA_POINTS = [-1.3, -0.6, -0.05, 0.0, 0.37, 0.8, 1.0, 1.04, 1.2, 1.9, 2.0, 2.6, 3.05, 4.7]


@pytest.mark.parametrize("sg, formula", FORMULAS, ids=[repr(sg) for sg, _ in FORMULAS])
@pytest.mark.parametrize("thr", [1.0, 0.7, 2.0])
def test_matches_documented_formula(sg, formula, thr):
    got = _eval(sg, FORMULA_POINTS, thr=thr)
    want = [formula(v, thr) for v in FORMULA_POINTS]
    assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_peer_defaults_are_the_documented_ones():
    assert FastSigmoid().slope == 25.0  # snntorch fast_sigmoid
    assert ATan().alpha == 2.0  # snntorch atan, spikingjelly ATan
    assert Sigmoid().slope == 25.0  # snntorch sigmoid
    assert (Triangle().width, Triangle().grad_scale) == (1.0, 1.0)  # spikingjelly PiecewiseQuadratic(alpha=1)
    assert (Rectangular().width, Rectangular().grad_scale) == (1.0, 1.0)  # Wu et al. a = 1
    assert Erf().alpha == 2.0  # spikingjelly Erf
    assert (PiecewiseLinear().width, PiecewiseLinear().leak) == (1.0, 0.01)  # spikingjelly PiecewiseLeakyReLU
    assert StraightThrough().grad_scale == 1.0


def test_periodic_exponential_repeats_above_threshold():
    sg = PeriodicExponential()
    thr = torch.tensor(0.8, dtype=torch.float64)
    v = torch.linspace(0.85, 1.55, 15, dtype=torch.float64)
    for k in (1, 2, 5):
        torch.testing.assert_close(sg(v + k * thr, thr), sg(v, thr))
    multiples = thr * torch.arange(1, 6, dtype=torch.float64)
    torch.testing.assert_close(sg(multiples, thr), torch.ones(5, dtype=torch.float64))
    below = sg(torch.linspace(-2, 0.79, 30, dtype=torch.float64), thr)
    assert (below.diff() > 0).all()


def test_unit_area_surrogates_integrate_to_one():
    v = torch.linspace(-30, 32, 620_001, dtype=torch.float64)
    thr = torch.tensor(1.0, dtype=torch.float64)
    for sg in (ATan(alpha=20.0), Sigmoid(), Triangle(width=0.4), Rectangular(width=0.6), Erf(), Gaussian()):
        area = torch.trapezoid(sg(v, thr), v).item()
        assert area == pytest.approx(1.0, abs=2e-3), sg


# --------------------------------------------------------------------------- finite differences of primitives
# (surrogate, points to avoid: kinks of the primitive's derivative, in units of x = v - thr)
WITH_PRIMITIVE = [
    (Heaviside(window=0.4), [-0.4]),
    (Gaussian(mu=0.3, sigma=0.6, grad_scale=2.0), []),
    (MultiGaussian(), []),
    (SingleExponential(grad_width=0.4, grad_scale=1.5), [0.0]),
    (FastSigmoid(slope=5.0), [0.0]),
    (ATan(), []),
    (Sigmoid(slope=4.0), []),
    (Triangle(width=0.8, grad_scale=2.0), [-0.8, 0.0, 0.8]),
    (Rectangular(width=1.2), [-0.6, 0.6]),
    (Erf(), []),
    (PiecewiseLinear(width=0.7, leak=0.05), [-0.7, 0.7]),
    (StraightThrough(grad_scale=0.7), []),
]


@pytest.mark.parametrize("sg, kinks", WITH_PRIMITIVE, ids=[type(sg).__name__ for sg, _ in WITH_PRIMITIVE])
@pytest.mark.parametrize("thr", [1.0, 1.7])
def test_is_the_derivative_of_its_primitive(sg, kinks, thr):
    h = 1e-6
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(400, generator=gen, dtype=torch.float64) * 6 - 3
    far = torch.ones_like(x, dtype=torch.bool)
    for k in kinks:
        far &= (x - k).abs() > 10 * h
    v = (x + thr)[far]
    t = torch.tensor(thr, dtype=torch.float64)
    fd = (sg.primitive(v + h, t) - sg.primitive(v - h, t)) / (2 * h)
    torch.testing.assert_close(sg(v, t), fd, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("sg", [Gaussian(), MultiGaussian(), ATan(), Sigmoid(slope=4.0), Erf()], ids=repr)
def test_smooth_primitives_pass_gradcheck(sg):
    # autograd's derivative of the primitive is the surrogate itself (a second, independent check)
    v = (torch.rand(20, dtype=torch.float64) * 4 - 1).requires_grad_(True)
    t = torch.tensor(1.0, dtype=torch.float64)
    (grad,) = torch.autograd.grad(sg.primitive(v, t).sum(), v)
    torch.testing.assert_close(grad, sg(v.detach(), t))
