"""Behaviour derived from the equations: hand-computed sequences, gradients, state bookkeeping, errors."""

import copy
import math
import pickle

import pytest
import torch
from torch import nn

import spikekit.activation as sa
import spikekit.layers as sl
from spikekit_neurons import (
    ALIF,
    IAF,
    LIF,
    ALIFRecurrent,
    ALIFSqueeze,
    ExpLeak,
    IAFRecurrent,
    IAFSqueeze,
    LIFRecurrent,
    LIFSqueeze,
    MaxSpike,
    MembraneReset,
    MembraneSubtract,
    MultiSpike,
    SingleSpike,
)
from spikekit_neurons.functional import lif_forward


def one(v, thr):
    return torch.ones_like(v)


def seq(*values):
    return torch.tensor([list(values)], dtype=torch.float32)  # (B=1, T)


# ----------------------------------------------------------------------------------------------- spike functions
def test_multispike_truncates_the_float_quotient_and_keeps_negative_zero():
    v = torch.tensor([-1.5, -0.2, 0.0, 0.2, 0.9, 2.7])
    out = MultiSpike.apply(v, torch.tensor([1.0, 1.0, 1.0, 1.0, 0.3, 1.0]), one)
    assert out.tolist() == [0.0, 0.0, 0.0, 0.0, 2.0, 2.0]  # 0.9 / 0.3 in float32 is 2.9999998 -> 2
    assert torch.signbit(out[:2]).all() and not torch.signbit(out[2])


def test_singlespike_fires_at_threshold_and_maxspike_caps():
    v = torch.tensor([0.99, 1.0, 5.5])
    assert SingleSpike.apply(v, torch.tensor(1.0), one).tolist() == [0.0, 1.0, 1.0]
    assert MaxSpike(3).apply(v, torch.tensor(1.0), one).tolist() == [0.0, 1.0, 3.0]
    assert MaxSpike().apply(v, torch.tensor(1.0), one).tolist() == [0.0, 1.0, 5.0]
    assert MaxSpike(2).required_states == ["v_mem"]


@pytest.mark.parametrize("fn", [MultiSpike, SingleSpike, MaxSpike(2)])
def test_spike_backward_is_surrogate_times_grad_and_threshold_gets_none(fn):
    v = torch.tensor([0.2, 1.4, 3.1], requires_grad=True)
    thr = torch.tensor(1.0, requires_grad=True)
    w = torch.tensor([1.0, 2.0, 3.0])
    (fn.apply(v, thr, lambda v, t: torch.exp(-(v - t).abs())) * w).sum().backward()
    torch.testing.assert_close(v.grad, w * torch.exp(-(v.detach() - 1.0).abs()))
    assert thr.grad is None


# --------------------------------------------------------------------------------------------------------- resets
def test_membrane_subtract_gradient_flows_through_spikes():
    v = torch.tensor([1.5], requires_grad=True)
    sg = lambda v, t: torch.exp(-(v - t).abs() / 0.5) / 0.5
    s = MultiSpike.apply(v, torch.tensor(1.0), sg)
    new = MembraneSubtract()(s, {"v_mem": v}, torch.tensor(1.0))["v_mem"]
    new.backward()
    torch.testing.assert_close(v.grad, torch.tensor([1 - 2 * math.exp(-1.0)]))  # 0.2642
    assert MembraneSubtract(0.25)(torch.tensor([2.0]), {"v_mem": torch.tensor([3.0])}, 1.0)["v_mem"].item() == 2.5


def test_membrane_reset_changes_only_spiking_neurons():
    # sinabs 3.1.3 adds reset_value to every neuron (non-spiking 0.1 -> 0.4); spikekit leaves it at 0.1.
    state = {"v_mem": torch.tensor([1.5, 0.1]), "i_syn": torch.zeros(2)}
    new = MembraneReset(0.3)(torch.tensor([1.0, 0.0]), state, torch.tensor(1.0))
    torch.testing.assert_close(new["v_mem"], torch.tensor([0.3, 0.1]))
    assert new is not state and state["v_mem"][0] == 1.5  # the given dict is untouched


# ------------------------------------------------------------------------------------------------------- IAF/LIF
def test_iaf_multispike_subtract_sequence():
    layer = IAF(surrogate_grad_fn=one)
    assert layer(seq(2.5, 0.0, 0.7, 0.4)).tolist() == [[2.0, 0.0, 1.0, 0.0]]
    torch.testing.assert_close(layer.v_mem, torch.tensor([0.6]))


