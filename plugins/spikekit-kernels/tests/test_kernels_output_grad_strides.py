"""The fused backward reads the output gradient with its own strides (it is never materialised): gradients that are
broadcast over time, over neurons, or strided give the same input gradients as the reference backend."""

from __future__ import annotations

import pytest
import torch

sl = pytest.importorskip("spikekit.layers")
from spikekit_kernels import build_cache as _cc  # noqa: E402

pytestmark = pytest.mark.skipif(not _cc.available(), reason="no C compiler")

B, T, N = 3, 9, 40


def _grad_outputs() -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(3)
    wide = torch.randn(B, T, 2 * N, generator=g)
    return {
        "one value per row, every step": torch.randn(B, 1, 1, generator=g).expand(B, T, N),
        "one row for every step": torch.randn(B, 1, N, generator=g).expand(B, T, N),
        "one strided row for every step": wide[:, :1, ::2].expand(B, T, N),
        "strided over neurons": wide[:, :, ::2],
        "a scalar": torch.tensor(0.7).expand(B, T, N),
    }


@pytest.mark.parametrize("name", list(_grad_outputs()))
def test_input_gradient_matches_the_reference(name: str) -> None:
    grad_out = _grad_outputs()[name]
    x = torch.rand(B, T, N, generator=torch.Generator().manual_seed(4)) * 3.0
    grads = {}
    for backend in ("torch", "fused-cpu"):
        layer = sl.LIF(tau_mem=torch.tensor(6.0), backend=backend)
        xx = x.clone().requires_grad_(True)
        out = layer(xx)
        assert out.sum() > 0
        grads[backend] = torch.autograd.grad(out, [xx, layer.tau_mem], grad_out)
    for got, want in zip(grads["fused-cpu"], grads["torch"]):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6 * max(1.0, want.abs().max().item()))
