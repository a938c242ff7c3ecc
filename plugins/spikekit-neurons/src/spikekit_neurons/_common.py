"""Helpers shared by the neuron layers: default arguments, input checks, parameter creation."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from spikekit_neurons.resets import MembraneSubtract


class _Default:
    """A default argument resolved into a fresh object at layer construction (so layers share nothing)."""

    def __init__(self, text: str, factory: Callable[[], Any]):
        self.text = text
        self.factory = factory

    def __repr__(self) -> str:  # shows in help() signatures
        return self.text


def _default_surrogate() -> Any:
    # Resolved through the public namespace at construction time: spikekit-surrogates provides it.
    import spikekit.activation as activation

    return activation.SingleExponential()


DEFAULT_SURROGATE: Any = _Default("SingleExponential()", _default_surrogate)
DEFAULT_RESET: Any = _Default("MembraneSubtract()", MembraneSubtract)


def resolve(value: Any) -> Any:
    """``value``, or a fresh default object if ``value`` is one of the default markers."""
    return value.factory() if isinstance(value, _Default) else value


def as_frozen_param(value: Any) -> nn.Parameter | None:
    """A non-trainable Parameter holding a private copy of ``value`` (None stays None).

    The copy is what differs from sinabs 3.1.3, where every layer built with the default threshold shares one
    storage (so an in-place change of one layer's threshold changed all of them).
    """
    if value is None:
        return None
    return nn.Parameter(torch.as_tensor(value).detach().clone(), requires_grad=False)


def as_float_param(value: Any, dtype: torch.dtype | None = torch.float32) -> nn.Parameter:
    """A trainable Parameter holding a private copy of ``value`` as ``dtype`` (or as-is if float and dtype None)."""
    tensor = torch.as_tensor(value, dtype=dtype).detach().clone()
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.get_default_dtype())
    return nn.Parameter(tensor)


def check_time_input(layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Check a ``(B, T, ...)`` input and return it in a dtype that can hold the layer's state.

    Integer and boolean inputs (spike counts) are converted to the state's floating dtype, which gives the same
    numbers as sinabs' implicit type promotion.
    """
    name = type(layer).__name__
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} expects a torch.Tensor of shape (batch, time, ...), got {type(x).__name__}")
    if x.ndim < 2:
        raise ValueError(
            f"{name} expects input of shape (batch, time, ...) with a time dimension, got shape {tuple(x.shape)}"
        )
    if x.shape[1] == 0:
        raise ValueError(
            f"{name} expects at least one time step: input of shape (batch, time >= 1, ...), got shape {tuple(x.shape)}"
        )
    if x.is_floating_point():
        return x
    if x.is_complex():
        raise TypeError(f"{name} keeps real-valued state: expected a floating-point input, got dtype {x.dtype}")
    state_dtype = next((b.dtype for b in layer._buffers.values() if b is not None), torch.get_default_dtype())
    if not state_dtype.is_floating_point:
        raise TypeError(f"{name} needs floating-point state, but its state has dtype {state_dtype}")
    return x.to(state_dtype)


def check_state_device(layer: nn.Module, x: torch.Tensor) -> None:
    """Refuse a state that lives on another device than the input (torch's own error names no layer)."""
    for state_name, buf in layer._buffers.items():
        if buf is not None and buf.device != x.device:
            raise RuntimeError(
                f"{type(layer).__name__}: state {state_name!r} is on {buf.device}, the input on {x.device}; "
                f"move the layer with .to({str(x.device)!r})"
            )


def check_rec_connect(layer: nn.Module, x: torch.Tensor, rec_connect: nn.Module | None) -> None:
    """Refuse a recurrent connection whose parameters have another floating dtype than the input."""
    if rec_connect is None:
        return
    for name, param in rec_connect.named_parameters():
        if param.is_floating_point() and param.dtype != x.dtype:
            raise TypeError(
                f"{type(layer).__name__}: rec_connect has {param.dtype} parameters ({name}), the input is {x.dtype}; "
                "convert one of them"
            )


def check_state_dtype(layer: nn.Module) -> None:
    name = type(layer).__name__
    for state_name, buf in layer._buffers.items():
        if buf is not None and not buf.dtype.is_floating_point:
            raise TypeError(
                f"{name} needs floating-point state, but state {state_name!r} has dtype {buf.dtype}; "
                "expected float16, bfloat16, float32 or float64"
            )


def check_broadcast(layer: nn.Module, state_shape: Sequence[int], **tensors: Any) -> None:
    """Raise if a per-neuron tensor (threshold, time constant, floor) does not broadcast to the state's shape."""
    shape = torch.Size(state_shape)
    for what, value in tensors.items():
        if isinstance(value, torch.Tensor) and value.ndim:
            try:
                ok = torch.broadcast_shapes(value.shape, shape) == shape
            except RuntimeError:
                ok = False
            if not ok:
                raise ValueError(
                    f"{type(layer).__name__}: {what} of shape {tuple(value.shape)} does not broadcast to the neuron "
                    f"state of shape {tuple(shape)} (batch, *neuron dims); expected a scalar or a shape that "
                    f"broadcasts to {tuple(shape[1:])}"
                )
