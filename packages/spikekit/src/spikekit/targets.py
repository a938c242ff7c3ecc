"""Hardware targets: take a trained spiking model to a neuromorphic chip.

A *hardware target* checks a model against the chip's constraints, produces the chip's configuration, and
simulates what the chip would compute. Plugins register targets through the ``spikekit_targets`` hook;
:func:`deploy` is the one entry point.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import torch
from torch import nn

from spikekit.plugins import host

__all__ = ["HardwareTarget", "Deployment", "deploy", "available_targets"]


@runtime_checkable
class Deployment(Protocol):
    """A model mapped onto a target.

    ``config`` is a JSON-serialisable description of the mapped network; ``simulate(x)`` runs the target's exact
    arithmetic on CPU and returns its output spikes; ``memory_summary()`` reports the resources used.
    """

    config: dict[str, Any]

    def simulate(self, x: torch.Tensor) -> torch.Tensor: ...

    def memory_summary(self) -> Any: ...


@runtime_checkable
class HardwareTarget(Protocol):
    """A neuromorphic chip (or family) that models can be deployed to.

    ``check(model, input_shape)`` returns the list of problems that stop the model from mapping (empty when it
    fits); ``compile(model, input_shape, **options)`` maps it and returns a :class:`Deployment`, raising a
    ``ValueError`` that names the offending layer when it cannot.
    """

    name: str

    def check(self, model: nn.Module, input_shape: Sequence[int]) -> list[str]: ...

    def compile(self, model: nn.Module, input_shape: Sequence[int], **options: Any) -> Deployment: ...


def deploy(model: nn.Module, target: str, input_shape: Sequence[int], **options: Any) -> Deployment:
    """Map ``model`` onto the hardware target registered as ``target``.

    Example:
        >>> deployment = spikekit.deploy(snn, "speck2f", input_shape=(2, 64, 64))
        >>> deployment.memory_summary()
    """
    deployment: Deployment = host().load_target(target).compile(model, tuple(input_shape), **options)
    return deployment


def available_targets() -> dict[str, str]:
    """``{name: description}`` of every registered hardware target."""
    return {name: spec.description for name, spec in host().targets().items()}
