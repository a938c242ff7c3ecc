"""DVS input layer: pre-processing semantics, and a deployed network fed through it."""

import torch
from torch import nn

import spikekit
import spikekit.layers as sl
from spikekit_speck import DVSLayer


def test_dvs_preprocessing_by_hand():
    x = torch.arange(2 * 4 * 4).float().reshape(1, 2, 4, 4)
    dvs = DVSLayer((4, 4), pool=2, merge_polarities=True, flip_x=True)
    merged = x[:, 0] + x[:, 1]
    pooled = merged.reshape(1, 2, 2, 2, 2).sum((2, 4))
    assert torch.equal(dvs(x), pooled.flip(-1).unsqueeze(1))
    assert dvs.get_config_dict()["pooling"] == {"y": 2, "x": 2}


def test_deploy_with_dvs_and_absorbed_pooling():
    model = nn.Sequential(
        DVSLayer((8, 8), merge_polarities=True), sl.SumPool2d(2),
        nn.Conv2d(1, 2, 1, bias=False), sl.IAFSqueeze(batch_size=1),
    )  # fmt: skip
    model[2].weight.data.fill_(1.0)
    dep = spikekit.deploy(model, "speck2f", input_shape=(2, 8, 8))
    assert dep.config["dvs"]["pooling"] == {"y": 2, "x": 2} and dep.config["input_layers"] == []
    assert dep.config["dvs"]["destinations"] == [dep.layer2core[0]]
    x = torch.randint(0, 2, (1, 3, 2, 8, 8))
    out = dep.simulate(x)
    with torch.no_grad():
        ref = model(x[0].float())
    assert torch.equal(out[0].float(), ref)
