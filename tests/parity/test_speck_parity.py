"""spikekit-speck against sinabs 3.1.3 (run in the oracle venv: sinabs installed, the real samna never).

``sinabs.backend.dynapcnn`` cannot be imported without samna (its ``__init__`` imports the network module, which
imports samna), so ``discretize.py`` is loaded on its own from its file: it imports only torch and sinabs.layers,
and these tests pass with or without the parity session's stand-in ``samna``. The rest of the chip module is
compared in ``test_dynapcnn_*.py``, which need the stand-in.
"""

import importlib.util
import pathlib

import pytest
import torch

sinabs = pytest.importorskip("sinabs")
pytestmark = pytest.mark.parity

from spikekit_speck import ValidateMapping, validate_memory_mapping_speck  # noqa: E402
from spikekit_speck import discretize as ours  # noqa: E402

CASES = [
    (2, 64, (3, 3), (1, 1), (1, 1), [8, 8]),
    (64, 65, (3, 3), (1, 1), (0, 0), [8, 8]),
    (32, 64, (3, 3), (1, 1), (1, 1), [64, 64]),
    (16, 32, (5, 5), (2, 2), (2, 2), [64, 64]),
    (1, 64, (1, 1), (1, 1), (0, 0), [64, 64]),
    (3, 1024, (16, 16), (8, 8), (0, 0), [128, 128]),
    (8, 16, (3, 3), (2, 2), (0, 0), [33, 17]),
]


def outcome(fn, *args):
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # compare type and message
        return (type(exc).__name__, str(exc))


@pytest.mark.parametrize("args", CASES)
def test_validate_memory_mapping_speck_matches(args):
    assert outcome(validate_memory_mapping_speck, *args) == outcome(sinabs.utils.validate_memory_mapping_speck, *args)


@pytest.mark.parametrize("args", CASES)
def test_validate_mapping_numbers_match(args):
    theirs = sinabs.ValidateMapping(*args).calculate_total_memory()
    mine = ValidateMapping(*args).calculate_total_memory()
    assert mine == theirs


@pytest.mark.parametrize(
    "args",
    [(2, 2, (17, 17), (1, 1), (0, 0)), (2, 1025, (3, 3), (1, 1), (0, 0)), (2, 2, (3, 3), (3, 3), (0, 0))],
)
def test_constructor_errors_match(args):
    assert outcome(ValidateMapping, *args)[1] == outcome(sinabs.ValidateMapping, *args)[1]
    assert outcome(ValidateMapping, *args)[0] == outcome(sinabs.ValidateMapping, *args)[0]


def sinabs_discretize():
    path = pathlib.Path(sinabs.__file__).parent / "backend" / "dynapcnn" / "discretize.py"
    spec = importlib.util.spec_from_file_location("sinabs_dynapcnn_discretize_standalone", path)
    import sys

    before = set(sys.modules)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert "samna" not in set(sys.modules) - before  # the module alone does not import samna
    return module


@pytest.mark.parametrize("seed", range(5))
def test_discretisation_matches(seed):
    theirs = sinabs_discretize()
    torch.manual_seed(seed)
    w = torch.randn(4, 3, 3, 3) * (seed + 1) * 0.1
    b = torch.randn(4) * 0.05
    for bits in (8, 16):
        assert float(ours.determine_discretization_scale(w, bits)) == float(
            theirs.determine_discretization_scale(w, bits)
        )
    conv = torch.nn.Conv2d(3, 4, 3)
    conv.weight.data, conv.bias.data = w.clone(), b.clone()
    spk = sinabs.layers.IAFSqueeze(batch_size=1, spike_threshold=0.7 + seed, min_v_mem=-1.3)
    c_ref, s_ref = theirs.discretize_conv_spike(conv, spk, to_int=False)
    p = ours.discretize_params(w, b, 0.7 + seed, -1.3)
    assert torch.equal(p.weight, c_ref.weight.data)
    assert torch.equal(p.bias, c_ref.bias.data)
    assert p.threshold == int(s_ref.spike_threshold) and p.min_v_mem == int(s_ref.min_v_mem)
