"""StatefulLayer, SqueezeMixin and the time-layout layers, checked against their definitions."""

from __future__ import annotations

import copy
import inspect
import threading

import pytest
import torch
from torch import nn

from spikekit.layers import FlattenTime, Repeat, SqueezeMixin, StatefulLayer, UnflattenTime
from spikekit.state import (
    ConcurrentUseError,
    ShapeMismatchError,
    check_broadcast,
    check_state_device,
    check_state_dtype,
    check_time_input,
)
from spikekit.utils import (
    detach_states,
    get_batch_size,
    get_num_timesteps,
    get_smallest_compatible_time_dimension,
    reset_states,
    set_batch_size,
    zero_grad,
)


class Accumulator(StatefulLayer):
    """A minimal stateful layer: v <- v + x_t, output v."""

    def __init__(self, gain: float = 1.0):
        super().__init__(state_names=["v_mem", "i_syn"])
        self.gain = gain

    def forward(self, x):
        if not self.is_state_initialised() or not self.state_has_shape(x[:, 0].shape):
            self.init_state_with_shape(x[:, 0].shape)
        outs = []
        v = self.v_mem
        for t in range(x.shape[1]):
            v = v + self.gain * x[:, t]
            outs.append(v)
        self.v_mem = v
        return torch.stack(outs, 1)

    @property
    def _param_dict(self):
        return {"gain": self.gain}


class SqueezedAccumulator(Accumulator, SqueezeMixin):
    def __init__(self, batch_size=None, num_timesteps=None, **kw):
        super().__init__(**kw)
        self.squeeze_init(batch_size, num_timesteps)

    def forward(self, x):
        return self.squeeze_forward(x, super().forward)

    @property
    def _param_dict(self):
        return self.squeeze_param_dict(super()._param_dict)


class MixinFirstAccumulator(SqueezeMixin, Accumulator):
    """The mixin listed first is the whole Squeeze class."""


def test_squeeze_mixin_listed_first_is_the_whole_squeeze_class():
    x = torch.rand(2 * 3, 4)
    ours = MixinFirstAccumulator(batch_size=2, gain=0.5)
    theirs = SqueezedAccumulator(batch_size=2, gain=0.5)
    assert torch.equal(ours(x), theirs(x))
    assert ours.arg_dict == theirs.arg_dict == {"gain": 0.5, "batch_size": 2, "num_timesteps": -1}
    assert list(inspect.signature(MixinFirstAccumulator).parameters) == ["batch_size", "num_timesteps", "kwargs"]
    with pytest.raises(TypeError, match="batch_size or num_timesteps"):
        MixinFirstAccumulator(gain=0.5)
    with pytest.raises(ShapeMismatchError, match="MixinFirstAccumulator"):
        ours(torch.rand(5, 4))


def test_states_start_empty_and_are_buffers():
    layer = Accumulator()
    assert not layer.is_state_initialised()
    assert [n for n, _ in layer.named_buffers()] == ["v_mem", "i_syn"]
    assert layer.v_mem.shape == (0,)
    layer.reset_states()  # no-op before initialisation
    assert layer.v_mem.shape == (0,)


def test_init_state_with_shape_and_queries():
    layer = Accumulator().double()
    layer.init_state_with_shape((2, 3))
    assert layer.is_state_initialised()
    assert layer.state_has_shape((2, 3)) and not layer.state_has_shape((3, 3))
    assert layer.has_trailing_dimension((3,)) and not layer.has_trailing_dimension((4,))
    assert layer.v_mem.dtype == torch.float64  # follows the module's dtype
    assert torch.equal(layer.v_mem, torch.zeros(2, 3, dtype=torch.float64))


def test_reset_states_randomize_respects_value_ranges():
    torch.manual_seed(0)
    layer = Accumulator()
    layer.init_state_with_shape((100,))
    layer.reset_states(randomize=True, value_ranges={"v_mem": (-3.0, -2.0)})
    assert (layer.v_mem >= -3).all() and (layer.v_mem <= -2).all() and layer.v_mem.std() > 0.1
    assert (layer.i_syn >= 0).all() and (layer.i_syn <= 1).all()
    layer.reset_states()
    assert torch.count_nonzero(layer.v_mem) == 0


