"""``DynapcnnNetwork``: a spiking model prepared for a DYNAP-CNN / Speck chip (sinabs's ``dynapcnn_network``).

The model's graph is extracted and checked (:class:`~.nir_graph_extractor.GraphExtractor`), each
``Conv2d|Linear -> IAFSqueeze -> [pooling]`` chain becomes a :class:`~.dynapcnn_layer.DynapcnnLayer` (BatchNorm folded
into the weights, AvgPool turned into sum pooling with the next weights rescaled, parameters discretised to the chip's
precision), and ``forward`` runs those layers in torch, as sinabs does: states persist across calls until
``reset_states()``, and with ``discretize=False`` the network trains like any module.

``make_config`` builds samna's configuration object (samna, SynSense's SDK, is imported only there);
``make_json_config`` builds spikekit's JSON configuration, with the same arguments, without samna.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from pprint import pformat
from typing import Any

import torch
from torch import nn

from spikekit_speck.chip import CONFIGURABLE_DEVICES, parse_device_id
from spikekit_speck.dvs import DVSLayer
from spikekit_speck.dynapcnn.chip_factory import ChipFactory
from spikekit_speck.dynapcnn.chips import builder_for
from spikekit_speck.dynapcnn.dynapcnn_layer import DynapcnnLayer
from spikekit_speck.dynapcnn.io import disable_timestamps, enable_timestamps, open_device, reset_timestamps
from spikekit_speck.dynapcnn.nir_graph_extractor import GraphExtractor
from spikekit_speck.dynapcnn.utils import COMPLETELY_IGNORED_LAYER_TYPES, infer_input_shape
from spikekit_speck.graph import NetworkPlan, rescale_method_1

__all__ = [
    "ChipFactory",
    "DynapcnnNetwork",
    "DynapcnnCompatibleNetwork",
    "disable_timestamps",
    "enable_timestamps",
    "open_device",
    "reset_timestamps",
]

#: The chips a configuration can be made for (sinabs's ``ChipFactory.supported_devices``).
SUPPORTED_DEVICES = CONFIGURABLE_DEVICES


def _unwrap(snn: nn.Module) -> nn.Module:
    try:
        from spikekit.network import Network
    except ImportError:  # the plugin that provides Network (spikekit-convert) is not installed: snn is not one
        return snn
    return snn.spiking_model if isinstance(snn, Network) else snn


class DynapcnnNetwork(nn.Module):
    """A spiking network prepared for DYNAP-CNN / Speck: checked, grouped into chip layers, discretised.

    Args:
        snn: the spiking model (a ``spikekit.network.Network`` is replaced by its ``spiking_model``).
        input_shape: ``(features, height, width)``; None takes it from a DVSLayer in ``snn``.
        batch_size: batch size of the squeezed input used to trace the model; None infers it from the model.
        dvs_input: True adds a DVSLayer when there is none (and enables the pixel array); False disables the
            pixel array of the model's DVSLayer; None leaves it as it is.
        discretize: round weights, biases, thresholds and states to the chip's precision (False: keep floats,
            e.g. to train).
        weight_rescaling_fn: combines conflicting AvgPool rescale factors reaching one layer.

    Example:
        >>> net = DynapcnnNetwork(snn, input_shape=(2, 64, 64))
        >>> out = net(x)                        # x: (batch*time, 2, 64, 64); states persist across calls
        >>> net.reset_states(); net.memory_summary()["kernel"]
    """

    # Set by `to`: a torch device, or a chip id such as "speck2fdevkit:0"; with a chip, samna's objects as well.
    device: str | torch.device
    samna_device: Any
    samna_config: Any
    samna_input_buffer: Any
    samna_output_buffer: Any

    def __init__(
        self,
        snn: nn.Module,
        input_shape: tuple[int, int, int] | None = None,
        batch_size: int | None = None,
        dvs_input: bool | None = None,
        discretize: bool = True,
        weight_rescaling_fn: Callable = rescale_method_1,
    ) -> None:
        super().__init__()
        snn = _unwrap(snn)
        self.dvs_input = dvs_input
        self.input_shape = infer_input_shape(snn, input_shape)
        self._layer2core_map: dict[int, int] | None = None
        if batch_size is None:
            from spikekit.utils import get_smallest_compatible_time_dimension

            batch_size = get_smallest_compatible_time_dimension(snn)
        # As sinabs, the graph is traced with a random input of this shape (only its shape is used here); drawing it
        # keeps every later random draw of a seeded program the same as under sinabs.
        self._graph_extractor = GraphExtractor(
            snn,
            torch.randn((batch_size, *self.input_shape)),
            self.dvs_input,
            ignore_node_types=COMPLETELY_IGNORED_LAYER_TYPES,
        )
        self._weight_rescaling_fn = weight_rescaling_fn
        self._dynapcnn_module = self._graph_extractor.get_dynapcnn_network_module(
            discretize=discretize, weight_rescaling_fn=weight_rescaling_fn
        )
        by_plan_index = self._dynapcnn_module.dynapcnn_layers
        self._dynapcnn_module.setup_dynapcnnlayer_graph(index_layers_topologically=True)
        # DynapcnnLayer index -> index of the same layer in the graph extractor's plan (for the JSON config).
        new_index = {id(layer): i for i, layer in self._dynapcnn_module.dynapcnn_layers.items()}
        self._plan_index = {new_index[id(layer)]: old for old, layer in by_plan_index.items()}

    @property
    def plan(self) -> NetworkPlan:
        """The engine's plan of the chip layers, made once from the one trace of the model (read-only)."""
        return self._graph_extractor.plan(self._weight_rescaling_fn)

    # -- sinabs's attributes ---------------------------------------------------------------------------------------
    @property
    def all_layers(self) -> dict[Any, nn.Module]:
        return self._dynapcnn_module.all_layers

    @property
    def dvs_node_info(self) -> dict[str, Any] | None:
        return self._dynapcnn_module.dvs_node_info

    @property
    def dvs_layer(self) -> DVSLayer | None:
        return self._dynapcnn_module.dvs_layer

    @property
    def chip_layers_ordering(self) -> dict[int, int] | None:
        """Deprecated: the ``layer2core_map`` (None until a configuration was made)."""
        warnings.warn(
            "`chip_layers_ordering` is deprecated. Returning `layer2core_map` instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return self._layer2core_map

    @property
    def dynapcnn_layers(self) -> dict[int, DynapcnnLayer]:
        return self._dynapcnn_module.dynapcnn_layers

    @property
    def dynapcnn_module(self) -> nn.Module:
        return self._dynapcnn_module

    @property
    def exit_layers(self) -> list[DynapcnnLayer]:
        return [self.dynapcnn_layers[i] for i in self._dynapcnn_module.get_exit_layers()]

    @property
    def exit_layer_ids(self) -> list[int]:
        return self._dynapcnn_module.get_exit_layers()

    @property
    def is_deployed_on_dynapcnn_device(self) -> bool:
        device = getattr(self, "device", None)
        return isinstance(device, str) and parse_device_id(device)[0] in SUPPORTED_DEVICES

    @property
    def layer_destination_map(self) -> dict[Any, list[int]]:
        return self._dynapcnn_module.destination_map

    @property
    def layer2core_map(self) -> dict[int, int] | None:
        return self._layer2core_map

    @property
    def name_2_indx_map(self) -> dict[str, int]:
        return self._graph_extractor.name_2_indx_map

    # -- running ---------------------------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, return_complete: bool = False) -> Any:
        """Run the DynapcnnLayers (or, once deployed on a chip through samna, stream ``x``'s events through it).

        Args:
            x: ``(batch*time, C, H, W)`` input (event counts; float input is accepted, as in sinabs).
            return_complete: return every layer's outputs ``{layer: {destination: tensor}}``.

        Returns:
            The exit layer's output tensor if there is one exit, else ``{layer: {exit id: tensor}}``.
        """
        if self.is_deployed_on_dynapcnn_device:
            return self.hw_forward(x)
        return self._dynapcnn_module(x, return_complete=return_complete)

    def hw_forward(self, x: Any) -> list[Any]:
        """Stream samna events through the chip (needs samna and a device opened by :meth:`to`)."""
        import time

        from spikekit_speck.dynapcnn import _samna

        if getattr(self, "samna_output_buffer", None) is None:
            raise AttributeError(
                f"the network is not deployed on {self.device!r} (its deployment failed or was never made): "
                "call .to(...) with the chip again, or .to('cpu') to run it in torch"
            )
        io = _samna.io_module()
        _ = self.samna_output_buffer.get_events()
        io.reset_timestamps(self.device)
        io.enable_timestamps(self.device)
        self.samna_input_buffer.write(x)
        received: list[Any] = []
        time.sleep(max(event.timestamp for event in x) * 1e-6)
        while True:
            before = len(received)
            time.sleep(0.1)
            received.extend(self.samna_output_buffer.get_events())
            if before == len(received):
                break
        io.disable_timestamps(self.device)
        return received

    # sinabs returns a list (nn.Module an iterator); the drop-in keeps sinabs's signature.
    def parameters(self) -> list[nn.Parameter]:  # type: ignore[override]
        """The parameters of the DynapcnnLayers' conv layers, as a list (as sinabs)."""
        params: list[nn.Parameter] = []
        for layer in self.dynapcnn_layers.values():
            if isinstance(layer, DynapcnnLayer):
                params.extend(layer.conv_layer.parameters())
        return params

    def memory_summary(self) -> dict[str, dict[int, float | int]]:
        """``{"kernel" | "neuron" | "bias": {layer index: memory}}``, one entry per DynapcnnLayer."""
        summary: dict[str, dict[int, float | int]] = {key: {} for key in ("kernel", "neuron", "bias")}
        for index, layer in self.dynapcnn_layers.items():
            for key, value in layer.memory_summary().items():
                summary[key][index] = value
        return summary

    def init_weights(self, init_fn: Callable[[torch.Tensor], Any] = nn.init.xavier_normal_) -> None:
        """Apply ``init_fn`` to every DynapcnnLayer's conv weight."""
        for layer in self.dynapcnn_layers.values():
            if isinstance(layer, DynapcnnLayer):
                init_fn(layer.conv_layer.weight.data)

    def detach_neuron_states(self) -> None:
        """Detach the neurons' states from the autograd graph (in place)."""
        for layer in self.dynapcnn_layers.values():
            if isinstance(layer, DynapcnnLayer):
                for _, buffer in layer.spk_layer.named_buffers():
                    buffer.detach_()

    def has_dvs_layer(self) -> bool:
        """True if the network has a DVSLayer."""
        return self.dvs_layer is not None

    def zero_grad(self, set_to_none: bool = False) -> None:
        """Each DynapcnnLayer's ``zero_grad``: its spiking layer's, which detaches the states (as sinabs, the conv
        layers' gradients are left to the optimiser's ``zero_grad``)."""
        for layer in self.dynapcnn_layers.values():
            layer.zero_grad(set_to_none)

    def reset_states(self, randomize: bool = False) -> None:
        """Reset the neurons' states (to zero, or random values with ``randomize``); on a chip, through samna."""
        if self.is_deployed_on_dynapcnn_device:
            builder = builder_for(str(self.device))  # a chip id (is_deployed_on_dynapcnn_device)
            builder.reset_states(self.samna_config, randomize=randomize)
            self.samna_device.get_model().apply_configuration(self.samna_config)
            return
        for layer in self.dynapcnn_layers.values():
            if isinstance(layer, DynapcnnLayer):
                layer.spk_layer.reset_states(randomize=randomize)

    # sinabs's signature: chip ids and deployment options beside nn.Module.to's arguments.
    def to(  # type: ignore[override]
        self,
        device: Any = "cpu",
        monitor_layers: list[Any] | str | None = None,
        config_modifier: Callable[[Any], Any] | None = None,
        slow_clk_frequency: int | None = None,
        layer2core_map: dict[int, int] | str = "auto",
        chip_layers_ordering: Sequence[int] | str | None = None,
        **kwargs: Any,
    ) -> DynapcnnNetwork:
        """Move the network to a torch device (``"cpu"``, ``"cuda:0"``, a ``torch.device``), or deploy it on a chip
        (``"speck2fdevkit:0"``: makes the configuration and opens the device through samna, which must be installed).

        Returns ``self``.
        """
        if isinstance(device, str) and parse_device_id(device)[0] in SUPPORTED_DEVICES:
            from spikekit_speck.dynapcnn import _samna

            # As sinabs, the device is recorded before the deployment is tried: after a failure the network still
            # names the chip (and `forward` says that it is not deployed).
            self.device = device
            config = self.make_config(
                layer2core_map=layer2core_map,
                chip_layers_ordering=chip_layers_ordering,
                device=device,
                monitor_layers=monitor_layers,
                config_modifier=config_modifier,
            )
            _samna.deploy(self, device, config, slow_clk_frequency, builder_for(device))
            self.device = device
            return self
        if isinstance(device, (str, torch.device)):
            self.device = device
            super().to(device, **kwargs)
            return self
        return super().to(device, **kwargs)  # a dtype or a tensor, as nn.Module.to

    # -- configurations --------------------------------------------------------------------------------------------
    def _resolve_layer2core(
        self,
        layer2core_map: dict[int, int] | str,
        chip_layers_ordering: Sequence[int] | str | None,
        device: str,
    ) -> dict[int, int]:
        """sinabs's rules for ``layer2core_map`` / the deprecated ``chip_layers_ordering``; "auto" searches."""
        if chip_layers_ordering is not None:
            if layer2core_map != "auto":
                warnings.warn(
                    "Both `chip_layers_ordering` and `layer2core_map` are provided. The parameter "
                    "`chip_layers_ordering` is deprecated and will be ignored.",
                    DeprecationWarning,
                    stacklevel=3,
                )
            elif chip_layers_ordering == "auto":
                warnings.warn(
                    "The parameter `chip_layers_ordering` is deprecated. Passing 'auto' is still accepted, but in "
                    "the future please use `layer2core_map` instead.",
                    DeprecationWarning,
                    stacklevel=3,
                )
            elif isinstance(chip_layers_ordering, str):
                raise ValueError(
                    f"chip_layers_ordering must be 'auto' or one core index per layer, got {chip_layers_ordering!r}"
                )
            else:
                layer2core_map = dict(zip(self.dynapcnn_layers, chip_layers_ordering))
                warnings.warn(
                    "The parameter `chip_layers_ordering` is deprecated. It was converted to `layer2core_map` "
                    f"{pformat(layer2core_map)}; please pass `layer2core_map` instead.",
                    DeprecationWarning,
                    stacklevel=3,
                )
        if layer2core_map == "auto":
            return builder_for(device).map_layers_to_cores(self.dynapcnn_layers)
        if not isinstance(layer2core_map, dict) or layer2core_map.keys() != self.dynapcnn_layers.keys():
            raise ValueError(
                "The keys provided in `layer2core_map` must exactly match the keys in `self.dynapcnn_layers` "
                f"({sorted(self.dynapcnn_layers)}), got {layer2core_map!r}"
            )
        return dict(layer2core_map)

    def _check_destinations(self) -> None:
        """A core (and the DVS layer) sends to at most two layers: :class:`MaxDestinationsReached` otherwise."""
        from spikekit_speck.dynapcnn.exceptions import MaxDestinationsReached

        for index, destinations in self.layer_destination_map.items():
            if len([d for d in destinations if d >= 0]) > 2:
                raise MaxDestinationsReached(index)

    def _monitored(self, monitor_layers: list[Any] | str | None) -> list[Any]:
        exits = self._dynapcnn_module.get_exit_layers()
        if monitor_layers is None:
            return list(exits)
        if monitor_layers == "all":
            return [i for i, layer in self.dynapcnn_layers.items() if not isinstance(layer, DVSLayer)]
        monitor = list(monitor_layers)
        if -1 in monitor:
            monitor.remove(-1)
            monitor += exits
        return monitor

    def make_config(
        self,
        layer2core_map: dict[int, int] | str = "auto",
        device: str = "speck2fdevkit:0",
        monitor_layers: list[Any] | str | None = None,
        config_modifier: Callable[[Any], Any] | None = None,
        chip_layers_ordering: Sequence[int] | str | None = None,
    ) -> Any:
        """samna's configuration object for this network on ``device`` (needs samna; see :meth:`make_json_config`
        for the same without it).

        Args:
            layer2core_map: ``{layer index: core}``, or "auto" to search a placement (sets :attr:`layer2core_map`).
            device: a supported device id (``"speck2fdevkit:0"``, ``"speck2edevkit"``, ...).
            monitor_layers: layers whose output is monitored: a list (``"dvs"`` for the DVS, -1 for the exits),
                "all", or None for the exit layers.
            config_modifier: called with the configuration, returns the configuration to use.
            chip_layers_ordering: deprecated: the cores of the layers, in layer order.

        Raises:
            ImportError: samna is not installed.
            ValueError: no placement fits, or samna finds the configuration invalid.
        """
        builder = builder_for(device)
        self._check_destinations()
        self._layer2core_map = self._resolve_layer2core(layer2core_map, chip_layers_ordering, device)
        builder.get_samna_module()  # ImportError naming samna when it is missing, before any work
        config = builder.build_config(self.all_layers, self._layer2core_map, self.layer_destination_map)
        cores = ["dvs" if str(i).lower() == "dvs" else self._layer2core_map[i] for i in self._monitored(monitor_layers)]
        builder.monitor_layers(config, cores)
        if config_modifier is not None:
            config = config_modifier(config)
        if not builder.validate_configuration(config):
            raise ValueError(
                f"Generated config is not valid for {device}. Probably one or more layers are too large. Try "
                "Reducing the number of neurons or the kernel sizes."
            )
        print("Network is valid")
        return config

    def make_json_config(
        self,
        layer2core_map: dict[int, int] | str = "auto",
        device: str = "speck2fdevkit:0",
        monitor_layers: list[Any] | str | None = None,
        config_modifier: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        chip_layers_ordering: Sequence[int] | str | None = None,
    ) -> dict[str, Any]:
        """spikekit's JSON configuration (see :mod:`spikekit_speck.config`) with :meth:`make_config`'s arguments,
        without samna; ``spikekit_speck.config.to_json`` writes it, :class:`spikekit_speck.ChipSimulator` runs it.

        The chip's limits (kernel size, strides, channel counts, pooling sizes) are checked here; a violation
        raises ``ValueError`` naming the layer, and more than two destinations per layer
        :class:`~.exceptions.MaxDestinationsReached`.
        """
        from spikekit_speck.dynapcnn._json_config import json_config

        self._check_destinations()
        self._layer2core_map = self._resolve_layer2core(layer2core_map, chip_layers_ordering, device)
        config = json_config(self, self._layer2core_map, parse_device_id(device)[0], self._monitored(monitor_layers))
        return config if config_modifier is None else config_modifier(config)

    def to_json(self, path: str | None = None, indent: int | None = 2, **make_config_args: Any) -> str:
        """:meth:`make_json_config` (with ``make_config_args``) as JSON text, also written to ``path`` if given."""
        from spikekit_speck.config import to_json

        return to_json(self.make_json_config(**make_config_args), path, indent)

    def is_compatible_with(self, device_type: str) -> bool:
        """True if the network's layers can be placed on ``device_type``'s cores."""
        try:
            builder_for(device_type).map_layers_to_cores(self.dynapcnn_layers)
        except ValueError as exc:
            if str(exc).startswith("No valid mapping found."):
                return False
            raise
        return True

    # -- printed form ----------------------------------------------------------------------------------------------
    def __str__(self) -> str:
        text = ""
        if self.dvs_layer is not None:
            text += "-------------------------- [ DVSLayer ] --------------------------\n"
            text += f"{self.dvs_layer}\n\n"
        for index, layer in self.dynapcnn_layers.items():
            text += f"----------------------- [ DynapcnnLayer {index} ] -----------------------\n"
            if self.is_deployed_on_dynapcnn_device and self.layer2core_map is not None:
                text += f"Core {self.layer2core_map[index]}\n"
            text += f"{layer}\n\n"
        return text

    def __repr__(self) -> str:
        if self.is_deployed_on_dynapcnn_device and self.layer2core_map is not None:
            layer_info = "\n\n".join(
                f"{i} - core: {self.layer2core_map[i]}\n{pformat(layer)}" for i, layer in self.dynapcnn_layers.items()
            )
            device_info = f" deployed on {self.device},"
        else:
            layer_info = "\n\n".join(f"Index: {i}\n{pformat(layer)}" for i, layer in self.dynapcnn_layers.items())
            device_info = f" on {self.device}," if hasattr(self, "device") else ""
        return (
            f"DynapCNN Network{device_info} containing:\nDVS Layer: {pformat(self.dvs_layer)}"
            "\n\nDynapCNN Layers:\n\n" + layer_info
        )


class DynapcnnCompatibleNetwork(DynapcnnNetwork):
    """Deprecated name of :class:`DynapcnnNetwork`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        warnings.warn(
            "DynapcnnCompatibleNetwork has been renamed to DynapcnnNetwork and will be removed in a future release.",
            stacklevel=2,
        )
        super().__init__(*args, **kwargs)
