"""First-party NIR mappings of plain torch modules and spikekit-nir's own ``Scale`` / ``Threshold`` / ``Delay``.

Each ``export_*`` has the signature ``(module, ExportContext) -> nir.NIRNode``; each ``import_*`` has
``(node, ImportContext) -> nn.Module`` (see :mod:`spikekit_nir.registry`).
"""

from __future__ import annotations

from typing import Any

import nir
import numpy as np
import torch
from torch import nn

from spikekit_nir.conventions import ConversionError
from spikekit_nir.modules import Delay, Scale, Threshold
from spikekit_nir.registry import PASSTHROUGH, ExportContext, ImportContext


def float32_array(x: Any) -> np.ndarray:
    """A float32 numpy copy of a tensor / array / number."""
    if isinstance(x, torch.Tensor):
        return x.detach().cpu().to(torch.float32).numpy().copy()
    return np.array(x, dtype=np.float32)


def as_tensor(x: Any) -> torch.Tensor:
    """A float32 tensor copy of NIR data (numpy arrays or, as sinabs writes them, torch tensors)."""
    if isinstance(x, torch.Tensor):
        return x.detach().clone().to(torch.float32)
    return torch.tensor(np.asarray(x, dtype=np.float32))


def _int_tuple(x: Any, n: int) -> tuple[int, ...]:
    arr = np.atleast_1d(np.asarray(x)).astype(np.int64)
    if arr.size == 1:
        arr = np.repeat(arr, n)
    return tuple(int(v) for v in arr)


def _int_pair(x: Any) -> tuple[int, int]:
    a, b = _int_tuple(x, 2)
    return (a, b)


# ----------------------------------------------------------------------------------------------------- export
def export_linear(module: nn.Linear, ctx: ExportContext) -> nir.NIRNode:
    """nn.Linear -> NIR ``Affine``; without a bias, an ``Affine`` with a zero bias (as sinabs writes it)."""
    weight = float32_array(module.weight)
    if module.bias is None:
        return nir.Affine(weight=weight, bias=np.zeros(weight.shape[0], dtype=np.float32))
    return nir.Affine(weight=weight, bias=float32_array(module.bias))


def _conv_padding(module: nn.Module, ctx: ExportContext, n: int) -> Any:
    if getattr(module, "padding_mode", "zeros") != "zeros":
        raise ConversionError(
            f"to_nir: {ctx.name!r} ({type(module).__name__}) uses padding_mode={module.padding_mode!r}; NIR "
            "convolutions pad with zeros"
        )
    pad = module.padding
    return pad if isinstance(pad, str) else _int_tuple(pad, n)


def _conv_bias(module: nn.Module) -> np.ndarray:
    if module.bias is None:
        return np.zeros(module.weight.shape[0], dtype=np.float32)
    return float32_array(module.bias)


def export_conv1d(module: nn.Conv1d, ctx: ExportContext) -> nir.NIRNode:
    spatial = ctx.input_shape[-1] if ctx.input_shape else None
    padding = _conv_padding(module, ctx, 1)  # refuses a padding_mode other than zeros
    return nir.Conv1d(
        input_shape=int(spatial) if spatial is not None else None,
        weight=float32_array(module.weight),
        stride=int(module.stride[0]),
        padding=padding if isinstance(padding, str) else int(padding[0]),
        dilation=int(module.dilation[0]),
        groups=int(module.groups),
        bias=_conv_bias(module),
    )


def export_conv2d(module: nn.Conv2d, ctx: ExportContext) -> nir.NIRNode:
    spatial = tuple(ctx.input_shape[-2:]) if ctx.input_shape and len(ctx.input_shape) >= 3 else None
    return nir.Conv2d(
        input_shape=spatial,
        weight=float32_array(module.weight),
        stride=_int_tuple(module.stride, 2),
        padding=_conv_padding(module, ctx, 2),
        dilation=_int_tuple(module.dilation, 2),
        groups=int(module.groups),
        bias=_conv_bias(module),
    )


def export_flatten(module: nn.Flatten, ctx: ExportContext) -> nir.NIRNode:
    k = ctx.n_ignored_dims
    start = module.start_dim - k if module.start_dim >= 0 else module.start_dim
    end = module.end_dim - k if module.end_dim >= 0 else module.end_dim
    if start < 0 <= module.start_dim or (end < 0 <= module.end_dim):
        raise ConversionError(f"to_nir: {ctx.name!r} flattens the batch/time dims ({module}); NIR shapes exclude them")
    input_type = np.array(ctx.input_shape, dtype=np.int64) if ctx.input_shape is not None else None
    return nir.Flatten(input_type={"input": input_type}, start_dim=start, end_dim=end)


def export_avgpool2d(module: nn.AvgPool2d, ctx: ExportContext) -> nir.NIRNode:
    if module.ceil_mode or module.divisor_override is not None:
        raise ConversionError(
            f"to_nir: {ctx.name!r} (AvgPool2d) uses ceil_mode or divisor_override, which NIR's AvgPool2d cannot express"
        )
    padding = _int_tuple(module.padding, 2)
    if any(padding) and not module.count_include_pad:
        raise ConversionError(f"to_nir: {ctx.name!r} (AvgPool2d) with padding needs count_include_pad=True")
    kernel = _int_tuple(module.kernel_size, 2)
    stride = kernel if module.stride is None else _int_tuple(module.stride, 2)
    return nir.AvgPool2d(kernel_size=np.array(kernel), stride=np.array(stride), padding=np.array(padding))