def test_iaf_recordings_are_post_reset():
    layer = IAF(surrogate_grad_fn=one, record_states=True)
    layer(seq(0.6, 0.6, 0.6, 0.1))
    torch.testing.assert_close(layer.recordings["v_mem"], seq(0.6, 0.2, 0.8, 0.9))
    assert set(layer.recordings) == {"v_mem"}


def test_lif_with_synapse_and_normalisation_by_hand():
    am, asyn = math.exp(-1 / 2.0), math.exp(-1 / 3.0)
    x = [0.8, 0.0, 1.5, 0.3]
    layer = LIF(tau_mem=2.0, tau_syn=3.0, spike_threshold=0.5, surrogate_grad_fn=one, record_states=True)
    out = layer(seq(*x))
    i = v = 0.0
    spikes, vs, iss = [], [], []
    for xt in x:
        i = asyn * (i + xt)
        v = am * v + (1 - am) * i
        s = float(v > 0) * math.trunc(v / 0.5)
        v -= s * 0.5
        spikes.append(s)
        vs.append(v)
        iss.append(i)
    torch.testing.assert_close(out, seq(*spikes))
    torch.testing.assert_close(layer.recordings["v_mem"], seq(*vs))
    torch.testing.assert_close(layer.recordings["i_syn"], seq(*iss))


def test_floor_is_relu_form_and_applied_after_reset():
    layer = IAF(min_v_mem=-1.0, surrogate_grad_fn=one)
    layer(seq(-3.0))
    assert layer.v_mem.item() == -1.0
    layer.reset_states()
    layer(seq(1e-5))
    assert layer.v_mem.item() == F_relu_form(1e-5, -1.0)


def F_relu_form(v, m):
    v, m = torch.tensor(v), torch.tensor(m)
    return (torch.relu(v - m) + m).item()


def test_expleak_outputs_the_pre_floor_trace():
    layer = ExpLeak(tau_mem=2.0, min_v_mem=-0.5)
    out = layer(seq(-1.0, -0.2))
    a = math.exp(-0.5)
    torch.testing.assert_close(out, seq(-1.0, -0.5 * a - 0.2))
    torch.testing.assert_close(layer.v_mem, torch.tensor([-0.5]))


def test_expleak_normalised_impulse_integrates_to_one():
    out = ExpLeak(tau_mem=5.0, norm_input=True)(torch.cat([torch.ones(1, 1), torch.zeros(1, 400)], 1))
    # v_t = (1 - a) a^t, and sum_t (1 - a) a^t = 1
    torch.testing.assert_close(out.sum(), torch.tensor(1.0), atol=1e-5, rtol=0)
    torch.testing.assert_close(out[0, :3], (1 - math.exp(-0.2)) * torch.exp(-0.2 * torch.arange(3.0)))


def test_lif_gradcheck_wrt_input_and_tau():
    tau = torch.tensor(4.0, dtype=torch.float64, requires_grad=True)
    x = torch.rand(2, 6, 3, dtype=torch.float64, requires_grad=True)
    state = {"v_mem": torch.zeros(2, 3, dtype=torch.float64)}

    # Spikes are piecewise constant, so finite differences cannot check a surrogate gradient. With a spike rule
    # S = v/θ and surrogate 1/θ, the surrogate *is* the true derivative: gradcheck then verifies that every path
    # through the loop (leak, normalisation, reset, tau) is differentiated correctly.
    class Linear(MultiSpike):
        @staticmethod
        def spike_rule(v, thr):
            return v / thr

    def g(x, tau):
        a = torch.exp(-1 / tau)
        return lif_forward(x, a, None, state, 0.7, Linear, MembraneSubtract(), lambda v, t: 1 / t, None, True)[0]

    assert torch.autograd.gradcheck(g, (x, tau))


def test_per_neuron_time_constants_and_thresholds_broadcast():
    taus = torch.tensor([2.0, 5.0, 10.0])
    thr = torch.tensor([0.5, 1.0, 2.0])
    x = torch.rand(2, 7, 3)
    out = LIF(tau_mem=taus, spike_threshold=thr, surrogate_grad_fn=one)(x)
    for j in range(3):
        single = LIF(tau_mem=float(taus[j]), spike_threshold=float(thr[j]), surrogate_grad_fn=one)(x[..., j : j + 1])
        torch.testing.assert_close(out[..., j : j + 1], single)


