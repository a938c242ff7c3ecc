"""The demo's network: a small CNN for 8x8 digits, as an ANN (ReLU) and as a spiking net (IAF neurons).

Both share one architecture, so that the ANN can be converted into the same SNN that BPTT trains::

    input (1, 8, 8) -> Conv 3x3 (16) -> ReLU | IAF -> SumPool 2 -> (16, 4, 4)
                    -> Conv 3x3 (32) -> ReLU | IAF -> SumPool 2 -> (32, 2, 2)
                    -> Flatten (128) -> Linear (10)

Layers carry no bias: the data-based weight normalisation used for conversion rescales each layer's weights, which
keeps an ANN without biases exactly equivalent (up to a positive factor per layer). The spiking net's read-out is
the output layer's input current averaged over time (a non-leaky integrator without threshold, divided by T): the
logits are ``(1/T) sum_t W s_t``, where ``s_t`` are the last hidden layer's spikes; for a converted net they
approximate the ANN's logits (up to the positive factor of the weight normalisation).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["build_ann", "build_snn", "readout", "set_num_timesteps", "spiking_layers", "load_snn", "INPUT_SHAPE"]

INPUT_SHAPE = (1, 8, 8)
N_CLASSES = 10


def build_ann() -> nn.Sequential:
    """The ANN: children ``"0"``..``"7"``; ReLUs at ``"1"`` and ``"4"``, weighted layers at ``"0"``, ``"3"``, ``"7"``."""
    import spikekit.layers as sl

    return nn.Sequential(
        nn.Conv2d(1, 16, kernel_size=3, padding=1, bias=False),  # (B, 16, 8, 8)
        nn.ReLU(),
        sl.SumPool2d(2),  # (B, 16, 4, 4)
        nn.Conv2d(16, 32, kernel_size=3, padding=1, bias=False),  # (B, 32, 4, 4)
        nn.ReLU(),
        sl.SumPool2d(2),  # (B, 32, 2, 2)
        nn.Flatten(),  # (B, 128)
        nn.Linear(32 * 2 * 2, N_CLASSES, bias=False),  # (B, 10)
    )


def build_snn(timesteps: int, **neuron_kwargs: Any) -> nn.Sequential:
    """The spiking net for BPTT: the ANN's architecture with ``IAFSqueeze`` neurons in place of the ReLUs.

    Input and output are squeezed: ``(B*T, 1, 8, 8)`` in, ``(B*T, 10)`` out (see :func:`readout`).

    Args:
        timesteps: T, the number of time steps per sample (the batch size is inferred).
        neuron_kwargs: extra arguments for the IAF layers; by default MultiSpike spikes, subtractive reset,
            threshold 1 and a single-exponential surrogate gradient.
    """
    import spikekit.activation as sa
    import spikekit.layers as sl

    def neuron() -> nn.Module:
        kwargs: dict[str, Any] = {
            "spike_threshold": 1.0,
            "spike_fn": sa.MultiSpike,
            "reset_fn": sa.MembraneSubtract(),
            "surrogate_grad_fn": sa.SingleExponential(),
            "min_v_mem": -1.0,
        }
        kwargs.update(neuron_kwargs)
        return sl.IAFSqueeze(num_timesteps=timesteps, **kwargs)

    ann = build_ann()
    layers = list(ann.children())
    layers[1] = neuron()
    layers[4] = neuron()
    return nn.Sequential(*layers)


def readout(output: torch.Tensor, timesteps: int) -> torch.Tensor:
    """Average the spiking net's squeezed output ``(B*T, 10)`` over time into logits ``(B, 10)``."""
    return output.reshape(-1, timesteps, output.shape[-1]).mean(1)  # (B, T, 10) -> (B, 10)


def spiking_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The neuron layers of ``model`` (``(name, module)``), in order."""
    from spikekit.layers import StatefulLayer

    return [(name, m) for name, m in model.named_modules() if isinstance(m, StatefulLayer)]


def set_num_timesteps(model: nn.Module, timesteps: int) -> None:
    """Make every squeezed layer of ``model`` read its input as ``timesteps`` steps per sample."""
    from spikekit.layers import SqueezeMixin

    for m in model.modules():
        if isinstance(m, SqueezeMixin):
            m.num_timesteps = timesteps
            m.batch_size = -1


def load_snn(path: str, timesteps: int = 16) -> nn.Sequential:
    """Rebuild the spiking net and load a state_dict written by the demo (``snn_bptt.pt``, ``snn_converted.pt``).

    The demo saves the neuron states for a single sample (zeros), so the layers are initialised with one sample
    before loading: a spikekit (and sinabs) layer refuses a state of another shape.

    Example:
        >>> model = load_snn("spikekit-demo-out/snn_bptt.pt", timesteps=16)
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    model = build_snn(timesteps)
    with torch.no_grad():
        model(torch.zeros(timesteps, *INPUT_SHAPE))  # one sample: initialise the neuron states' shapes
    model.load_state_dict(state)
    return model
