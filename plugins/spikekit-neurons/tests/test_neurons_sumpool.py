"""SumPool2d against the definition it keeps (``LPPool2d`` with ``p = 1``, as sinabs defines it) and the plain sum."""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.nn import functional as F

import spikekit.layers as sl
from spikekit_neurons.pool2d import SumPool2d


def _lp(x: torch.Tensor, kernel, stride, ceil_mode: bool) -> torch.Tensor:
    return nn.LPPool2d(1, kernel, stride, ceil_mode)(x)


CASES = [
    (2, None, False),
    (2, 2, False),
    ((3, 2), None, False),
    (3, 2, True),
    (3, 2, False),
    ((2, 3), (1, 2), False),
    ((2, 3), None, True),
    (3, 3, True),
]


@pytest.mark.parametrize("kernel,stride,ceil_mode", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_value_and_gradient_match_lppool(kernel, stride, ceil_mode, dtype) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4, 3, 11, 9, generator=g, dtype=dtype)
    x[:, :, :4] = 0  # windows that sum to exactly zero: LPPool2d gives them no gradient
    x[0, 0, 5:7, :] = torch.tensor([1.0, -1.0], dtype=dtype).repeat(9).reshape(2, 9).T.reshape(2, 9)
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    got, want = SumPool2d(kernel, stride, ceil_mode)(a), _lp(b, kernel, stride, ceil_mode)
    tol = dict(rtol=1e-6, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(got, want, **tol)
    w = torch.randn(got.shape, generator=g, dtype=dtype)
    (got * w).sum().backward()
    (want * w).sum().backward()
    torch.testing.assert_close(a.grad, b.grad, **tol)
    assert (a.grad == 0).any(), "the zero-sum windows should have been exercised"


@pytest.mark.parametrize("kernel,stride", [(2, None), (3, 2), ((2, 4), (2, 1))])
def test_integer_spike_counts_are_summed_exactly(kernel, stride) -> None:
    g = torch.Generator().manual_seed(1)
    spikes = torch.randint(0, 6, (5, 4, 16, 16), generator=g).float()
    got = SumPool2d(kernel, stride)(spikes)
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    s = k if stride is None else ((stride, stride) if isinstance(stride, int) else stride)
    windows = spikes.unfold(2, k[0], s[0]).unfold(3, k[1], s[1])  # exact integer sums
    assert torch.equal(got, windows.sum((-1, -2)))


@pytest.mark.parametrize("kernel,stride,ceil_mode", CASES)
def test_channels_last_input_gives_the_same_values_and_gradients_in_its_layout(kernel, stride, ceil_mode) -> None:
    g = torch.Generator().manual_seed(2)
    x = torch.randint(0, 3, (4, 6, 11, 9), generator=g).float()
    x[:, :, :4] = 0
    a = x.clone().requires_grad_(True)
    b = x.contiguous(memory_format=torch.channels_last).requires_grad_(True)
    pool = SumPool2d(kernel, stride, ceil_mode)
    want, got = pool(a), pool(b)
    assert torch.equal(got, want)
    w = torch.randn(got.shape, generator=g)
    (ga,) = torch.autograd.grad(want, a, w)
    (gb,) = torch.autograd.grad(got, b, w.contiguous(memory_format=torch.channels_last))  # as computed, not restrided
    assert torch.equal(gb, ga)
    if not ceil_mode and (stride is None or stride == kernel):  # the disjoint-window path keeps the layout
        assert gb.is_contiguous(memory_format=torch.channels_last) and not gb.is_contiguous()
        assert got.is_contiguous(memory_format=torch.channels_last)


def test_three_dimensional_input_and_errors() -> None:
    x = torch.rand(2, 6, 6)
    torch.testing.assert_close(SumPool2d(2)(x), F.lp_pool2d(x, 1, 2))
    with pytest.raises(ValueError, match="SumPool2d expects"):
        SumPool2d(2)(torch.rand(2, 2, 2, 2, 2))


def test_keeps_lppool_attributes_and_compiles() -> None:
    pool = SumPool2d(2)
    assert isinstance(pool, nn.LPPool2d) and pool.norm_type == 1 and pool.stride is None
    x = torch.rand(2, 3, 8, 8, requires_grad=True)
    compiled = torch.compile(pool, fullgraph=True, backend="eager")
    torch.testing.assert_close(compiled(x), pool(x))


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: sl.SumPool2d(0), "SumPool2d: kernel_size must be a positive whole number"),
        (lambda: sl.SumPool2d((2, -1)), "SumPool2d: kernel_size"),
        (lambda: sl.SumPool2d(2, stride=0), "SumPool2d: stride"),
        (lambda: sl.SpikingMaxPooling2dLayer(0), "SpikingMaxPooling2dLayer: pool_size"),
        (lambda: sl.SpikingMaxPooling2dLayer(2, strides=(1, 0)), "SpikingMaxPooling2dLayer: strides"),
    ],
)
def test_window_sizes_are_checked_when_built(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_a_window_larger_than_the_input_is_refused_naming_the_layer():
    with pytest.raises(ValueError, match=r"SumPool2d: the pooling window \(3, 3\) does not fit .* got 2 x 5"):
        sl.SumPool2d(3)(torch.ones(1, 1, 2, 5))
    with pytest.raises(ValueError, match=r"SpikingMaxPooling2dLayer: the pooling window \(4, 4\) does not fit"):
        sl.SpikingMaxPooling2dLayer(4)(torch.ones(3, 1, 3, 3))
    # padding counts towards the size; with ceil_mode an edge window still pools (as in sinabs)
    assert sl.SpikingMaxPooling2dLayer(4, padding=(0, 1, 0, 1))(torch.ones(3, 1, 3, 3)).shape == (3, 1, 1, 1)
    assert torch.equal(sl.SumPool2d(4, ceil_mode=True)(torch.ones(1, 1, 2, 2)), torch.full((1, 1, 1, 1), 16.0))