@pytest.mark.parametrize("trailing", [(), (3,), (2, 3), (2, 1, 2, 2)])
def test_any_number_of_trailing_dims(trailing):
    x = torch.rand(2, 4, *trailing) * 2
    layer = LIF(tau_mem=3.0, surrogate_grad_fn=one)
    out = layer(x)
    assert out.shape == x.shape and layer.v_mem.shape == (2, *trailing)
    flat = LIF(tau_mem=3.0, surrogate_grad_fn=one)(x.reshape(2, 4, -1))
    torch.testing.assert_close(out.reshape(2, 4, -1), flat)


# ----------------------------------------------------------------------------------------------- state handling
def test_batch_change_resamples_old_states_with_the_global_rng():
    layer = IAF(surrogate_grad_fn=one)
    layer(torch.rand(3, 2, 4))
    old = layer.v_mem.detach().clone()
    torch.manual_seed(7)
    idx = torch.randint(0, 3, (5,))
    torch.manual_seed(7)
    layer(torch.zeros(5, 1, 4))
    torch.testing.assert_close(layer.v_mem, old[idx])


def test_recurrent_and_alif_reinitialise_on_batch_change():
    for layer in (
        IAFRecurrent(nn.Identity(), surrogate_grad_fn=one),
        ALIF(tau_mem=5.0, tau_adapt=5.0, surrogate_grad_fn=one),
    ):
        layer(torch.full((3, 2, 4), 0.4))
        layer(torch.zeros(5, 1, 4))
        assert torch.equal(layer.v_mem, torch.zeros(5, 4))


def test_trailing_change_reinitialises():
    layer = LIF(tau_mem=5.0, surrogate_grad_fn=one)
    layer(torch.rand(2, 3, 4))
    layer(torch.zeros(2, 1, 5))
    assert torch.equal(layer.v_mem, torch.zeros(2, 5))


def test_state_keeps_autograd_history_until_zero_grad():
    layer = LIF(tau_mem=5.0, surrogate_grad_fn=one)
    x = torch.rand(1, 3, 2, requires_grad=True)
    layer(x)
    assert layer.v_mem.grad_fn is not None
    layer.zero_grad()
    assert layer.v_mem.grad_fn is None


def test_parameters_and_state_dict_keys_match_sinabs():
    assert list(LIF(tau_mem=5.0, tau_syn=2.0, min_v_mem=-1.0, surrogate_grad_fn=one).state_dict()) == [
        "tau_mem", "tau_syn", "min_v_mem", "spike_threshold", "v_mem", "i_syn",
    ]  # fmt: skip
    assert list(IAF(surrogate_grad_fn=one).state_dict()) == ["spike_threshold", "v_mem"]
    lif = LIF(tau_mem=5.0, train_alphas=True, surrogate_grad_fn=one)
    assert [n for n, _ in lif.named_parameters()] == ["alpha_mem", "spike_threshold"]
    assert not hasattr(lif, "tau_mem")
    assert list(ALIF(5.0, 7.0, tau_syn=2.0, surrogate_grad_fn=one).state_dict()) == [
        "tau_mem", "tau_adapt", "tau_syn", "v_mem", "i_syn", "b", "spike_threshold",
    ]  # fmt: skip
    assert LIF(tau_mem=5.0, surrogate_grad_fn=one).tau_mem.requires_grad


def test_param_dict_keys():
    base = ["tau_mem", "tau_syn", "spike_threshold", "spike_fn", "reset_fn", "surrogate_grad_fn", "train_alphas",
            "shape", "min_v_mem", "norm_input", "record_states"]  # fmt: skip
    assert list(LIF(tau_mem=5.0, surrogate_grad_fn=one).arg_dict) == base
    drop = {"tau_mem", "train_alphas", "norm_input"}
    assert list(IAF(surrogate_grad_fn=one).arg_dict) == [k for k in base if k not in drop]
    assert list(IAFSqueeze(batch_size=2, surrogate_grad_fn=one).arg_dict)[-2:] == ["batch_size", "num_timesteps"]
    drop = {"tau_syn", "spike_fn", "reset_fn", "surrogate_grad_fn", "spike_threshold"}
    assert list(ExpLeak(tau_mem=3.0).arg_dict) == [k for k in base if k not in drop]
    assert "rec_connect" in LIFRecurrent(5.0, nn.Identity(), surrogate_grad_fn=one).arg_dict
    assert "backend" not in LIF(5.0, surrogate_grad_fn=one).arg_dict
    assert LIF(5.0, surrogate_grad_fn=one, backend="torch").arg_dict["backend"] == "torch"


