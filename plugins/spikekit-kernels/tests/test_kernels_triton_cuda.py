"""The triton backend on a CUDA device (not the interpreter): the core's conformance configurations and the
kernels' flag combinations against the reference backend on the same device. Skips without CUDA."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
import torch

pytest.importorskip("triton")
if not torch.cuda.is_available():
    pytest.skip("no CUDA device", allow_module_level=True)

from spikekit.compute import get_backend
from spikekit_testing import BackendConformance

DEV = "cuda"


def _to_cuda(params):
    moved = {}
    for f in dataclasses.fields(params):
        v = getattr(params, f.name)
        if isinstance(v, torch.Tensor):
            v = v.detach().to(DEV).requires_grad_(v.requires_grad)
        moved[f.name] = v
    return dataclasses.replace(params, **moved)


def _state(names, shape):
    g = torch.Generator().manual_seed(3)
    out = {}
    for n in names:
        if n == "spike_threshold":
            out[n] = torch.ones(shape[0], *shape[2:])
        elif n == "b":
            out[n] = torch.zeros(shape[0], *shape[2:])
        else:
            out[n] = torch.rand(shape[0], *shape[2:], generator=g) * 0.5
    return {k: v.to(DEV) for k, v in out.items()}


@pytest.mark.parametrize("shape", [(2, 7, 5), (4, 33, 300)])
def test_conformance_configurations_on_cuda(shape) -> None:
    triton, reference = get_backend("triton"), get_backend("torch")
    for label, build, names in BackendConformance().configurations():
        params = _to_cuda(build())
        g = torch.Generator().manual_seed(7)
        x = (torch.rand(shape, generator=g) * 2.0 - 0.3).to(DEV).requires_grad_(True)
        reason = triton.unsupported_reason(x, _state(names, shape), params)
        assert reason is None, f"{label}: {reason}"
        out, final, rec = triton.run(x, _state(names, shape), params)
        ref_params = _to_cuda(build())
        xr = x.detach().clone().requires_grad_(True)
        rout, rfinal, rrec = reference.run(xr, _state(names, shape), ref_params)
        assert torch.equal(out, rout), f"{label}: spikes not bitwise equal"
        for n in rfinal:
            assert torch.equal(final[n], rfinal[n]), f"{label}: {n}"
        for n in rrec:
            assert torch.equal(rec[n], rrec[n]), f"{label}: recording {n}"
        w = torch.randn(rout.shape, generator=g).to(DEV)
        (out * w).sum().backward()
        (rout * w).sum().backward()
        torch.testing.assert_close(x.grad, xr.grad, rtol=1e-5, atol=1e-6, msg=f"{label}: dx")
        if params.alpha_mem.requires_grad:
            torch.testing.assert_close(params.alpha_mem.grad, ref_params.alpha_mem.grad, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_kernel_flag_combinations_against_the_torch_loop_on_cuda(dtype) -> None:
    from spikekit_kernels import _plan as P
    from spikekit_kernels import torch_loop
    from spikekit_kernels import triton_backend as tb

    B, T, N = 3, 40, 700
    g = torch.Generator().manual_seed(0)
    for syn, norm, floor, alif, reset, single in itertools.product((0, 1), repeat=6):
        flags = P.F_SPIKING | syn * P.F_SYN | norm * P.F_NORM | floor * P.F_FLOOR | alif * P.F_ALIF | reset * P.F_RESET
        x = (torch.rand(B, T, N, generator=g) * 2 - 0.3).to(DEV, dtype)
        st = [(torch.rand(B, N, generator=g) * 0.3).to(DEV, dtype) for _ in range(3)]
        prm = [torch.full((B, N), v, device=DEV, dtype=dtype) for v in (0.9, 0.8, 1.0, -0.5, 0.95, 1.8, 0.1)]
        f1 = tb.forward_launch(x, *st, *prm, flags, single, 0.0, True, 1, [0.5, 1.0, 0.0, 0.0, 0.0], 0)
        f2 = torch_loop.forward(x, *st, *prm, flags, single, 0.0, True)
        for a, b in zip(f1, f2):
            assert torch.equal(a, b), flags
        out, u, isave, bsave, recv, vfin, ifin, bfin = f2
        go = torch.randn(B, T, N, generator=g).to(DEV, dtype)
        gvf = torch.randn(B, N, generator=g).to(DEV, dtype)
        sgp = [0.5, 1.0, 0.0, 0.0, 0.0]
        b1 = tb.backward_launch(x, u, isave, bsave, *st, *prm, go, None, None, None, gvf, None, None, None, flags,
                                single, 0.0, P.SG_SINGLE_EXP, sgp)  # fmt: skip
        b2 = torch_loop.backward(x, u, isave, bsave, *st, *prm, go, None, None, None, gvf, None, None, None, flags,
                                 single, 0.0, P.SG_SINGLE_EXP, sgp)  # fmt: skip
        for j, (a, b) in enumerate(zip(b1, b2)):
            if (j in (2, 5) and not syn) or (j in (3, 6) and not alif):
                continue
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5, msg=f"flags {flags} grad {j}")
