"""What the layers' safety checks cost per call: the concurrent-use check of ``StatefulLayer.__call__`` and the
input checks, against calling the same layer through plain ``nn.Module.__call__``.

Constructor validation runs once per layer (``__init__``), so its cost is measured per construction. Per-call
costs are measured on a stateful layer whose forward does nothing (the check alone), on the smallest useful layer (``IAF`` on ``(1, 1, 1)``: the overhead's worst case, where the
layer does almost nothing else) and on a realistic one (``LIF`` on ``(32, 100, 256)``). Implementations are
interleaved round-robin; the median of ``--repeats`` rounds is reported with the load average (the machine is
shared, so timings are noisy).

Usage:
    python benchmarks/bench_layer_checks.py            # writes benchmarks/results/layer-checks-<host>.json
    python benchmarks/bench_layer_checks.py --quick    # fewer rounds
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

RESULTS = Path(__file__).parent / "results"


def _per_call(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls


def _compare(layer: nn.Module, x: torch.Tensor, calls: int, repeats: int) -> dict[str, float]:
    with torch.no_grad():
        checked = lambda: layer(x)  # noqa: E731  StatefulLayer.__call__: the concurrent-use check
        plain = lambda: nn.Module.__call__(layer, x)  # noqa: E731  the same call without it
        checked(), plain()
        rounds: dict[str, list[float]] = {"with check (us)": [], "plain nn.Module.__call__ (us)": []}
        for _ in range(repeats):
            rounds["with check (us)"].append(_per_call(checked, calls) * 1e6)
            rounds["plain nn.Module.__call__ (us)"].append(_per_call(plain, calls) * 1e6)
    result = {k: round(statistics.median(v), 3) for k, v in rounds.items()}
    result["difference (us)"] = round(result["with check (us)"] - result["plain nn.Module.__call__ (us)"], 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    import spikekit.layers as sl

    torch.set_num_threads(1)
    repeats = 5 if args.quick else args.repeats
    load_start = os.getloadavg()
    from spikekit.state import StatefulLayer

    class Passthrough(StatefulLayer):  # forward does nothing: isolates the check itself
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x

    check_only = _compare(Passthrough(state_names=[]), torch.rand(1), 2000 if args.quick else 50000, repeats)
    small = _compare(sl.IAF(), torch.rand(1, 1, 1), 200 if args.quick else 2000, repeats)
    big = _compare(sl.LIF(tau_mem=20.0), torch.rand(32, 100, 256), 3 if args.quick else 20, repeats)
    construct = statistics.median(
        _per_call(lambda: sl.LIF(tau_mem=20.0, tau_syn=5.0, spike_threshold=torch.ones(256)), 200) * 1e6
        for _ in range(repeats)
    )
    report = {
        "host": platform.node(),
        "torch": torch.__version__,
        "threads": 1,
        "loadavg_start_end": [load_start, os.getloadavg()],
        "StatefulLayer with an empty forward, per call (the check alone)": check_only,
        "IAF (1, 1, 1), per call": small,
        "LIF (32, 100, 256), per call": big,
        "LIF construction incl. validation (us)": round(construct, 1),
    }
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"layer-checks-{platform.node() or 'host'}.json"
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
