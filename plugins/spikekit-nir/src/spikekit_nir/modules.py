"""Small torch modules for NIR nodes that have no layer elsewhere in spikekit: ``Scale``, ``Offset``, ``Threshold``,
``Delay``.

``Scale``, ``Threshold`` and ``Delay`` are exported back to the NIR node they came from, so they round-trip;
``Offset`` is part of a :class:`~spikekit_nir.neuron_node.NeuronNode`, exported with it.
"""

from __future__ import annotations

import torch
from torch import nn

from spikekit.state import SqueezeMixin

__all__ = ["Scale", "Offset", "Threshold", "Delay"]


class Scale(nn.Module):
    """Multiply the input elementwise by a fixed tensor: :math:`y = x \\odot s` (NIR ``Scale``).

    Args:
        scale: tensor broadcastable to the trailing (neuron) dims of the input; stored as the buffer ``scale``.

    Shape:
        input ``(N, *neuron_shape)``, output the same.

    Example:
        >>> Scale(torch.tensor([2.0, 0.5]))(torch.ones(3, 2))[0]
        tensor([2.0000, 0.5000])
    """

    scale: torch.Tensor  # a buffer

    def __init__(self, scale: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale

    def extra_repr(self) -> str:
        return f"shape={tuple(self.scale.shape)}"


class Offset(nn.Module):
    """Add a fixed tensor to the input: :math:`y = x + o` (a leaky integrator's resting potential on its output).

    Args:
        offset: tensor broadcastable to the trailing (neuron) dims of the input; stored as the buffer ``offset``.

    Example:
        >>> Offset(torch.tensor([1.0, -1.0]))(torch.zeros(2, 2))[0]
        tensor([ 1., -1.])
    """

    offset: torch.Tensor  # a buffer

    def __init__(self, offset: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("offset", torch.as_tensor(offset, dtype=torch.float32).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.offset


class Threshold(nn.Module):
    """Heaviside step: :math:`z = 1` where :math:`x > \\theta`, else 0 (NIR ``Threshold``; no surrogate gradient).

    Args:
        threshold: tensor broadcastable to the trailing dims of the input; stored as the buffer ``threshold``.

    Example:
        >>> Threshold(torch.tensor(0.5))(torch.tensor([0.2, 0.5, 0.7]))
        tensor([0., 0., 1.])
    """

    threshold: torch.Tensor  # a buffer

    def __init__(self, threshold: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("threshold", torch.as_tensor(threshold, dtype=torch.float32).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x > self.threshold).to(x.dtype)


class Delay(nn.Module, SqueezeMixin):
    """Delay every neuron's signal by a whole number of time steps: :math:`y_t = x_{t-d}` (0 before the start).

    The input is in spikekit's squeezed layout ``(B*T, *neuron_shape)``, like the Squeeze neuron layers (it is a
    :class:`~spikekit.layers.SqueezeMixin`, so ``set_batch_size`` reaches it too); the delay does not carry over
    between calls (each call is one sequence starting from silence).

    Args:
        steps: integer delays, scalar or per neuron (broadcastable to ``neuron_shape``), stored as buffer ``steps``.
        batch_size: the batch size B, or None to infer it from ``num_timesteps``.
        num_timesteps: the number of time steps T, or None to infer it from ``batch_size``.

    Example:
        >>> Delay(torch.tensor(1), num_timesteps=3)(torch.tensor([[1.0], [2.0], [3.0]])).flatten()
        tensor([0., 1., 2.])
    """

    steps: torch.Tensor  # a buffer

    def __init__(self, steps: torch.Tensor, batch_size: int | None = None, num_timesteps: int | None = None) -> None:
        super().__init__()
        self.squeeze_init(batch_size, num_timesteps)
        steps = torch.as_tensor(steps)
        if steps.is_floating_point():
            if not torch.equal(steps, steps.round()):
                raise ValueError(f"Delay expects whole numbers of time steps, got {steps.tolist()}")
        if (steps < 0).any():
            raise ValueError(f"Delay expects non-negative delays, got {steps.tolist()}")
        self.register_buffer("steps", steps.to(torch.long).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.squeeze_forward(x, self._delay)

    def _delay(self, seq: torch.Tensor) -> torch.Tensor:
        n_steps = seq.shape[1]  # seq: (B, T, ...)
        steps = torch.broadcast_to(self.steps, seq.shape[2:])  # (...)
        t = torch.arange(n_steps, device=seq.device).view(n_steps, *([1] * steps.dim()))
        source = t - steps  # (T, ...): the time step each output reads from
        valid = source >= 0
        index = source.clamp(min=0).unsqueeze(0).expand_as(seq)
        return torch.gather(seq, 1, index) * valid.unsqueeze(0).to(seq.dtype)

    def extra_repr(self) -> str:
        return f"steps={self.steps.tolist()}, batch_size={self.batch_size}, num_timesteps={self.num_timesteps}"
