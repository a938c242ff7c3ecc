"""Chip configuration files are a trust boundary: every document loads correctly or raises ``ValueError`` naming
the field.

A table of bad documents (each with the field its message must name), and a property-based (hypothesis) fuzz over
random JSON and random edits of a valid configuration: whatever loads must also run in the chip simulator.
``SPIKEKIT_FUZZ_EXAMPLES`` sets the number of examples (CI runs a bounded number; ``nox -s fuzz`` 1500).
"""

from __future__ import annotations

import copy
import json
import os

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import spikekit
import spikekit.layers as sl
from spikekit_speck.config import from_json, to_json
from spikekit_speck.simulator import ChipSimulator

EXAMPLES = int(os.environ.get("SPIKEKIT_FUZZ_EXAMPLES", "1500" if os.environ.get("SPIKEKIT_FUZZ") == "fuzz" else "60"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _valid_config() -> dict:
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(2, 3, 3, padding=1),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
        sl.SumPool2d(2),
        nn.Conv2d(3, 2, 3),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
    )
    return json.loads(to_json(spikekit.deploy(model, "speck2f", input_shape=(2, 8, 8)).config))


def _valid_dvs_config() -> dict:
    from spikekit_speck.dvs import DVSLayer

    torch.manual_seed(1)
    model = nn.Sequential(
        DVSLayer((8, 8), pool=(2, 2), crop=((0, 3), (1, 4)), flip_x=True),
        nn.Conv2d(2, 2, 2),
        sl.IAFSqueeze(batch_size=1, min_v_mem=-1.0),
    )
    return json.loads(to_json(spikekit.deploy(model, "speck2f", input_shape=(2, 8, 8)).config))


VALID = _valid_config()
VALID_DVS = _valid_dvs_config()


def _edited(path: tuple, value: object) -> str:
    config = copy.deepcopy(VALID)
    target = config
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return json.dumps(config)


_DELETE = object()

BAD = [
    ("[1, 2]", "<document>"),
    ("3", "<document>"),
    ('"text"', "<document>"),
    ("null", "<document>"),
    ("{", "not JSON"),
    ('{"format": NaN}', "NaN"),
    ("[" * 100000 + "]" * 100000, "nested too deeply"),
    (_edited(("layers", 0), 7), "layers[0]"),
    (_edited(("layers",), {"0": 1}), "layers"),
    (_edited(("layers", 0, "weights"), "w"), "layers[0].weights"),
    (_edited(("layers", 0, "weights", 0, 0, 0, 0), 1000), "layers[0].weights[0][0][0][0]"),
    (_edited(("layers", 0, "weights", 0, 0, 0, 0), 1.5), "layers[0].weights[0][0][0][0]"),
    (_edited(("layers", 0, "weights", 0), []), "layers[0].weights[0]"),
    (_edited(("layers", 0, "biases"), [0]), "layers[0].biases"),
    (_edited(("layers", 0, "threshold_high"), 0), "layers[0].threshold_high"),
    (_edited(("layers", 0, "threshold_high"), True), "layers[0].threshold_high"),
    (_edited(("layers", 0, "return_to_zero"), 1), "layers[0].return_to_zero"),
    (_edited(("layers", 0, "dimensions", "stride", "x"), 3), "layers[0].dimensions.stride.x"),
    (_edited(("layers", 0, "dimensions", "kernel_size"), 5), "layers[0].dimensions"),
    (_edited(("layers", 0, "dimensions", "output_shape", "size", "x"), 9), "layers[0].dimensions.output_shape"),
    (_edited(("layers", 0, "dimensions", "input_shape", "size", "y"), 10**12), "layers[0].dimensions.input_shape"),
    (_edited(("layers", 0, "neurons_initial_value", 0), None), "layers[0].neurons_initial_value[0]"),
    (_edited(("layers", 0, "destinations", 0), 5), "layers[0].destinations[0]"),
    (_edited(("layers", 0, "destinations", 0, "layer"), 8), "layers[0].destinations[0].layer"),
    (_edited(("layers", 0, "destinations", 0, "pooling"), 3), "layers[0].destinations[0].pooling"),
    (_edited(("layers", 1, "destinations"), [{"layer": 0, "enable": True, "pooling": 1}]), "layers[1].destinations[0].layer"),
    (_edited(("layers", 0, "core"), "1"), "layers[0].core"),
    (_edited(("layers", 1, "core"), VALID["layers"][0]["core"]), "layers"),
    (_edited(("layers", 0, "spike_mode"), "many"), "layers[0].spike_mode"),
    (_edited(("layers", 0, "scale"), -1), "layers[0].scale"),
    (_edited(("layers", 0, "outputs"), {}), "layers[0].outputs"),
    (_edited(("layers", 0, "index"), 1), "layers[0].index"),
    (_edited(("layers", 0, "leak_enable"), _DELETE), "layers[0]"),
    (_edited(("input_shape",), [2, 8]), "input_shape"),
    (_edited(("input_shape",), [2, 16, 16]), "input_layers[0]"),
    (_edited(("input_layers",), [3]), "input_layers[0]"),
    (_edited(("input_layers",), []), "layers[0]"),
    (_edited(("dvs",), []), "dvs"),
    (json.dumps({**VALID_DVS, "dvs": {**VALID_DVS["dvs"], "cut": {"x": 9, "y": 2}}}), "dvs.cut"),
    (json.dumps({**VALID_DVS, "dvs": {**VALID_DVS["dvs"], "merge": 1}}), "dvs.merge"),
    (json.dumps({**VALID_DVS, "dvs": {**VALID_DVS["dvs"], "destinations": [5]}}), "dvs.destinations[0]"),
    (_edited(("version",), "1"), "version"),
    (_edited(("device",), 5), "device"),
    (_edited(("memory", "layers", 0), "row"), "memory.layers[0]"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "field"), BAD, ids=[f"{i}:{field}" for i, (_, field) in enumerate(BAD)])
def test_bad_documents_raise_a_value_error_naming_the_field(text, field):
    with pytest.raises(ValueError) as exc:
        from_json(text)
    assert field in str(exc.value)


def test_a_valid_document_loads_from_text_and_from_a_file(tmp_path):
    path = tmp_path / "net.json"
    path.write_text(json.dumps(VALID))
    assert from_json(json.dumps(VALID)) == VALID
    assert from_json(json.dumps(VALID_DVS)) == VALID_DVS and VALID_DVS["dvs"] is not None
    assert from_json(str(path)) == VALID
    assert from_json(path) == VALID


def _runs(config: dict) -> None:
    sim = ChipSimulator(config)
    x = torch.randint(0, 3, (1, 2, *config["input_shape"]))
    for outs in sim.run(x).values():
        for out in outs:
            assert out.dtype == torch.int64 and (out >= 0).all()


def _load_or_refuse(text: str) -> None:
    try:
        config = from_json(text)
    except ValueError as exc:
        assert str(exc)
        return
    _runs(config)


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**40), 2**40) | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@SETTINGS
@given(_json)
def test_random_json_loads_or_raises_value_error(value):
    _load_or_refuse(json.dumps(value))


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value[:3]):  # weights are long lists: their first entries are enough
            yield from _paths(item, (*prefix, i))


BASES = (VALID, VALID_DVS)
PATHS = [(b, p) for b, base in enumerate(BASES) for p in _paths(base) if p]
_small = st.integers(-3, 12) | st.sampled_from([-(2**15) - 1, 2**15, 127, 128, -129, 2**31])


@SETTINGS
@given(st.lists(st.tuples(st.sampled_from(PATHS), _json | _small | st.just(_DELETE)), min_size=1, max_size=3))
def test_edited_configurations_load_and_run_or_raise_value_error(edits):
    config = copy.deepcopy(BASES[edits[0][0][0]])
    for (_, path), value in edits:
        target = config
        try:
            for key in path[:-1]:
                target = target[key]
            if value is _DELETE:
                del target[path[-1]]
            else:
                target[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed or replaced this path
    _load_or_refuse(json.dumps(config))


def test_channel_counts_above_the_chips_are_refused():
    text = _edited(("layers", 0, "dimensions", "input_shape", "feature_count"), 1025)
    with pytest.raises(ValueError, match=r"layers\[0\]\.dimensions\.input_shape\.feature_count.*\[1, 1024\]"):
        from_json(text)
