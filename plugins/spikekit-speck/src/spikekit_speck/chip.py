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

__all__ = ["CoreLimits", "ChipSpec", "SPECK", "CHIP_NAMES", "chip_spec"]

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

#: Device names accepted by the target (sinabs's ChipFactory names plus the generic ones).
CHIP_NAMES: tuple[str, ...] = (
    "speck2f",
    "speck2e",
    "speck2edevkit",
    "speck2fmodule",
    "speck2fdevkit",
    "dynapcnn",
)


def chip_spec(name: str) -> ChipSpec:
    """The :class:`ChipSpec` of a device name such as ``"speck2fdevkit"`` or ``"speck2fdevkit:0"``."""
    base = name.split(":")[0]
    if base not in CHIP_NAMES:
        raise ValueError(f"unknown Speck device {name!r}; expected one of {', '.join(CHIP_NAMES)}")
    return dataclasses.replace(SPECK, name=base)
