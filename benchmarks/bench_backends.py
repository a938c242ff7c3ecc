"""Compute-backend benchmark: spikekit's reference ("torch") and fused backends against sinabs 3.1.3 and
spikingjelly 2.0 (each only if importable; neither is a spikekit dependency).

CPU mode (default), for each thread count of ``--threads`` (default 1 and 2):

* dense LIF / IAF / ALIF on ``[B=32, T=100, N=1024]``, gradient to the input and to tau_mem;
* recurrent LIF / IAF / ALIF on ``[B=32, T=100, N=512]`` with ``rec_connect = nn.Linear(512, 512, bias=False)``;
* a conv SNN on ``[B=16, T=50, 2x32x32]``: three conv-IAF-sum-pool blocks and a linear-IAF read-out, its conv
  weights in ``channels_last`` (``CONV_LAYOUT``; the input stays NCHW) for spikekit and spikingjelly, NCHW for
  sinabs (the faster layout for each, measured).

Every library gets the same input tensor and the same weights. spikingjelly runs in its fastest CPU mode: multi-step
(``step_mode="m"``) ``layer.Conv2d`` / ``layer.AvgPool2d`` / ``layer.Linear`` and ``neuron.IFNode`` /
``ParametricLIFNode`` on time-major ``(T, B, ...)`` input; its average pools are made sum pools by multiplying the
weights of the layer after each pool by the window size. A "bound" row times what any exact implementation must at
least do with the memory: one clone of the input for the forward pass (read the input, write the output), two for
forward+backward (the backward reads the output gradient and writes the input gradient), in the same run.

Timing: the median of ``--repeats`` runs, implementations interleaved round-robin in one process. Peak extra
memory of one forward+backward: a fresh subprocess per implementation (peak RSS minus the RSS before the run;
median of ``--memory-runs`` processes). The load average is recorded at the start and the end (the machine may be
shared; other processes skew CPU timings). GPU mode (``--gpu``): the same workloads at ``[B=128, T=500, N=4096]``
with CUDA events and the device's copy bandwidth measured in the same run; the bound row gives each implementation's
distance from it (``benchmarks/gpu/`` has the full GPU run).

Usage:
    python benchmarks/bench_backends.py                    # CPU, writes benchmarks/results/cpu-<host>.json
    python benchmarks/bench_backends.py --threads 2 --models conv
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
BOUND = "bound (clones of x)"
CONV_LAYOUT = "channels_last"  # the conv SNN's layout on the CPU ("contiguous": NCHW); see _layout
MODELS = ("lif", "iaf", "alif", "lif_rec", "iaf_rec", "alif_rec", "conv")
# Input drawn uniformly from [0, scale): LIF and ALIF normalise their input (a steady membrane potential of scale / 2),
# so they need a mean above the threshold of 1 to spike at all; IAF integrates it. Every layer spikes, recurrent
# connections carry spikes.
DENSE_SCALE = {"lif": 2.4, "iaf": 0.6, "alif": 2.4}


# ---------------------------------------------------------------------------------------------- implementations
def _have(mod: str) -> bool:
    try:
        __import__(mod)
        return True
    except Exception:
        return False


def _input(shape: tuple[int, ...], device: str, seed: int = 0, scale: float = 0.6) -> torch.Tensor:
    """The same input for every implementation (a fixed generator, independent of what ran before)."""
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g) * scale).to(device)


class Case:
    """One (implementation, model) pair: ``make()`` builds (module, input); ``step(mod, x, backward)`` runs once."""

    def __init__(self, impl: str, model: str, make: Callable[[], tuple[nn.Module, torch.Tensor]]) -> None:
        self.impl, self.model, self.make = impl, model, make

    def step(self, mod: nn.Module, x: torch.Tensor, backward: bool) -> None:
        if self.impl == BOUND:
            x.clone()
            if backward:
                x.clone()
            return
        if self.impl.startswith("spikingjelly"):
            from spikingjelly.activation_based import functional as sjf

            sjf.reset_net(mod)
        else:
            for m in mod.modules():
                if hasattr(m, "reset_states"):
                    m.reset_states()
        if backward:
            x.grad = None
            for p in mod.parameters():
                p.grad = None
            mod(x).sum().backward()
        else:
            with torch.no_grad():
                mod(x)


def bound_case(model: str, shape: tuple[int, ...], device: str) -> Case:
    return Case(BOUND, model, lambda: (nn.Identity(), _input(shape, device)))


def dense_case(impl: str, model: str, B: int, T: int, N: int, device: str) -> Case | None:
    """Dense and recurrent layers. ``impl``: ``spikekit[<backend>]``, ``sinabs-3.1.3`` or ``spikingjelly-2.0``."""
    rec = model.endswith("_rec")
    base = model.removesuffix("_rec")
    if impl.startswith("spikingjelly") and (rec or base == "alif"):
        return None  # no adaptive-threshold node; recurrent layers are built differently there

    def make() -> tuple[nn.Module, torch.Tensor]:
        torch.manual_seed(0)
        x = _input((B, T, N), device, scale=DENSE_SCALE[base])
        if impl.startswith("spikingjelly"):
            from spikingjelly.activation_based import neuron

            if base == "lif":  # trainable tau (gradient to tau as for the others), soft reset like MembraneSubtract
                mod = neuron.ParametricLIFNode(init_tau=TAU, v_reset=None, step_mode="m")
            else:
                mod = neuron.IFNode(v_reset=None, step_mode="m")
            return mod.to(device), x.transpose(0, 1).contiguous().requires_grad_(True)  # its (T, B, N) layout
        if impl.startswith("sinabs"):
            import sinabs.layers as L

            kw: dict[str, Any] = {}
        else:
            import spikekit.layers as L

            kw = {"backend": impl[len("spikekit[") : -1]}
        if rec:
            torch.manual_seed(1)
            kw["rec_connect"] = nn.Linear(N, N, bias=False)
            name = {"lif": "LIFRecurrent", "iaf": "IAFRecurrent", "alif": "ALIFRecurrent"}[base]
        else:
            name = {"lif": "LIF", "iaf": "IAF", "alif": "ALIF"}[base]
        if base == "lif":
            kw["tau_mem"] = TAU
        elif base == "alif":
            kw.update(tau_mem=TAU, tau_adapt=TAU_ADAPT)
        mod = getattr(L, name)(**kw)
        return mod.to(device), x.requires_grad_(True)

    return Case(impl, model, make)


def _conv_weights(device: str) -> list[nn.Module]:
    """The conv SNN's weighted layers (the same weights for every library)."""
    torch.manual_seed(0)
    layers = [nn.Conv2d(2, 16, 3, padding=1), nn.Conv2d(16, 32, 3, padding=1), nn.Conv2d(32, 32, 3, padding=1),
              nn.Linear(32 * 4 * 4, 10)]  # fmt: skip
    with torch.no_grad():
        for m in layers:
            m.weight.mul_(3.0)  # enough drive that every layer spikes
    return [m.to(device) for m in layers]