def test_batch_size_mismatch_resamples_old_entries_with_the_global_rng():
    layer = Accumulator()
    layer.init_state_with_shape((3, 2))
    layer.v_mem = torch.arange(6.0).reshape(3, 2)
    layer.i_syn = -torch.arange(6.0).reshape(3, 2)
    torch.manual_seed(5)
    expected_v = torch.randint(0, 3, (5,))
    expected_i = torch.randint(0, 3, (5,))
    torch.manual_seed(5)
    layer.handle_state_batch_size_mismatch(5)
    assert torch.equal(layer.v_mem, torch.arange(6.0).reshape(3, 2)[expected_v])
    assert torch.equal(layer.i_syn, -torch.arange(6.0).reshape(3, 2)[expected_i])


def test_zero_grad_cuts_history_keeps_values():
    layer = Accumulator()
    x = torch.ones(2, 3, 4, requires_grad=True)
    layer(x).sum().backward()
    assert layer.v_mem.grad_fn is not None
    before = layer.v_mem.detach().clone()
    layer.zero_grad()
    assert layer.v_mem.grad_fn is None and torch.equal(layer.v_mem, before)


def test_deepcopy_copies_state_and_submodules():
    layer = Accumulator(gain=2.0)
    layer.rec = nn.Linear(3, 3)
    layer(torch.ones(1, 2, 3))
    twin = copy.deepcopy(layer)
    assert twin.gain == 2.0 and torch.equal(twin.v_mem, layer.v_mem)
    assert twin.v_mem.data_ptr() != layer.v_mem.data_ptr()
    assert twin.rec is not layer.rec and torch.equal(twin.rec.weight, layer.rec.weight)


def test_repr_lists_only_known_constructor_keys():
    assert repr(SqueezedAccumulator(batch_size=2)) == "SqueezedAccumulator(batch_size=2, num_timesteps=-1)"


def test_forward_not_implemented_names_the_class():
    with pytest.raises(NotImplementedError, match="StatefulLayer"):
        StatefulLayer(["v"])(torch.zeros(1))


def test_squeeze_init_needs_one_of_the_two():
    with pytest.raises(TypeError, match="batch_size or num_timesteps"):
        SqueezedAccumulator()


@pytest.mark.parametrize("kwargs, rows, ok", [
    ({"batch_size": 2}, 8, True),      # T = 4
    ({"num_timesteps": 4}, 12, True),  # B = 3
    ({"batch_size": 2, "num_timesteps": 4}, 8, True),
    ({"batch_size": 2}, 5, False),
    ({"batch_size": 2, "num_timesteps": 4}, 16, False),
])  # fmt: skip
def test_squeeze_forward_shapes_and_errors(kwargs, rows, ok):
    layer = SqueezedAccumulator(**kwargs)
    x = torch.ones(rows, 3)
    if ok:
        out = layer(x)
        assert out.shape == x.shape
        bs = kwargs.get("batch_size") or rows // kwargs["num_timesteps"]
        assert layer.v_mem.shape == (bs, 3)
        # the last step of each sample equals the running sum over that sample's steps
        assert torch.equal(out.unflatten(0, (bs, -1))[:, -1], torch.full((bs, 3), rows / bs))
    else:
        with pytest.raises(ValueError, match=r"SqueezedAccumulator expects .*got shape \(%d, 3\)" % rows):
            layer(x)


def test_flatten_unflatten_repeat_round_trip():
    x = torch.randn(2, 5, 3, 4, 4)
    flat = FlattenTime()(x)
    assert flat.shape == (10, 3, 4, 4)
    assert torch.equal(UnflattenTime(batch_size=2)(flat), x)
    conv = nn.Conv2d(3, 6, 3)
    out = Repeat(conv)(x)
    assert out.shape == (2, 5, 6, 2, 2)
    assert torch.allclose(out[1, 3], conv(x[1, 3:4])[0])
    assert repr(Repeat(conv)).startswith("Repeated Conv2d")
    with pytest.raises(ValueError, match="UnflattenTime.*multiple of batch_size=3"):
        UnflattenTime(3)(flat)
    with pytest.raises(ValueError, match="Repeat expects"):
        Repeat(conv)(torch.zeros(3))


