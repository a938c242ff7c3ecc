"""GPU check of the ``triton`` backend: exactness on the device against the reference backend, then an interleaved
benchmark. Writes everything into one folder (``--out``). ``run_gpu.sh`` runs the tests first and then this.

Implementations (each only where it imports): spikekit's reference backend eager (``ref-eager``) and under
``torch.compile`` (``ref-compiled``), spikekit ``triton``, spikingjelly 2.0 (multi-step, torch) and sinabs 3.1.3, and a
``bound`` row: clones of the input (one for the forward, two for forward+backward), the bytes any exact
implementation must move, in the same run.

Workloads: the Open Neuromorphic setup (Linear(N, N) + LIF, batch 16, 500 steps, N = 16384 by default), dense LIF /
IAF / ALIF at [128, 500, 4096], a conv SNN (three conv-IAF-sum-pool blocks, linear-IAF) at a GPU batch; forward and
forward+backward; CUDA events; peak memory per implementation (``torch.cuda.max_memory_allocated`` above what was
allocated before); achieved bandwidth relative to the bound.

``--dry-run`` runs the same flow on the CPU at tiny sizes (perf_counter instead of CUDA events, no memory numbers;
the triton backend declines CPU tensors, so its rows are marked as not run and its kernels are covered by the
interpreter test that ``run_gpu.sh --dry-run`` runs with ``TRITON_INTERPRET=1``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import traceback
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/: the shared model builders
from bench_backends import _input, conv_model

TAU, TAU_ADAPT = 20.0, 50.0
FULL = dict(on_B=16, on_T=500, on_N=16384, B=128, T=500, N=4096, cB=128, cT=50)
TINY = dict(on_B=2, on_T=6, on_N=32, B=2, T=5, N=48, cB=2, cT=3)


# ------------------------------------------------------------------------------------------------- model builders
def _sk_neuron(model: str, backend: str, **kw: Any) -> nn.Module:
    import spikekit.layers as sl

    if model == "lif":
        return sl.LIF(tau_mem=TAU, backend=backend, **kw)
    if model == "iaf":
        return sl.IAF(backend=backend, **kw)
    return sl.ALIF(tau_mem=TAU, tau_adapt=TAU_ADAPT, backend=backend, **kw)


class OnNet(nn.Module):
    """Linear + neuron layer on (B, T, N) input (batch-major) or (T, B, N) for spikingjelly."""

    def __init__(self, lin: nn.Module, neuron: nn.Module) -> None:
        super().__init__()
        self.lin, self.neuron = lin, neuron

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.neuron(self.lin(x))


def make(impl: str, workload: str, sz: dict[str, int], device: str) -> tuple[nn.Module, torch.Tensor] | str:
    """(module, input) for one implementation and workload, or why it cannot run here."""
    sj = impl.startswith("spikingjelly")
    if impl == "triton" and device != "cuda":
        return "triton runs on CUDA only (its kernels are checked in the interpreter test)"
    if sj and workload == "alif":
        return "spikingjelly has no adaptive-threshold node"
    backend = "triton" if impl == "triton" else "torch"
    if workload == "on":
        B, T, N = sz["on_B"], sz["on_T"], sz["on_N"]
        torch.manual_seed(0)
        lin = nn.Linear(N, N, bias=False)
        x = _input((B, T, N), device, scale=0.05)
        if sj:
            from spikingjelly.activation_based import layer, neuron

            sjl = layer.Linear(N, N, bias=False, step_mode="m")
            sjl.load_state_dict(lin.state_dict())
            mod = OnNet(sjl, neuron.LIFNode(tau=TAU, decay_input=True, v_reset=None, step_mode="m"))
            return mod.to(device), x.transpose(0, 1).contiguous().requires_grad_(True)
        if impl == "sinabs":
            import sinabs.layers as sil

            return OnNet(lin, sil.LIF(tau_mem=TAU)).to(device), x.requires_grad_(True)
        return OnNet(lin, _sk_neuron("lif", backend)).to(device), x.requires_grad_(True)
    if workload in ("lif", "iaf", "alif"):
        x = _input((sz["B"], sz["T"], sz["N"]), device)
        if sj:
            from spikingjelly.activation_based import neuron

            node = (neuron.ParametricLIFNode(init_tau=TAU, v_reset=None, step_mode="m") if workload == "lif"
                    else neuron.IFNode(v_reset=None, step_mode="m"))  # fmt: skip
            return node.to(device), x.transpose(0, 1).contiguous().requires_grad_(True)
        if impl == "sinabs":
            import sinabs.layers as sil

            mod = {"lif": lambda: sil.LIF(tau_mem=TAU), "iaf": sil.IAF,
                   "alif": lambda: sil.ALIF(tau_mem=TAU, tau_adapt=TAU_ADAPT)}[workload]()  # fmt: skip
            return mod.to(device), x.requires_grad_(True)
        return _sk_neuron(workload, backend).to(device), x.requires_grad_(True)
    return _conv(impl, backend, sz, device)


def _conv(impl: str, backend: str, sz: dict[str, int], device: str) -> tuple[nn.Module, torch.Tensor]:
    return conv_model(impl, backend, sz["cB"], sz["cT"], device)  # the CPU benchmark's network and weights


# ------------------------------------------------------------------------------------------------------ running
def _reset(mod: nn.Module) -> None:
    for m in mod.modules():
        if hasattr(m, "reset_states"):
            m.reset_states()
        elif hasattr(m, "reset") and type(m).__module__.startswith("spikingjelly"):
            m.reset()


def run_once(mod: Callable[[torch.Tensor], torch.Tensor], raw: nn.Module, x: torch.Tensor, backward: bool) -> None:
    _reset(raw)
    if backward:
        x.grad = None
        for p in raw.parameters():
            p.grad = None
        mod(x).sum().backward()
    else:
        with torch.no_grad():
            mod(x)


class Timer:
    def __init__(self, device: str) -> None:
        self.cuda = device == "cuda"

    def __call__(self, fn: Callable[[], None]) -> float:
        if self.cuda:
            torch.cuda.synchronize()
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record()
            fn()
            e.record()
            torch.cuda.synchronize()
            return s.elapsed_time(e)
        t0 = time.perf_counter()
        fn()
        return (time.perf_counter() - t0) * 1e3


def bench_workload(workload: str, impls: list[str], sz: dict[str, int], device: str, repeats: int) -> dict[str, Any]:
    built: dict[str, tuple[Callable, nn.Module, torch.Tensor]] = {}
    row: dict[str, Any] = {"workload": workload, "skipped": {}, "fwd_ms": {}, "fwd_bwd_ms": {}, "peak_mb": {}}
    for impl in impls:
        base = "ref-eager" if impl == "ref-compiled" else impl
        got = make({"ref-eager": "reference"}.get(base, base), workload, sz, device)
        if isinstance(got, str):
            row["skipped"][impl] = got
            continue
        mod, x = got
        # a dry run traces with dynamo but skips inductor's code generation (minutes on a CPU)
        fn = torch.compile(mod, backend="eager" if device == "cpu" else "inductor") if impl == "ref-compiled" else mod
        built[impl] = (fn, mod, x)
    x0 = next(iter(built.values()))[2] if built else None
    timer = Timer(device)
    for backward in (False, True):
        key = "fwd_bwd_ms" if backward else "fwd_ms"
        times: dict[str, list[float]] = {k: [] for k in [*built, "bound"]}
        for impl, (fn, mod, x) in list(built.items()):  # warm-up: compiles kernels and graphs (twice: a layer's
            try:  # state is created by its first call, so torch.compile specialises once more on the second)
                run_once(fn, mod, x, backward)
                run_once(fn, mod, x, backward)
            except Exception as exc:  # recorded, not fatal: the other implementations still run
                row["skipped"][impl] = f"{type(exc).__name__}: {exc}"[:500]
                traceback.print_exc()
                del built[impl], times[impl]
        for _ in range(repeats):
            for impl, (fn, mod, x) in built.items():
                times[impl].append(timer(lambda f=fn, m=mod, xx=x, b=backward: run_once(f, m, xx, b)))
            if x0 is not None:
                n = 2 if backward else 1
                times["bound"].append(timer(lambda n=n: [x0.clone() for _ in range(n)]))
        row[key] = {k: statistics.median(v) for k, v in times.items() if v}
    if device == "cuda":
        for impl, (fn, mod, x) in built.items():
            torch.cuda.synchronize()
            base = torch.cuda.memory_allocated()
            torch.cuda.reset_peak_memory_stats()
            run_once(fn, mod, x, True)
            torch.cuda.synchronize()
            row["peak_mb"][impl] = (torch.cuda.max_memory_allocated() - base) / 2**20
    if "bound" in row["fwd_bwd_ms"] and x0 is not None:
        nbytes = x0.numel() * x0.element_size()
        row["bound_GBps"] = {k: (2 if k == "fwd_bwd_ms" else 1) * 2 * nbytes / (row[k]["bound"] / 1e3) / 1e9
                             for k in ("fwd_ms", "fwd_bwd_ms")}  # fmt: skip
        row["x_bound"] = {k: {i: v / row[k]["bound"] for i, v in row[k].items()} for k in ("fwd_ms", "fwd_bwd_ms")}
    return row


def exactness(sz: dict[str, int], device: str) -> dict[str, Any]:
    """triton against the reference backend on the device: spikes bitwise, gradients' largest relative error."""
    if device != "cuda":
        return {"skipped": "no CUDA device (dry run)"}
    out: dict[str, Any] = {}
    for model in ("lif", "iaf", "alif"):
        res = {}
        for backend in ("torch", "triton"):
            torch.manual_seed(0)
            mod = _sk_neuron(model, backend).to(device)
            x = _input((8, 100, 1024), device, scale=0.8).requires_grad_(True)
            s = mod(x)
            w = torch.randn(s.shape, generator=torch.Generator().manual_seed(1)).to(device)
            (s * w).sum().backward()
            res[backend] = (s.detach(), x.grad.detach(), [p.grad for p in mod.parameters() if p.grad is not None])
        (s0, g0, p0), (s1, g1, p1) = res["torch"], res["triton"]
        rel = ((g1 - g0).abs().max() / g0.abs().max().clamp_min(1e-30)).item()
        prel = [((a - b).abs().max() / b.abs().max().clamp_min(1e-30)).item() for a, b in zip(p1, p0)]
        out[model] = {"spikes_bitwise_equal": bool(torch.equal(s0, s1)), "spike_count": float(s0.sum()),
                      "dx_max_rel_err": rel, "dparam_max_rel_err": prel}  # fmt: skip
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dry-run", action="store_true", help="CPU, tiny sizes (checks the flow, not the GPU)")
    ap.add_argument("--out", type=Path, required=True, help="results folder")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--workloads", nargs="+", default=["on", "lif", "iaf", "alif", "conv"])
    ap.add_argument("--impls", nargs="+", default=["ref-eager", "ref-compiled", "triton", "spikingjelly", "sinabs"])
    args = ap.parse_args()
    device = "cpu" if args.dry_run else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device: run with --dry-run to check the flow on the CPU")
    sz = TINY if args.dry_run else FULL
    repeats = args.repeats or (2 if args.dry_run else 10)
    warnings.simplefilter("ignore")
    args.out.mkdir(parents=True, exist_ok=True)
    res: dict[str, Any] = {
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "dry_run": args.dry_run,
        "sizes": sz,
        "repeats": repeats,
        "machine": _machine(device),
        "versions": _versions(),
    }
    impls = [i for i in args.impls if _importable(i)]
    res["not_installed"] = sorted(set(args.impls) - set(impls))
    res["exactness"] = exactness(sz, device)
    print(json.dumps(res["exactness"], indent=1))
    res["results"] = []
    for wl in args.workloads:
        row = bench_workload(wl, impls, sz, device, repeats)
        res["results"].append(row)
        print(json.dumps({k: row[k] for k in ("workload", "fwd_ms", "fwd_bwd_ms", "skipped")}, indent=1))
        (args.out / "bench.json").write_text(json.dumps(res, indent=2))
    print(f"wrote {args.out / 'bench.json'}")


def _importable(impl: str) -> bool:
    mod = {"spikingjelly": "spikingjelly.activation_based", "sinabs": "sinabs.layers"}.get(impl)
    if mod is None:
        return True
    try:
        __import__(mod)
        return True
    except Exception:
        return False


def _machine(device: str) -> dict[str, Any]:
    m: dict[str, Any] = {"host": platform.node(), "python": platform.python_version(), "torch": torch.__version__,
                         "cpu_count": os.cpu_count(), "load_average": os.getloadavg()}  # fmt: skip
    if device == "cuda":
        m["device"] = torch.cuda.get_device_name()
        m["cuda"] = torch.version.cuda
        m["total_memory_gb"] = torch.cuda.get_device_properties(0).total_memory / 2**30
    return m


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for dist in ("spikekit", "spikekit-kernels", "triton", "sinabs", "spikingjelly"):
        try:
            out[dist] = md.version(dist)
        except Exception:
            pass
    return out


if __name__ == "__main__":
    main()
