"""The binary interface of the compiled loops (``lif_kernels.c``): the argument struct and the exported functions'
prototypes, shared by the build cache (which checks a loaded library against them) and the bindings that call it."""

from __future__ import annotations

import ctypes
from typing import Any

__all__ = ["ArgsF32", "ArgsF64", "Rec", "args_type", "bind"]

# pointers of the C struct ``Args``, in its order
_PTRS = (
    "x v0 i0 b0 alpha_mem alpha_syn threshold floor alpha_adapt adapt_scale reset_const "
    "out u isave bsave recv vfin ifin bfin rec xsave g_out g_recv g_reci g_recb g_vfin g_ifin g_bfin sg gx gv0 gi0 "
    "gb0 g_alpha_mem g_alpha_syn g_alpha_adapt"
).split()


def _struct(real: type[ctypes.c_float] | type[ctypes.c_double]) -> type[ctypes.Structure]:
    fields: list[tuple[str, Any]] = [(n, ctypes.c_int64) for n in ("B", "T", "N", "gsb", "gst", "gsn", "xsb")]
    fields += [("psb", ctypes.c_int64 * 7), ("psn", ctypes.c_int64 * 7)]
    fields += [("max_spikes", real), ("sg_p", real * 5)]
    fields += [(name, ctypes.c_void_p) for name in _PTRS]
    fields += [(name, ctypes.c_int) for name in ("nthreads", "stream", "accumulate")] + [("next", ctypes.c_int64)]
    return type(f"Args_{real.__name__}", (ctypes.Structure,), {"_fields_": fields})


ArgsF32 = _struct(ctypes.c_float)
ArgsF64 = _struct(ctypes.c_double)

# the C struct ``Rec`` (one recurrent layer's whole time loop): its fields, in order
_REC = [("T", ctypes.c_int64), ("stride", ctypes.c_int64), ("gemm", ctypes.c_void_p), ("w", ctypes.c_void_p),
        ("bias", ctypes.c_void_p), ("r", ctypes.c_void_p), ("x", ctypes.c_void_p)]  # fmt: skip
_REC += [(n, ctypes.c_void_p) for n in ("xp", "s", "wv", "is_", "bs", "g_out")]
_REC += [(n, ctypes.c_int64) for n in ("gob", "got", "gon")]
_REC += [(n, ctypes.c_void_p) for n in ("gs", "v0", "i0", "b0", "grv", "gri", "grb", "gx", "wt")]
_REC += [("kc", ctypes.c_int64), ("part", ctypes.c_void_p), ("nthreads", ctypes.c_int64)]
_REC += [("compute", ctypes.c_void_p), ("wpacked", ctypes.c_void_p)]
Rec = type("Rec", (ctypes.Structure,), {"_fields_": _REC})


def args_type(real: str) -> type[ctypes.Structure]:
    """The argument struct of the ``"float"`` or ``"double"`` library."""
    return ArgsF32 if real == "float" else ArgsF64


def bind(lib: ctypes.CDLL, real: str) -> str | None:
    """Set the prototypes of ``lib``'s functions; the reason it does not fit this interface, or None."""
    Args = args_type(real)
    i64, ptr = ctypes.c_int64, ctypes.c_void_p
    try:
        size = lib.args_size()
        for fn in ("lif_forward", "lif_backward"):
            getattr(lib, fn).argtypes = [ctypes.POINTER(Args)]
        lib.spike_weight_grad.argtypes = [ptr, ptr, i64, i64, i64, i64, i64, i64, ptr, ctypes.c_int]
        for fn in ("lif_recurrent_forward", "lif_recurrent_backward"):
            getattr(lib, fn).argtypes = [ctypes.POINTER(Args), ctypes.POINTER(Rec)]
        lib.sparse_rec_product.argtypes = [ptr, ptr, ptr, i64, i64, i64, i64, ptr, ptr, ctypes.c_int]
        rec_size = lib.rec_size()
    except AttributeError as exc:
        return f"lacks a symbol of ours ({exc})"
    if size != ctypes.sizeof(Args):
        return f"argument struct size mismatch ({size} vs {ctypes.sizeof(Args)})"
    if rec_size != ctypes.sizeof(Rec):
        return f"recurrent struct size mismatch ({rec_size} vs {ctypes.sizeof(Rec)})"
    return None
