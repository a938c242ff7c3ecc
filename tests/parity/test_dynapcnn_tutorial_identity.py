"""The chip quick start (docs/tutorials/chip) gives identical results under ``import spikekit as sinabs``.

The tutorial's pipeline, run once with sinabs 3.1.3 (the oracle, samna stand-in on the path) and once with
spikekit: weight normalisation, ``from_model``, ``DynapcnnNetwork(..., discretize=True)``, the automatic placement
(``chip_layers_ordering``), the memory summary, the discretised parameters and the outputs over several calls
(state carried), and the float network's outputs. Digits are stood in for by a fixed random image set (the
tutorial's data set needs scikit-learn, which the parity session does not install).
"""

from __future__ import annotations

import copy
import types
import warnings

import pytest
import torch
from torch import nn

sinabs = pytest.importorskip("sinabs")
sinabs_dynapcnn = pytest.importorskip("sinabs.backend.dynapcnn")
pytestmark = pytest.mark.parity

import spikekit  # noqa: E402
import spikekit.backend.dynapcnn as spikekit_dynapcnn  # noqa: E402

B, T = 6, 12


def _ann() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(16 * 2 * 2, 10, bias=False),
    )  # fmt: skip


def _data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    images = torch.rand(64, 1, 8, 8, generator=g)
    probabilities = images[:B].unsqueeze(1).expand(-1, T, -1, -1, -1)
    spikes = (torch.rand(probabilities.shape, generator=g) < probabilities).float().flatten(0, 1)
    return images, spikes


def _quick_start(lib: types.ModuleType, dynapcnn: types.ModuleType, ann: nn.Module) -> dict:
    """The quick start's steps with library ``lib`` (sinabs or spikekit) and its ``backend.dynapcnn``."""
    images, spikes = _data()
    ann = copy.deepcopy(ann)
    lib.utils.normalize_weights(
        ann, images, output_layers=["1", "4", "7"], param_layers=["0", "3", "7"], percentile=99.9
    )
    snn = lib.from_model(ann, input_shape=(1, 8, 8), batch_size=B, add_spiking_output=True, min_v_mem=-1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hw = dynapcnn.DynapcnnNetwork(snn.spiking_model, input_shape=(1, 8, 8), discretize=True, dvs_input=False)
        flt = dynapcnn.DynapcnnNetwork(snn.spiking_model, input_shape=(1, 8, 8), discretize=False, dvs_input=False)
        if lib is spikekit:
            hw.make_json_config(device="speck2fmodule")
        else:  # sinabs places the layers, then builds samna's object, which the stand-in cannot hold
            with pytest.raises(Exception):
                hw.make_config(device="speck2fmodule")
        ordering = hw.chip_layers_ordering
    with torch.no_grad():
        by_time = spikes.unflatten(0, (B, T))  # the first and second half of every sample's steps, in two calls
        outputs = [hw(by_time[:, : T // 2].flatten(0, 1)), hw(by_time[:, T // 2 :].flatten(0, 1))]
        if lib is spikekit:
            hw.reset_states()
        else:  # sinabs 3.1.3's DynapcnnNetwork.reset_states reads a removed attribute: reset its layers
            for layer in hw.dynapcnn_layers.values():
                layer.spk_layer.reset_states()
        again = hw(spikes)
        float_out = flt(spikes)
    return {
        "weights": [p.detach().clone() for p in ann.parameters()],
        "ordering": ordering,
        "memory": hw.memory_summary(),
        "state": {k: v.clone() for k, v in hw.state_dict().items()},
        "outputs": outputs,
        "again": again,
        "float": float_out,
        "printed": str(hw),
    }


@pytest.fixture(scope="module")
def both():
    ann = _ann()
    return _quick_start(sinabs, sinabs_dynapcnn, ann), _quick_start(spikekit, spikekit_dynapcnn, ann)


def test_same_normalised_weights(both):
    theirs, ours = both
    for a, b in zip(theirs["weights"], ours["weights"], strict=True):
        assert torch.equal(a, b)


def test_same_chip_layers_ordering_and_memory(both):
    theirs, ours = both
    assert theirs["ordering"] is not None and ours["ordering"] == theirs["ordering"]
    assert ours["memory"] == theirs["memory"]


def test_same_discretised_network(both):
    theirs, ours = both
    assert sorted(ours["state"]) == sorted(theirs["state"])
    for key, value in theirs["state"].items():
        assert torch.equal(ours["state"][key], value), key
    assert ours["printed"] == theirs["printed"]


def test_same_discretised_and_float_outputs(both):
    theirs, ours = both
    for a, b in zip(theirs["outputs"], ours["outputs"], strict=True):
        assert torch.equal(a, b)
    assert torch.equal(ours["again"], theirs["again"])
    halves = torch.cat([out.unflatten(0, (B, T // 2)) for out in ours["outputs"]], dim=1).flatten(0, 1)
    assert torch.equal(halves, ours["again"])  # state carried across calls: two halves == whole
    assert torch.equal(ours["float"], theirs["float"])
    assert ours["again"].sum() > 0  # the comparison is not between two silent networks