def test_default_surrogate_is_single_exponential():
    se = pytest.importorskip("spikekit_surrogates")
    del se
    try:
        expected = sa.SingleExponential()
    except (ImportError, AttributeError):
        pytest.skip("spikekit-surrogates is not installed")
    layer = IAF()
    assert layer.surrogate_grad_fn == expected
    assert IAF().surrogate_grad_fn is not layer.surrogate_grad_fn
    assert isinstance(IAF().reset_fn, MembraneSubtract) and IAF().reset_fn is not layer.reset_fn


def test_firing_rate():
    layer = IAF(surrogate_grad_fn=one)
    out = layer(seq(2.5, 0.0, 0.7, 0.4))
    torch.testing.assert_close(layer.firing_rate, out.mean())
    rec = IAFRecurrent(nn.Identity(), surrogate_grad_fn=one)
    out = rec(seq(2.5, 0.0, 0.7, 0.4))
    torch.testing.assert_close(rec.firing_rate, out.sum() / out.numel())


def test_firing_rate_is_that_of_the_last_output_and_can_be_set():
    layer = LIF(tau_mem=4.0, surrogate_grad_fn=one)
    with pytest.raises(AttributeError, match="firing_rate"):
        layer.firing_rate  # no call yet: no rate, as in sinabs
    x = torch.rand(2, 6, 3, requires_grad=True)
    layer(x)
    out = layer(x * 3)  # the rate is that of the last call
    assert torch.equal(layer.firing_rate, out.mean()) and layer.firing_rate.item() > 0
    (grad,) = torch.autograd.grad(
        layer.firing_rate, x, retain_graph=True
    )  # the graph of the output, as if computed in forward
    torch.testing.assert_close(grad, torch.autograd.grad(out.mean(), x)[0])
    layer.firing_rate = torch.tensor(0.25)
    assert layer.firing_rate.item() == 0.25
    layer(x)
    assert torch.equal(layer.firing_rate, layer(x).mean())  # a new call replaces the set value
    alif = ALIF(tau_mem=4.0, tau_adapt=9.0, surrogate_grad_fn=one)
    out = alif(x * 3)
    assert torch.equal(alif.firing_rate, out.sum() / out.numel())


def test_recurrent_signature_is_the_parents_with_rec_connect_inserted():
    import inspect

    for recurrent, parent, index in ((LIFRecurrent, LIF, 1), (IAFRecurrent, IAF, 0), (ALIFRecurrent, ALIF, 2)):
        params = list(inspect.signature(parent).parameters.values())
        rec = inspect.Parameter("rec_connect", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation="torch.nn.Module")
        assert list(inspect.signature(recurrent).parameters.values()) == [*params[:index], rec, *params[index:]]
    layer = LIFRecurrent(5.0, nn.Identity(), None, 2.0, SingleSpike, surrogate_grad_fn=one, backend="torch")
    assert layer.spike_threshold.item() == 2.0 and layer.spike_fn is SingleSpike and layer.backend == "torch"
    assert isinstance(layer.rec_connect, nn.Identity) and layer.tau_syn is None
    with pytest.raises(TypeError, match="^LIFRecurrent: missing a required argument: 'rec_connect'"):
        LIFRecurrent(5.0)
    with pytest.raises(TypeError, match="^ALIFRecurrent: .*unexpected keyword argument 'tau'"):
        ALIFRecurrent(5.0, 6.0, nn.Identity(), tau=1.0)


def test_squeeze_layers_unfold_with_either_size():
    x = torch.rand(2, 5, 3)
    ref = IAF(surrogate_grad_fn=one)(x)
    by_batch = IAFSqueeze(batch_size=2, surrogate_grad_fn=one)(x.flatten(0, 1))
    by_time = IAFSqueeze(num_timesteps=5, surrogate_grad_fn=one)(x.flatten(0, 1))
    torch.testing.assert_close(by_batch.unflatten(0, (2, 5)), ref)
    torch.testing.assert_close(by_time.unflatten(0, (2, 5)), ref)
    with pytest.raises(TypeError, match="batch_size or num_timesteps"):
        LIFSqueeze(tau_mem=3.0)


