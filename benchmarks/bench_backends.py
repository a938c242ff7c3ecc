"""Compute-backend benchmark: spikekit's reference ("torch") and fused backends against sinabs 3.1.3 and
spikingjelly 2.0 (each only if importable; neither is a spikekit dependency).

CPU mode (default): dense LIF / IAF / ALIF on ``[B=32, T=100, N=1024]`` and a conv SNN on ``[B=16, T=50, 2x32x32]``;
forward only and forward+backward (gradient to the input and to tau_mem); the median of ``--repeats`` runs,
implementations interleaved round-robin in one process; peak extra memory of one forward+backward measured in a
fresh subprocess per implementation (peak RSS minus the RSS before the run; median of ``--memory-runs`` processes);
the load average at the start and the end of the run (other processes skew CPU timings). GPU mode (``--gpu``): the dense
models at ``[B=128, T=500, N=4096]`` timed with CUDA events, plus the device's copy bandwidth measured in the same
run and the achieved bandwidth of the fused kernels (bytes they must move / time).

Usage:
    python benchmarks/bench_backends.py                    # CPU, writes benchmarks/results/cpu-<host>.json
    python benchmarks/bench_backends.py --gpu              # CUDA, writes benchmarks/results/gpu-<host>.json
    python benchmarks/bench_backends.py --quick            # small sizes, a smoke test
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

RESULTS = Path(__file__).parent / "results"
TAU, TAU_ADAPT = 20.0, 50.0


# ---------------------------------------------------------------------------------------------- implementations
def _have(mod: str) -> bool:
    try:
        __import__(mod)
        return True
    except Exception:
        return False


class Case:
    """One (implementation, model) pair: ``make()`` builds (module, input); ``step(mod, x, backward)`` runs once."""

    def __init__(self, impl: str, model: str, make: Callable[[], tuple[nn.Module, torch.Tensor]],
                 time_major: bool = False) -> None:  # fmt: skip
        self.impl, self.model, self.make, self.time_major = impl, model, make, time_major

    def step(self, mod: nn.Module, x: torch.Tensor, backward: bool) -> None:
        if self.impl.startswith("spikingjelly"):
            from spikingjelly.activation_based import functional as sjf

            sjf.reset_net(mod)
        elif hasattr(mod, "reset_states"):
            mod.reset_states()
        else:
            for m in mod.modules():
                if hasattr(m, "reset_states") and m is not mod:
                    m.reset_states()
        if backward:
            x.grad = None
            for p in mod.parameters():
                p.grad = None
            out = mod(x)
            out.sum().backward()
        else:
            with torch.no_grad():
                mod(x)


def spikekit_dense(model: str, backend: str, B: int, T: int, N: int, device: str) -> Case:
    def make() -> tuple[nn.Module, torch.Tensor]:
        import spikekit.layers as sl

        if model == "lif":
            mod = sl.LIF(tau_mem=TAU, backend=backend)
        elif model == "iaf":
            mod = sl.IAF(backend=backend)
            mod.bias_for_grad = nn.Parameter(torch.zeros(()))
        else:
            mod = sl.ALIF(tau_mem=TAU, tau_adapt=TAU_ADAPT, backend=backend)
        x = (torch.rand(B, T, N, device=device) * 0.6).requires_grad_(True)
        return mod.to(device), x

    return Case(f"spikekit[{backend}]", model, make)


def sinabs_dense(model: str, B: int, T: int, N: int, device: str) -> Case:
    def make() -> tuple[nn.Module, torch.Tensor]:
        import sinabs.layers as sil

        if model == "lif":
            mod = sil.LIF(tau_mem=TAU)
        elif model == "iaf":
            mod = sil.IAF()
        else:
            mod = sil.ALIF(tau_mem=TAU, tau_adapt=TAU_ADAPT)
        x = (torch.rand(B, T, N, device=device) * 0.6).requires_grad_(True)
        return mod.to(device), x

    return Case("sinabs-3.1.3", model, make)


def sj_dense(model: str, B: int, T: int, N: int, device: str) -> Case | None:
    if model == "alif":
        return None  # no equivalent adaptive-threshold node

    def make() -> tuple[nn.Module, torch.Tensor]:
        from spikingjelly.activation_based import neuron

        if model == "lif":  # trainable tau (gradient to tau as for the others), soft reset like MembraneSubtract
            mod = neuron.ParametricLIFNode(init_tau=TAU, v_reset=None, step_mode="m")
        else:
            mod = neuron.IFNode(v_reset=None, step_mode="m")
        x = (torch.rand(T, B, N, device=device) * 0.6).requires_grad_(True)  # its native time-major layout
        return mod.to(device), x

    return Case("spikingjelly-2.0", model, make, time_major=True)


def _conv_layers(neuron: Callable[[], nn.Module]) -> list[nn.Module]:
    return [nn.Conv2d(2, 16, 3, padding=1), neuron(), nn.AvgPool2d(2), nn.Conv2d(16, 32, 3, padding=1), neuron(),
            nn.AvgPool2d(2), nn.Flatten(), nn.Linear(32 * 8 * 8, 10), neuron()]  # fmt: skip


def conv_case(impl: str, B: int, T: int, device: str) -> Case:
    def make() -> tuple[nn.Module, torch.Tensor]:
        torch.manual_seed(0)
        if impl.startswith("spikekit"):
            import spikekit.layers as sl

            backend = impl[len("spikekit[") : -1]
            mod = nn.Sequential(*_conv_layers(lambda: sl.LIFSqueeze(tau_mem=TAU, batch_size=B, backend=backend)))
            x = torch.rand(B * T, 2, 32, 32, device=device)
        elif impl.startswith("sinabs"):
            import sinabs.layers as sil

            mod = nn.Sequential(*_conv_layers(lambda: sil.LIFSqueeze(tau_mem=TAU, batch_size=B)))
            x = torch.rand(B * T, 2, 32, 32, device=device)
        else:
            from spikingjelly.activation_based import layer, neuron

            def wrap(m: nn.Module) -> nn.Module:
                return m if isinstance(m, neuron.ParametricLIFNode) else layer.SeqToANNContainer(m)

            mod = nn.Sequential(*[wrap(m) for m in _conv_layers(
                lambda: neuron.ParametricLIFNode(init_tau=TAU, v_reset=None, step_mode="m"))])  # fmt: skip
            x = torch.rand(T, B, 2, 32, 32, device=device)
        return mod.to(device), x.requires_grad_(True)

    return Case(impl, "conv", make, time_major=impl.startswith("spikingjelly"))


def cases(B: int, T: int, N: int, cB: int, cT: int, device: str, with_peers: bool) -> list[Case]:
    backends = ["torch", "fused-cpu"] if device == "cpu" else ["torch", "triton"]
    out: list[Case] = []
    for model in ("lif", "iaf", "alif"):
        out += [spikekit_dense(model, b, B, T, N, device) for b in backends]
        if with_peers and _have("sinabs"):
            out.append(sinabs_dense(model, B, T, N, device))
        if with_peers and _have("spikingjelly"):
            c = sj_dense(model, B, T, N, device)
            if c is not None:
                out.append(c)
    impls = [f"spikekit[{b}]" for b in backends]
    if with_peers and _have("sinabs"):
        impls.append("sinabs-3.1.3")
    if with_peers and _have("spikingjelly"):
        impls.append("spikingjelly-2.0")
    out += [conv_case(i, cB, cT, device) for i in impls]
    return out


# ----------------------------------------------------------------------------------------------------- timing
def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def time_interleaved(group: list[Case], backward: bool, repeats: int, device: str) -> dict[str, list[float]]:
    built = [(c, *c.make()) for c in group]
    for c, m, x in built:  # warm-up (builds kernels, lazily initialised state)
        c.step(m, x, backward)
    times: dict[str, list[float]] = {c.impl: [] for c in group}
    for _ in range(repeats):
        for c, m, x in built:
            _sync(device)
            if device == "cuda":
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                c.step(m, x, backward)
                end.record()
                torch.cuda.synchronize()
                times[c.impl].append(start.elapsed_time(end))
            else:
                t0 = time.perf_counter()
                c.step(m, x, backward)
                times[c.impl].append((time.perf_counter() - t0) * 1e3)
    return times


def _rss_now_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def memory_child(impl: str, model: str, sizes: dict[str, int]) -> float:
    """Peak extra memory (MB) of one forward+backward, measured in this (fresh) process."""
    small = [c for c in cases(2, 3, 8, 2, 2, "cpu", True) if c.impl == impl and c.model == model]
    big = [c for c in cases(sizes["B"], sizes["T"], sizes["N"], sizes["cB"], sizes["cT"], "cpu", True)
           if c.impl == impl and c.model == model]  # fmt: skip
    c = small[0]
    m, x = c.make()
    c.step(m, x, True)  # loads libraries and compiled loops at a negligible size
    c = big[0]
    m, x = c.make()
    gc.collect()
    try:  # reset the peak-RSS high-water mark (Linux >= 4.0), so that import-time peaks do not count
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    before = _rss_now_mb()
    c.step(m, x, True)
    with open("/proc/self/status") as f:
        hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM")) / 1024
    return max(0.0, hwm - before)


def measure_memory(group: list[Case], sizes: dict[str, int], runs: int = 3) -> dict[str, float]:
    """Median over ``runs`` fresh processes per implementation (the allocator's behaviour varies between processes:
    sinabs's peak, for one, is sometimes about half of its usual value), processes interleaved round-robin."""
    got: dict[str, list[float]] = {c.impl: [] for c in group}
    for _ in range(runs):
        for c in group:
            cmd = [sys.executable, __file__, "--memory-child", c.impl, c.model, json.dumps(sizes)]
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            try:
                got[c.impl].append(float(res.stdout.strip().splitlines()[-1]))
            except (IndexError, ValueError):
                print(f"memory measurement failed for {c.impl}/{c.model}: {res.stderr[-400:]}", file=sys.stderr)
    return {k: statistics.median(v) if v else float("nan") for k, v in got.items()}


# ------------------------------------------------------------------------------------------------------ GPU extras
def copy_bandwidth_gbs(nbytes: int = 1 << 30) -> float:
    """Device-to-device copy bandwidth (read + write bytes / time), median of 10, CUDA events."""
    a = torch.empty(nbytes // 4, device="cuda")
    b = torch.empty_like(a)
    b.copy_(a)
    times = []
    for _ in range(10):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        b.copy_(a)
        e.record()
        torch.cuda.synchronize()
        times.append(s.elapsed_time(e))
    return 2 * nbytes / (statistics.median(times) / 1e3) / 1e9


def fused_bytes(model: str, B: int, T: int, N: int, backward: bool, elem: int = 4) -> int:
    """The bytes the fused kernels must move: forward reads x, writes spikes and the saved u (+ b for ALIF);
    backward reads grad_out, u (+ b), x when norm_input, and writes grad_x."""
    full = B * T * N * elem
    fwd = full * (3 + (1 if model == "alif" else 0))
    bwd = full * (4 + (1 if model == "alif" else 0) + (1 if model in ("lif", "alif") else 0))
    return fwd + (bwd if backward else 0)


# ----------------------------------------------------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpu", action="store_true", help="CUDA mode at [128, 500, 4096] with CUDA events")
    ap.add_argument("--quick", action="store_true", help="small sizes and few repeats (smoke test)")
    ap.add_argument("--repeats", type=int, default=None)
    ap.add_argument("--no-peers", action="store_true", help="skip sinabs and spikingjelly")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--memory-runs", type=int, default=3, help="fresh processes per memory measurement (median)")
    ap.add_argument("--compile", action="store_true", help="also time the reference backend under torch.compile")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        impl, model, sizes = args.memory_child
        print(memory_child(impl, model, json.loads(sizes)))
        return
    device = "cuda" if args.gpu else "cpu"
    if args.gpu and not torch.cuda.is_available():
        sys.exit("--gpu: no CUDA device is available")
    if args.quick:
        sizes = dict(B=4, T=10, N=64, cB=2, cT=4)
    elif args.gpu:
        sizes = dict(B=128, T=500, N=4096, cB=64, cT=100)
    else:
        sizes = dict(B=32, T=100, N=1024, cB=16, cT=50)
    repeats = args.repeats or (3 if args.quick else 15)
    all_cases = cases(sizes["B"], sizes["T"], sizes["N"], sizes["cB"], sizes["cT"], device, not args.no_peers)
    result: dict[str, Any] = {
        "machine": {"host": platform.node(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                    "torch": torch.__version__, "python": platform.python_version(),
                    "device": torch.cuda.get_device_name() if args.gpu else platform.processor() or "cpu"},
        "sizes": sizes, "repeats": repeats, "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "versions": {}, "results": [],
    }  # fmt: skip
    for mod in ("sinabs", "spikingjelly", "spikekit", "spikekit_kernels"):
        try:
            import importlib.metadata as md

            dist = {"spikekit_kernels": "spikekit-kernels"}.get(mod, mod)
            result["versions"][mod] = md.version(dist)
        except Exception:
            pass
    result["load_average_start"] = os.getloadavg()  # other processes on the machine skew CPU timings
    if args.gpu:
        result["copy_bandwidth_GBps"] = copy_bandwidth_gbs()
    for model in ("lif", "iaf", "alif", "conv"):
        group = [c for c in all_cases if c.model == model]
        if not group:
            continue
        row: dict[str, Any] = {"model": model}
        for backward in (False, True):
            reps = max(3, repeats // 3) if model == "conv" else repeats
            times = time_interleaved(group, backward, reps, device)
            row["fwd_bwd_ms" if backward else "fwd_ms"] = {k: statistics.median(v) for k, v in times.items()}
        if device == "cpu" and not args.no_memory:
            row["peak_extra_mb_fwd_bwd"] = measure_memory(group, sizes, args.memory_runs)
        if args.gpu and model != "conv":
            B, T, N = sizes["B"], sizes["T"], sizes["N"]
            bw = {}
            for key, backward in (("fwd_ms", False), ("fwd_bwd_ms", True)):
                ms = row[key].get("spikekit[triton]")
                if ms:
                    achieved = fused_bytes(model, B, T, N, backward) / (ms / 1e3) / 1e9
                    bw[key] = {"achieved_GBps": achieved, "fraction_of_copy": achieved / result["copy_bandwidth_GBps"]}
            row["triton_bandwidth"] = bw
        result["results"].append(row)
        print_row(row)
    result["load_average_end"] = os.getloadavg()
    print(f"\nload average (1, 5, 15 min): start {result['load_average_start']}, end {result['load_average_end']}")
    out = args.out or RESULTS / f"{'gpu' if args.gpu else 'cpu'}{'-quick' if args.quick else ''}-{platform.node()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"\nwrote {out}")


def print_row(row: dict[str, Any]) -> None:
    impls = list(row["fwd_ms"])
    ref = next((i for i in impls if i.startswith("sinabs")), None)
    print(f"\n{row['model']}:")
    print(f"  {'implementation':<22}{'fwd ms':>10}{'fwd+bwd ms':>12}{'peak MB':>10}{'speed-up vs sinabs':>20}")
    for i in impls:
        mem = row.get("peak_extra_mb_fwd_bwd", {}).get(i, math.nan)
        sp = row["fwd_bwd_ms"][ref] / row["fwd_bwd_ms"][i] if ref else math.nan
        print(f"  {i:<22}{row['fwd_ms'][i]:>10.1f}{row['fwd_bwd_ms'][i]:>12.1f}{mem:>10.1f}{sp:>20.2f}")


if __name__ == "__main__":
    main()