def test_model_helpers_reach_nested_and_bare_layers():
    inner = Accumulator()
    model = nn.Sequential(nn.Linear(3, 3), nn.Sequential(inner), SqueezedAccumulator(batch_size=2, num_timesteps=3))
    inner(torch.ones(2, 2, 3))
    reset_states(model)
    assert torch.count_nonzero(inner.v_mem) == 0
    bare = Accumulator()
    bare(torch.ones(1, 2, 3))
    reset_states(bare)  # sinabs would skip a bare layer
    assert torch.count_nonzero(bare.v_mem) == 0
    x = torch.ones(2, 2, 3, requires_grad=True)
    inner(x).sum().backward()
    zero_grad(model)
    assert inner.v_mem.grad_fn is None
    inner(x)
    detach_states(model)
    assert inner.v_mem.grad_fn is None
    assert get_batch_size(model) == 2 and get_num_timesteps(model) == 3
    assert get_smallest_compatible_time_dimension(model) == 6
    set_batch_size(model, 4)
    assert model[2].batch_size == 4 and model[2].num_timesteps == 3
    assert get_batch_size(nn.Linear(1, 1)) == -1
    model.append(SqueezedAccumulator(batch_size=5))
    with pytest.raises(ValueError, match="disagree on batch_size"):
        get_batch_size(model)


# ------------------------------------------------------------------------------------------- layer-authoring API
class Filtered(StatefulLayer):
    """A state ``v`` and a constant ``kernel`` (a per-neuron gain that resets must not touch)."""

    def __init__(self, kernel: torch.Tensor):
        super().__init__(state_names=["v"])
        self.register_constant("kernel", kernel.clone())

    def forward(self, x):
        x = check_time_input(self, x)
        if not self.is_state_initialised() or not self.state_has_shape(x[:, 0].shape):
            self.init_state_with_shape(x[:, 0].shape)
        self.v = self.v + self.kernel * x.sum(1)
        return x

    def constructor_args(self):
        return {"kernel": self.kernel}


def test_a_constant_is_not_a_state_and_survives_resets_and_shape_changes():
    layer = Filtered(torch.tensor([1.0, 2.0, 3.0]))
    assert layer.state_names == ["v"] and layer.constant_names == ["kernel"]
    assert not layer.is_state_initialised()  # the constant has a shape, the state does not yet
    layer(torch.ones(2, 4, 3))
    assert torch.equal(layer.v, torch.tensor([[4.0, 8.0, 12.0]] * 2))
    layer.reset_states()
    assert torch.equal(layer.v, torch.zeros(2, 3)) and torch.equal(layer.kernel, torch.tensor([1.0, 2.0, 3.0]))
    layer.reset_states(randomize=True)
    assert torch.equal(layer.kernel, torch.tensor([1.0, 2.0, 3.0]))
    layer.handle_state_batch_size_mismatch(5)  # resizes states only
    assert layer.v.shape == (5, 3) and layer.kernel.shape == (3,)
    layer.init_state_with_shape((1, 3))
    assert layer.kernel.shape == (3,)
    assert set(layer.state_dict()) == {"v", "kernel"}  # a constant is saved like any buffer


def test_a_constant_follows_copies_and_state_dicts():
    layer = Filtered(torch.tensor([1.0, 2.0, 3.0]))
    layer(torch.ones(2, 4, 3))
    twin = copy.deepcopy(layer)
    assert twin.constant_names == ["kernel"] and torch.equal(twin.kernel, layer.kernel)
    assert twin.kernel.data_ptr() != layer.kernel.data_ptr()
    fresh = Filtered(torch.zeros(3))
    fresh.load_state_dict(layer.state_dict())
    assert torch.equal(fresh.kernel, layer.kernel) and torch.equal(fresh.v, layer.v)


def test_register_state_declares_a_state_after_init():
    layer = Filtered(torch.ones(3))
    layer.register_state("trace")
    assert layer.state_names == ["v", "trace"]
    layer.init_state_with_shape((2, 3))
    assert layer.trace.shape == (2, 3)
    with pytest.raises(TypeError, match="Filtered.register_constant expects a torch.Tensor for 'gain', got float"):
        layer.register_constant("gain", 2.0)


