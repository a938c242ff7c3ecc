"""How far a recurrent layer on ``fused-cpu`` can get ahead of the reference backend: the products it cannot avoid.

A recurrent layer with ``rec_connect = nn.Linear(N, N)`` computes, per step, ``r_{t+1} = s_t Wᵀ``; its backward
computes ``∂L/∂s_t = ∂L/∂r_{t+1} W`` per step and the weight gradient ``Σ_t (∂L/∂r_{t+1})ᵀ s_t``. An exact
implementation (spikes bitwise equal to the reference backend's) must compute the forward products with the very op
``nn.Linear`` calls, so the reference backend and ``fused-cpu`` share these products; only the elementwise neuron
updates, the autograd bookkeeping and the per-step allocations differ. This script times, interleaved in one process
(medians; wall and CPU time, which the load of a shared machine inflates less):

* ``step products``: the T - 1 forward products and the T - 1 backward products alone (the weight gradient, which
  ``fused-cpu`` builds from the spikes when few are nonzero, is timed apart as one dense product);
* the reference backend and ``fused-cpu``, forward and forward+backward, at ``[32, 100, 512]`` as ``bench_backends``.

Then ``reference / 3`` below ``step products`` means a 3x speed-up over the reference backend is out of reach for
any implementation that computes those products exactly; the input is drawn from ``[0, 2.4)`` as in
``bench_backends`` (about 2 % of the steps spike).

Usage: ``python benchmarks/bench_recurrent_floor.py [--threads 1 2] [--repeats 15] [--out FILE.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

B, T, N, TAU, SCALE = 32, 100, 512, 20.0, 2.4


def _cases() -> dict[str, Callable[[], None]]:
    import spikekit.layers as sl

    x = torch.rand(B, T, N, generator=torch.Generator().manual_seed(0)) * SCALE
    torch.manual_seed(1)
    rec = nn.Linear(N, N, bias=False)
    mods = {b: sl.LIFRecurrent(tau_mem=TAU, rec_connect=rec, backend=b) for b in ("torch", "fused-cpu")}
    w = rec.weight.detach()
    s, r = torch.zeros(B, N), torch.empty(B, N)
    g, spikes, gw = torch.rand(T - 1, B, N), torch.zeros(T - 1, B, N), torch.empty(N, N)

    def products() -> None:
        for _ in range(T - 1):
            torch.mm(s, w.t(), out=r)
        for t in range(T - 1):
            torch.mm(g[t], w, out=r)

    def weight_gradient() -> None:
        torch.mm(g.view(-1, N).t(), spikes.view(-1, N), out=gw)

    def run(mod: nn.Module, backward: bool) -> None:
        mod.reset_states()
        xx = x.clone().requires_grad_(True)
        if backward:
            mod.zero_grad()
            mod(xx).sum().backward()
        else:
            with torch.no_grad():
                mod(xx)

    cases: dict[str, Callable[[], None]] = {"step products": products, "weight grad (dense)": weight_gradient}
    for name, mod in mods.items():
        cases[f"{name} fwd"] = lambda mod=mod: run(mod, False)
        cases[f"{name} fwd+bwd"] = lambda mod=mod: run(mod, True)
    return cases


def measure(threads: int, repeats: int) -> dict[str, dict[str, float]]:
    torch.set_num_threads(threads)
    cases = _cases()
    for f in cases.values():  # warm-up: builds the kernels
        f()
    wall: dict[str, list[float]] = {k: [] for k in cases}
    cpu: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(repeats):
        for k, f in cases.items():
            t0, c0 = time.perf_counter(), time.process_time()
            f()
            wall[k].append((time.perf_counter() - t0) * 1e3)
            cpu[k].append((time.process_time() - c0) * 1e3)
    return {k: {"wall_ms": statistics.median(wall[k]), "cpu_ms": statistics.median(cpu[k])} for k in cases}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    result: dict = {"shape": [B, T, N], "load_start": os.getloadavg(), "threads": {}}
    for nt in args.threads:
        got = measure(nt, args.repeats)
        result["threads"][str(nt)] = got
        print(f"{nt} thread(s)            wall ms    cpu ms")
        for k, v in got.items():
            print(f"  {k:20s} {v['wall_ms']:9.1f} {v['cpu_ms']:9.1f}")
        ref, floor = got["torch fwd+bwd"], got["step products"]
        for clock in ("wall_ms", "cpu_ms"):
            fused = got["fused-cpu fwd+bwd"][clock]
            print(f"  {clock}: reference / 3 = {ref[clock] / 3:.1f}, step products alone = {floor[clock]:.1f}, "
                  f"fused-cpu = {fused:.1f} ({ref[clock] / fused:.2f}x the reference)")  # fmt: skip
    result["load_end"] = os.getloadavg()
    print("load average (1, 5, 15 min): start", result["load_start"], "end", result["load_end"])
    if args.out:
        args.out.write_text(json.dumps(result, indent=2))
        print("wrote", args.out)


if __name__ == "__main__":
    main()
