"""The generic ``compiled`` backend: any StepModel, its step through torch.compile, checked against the reference."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from spikekit.compute import NeuronParams, StepModel, get_backend, run_neuron, run_step_loop, use_backend
from spikekit.errors import BackendFallbackWarning
from spikekit_testing import BackendConformance


class TestCompiledBackendConformance(BackendConformance):
    backend_name = "compiled"
    must_support = ("step-two-compartment", "step-record")


def _adex_like(x, state, params):
    # a model the LIF family cannot describe: quadratic membrane drive and an adaptation current
    v = state["v_mem"] + params["dt"] * (v_sq := state["v_mem"] * state["v_mem"]) - state["w"] + x
    spikes = (v >= params["threshold"]).to(v.dtype)
    w = params["a"] * state["w"] + params["b"] * spikes + 0.0 * v_sq
    return spikes, {"v_mem": v * (1 - spikes), "w": w}


def test_a_new_model_runs_compiled_and_matches_the_reference_loop():
    params = {"dt": 0.05, "threshold": 1.0, "a": torch.tensor(0.9), "b": 0.2}
    model = StepModel(_adex_like, params, kind="test.adex_like", record_states=True, layer_name="AdExLike")
    x = torch.rand(3, 12, 7, generator=torch.Generator().manual_seed(0)) * 0.6
    state = {"v_mem": torch.zeros(3, 7), "w": torch.zeros(3, 7)}
    out, final, recs = get_backend("compiled").run(x, state, model)
    ref_out, ref_final, ref_recs = run_step_loop(x, state, model)
    assert out.sum() > 0  # it spikes
    torch.testing.assert_close(out, ref_out, rtol=0, atol=0)
    for k in ref_final:
        torch.testing.assert_close(final[k], ref_final[k], rtol=1e-6, atol=1e-6)
        torch.testing.assert_close(recs[k], ref_recs[k], rtol=1e-6, atol=1e-6)


def test_selected_by_use_backend_and_declines_the_lif_family():
    model = StepModel(_adex_like, {"dt": 0.05, "threshold": 1.0, "a": 0.9, "b": 0.2}, layer_name="AdExLike")
    x = torch.rand(1, 4, 3)
    state = {"v_mem": torch.zeros(1, 3), "w": torch.zeros(1, 3)}
    with use_backend("compiled", fallback="error"):
        out = run_neuron(None, x, state, model)[0]
    assert out.shape == x.shape
    lif = NeuronParams(torch.tensor(0.9), None, torch.tensor(1.0), None, None, None)
    assert "StepModel" in get_backend("compiled").unsupported_reason(x, {"v_mem": torch.zeros(1, 3)}, lif)


def test_a_step_with_a_graph_break_still_runs():
    def untraceable(x, state, params):
        torch._dynamo.graph_break()  # dynamo splits the step in two graphs; the result stays the reference's
        return x, dict(state)

    model = StepModel(untraceable, {}, kind="test.untraceable", layer_name="Odd")
    out = get_backend("compiled").run(torch.ones(1, 2, 1), {"v_mem": torch.zeros(1, 1)}, model)[0]
    assert torch.equal(out, torch.ones(1, 2, 1))


def test_step_models_fall_back_from_fused_cpu_with_a_reason():
    pytest.importorskip("spikekit_kernels.cpu_backend")
    model = StepModel(_adex_like, {"dt": 0.05, "threshold": 1.0, "a": 0.9, "b": 0.2}, layer_name="AdExLike")
    reason = get_backend("fused-cpu").unsupported_reason(torch.ones(1, 2, 3), {"v_mem": torch.zeros(1, 3)}, model)
    assert "StepModel" in reason


VICTIM = """
import sys, warnings, torch
from spikekit.compute import StepModel, get_backend
from spikekit_kernels import compiled
sys.path.insert(0, {tests!r})
from test_kernels_compiled_backend import _adex_like
if {as_before!r}:  # the caches where torch puts them by default: the shared temporary folder
    compiled.private_caches = lambda: None
