"""The compiled loop's build, cache and memory policy: one library per configuration, built without warnings,
cached with an atomic rename (safe for concurrent processes), a warned-once torch fallback without a compiler, and
no per-step buffer kept for the backward when the surrogate has a closed form."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

from spikekit.compute import get_backend

sys.path.insert(0, str(Path(__file__).parent))
from _kernels_testcfg import make_config, random_input

from spikekit_kernels import build_cache as _cc
from spikekit_kernels import c_loops, cpu_backend, op  # noqa: F401  (cpu_backend registers the C loops)
from spikekit_kernels._plan import F_ALIF, F_FLOOR, F_MAXCLAMP, F_NORM, F_RESET, F_SPIKING, F_SUBVAL, F_SYN

needs_cc = pytest.mark.skipif(_cc._compiler() is None, reason="no C compiler")


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache directory and no library loaded in this process."""
    monkeypatch.setenv("SPIKEKIT_KERNELS_CACHE", str(tmp_path))
    monkeypatch.setattr(_cc, "_libs", {})
    return tmp_path


@needs_cc
@pytest.mark.parametrize(
    "flags,spike_kind,sg_kind",
    [
        (F_SPIKING, 0, 1),
        (F_SPIKING | F_SYN | F_NORM | F_FLOOR, 1, 2),
        (F_SPIKING | F_RESET | F_MAXCLAMP, 0, 3),
        (F_SPIKING | F_ALIF | F_SUBVAL, 0, 5),
        (F_NORM, 0, 0),
    ],
)
def test_each_configuration_builds_its_own_library(fresh_cache, flags, spike_kind, sg_kind) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lib = _cc.library("float", flags, spike_kind, sg_kind)
    assert lib is not None
    assert lib.config_flags() == flags  # the flags really are compile-time constants of that library
    built = sorted(p.name for p in fresh_cache.iterdir() if p.name not in (".lock", ".builds"))
    assert _cc._recorded(fresh_cache) == []  # the build folder was removed and its record with it
    assert len(built) == 2  # the library and its digest; no temporary build directory or partial file is left behind
    assert built[0].endswith(f"-float-f{flags}-s{spike_kind}-g{sg_kind}.so") and built[1] == built[0] + ".sha256"


def _gomp_copies() -> set[str]:
    with open("/proc/self/maps") as f:
        return {line.split()[-1] for line in f if "libgomp" in line.rsplit("/", 1)[-1]}


@needs_cc
@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="needs /proc (Linux)")
def test_libraries_run_on_torchs_own_openmp_runtime(fresh_cache) -> None:
    """Where torch runs on GNU OpenMP, the libraries are linked with -fopenmp and bind to the libgomp torch already
    loaded: its threads run the loops, and no second OpenMP runtime (with threads of its own) enters the process."""
    before = _gomp_copies()
    if not before or "OpenMP" not in torch.__config__.parallel_info():
        pytest.skip("torch does not run on GNU OpenMP here")
    assert _cc._openmp_flags() == ["-fopenmp"]
    lib = _cc.library("float", F_SPIKING, 0, 1)
    assert lib is not None
    assert _gomp_copies() == before
    spikes, threads = [], torch.get_num_threads()
    try:
        for n in (1, 2, 3):  # results do not depend on how many threads share the work
            torch.set_num_threads(n)
            x = random_input(5, 20, (300,), 2)
            params, state = make_config("lif", B=5, trail=(300,), train=False)
            out, _, _ = get_backend("fused-cpu").run(x, state, params)
            spikes.append(out)
    finally:
        torch.set_num_threads(threads)
    assert all(torch.equal(s, spikes[0]) for s in spikes) and spikes[0].max() >= 1


@needs_cc
def test_concurrent_processes_share_the_cache_safely(fresh_cache) -> None:
    code = (
        "from spikekit_kernels import build_cache as _cc\n"
        "lib = _cc.library('double', 16 | 1, 0, 1)\n"
        "assert lib is not None and lib.config_flags() == 17\n"
    )
    procs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    assert len([p for p in fresh_cache.iterdir() if p.suffix == ".so"]) == 1
    assert not [p for p in fresh_cache.iterdir() if p.name.startswith(".build-")]


def test_without_a_compiler_the_torch_loop_runs_after_one_warning(monkeypatch) -> None:
    monkeypatch.setattr(_cc, "_libs", {})
    monkeypatch.setattr(_cc, "_compiler_checked", False)
    monkeypatch.setattr(_cc, "_cc_cmd", None)  # restored afterwards, with the flag above
    monkeypatch.setattr(_cc, "_compiler", lambda: None)
    params, state = make_config("lif", syn=True)
    x = random_input(3, 7, (5,), 1)
    with pytest.warns(RuntimeWarning, match="no C compiler"):
        out, _, _ = get_backend("fused-cpu").run(x, state, params)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out2, _, _ = get_backend("fused-cpu").run(x, state, params)  # warned once only
    ref, _, _ = get_backend("torch").run(x, state, params)
    assert torch.equal(out, ref) and torch.equal(out2, ref)


def _forward_outputs(surrogate: str):
    params, state = make_config("lif", syn=True, surrogate=surrogate)
    x = random_input(3, 6, (5,), 2)
    with torch.no_grad():
        from spikekit_kernels._plan import make_plan

        plan = make_plan(x, state, params)
        key = op.register_surrogate(plan.surrogate) if plan.sg_kind == 0 else 0
        return op.lif_forward(
            x, state["v_mem"], state["i_syn"], x.new_empty(0), plan.alpha_mem, plan.alpha_syn, plan.threshold,
            plan.floor, plan.alpha_adapt, plan.adapt_scale, plan.reset_const, plan.flags, plan.spike_kind,
            plan.max_spikes, False, plan.sg_kind, plan.sg_params, key,
        )  # fmt: skip


@pytest.mark.parametrize("use_c", [True, False], ids=["compiled", "torch-loop"])
def test_closed_form_surrogates_keep_nothing_per_step(use_c, monkeypatch) -> None:
    if not use_c:
        monkeypatch.setattr(c_loops, "use_c", lambda x: None)
    _out, u, isave, _b, *_ = _forward_outputs("SingleExponential")
    assert u.numel() == 0 and isave.numel() == 0  # the backward recomputes them
    _out, u, isave, _b, *_ = _forward_outputs("callable")
    assert u.shape == (3, 6, 5) and isave.shape == (3, 6, 5)  # torch evaluates the callable on all steps


@pytest.mark.parametrize("use_c", [True, False], ids=["compiled", "torch-loop"])
def test_output_gradient_with_any_strides(use_c, monkeypatch) -> None:
    """A broadcast (sum's) or transposed output gradient gives the same input gradient as a contiguous one."""
    if not use_c:
        monkeypatch.setattr(c_loops, "use_c", lambda x: None)
    params, state = make_config("lif", syn=True, norm=True)
    backend = get_backend("fused-cpu")
    grads = []
    for make_g in (
        lambda out: torch.ones_like(out),
        lambda out: torch.ones(()).expand_as(out),
        lambda out: torch.ones(out.shape[2], out.shape[1], out.shape[0]).permute(2, 1, 0),
        lambda out: torch.ones(out.shape[0], 2 * out.shape[1], out.shape[2])[:, ::2],
    ):
        x = random_input(3, 8, (5,), 4).requires_grad_(True)
        out, _, _ = backend.run(x, {k: v.clone() for k, v in state.items()}, params)
        (gx,) = torch.autograd.grad(out, x, make_g(out))
        grads.append(gx)
    for g in grads[1:]:
        assert torch.equal(g, grads[0])
