"""Layer-to-core placement: a matching that succeeds where first-fit fails, and precise failure messages."""

import pytest
import torch
from torch import nn

import spikekit
import spikekit.layers as sl
from spikekit_speck import SPECK, MappingError, find_matching
from spikekit_speck.mapping import fitting_cores


def iaf(batch_size=1, **kwargs):
    return sl.IAFSqueeze(batch_size=batch_size, **kwargs)


def first_fit(candidates, num_cores):
    free, placement = set(range(num_cores)), []
    for cores in candidates:
        choice = next((c for c in cores if c in free), None)
        if choice is None:
            return None
        free.discard(choice)
        placement.append(choice)
    return placement


def test_matching_finds_what_first_fit_misses():
    candidates = [[0, 1, 2, 3], [0, 1, 2], [0, 1, 2], [0, 1, 2]]
    assert first_fit(candidates, 9) is None
    assignment, violators = find_matching(candidates, 9)
    assert violators == [] and sorted(assignment) == [0, 1, 2, 3]
    assert all(a in c for a, c in zip(assignment, candidates))


def test_matching_reports_hall_violator():
    assignment, violators = find_matching([[0], [0, 1], [1], [2]], 3)
    assert assignment.count(None) == 1
    assert len(violators) == 3  # three layers share cores {0, 1}


def big_neuron_layer(c_in):
    # 16 channels of 64x64 neurons: 16 * 2^12 = 64Ki neuron memory -> only cores 0, 1, 2
    return [nn.Conv2d(c_in, 16, 3, padding=1, bias=False), iaf()]


def test_model_first_fit_would_fail_maps():
    tiny = [nn.Conv2d(1, 1, 1, bias=False), iaf()]  # 4Ki neurons: fits every core
    model = nn.Sequential(*tiny, *big_neuron_layer(1), *big_neuron_layer(16), *big_neuron_layer(16))
    dep = spikekit.deploy(model, "speck2f", input_shape=(1, 64, 64))
    cores = dep.layer2core
    assert sorted(cores[i] for i in (1, 2, 3)) == [0, 1, 2]
    assert cores[0] not in (0, 1, 2)
    memory = [fitting_cores(row, SPECK) for row in dep.memory_summary().layers]
    assert first_fit(memory, 9) is None
    report = dep.memory_summary()
    assert report["neuron"][1] == 16 * 4096
    assert report.cores[cores[1]]["neuron_used"] == 65536


def test_no_placement_says_why():
    model = nn.Sequential(
        *big_neuron_layer(1), *(big_neuron_layer(16) * 1), *big_neuron_layer(16), *big_neuron_layer(16)
    )
    with pytest.raises(MappingError, match=r"No valid mapping found: 4 layers can only use the 3 cores \[0, 1, 2\]"):
        spikekit.deploy(model, "speck2f", input_shape=(1, 64, 64))


def test_layer_fitting_no_core():
    # 64 -> 128 channels, 3x3: 64 * 2^(4+7) = 128Ki kernel memory > 64Ki
    model = nn.Sequential(nn.Conv2d(1, 64, 1, bias=False), iaf(), nn.Conv2d(64, 128, 3, bias=False), iaf())
    with pytest.raises(MappingError, match=r"layer '2' fits no core: it needs kernel memory 128Ki"):
        spikekit.deploy(model, "speck2f", input_shape=(1, 4, 4))


def test_more_than_nine_cores():
    layers = []
    for _ in range(10):
        layers += [nn.Conv2d(1, 1, 1, bias=False), iaf()]
    with pytest.raises(MappingError, match="the network needs 10 cores .* but the chip has 9"):
        spikekit.deploy(nn.Sequential(*layers), "speck2f", input_shape=(1, 4, 4))


def test_user_placement_checked():
    model = nn.Sequential(*big_neuron_layer(1))
    with pytest.raises(MappingError, match=r"does not fit core 5: neuron memory 64Ki > 16Ki"):
        spikekit.deploy(model, "speck2f", input_shape=(1, 64, 64), layer2core={0: 5})
    dep = spikekit.deploy(model, "speck2f", input_shape=(1, 64, 64), layer2core={0: 2})
    assert dep.layer2core == {0: 2}


def test_check_returns_problems():
    target = spikekit.targets.__dict__  # noqa: F841 - namespace import check
    from spikekit.plugins import host

    speck = host().load_target("speck2e")
    assert speck.check(nn.Sequential(nn.Conv2d(1, 1, 1), iaf()), (1, 4, 4)) == []
    problems = speck.check(nn.Sequential(nn.Conv2d(1, 1, 1), nn.ReLU()), (1, 4, 4))
    assert len(problems) == 1 and "ReLU" in problems[0]
    torch.manual_seed(0)


def test_deploy_and_dynapcnn_network_place_alike_in_sinabs_order():
    """Layers that fit every core: sinabs's placement (augmenting flow, layers and cores in index order) puts layer
    k on core k; spikekit.deploy, make_json_config and the builder's map_layers_to_cores agree."""
    from spikekit.backend.dynapcnn import DynapcnnNetwork
    from spikekit.backend.dynapcnn.config_builder import builder_for

    def model():
        torch.manual_seed(0)
        iaf = lambda: sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0)
        return nn.Sequential(nn.Conv2d(2, 4, 3), iaf(), nn.Conv2d(4, 4, 3), iaf(), nn.Conv2d(4, 2, 3), iaf())

    deployed = spikekit.deploy(model(), "speck2fdevkit", input_shape=(2, 10, 10))
    net = DynapcnnNetwork(model(), input_shape=(2, 10, 10))
    assert deployed.layer2core == {0: 0, 1: 1, 2: 2}
    assert builder_for("speck2fdevkit").map_layers_to_cores(net.dynapcnn_layers) == {0: 0, 1: 1, 2: 2}
    assert {layer["index"]: layer["core"] for layer in net.make_json_config()["layers"]} == {0: 0, 1: 1, 2: 2}
