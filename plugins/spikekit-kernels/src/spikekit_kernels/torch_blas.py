"""The BLAS matrix product that torch itself calls for ``torch.mm`` / ``torch.addmm`` on the CPU, for the compiled
recurrent loop (:mod:`spikekit_kernels.recurrent`), which takes each step's product with the recurrent weight from C.

torch's Linux wheels link a BLAS (MKL on x86-64, OpenBLAS elsewhere) into ``libtorch_cpu`` and export its Fortran
``sgemm_`` / ``dgemm_``; torch's CPU ``mm`` and ``addmm`` call it with fixed arguments (row-major operands passed
transposed). The C loop calls the same function with the same arguments, so its products have the reference's bits.
That is not taken on trust: :func:`gemm_for` computes one product of the layer's own shape both ways (with the
layer's weight and bias, the current number of threads) and hands out the function only when the two are bitwise
equal; otherwise (another BLAS, a oneDNN path, no such symbol) it returns None and the per-step loop in Python runs,
with torch's products.
"""

from __future__ import annotations

import ctypes
import os
import threading

import torch

__all__ = ["gemm_for", "packed_weight", "sparse_block"]

Tensor = torch.Tensor
_lib: ctypes.CDLL | bool | None = False
_lock = threading.Lock()
_probed: dict[tuple, bool] = {}
_blocks: dict[tuple, int] = {}
# candidate blocks of the summed dimension (besides none at all): what BLAS kernels use on current x86 and ARM CPUs
_KC = (192, 128, 256, 384, 64, 96, 160, 224, 320, 512)
_GEMM = {torch.float32: ("sgemm_", ctypes.c_float), torch.float64: ("dgemm_", ctypes.c_double)}
_PACK = {torch.float32: "cblas_sgemm_", torch.float64: "cblas_dgemm_"}
# CBLAS enums: column-major, no transpose, the operand passed packed, the A operand
_COL_MAJOR, _NO_TRANS, _PACKED, _A_MATRIX = 102, 111, 151, 161


def _torch_cpu() -> ctypes.CDLL | None:
    global _lib
    if _lib is False:
        path = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")
        try:
            _lib = ctypes.CDLL(path) if os.path.isfile(path) else None
        except OSError:
            _lib = None
    return _lib  # type: ignore[return-value]


def _function(dtype: torch.dtype) -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    lib = _torch_cpu()
    name, real = _GEMM[dtype]
    fn = getattr(lib, name, None) if lib is not None else None
    if fn is None:
        return None
    i, p = ctypes.POINTER(ctypes.c_int), ctypes.c_void_p
    fn.argtypes = [ctypes.c_char_p, ctypes.c_char_p, i, i, i, ctypes.POINTER(real), p, i, p, i,
                   ctypes.POINTER(real), p, i]  # fmt: skip
    fn.restype = None
    return fn


def _call(fn: ctypes._CFuncPtr, real: type, w: Tensor, s: Tensor, bias: Tensor | None, out: Tensor) -> None:  # type: ignore[name-defined]
    """``out = s Wᵀ (+ bias)`` exactly as the C loop takes it (``rec_product`` in lif_kernels.c)."""
    B, N = s.shape
    n, b = ctypes.c_int(N), ctypes.c_int(B)
    beta = 0.0
    if bias is not None:
        out.copy_(bias.expand(B, N))
        beta = 1.0
    fn(b"T", b"N", n, b, n, real(1.0), w.data_ptr(), n, s.data_ptr(), n, real(beta), out.data_ptr(), n)