model = StepModel(_adex_like, {{"dt": 0.05, "threshold": 1.0, "a": 0.9, "b": 0.2}}, layer_name="AdExLike")
with warnings.catch_warnings():
    from spikekit.errors import BackendFallbackWarning
    warnings.simplefilter("error", BackendFallbackWarning)  # compiled, no fallback
    out = get_backend("compiled").run(torch.ones(2, 3, 4) * 0.7, {{"v_mem": torch.zeros(2, 4), "w": torch.zeros(2, 4)}},
                                      model)[0]
assert out.sum() > 0
import os; print("INDUCTOR", os.environ.get("TORCHINDUCTOR_CACHE_DIR"))
"""


def _victim(tmp_path, shared, as_before: bool):
    env = {k: v for k, v in os.environ.items() if k not in ("TORCHINDUCTOR_CACHE_DIR", "TRITON_CACHE_DIR")}
    env.update(TMPDIR=str(shared), SPIKEKIT_KERNELS_CACHE=str(tmp_path / "private"))
    code = VICTIM.format(tests=str(Path(__file__).parent), as_before=as_before)
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout


@pytest.mark.slow
def test_a_file_planted_in_the_default_shared_inductor_cache_never_runs(tmp_path) -> None:
    """Another user plants Python files in torch's default inductor cache under the shared temporary folder; the
    compiled backend compiles into its private folder and never imports them. The control run shows that the
    planted files do run when the default cache is used."""
    shared = tmp_path / "tmp"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    marker = tmp_path / "planted-code-ran"
    _victim(tmp_path, shared, as_before=True)  # fills the default cache, as an earlier run would
    planted = list(shared.glob("torchinductor_*/**/*.py"))
    assert planted
    for p in planted:  # the attacker's edit of every generated module
        p.write_text(p.read_text() + f"\nopen({str(marker)!r}, 'a').write('ran')\n")
    out = _victim(tmp_path, shared, as_before=False)
    assert not marker.exists()
    assert str(tmp_path / "private" / "torch-compile" / "inductor") in out
    assert any((tmp_path / "private" / "torch-compile" / "inductor").rglob("*.py"))
    _victim(tmp_path, shared, as_before=True)  # the control: the same run on the default cache imports them
    assert marker.exists()


def test_a_refused_compile_cache_runs_uncompiled_with_a_warning(tmp_path, monkeypatch) -> None:
    from spikekit_kernels import compiled

    open_dir = tmp_path / "open"
    open_dir.mkdir()
    os.chmod(open_dir, 0o777)
    monkeypatch.setenv("SPIKEKIT_KERNELS_CACHE", str(open_dir / "kernels"))
    monkeypatch.delenv("TORCHINDUCTOR_CACHE_DIR", raising=False)
    monkeypatch.delenv("TRITON_CACHE_DIR", raising=False)
    monkeypatch.setattr(compiled, "torch", None)  # torch.compile must not even be reached
    model = StepModel(_adex_like, {"dt": 0.05, "threshold": 1.0, "a": 0.9, "b": 0.2}, layer_name="AdExLike")
    x, state = torch.ones(2, 3, 4) * 0.7, {"v_mem": torch.zeros(2, 4), "w": torch.zeros(2, 4)}
    with pytest.warns(BackendFallbackWarning, match="AdExLike: the compiled backend runs the step uncompiled: .*"
                      f"folder {open_dir} on the cache's path is writable by others without the sticky bit"):  # fmt: skip
        out = compiled.CompiledBackend().run(x, state, model)[0]
    assert torch.equal(out, run_step_loop(x, state, model)[0])
    assert "TORCHINDUCTOR_CACHE_DIR" not in os.environ
    assert not (open_dir / "kernels").exists()


def test_a_cache_folder_the_user_chose_is_kept(tmp_path, monkeypatch) -> None:
    from spikekit_kernels import compiled

    monkeypatch.setenv("SPIKEKIT_KERNELS_CACHE", str(tmp_path / "private"))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))
    monkeypatch.delenv("TRITON_CACHE_DIR", raising=False)
    assert compiled.private_caches() is None
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "mine")
    assert os.environ["TRITON_CACHE_DIR"] == str(tmp_path / "private" / "torch-compile" / "triton")
