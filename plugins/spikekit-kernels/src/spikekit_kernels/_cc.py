"""Build and load the C time loops (``lif_kernels.c``) with the system C compiler: one small shared library per
configuration, compiled at first use and cached on disk.

Each configuration (dtype, the model's flag bits, spike kind, surrogate kind) is compiled with
``cc -O3 -march=native -ffp-contract=off -fno-math-errno -fPIC -shared -pthread`` and the configuration as macros,
so that every branch of the inner loop is resolved at compile time and the loop over neurons vectorises (about 0.3 s
per configuration, once per machine). There are no Python or torch headers, so there is no build dependency beyond a
C compiler. Not used: ``-ffast-math`` or any of its parts that change values (``-fassociative-math``,
``-freciprocal-math``, ``-ffinite-math-only``, ``-fno-signed-zeros``), nor ``-fno-trapping-math``; ``-fno-math-errno``
only lets the compiler inline ``rint``/``fabs``/``copysign`` (no value changes). ``-march=native`` is safe because
the cache key includes this CPU's model and feature flags.

The libraries live in a cache directory under a name made of the source's hash, the compiler flags, the CPU and the
configuration; a build writes into a private temporary directory and moves the result into place with an atomic
rename, so concurrent processes never see a partial file. When no compiler is found, :func:`library` returns None
and the fused backend runs its pure-torch loop instead (same results, slower), after one warning.

Environment:
    ``SPIKEKIT_KERNELS_NO_CC=1`` skips the compiled loop (forces the pure-torch loop).
    ``SPIKEKIT_KERNELS_CACHE`` sets the cache directory (default ``~/.cache/spikekit-kernels``).
    ``CC`` chooses the compiler (default ``cc``, then ``gcc``, ``clang``).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

__all__ = ["library", "available", "ArgsF32", "ArgsF64"]

_SOURCE = Path(__file__).with_name("lif_kernels.c")
_FLAGS = ["-O3", "-ffp-contract=off", "-fno-fast-math", "-fno-math-errno", "-fPIC", "-shared", "-pthread"]
_lock = threading.Lock()
_libs: dict[tuple, ctypes.CDLL | None] = {}
_compiler_checked = False
_cc_path: str | None = None

_PTRS = (
    "x v0 i0 b0 am as_ thr fl aa asc rc out u isave bsave recv vfin ifin bfin "
    "g_out g_recv g_reci g_recb g_vfin g_ifin g_bfin sg gx gv0 gi0 gb0 gam gas gaa"
).split()


def _struct(real: type) -> type[ctypes.Structure]:
    fields = [(n, ctypes.c_int64) for n in ("B", "T", "N", "gsb", "gst", "gsn")]
    fields += [("psb", ctypes.c_int64 * 7), ("psn", ctypes.c_int64 * 7)]
    fields += [("max_spikes", real), ("sg_p", real * 5)]
    fields += [(name, ctypes.c_void_p) for name in _PTRS]
    fields += [("nthreads", ctypes.c_int), ("next", ctypes.c_int64)]
    return type(f"Args_{real.__name__}", (ctypes.Structure,), {"_fields_": fields})


ArgsF32 = _struct(ctypes.c_float)
ArgsF64 = _struct(ctypes.c_double)


def _compiler() -> str | None:
    for cand in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cand and shutil.which(cand):
            return cand
    return None


def _cpu_id() -> str:
    """This CPU's model and feature flags (a library built with -march=native runs only where these match)."""
    try:
        with open("/proc/cpuinfo") as f:
            keep = [ln for ln in f.read().splitlines() if ln.split(":")[0].strip() in ("model name", "flags")]
        return "\n".join(sorted(set(keep)))
    except OSError:
        return platform.machine() + platform.processor()


_CPU = _cpu_id()


def available() -> bool:
    """Whether the compiled loop may be used (a C compiler exists and it is not disabled); warns once if not."""
    global _compiler_checked, _cc_path
    if os.environ.get("SPIKEKIT_KERNELS_NO_CC", "") not in ("", "0"):
        return False
    if not _compiler_checked:
        with _lock:
            if not _compiler_checked:
                _cc_path = _compiler()
                if _cc_path is None:
                    warnings.warn(
                        "spikekit-kernels: no C compiler found (tried $CC, cc, gcc, clang); the fused-cpu backend "
                        "uses its pure-torch loop instead (same results, slower)",
                        RuntimeWarning,
                        stacklevel=3,
                    )
                _compiler_checked = True
    return _cc_path is not None


def _build(cache: Path, real: str, config: tuple[int, int, int]) -> Path:
    flags, spike_kind, sg_kind = config
    defines = [f"-DREAL={real}", f"-DFLAGS={flags}", f"-DSPK={spike_kind}", f"-DSG={sg_kind}"]
    h = hashlib.sha256(_SOURCE.read_bytes())
    h.update(" ".join(_FLAGS).encode() + _CPU.encode() + str(_cc_path).encode())
    name = f"lif-{h.hexdigest()[:12]}-{real}-f{flags}-s{spike_kind}-g{sg_kind}.so"
    target = cache / name
    if target.exists():
        return target
    assert _cc_path is not None
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache, prefix=".build-") as tmp:
        out = Path(tmp) / name
        cmd = [_cc_path, *_FLAGS, *defines, str(_SOURCE), "-o", str(out), "-lm"]
        try:  # the cache is per CPU, so tune for this one (SIMD width, rounding instructions) where possible
            subprocess.run([*cmd, "-march=native"], check=True, capture_output=True, timeout=120)
        except subprocess.CalledProcessError:
            subprocess.run(cmd, check=True, capture_output=True, timeout=120)
        os.replace(out, target)  # atomic: concurrent builders both end with a complete file
    return target


def library(real: str, flags: int, spike_kind: int, sg_kind: int) -> ctypes.CDLL | None:
    """The compiled loop for one configuration (``real`` is ``"float"`` or ``"double"``), built on first use;
    None when it cannot be built (warns once per configuration) or no compiler is available."""
    key = (real, flags, spike_kind, sg_kind)
    lib = _libs.get(key, False)
    if lib is not False:
        return lib  # type: ignore[return-value]
    if not available():
        return None
    with _lock:
        if key in _libs:
            return _libs[key]
        cache = Path(os.environ.get("SPIKEKIT_KERNELS_CACHE", Path.home() / ".cache" / "spikekit-kernels"))
        Args = ArgsF32 if real == "float" else ArgsF64
        try:
            lib = ctypes.CDLL(str(_build(cache, real, key[1:])))
            size = lib.args_size()
            if size != ctypes.sizeof(Args):
                raise RuntimeError(f"argument struct size mismatch ({size} vs {ctypes.sizeof(Args)})")
            for fn in ("lif_forward", "lif_backward"):
                getattr(lib, fn).argtypes = [ctypes.POINTER(Args)]
            _libs[key] = lib
        except Exception as exc:  # any build or load failure: use the torch loop for this configuration
            detail = (
                exc.stderr.decode(errors="replace")[-500:] if isinstance(exc, subprocess.CalledProcessError) else ""
            )
            warnings.warn(
                f"spikekit-kernels: could not build the compiled CPU loop for configuration {key} ({exc}) {detail}; "
                "the fused-cpu backend uses its pure-torch loop for it instead (same results, slower)",
                RuntimeWarning,
                stacklevel=3,
            )
            _libs[key] = None
        return _libs[key]
