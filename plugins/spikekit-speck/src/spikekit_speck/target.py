"""The Speck hardware target: ``spikekit.deploy(model, "speck2f", input_shape)`` -> :class:`SpeckDeployment`."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import torch
from torch import nn

from spikekit_speck.chip import CHIP_NAMES, ChipSpec, chip_spec
from spikekit_speck.config import build_config, from_json, to_json
from spikekit_speck.discretize import DiscreteLayerParams, discretize_params
from spikekit_speck.errors import SpeckModelError
from spikekit_speck.graph import NetworkPlan, plan_network, rescale_method_1
from spikekit_speck.mapping import MemoryReport, map_layers
from spikekit_speck.simulator import ChipSimulator

__all__ = ["SpeckTarget", "SpeckDeployment", "compile_model"]


class SpeckDeployment:
    """A model placed on a Speck chip: its configuration, a chip-exact simulator and a memory report.

    Attributes:
        config: the JSON-serialisable configuration (see :mod:`spikekit_speck.config`).
        plan: the float plan it came from (None when loaded from JSON).

    Example:
        >>> dep = spikekit.deploy(snn, "speck2f", input_shape=(1, 8, 8))
        >>> counts = dep.simulate(x)            # x: (B, T, 1, 8, 8) event counts
        >>> print(dep.memory_summary())
    """

    def __init__(self, config: dict[str, Any], plan: NetworkPlan | None = None, saturate: bool = True) -> None:
        self.config = config
        self.plan = plan
        self.simulator = ChipSimulator(config, saturate=saturate)

    @property
    def layer2core(self) -> dict[int, int]:
        """``{layer index: core id}``."""
        return {layer["index"]: layer["core"] for layer in self.config["layers"]}

    def simulate(self, x: torch.Tensor) -> torch.Tensor:
        """Output spike counts ``(B, T, C, H, W)`` (int64) for input counts ``(B, T, C, H, W)`` (or without B)."""
        return self.simulator(x)

    def simulate_all(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """Every layer's (unpooled) spikes ``{layer index: (B, T, C, H, W)}``."""
        self.simulator.run(x)
        return dict(self.simulator.layer_spikes)

    def memory_summary(self) -> MemoryReport:
        """Memory per layer and per core (``report["kernel"]`` etc. give sinabs's dicts)."""
        memory = self.config["memory"]
        return MemoryReport(memory["layers"], memory["cores"])

    def to_json(self, path: str | None = None, indent: int | None = 2) -> str:
        """The configuration as JSON text (written to ``path`` when given)."""
        return to_json(self.config, path, indent)

    @classmethod
    def from_json(cls, text_or_path: str) -> SpeckDeployment:
        """Rebuild a deployment (simulator included) from JSON text or a file."""
        return cls(from_json(text_or_path))

    def to_samna(self, configuration_module: Any = None) -> Any:
        """samna's configuration object for this network (needs samna; imported only here)."""
        from spikekit_speck.samna_export import to_samna_config

        return to_samna_config(self.config, configuration_module)


def compile_model(
    model: nn.Module,
    input_shape: Sequence[int],
    chip: ChipSpec,
    device: str,
    layer2core: dict[int, int] | str = "auto",
    weight_rescaling_fn: Callable[[Iterable[float]], float] = rescale_method_1,
    saturate: bool = True,
) -> SpeckDeployment:
    """Plan, discretise and map ``model``; see :meth:`SpeckTarget.compile`."""
    plan = plan_network(model, input_shape, chip, weight_rescaling_fn)
    if isinstance(layer2core, str) and layer2core != "auto":
        raise ValueError(f"layer2core must be 'auto' or {{layer index: core}}, got {layer2core!r}")
    placement = map_layers(plan.layers, chip, None if isinstance(layer2core, str) else dict(layer2core))
    params: list[DiscreteLayerParams] = [
        discretize_params(layer.weight, layer.bias, layer.threshold, layer.min_v_mem) for layer in plan.layers
    ]
    return SpeckDeployment(build_config(plan, params, placement, chip, device), plan, saturate=saturate)


class SpeckTarget:
    """SynSense Speck / DYNAP-CNN: 9 convolutional cores, 8-bit weights, 16-bit states.

    Args:
        name: a device name of :data:`spikekit_speck.chip.CHIP_NAMES` (``speck2f``, ``speck2fdevkit``, ...).

    Example:
        >>> dep = spikekit.deploy(snn, "speck2f", input_shape=(2, 64, 64))
    """

    def __init__(self, name: str = "speck2f") -> None:
        self.name = name
        self.chip = chip_spec(name)

    def check(self, model: nn.Module, input_shape: Sequence[int]) -> list[str]:
        """Problems that stop ``model`` from mapping (empty when it fits)."""
        try:
            plan = plan_network(model, input_shape, self.chip)
            map_layers(plan.layers, self.chip)
        except SpeckModelError as exc:
            return [str(exc)]
        return []

    def compile(self, model: nn.Module, input_shape: Sequence[int], **options: Any) -> SpeckDeployment:
        """Map ``model`` onto the chip.

        Options:
            layer2core: ``"auto"`` (default, a maximum matching) or ``{layer index: core}``.
            weight_rescaling_fn: combines conflicting AvgPool rescale factors (default ``rescale_method_1``).
            saturate: clip simulated states to 16 bits (default True).
            device: device name written into the configuration (default: the target's name).

        Raises:
            SpeckModelError (a ValueError) naming the layer when the model breaks a chip rule or does not fit.
        """
        device = options.pop("device", self.name)
        unknown = set(options) - {"layer2core", "weight_rescaling_fn", "saturate"}
        if unknown:
            raise TypeError(f"SpeckTarget.compile got unknown options {sorted(unknown)}")
        return compile_model(model, input_shape, self.chip, device, **options)

    def __repr__(self) -> str:
        return f"SpeckTarget({self.name!r})"


def __getattr__(name: str) -> SpeckTarget:
    """``spikekit_speck.target.speck2e`` etc.: the target of each device name (made on first use)."""
    if name in CHIP_NAMES:
        target = SpeckTarget(name)
        globals()[name] = target
        return target
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
