"""The demo pipeline in-process on a small configuration: reproducibility, missing plugins, the files it writes."""

from __future__ import annotations

import dataclasses
import json

import pytest
from spikekit_demo.pipeline import EXIT_MISSING, DemoConfig, main, run_demo
from spikekit_demo.requirements import check, skipped_parts

from spikekit.testing import isolated_host

# a fixed backend: "auto" chooses by measured speed, and the numbers are reproducible per backend
TINY = DemoConfig(
    epochs=1, timesteps=4, max_train=128, sweep=(2, 4), plots=False, batch_size=32, backend="torch", chip=False
)


def _numbers(path) -> dict:
    data = json.loads(path.read_text())
    for key in ("seconds", "files"):
        data.pop(key)
    data.pop("config")
    data.pop("backend")  # measured step times
    for history in (data["snn_history"], data["ann_history"]):
        for record in history:
            record.pop("seconds")
    return data


@pytest.mark.slow
def test_the_same_seed_gives_the_same_numbers(tmp_path):
    results = []
    for run, seed in (("a", 3), ("b", 3), ("c", 4)):
        config = dataclasses.replace(TINY, out=str(tmp_path / run), seed=seed)
        run_demo(config, skip=skipped_parts(check(config.backend)[1]))
        results.append(_numbers(tmp_path / run / "results.json"))
    assert results[0] == results[1]
    assert results[0]["snn_history"] != results[2]["snn_history"]


def test_a_missing_essential_plugin_is_named_and_nothing_runs(tmp_path, capsys):
    with isolated_host(blocked=["spikekit-neurons"]):
        status = main(dataclasses.replace(TINY, out=str(tmp_path / "out")))
    err = capsys.readouterr().err
    assert status == EXIT_MISSING
    assert "spikekit demo cannot run" in err
    assert "spikekit.layers.IAFSqueeze (spiking layers): install spikekit-neurons" in err
    assert "spike encoder 'rate'" in err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_an_unknown_backend_is_named(tmp_path, capsys):
    status = main(dataclasses.replace(TINY, out=str(tmp_path / "out"), backend="no-such-backend"))
    assert status == EXIT_MISSING
    assert "backend 'no-such-backend' (compute backend)" in capsys.readouterr().err


@pytest.mark.slow
def test_without_the_convert_and_nir_plugins_those_parts_are_skipped(tmp_path, capsys):
    with isolated_host(blocked=["spikekit-convert", "spikekit-nir"]):
        status = main(dataclasses.replace(TINY, out=str(tmp_path)))
    out = capsys.readouterr().out
    assert status == 0
    assert "Skipped (a plugin is missing):" in out
    assert "spikekit.from_model (ANN conversion): install spikekit-convert" in out
    assert "spikekit.nir.to_nir (NIR export): install spikekit-nir" in out
    data = json.loads((tmp_path / "results.json").read_text())
    assert data["converted_accuracy"] is None and data["layers"] == {}
    assert sorted(data["skipped"]) == ["ANN conversion", "NIR export", "statistics"]
    assert (tmp_path / "snn_bptt.pt").exists() and not (tmp_path / "snn_bptt.nir").exists()