def conv_model(impl: str, backend: str, B: int, T: int, device: str) -> tuple[nn.Module, torch.Tensor]:
    """The conv SNN (3x conv-IAF-sumpool, linear-IAF) and its input, the same weights for every library:
    spikingjelly's multi-step layers for ``impl`` ``spikingjelly...``, sinabs's for ``sinabs...``, otherwise
    spikekit's layers on compute backend ``backend``. The GPU suite builds its conv workload with it too."""
    w = _conv_weights(device)
    x = _input((B, T, 2, 32, 32), device, seed=1, scale=1.0)
    if impl.startswith("spikingjelly"):
        from spikingjelly.activation_based import layer, neuron

        def sj(m: nn.Module, scale: float) -> nn.Module:  # the same weights; x window size after a pool
            cls = layer.Conv2d if isinstance(m, nn.Conv2d) else layer.Linear
            args = (m.in_channels, m.out_channels, 3) if isinstance(m, nn.Conv2d) else (m.in_features, 10)
            out = cls(*args, **({"padding": 1} if isinstance(m, nn.Conv2d) else {}), step_mode="m")
            out.load_state_dict(m.state_dict())
            with torch.no_grad():
                out.weight.mul_(scale)
            return out

        def node() -> nn.Module:
            return neuron.IFNode(v_reset=None, step_mode="m")

        def pool() -> nn.Module:
            return layer.AvgPool2d(2, step_mode="m")

        mod = nn.Sequential(sj(w[0], 1.0), node(), pool(), sj(w[1], 4.0), node(), pool(), sj(w[2], 4.0), node(),
                            pool(), layer.Flatten(step_mode="m"), sj(w[3], 4.0), node())  # fmt: skip
        return _layout(mod.to(device), device, impl), x.transpose(0, 1).contiguous().requires_grad_(True)
    if impl.startswith("sinabs"):
        import sinabs.layers as L

        def node() -> nn.Module:
            return L.IAFSqueeze(batch_size=B)
    else:
        import spikekit.layers as L

        def node() -> nn.Module:
            return L.IAFSqueeze(batch_size=B, backend=backend)

    mod = nn.Sequential(w[0], node(), L.SumPool2d(2), w[1], node(), L.SumPool2d(2), w[2], node(), L.SumPool2d(2),
                        nn.Flatten(), w[3], node())  # fmt: skip
    return _layout(mod.to(device), device, impl), x.reshape(B * T, 2, 32, 32).contiguous().requires_grad_(True)


