"""Spiking models under DistributedDataParallel: 2 CPU processes (gloo, torchrun) give the single-process gradients.

Runs ``examples/ddp_train.py`` with ``python -m torch.distributed.run --nproc_per_node=2 --standalone`` in a
subprocess (with a timeout) and the same script in this process over the same global batch, and compares the
first step's gradients and the parameters after three SGD steps.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("spikekit_neurons")
if not torch.distributed.is_available():  # pragma: no cover - CPU wheels have it
    pytest.skip("torch.distributed is not available", allow_module_level=True)

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "ddp_train.py"


def _example():
    spec = importlib.util.spec_from_file_location("spikekit_example_ddp_train", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _torchrun(tmp_path: Path, *args: str) -> dict:
    out = tmp_path / "ddp.pt"
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone", str(SCRIPT),
           "--out", str(out), *args]  # fmt: skip
    proc = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"torchrun failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return torch.load(out, weights_only=False)


@pytest.mark.slow  # two processes, each importing torch and training
@pytest.mark.parametrize("backend", ["torch"])
def test_ddp_two_gloo_processes_match_one_process(tmp_path: Path, backend: str) -> None:
    ddp = _torchrun(tmp_path, "--steps", "3", "--global-batch", "8", "--backend", backend)
    single = _example().main(["--steps", "3", "--global-batch", "8", "--backend", backend])
    assert ddp["world_size"] == 2 and single["world_size"] == 1
    # the per-process neuron states cover the process's own half of the batch: never broadcast over each other
    assert ddp["state_shapes"] == {"1.v_mem": (4, 16), "3.v_mem": (4, 4)}
    assert single["state_shapes"] == {"1.v_mem": (8, 16), "3.v_mem": (8, 4)}
    assert set(ddp["grads"]) == set(single["grads"]) == {"0.weight", "0.bias", "1.tau_mem", "2.weight", "2.bias",
                                                         "3.tau_mem"}  # fmt: skip
    for name, grad in single["grads"].items():
        assert grad.abs().max() > 0, f"{name}: zero gradient makes the comparison vacuous"
        torch.testing.assert_close(ddp["grads"][name], grad, rtol=1e-5, atol=1e-6, msg=name)
    for name, value in single["params"].items():
        torch.testing.assert_close(ddp["params"][name], value, rtol=1e-5, atol=1e-6, msg=name)


def test_wrap_ddp_disables_the_per_forward_buffer_broadcast(tmp_path: Path, monkeypatch) -> None:
    """The example's helper never lets rank 0 overwrite the other ranks' neuron states (checked in one process)."""
    import torch.distributed as dist

    monkeypatch.setenv("MASTER_ADDR", "127.0.0.1")
    monkeypatch.setenv("MASTER_PORT", "29533")
    dist.init_process_group("gloo", rank=0, world_size=1, init_method=f"file://{tmp_path / 'pg'}")
    try:
        example = _example()
        wrapped = example.wrap_ddp(example.build_model())
        assert wrapped.require_forward_param_sync is True
        sync_flag = getattr(wrapped, "forward_sync_buffers", None)
        assert (sync_flag is False) or (getattr(wrapped, "broadcast_buffers", True) is False)
    finally:
        dist.destroy_process_group()
