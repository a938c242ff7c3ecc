"""Every rule the chip imposes gives a clear error naming the layer."""

import pytest
import torch
from torch import nn

import spikekit
import spikekit.activation as sa
import spikekit.layers as sl
from spikekit_speck import SpeckModelError, UnsupportedLayerError


def iaf(**kwargs):
    return sl.IAFSqueeze(batch_size=1, **kwargs)


def deploy(model, shape=(1, 8, 8)):
    return spikekit.deploy(model, "speck2f", input_shape=shape)


@pytest.mark.parametrize(
    "layer, text",
    [
        (nn.ReLU(), r"layer '1' \(ReLU\) cannot run on the chip: it is an analog activation"),
        (sl.LIFSqueeze(tau_mem=10.0, batch_size=1), r"layer '1' \(LIFSqueeze\) .* only IAFSqueeze neurons"),
    ],
)
def test_unsupported_layer_types(layer, text):
    with pytest.raises(UnsupportedLayerError, match=text):
        deploy(nn.Sequential(nn.Conv2d(1, 2, 3), layer))


def test_batchnorm_not_after_a_weight_layer_is_refused():
    # After a Conv2d / Linear a BatchNorm is folded into the weights; anywhere else it cannot run.
    with pytest.raises(SpeckModelError, match=r"BatchNorm2d '2' follows '1'; a BatchNorm can only follow a Conv2d"):
        deploy(nn.Sequential(nn.Conv2d(1, 2, 3), iaf(), nn.BatchNorm2d(2)))


def test_maxpool_hint():
    with pytest.raises(UnsupportedLayerError, match=r"'2' \(MaxPool2d\).*use SumPool2d or AvgPool2d"):
        deploy(nn.Sequential(nn.Conv2d(1, 2, 3), iaf(), nn.MaxPool2d(2)))


def test_non_square_kernel():
    with pytest.raises(SpeckModelError, match=r"Conv2d '0' has a non-square kernel \(3, 2\)"):
        deploy(nn.Sequential(nn.Conv2d(1, 2, (3, 2)), iaf()))


def test_linear_on_non_square_input_is_non_square_kernel():
    model = nn.Sequential(nn.Conv2d(1, 2, 1), iaf(), nn.Flatten(), nn.Linear(2 * 8 * 4, 3), iaf())
    with pytest.raises(SpeckModelError, match=r"Linear '3' has a non-square kernel \(8, 4\)"):
        deploy(model, (1, 8, 4))


def test_non_square_pool():
    model = nn.Sequential(nn.Conv2d(1, 2, 1), iaf(), sl.SumPool2d((2, 1)), nn.Conv2d(2, 2, 1), iaf())
    with pytest.raises(SpeckModelError, match=r"pooling layer '2' \(SumPool2d\) has a non-square kernel \(2, 1\)"):
        deploy(model)


def test_pool_stride_differs_from_kernel():
    model = nn.Sequential(nn.Conv2d(1, 2, 1), iaf(), nn.AvgPool2d(2, stride=1), nn.Conv2d(2, 2, 1), iaf())
    with pytest.raises(
        SpeckModelError, match=r"pooling layer '2' \(AvgPool2d\) has stride \(1, 1\) but kernel \(2, 2\)"
    ):
        deploy(model)


def test_stride_not_supported():
    with pytest.raises(SpeckModelError, match=r"Conv2d '0' has stride 3 along y"):
        deploy(nn.Sequential(nn.Conv2d(1, 2, 3, stride=3), iaf()), (1, 9, 9))


class ThreeWay(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 1)
        self.spk = iaf()
        self.a, self.b, self.c = nn.Conv2d(2, 2, 1), nn.Conv2d(2, 2, 1), nn.Conv2d(2, 2, 1)
        self.sa, self.sb, self.sc = iaf(), iaf(), iaf()
        self.m1, self.m2 = sl.Merge(), sl.Merge()

    def forward(self, x):
        s = self.spk(self.conv(x))
        return self.m2(self.m1(self.sa(self.a(s)), self.sb(self.b(s))), self.sc(self.c(s)))


def test_too_many_destinations():
    with pytest.raises(SpeckModelError, match=r"layer 'conv' \(spiking layer 'spk'\) sends its output to 3 layers"):
        deploy(ThreeWay())


def test_functional_op_is_rejected():
    class Functional(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.spk = nn.Conv2d(1, 2, 1), iaf()

        def forward(self, x):
            return self.spk(self.conv(x) * 2)

    with pytest.raises(SpeckModelError, match=r"the input of layer 'spk' \(IAFSqueeze\) is not the output"):
        deploy(Functional())


def test_neuron_without_weight_layer():
    model = nn.Sequential(nn.Conv2d(1, 2, 1), iaf(), iaf())
    with pytest.raises(SpeckModelError, match=r"must be followed by exactly one IAFSqueeze|without a Conv2d"):
        deploy(model)


def test_reset_value_and_threshold_rules():
    with pytest.raises(SpeckModelError, match=r"IAFSqueeze '1' uses MembraneReset\(reset_value=0.5\)"):
        deploy(nn.Sequential(nn.Conv2d(1, 2, 1), iaf(reset_fn=sa.MembraneReset(reset_value=0.5))))
    with pytest.raises(SpeckModelError, match=r"MembraneSubtract\(subtract_value=0.5\)"):
        deploy(nn.Sequential(nn.Conv2d(1, 2, 1), iaf(reset_fn=sa.MembraneSubtract(subtract_value=0.5))))


def test_bad_input_shape():
    with pytest.raises(SpeckModelError, match=r"input_shape must be \(channels, height, width\)"):
        deploy(nn.Sequential(nn.Conv2d(1, 2, 1), iaf()), (8, 8))
    with pytest.raises(SpeckModelError, match="Conv2d '0' expects 1 input channels but receives 3|failed"):
        deploy(nn.Sequential(nn.Conv2d(1, 2, 1), iaf()), (3, 8, 8))


def test_simulator_rejects_bad_input():
    dep = deploy(nn.Sequential(nn.Conv2d(1, 2, 1), iaf()))
    with pytest.raises(ValueError, match="non-negative integer event counts"):
        dep.simulate(torch.full((1, 2, 1, 8, 8), 0.5))
    with pytest.raises(ValueError, match=r"expects frames of shape \(1, 8, 8\), got \(1, 4, 4\)"):
        dep.simulate(torch.zeros(1, 2, 1, 4, 4))


def test_layer2core_is_auto_or_a_mapping():
    with pytest.raises(ValueError, match="layer2core must be 'auto' or"):
        spikekit.deploy(nn.Sequential(nn.Conv2d(1, 2, 3), iaf()), "speck2f", input_shape=(1, 8, 8), layer2core="manual")
