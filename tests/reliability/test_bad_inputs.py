"""Every row of the bad-input table (``bad_inputs.CASES``): refused with a message naming the layer, what it
expected and what came, or accepted with the documented result. The docs page must hold the same table."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("spikekit_neurons")

HERE = Path(__file__).parent
ROOT = HERE.parents[1]


bad_inputs = sys.modules["spikekit_reliability_bad_inputs"]  # loaded by conftest.py
CASES = bad_inputs.CASES


def _params():
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=case.pending)] if case.pending else []
        yield pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", list(_params()))
def test_bad_input(case) -> None:
    torch.manual_seed(0)
    if case.raises is None:
        layer, out = case.run()
        case.check(layer, out)
        return
    with pytest.raises(case.raises) as info:
        case.run()
    message = str(info.value)
    missing = [f for f in case.fragments if f not in message]
    assert not missing, f"message {message!r} lacks {missing}"
    for cls in case.also_is:
        assert isinstance(info.value, cls), f"{type(info.value).__name__} is not also a {cls.__name__}"


def test_case_ids_are_unique_and_every_refusal_names_its_layer() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert {c.stage for c in CASES} == {"call", "construct", "load", "concurrent"}
    for c in CASES:
        if c.raises is not None:
            layer_class = c.layer.split("(")[0]
            assert layer_class in c.fragments, f"{c.id}: a refusal must name the layer {layer_class}"


def test_docs_page_holds_the_generated_table() -> None:
    page = (ROOT / "docs" / "reliability" / "bad-inputs.md").read_text()
    make_table = sys.modules["spikekit_reliability_make_table"]
    assert make_table.render_page_section() in page, (
        "docs/reliability/bad-inputs.md is out of date: run `python docs/reliability/make_table.py`"
    )
