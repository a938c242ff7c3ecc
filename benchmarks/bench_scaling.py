"""How one LIF layer's forward+backward time grows with T, N and B, for every implementation in its fastest CPU
mode (spikekit's reference and ``fused-cpu`` backends, sinabs 3.1.3 and spikingjelly 2.0 where importable) and the
byte-moving bound (two clones of the input), with the workloads and timing of ``bench_backends.py``: the same input
and weights for everyone, implementations interleaved round-robin, medians.

Sweeps around ``[B=16, T=100, N=1024]``: T in 25 ... 400, N in 256 ... 16384, B in 4 ... 64 (``--quick``: a few
small sizes). Writes the results as JSON (``benchmarks/results/scaling-<host>.json`` or ``--out``) with the load
average at the start and the end, and a plot of the three sweeps (``--plot``, default ``docs/backends/scaling.svg``).

Usage:
    python benchmarks/bench_scaling.py                       # 2 threads, writes the JSON and the plot
    python benchmarks/bench_scaling.py --threads 1 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
from bench_backends import BOUND, RESULTS, bound_case, dense_case, impls_for, time_interleaved

BASE = dict(B=16, T=100, N=1024)
SWEEPS = {"T": [25, 50, 100, 200, 400], "N": [256, 1024, 4096, 16384], "B": [4, 16, 64]}
QUICK = {"T": [10, 20], "N": [32, 64], "B": [2, 4]}
DOCS_PLOT = Path(__file__).parents[1] / "docs" / "backends" / "scaling.svg"


def _parse() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--quick", action="store_true", help="a few small sizes (smoke test)")
    ap.add_argument("--no-peers", action="store_true", help="skip sinabs and spikingjelly")
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--plot", type=Path, default=DOCS_PLOT, help="where the plot goes ('' for none)")
    ap.add_argument("--from-json", type=Path, default=None, help="only draw the plot of an earlier results file")
    return ap.parse_args()


def measure(sweeps: dict[str, list[int]], base: dict[str, int], repeats: int, peers: bool) -> list[dict[str, Any]]:
    """One row per (swept dimension, value): forward+backward medians in ms per implementation, and the bound."""
    rows = []
    for dim, values in sweeps.items():
        for v in values:
            size = dict(base, **{dim: v})
            B, T, N = size["B"], size["T"], size["N"]
            group = [c for c in (dense_case(i, "lif", B, T, N, "cpu") for i in impls_for("cpu", peers)) if c]
            group.append(bound_case("lif", (B, T, N), "cpu"))
            times = time_interleaved(group, True, repeats, "cpu")
            row = {"dim": dim, "value": v, **size, "fwd_bwd_ms": {k: statistics.median(t) for k, t in times.items()}}
            print(dim, v, {k: round(t, 2) for k, t in row["fwd_bwd_ms"].items()}, flush=True)
            rows.append(row)
    return rows


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"  # text stays text: a small file

    dims = list(dict.fromkeys(r["dim"] for r in result["rows"]))
    fig, axes = plt.subplots(1, len(dims), figsize=(4.2 * len(dims), 3.6), constrained_layout=True)
    for ax, dim in zip(axes, dims):
        rows = [r for r in result["rows"] if r["dim"] == dim]
        for impl in rows[0]["fwd_bwd_ms"]:
            xs = [r["value"] for r in rows]
            ys = [r["fwd_bwd_ms"][impl] for r in rows]
            ax.plot(xs, ys, "k--" if impl == BOUND else "o-", label=impl, linewidth=1.2, markersize=3)
        fixed = ", ".join(f"{k}={v}" for k, v in result["base"].items() if k != dim)
        ax.set(xscale="log", yscale="log", xlabel=dim, title=f"LIF forward+backward ({fixed})")
        ax.set_xticks([r["value"] for r in rows], [str(r["value"]) for r in rows])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel(f"ms (median, {result['threads']} threads)")
    axes[-1].legend(fontsize=7)
    load = result["load_average_start"][0], result["load_average_end"][0]
    fig.suptitle(f"load average {load[0]:.1f} at the start, {load[1]:.1f} at the end", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, metadata={"Date": None})
    plt.close(fig)


def main() -> None:
    args = _parse()
    if args.from_json:
        plot(json.loads(args.from_json.read_text()), args.plot)
        return
    torch.set_num_threads(args.threads)
    sweeps, base = (QUICK, dict(B=2, T=10, N=32)) if args.quick else (SWEEPS, BASE)
    result: dict[str, Any] = {
        "machine": {"host": platform.node(), "cpu_count": os.cpu_count(), "torch": torch.__version__},
        "threads": args.threads, "repeats": args.repeats, "base": base, "command": " ".join(sys.argv),
        "load_average_start": os.getloadavg(),
    }  # fmt: skip
    result["rows"] = measure(sweeps, base, args.repeats, not args.no_peers)
    result["load_average_end"] = os.getloadavg()
    out = args.out or RESULTS / f"scaling{'-quick' if args.quick else ''}-{platform.node()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")
    if str(args.plot):
        plot(result, args.plot)
        print(f"wrote {args.plot}")


if __name__ == "__main__":
    main()
