"""Every row of the bad-input table (``bad_inputs.CASES``): refused with a message naming the layer (or the
converter function), what it expected and what came, or accepted with the documented result. The docs page must
hold the same table. Rows that need a plugin which is not installed (or which nox's isolation session lists in
``SPIKEKIT_ISOLATION_ABSENT``) are skipped with the reason."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("spikekit_neurons")

HERE = Path(__file__).parent
ROOT = HERE.parents[1]


bad_inputs = sys.modules["spikekit_reliability_bad_inputs"]  # loaded by conftest.py
CASES = bad_inputs.CASES


def _absent(case) -> str | None:
    """Why the row cannot run here (a plugin it needs is absent), or None."""
    listed = os.environ.get("SPIKEKIT_ISOLATION_ABSENT", "").split(",")
    for dist in case.needs:
        if dist in listed:
            return f"{dist} is absent in this isolation session (SPIKEKIT_ISOLATION_ABSENT)"
        for module in bad_inputs.NEEDS[dist]:
            if importlib.util.find_spec(module) is None:
                return f"needs {dist}: module {module} is not installed"
    return None


def _params():
    for case in CASES:
        marks = [pytest.mark.xfail(strict=True, reason=case.pending)] if case.pending else []
        reason = _absent(case)
        if reason:
            marks.append(pytest.mark.skip(reason=reason))
        yield pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", list(_params()))
def test_bad_input(case, tmp_path) -> None:
    torch.manual_seed(0)
    path = case.write(tmp_path) if case.stage == "file" else None  # the hostile file, written now
    if case.raises is None:
        layer, out = case.run(path)
        case.check(layer, out)
        return
    with pytest.raises(case.exception) as info:
        case.run(path)
    message = str(info.value)
    fragments = [str(path) if f == bad_inputs.FILE else f for f in case.fragments]
    missing = [f for f in fragments if f not in message]
    assert not missing, f"message {message!r} lacks {missing}"
    for cls in case.also_is:
        assert isinstance(info.value, cls), f"{type(info.value).__name__} is not also a {cls.__name__}"


def test_case_ids_are_unique_and_every_refusal_names_its_layer() -> None:
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))
    assert {c.stage for c in CASES} == {"call", "construct", "load", "concurrent", "argument", "file"}
    for c in CASES:
        if c.raises is not None:
            named = c.names or c.layer.split("(")[0]
            assert any(named in f for f in c.fragments), f"{c.id}: a refusal must name {named}"
        assert set(c.needs) <= set(bad_inputs.NEEDS), c.id
        assert (c.stage == "file") == (c.write is not None), f"{c.id}: file rows, and only they, write a file"
        if c.stage == "file":
            assert bad_inputs.FILE in c.fragments, f"{c.id}: a file row's message must name the file"


def test_docs_page_holds_the_generated_table() -> None:
    page = (ROOT / "docs" / "reliability" / "bad-inputs.md").read_text()
    make_table = sys.modules["spikekit_reliability_make_table"]
    assert make_table.render_page_section() in page, (
        "docs/reliability/bad-inputs.md is out of date: run `python docs/reliability/make_table.py`"
    )
