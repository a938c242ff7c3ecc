"""``DynapcnnLayer``: one core's computation, conv -> IAFSqueeze -> one sum pooling per destination
(sinabs's ``sinabs.backend.dynapcnn.dynapcnn_layer``)."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from spikekit_speck.dynapcnn.discretize import discretize_conv_spike_
from spikekit_speck.layers import linear_to_conv
from spikekit_speck.mapping import memory_of

if TYPE_CHECKING:
    from spikekit.state import StatefulLayer

__all__ = ["DynapcnnLayer", "convert_linear_to_conv", "sum_pool2d"]

#: Sum pooling as power-average pooling of power 1 (what the chip's pooling computes on spike counts).
sum_pool2d = partial(nn.functional.lp_pool2d, norm_type=1)


def convert_linear_to_conv(lin: nn.Linear, input_shape: tuple[int, int, int]) -> nn.Conv2d:
    """A Conv2d whose kernel covers the whole ``(C, H, W)`` input and computes what ``lin`` computes on it."""
    return linear_to_conv(lin, input_shape)


def _pool_pair(pool: Any) -> tuple[int, int]:
    if isinstance(pool, int):
        return (pool, pool)
    a, b = pool
    return (int(a), int(b))


class DynapcnnLayer(nn.Module):
    """One layer on a DYNAP-CNN / Speck core: ``conv -> spk -> [sum pooling per destination]``.

    Args:
        conv: ``nn.Conv2d`` (or ``nn.Linear``, turned into a Conv2d over ``in_shape``); copied.
        spk: an ``IAFSqueeze`` layer; copied.
        in_shape: ``(features, height, width)`` of the input.
        pool: one pooling size per destination (1: no pooling); the number of entries is the number of outputs.
        discretize: round the parameters to the chip's precision (as floats; ints are written into the config).
        rescale_weights: the weights are multiplied by this first (AvgPool turned into sum pooling upstream).

    Example:
        >>> lyr = DynapcnnLayer(nn.Conv2d(2, 4, 3), IAFSqueeze(batch_size=1), (2, 8, 8), [2])
        >>> lyr(torch.ones(1, 2, 8, 8)).shape
        torch.Size([1, 4, 3, 3])
    """

    def __init__(
        self,
        conv: nn.Conv2d | nn.Linear,
        spk: nn.Module,
        in_shape: tuple[int, int, int],
        pool: Sequence[int | Sequence[int]],
        discretize: bool = True,
        rescale_weights: float = 1,
    ) -> None:
        super().__init__()
        from spikekit.layers import IAFSqueeze
        from spikekit.state import StatefulLayer

        self.in_shape = in_shape
        self.pool = pool
        self._discretize = discretize
        self._rescale_weights = rescale_weights
        if not isinstance(spk, IAFSqueeze) or not isinstance(spk, StatefulLayer):
            raise TypeError(f"Unsupported spiking layer type {type(spk)}. Only `IAFSqueeze` layers are supported.")
        spk = copy.deepcopy(spk)
        if isinstance(conv, nn.Linear):
            conv = convert_linear_to_conv(conv, in_shape)
            v_mem = getattr(spk, "v_mem", None)
            if isinstance(v_mem, torch.Tensor) and spk.is_state_initialised() and v_mem.ndim < 4:
                # A Linear's (N, F) state becomes the conv's (N, F, 1, 1), as in sinabs.
                spk.v_mem = v_mem.data.reshape(*v_mem.shape, *([1] * (4 - v_mem.ndim)))
        else:
            conv = copy.deepcopy(conv)
        if self._rescale_weights != 1:
            conv.weight.data = (conv.weight * self._rescale_weights).clone().detach()
        if conv.kernel_size[0] != conv.kernel_size[1]:
            raise ValueError(
                f"The kernel of a `nn.Conv2d` must have the same height and width: {conv} has kernel "
                f"{tuple(conv.kernel_size)}."
            )
        for pool_size in pool:
            p = _pool_pair(pool_size)
            if p[0] != p[1]:
                raise ValueError(f"Only square pooling kernels are supported, got {p} in the pooling of {conv}")
        self.conv = conv
        self.spk: StatefulLayer = spk
        if self._discretize:
            self.conv, self.spk = discretize_conv_spike_(conv, spk, to_int=False)

    @property
    def conv_layer(self) -> nn.Conv2d:
        return self.conv

    @property
    def spk_layer(self) -> StatefulLayer:
        return self.spk

    @property
    def discretize(self) -> bool:
        return self._discretize

    @property
    def rescale_weights(self) -> float:
        return self._rescale_weights

    @property
    def conv_out_shape(self) -> tuple[int, int, int]:
        return self._get_conv_output_shape()

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        """``(N, C, H, W)`` -> one output per destination (a tensor when there is one destination)."""
        x = self.spk(self.conv(x))
        # As sinabs: an int 1 means no pooling; any other entry (pairs included, even [1, 1]) goes through the sum
        # pooling, whose gradient is zero where the pooled output is zero (torch's lp_pool2d differentiates |x|).
        outs = [x if isinstance(p, int) and p == 1 else sum_pool2d(x, kernel_size=_pool_pair(p)) for p in self.pool]
        return outs[0] if len(outs) == 1 else tuple(outs)

    def zero_grad(self, set_to_none: bool = False) -> None:
        """The spiking layer's ``zero_grad`` (which detaches its states), as sinabs does."""
        return self.spk.zero_grad(set_to_none)

    def get_neuron_shape(self) -> tuple[int, int, int]:
        """``(features, height, width)`` of the neurons (the conv's output)."""
        return self._get_conv_output_shape()

    def get_output_shape(self) -> list[tuple[int, int, int]]:
        """One ``(features, height, width)`` per destination, after its pooling."""
        f, h, w = self.get_neuron_shape()
        shapes = []
        for p in self.pool:
            py, px = _pool_pair(p)
            shapes.append((f, h // py, w // px))
        return shapes

    def summary(self) -> dict[str, Any]:
        """Pooling, kernel shape and neuron shape."""
        return {"pool": self.pool, "kernel": list(self.conv.weight.data.shape), "neuron": self._get_conv_output_shape()}

    def memory_summary(self) -> dict[str, float | int]:
        """Kernel, neuron and bias memory on a core (sinabs's formulas; kernel and neuron as floats, as sinabs).

        ``kernel = c * 2**(ceil(log2(k_y * k_x)) + ceil(log2(f)))``,
        ``neuron = f * 2**(ceil(log2(h)) + ceil(log2(w)))``, ``bias = f`` (0 without bias).
        """
        f, c, h, w = self.summary()["kernel"]
        _, neuron_h, neuron_w = self._get_conv_output_shape()
        memory = memory_of(c, f, (h, w), (neuron_h, neuron_w), self.conv.bias is not None)
        return {"kernel": float(memory["kernel"]), "neuron": float(memory["neuron"]), "bias": memory["bias"]}

    def _get_conv_output_shape(self) -> tuple[int, int, int]:
        conv = self.conv
        padding = conv.padding
        if isinstance(padding, str):
            raise ValueError(f"DynapcnnLayer needs its conv's padding as integers, got padding={padding!r}")
        sizes = []
        for d in (0, 1):
            span = conv.dilation[d] * (conv.kernel_size[d] - 1) + 1
            sizes.append((self.in_shape[d + 1] + 2 * padding[d] - span) // conv.stride[d] + 1)
        return (conv.out_channels, sizes[0], sizes[1])