def test_namespaces_resolve_to_the_plugin_classes():
    assert sl.IAFSqueeze is IAFSqueeze and sl.ALIFSqueeze is ALIFSqueeze
    assert sa.MultiSpike is MultiSpike and sa.MembraneReset is MembraneReset
    assert sl.functional.lif_forward is lif_forward
    assert sa.Quantize.apply(torch.tensor([1.7])).item() == 1.0


# ------------------------------------------------------------------------------------------------------- errors
def test_error_without_time_dimension_names_layer_and_shape():
    with pytest.raises(ValueError, match=r"LIF expects input of shape \(batch, time, \.\.\.\).*got shape \(5,\)"):
        LIF(tau_mem=2.0, surrogate_grad_fn=one)(torch.zeros(5))


def test_error_for_squeeze_rows_that_fit_nothing():
    with pytest.raises(ValueError, match=r"IAFSqueeze expects input of shape \(batch\*time, \.\.\.\).*\(5, 3\)"):
        IAFSqueeze(batch_size=2, surrogate_grad_fn=one)(torch.zeros(5, 3))


def test_error_for_threshold_of_wrong_shape():
    layer = IAF(spike_threshold=torch.ones(3), surrogate_grad_fn=one)
    with pytest.raises(ValueError, match=r"IAF: spike_threshold of shape \(3,\).*\(2, 4\)"):
        layer(torch.zeros(2, 1, 4))
    with pytest.raises(ValueError, match=r"ALIF: tau_mem of shape \(5,\)"):
        ALIF(tau_mem=torch.full((5,), 3.0), tau_adapt=3.0, surrogate_grad_fn=one)(torch.zeros(2, 1, 4))


def test_error_for_dtype_that_cannot_hold_state():
    with pytest.raises(TypeError, match=r"LIF keeps real-valued state.*complex64"):
        LIF(tau_mem=2.0, surrogate_grad_fn=one)(torch.zeros(1, 2, 3, dtype=torch.complex64))
    layer = IAF(surrogate_grad_fn=one, shape=(1, 2))
    layer.v_mem = torch.zeros(1, 2, dtype=torch.int32)
    with pytest.raises(TypeError, match=r"IAF needs floating-point state.*int32"):
        layer(torch.zeros(1, 2, 2))


def test_integer_input_is_promoted_like_sinabs():
    out = IAF(surrogate_grad_fn=one)(torch.tensor([[2, 0, 1]]))
    assert out.dtype == torch.float32 and out.tolist() == [[2.0, 0.0, 1.0]]


# ------------------------------------------------------------------------------------------- deliberate fixes
def test_fix_default_thresholds_do_not_share_storage():
    a, b = IAF(surrogate_grad_fn=one), IAF(surrogate_grad_fn=one)
    a.spike_threshold.data.mul_(3)
    assert b.spike_threshold.item() == 1.0 and IAF(surrogate_grad_fn=one).spike_threshold.item() == 1.0
    shared = torch.tensor(2.0)
    c, d = IAF(spike_threshold=shared, surrogate_grad_fn=one), IAF(spike_threshold=shared, surrogate_grad_fn=one)
    assert c.spike_threshold.data_ptr() != d.spike_threshold.data_ptr() != shared.data_ptr()


def test_fix_recurrent_recordings_are_not_shifted():
    layer = IAFRecurrent(nn.Sequential(nn.Flatten(), nn.Linear(1, 1, bias=False)), surrogate_grad_fn=one,
                         record_states=True)  # fmt: skip
    nn.init.zeros_(layer.rec_connect[1].weight)
    layer(seq(0.6, 0.6, 0.6, 0.1).unsqueeze(-1))  # (1, 4, 1)
    # sinabs 3.1.3 records 1.2, 0.8, 0.9, 0.9 (pre-reset value of the next step)
    torch.testing.assert_close(layer.recordings["v_mem"], seq(0.6, 0.2, 0.8, 0.9).unsqueeze(-1))


def test_fix_alif_recordings_are_not_shifted():
    layer = ALIF(tau_mem=math.inf, tau_adapt=2.0, adapt_scale=0.0, norm_input=False, surrogate_grad_fn=one,
                 record_states=True)  # fmt: skip
    layer(seq(0.6, 0.6, 0.6, 0.1))
    torch.testing.assert_close(layer.recordings["v_mem"], seq(0.6, 0.2, 0.8, 0.9))
    a = math.exp(-0.5)
    torch.testing.assert_close(layer.recordings["b"], seq(0.0, 1 - a, a * (1 - a), a * a * (1 - a)))


