"""Facts about the SynSense DYNAP-CNN / Speck chip family that the target needs.

Every Speck variant that sinabs supports (speck2e, speck2edevkit, speck2fmodule, speck2fdevkit) has the same
convolutional core array: 9 cores, each with its own kernel (weight), neuron (state) and bias memory.

============  =============  =============  ===========
core ids      kernel memory  neuron memory  bias memory
============  =============  =============  ===========
0, 1, 2       16 Ki          64 Ki          1024
3, 4          32 Ki          32 Ki          1024
5, 6          64 Ki          16 Ki          1024
7, 8          16 Ki          16 Ki          1024
============  =============  =============  ===========

Weights and biases are signed 8-bit integers, neuron states and thresholds signed 16-bit integers. A core sends
its output spikes to at most two destinations, each with its own square sum pooling.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

__all__ = [
    "CoreLimits",
    "ChipSpec",
    "SPECK",
    "Device",
    "DEVICES",
    "CHIP_NAMES",
    "CONFIGURABLE_DEVICES",
    "chip_spec",
    "parse_device_id",
    "get_device_id",
    "standardize_device_id",
]

KI = 1024


@dataclasses.dataclass(frozen=True)
class CoreLimits:
    """Memory of one core: kernel and neuron memory in words, bias memory in entries."""

    kernel_memory: int
    neuron_memory: int
    bias_memory: int


@dataclasses.dataclass(frozen=True)
class ChipSpec:
    """The constraints of one chip family (see the module docstring for the numbers)."""

    name: str
    cores: tuple[CoreLimits, ...]
    weight_bits: int = 8
    state_bits: int = 16
    max_destinations: int = 2
    max_kernel_size: int = 16
    max_feature_count: int = 1024
    strides: Sequence[int] = (1, 2, 4, 8)
    poolings: Sequence[int] = (1, 2, 4)
    dvs_max_size: int = 128

    @property
    def num_cores(self) -> int:
        return len(self.cores)

    def int_range(self, bits: int) -> tuple[int, int]:
        """``(min, max)`` of a signed integer with ``bits`` bits."""
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    @property
    def weight_range(self) -> tuple[int, int]:
        return self.int_range(self.weight_bits)

    @property
    def state_range(self) -> tuple[int, int]:
        return self.int_range(self.state_bits)


_KERNEL_KI = (16, 16, 16, 32, 32, 64, 64, 16, 16)
_NEURON_KI = (64, 64, 64, 32, 32, 16, 16, 16, 16)

#: The Speck / DYNAP-CNN core array.
SPECK = ChipSpec(
    name="speck",
    cores=tuple(CoreLimits(k * KI, n * KI, 1024) for k, n in zip(_KERNEL_KI, _NEURON_KI)),
)


@dataclasses.dataclass(frozen=True)
class Device:
    """One device name: its samna sub-package, its board name in samna (None for the generic names), and whether
    sinabs's ``ChipFactory`` builds configurations for it."""

    name: str
    samna_family: str
    board: str | None = None
    configurable: bool = False


#: Every device name the plugin knows, the one table every route reads (targets, builders, samna, device ids).
DEVICES: dict[str, Device] = {
    d.name: d
    for d in (
        Device("speck2f", "speck2f"),
        Device("speck2e", "speck2e", "Speck2eTestBoard", configurable=True),
        Device("speck2edevkit", "speck2e", "Speck2eDevKit", configurable=True),
        Device("speck2fmodule", "speck2f", "Speck2fModuleDevKit", configurable=True),
        Device("speck2fdevkit", "speck2f", "Speck2fDevKit", configurable=True),
        Device("dynapcnn", "dynapcnn"),
    )
}

#: Device names accepted by the target (sinabs's ChipFactory names plus the generic ones).
CHIP_NAMES: tuple[str, ...] = tuple(DEVICES)

#: The devices sinabs's ``ChipFactory`` (and ``DynapcnnNetwork.to`` / ``make_config``) configure.
CONFIGURABLE_DEVICES: tuple[str, ...] = tuple(name for name, d in DEVICES.items() if d.configurable)


def parse_device_id(device_id: str) -> tuple[str, int]:
    """``"speck2fdevkit:1"`` -> ``("speck2fdevkit", 1)``; without an index the index is 0.

    Raises:
        ValueError: more than one ``:`` (sinabs raises a plain ``Exception``; a ``ValueError`` is one), or an index
            that is not an integer.
    """
    parts = device_id.split(":")
    if len(parts) > 2:
        raise ValueError(
            f"device id {device_id!r} not understood: expected 'device_type' or 'device_type:index' "
            "(e.g. 'speck2fdevkit:0')"
        )
    return parts[0], int(parts[1]) if len(parts) == 2 else 0


def get_device_id(device_type: str, index: int) -> str:
    """``("speck2fdevkit", 0)`` -> ``"speck2fdevkit:0"``."""
    return f"{device_type}:{index}"


def standardize_device_id(device_id: str) -> str:
    """``"speck2fdevkit"`` -> ``"speck2fdevkit:0"``; ``"speck2fdevkit:01"`` -> ``"speck2fdevkit:1"``."""
    return get_device_id(*parse_device_id(device_id))


def chip_spec(name: str) -> ChipSpec:
    """The :class:`ChipSpec` of a device name such as ``"speck2fdevkit"`` or ``"speck2fdevkit:0"``."""
    base = name.split(":")[0]
    if base not in DEVICES:
        raise ValueError(f"unknown Speck device {name!r}; expected one of {', '.join(CHIP_NAMES)}")
    return dataclasses.replace(SPECK, name=base)
