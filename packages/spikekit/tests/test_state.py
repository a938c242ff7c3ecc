"""StatefulLayer, SqueezeMixin and the time-layout layers, checked against their definitions."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from spikekit.layers import FlattenTime, Repeat, SqueezeMixin, StatefulLayer, UnflattenTime
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