def test_fix_alif_synapse_is_lif_style_and_carries_over_calls():
    kw = dict(tau_mem=4.0, tau_adapt=10.0, tau_syn=3.0, spike_threshold=100.0, surrogate_grad_fn=one)
    alif = ALIF(**kw, record_states=True)
    lif = LIF(tau_mem=4.0, tau_syn=3.0, spike_threshold=100.0, surrogate_grad_fn=one, record_states=True)
    x = torch.rand(2, 5, 3)
    alif(x[:, :2])
    alif(x[:, 2:])
    lif(x)
    # no spikes (huge threshold): ALIF must equal LIF; i_syn holds the un-normalised current and survives calls
    torch.testing.assert_close(alif.v_mem, lif.v_mem)
    torch.testing.assert_close(alif.i_syn, lif.i_syn)
    torch.testing.assert_close(alif.recordings["i_syn"], lif.recordings["i_syn"][:, 2:])


def test_fix_alif_param_dict_keeps_norm_input_and_trainable_alphas():
    layer = ALIF(5.0, 7.0, norm_input=False, train_alphas=True, surrogate_grad_fn=one)  # tau_syn=None works
    repr(layer)
    twin = copy.deepcopy(layer)
    assert layer.alpha_mem.requires_grad and layer.alpha_adapt.requires_grad
    assert twin.norm_input is False and twin.alpha_syn is None
    torch.testing.assert_close(twin.alpha_mem, layer.alpha_mem)
    x = torch.rand(1, 4, 2) * 3
    torch.testing.assert_close(twin(x), layer(x))


def test_fix_deepcopy_of_recurrent_layer_with_parametrised_rec_connect():
    layer = LIFRecurrent(5.0, nn.Sequential(nn.Flatten(), nn.Linear(3, 3)), surrogate_grad_fn=one)
    x = torch.rand(2, 4, 3) * 2
    layer(x)
    twin = copy.deepcopy(layer)
    assert twin.rec_connect[1].weight.data_ptr() != layer.rec_connect[1].weight.data_ptr()
    torch.testing.assert_close(twin(x), layer(x))
    with torch.no_grad():
        twin.rec_connect[1].weight.zero_()
    assert not torch.equal(layer.rec_connect[1].weight, twin.rec_connect[1].weight)


def test_alif_adaptive_threshold_by_hand():
    layer = ALIF(
        tau_mem=math.inf, tau_adapt=1 / math.log(2), adapt_scale=2.0, norm_input=False, surrogate_grad_fn=one
    )  # fmt: skip  (alpha_adapt = 0.5)
    out = layer(seq(1.2, 1.2, 1.2, 1.2))
    # θ: 1, 2, 1.5, 2.25; v (pre-reset): 1.2, 1.4, 2.6, 2.3 (subtracting the adaptive θ)
    torch.testing.assert_close(out, seq(1.0, 0.0, 1.0, 1.0))
    torch.testing.assert_close(layer.b, torch.tensor([0.5 * 0.625 + 0.5]))
    torch.testing.assert_close(layer.spike_threshold, 1 + 2 * layer.b)


def test_alif_recurrent_and_squeeze_run():
    x = torch.rand(2, 3, 4)
    rec = ALIFRecurrent(5.0, 9.0, nn.Sequential(nn.Flatten(), nn.Linear(4, 4)), surrogate_grad_fn=one)
    assert rec(x).shape == x.shape
    sq = ALIFSqueeze(tau_mem=5.0, tau_adapt=9.0, batch_size=2, surrogate_grad_fn=one)
    torch.testing.assert_close(sq(x.flatten(0, 1)).unflatten(0, (2, 3)), ALIF(5.0, 9.0, surrogate_grad_fn=one)(x))


def test_pickled_layers_run_without_backend_attribute():
    layer = IAF(surrogate_grad_fn=_Pickleable())
    x = torch.rand(1, 3, 2)
    layer(x)
    del layer.backend  # a layer pickled by sinabs has no such attribute
    twin = pickle.loads(pickle.dumps(layer))
    torch.testing.assert_close(twin(x), layer(x))


class _Pickleable:
    def __call__(self, v, t):
        return torch.ones_like(v)