def _layout(mod: nn.Module, device: str, impl: str) -> nn.Module:
    """On the CPU, the conv SNN with its conv weights in ``channels_last``, PyTorch's recommended layout for convs
    there (oneDNN then runs the convs without converting to and from NCHW), for spikekit and spikingjelly, which
    both run faster so. sinabs keeps NCHW: its layers fold the activations back to NCHW, and it ran slower in
    ``channels_last`` here (about 1.2x at 1 thread). ``--conv-layout contiguous`` keeps NCHW for everyone."""
    on = CONV_LAYOUT == "channels_last" and device == "cpu" and not impl.startswith("sinabs")
    return mod.to(memory_format=torch.channels_last) if on else mod


def conv_case(impl: str, B: int, T: int, device: str) -> Case:
    backend = impl[len("spikekit[") : -1] if impl.startswith("spikekit[") else ""
    return Case(impl, "conv", lambda: conv_model(impl, backend, B, T, device))


def impls_for(device: str, with_peers: bool) -> list[str]:
    out = [f"spikekit[{b}]" for b in (["torch", "fused-cpu"] if device == "cpu" else ["torch", "triton"])]
    if with_peers and _have("sinabs"):
        out.append("sinabs-3.1.3")
    if with_peers and _have("spikingjelly"):
        out.append("spikingjelly-2.0")
    return out


def cases(model: str, sizes: dict[str, int], device: str, with_peers: bool) -> list[Case]:
    impls = impls_for(device, with_peers)
    if model == "conv":
        B, T = sizes["cB"], sizes["cT"]
        return [conv_case(i, B, T, device) for i in impls] + [bound_case(model, (B * T, 2, 32, 32), device)]
    B, T, N = sizes["B"], sizes["T"], sizes["rN"] if model.endswith("_rec") else sizes["N"]
    got = [dense_case(i, model, B, T, N, device) for i in impls]
    return [c for c in got if c is not None] + [bound_case(model, (B, T, N), device)]


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
    tiny = dict(B=2, T=3, N=8, rN=8, cB=2, cT=2)
    small = next(c for c in cases(model, tiny, "cpu", True) if c.impl == impl)
    m, x = small.make()
    small.step(m, x, True)  # loads libraries and compiled loops at a negligible size
    c = next(c for c in cases(model, sizes, "cpu", True) if c.impl == impl)
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


def measure_memory(group: list[Case], sizes: dict[str, int], runs: int) -> dict[str, float]:
    """Median over ``runs`` fresh processes per implementation (the allocator's behaviour varies between processes:
    sinabs's peak, for one, is sometimes about half of its usual value), processes interleaved round-robin."""
    got: dict[str, list[float]] = {c.impl: [] for c in group if c.impl != BOUND}
    for _ in range(runs):
        for c in group:
            if c.impl == BOUND:
                continue
            cmd = [sys.executable, __file__, "--memory-child", c.impl, c.model, json.dumps(sizes)]
            cmd += ["--conv-layout", CONV_LAYOUT]
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
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


# ----------------------------------------------------------------------------------------------------------- main
def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gpu", action="store_true", help="CUDA mode at [128, 500, 4096] with CUDA events")
    ap.add_argument("--quick", action="store_true", help="small sizes and few repeats (smoke test)")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per implementation (conv: a third)")
    ap.add_argument("--threads", type=int, nargs="+", default=None, help="torch thread counts (default: 1 2)")
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=MODELS)
    ap.add_argument("--no-peers", action="store_true", help="skip sinabs and spikingjelly")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--memory-runs", type=int, default=3, help="fresh processes per memory measurement (median)")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--conv-layout", choices=("channels_last", "contiguous"), default=CONV_LAYOUT,
                    help="memory format of the conv SNN's weights on the CPU (sinabs: always NCHW)")  # fmt: skip
    ap.add_argument("--memory-child", nargs=3, help=argparse.SUPPRESS)
    return ap.parse_args()


