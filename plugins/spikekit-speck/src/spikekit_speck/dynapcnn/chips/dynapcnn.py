"""The configuration builder shared by the DYNAP-CNN / Speck chips (sinabs's ``chips.dynapcnn``).

:meth:`DynapcnnConfigBuilder.get_dynapcnn_layer_config_dict` is plain Python (no samna): the per-core settings
(dimensions, integer weights with height and width swapped to samna's convention, biases, thresholds, reset mode,
initial states, destinations with pooling). Writing them into samna's objects needs samna.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any

import torch

from spikekit_speck.chip import SPECK
from spikekit_speck.config import core_settings
from spikekit_speck.dvs import DVSLayer
from spikekit_speck.dynapcnn._builder import ConfigBuilder
from spikekit_speck.dynapcnn.dynapcnn_layer import DynapcnnLayer
from spikekit_speck.dynapcnn.mapping import LayerConstraints
from spikekit_speck.recognise import reset_mode_of
from spikekit_speck.samna_export import write_core, write_dvs

__all__ = ["DVSLayer", "DynapcnnConfigBuilder", "DynapcnnLayer"]


def _square(pool: Any, layer_index: Any) -> int:
    if isinstance(pool, int):
        return pool
    a, b = pool
    if a != b:
        raise ValueError(f"Can only do pooling with quadratic kernels. Received {pool} (layer {layer_index})")
    return int(a)


class DynapcnnConfigBuilder(ConfigBuilder):
    """Builds samna configurations for the 9-core DYNAP-CNN array (the chips differ in samna's module only).

    Offline (no samna): :meth:`get_constraints`, :meth:`map_layers_to_cores`,
    :meth:`get_dynapcnn_layer_config_dict`, and :meth:`monitor_layers` / :meth:`reset_states`, which act on any
    configuration object with samna's fields. The rest builds or reads samna objects and raises
    :class:`~spikekit_speck.dynapcnn._samna.SamnaRequiredError` without samna.
    """

    #: samna's submodule of the chip family (``samna.<samna_family>``); set by each chip.
    samna_family: str = ""

    @staticmethod
    def _samna(what: str, sub: str | None = None) -> Any:
        from spikekit_speck.dynapcnn._samna import require_samna

        samna = require_samna(f"the chip configuration ({what})")
        if sub is None:
            return samna
        try:
            return importlib.import_module(f"samna.{sub}")
        except ImportError:
            obj: Any = samna
            for part in sub.split("."):
                obj = getattr(obj, part)
            return obj

    @classmethod
    def get_dvs_layer_config(cls) -> Any:
        raise NotImplementedError(f"{cls.__name__} has no DVS layer configuration")

    @classmethod
    def write_dvs_layer_config(
        cls, layer: Any, layer2core_map: dict[int, int], destination_indices: list[int], chip_layer: Any
    ) -> None:
        """Write a DVSLayer's settings and destinations into samna's DVS layer configuration (in place)."""
        cores = [layer2core_map[dest] for dest in destination_indices if dest >= 0]
        write_dvs(chip_layer, layer.get_config_dict(), cores)

    @classmethod
    def get_dynapcnn_layer_config_dict(
        cls, layer: Any, layer2core_map: dict[int, int], destination_indices: list[int]
    ) -> dict[str, Any]:
        """The settings of one core for ``layer`` (a DynapcnnLayer), as plain Python values (the engine's
        :func:`~spikekit_speck.config.core_settings`, with sinabs's integer conversion: truncation)."""
        conv, spk = layer.conv_layer, layer.spk_layer
        f, h, w = layer.get_neuron_shape()
        if conv.kernel_size[0] != conv.kernel_size[1]:
            raise ValueError(
                f"Conv2d: Kernel must have same height and width, got {tuple(conv.kernel_size)} in {conv}."
            )
        biases = torch.zeros(conv.out_channels) if conv.bias is None else conv.bias.detach()
        if not spk.is_state_initialised():
            state = torch.zeros(f, h, w)
        elif spk.v_mem.dim() == 4:
            state = spk.v_mem.detach()[0]
        else:
            raise ValueError(f"Current v_mem (shape: {tuple(spk.v_mem.shape)}) of spiking layer {spk} not understood.")
        return_to_zero, _ = reset_mode_of(spk)
        low = -(2**15) if spk.min_v_mem is None else int(spk.min_v_mem)
        destinations = [
            {"layer": layer2core_map[dest], "enable": True, "pooling": _square(pool, dest)}
            for dest, pool in zip(destination_indices, layer.pool)
            if dest >= 0
        ]
        return core_settings(
            layer.in_shape,
            conv.weight.detach().int(),
            biases.int(),
            conv.stride,
            conv.padding,
            (int(spk.spike_threshold), low),
            return_to_zero,
            state.int(),
            destinations,
            leak_enable=bool(biases.bool().any()),  # sinabs reads the leak off the biases before truncating them
        )

    @classmethod
    def write_dynapcnn_layer_config(
        cls, layer: Any, layer2core_map: dict[int, int], destination_indices: list[int], chip_layer: Any
    ) -> None:
        """Write :meth:`get_dynapcnn_layer_config_dict` into samna's core configuration (in place)."""
        write_core(chip_layer, cls.get_dynapcnn_layer_config_dict(layer, layer2core_map, destination_indices))

    @classmethod
    def build_config(
        cls, layers: dict[Any, Any], layer2core_map: dict[int, int], destination_map: dict[Any, Any]
    ) -> Any:
        """samna's configuration with every DynapcnnLayer on its core and the DVS layer set up."""
        from spikekit_speck.dynapcnn.dynapcnn_layer import DynapcnnLayer

        config = cls.get_default_config()
        config.dvs_layer.pass_sensor_events = False
        for index, layer in layers.items():
            if isinstance(layer, DynapcnnLayer):
                cls.write_dynapcnn_layer_config(
                    layer, layer2core_map, destination_map[index], config.cnn_layers[layer2core_map[index]]
                )
            elif isinstance(layer, DVSLayer):
                cls.write_dvs_layer_config(layer, layer2core_map, destination_map[index], config.dvs_layer)
            else:
                raise TypeError(f"Layer (index {index}) is unexpected in the model: \n{layer}")
        return config

    @classmethod
    def get_constraints(cls) -> list[LayerConstraints]:
        """The 9 cores' kernel, neuron and bias memories (see :mod:`spikekit_speck.chip`)."""
        return [LayerConstraints(c.kernel_memory, c.neuron_memory, c.bias_memory) for c in SPECK.cores]

    @classmethod
    def monitor_layers(cls, config: Any, layers: list[Any]) -> Any:
        """Enable the monitors of these cores (``"dvs"``: the DVS layer), in place; returns ``config``."""
        layers = list(layers)
        if "dvs" in layers:
            config.dvs_layer.monitor_enable = True
            if config.dvs_layer.pooling.x != 1 or config.dvs_layer.pooling.y != 1:
                warnings.warn(
                    "DVS layer has pooling and is being monitored. Note that pooling will not be reflected in the "
                    "monitored events.",
                    stacklevel=2,
                )
            layers.remove("dvs")
        for core in layers:
            config.cnn_layers[core].monitor_enable = True
            if any(dest.pooling != 1 for dest in config.cnn_layers[core].destinations):
                warnings.warn(
                    f"Layer {core} has pooling and is being monitored. Note that pooling will not be reflected in "
                    "the monitored events.",
                    stacklevel=2,
                )
        return config

    @classmethod
    def reset_states(cls, config: Any, randomize: bool = False) -> Any:
        """Set every core's initial neuron states to zero (or random values between its thresholds)."""
        for core in config.cnn_layers:
            shape = torch.tensor(core.neurons_initial_value).shape
            if randomize:
                state = torch.randint(core.threshold_low, core.threshold_high, shape)
            else:
                state = torch.zeros(shape, dtype=torch.int)
            core.neurons_initial_value = state.tolist()
        return config
