"""Using your own function as a surrogate gradient.

A surrogate gradient is *any* callable ``sg(v_mem, spike_threshold) -> tensor`` (the core's
:class:`spikekit.protocols.SurrogateGradient` protocol): it receives the membrane potential saved in the forward
pass and the threshold (a tensor that broadcasts against ``v_mem``: a scalar or one value per neuron) and returns,
elementwise and with ``v_mem``'s shape, the number the backward pass multiplies the incoming gradient by. It is
called inside ``backward``, outside any autograd graph, so it need not be differentiable itself.

A plain function or a lambda works::

    def boxcar(v_mem, spike_threshold):
        return ((v_mem - spike_threshold).abs() < 0.5).to(v_mem.dtype)

    layer = spikekit.layers.LIF(tau_mem=10.0, surrogate_grad_fn=boxcar)

Prefer a small dataclass (as every class in this package is) when the model will be pickled, deep-copied,
compared or printed: a lambda cannot be pickled, and two closures never compare equal. :func:`check_surrogate`
calls a candidate once on a probe and reports what is wrong with it in words.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import torch

__all__ = ["check_surrogate"]

F = TypeVar("F", bound=Callable[..., torch.Tensor])


def check_surrogate(surrogate: F, *, owner: str = "surrogate_grad_fn") -> F:
    """Return ``surrogate`` unchanged if it behaves as a surrogate gradient; raise a clear error if not.

    It is called once on a probe ``v_mem`` of shape ``(2, 3)`` (float32 and float64) with a scalar threshold and
    with a per-neuron threshold of shape ``(3,)``; the result must be a tensor with ``v_mem``'s shape and dtype
    and finite values.

    Args:
        surrogate: the candidate, ``(v_mem, spike_threshold) -> tensor``.
        owner: who asks (a layer name), used in error messages.

    Example:
        >>> check_surrogate(lambda v, thr: torch.ones_like(v)) is not None
        True
    """
    if not callable(surrogate):
        raise TypeError(
            f"{owner} must be a callable (v_mem, spike_threshold) -> tensor, got {type(surrogate).__name__}"
        )
    for dtype in (torch.float32, torch.float64):
        v = torch.linspace(-1.0, 2.0, 6, dtype=dtype).reshape(2, 3)
        for thr in (torch.tensor(1.0, dtype=dtype), torch.tensor([0.5, 1.0, 1.5], dtype=dtype)):
            try:
                out = surrogate(v, thr)
            except Exception as exc:
                raise TypeError(
                    f"{owner} must accept (v_mem, spike_threshold) tensors; calling {surrogate!r} with v_mem of "
                    f"shape {tuple(v.shape)} and spike_threshold of shape {tuple(thr.shape)} raised "
                    f"{type(exc).__name__}: {exc}"
                ) from exc
            if not isinstance(out, torch.Tensor):
                raise TypeError(f"{owner} must return a tensor, {surrogate!r} returned {type(out).__name__}")
            if out.shape != v.shape:
                raise ValueError(
                    f"{owner} must return a tensor shaped like v_mem {tuple(v.shape)}, {surrogate!r} returned shape "
                    f"{tuple(out.shape)} (spike_threshold shape {tuple(thr.shape)})"
                )
            if out.dtype != dtype:
                raise ValueError(f"{owner} must return v_mem's dtype {dtype}, {surrogate!r} returned {out.dtype}")
            if not torch.isfinite(out).all():
                raise ValueError(f"{owner}: {surrogate!r} returned non-finite values for v_mem in [-1, 2]")
    return surrogate
