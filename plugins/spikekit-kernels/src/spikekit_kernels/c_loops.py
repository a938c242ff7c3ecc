"""Python bindings of the compiled C loops (``lif_kernels.c``): the op's arguments
(:mod:`spikekit_kernels.op_spec`) turned into the C argument struct, and one call of ``lif_forward`` /
``lif_backward`` for a whole layer. The libraries come from :mod:`spikekit_kernels.build_cache`; where none is
available (no compiler, a refused cache) :func:`forward` and :func:`backward` return None and the caller runs the
torch loop.

The neurons are independent and the loop threads over batch rows and neuron blocks. Parameters are read with their
own strides (a broadcast parameter is never materialised), and so is the output gradient (the gradient of a sum
arrives as one expanded number). Entries of the input gradient below the dtype's smallest normal number are stored
as zero (see :func:`spikekit_kernels.torch_loop.flush_subnormals`).
"""

from __future__ import annotations

import ctypes
import sys
from typing import Any

import torch

from spikekit_kernels import build_cache, c_abi
from spikekit_kernels._plan import F_ALIF, F_SYN
from spikekit_kernels.op_spec import PARAMS, BackwardArgs, ForwardArgs, params_of, saves

__all__ = ["use_c", "lib_for", "args_for", "set_params", "ptr", "forward", "backward"]

Tensor = torch.Tensor


_HUGE = 2 << 20  # bytes of a transparent huge page (x86-64, arm64 with 4 KiB pages)
_MADV_HUGEPAGE = 14
_libc: Any = False


def _madvise() -> Any:
    global _libc
    if _libc is False:
        try:
            _libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None
            _libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        except (OSError, AttributeError):
            _libc = None
    return _libc


def huge_pages(t: Tensor) -> Tensor:
    """Ask Linux to back the fresh (untouched) buffer ``t`` with transparent huge pages where that is allowed
    (``madvise`` mode, the usual default): a large new output is otherwise faulted in 4 KiB at a time as the loop
    first writes it, which cost more than the loop itself for a 52 MB output (fresh memory from ``mmap`` on every
    call). Only the 2 MiB-aligned interior is advised; values are unaffected. Returns ``t``."""
    nbytes = t.numel() * t.element_size()
    if nbytes < 2 * _HUGE or (libc := _madvise()) is None:
        return t
    p = t.data_ptr()
    start, end = -(-p // _HUGE) * _HUGE, (p + nbytes) // _HUGE * _HUGE
    if end > start:
        libc.madvise(start, end - start, _MADV_HUGEPAGE)  # a refusal (EINVAL where THP is off) changes nothing
    return t


def use_c(x: Tensor) -> bool:
    """Whether the compiled loop may run for ``x`` (CPU, float32/float64, a C compiler present)."""
    return x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64) and build_cache.available()


def _real(x: Tensor) -> str:
    return "float" if x.dtype == torch.float32 else "double"


def lib_for(x: Tensor, flags: int, spike_kind: int, sg_kind: int) -> ctypes.CDLL | None:
    """The compiled loop specialised for this configuration, or None (then the torch loop runs)."""
    if not use_c(x):
        return None
    return build_cache.library(_real(x), flags, spike_kind, sg_kind)


def args_for(x: Tensor) -> type[ctypes.Structure]:
    """The C argument struct for ``x``'s dtype."""
    return c_abi.args_type(_real(x))


def ptr(t: Tensor | None) -> int | None:
    """The address of ``t``'s data, None for a tensor that is not there (None or empty)."""
    return None if t is None or t.numel() == 0 else t.data_ptr()


def set_params(a: ctypes.Structure, params: tuple[Tensor, ...]) -> None:
    """Point the kernel at the (B, N) parameters (in :data:`~spikekit_kernels.op_spec.PARAMS` order) with their own
    strides: broadcast parameters (stride 0) are never materialised; the kernel gathers each block."""
    for q, (name, t) in enumerate(zip(PARAMS, params)):
        if t.dim() != 2:  # not a (B, N) view: make it one
            t = t.reshape(a.B, a.N)
        setattr(a, name, t.data_ptr() if t.numel() else None)
        a.psb[q] = t.stride(0) if t.size(0) > 1 else 0
        a.psn[q] = t.stride(1) if t.size(1) > 1 else 0


