"""Argument checks shared by the converters: every refusal names the function, the argument, what was expected
and what came."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

__all__ = ["require_module", "check_input_shape", "check_positive_finite", "run_probe"]


def require_module(fn: str, arg: str, value: Any, *, optional: bool = False) -> None:
    """Raise ``TypeError`` unless ``value`` is a ``torch.nn.Module`` (or None when ``optional``)."""
    if value is None and optional:
        return
    if not isinstance(value, nn.Module):
        raise TypeError(f"{fn}: {arg} must be a torch.nn.Module, got {type(value).__name__} ({value!r:.80})")


def check_input_shape(fn: str, input_shape: Any) -> tuple[int, ...] | None:
    """``input_shape`` as a tuple of positive ints (one sample's shape, without batch), or None."""
    if input_shape is None:
        return None
    if isinstance(input_shape, (str, bytes)) or not isinstance(input_shape, (Sequence, torch.Size)):
        raise TypeError(
            f"{fn}: input_shape must be one sample's shape as a sequence of ints, e.g. (2, 28, 28), got "
            f"{type(input_shape).__name__} ({input_shape!r:.80})"
        )
    dims = []
    for d in input_shape:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or int(d) <= 0:
            raise ValueError(f"{fn}: input_shape must hold positive ints, got {tuple(input_shape)!r}")
        dims.append(int(d))
    return tuple(dims)


def check_positive_finite(fn: str, arg: str, value: Any) -> None:
    """Raise ``ValueError`` unless ``value`` is a finite number other than 0 (a divisor; one-element tensors too)."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{fn}: {arg} must be a number, got {type(value).__name__} ({value!r:.80})")
    if value == 0 or not math.isfinite(value):
        raise ValueError(f"{fn}: {arg} divides the biases, so it must be finite and non-zero, got {value!r}")


def run_probe(fn: str, model: nn.Module, probe: torch.Tensor, call: Callable[[torch.Tensor], Any]) -> Any:
    """``call(probe)``; a failure inside a layer is raised again (same class) naming the layer and the shapes.

    The probe's shape comes from the user's ``input_shape``: a layer that cannot take it means the shape does not
    fit the model.
    """
    names = {id(m): name for name, m in model.named_modules()}
    entered: list[tuple[str, nn.Module, tuple[int, ...]]] = []

    def note(module: nn.Module, args: tuple[Any, ...]) -> None:
        shape = tuple(args[0].shape) if args and isinstance(args[0], torch.Tensor) else ()
        entered.append((names.get(id(module), "?"), module, shape))

    handles = [m.register_forward_pre_hook(note) for m in model.modules()]
    try:
        return call(probe)
    except (RuntimeError, ValueError, IndexError) as exc:
        leaves = [e for e in entered if not list(e[1].children())] or entered
        where = ""
        if leaves:
            name, module, shape = leaves[-1]
            where = f" layer {name!r} ({type(module).__name__}) failed on input of shape {shape}:"
        message = (
            f"{fn}: input_shape {tuple(probe.shape[1:])} does not fit the model (probe input of shape "
            f"{tuple(probe.shape)}):{where} {type(exc).__name__}: {exc}"
        )
        try:  # the same class as the layer raised, so that code catching it still does
            error = type(exc)(message)
        except Exception:
            error = ValueError(message)
        raise error from exc
    finally:
        for handle in handles:
            handle.remove()
