"""Every public module path of sinabs 3.1.3 is a module of spikekit under the same path (``sinabs`` -> ``spikekit``),
so renaming the imports of a sinabs program is the whole migration. The parity session checks this list against the
installed sinabs and compares the names each module offers (tests/parity/test_sinabs_module_names.py)."""

from __future__ import annotations

import importlib
import sys
import types

import pytest

_DYNAPCNN = (
    "chip_factory chips chips.dynapcnn chips.speck2e chips.speck2f config_builder connectivity_specs crop2d "
    "discretize dvs_layer dynapcnn_layer dynapcnn_layer_utils dynapcnn_network dynapcnn_visualizer "
    "dynapcnnnetwork_module exceptions flipdims io mapping nir_graph_extractor sinabs_edges_handler specksim utils "
    "weight_rescaling_methods"
).split()
_LAYERS = (
    "alif channel_shift crop2d exp_leak functional functional.alif functional.lif iaf lif merge neuromorphic_relu "
    "pool2d quantize reshape stateful_layer to_spike"
).split()
_ACTIVATION = "quantize reset_mechanism spike_generation surrogate_gradient_fn".split()
_TOP = "activation backend backend.dynapcnn cnnutils conversion from_torch hooks layers network nir synopcounter utils"

#: sinabs 3.1.3's public module paths, renamed (the parity session derives the same list from sinabs itself).
SINABS_PATHS = [
    "spikekit",
    *(f"spikekit.{m}" for m in (*_TOP.split(), "validate_memory_speck")),
    *(f"spikekit.layers.{m}" for m in _LAYERS),
    *(f"spikekit.activation.{m}" for m in _ACTIVATION),
    *(f"spikekit.backend.dynapcnn.{m}" for m in _DYNAPCNN),
]


def test_the_list_has_all_58_paths():
    assert len(SINABS_PATHS) == len(set(SINABS_PATHS)) == 58


@pytest.mark.parametrize("path", SINABS_PATHS)
def test_each_path_imports_and_is_its_parents_attribute(path):
    module = importlib.import_module(path)
    assert isinstance(module, types.ModuleType)
    parent, _, name = path.rpartition(".")
    if parent:
        assert getattr(sys.modules[parent], name) is module  # `import a.b` and `a.b` give the same module


def test_a_plugin_served_path_is_the_plugins_module_itself():
    import spikekit.layers.functional.lif
    import spikekit.layers.lif
    import spikekit_neurons.functional.lif
    import spikekit_neurons.lif

    assert spikekit.layers.lif is spikekit_neurons.lif  # one module, one set of classes
    assert spikekit.layers.functional.lif is spikekit_neurons.functional.lif
    from spikekit.layers.lif import LIF

    assert LIF is spikekit.layers.LIF
