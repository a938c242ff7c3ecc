"""The sinabs import paths of the chip API, and DynapcnnNetwork as a sinabs user drives it."""

from __future__ import annotations

import torch
from torch import nn

import spikekit as sinabs
import spikekit.layers as sl


def _snn() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, bias=False),
        sl.IAFSqueeze(batch_size=1),
        nn.Flatten(),
        nn.Linear(4 * 6 * 6, 3, bias=False),
        sl.IAFSqueeze(batch_size=1),
    )


def test_sinabs_module_paths_resolve():
    from spikekit.backend.dynapcnn import DVSLayer, DynapcnnCompatibleNetwork, DynapcnnNetwork

    assert issubclass(DynapcnnCompatibleNetwork, DynapcnnNetwork)
    assert DVSLayer.__name__ == "DVSLayer"
    assert sinabs.validate_memory_speck.ValidateMapping is sinabs.ValidateMapping


def test_dynapcnn_network_simulates_and_reports_memory():
    from spikekit.backend.dynapcnn import DynapcnnNetwork

    net = DynapcnnNetwork(_snn(), input_shape=(2, 8, 8), discretize=True)
    x = (torch.rand(6, 2, 8, 8) > 0.5).float()
    out = net(x)
    assert out.shape[0] == 6 and out.shape[1] == 3
    assert torch.equal(out, out.round()) and (out >= 0).all()  # integer spike counts per step
    summary = net.memory_summary()
    # conv: 2 input channels * 2^(ceil(log2 9) + ceil(log2 4)) = 2 * 2^6 = 128 kernel entries
    assert summary["kernel"][0] == 128
    # conv neurons: 4 channels * 2^(ceil(log2 6) + ceil(log2 6)) = 4 * 64 = 256
    assert summary["neuron"][0] == 256
