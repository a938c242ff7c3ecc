"""Build and load the C time loops (``lif_kernels.c``) with the system C compiler, once per machine.

The source is compiled at first use with ``cc -O3 -march=native -ffp-contract=off -fPIC -shared -pthread`` (no Python or torch
headers, so no build dependency beyond a C compiler) into a cache directory keyed by the source's hash, and loaded
with :mod:`ctypes`. When no compiler is found or the build fails, :func:`library` returns None and the fused backend
runs its pure-torch loop instead (same results, slower), after one warning.

Environment:
    ``SPIKEKIT_KERNELS_NO_CC=1`` skips the compiled loop (forces the pure-torch loop).
    ``SPIKEKIT_KERNELS_CACHE`` sets the cache directory (default ``~/.cache/spikekit-kernels``).
    ``CC`` chooses the compiler (default ``cc``, then ``gcc``).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import shutil
import subprocess
import tempfile
import threading
import warnings
from pathlib import Path

__all__ = ["library", "ArgsF32", "ArgsF64"]

_SOURCE = Path(__file__).with_name("lif_kernels.c")
_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_tried = False

_PTRS = (
    "x v0 i0 b0 am as_ thr fl aa asc rc out u isave bsave recv vfin ifin bfin "
    "g_out g_recv g_reci g_recb g_vfin g_ifin g_bfin sg gx gv0 gi0 gb0 gam gas gaa"
).split()


def _struct(real: type) -> type[ctypes.Structure]:
    fields = [("B", ctypes.c_int64), ("T", ctypes.c_int64), ("N", ctypes.c_int64)]
    fields += [("flags", ctypes.c_int), ("spike_kind", ctypes.c_int), ("sg_kind", ctypes.c_int)]
    fields += [("max_spikes", real), ("sg_p", real * 5)]
    fields += [(name, ctypes.c_void_p) for name in _PTRS]
    fields += [("nthreads", ctypes.c_int), ("tid", ctypes.c_int)]
    return type(f"Args_{real.__name__}", (ctypes.Structure,), {"_fields_": fields})


ArgsF32 = _struct(ctypes.c_float)
ArgsF64 = _struct(ctypes.c_double)


def _compiler() -> str | None:
    for cand in (os.environ.get("CC"), "cc", "gcc", "clang"):
        if cand and shutil.which(cand):
            return cand
    return None


def _build(cache: Path) -> Path:
    source = _SOURCE.read_bytes()
    digest = hashlib.sha256(source).hexdigest()[:16]
    target = cache / f"lif_kernels-{digest}.so"
    if target.exists():
        return target
    cc = _compiler()
    if cc is None:
        raise RuntimeError("no C compiler found (tried $CC, cc, gcc, clang)")
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        objs = []
        for real, suf in (("float", "f32"), ("double", "f64")):
            obj = Path(tmp) / f"{suf}.o"
            cmd = [cc, "-O3", "-ffp-contract=off", "-fno-fast-math", "-fno-math-errno", "-fPIC", "-pthread", "-c",
                   str(_SOURCE), f"-DREAL={real}", f"-DSUF={suf}", "-o", str(obj)]  # fmt: skip
            try:  # the cache is per machine, so tune for this CPU (SIMD rounding instructions) where possible
                subprocess.run([*cmd, "-march=native"], check=True, capture_output=True, timeout=120)
            except subprocess.CalledProcessError:
                subprocess.run(cmd, check=True, capture_output=True, timeout=120)
            objs.append(str(obj))
        out = Path(tmp) / "lib.so"
        subprocess.run([cc, "-shared", "-pthread", *objs, "-o", str(out), "-lm"], check=True, capture_output=True)
        os.replace(out, target)  # atomic: concurrent builders both end with a complete file
    return target


def library() -> ctypes.CDLL | None:
    """The loaded kernel library, building it on first use; None if it cannot be built (warns once)."""
    global _lib, _tried
    if _tried:
        return _lib
    with _lock:
        if _tried:
            return _lib
        if os.environ.get("SPIKEKIT_KERNELS_NO_CC", "") not in ("", "0"):
            _tried = True
            return None
        cache = Path(os.environ.get("SPIKEKIT_KERNELS_CACHE", Path.home() / ".cache" / "spikekit-kernels"))
        try:
            lib = ctypes.CDLL(str(_build(cache)))
            for suf, args in (("f32", ArgsF32), ("f64", ArgsF64)):
                size = getattr(lib, f"args_size_{suf}")()
                if size != ctypes.sizeof(args):
                    raise RuntimeError(f"argument struct size mismatch ({size} vs {ctypes.sizeof(args)})")
                for fn in ("lif_forward", "lif_backward"):
                    getattr(lib, f"{fn}_{suf}").argtypes = [ctypes.POINTER(args)]
            _lib = lib
        except Exception as exc:  # any build or load failure: use the torch loop
            detail = (
                exc.stderr.decode(errors="replace")[-500:] if isinstance(exc, subprocess.CalledProcessError) else ""
            )
            warnings.warn(
                f"spikekit-kernels: could not build the compiled CPU loop ({exc}) {detail}; "
                "the fused-cpu backend uses its pure-torch loop instead (same results, slower)",
                RuntimeWarning,
                stacklevel=2,
            )
            _lib = None
        _tried = True
        return _lib
