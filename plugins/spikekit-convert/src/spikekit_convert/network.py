"""``Network``: an analog model and the spiking model converted from it (``spikekit.network``)."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, cast

import numpy as np
import torch
from torch import nn

from spikekit.state import StatefulLayer
from spikekit_convert.checks import check_input_shape, require_module, run_probe
from spikekit_convert.synopcounter import SNNAnalyzer
from spikekit_convert.utils import get_activations, get_network_activations

__all__ = ["Network"]


def _device_of(*modules: nn.Module | None) -> torch.device:
    for module in modules:
        if module is None:
            continue
        for tensor in (*module.parameters(), *module.buffers()):
            return tensor.device
    return torch.device("cpu")


class _Shaped(Protocol):
    out_shape: torch.Size


class Network(nn.Module):
    """A spiking model together with the analog model it came from (what :func:`from_model` returns).

    ``forward`` runs the spiking model. With ``input_shape`` a probe forward pass on zeros of shape
    ``(batch_size * num_timesteps, *input_shape)`` stores every module's output shape (without the first
    dimension) as ``module.out_shape`` and, as a side effect, creates the neuron states.

    Args:
        analog_model: the ANN (kept as given, not copied).
        spiking_model: the SNN.
        input_shape: one sample's shape, e.g. ``(C, H, W)``; None skips the probe.
        synops: attach an :class:`SNNAnalyzer` as ``synops_counter`` (read it with :meth:`get_synops`).
        batch_size: batch size of the probe (None counts as 1).
        num_timesteps: time steps of the probe (None counts as 1).

    Example:
        >>> net = Network(ann, snn, input_shape=(1, 28, 28), batch_size=8)
        >>> out = net(x)  # x: (8*T, 1, 28, 28)
    """

    def __init__(
        self,
        analog_model: nn.Module | None = None,
        spiking_model: nn.Module | None = None,
        input_shape: Sequence[int] | None = None,
        synops: bool = False,
        batch_size: int | None = 1,
        num_timesteps: int | None = 1,
    ):
        super().__init__()
        require_module("Network", "analog_model", analog_model, optional=True)
        require_module("Network", "spiking_model", spiking_model, optional=True)
        check_input_shape("Network", input_shape)
        self.spiking_model = spiking_model
        self.analog_model = analog_model
        self.input_shape = input_shape
        self.synops = synops
        if synops:
            self.synops_counter = SNNAnalyzer(self._model("spiking"))  # warns DeprecationWarning, as in sinabs
        if input_shape is not None and spiking_model is not None:
            self._compute_shapes(input_shape, batch_size=batch_size, num_timesteps=num_timesteps)

    def _model(self, which: str) -> nn.Module:
        """The ``"spiking"`` or ``"analog"`` model, which this use needs (a clear error when it is None)."""
        model = self.spiking_model if which == "spiking" else self.analog_model
        if model is None:
            raise ValueError(f"Network: this needs the {which} model, but the network was built without one")
        return model

    @property
    def layers(self) -> list[tuple[str, nn.Module]]:
        """``(name, module)`` of the spiking model's direct children."""
        return list(self._model("spiking").named_children())

    def _compute_shapes(self, input_shape: Sequence[int], batch_size: int | None = 1, num_timesteps: int | None = 1):
        def record_shape(module: nn.Module, inp: Any, out: torch.Tensor) -> None:
            cast(_Shaped, module).out_shape = out.shape[1:]  # an attribute added here

        spiking_model = self._model("spiking")
        handles = [m.register_forward_hook(record_shape) for m in spiking_model.modules()]
        try:
            rows = (batch_size or 1) * (num_timesteps or 1)
            probe = torch.zeros([rows, *input_shape], device=_device_of(self))
            run_probe("Network", spiking_model, probe, self)
        finally:
            for handle in handles:
                handle.remove()

    def forward(self, tsrInput: torch.Tensor) -> torch.Tensor:
        """Run the spiking model."""
        return self._model("spiking")(tsrInput)

    def compare_activations(
        self,
        data: torch.Tensor,
        name_list: Sequence[str] | None = None,
        compute_rate: bool = False,
        verbose: bool = False,
    ) -> tuple[list[np.ndarray], list[np.ndarray], Sequence[str]]:
        """Activations of the analog model next to spike counts (or rates) of the spiking model.

        The analog model sees ``data.sum(0)`` (``data.mean(0)`` with ``compute_rate``) as a batch of one; the
        spiking model sees ``data``, its outputs summed over dim 0 (see
        :func:`spikekit.utils.get_network_activations`).

        Args:
            data: the spiking input, ``(T, ...)``.
            name_list: module names present in both models; default ``"Input"`` and every stateful layer.
            compute_rate: compare rates instead of counts.
            verbose: print the names compared.

        Returns:
            ``(analog_activations, spike_counts_or_rates, name_list)``.
        """
        if name_list is None:
            name_list = ["Input"] + [
                n for n, m in self._model("spiking").named_modules() if isinstance(m, StatefulLayer)
            ]
        if verbose:
            print(f"Comparing activations for {name_list}")
        analog_input = (data.mean(0) if compute_rate else data.sum(0)).unsqueeze(0)
        with torch.no_grad():
            analog = get_activations(self._model("analog"), analog_input, name_list=name_list)
        spiking = get_network_activations(self._model("spiking"), data, name_list=name_list, bRate=compute_rate)
        return analog, spiking, name_list

    def plot_comparison(
        self, data: torch.Tensor, name_list: Sequence[str] | None = None, compute_rate: bool = False
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Scatter-plot analog activations against spike counts (or rates) per layer (needs matplotlib).

        Returns:
            ``(analog_activations, spike_counts_or_rates)``.
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("Network.plot_comparison needs matplotlib: pip install spikekit-convert[plot]") from exc
        analog, spiking, names = self.compare_activations(data, name_list=name_list, compute_rate=compute_rate)
        for a, s, name in zip(analog, spiking, names):
            plt.scatter(s, a, label=name)
        plt.xlabel("Spike rates (Hz)" if compute_rate else "# Spike count")
        plt.ylabel("Analog activations")
        plt.legend()
        return analog, spiking

    def reset_states(
        self,
        randomize: bool = False,
        value_ranges: Sequence[Mapping[str, tuple[float, float]]] | None = None,
    ) -> None:
        """Reset every stateful layer (recurrent ones included) to zero or to uniform noise.

        Args:
            randomize: draw states uniformly instead of zeroing them.
            value_ranges: one ``{state_name: (min, max)}`` per stateful layer, in module order (default range
                ``(0, 1)``); only used with ``randomize``.
        """
        layers = [m for m in self.modules() if isinstance(m, StatefulLayer)]
        if value_ranges and len(value_ranges) != len(layers):
            raise TypeError(
                f"Network.reset_states: value_ranges has {len(value_ranges)} entries but the network has "
                f"{len(layers)} stateful layers"
            )
        for i, layer in enumerate(layers):
            layer.reset_states(randomize=randomize, value_ranges=value_ranges[i] if value_ranges else None)

    def zero_grad(self, set_to_none: bool = False) -> None:
        """Zero the spiking model's gradients and cut its neuron states from the autograd graph."""
        if self.spiking_model is None:
            return
        self.spiking_model.zero_grad(set_to_none)
        for module in self.spiking_model.modules():
            if isinstance(module, StatefulLayer):
                module.detach_states()

    def get_synops(self, num_evs_in: Any = None) -> dict[str, dict[str, Any]]:
        """Synaptic operations per parameter layer of the last forward pass (needs ``synops=True``).

        Returns the ``"parameter"`` part of :meth:`SNNAnalyzer.get_layer_statistics`: ``{layer name: {"synops",
        "num_timesteps", "time_window", "SynOps/s", "synops/s"}}``. (Always raises in sinabs 3.1.3.)

        Args:
            num_evs_in: deprecated, ignored.
        """
        if num_evs_in is not None:
            warnings.warn("num_evs_in is deprecated and has no effect", DeprecationWarning, stacklevel=2)
        counter = getattr(self, "synops_counter", None)
        if counter is None:
            raise RuntimeError(
                "Network.get_synops: this network counts no synaptic operations; build it with synops=True "
                "(Network(..., synops=True) or from_model(..., synops=True))"
            )
        return counter.get_layer_statistics()["parameter"]
