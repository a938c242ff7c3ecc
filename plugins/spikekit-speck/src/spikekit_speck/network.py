"""``DynapcnnNetwork``: sinabs's entry point, on top of :class:`~spikekit_speck.target.SpeckDeployment`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from spikekit_speck.chip import chip_spec
from spikekit_speck.dvs import DVSLayer
from spikekit_speck.errors import MappingError
from spikekit_speck.graph import rescale_method_1
from spikekit_speck.target import SpeckDeployment, compile_model

__all__ = ["DynapcnnNetwork", "DynapcnnCompatibleNetwork"]


class DynapcnnNetwork(nn.Module):
    """A spiking model prepared for Speck: discretised, placed on cores, simulated with the chip's arithmetic.

    Args:
        snn: the spiking model (a ``spikekit.Network`` is unwrapped to its ``spiking_model``).
        input_shape: ``(C, H, W)``; None takes it from a ``DVSLayer`` in ``snn``.
        batch_size: batch size of the squeezed input; None reads it from the model's Squeeze layers.
        dvs_input: unused placeholder for sinabs compatibility (the DVS layer is taken from ``snn``).
        discretize: simulate the integer chip (True) or run ``snn`` itself in float (False).
        weight_rescaling_fn: combines conflicting AvgPool rescale factors.
        device: device name used for the configuration.

    Example:
        >>> net = DynapcnnNetwork(snn, input_shape=(1, 8, 8))
        >>> out = net(x)                      # x: (batch*time, 1, 8, 8), like the IAFSqueeze model
        >>> net.memory_summary()["kernel"]
    """

    def __init__(
        self,
        snn: nn.Module,
        input_shape: Sequence[int] | None = None,
        batch_size: int | None = None,
        dvs_input: bool | None = None,
        discretize: bool = True,
        weight_rescaling_fn: Callable[[Iterable[float]], float] = rescale_method_1,
        device: str = "speck2fdevkit",
    ) -> None:
        super().__init__()
        if hasattr(snn, "spiking_model"):
            snn = snn.spiking_model
        if input_shape is None:
            dvs = next((m for m in snn.modules() if isinstance(m, DVSLayer)), None)
            if dvs is None:
                raise ValueError("DynapcnnNetwork needs input_shape when the model has no DVSLayer")
            input_shape = dvs.input_shape
        self.snn = snn
        self.input_shape = tuple(int(s) for s in input_shape)
        self.batch_size = batch_size
        self.dvs_input = dvs_input
        self.discretize = discretize
        self.device_name = device.split(":")[0]
        self.deployment: SpeckDeployment = compile_model(
            snn, self.input_shape, chip_spec(self.device_name), self.device_name,
            weight_rescaling_fn=weight_rescaling_fn,
        )  # fmt: skip

    @property
    def layer2core_map(self) -> dict[int, int]:
        return self.deployment.layer2core

    @property
    def config(self) -> dict[str, Any]:
        return self.deployment.config

    def _batch(self, n: int) -> int:
        if self.batch_size is not None:
            return self.batch_size
        from spikekit.utils import get_batch_size, get_num_timesteps

        b, t = get_batch_size(self.snn), get_num_timesteps(self.snn)
        if b > 0:
            return b
        if t > 0:
            return n // t
        raise ValueError("DynapcnnNetwork cannot tell batch from time: pass batch_size or set it on the model")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Args: x ``(batch*time, C, H, W)`` event counts. Returns ``(batch*time, C', H', W')`` spike counts
        (float), the chip's output with its channel/height/width layout (a final Linear gives ``(F, 1, 1)``)."""
        if not self.discretize:
            return self.snn(x)
        b = self._batch(x.shape[0])
        out = self.deployment.simulate(x.reshape(b, x.shape[0] // b, *x.shape[1:]))
        return out.reshape(-1, *out.shape[2:]).float()

    def memory_summary(self) -> dict[str, dict[int, int]]:
        """``{"kernel": {layer: words}, "neuron": {...}, "bias": {...}}`` as in sinabs."""
        report = self.deployment.memory_summary()
        return {"kernel": report.kernel, "neuron": report.neuron, "bias": report.bias}

    def make_config(self, device: str | None = None, configuration_module: Any = None) -> Any:
        """samna's configuration object (needs samna, imported only here); the JSON form is :meth:`to_json`."""
        config = dict(self.deployment.config)
        if device is not None:
            config["device"] = device.split(":")[0]
        from spikekit_speck.samna_export import to_samna_config

        return to_samna_config(config, configuration_module)

    def to_json(self, path: str | None = None, indent: int | None = 2) -> str:
        return self.deployment.to_json(path, indent)

    def is_compatible_with(self, device_type: str) -> bool:
        """True if the network maps onto ``device_type`` (all Speck variants share the core array)."""
        try:
            compile_model(self.snn, self.input_shape, chip_spec(device_type), device_type.split(":")[0])
        except MappingError:
            return False
        return True

    def reset_states(self, randomize: bool = False) -> None:
        """Nothing to do: each simulation starts from the configured initial states."""


class DynapcnnCompatibleNetwork(DynapcnnNetwork):
    """Deprecated alias of :class:`DynapcnnNetwork` (as in sinabs)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        import warnings

        warnings.warn("DynapcnnCompatibleNetwork is deprecated, use DynapcnnNetwork", DeprecationWarning, stacklevel=2)
        super().__init__(*args, **kwargs)
