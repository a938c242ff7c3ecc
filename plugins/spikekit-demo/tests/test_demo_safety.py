"""The demo's output safety, option checks, backend choice and chip step.

The output folder is checked before any training (these tests see no epoch line when a run is refused), existing
outputs are never replaced without --overwrite, and a symbolic link is never written through."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import subprocess
import sys

import pytest
from spikekit_demo import speed
from spikekit_demo.config import DemoConfig
from spikekit_demo.outputs import OutputError, open_output
from spikekit_demo.pipeline import EXIT_REFUSED, main, output_names

from spikekit.testing import isolated_host

TINY = DemoConfig(epochs=1, timesteps=4, max_train=96, sweep=(4,), plots=False, batch_size=32, speed_steps=2)


def _demo(*argv: str, cwd=None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [sys.executable, "-m", "spikekit", "demo", *argv], capture_output=True, text=True, timeout=600, env=env, cwd=cwd
    )


# ------------------------------------------------------------------------------------------------ options
@pytest.mark.parametrize(
    "argv,message",
    [
        (["--seed", "-1"], "argument --seed: expected a non-negative integer"),
        (["--seed", "x"], "argument --seed: expected a non-negative integer"),
        (["--epochs", "0"], "argument --epochs: expected a positive integer"),
        (["--timesteps", "100000"], "argument --timesteps: expected a positive integer (1..1024), got 100000"),
        (["--threads", "-3"], "argument --threads: expected a positive integer"),
        (["--backend", " "], "argument --backend: expected a backend name or 'auto'"),
        (["--out", ""], "argument --out: expected a folder name"),
    ],
)
def test_bad_options_are_refused_before_anything_runs(tmp_path, argv, message) -> None:
    proc = _demo(*argv, "--out", str(tmp_path / "out")) if "--out" not in argv else _demo(*argv, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and "epoch 1/" not in proc.stderr
    assert not (tmp_path / "out").exists() and not (tmp_path / "spikekit-demo-out").exists()


@pytest.mark.parametrize(
    "field,value",
    [("seed", -1), ("seed", 2**40), ("epochs", 0), ("timesteps", 1.5), ("threads", True), ("out", ""),
     ("backend", ""), ("lr_snn", 0.0), ("percentile", 101), ("sweep", ()), ("batch_size", 0)],
)  # fmt: skip
def test_the_configuration_names_the_bad_field(field, value) -> None:
    with pytest.raises(ValueError, match=f"DemoConfig: {field}"):
        DemoConfig(**{field: value})


# ----------------------------------------------------------------------------------------------- the output
def test_existing_outputs_are_not_replaced_and_nothing_trains(tmp_path, capsys) -> None:
    (tmp_path / "results.json").write_text("earlier run")
    (tmp_path / "notes.txt").write_text("mine")
    status = main(dataclasses.replace(TINY, out=str(tmp_path)))
    err = capsys.readouterr().err
    assert status == EXIT_REFUSED
    assert f"output folder {tmp_path} already holds results.json" in err and "--overwrite" in err
    assert "epoch 1/" not in err
    assert (tmp_path / "results.json").read_text() == "earlier run"


def test_a_linked_output_folder_is_refused_before_training(tmp_path, capsys) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "link").symlink_to(real)
    assert main(dataclasses.replace(TINY, out=str(tmp_path / "link"))) == EXIT_REFUSED
    err = capsys.readouterr().err
    assert f"output folder {tmp_path / 'link'} is a symbolic link" in err and "epoch 1/" not in err
    assert list(real.iterdir()) == []


@pytest.mark.parametrize("make", ["file", "under-a-file"])
def test_an_output_folder_that_cannot_be_one_is_refused_before_training(tmp_path, capsys, make) -> None:
    (tmp_path / "f").write_text("x")
    out = tmp_path / "f" if make == "file" else tmp_path / "f" / "out"
    assert main(dataclasses.replace(TINY, out=str(out))) == EXIT_REFUSED
    err = capsys.readouterr().err
    assert "not a directory" in err and "epoch 1/" not in err


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write any folder")
def test_an_unwritable_output_folder_is_refused_before_training(tmp_path, capsys) -> None:
    tmp_path.chmod(0o500)
    try:
        assert main(dataclasses.replace(TINY, out=str(tmp_path))) == EXIT_REFUSED
    finally:
        tmp_path.chmod(0o700)
    assert "is not writable" in capsys.readouterr().err


def test_a_link_among_the_outputs_is_replaced_never_written_through(tmp_path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").symlink_to(victim)
    with pytest.raises(OutputError, match="already holds results.json"):
        open_output(out, ["results.json"])
    folder = open_output(out, ["results.json"], overwrite=True)
    folder.write_text("results.json", "{}")
    assert victim.read_text() == "precious"
    assert not (out / "results.json").is_symlink() and (out / "results.json").read_text() == "{}"


def test_a_file_that_appears_during_the_run_is_not_replaced(tmp_path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    folder = open_output(tmp_path / "out", ["a.txt"])
    (tmp_path / "out" / "a.txt").symlink_to(victim)  # planted after the check
    with pytest.raises(OutputError, match="appeared during the run"):
        folder.write_text("a.txt", "new")
    assert victim.read_text() == "precious" and (tmp_path / "out" / "a.txt").is_symlink()
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["a.txt"]  # no temporary file left behind


def test_a_folder_swapped_for_a_link_during_the_run_gets_nothing(tmp_path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    folder = open_output(tmp_path / "out", ["a.txt"])
    (tmp_path / "out").rmdir()
    (tmp_path / "out").symlink_to(elsewhere)
    with pytest.raises(OutputError, match="was replaced during the run"):
        folder.write_text("a.txt", "new")
    assert list(elsewhere.iterdir()) == []


@pytest.mark.slow
def test_overwrite_replaces_links_with_files_and_keeps_their_targets(tmp_path) -> None:
    victim = tmp_path / "victim.pt"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    (out / "snn_bptt.pt").symlink_to(victim)
    assert main(dataclasses.replace(TINY, out=str(out), overwrite=True, backend="torch", chip=False)) == 0
    assert victim.read_text() == "precious"
    assert (out / "snn_bptt.pt").is_file() and not (out / "snn_bptt.pt").is_symlink()
    assert sorted(p.name for p in out.iterdir()) == sorted(output_names(dataclasses.replace(TINY, chip=False)))


# ------------------------------------------------------------------------------------------------- backends
@pytest.mark.slow
def test_training_runs_on_the_chosen_backend(tmp_path, monkeypatch) -> None:
    cpu_backend = pytest.importorskip("spikekit_kernels.cpu_backend")  # a backend other than the reference
    FusedCPUBackend = cpu_backend.FusedCPUBackend

    calls = []
    original = FusedCPUBackend.run
    monkeypatch.setattr(FusedCPUBackend, "run", lambda self, *a: calls.append(a[2].layer_name) or original(self, *a))
    assert main(dataclasses.replace(TINY, out=str(tmp_path), backend="fused-cpu", chip=False)) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["backend"]["name"] == "fused-cpu" and results["backend"]["requested"] == "fused-cpu"
    assert set(results["backend"]["step_ms"]) == {"fused-cpu", "torch"}
    assert results["backend"]["speedup"] == pytest.approx(
        results["backend"]["step_ms"]["torch"] / results["backend"]["step_ms"]["fused-cpu"]
    )
    # the timing, the training epochs and the evaluations all ran the IAF layers on fused-cpu
    assert calls.count("IAFSqueeze") > 2 * (TINY.speed_steps + 1) + 2 * 3


def test_auto_takes_the_fastest_registered_backend_that_runs_the_network(monkeypatch) -> None:
    pytest.importorskip("spikekit_kernels")
    import torch
    from spikekit_demo.model import build_snn

    monkeypatch.setattr("spikekit.compute.available_backends", lambda: {"torch": "", "fused-cpu": "", "none": ""})
    monkeypatch.setattr(speed, "_time", lambda steps, rounds: {n: {"torch": 30.0, "fused-cpu": 10.0}[n] for n in steps})
    x, y = torch.zeros(2, 4, 1, 8, 8), torch.tensor([1, 2])
    choice = speed.choose_backend("auto", build_snn(4), x, y, steps=1)
    assert choice.name == "fused-cpu" and choice.speedup == pytest.approx(3.0)
    assert "no backend named 'none' is installed" in choice.unusable["none"]  # registered here, not loadable
    assert "3.0x the reference backend 'torch'" in choice.summary()


def test_a_requested_backend_that_cannot_run_the_network_is_refused() -> None:
    import torch
    from spikekit_demo.model import build_snn

    with pytest.raises(speed.BackendError, match="backend 'no-such' cannot train the demo's network here"):
        speed.choose_backend("no-such", build_snn(4), torch.zeros(2, 4, 1, 8, 8), torch.tensor([1, 2]), steps=1)


# -------------------------------------------------------------------------------------------- the chip step
@pytest.mark.slow
def test_the_chip_step_is_reported(tmp_path, capsys) -> None:
    pytest.importorskip("spikekit_speck")
    assert main(dataclasses.replace(TINY, out=str(tmp_path), backend="torch")) == 0
    out = capsys.readouterr().out
    chip = json.loads((tmp_path / "results.json").read_text())["chip"]
    assert chip["target"] == "speck2f" and chip["samples"] == 450
    assert 0 <= chip["chip_accuracy"] <= 1 and 0 <= chip["float_accuracy"] <= 1
    assert chip["agreement"] > 0.5  # the integer simulation follows the float network on most digits
    assert [c["layer"] for c in sorted(chip["cores"], key=lambda c: c["layer"])] == [0, 1, 2]
    assert all(0 < c["kernel_used"] <= c["kernel_capacity"] for c in chip["cores"])
    assert "On the chip target 'speck2f'" in out
    assert re.search(rf"SNN, simulated on the chip \(integers\) +{100 * chip['chip_accuracy']:.1f}%", out)
    assert re.search(rf"SNN, floating point \(spiking read-out\) +{100 * chip['float_accuracy']:.1f}%", out)
    assert f"{len(chip['cores'])} cores used" in out
    config = json.loads((tmp_path / "chip_speck2f.json").read_text())
    assert len(config["layers"]) == 3


@pytest.mark.slow
def test_without_spikekit_speck_the_chip_step_is_skipped_with_a_message(tmp_path, capsys) -> None:
    with isolated_host(blocked=["spikekit-speck"]):
        assert main(dataclasses.replace(TINY, out=str(tmp_path), backend="torch")) == 0
    out = capsys.readouterr().out
    assert "Chip step skipped: no hardware target 'speck2f' is installed" in out
    assert "hardware target 'speck2f' (chip step): install spikekit-speck" in out
    assert json.loads((tmp_path / "results.json").read_text())["chip"] is None
    assert not (tmp_path / "chip_speck2f.json").exists()
