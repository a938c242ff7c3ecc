"""Parity with sinabs 3.1.3: the five sinabs surrogates give the same numbers as ``sinabs.activation``.

Runs only where sinabs is installed as an oracle (``nox -s parity``). float32 results must be bitwise equal: the
formulas are evaluated operation for operation as sinabs does.
"""

from __future__ import annotations

import pytest

sinabs_activation = pytest.importorskip("sinabs.activation")

import torch  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import spikekit.activation as ska  # noqa: E402

pytestmark = pytest.mark.parity

FLOATS = st.floats(min_value=-4.0, max_value=4.0, allow_nan=False, width=32)
THRESHOLDS = st.floats(min_value=0.0625, max_value=3.0, allow_nan=False, width=32)
NAMES = ["Heaviside", "Gaussian", "MultiGaussian", "SingleExponential", "PeriodicExponential"]

PARAMS = {
    "Heaviside": st.fixed_dictionaries({"window": st.floats(-1.0, 2.0)}),
    "Gaussian": st.fixed_dictionaries(
        {"mu": st.floats(-0.5, 0.5), "sigma": st.floats(0.05, 2.0), "grad_scale": st.floats(0.1, 3.0)}
    ),
    "MultiGaussian": st.fixed_dictionaries(
        {
            "mu": st.floats(-0.5, 0.5),
            "sigma": st.floats(0.05, 2.0),
            "h": st.floats(0.0, 0.5),
            "s": st.floats(1.0, 8.0),
            "grad_scale": st.floats(0.1, 3.0),
        }
    ),
    "SingleExponential": st.fixed_dictionaries({"grad_width": st.floats(0.05, 2.0), "grad_scale": st.floats(0.1, 3.0)}),
    "PeriodicExponential": st.fixed_dictionaries(
        {"grad_width": st.floats(0.05, 2.0), "grad_scale": st.floats(0.1, 3.0)}
    ),
}


def _pair(name, params=None):
    params = params or {}
    return getattr(ska, name)(**params), getattr(sinabs_activation, name)(**params)


@pytest.mark.parametrize("name", NAMES)
def test_same_defaults_and_repr_fields(name):
    ours, theirs = _pair(name)
    assert type(ours).__name__ == type(theirs).__name__
    assert vars(ours) == vars(theirs)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_same_values_on_random_inputs(name, data):
    params = data.draw(PARAMS[name])
    ours, theirs = _pair(name, params)
    v = torch.tensor(data.draw(st.lists(FLOATS, min_size=1, max_size=24)), dtype=torch.float32)
    thr = torch.tensor(data.draw(THRESHOLDS), dtype=torch.float32)
    expected = theirs(v, thr)
    got = ours(v, thr)
    assert got.dtype == expected.dtype
    assert torch.equal(got, expected), (params, v, thr, got, expected)


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=20, deadline=None)
@given(
    v=st.lists(FLOATS, min_size=4, max_size=4),
    thr=st.lists(THRESHOLDS, min_size=4, max_size=4),
)
def test_same_values_with_per_neuron_thresholds(name, v, thr):
    ours, theirs = _pair(name)
    v_t = torch.tensor(v, dtype=torch.float32).repeat(3, 1)  # (3, 4)
    thr_t = torch.tensor(thr, dtype=torch.float32)  # (4,) broadcasts over the batch
    assert torch.equal(ours(v_t, thr_t), theirs(v_t, thr_t))


@pytest.mark.parametrize("name", NAMES)
def test_same_values_in_float64(name):
    # sinabs's Heaviside returns float32 for float64 input (a .float() cast); spikekit keeps float64 with the
    # same values. Everything else matches in dtype and value.
    ours, theirs = _pair(name)
    v = torch.linspace(-3, 4, 141, dtype=torch.float64)
    thr = torch.tensor(0.8, dtype=torch.float64)
    got, expected = ours(v, thr), theirs(v, thr)
    if name == "Heaviside":
        assert expected.dtype == torch.float32 and got.dtype == torch.float64
        assert torch.equal(got.float(), expected)
    else:
        assert torch.equal(got, expected)


@pytest.mark.parametrize("name", NAMES)
def test_same_gradient_through_a_sinabs_spike_function(name):
    ours, theirs = _pair(name)
    v = torch.linspace(-1, 3, 41)
    grads = []
    for sg in (ours, theirs):
        x = v.clone().requires_grad_(True)
        sinabs_activation.MultiSpike.apply(x, torch.tensor(1.0), sg).sum().backward()
        grads.append(x.grad)
    assert torch.equal(grads[0], grads[1])