def main() -> None:
    global CONV_LAYOUT
    args = _parse()
    CONV_LAYOUT = args.conv_layout
    if args.memory_child:
        impl, model, sizes = args.memory_child
        print(memory_child(impl, model, json.loads(sizes)))
        return
    device = "cuda" if args.gpu else "cpu"
    if args.gpu and not torch.cuda.is_available():
        sys.exit("--gpu: no CUDA device is available")
    if args.quick:
        sizes = dict(B=4, T=10, N=64, rN=32, cB=2, cT=4)
    elif args.gpu:
        sizes = dict(B=128, T=500, N=4096, rN=1024, cB=64, cT=100)
    else:
        sizes = dict(B=32, T=100, N=1024, rN=512, cB=16, cT=50)
    repeats = args.repeats or (3 if args.quick else 15)
    threads = args.threads or ([torch.get_num_threads()] if args.gpu else [1, 2])
    result: dict[str, Any] = {
        "machine": {"host": platform.node(), "cpu_count": os.cpu_count(), "torch": torch.__version__,
                    "python": platform.python_version(),
                    "device": torch.cuda.get_device_name() if args.gpu else platform.processor() or "cpu"},
        "sizes": sizes, "repeats": repeats, "threads": threads, "conv_layout": CONV_LAYOUT,
        "dense_input_scale": DENSE_SCALE,
        "command": " ".join([Path(sys.executable).name, *sys.argv]), "versions": _versions(), "results": [],
    }  # fmt: skip
    result["load_average_start"] = os.getloadavg()  # other processes on the machine skew CPU timings
    if args.gpu:
        result["copy_bandwidth_GBps"] = copy_bandwidth_gbs()
    for model in args.models:
        group = cases(model, sizes, device, not args.no_peers)
        row: dict[str, Any] = {"model": model}
        reps = max(3, repeats // 3) if model == "conv" else repeats
        for nt in threads:
            torch.set_num_threads(nt)
            for backward in (False, True):
                times = time_interleaved(group, backward, reps, device)
                key = f"{'fwd_bwd_ms' if backward else 'fwd_ms'}_{nt}t"
                row[key] = {k: statistics.median(v) for k, v in times.items()}
            row[f"load_average_after_{nt}t"] = os.getloadavg()
        if device == "cpu" and not args.no_memory:
            torch.set_num_threads(threads[-1])
            row["peak_extra_mb_fwd_bwd"] = measure_memory(group, sizes, args.memory_runs)
        result["results"].append(row)
        print_row(row, threads)
        _write(result, args)
    result["load_average_end"] = os.getloadavg()
    print(f"\nload average (1, 5, 15 min): start {result['load_average_start']}, end {result['load_average_end']}")
    print(f"wrote {_write(result, args)}")


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for dist in ("sinabs", "spikingjelly", "spikekit", "spikekit-kernels"):
        try:
            out[dist] = md.version(dist)
        except Exception:
            pass
    return out


def _write(result: dict[str, Any], args: argparse.Namespace) -> Path:
    out = args.out or RESULTS / f"{'gpu' if args.gpu else 'cpu'}{'-quick' if args.quick else ''}-{platform.node()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    return out


def print_row(row: dict[str, Any], threads: list[int]) -> None:
    print(f"\n{row['model']}:")
    for nt in threads:
        fwd, both = row[f"fwd_ms_{nt}t"], row[f"fwd_bwd_ms_{nt}t"]
        sinabs = next((i for i in both if i.startswith("sinabs")), None)
        print(f"  {nt} thread(s)   {'fwd ms':>10}{'fwd+bwd ms':>12}{'peak MB':>10}{'x sinabs':>10}{'x bound':>10}")
        for i in both:
            mem = row.get("peak_extra_mb_fwd_bwd", {}).get(i, math.nan)
            sp = both[sinabs] / both[i] if sinabs else math.nan
            xb = both[i] / both[BOUND] if BOUND in both else math.nan
            print(f"  {i:<22}{fwd[i]:>10.1f}{both[i]:>12.1f}{mem:>10.1f}{sp:>10.2f}{xb:>10.2f}")


if __name__ == "__main__":
    main()
