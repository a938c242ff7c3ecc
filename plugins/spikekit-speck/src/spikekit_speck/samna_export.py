"""Conversion of a ``spikekit-speck`` configuration to the vendor SDK's (samna's) configuration object.

samna is imported only inside :func:`to_samna_config`, so nothing else needs it. Tests pass a stand-in module.
"""

from __future__ import annotations

import importlib
from typing import Any

from spikekit_speck.chip import DEVICES
from spikekit_speck.config import validate_config

__all__ = ["to_samna_config", "write_core", "write_dvs", "SAMNA_MODULES"]

#: samna sub-package per device name (from :data:`spikekit_speck.chip.DEVICES`).
SAMNA_MODULES = {name: d.samna_family for name, d in DEVICES.items()}


def _load_samna_module(device: str) -> Any:
    family = SAMNA_MODULES.get(device.split(":")[0])
    if family is None:
        raise ValueError(f"no samna module is known for device {device!r}; expected one of {sorted(SAMNA_MODULES)}")
    try:
        return importlib.import_module(f"samna.{family}.configuration")
    except ImportError as exc:
        raise ImportError(
            f"converting to a samna configuration needs SynSense's SDK 'samna' (module samna.{family}), which is "
            "not installed; the JSON configuration (Deployment.config / to_json) holds the same information"
        ) from exc


def to_samna_config(config: dict[str, Any], configuration_module: Any = None, monitor_outputs: bool = True) -> Any:
    """Build samna's ``SpeckConfiguration`` (or ``DynapcnnConfiguration``) from a configuration dict.

    Args:
        config: a validated ``spikekit-speck`` configuration.
        configuration_module: the module holding the configuration class (default: imported from samna for
            ``config["device"]``); must provide ``SpeckConfiguration`` or ``DynapcnnConfiguration``.
        monitor_outputs: enable monitoring on the layers that produce network outputs.

    Raises:
        ImportError: samna is not installed (and no module was given).
    """
    validate_config(config)
    module = configuration_module if configuration_module is not None else _load_samna_module(config["device"])
    factory = getattr(module, "SpeckConfiguration", None) or module.DynapcnnConfiguration
    samna_config = factory()
    samna_config.dvs_layer.pass_sensor_events = False
    for layer in config["layers"]:
        settings = {key: layer[key] for key in _CORE_KEYS}
        settings["monitor_enable"] = bool(monitor_outputs and layer["outputs"])
        write_core(samna_config.cnn_layers[layer["core"]], settings)
    dvs = config["dvs"]
    if dvs is not None:
        write_dvs(samna_config.dvs_layer, {key: dvs[key] for key in _DVS_KEYS}, dvs["destinations"])
    return samna_config


_CORE_KEYS = (
    "dimensions", "weights", "biases", "leak_enable", "threshold_high", "threshold_low", "return_to_zero",
    "neurons_initial_value", "destinations",
)  # fmt: skip
_DVS_KEYS = ("merge", "mirror", "mirror_diagonal", "cut", "origin", "pooling", "pass_sensor_events")


def write_core(core: Any, settings: dict[str, Any]) -> None:
    """Write one core's settings (:func:`spikekit_speck.config.core_settings`) into samna's core configuration."""
    settings = dict(settings)
    core.dimensions = settings.pop("dimensions")
    for slot, dest in enumerate(settings.pop("destinations")):
        core.destinations[slot].layer = dest["layer"]
        core.destinations[slot].enable = dest["enable"]
        core.destinations[slot].pooling = dest["pooling"]
    for key, value in settings.items():
        try:
            setattr(core, key, value)
        except TypeError as exc:
            raise TypeError(f"Unexpected parameter {key} or value. {exc}") from exc


def write_dvs(target: Any, settings: dict[str, Any], cores: list[int]) -> None:
    """Write the DVS layer's settings (``DVSLayer.get_config_dict()``) and destination cores into samna's DVS
    layer configuration."""
    for key, value in settings.items():
        setattr(target, key, value)
    for slot, core in enumerate(cores):
        target.destinations[slot].layer = core
        target.destinations[slot].enable = True