def forward(*args: object) -> tuple[Tensor, ...] | None:
    """``lif_forward`` as one compiled call; None when no library is available for this configuration."""
    a = ForwardArgs(*args)
    lib = lib_for(a.x, a.flags, a.spike_kind, a.sg_kind)
    if lib is None:
        return None
    keep_u, keep_i, keep_b = saves(a.x, a.flags, a.record, a.sg_kind)
    x, v0, i0, b0 = (t.contiguous() for t in (a.x, a.v0, a.i0, a.b0))
    B, T, N = x.shape
    full = lambda on: huge_pages(torch.empty_like(x)) if on else x.new_empty(0)  # noqa: E731
    out, u, isave, bsave, recv = full(True), full(keep_u), full(keep_i), full(keep_b), full(a.record)
    vfin = torch.empty_like(v0)
    ifin = torch.empty_like(v0) if a.flags & F_SYN else x.new_empty(0)
    bfin = torch.empty_like(v0) if a.flags & F_ALIF else x.new_empty(0)
    c = args_for(x)(B=B, T=T, N=N, max_spikes=a.max_spikes, nthreads=torch.get_num_threads())
    set_params(c, params_of(a))
    for name, t in (("x", x), ("v0", v0), ("i0", i0), ("b0", b0), ("out", out), ("u", u), ("isave", isave),
                    ("bsave", bsave), ("recv", recv), ("vfin", vfin), ("ifin", ifin), ("bfin", bfin)):  # fmt: skip
        setattr(c, name, ptr(t))
    if lib.lif_forward(ctypes.byref(c)) != 0:
        raise RuntimeError("spikekit-kernels: the fused forward loop could not start its threads")
    return out, u, isave, bsave, recv, vfin, ifin, bfin


_BACKWARD_PTRS = ("x u isave bsave v0 i0 b0 g_out g_recv g_reci g_recb g_vfin g_ifin g_bfin sg gx gv0 gi0 gb0 "
                  "g_alpha_mem g_alpha_syn g_alpha_adapt").split()  # fmt: skip


def backward(*args: object) -> tuple[Tensor, ...] | None:
    """``lif_backward`` as one compiled call (it recomputes the forward's steps when the forward kept none); None
    when no library is available for this configuration."""
    a = BackwardArgs(*args)
    x = a.x
    lib = lib_for(x, a.flags, a.spike_kind, a.sg_kind)
    if lib is None:
        return None
    B, T, N = x.shape
    syn, alif = bool(a.flags & F_SYN), bool(a.flags & F_ALIF)
    state = lambda on: x.new_empty(B, N) if on else x.new_empty(0)  # noqa: E731  (the kernel writes every entry)
    outs = [
        huge_pages(x.new_empty(B, T, N)),
        state(True),
        state(syn),
        state(alif),
        state(True),
        state(syn),
        state(alif),
    ]
    g_out = a.g_out if a.g_out.dtype == x.dtype and a.g_out.device == x.device else a.g_out.to(x)
    gsb, gst, gsn = (g_out.stride(d) if g_out.size(d) > 1 else 0 for d in range(3))
    c = args_for(x)(B=B, T=T, N=N, gsb=gsb, gst=gst, gsn=gsn, max_spikes=a.max_spikes,
                    nthreads=torch.get_num_threads())  # fmt: skip
    for j, p in enumerate(a.sg_params[:5]):
        c.sg_p[j] = p
    set_params(c, params_of(a))
    cont = lambda t: None if t is None else t.contiguous()  # noqa: E731
    keep = [cont(t) for t in (x, a.u, a.isave, a.bsave, a.v0, a.i0, a.b0)]
    keep += [g_out, *(cont(t) for t in (a.g_recv, a.g_reci, a.g_recb, a.g_vfin, a.g_ifin, a.g_bfin, a.sg))]
    for name, t in zip(_BACKWARD_PTRS, [*keep, *outs]):
        setattr(c, name, ptr(t))
    if lib.lif_backward(ctypes.byref(c)) != 0:
        raise RuntimeError("spikekit-kernels: the fused backward loop could not allocate its recomputation buffer")
    return tuple(outs)
