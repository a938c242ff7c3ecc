"""The core's conformance suites, run against every layer and the reference backend."""

import math

import torch
from torch import nn

from spikekit_neurons import (
    IAF,
    LIF,
    ExpLeak,
    ExpLeakSqueeze,
    IAFRecurrent,
    IAFSqueeze,
    LIFRecurrent,
    LIFSqueeze,
    MembraneReset,
    SingleSpike,
)
from spikekit_testing import BackendConformance, NeuronConformance


def _sg(v, thr):
    return torch.exp(-(v - thr).abs())


class TestTorchBackend(BackendConformance):
    backend_name = "torch"
    must_support = ("iaf", "lif", "lif-norm", "lif-single-spike", "lif-membrane-reset", "lif-floor", "lif-syn",
                    "lif-record", "expleak", "alif")  # fmt: skip


class TestIAF(NeuronConformance):
    def make_layer(self):
        return IAF(surrogate_grad_fn=_sg)


class TestIAFSynFloor(NeuronConformance):
    input_shape = (2, 5, 3, 4)

    def make_layer(self):
        return IAF(tau_syn=3.0, min_v_mem=-0.5, spike_threshold=0.8, surrogate_grad_fn=_sg)


class TestIAFSqueeze(NeuronConformance):
    input_shape = (2, 5, 3, 2, 2)

    def make_layer(self):
        return IAFSqueeze(batch_size=2, surrogate_grad_fn=_sg)


class TestIAFSqueezeTime(NeuronConformance):
    def make_layer(self):
        return IAFSqueeze(num_timesteps=6, surrogate_grad_fn=_sg, reset_fn=MembraneReset())


class TestIAFRecurrent(NeuronConformance):
    def make_layer(self):
        torch.manual_seed(0)
        return IAFRecurrent(nn.Sequential(nn.Flatten(), nn.Linear(4, 4)), surrogate_grad_fn=_sg)


class TestLIF(NeuronConformance):
    def make_layer(self):
        return LIF(tau_mem=5.0, tau_syn=2.0, surrogate_grad_fn=_sg)


class TestLIFTrainAlphas(NeuronConformance):
    def make_layer(self):
        return LIF(tau_mem=torch.tensor([4.0, 5.0, 6.0, 7.0]), train_alphas=True, spike_fn=SingleSpike,
                   surrogate_grad_fn=_sg)  # fmt: skip


class TestLIFSqueeze(NeuronConformance):
    def make_layer(self):
        return LIFSqueeze(tau_mem=5.0, batch_size=3, surrogate_grad_fn=_sg, record_states=True)


class TestLIFRecurrent(NeuronConformance):
    def make_layer(self):
        torch.manual_seed(0)
        return LIFRecurrent(tau_mem=8.0, tau_syn=3.0, rec_connect=nn.Sequential(nn.Flatten(), nn.Linear(4, 4)),
                            surrogate_grad_fn=_sg, record_states=True)  # fmt: skip


class TestExpLeak(NeuronConformance):
    def make_layer(self):
        return ExpLeak(tau_mem=math.e, min_v_mem=-0.1)


class TestExpLeakSqueeze(NeuronConformance):
    def make_layer(self):
        return ExpLeakSqueeze(tau_mem=3.0, num_timesteps=6, norm_input=True)