def test_constructor_args_is_the_public_way_and_param_dict_still_works():
    layer = Filtered(torch.tensor([1.0, 2.0]))
    assert set(layer.arg_dict) == {"kernel"} and set(layer._param_dict) == {"kernel"}
    twin = type(layer)(**layer.arg_dict)
    assert torch.equal(twin.kernel, layer.kernel)
    # a layer written for sinabs overrides _param_dict instead, and that keeps working everywhere
    assert Accumulator(gain=3.0).arg_dict == {"gain": 3.0}
    assert copy.deepcopy(Accumulator(gain=3.0)).gain == 3.0


def test_public_input_checks_name_the_layer():
    layer = Filtered(torch.ones(3))
    with pytest.raises(ValueError, match=r"Filtered expects input of shape \(batch, time, \.\.\.\).*got shape \(3,\)"):
        layer(torch.ones(3))
    with pytest.raises(TypeError, match="Filtered expects a torch.Tensor .* got list"):
        check_time_input(layer, [1.0])
    assert check_time_input(layer, torch.ones(1, 2, 3, dtype=torch.int64)).dtype == torch.float32
    with pytest.raises(ValueError, match=r"Filtered: spike_threshold of shape \(4,\) does not broadcast"):
        check_broadcast(layer, (2, 3), spike_threshold=torch.ones(4))
    layer.init_state_with_shape((1, 3))
    layer.v = layer.v.to("meta")
    with pytest.raises(RuntimeError, match="Filtered: state 'v' is on meta, the input on cpu"):
        check_state_device(layer, torch.ones(1, 2, 3))
    layer.v = torch.zeros(1, 3, dtype=torch.int32)
    with pytest.raises(TypeError, match="Filtered needs floating-point state, but state 'v' has dtype torch.int32"):
        check_state_dtype(layer)
    layer.kernel = torch.ones(3, dtype=torch.int64)  # an integer constant is fine: only states must be floating
    layer.v = torch.zeros(1, 3)
    check_state_dtype(layer)


# ---------------------------------------------------------------------------------- errors as sinabs raises them
@pytest.mark.parametrize("kwargs, rows", [({"batch_size": 2}, 5), ({"batch_size": 2, "num_timesteps": 3}, 8)])
def test_squeeze_mismatch_is_a_value_error_and_sinabs_runtime_error(kwargs, rows):
    layer = SqueezedAccumulator(**kwargs)
    with pytest.raises(ShapeMismatchError) as info:
        layer(torch.ones(rows, 3))
    assert isinstance(info.value, ValueError) and isinstance(info.value, RuntimeError)  # sinabs: RuntimeError
    assert "SqueezedAccumulator" in str(info.value) and f"({rows}, 3)" in str(info.value)
    with pytest.raises(RuntimeError):  # code written for sinabs catches it
        UnflattenTime(batch_size=2)(torch.ones(5))


@pytest.mark.parametrize("bad", [-3, 2.5, "2", True])
def test_squeeze_sizes_are_validated(bad):
    with pytest.raises(ValueError, match=f"SqueezedAccumulator: batch_size must be a positive whole number.*{bad!r}"):
        SqueezedAccumulator(batch_size=bad)


@pytest.mark.parametrize("given, stored", [(2.0, 2), (-1, -1), (0, -1), (None, -1)])
def test_squeeze_sizes_sinabs_accepts_are_kept(given, stored):
    layer = SqueezedAccumulator(batch_size=given, num_timesteps=4)
    assert layer.batch_size == stored and layer.num_timesteps == 4


def test_loading_states_of_different_shapes_is_refused_naming_the_layer():
    layer = Accumulator()
    with pytest.raises(RuntimeError, match=r"Accumulator.*different shapes \(v_mem \(2, 3\), i_syn \(4, 3\)\)"):
        layer.load_state_dict({"v_mem": torch.zeros(2, 3), "i_syn": torch.zeros(4, 3)})
    with pytest.raises(RuntimeError, match=r"Accumulator.*'v_mem' is 0-d"):
        layer.load_state_dict({"v_mem": torch.tensor(1.0), "i_syn": torch.tensor(1.0)})
    nested = nn.Sequential(nn.Identity(), Accumulator())
    with pytest.raises(RuntimeError, match=r"Accumulator \(at '1'\)"):
        nested.load_state_dict({"1.v_mem": torch.zeros(2, 3), "1.i_syn": torch.zeros(0)})
    layer.load_state_dict({"v_mem": torch.ones(2, 3), "i_syn": torch.ones(2, 3)})  # consistent: loads
    assert torch.equal(layer.v_mem, torch.ones(2, 3))


