"""The activation protocols: spike functions, reset functions and surrogate gradients.

These are the contracts between neuron layers and the objects that plug into them. Any object that fits works:
the first-party plugins' classes, a third party's, or a user's own function.

* A **surrogate gradient** is any callable ``(v_mem, spike_threshold) -> dS/dv``: it returns, elementwise, the
  pseudo-derivative of the spike output with respect to the membrane potential.
* A **spike function** turns the states it names in ``required_states`` and a threshold into spikes, and routes
  the gradient through a surrogate: ``spike_fn.apply(*states, spike_threshold, surrogate_grad_fn)``.
* A **reset function** maps ``(spikes, state, spike_threshold)`` to the new state dict (without changing the one
  it was given).

:class:`SurrogateSpikeFunction` is the glue that gives any spike rule a surrogate-gradient backward pass.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol, runtime_checkable

import torch

__all__ = [
    "SurrogateGradient",
    "SpikeFunction",
    "ResetFunction",
    "SurrogateSpikeFunction",
]


@runtime_checkable
class SurrogateGradient(Protocol):
    """``(v_mem, spike_threshold) -> d spikes / d v_mem``, elementwise, same shape as ``v_mem``.

    Example:
        >>> def fast_sigmoid(v_mem, spike_threshold):
        ...     return 1.0 / (1.0 + 10.0 * (v_mem - spike_threshold).abs()) ** 2
    """

    def __call__(self, v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class SpikeFunction(Protocol):
    """Produces spikes from states and a threshold, with a surrogate gradient in the backward pass.

    ``required_states`` names the states passed positionally to ``apply`` (usually ``["v_mem"]``).
    """

    required_states: list[str]

    def apply(self, *args: Any) -> torch.Tensor: ...


@runtime_checkable
class ResetFunction(Protocol):
    """``(spikes, state, spike_threshold) -> new_state``: the membrane reset after spiking."""

    def __call__(
        self, spikes: torch.Tensor, state: Mapping[str, torch.Tensor], spike_threshold: torch.Tensor
    ) -> dict[str, torch.Tensor]: ...


class SurrogateSpikeFunction(torch.autograd.Function):
    """Base class for spike rules whose backward pass is ``grad_output * surrogate(v_mem, threshold)``.

    A subclass defines only the forward rule, :meth:`spike_rule`; ``apply(v_mem, spike_threshold, surrogate)``
    then returns the spikes, and the backward pass sends the surrogate gradient to ``v_mem`` alone (none reaches
    the threshold). Any callable that fits :class:`SurrogateGradient` works as ``surrogate``.

    Example:
        >>> class AtLeastThreshold(SurrogateSpikeFunction):
        ...     @staticmethod
        ...     def spike_rule(v_mem, spike_threshold):
        ...         return (v_mem >= spike_threshold).to(v_mem.dtype)
        >>> v = torch.tensor([0.5, 1.5], requires_grad=True)
        >>> AtLeastThreshold.apply(v, torch.tensor(1.0), lambda v, t: torch.ones_like(v)).sum().backward()
        >>> v.grad
        tensor([1., 1.])
    """

    required_states: ClassVar[list[str]] = ["v_mem"]

    @staticmethod
    def spike_rule(v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Give each subclass a *static* forward bound to its own spike_rule: torch.compile traces static
        # forwards of autograd Functions, not class methods.
        super().__init_subclass__(**kwargs)
        if "forward" in cls.__dict__:
            return
        rule = cls.spike_rule

        def forward(
            ctx: Any, v_mem: torch.Tensor, spike_threshold: torch.Tensor, surrogate_grad_fn: SurrogateGradient
        ) -> torch.Tensor:
            ctx.save_for_backward(v_mem.clone(), torch.as_tensor(spike_threshold))
            ctx.surrogate_grad_fn = surrogate_grad_fn
            return rule(v_mem, spike_threshold)

        cls.forward = staticmethod(forward)  # type: ignore[method-assign,assignment]

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor):  # type: ignore[override]
        v_mem, spike_threshold = ctx.saved_tensors
        surrogate = ctx.surrogate_grad_fn
        if surrogate is None:
            raise RuntimeError(
                "a spike function was called without a surrogate gradient (surrogate_grad_fn=None), "
                "so no gradient can pass through it"
            )
        return grad_output * surrogate(v_mem, spike_threshold), None, None