def gemm_for(w: Tensor, bias: Tensor | None, B: int) -> int | None:
    """The address of the BLAS ``?gemm_`` whose ``s Wᵀ (+ bias)`` for ``B`` rows equals torch's bit for bit, or
    None. ``w`` (N, N) and ``bias`` (N) are contiguous, of the same floating dtype, on the CPU."""
    if w.dtype not in _GEMM or w.device.type != "cpu" or B < 1 or w.shape[0] >= 2**31:
        return None
    key = (w.dtype, B, w.shape[0], bias is not None, torch.get_num_threads())
    with _lock:
        fn = _function(w.dtype)
        if fn is None:
            return None
        if key not in _probed:
            g = torch.Generator().manual_seed(len(_probed))
            s = (torch.rand(B, w.shape[0], generator=g) * 3).floor().to(w.dtype)  # spike counts 0, 1, 2
            ref = torch.mm(s, w.t()) if bias is None else torch.addmm(bias, s, w.t())
            got = torch.empty_like(ref)
            _call(fn, _GEMM[w.dtype][1], w, s, bias, got)
            _probed[key] = torch.equal(ref, got)
        if not _probed[key]:
            return None
        return ctypes.cast(fn, ctypes.c_void_p).value


def sparse_block(lib: ctypes.CDLL, w: Tensor, wt: Tensor, bias: Tensor | None, B: int) -> int:
    """The block ``kc`` of the summed dimension for which the compiled sparse product equals torch's product for
    this shape, dtype, bias and number of threads; 0 when none does (then the BLAS is always called)."""
    N = w.shape[0]
    key = (w.dtype, B, N, bias is not None, torch.get_num_threads())
    with _lock:
        if key in _blocks:
            return _blocks[key]
        g = torch.Generator().manual_seed(7)
        trials = []
        for rate in (0.02, 0.06, 0.12):
            s = (torch.rand(B, N, generator=g) < rate).to(w.dtype) * torch.randint(1, 4, (B, N), generator=g)
            trials.append((s, torch.mm(s, w.t()) if bias is None else torch.addmm(bias, s, w.t())))
        nt = torch.get_num_threads()
        out, part = w.new_empty(B, N), w.new_empty(nt, N)
        bp = bias.data_ptr() if bias is not None else None
        found = 0
        for kc in (N, *(k for k in _KC if k < N)):
            for s, ref in trials:
                code = lib.sparse_rec_product(s.data_ptr(), wt.data_ptr(), bp, B, N, kc, B * N, out.data_ptr(),
                                              part.data_ptr(), nt)  # fmt: skip
                if code != 0 or not torch.equal(out, ref):
                    break
            else:
                found = kc
                break
        _blocks[key] = found
        return found


def packed_weight(w: Tensor, B: int) -> tuple[int, Tensor] | None:
    """``W`` packed once for the backward's per-step products ``gr W`` (``B`` rows): the address of MKL's
    ``cblas_?gemm_compute`` and the packed buffer, or None where torch's BLAS lacks the packing functions (then each
    step's ``?gemm_`` packs ``W`` again: about 5 % more time at ``32 x 512 x 512`` on one core). The backward's
    products are gradients, so their summation order is free; the forward's never use this."""
    if w.dtype not in _PACK or w.device.type != "cpu" or B < 1 or w.shape[0] >= 2**31:
        return None
    lib = _torch_cpu()
    if lib is None:
        return None
    prefix = _PACK[w.dtype]
    try:
        size_fn, pack_fn = getattr(lib, prefix + "pack_get_size"), getattr(lib, prefix + "pack")
        compute_fn = getattr(lib, prefix + "compute")
    except AttributeError:
        return None
    i, real = ctypes.c_int, _GEMM[w.dtype][1]
    n, b = w.shape[0], B
    size_fn.restype = ctypes.c_size_t
    size_fn.argtypes = [i, i, i, i]
    nbytes = int(size_fn(_A_MATRIX, n, b, n))
    if nbytes <= 0:
        return None
    buf = torch.empty(nbytes + 64, dtype=torch.uint8)
    pack_fn.restype = None
    pack_fn.argtypes = [i, i, i, i, i, i, real, ctypes.c_void_p, i, ctypes.c_void_p]
    pack_fn(_COL_MAJOR, _A_MATRIX, _NO_TRANS, n, b, n, real(1.0), w.data_ptr(), n, buf.data_ptr())
    return ctypes.cast(compute_fn, ctypes.c_void_p).value or 0, buf
