"""Reading a neuron layer's parameters (its class comes from another plugin): tensors and numbers, clear errors."""

import numpy as np
import pytest
import torch
from torch import nn

import spikekit.layers as sl
from spikekit_speck.recognise import number_of, threshold_of


class _Holder:
    def __init__(self, **values):
        self.__dict__.update(values)


def test_tensors_and_numbers_come_back_as_they_are():
    threshold = torch.tensor(2.5)
    assert number_of(_Holder(x=threshold), "x") is threshold
    assert number_of(_Holder(x=3), "x") == 3
    assert number_of(_Holder(x=0.5), "x") == 0.5


def test_numpy_scalars_become_floats():
    value = number_of(_Holder(x=np.float32(1.5)), "x")
    assert type(value) is float and value == 1.5


def test_absent_is_none_unless_required():
    assert number_of(_Holder(), "min_v_mem") is None
    with pytest.raises(AttributeError, match="min_v_mem"):
        number_of(_Holder(), "min_v_mem", required=True)


def test_anything_else_is_refused_by_name():
    with pytest.raises(TypeError, match=r"_Holder.spike_threshold should be a tensor or a number, got Linear"):
        number_of(_Holder(spike_threshold=nn.Linear(1, 1)), "spike_threshold")


def test_a_chip_layer_needs_a_threshold():
    with pytest.raises(ValueError, match="spike_threshold None"):
        threshold_of(_Holder(spike_threshold=None))
    layer = sl.IAFSqueeze(batch_size=1, spike_threshold=2.0)
    assert float(threshold_of(layer)) == 2.0
