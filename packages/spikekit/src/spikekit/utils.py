"""Model-wide helpers. Mirrors ``sinabs.utils``.

The core provides the state helpers below; the conversion utilities (``normalize_weights``,
``get_activations``, ...) come from the spikekit-convert plugin through the registry.

Difference from sinabs: :func:`reset_states` and :func:`zero_grad` reach *every* stateful layer in ``model``,
including ``model`` itself and recurrent layers (sinabs skips both).
"""

from __future__ import annotations

from typing import TypeVar

from torch import nn

from spikekit._namespace import namespace_hooks
from spikekit.state import SqueezeMixin, StatefulLayer

__all__ = [
    "reset_states",
    "zero_grad",
    "detach_states",
    "set_batch_size",
    "get_batch_size",
    "get_num_timesteps",
    "get_smallest_compatible_time_dimension",
]

T = TypeVar("T")  # sinabs.utils offers it (its type variable)


def _stateful_layers(model: nn.Module) -> list[StatefulLayer]:
    return [m for m in model.modules() if isinstance(m, StatefulLayer)]


def reset_states(model: nn.Module) -> None:
    """Reset the state of every stateful layer in ``model`` (``model`` included) to zero."""
    for layer in _stateful_layers(model):
        layer.reset_states()


def zero_grad(model: nn.Module) -> None:
    """Zero the gradients of every stateful layer in ``model`` and cut its states from the autograd graph."""
    for layer in _stateful_layers(model):
        layer.zero_grad()


def detach_states(model: nn.Module) -> None:
    """Cut the states of every stateful layer from the autograd graph, keeping their values (truncated BPTT)."""
    for layer in _stateful_layers(model):
        layer.detach_states()


def set_batch_size(model: nn.Module, batch_size: int) -> None:
    """Set ``batch_size`` on every Squeeze layer in ``model`` (``num_timesteps`` is left as it is)."""
    for module in model.modules():
        if isinstance(module, SqueezeMixin):
            module.batch_size = batch_size


def _unique_squeeze_value(model: nn.Module, attribute: str) -> int:
    values = {
        getattr(m, attribute)
        for m in model.modules()
        if isinstance(m, SqueezeMixin) and getattr(m, attribute, None) not in (None, -1)
    }
    if len(values) > 1:
        raise ValueError(f"The model's Squeeze layers disagree on {attribute}: found {sorted(values)}")
    return values.pop() if values else -1


def get_batch_size(model: nn.Module) -> int:
    """The ``batch_size`` shared by the model's Squeeze layers, -1 if none sets it; ValueError on conflict."""
    return _unique_squeeze_value(model, "batch_size")


def get_num_timesteps(model: nn.Module) -> int:
    """The ``num_timesteps`` shared by the model's Squeeze layers, -1 if none sets it; ValueError on conflict."""
    return _unique_squeeze_value(model, "num_timesteps")


def get_smallest_compatible_time_dimension(model: nn.Module) -> int:
    """The smallest first dimension a squeezed model accepts: ``|batch_size| * |num_timesteps|``."""
    return abs(get_batch_size(model)) * abs(get_num_timesteps(model))


__getattr__, __dir__ = namespace_hooks(__name__, globals())
