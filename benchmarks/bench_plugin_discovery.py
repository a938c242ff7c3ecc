"""Cost of ``import spikekit`` and of plugin discovery, each measured in fresh interpreters.

Every sample is a new ``python`` process that times, with ``time.perf_counter``:

* ``import_spikekit``: ``import spikekit`` (no plugin is loaded by it);
* ``discovery``: the first lookup after that (``spikekit.plugins.host().exports("spikekit.layers")``): reading the
  entry points, importing every plugin module and calling its hooks;
* ``first_name``: resolving ``spikekit.layers.LIF`` after discovery (imports the layer's module);
* ``cli_help``: the wall time of ``python -m spikekit --help`` (a whole process).

``--src CHECKOUT`` measures another checkout of the repository (its package sources go first on ``PYTHONPATH``, in
front of the installed editable ones; the installed entry points are used), so a before/after pair is::

    python benchmarks/bench_plugin_discovery.py --src /path/to/old/checkout --label before
    python benchmarks/bench_plugin_discovery.py --label after

Results (median and min of ``--repeat`` samples, with the load average at start and end) go to
``benchmarks/results/discovery-<label>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
PROBE = """
import time, json
t0 = time.perf_counter()
import spikekit
t1 = time.perf_counter()
import spikekit.plugins
spikekit.plugins.host().exports("spikekit.layers")
t2 = time.perf_counter()
spikekit.layers.LIF
t3 = time.perf_counter()
print(json.dumps({"import_spikekit": t1 - t0, "discovery": t2 - t1, "first_name": t3 - t2}))
"""


def _env(src: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if src is not None:
        paths = [
            str(p / "src") for p in sorted([*src.glob("packages/*"), *src.glob("plugins/*")]) if (p / "src").is_dir()
        ]
        env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def _sample(env: dict[str, str]) -> dict[str, float]:
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, check=True)
    times = json.loads(run.stdout.strip().splitlines()[-1])
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "spikekit", "--help"], capture_output=True, env=env, check=True)
    times["cli_help"] = time.perf_counter() - t0
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=None, help="a checkout to measure instead of the installed one")
    parser.add_argument("--label", default="current", help="name of the result file (discovery-<label>.json)")
    parser.add_argument("--repeat", type=int, default=7, help="fresh interpreters per measurement")
    args = parser.parse_args()
    env = _env(args.src)
    load_start = os.getloadavg()
    _sample(env)  # warm the file cache and bytecode caches once
    samples = [_sample(env) for _ in range(args.repeat)]
    result = {
        "label": args.label,
        "source": str(args.src) if args.src else "installed",
        "python": platform.python_version(),
        "repeat": args.repeat,
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
        "seconds": {
            key: {"median": statistics.median(s[key] for s in samples), "min": min(s[key] for s in samples)}
            for key in samples[0]
        },
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"discovery-{args.label}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    for key, value in result["seconds"].items():
        print(f"{key:16s} median {value['median'] * 1000:8.1f} ms   min {value['min'] * 1000:8.1f} ms")
    print(f"load average {load_start[0]:.1f} -> {result['loadavg_end'][0]:.1f}; written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
