#!/usr/bin/env bash
# One GPU session for the triton backend: install from the working tree (no network), run the Triton tests and the
# backend conformance on CUDA, then the interleaved benchmark; everything lands in one results folder.
#
#   benchmarks/gpu/run_gpu.sh [--dry-run] [RESULTS_DIR]
#
# --dry-run: the same flow on the CPU (tiny sizes, TRITON_INTERPRET=1, installs checked with `pip install --dry-run`).
# PYTHON selects the interpreter (default python3); it must already have torch with CUDA and triton (as GPU images do).
# Peer libraries come from wheels in benchmarks/gpu/wheels/ (pure Python; see benchmarks/gpu/README.md to fetch them).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
DRY=0
if [ "${1:-}" = "--dry-run" ]; then DRY=1; shift; fi
OUT="${1:-benchmarks/results/gpu-$(date -u +%Y%m%dT%H%M%SZ)$([ $DRY = 1 ] && echo -dry-run)}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"
LOG="$OUT/run.log"
echo "run_gpu.sh dry_run=$DRY python=$PY $(date -u)" | tee "$LOG"

# 1. install: spikekit's packages from the tree, peers from carried wheels; nothing from an index
PKGS=()
for p in packages/spikekit plugins/*; do [ -f "$p/pyproject.toml" ] && PKGS+=(-e "$p"); done
WHEELS=(benchmarks/gpu/wheels/*.whl)
PIPDRY=()
[ $DRY = 1 ] && PIPDRY=(--dry-run)
if [ $DRY = 0 ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-build-isolation "${PKGS[@]}" 2>&1 | tee -a "$LOG"
fi
if [ -e "${WHEELS[0]}" ]; then
  "$PY" -m pip install -q "${PIPDRY[@]}" --no-index --no-deps "${WHEELS[@]}" 2>&1 | tee -a "$LOG"
else
  echo "no wheels in benchmarks/gpu/wheels: sinabs and spikingjelly are skipped" | tee -a "$LOG"
fi
"$PY" - <<'EOF' 2>&1 | tee "$OUT/environment.txt"
import importlib.metadata as md, platform, torch
print("python", platform.python_version(), "torch", torch.__version__, "cuda", torch.version.cuda)
print("device", torch.cuda.get_device_name() if torch.cuda.is_available() else "none")
for d in ("triton", "spikekit", "spikekit-kernels", "sinabs", "spikingjelly"):
    try:
        print(d, md.version(d))
    except Exception:
        print(d, "not installed")
EOF

# 2. tests: the kernels in the interpreter (always), the backend on CUDA (skips without a device)
TESTS=(plugins/spikekit-kernels/tests/test_kernels_triton.py plugins/spikekit-kernels/tests/test_kernels_triton_cuda.py
       plugins/spikekit-kernels/tests/test_kernels_conformance.py)
if [ $DRY = 1 ]; then export TRITON_INTERPRET=1; fi
"$PY" -m pytest "${TESTS[@]}" -q -p no:cacheprovider -rs --junitxml "$OUT/tests.xml" 2>&1 | tee "$OUT/tests.log"
TEST_RC=${PIPESTATUS[0]}
unset TRITON_INTERPRET

# 3. benchmark
DRYFLAG=()
[ $DRY = 1 ] && DRYFLAG=(--dry-run)
"$PY" benchmarks/gpu/gpu_suite.py "${DRYFLAG[@]}" --out "$OUT" 2>&1 | tee "$OUT/bench.log"
BENCH_RC=${PIPESTATUS[0]}
echo "tests rc=$TEST_RC bench rc=$BENCH_RC; results in $OUT" | tee -a "$LOG"
[ "$TEST_RC" = 0 ] && [ "$BENCH_RC" = 0 ]
