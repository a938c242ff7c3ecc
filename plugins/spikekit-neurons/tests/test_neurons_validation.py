"""Constructor validation of every neuron layer: nonsense is refused at construction with an error naming the layer's
class, the argument, what was expected and what came; what sinabs accepts and uses meaningfully stays accepted."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

import spikekit.activation as act
from spikekit.state import ShapeMismatchError
from spikekit_neurons import (
    ALIF,
    IAF,
    LIF,
    ALIFRecurrent,
    ALIFSqueeze,
    ExpLeak,
    ExpLeakSqueeze,
    IAFRecurrent,
    IAFSqueeze,
    LIFRecurrent,
    LIFSqueeze,
)
from spikekit_neurons.resets import MembraneReset, MembraneSubtract
from spikekit_neurons.spike_functions import MaxSpike, MultiSpike, SingleSpike


def _rec(n: int = 3) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(n, n))


#: every neuron class with the arguments it needs, and which time constants it takes
LAYERS = {
    "IAF": (IAF, {}, ("tau_syn",)),
    "IAFSqueeze": (IAFSqueeze, {"batch_size": 2}, ("tau_syn",)),
    "IAFRecurrent": (IAFRecurrent, {"rec_connect": _rec()}, ("tau_syn",)),
    "LIF": (LIF, {"tau_mem": 10.0}, ("tau_mem", "tau_syn")),
    "LIFSqueeze": (LIFSqueeze, {"tau_mem": 10.0, "batch_size": 2}, ("tau_mem", "tau_syn")),
    "LIFRecurrent": (LIFRecurrent, {"tau_mem": 10.0, "rec_connect": _rec()}, ("tau_mem", "tau_syn")),
    "ExpLeak": (ExpLeak, {"tau_mem": 10.0}, ("tau_mem",)),
    "ExpLeakSqueeze": (ExpLeakSqueeze, {"tau_mem": 10.0, "num_timesteps": 4}, ("tau_mem",)),
    "ALIF": (ALIF, {"tau_mem": 10.0, "tau_adapt": 20.0}, ("tau_mem", "tau_adapt", "tau_syn")),
    "ALIFSqueeze": (ALIFSqueeze, {"tau_mem": 10.0, "tau_adapt": 20.0, "batch_size": 2}, ("tau_mem", "tau_adapt")),
    "ALIFRecurrent": (
        ALIFRecurrent,
        {"tau_mem": 10.0, "tau_adapt": 20.0, "rec_connect": _rec()},
        ("tau_mem", "tau_adapt", "tau_syn"),
    ),
}
SPIKING = [name for name in LAYERS if not name.startswith("ExpLeak")]
TAU_CASES = [(name, tau) for name, (_, _, taus) in LAYERS.items() for tau in taus]


def _make(name: str, **overrides):
    cls, kwargs, _ = LAYERS[name]
    return cls(**{**kwargs, **overrides})


@pytest.mark.parametrize("train_alphas", [False, True])
@pytest.mark.parametrize("name, tau", TAU_CASES)
@pytest.mark.parametrize("bad", [0.0, -2.0, math.nan, torch.tensor([3.0, -1.0, 2.0])])
def test_non_positive_time_constants_are_refused(name, tau, bad, train_alphas):
    extra = {"train_alphas": True} if train_alphas and not name.startswith("IAF") else {}
    if name.startswith("ALIF") and tau == "tau_syn" and isinstance(bad, float) and bad == 0.0:
        layer = _make(name, tau_syn=bad, **extra)  # sinabs reads ALIF's tau_syn=0 as "no synapse": kept
        assert getattr(layer, "tau_syn", None) is None
        return
    with pytest.raises(ValueError, match=rf"^{name}: {tau} must be positive \(a time constant") as info:
        _make(name, **{tau: bad}, **extra)
    shown = "index (1,)" if isinstance(bad, torch.Tensor) else repr(bad)
    assert shown in str(info.value)


@pytest.mark.parametrize("name, tau", TAU_CASES)
def test_non_numeric_time_constants_are_refused(name, tau):
    with pytest.raises(TypeError, match=rf"^{name}: {tau} must be a number or a tensor of numbers, got '5' \(str\)"):
        _make(name, **{tau: "5"})


@pytest.mark.parametrize("name, tau", TAU_CASES)
def test_infinite_and_per_neuron_time_constants_are_accepted(name, tau):
    layer = _make(name, **{tau: math.inf})
    assert layer is not None
    _make(name, **{tau: torch.tensor([2.0, 4.0, 8.0])})


@pytest.mark.parametrize("name", SPIKING)
@pytest.mark.parametrize("spike_fn", [MultiSpike, MaxSpike(2)])
@pytest.mark.parametrize("threshold", [0.0, -1.0, torch.tensor([1.0, 0.0, 1.0])])
def test_thresholds_that_divide_by_zero_or_count_negatively_are_refused(name, spike_fn, threshold):
    with pytest.raises(ValueError, match=rf"^{name}: spike_threshold must be positive with (MultiSpike|MaxSpike\(\))"):
        _make(name, spike_fn=spike_fn, spike_threshold=threshold)


@pytest.mark.parametrize("name", SPIKING)
def test_thresholds_sinabs_uses_meaningfully_are_accepted(name):
    # SingleSpike compares v_mem >= threshold: zero and negative thresholds are meaningful with a reset to a value
    for threshold in (0.0, -0.5):
        _make(name, spike_fn=SingleSpike, reset_fn=MembraneReset(), spike_threshold=threshold)
    _make(name, spike_fn=SingleSpike, spike_threshold=-0.5)  # subtracting -0.5 still moves v_mem
    with pytest.raises(ValueError, match=rf"^{name}: spike_threshold must be non-zero with MembraneSubtract\(\)"):
        _make(name, spike_fn=SingleSpike, spike_threshold=0.0)  # subtracting 0: the neuron never resets
    for bad in ("1", [1.0], True, math.inf):
        with pytest.raises((TypeError, ValueError), match=rf"^{name}: spike_threshold must be"):
            _make(name, spike_threshold=bad)


@pytest.mark.parametrize("name", SPIKING)
def test_spike_limits_and_functions_are_checked(name):
    for cap in (0, -1, 1.5):
        with pytest.raises(ValueError, match=rf"^{name}: MaxSpike.max_num_spikes_per_bin must be a positive whole"):
            _make(name, spike_fn=MaxSpike(cap))
    _make(name, spike_fn=MaxSpike(None))  # no cap: MultiSpike
    _make(name, spike_fn=MaxSpike(3))
    with pytest.raises(TypeError, match=rf"^{name}: spike_fn=MaxSpike must be an instance"):
        _make(name, spike_fn=MaxSpike)
    with pytest.raises(TypeError, match=rf"^{name}: spike_fn must be a spike function .* got 'MultiSpike' \(str\)"):
        _make(name, spike_fn="MultiSpike")
    with pytest.raises(TypeError, match=rf"^{name}: surrogate_grad_fn must be callable"):
        _make(name, surrogate_grad_fn="SingleExponential")


@pytest.mark.parametrize("name", SPIKING)
def test_reset_values_are_checked(name):
    with pytest.raises(ValueError, match=rf"^{name}: MembraneSubtract.subtract_value must be non-zero"):
        _make(name, reset_fn=MembraneSubtract(subtract_value=0.0))
    with pytest.raises(TypeError, match=rf"^{name}: MembraneReset.reset_value must be a number .* got '0' \(str\)"):
        _make(name, reset_fn=MembraneReset(reset_value="0"))
    with pytest.raises(ValueError, match=rf"^{name}: MembraneReset.reset_value must be a finite number"):
        _make(name, reset_fn=MembraneReset(reset_value=math.nan))
    with pytest.raises(TypeError, match=rf"^{name}: reset_fn must be an instance, e.g. MembraneSubtract\(\)"):
        _make(name, reset_fn=MembraneSubtract)
    with pytest.raises(TypeError, match=rf"^{name}: reset_fn must be callable"):
        _make(name, reset_fn="subtract")
    _make(name, reset_fn=MembraneSubtract(subtract_value=0.5))
    _make(name, reset_fn=MembraneReset(reset_value=-0.3))


@pytest.mark.parametrize("name", list(LAYERS))
def test_floor_and_shape_are_checked(name):
    with pytest.raises(ValueError, match=rf"^{name}: min_v_mem must be a finite number, got nan"):
        _make(name, min_v_mem=math.nan)
    _make(name, min_v_mem=-math.inf)  # no floor, as None
    with pytest.raises(TypeError, match=rf"^{name}: min_v_mem must be a number"):
        _make(name, min_v_mem="-1")
    with pytest.raises(ValueError, match=rf"^{name}: shape must be a sequence of non-negative ints"):
        _make(name, shape=(2, -3))


@pytest.mark.parametrize("name", ["IAFRecurrent", "LIFRecurrent", "ALIFRecurrent"])
def test_recurrent_connections_of_the_wrong_kind_or_size(name):
    with pytest.raises(TypeError, match=rf"^{name}: rec_connect must be a module .* got 3 \(int\)"):
        _make(name, rec_connect=3)
    layer = _make(name, rec_connect=nn.Sequential(nn.Flatten(), nn.Linear(3, 5)), surrogate_grad_fn=None)
    with pytest.raises(
        ShapeMismatchError, match=rf"^{name}: rec_connect maps spikes of shape \(2, 3\) to shape \(2, 5\)"
    ):
        layer(torch.rand(2, 4, 3))
    with pytest.raises(RuntimeError):  # sinabs raises a RuntimeError (from reshape) for the same layer and input
        layer(torch.rand(2, 4, 3))


def test_a_lif_without_spike_function_takes_any_finite_threshold():
    layer = LIF(tau_mem=5.0, spike_fn=None, spike_threshold=0.0)  # a leaky integrator: the threshold is unused
    assert layer(torch.ones(1, 2, 1)).shape == (1, 2, 1)
    with pytest.raises(ValueError, match="^LIF: spike_threshold must be a finite number, got nan"):
        LIF(tau_mem=5.0, spike_fn=None, spike_threshold=math.nan)


def test_adapt_scale_and_alif_synapse():
    with pytest.raises(TypeError, match="^ALIF: adapt_scale must be a number"):
        ALIF(10.0, 20.0, adapt_scale="1.8")
    with pytest.raises(ValueError, match="^ALIF: adapt_scale must be a finite number, got nan"):
        ALIF(10.0, 20.0, adapt_scale=math.nan)
    assert ALIF(10.0, 20.0, adapt_scale=0.0).adapt_scale == 0.0
    assert ALIF(10.0, 20.0, tau_syn=torch.tensor(0.0)).tau_syn is None  # falsy, as sinabs reads it


def test_validation_does_not_change_what_valid_layers_compute():
    torch.manual_seed(0)
    x = torch.rand(2, 6, 3) * 2
    layer = LIF(
        tau_mem=5.0, tau_syn=2.0, spike_threshold=0.7, min_v_mem=-1.0, surrogate_grad_fn=act.SingleExponential()
    )
    # the same equations by hand: i = a_s (i + x); v = a_m v + (1 - a_m) i; spikes = trunc(v / thr); v -= thr spikes
    a_m, a_s = math.exp(-1 / 5.0), math.exp(-1 / 2.0)
    v, i, outs = torch.zeros(2, 3), torch.zeros(2, 3), []
    for t in range(6):
        i = a_s * (i + x[:, t])
        v = a_m * v + (1 - a_m) * i
        s = torch.div(v, 0.7, rounding_mode="trunc") * (v > 0)
        v = (v - 0.7 * s).clamp_min(-1.0)
        outs.append(s)
    torch.testing.assert_close(layer(x).detach(), torch.stack(outs, 1))


def test_sinabs_raises_runtime_error_where_spikekit_raises_shape_mismatch():
    """The exception classes match sinabs 3.1.3 (an oracle, skipped when sinabs is not installed)."""
    sinabs_layers = pytest.importorskip("sinabs.layers")
    for make in (lambda m: m.IAFSqueeze(batch_size=2), lambda m: m.LIFSqueeze(tau_mem=5.0, batch_size=2)):
        with pytest.raises(RuntimeError):
            make(sinabs_layers)(torch.rand(5, 3))
        with pytest.raises(RuntimeError) as ours:
            make(__import__("spikekit.layers", fromlist=["x"]))(torch.rand(5, 3))
        assert isinstance(ours.value, ShapeMismatchError)
    rec = nn.Sequential(nn.Flatten(), nn.Linear(3, 5))
    with pytest.raises(RuntimeError):
        sinabs_layers.IAFRecurrent(rec_connect=rec)(torch.rand(2, 4, 3))
    with pytest.raises(RuntimeError):
        sinabs_layers.UnflattenTime(batch_size=2)(torch.ones(5))
    from spikekit.layers import UnflattenTime

    with pytest.raises(ShapeMismatchError):
        UnflattenTime(batch_size=2)(torch.ones(5))