def export_passthrough(module: nn.Module, ctx: ExportContext) -> Any:
    """Identity, Dropout (in eval) and Merge route signals only."""
    if isinstance(module, nn.Dropout) and module.training and module.p > 0:
        raise ConversionError(f"to_nir: {ctx.name!r} is a Dropout in training mode; call model.eval() first")
    return PASSTHROUGH


def _per_neuron(arr: np.ndarray, ctx: ExportContext) -> np.ndarray:
    """``arr`` broadcast to the node's neuron shape (NIR types come from the parameter shapes; 0-d cannot be stored)."""
    shape = ctx.output_shape if ctx.output_shape is not None else ctx.input_shape
    if shape is None:
        return np.atleast_1d(arr)
    try:
        return np.broadcast_to(arr, shape).copy()
    except ValueError as exc:
        raise ConversionError(
            f"to_nir: {ctx.name!r}: its parameter of shape {arr.shape} does not fit the data shape {shape}"
        ) from exc


def export_scale(module: Scale, ctx: ExportContext) -> nir.NIRNode:
    return nir.Scale(scale=_per_neuron(float32_array(module.scale), ctx))


def export_threshold(module: Threshold, ctx: ExportContext) -> nir.NIRNode:
    return nir.Threshold(threshold=_per_neuron(float32_array(module.threshold), ctx))


def export_delay(module: Delay, ctx: ExportContext) -> nir.NIRNode:
    steps = module.steps.detach().cpu().numpy().astype(np.float64)
    return nir.Delay(delay=_per_neuron(steps * ctx.convention.dt, ctx))


# ----------------------------------------------------------------------------------------------------- import
def _check_2d_weight(node: Any, ctx: ImportContext) -> None:
    if np.asarray(node.weight).ndim != 2:
        raise ConversionError(
            f"from_nir: node {ctx.name!r} ({type(node).__name__}) has a weight of shape "
            f"{tuple(np.asarray(node.weight).shape)}; only 2-D weights map to nn.Linear"
        )


def _import_dense(node: Any, ctx: ImportContext, bias: bool) -> nn.Module:
    _check_2d_weight(node, ctx)
    w = as_tensor(node.weight)
    lin = nn.Linear(w.shape[1], w.shape[0], bias=bias)
    with torch.no_grad():
        lin.weight.copy_(w)
        if bias:
            lin.bias.copy_(as_tensor(node.bias).reshape(-1))
    return lin


def import_affine(node: nir.Affine, ctx: ImportContext) -> nn.Module:
    return _import_dense(node, ctx, bias=True)


def import_linear(node: nir.Linear, ctx: ImportContext) -> nn.Module:
    return _import_dense(node, ctx, bias=False)


def _import_conv(node: Any, cls: type, n: int) -> nn.Module:
    w = as_tensor(node.weight)
    padding = node.padding if isinstance(node.padding, str) else _int_tuple(node.padding, n)
    if isinstance(padding, bytes):
        padding = padding.decode()
    conv = cls(
        in_channels=w.shape[1] * int(node.groups),
        out_channels=w.shape[0],
        kernel_size=tuple(w.shape[2:]),
        stride=_int_tuple(node.stride, n),
        padding=padding,
        dilation=_int_tuple(node.dilation, n),
        groups=int(node.groups),
        bias=True,
    )
    with torch.no_grad():
        conv.weight.copy_(w)
        conv.bias.copy_(as_tensor(node.bias).reshape(-1))
    return conv


def import_conv1d(node: nir.Conv1d, ctx: ImportContext) -> nn.Module:
    return _import_conv(node, nn.Conv1d, 1)


def import_conv2d(node: nir.Conv2d, ctx: ImportContext) -> nn.Module:
    return _import_conv(node, nn.Conv2d, 2)


def import_flatten(node: nir.Flatten, ctx: ImportContext) -> nn.Module:
    start = int(node.start_dim)
    end = int(node.end_dim)
    return nn.Flatten(start_dim=start + 1 if start >= 0 else start, end_dim=end + 1 if end >= 0 else end)


def import_avgpool2d(node: nir.AvgPool2d, ctx: ImportContext) -> nn.Module:
    return nn.AvgPool2d(
        kernel_size=_int_pair(node.kernel_size),
        stride=_int_pair(node.stride),
        padding=_int_pair(node.padding),
    )


def import_identity(node: Any, ctx: ImportContext) -> nn.Module:
    return nn.Identity()


def import_scale(node: nir.Scale, ctx: ImportContext) -> nn.Module:
    return Scale(as_tensor(node.scale))


def import_threshold(node: nir.Threshold, ctx: ImportContext) -> nn.Module:
    return Threshold(as_tensor(node.threshold))


def import_delay(node: nir.Delay, ctx: ImportContext) -> nn.Module:
    ctx.require_time(node)
    steps = np.asarray(node.delay, dtype=np.float64) / ctx.convention.dt
    rounded = np.round(steps)
    if not np.allclose(steps, rounded, rtol=0, atol=1e-6):
        raise ConversionError(
            f"from_nir: Delay node {ctx.name!r} has delays {np.asarray(node.delay).tolist()} that are not whole "
            f"multiples of dt={ctx.convention.dt}"
        )
    return Delay(torch.as_tensor(rounded, dtype=torch.long), ctx.batch_size, ctx.num_timesteps)


def import_subgraph(node: nir.NIRGraph, ctx: ImportContext) -> nn.Module:
    if ctx.load_graph is None:
        raise ConversionError(f"from_nir: nested graph {ctx.name!r} cannot be loaded here")
    return ctx.load_graph(node, ctx.name)
