"""Helpers shared by the neuron layers: default arguments and parameter creation.

The input checks live in the core (:mod:`spikekit.state`, public, so a third party's layer runs the same ones);
they are re-exported here for this plugin's modules.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from spikekit.state import (  # noqa: F401  (re-exported for this plugin's layers)
    check_broadcast,
    check_rec_connect,
    check_state_device,
    check_state_dtype,
    check_time_input,
)
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