def test_states_for_other_neurons_than_the_layer_ran_on_are_refused():
    ran = Accumulator()
    ran(torch.ones(2, 4, 3))  # the layer now knows its neurons: (3,)
    five = {"v_mem": torch.full((2, 5), 7.0), "i_syn": torch.full((2, 5), 7.0)}
    with pytest.raises(RuntimeError, match=r"Accumulator.*'v_mem' of shape \(2, 5\).*neurons of shape \(3,\)"):
        ran.load_state_dict(five)
    assert ran.v_mem.shape == (2, 3)  # nothing was loaded
    ran.load_state_dict({"v_mem": torch.full((6, 3), 7.0), "i_syn": torch.full((6, 3), 7.0)})  # another batch: fine
    assert torch.equal(ran.v_mem, torch.full((6, 3), 7.0))
    fresh = Accumulator()  # a layer that has not run takes the checkpoint's neurons
    fresh.load_state_dict(five)
    assert torch.equal(fresh.v_mem, torch.full((2, 5), 7.0))


# --------------------------------------------------------------------------------------------------- threads
class Blocking(StatefulLayer):
    """Waits inside forward until released, so a test can call it from a second thread meanwhile."""

    def __init__(self):
        super().__init__(state_names=["v"])
        self.inside, self.release = threading.Event(), threading.Event()

    def forward(self, x):
        self.inside.set()
        assert self.release.wait(10)
        self.v = x.sum(1)
        return x


def test_a_second_thread_inside_a_layer_is_refused_and_the_first_completes():
    layer = Blocking()
    results = []
    first = threading.Thread(target=lambda: results.append(layer(torch.ones(1, 2, 3))))
    first.start()
    assert layer.inside.wait(10)
    with pytest.raises(ConcurrentUseError, match="Blocking was called from thread .* not thread-safe") as info:
        layer(torch.ones(1, 2, 3))
    assert isinstance(info.value, RuntimeError)
    layer.release.set()
    first.join(10)
    assert len(results) == 1 and torch.equal(layer.v, torch.full((1, 3), 2.0))
    # once the first thread is done, any thread may use the layer (sequential use from a pool is fine)
    other = threading.Thread(target=lambda: results.append(layer(torch.ones(1, 2, 3))))
    other.start()
    other.join(10)
    assert len(results) == 2


def test_nested_and_failing_calls_release_the_layer():
    class Outer(StatefulLayer):
        def __init__(self):
            super().__init__(state_names=[])
            self.inner = Accumulator()

        def forward(self, x):
            return self.inner(x) if x.ndim > 1 else self(x.reshape(1, 1, -1))  # re-enters itself

    outer = Outer()
    outer(torch.ones(3))
    assert "_active_thread" not in outer.__dict__ and "_active_thread" not in outer.inner.__dict__
    with pytest.raises(IndexError):
        outer.inner(torch.ones(1, 2, 3)[:, :0])  # the call fails (no time step) ...
    done = []
    worker = threading.Thread(target=lambda: done.append(outer.inner(torch.ones(1, 2, 3))))
    worker.start()
    worker.join(10)
    assert done  # ... and does not leave the layer marked as busy


def test_of_two_threads_entering_together_exactly_one_runs():
    """Many threads released at once into one layer: one runs it, every other is refused (no silent overlap)."""
    layer = Blocking()
    start = threading.Barrier(8)
    outcomes = []

    def call():
        start.wait(10)
        try:
            layer(torch.ones(1, 2, 3))
            outcomes.append("ran")
        except ConcurrentUseError:
            outcomes.append("refused")

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    assert layer.inside.wait(10)
    # the winner is held inside forward; give the others time to arrive and be refused, then release it
    for _ in range(200):
        if outcomes.count("refused") == 7:
            break
        threading.Event().wait(0.01)
    layer.release.set()
    for t in threads:
        t.join(10)
    assert sorted(outcomes) == ["ran"] + ["refused"] * 7
