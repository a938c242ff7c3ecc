"""Single-layer memory check for Speck: ``ValidateMapping`` and ``validate_memory_mapping_speck``.

These mirror ``sinabs.validate_memory_speck.ValidateMapping`` and ``sinabs.utils.validate_memory_mapping_speck``
exactly (messages, numbers, which exceptions are raised). They check one convolutional layer on its own; the full
network check (all layers, 9 cores, a matching of layers to cores) is :func:`spikekit_speck.mapping.map_layers`.

Memory formulas (``D`` input size, ``k`` kernel, ``p`` padding, ``s`` stride)::

    kernel memory = C_in  * 2 ** (ceil(log2(k_x * k_y)) + ceil(log2(C_out)))
    neuron memory = C_out * 2 ** (ceil(log2(f_x)) + ceil(log2(f_y))),   f = (D - k + 2 p) / s + 1

(``f`` uses true division, as in sinabs). Both are compared, in Ki (1024 words), with the core table: kernel memory
above 16 Ki needs neuron memory of at most 32 Ki, above 32 Ki at most 16 Ki, and neither may exceed 64 Ki.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["ValidateMapping", "validate_memory_mapping_speck"]

_STRIDES = (1, 2, 4, 8)


class ValidateMapping:
    """Memory bookkeeping of one Conv2d (or, with ``conv_2d=False``, AvgPool2d) layer on Speck.

    Args:
        input_feature_size: input channels ``C_in``.
        output_feature_size: output channels ``C_out`` (at most 1024).
        kernel_size: ``(k_x, k_y)``, each at most 16.
        stride: ``(s_x, s_y)``; at least one entry must be 1, 2, 4 or 8 (else ``Warning`` is *raised*).
        padding: ``(p_x, p_y)``.
        input_dimension: ``(D_x, D_y)``, default ``[64, 64]``.
        conv_2d: ``False`` validates an AvgPool2d kernel instead (square 1, 2 or 4).

    Example:
        >>> ValidateMapping(2, 64, (3, 3), (1, 1), (0, 0), [8, 8]).calculate_total_memory()[:2]
        (2.0, 4.0)
    """

    def __init__(
        self,
        input_feature_size: int,
        output_feature_size: int,
        kernel_size: Sequence[int],
        stride: Sequence[int],
        padding: Sequence[int],
        input_dimension: Sequence[int] = [64, 64],
        conv_2d: bool = True,
    ) -> None:
        self.input_feature_size = input_feature_size
        self.output_feature_size = output_feature_size
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.input_dimension = input_dimension

        if not conv_2d and (kernel_size[0] != kernel_size[1] or kernel_size[0] == 3 or kernel_size[0] > 4):
            raise Exception("Kernel size is limited to 1x1, 2x2 or 4x4 for AvgPool2D layer.")
        if max(len(kernel_size), len(stride), len(padding), len(input_dimension)) > 2:
            raise Exception(
                "We expect input dimension kernel, stride and padding to be 2D elements, i.e.,"
                "to have only two positions: x and y."
            )
        if kernel_size[0] > 16 or kernel_size[1] > 16:
            raise Exception("Kernel size is limited to, at most, 16x16.")
        if output_feature_size > 1024:
            raise Exception("Output feature size is limited to, at most, 1024.")
        if not self.check_stride():
            raise Warning("Kernel stride can be 1, 2, 4 or 8 and, at most, 8x8.")

    def calculate_kernel_memory(self) -> float:
        """Kernel memory in words: ``C_in * 2**(ceil(log2(k_x k_y)) + ceil(log2 C_out))``."""
        exponent = np.ceil(np.log2(self.kernel_size[0] * self.kernel_size[1])) + np.ceil(
            np.log2(self.output_feature_size)
        )
        return self.input_feature_size * pow(2, exponent)

    def calculate_neuron_memory(self) -> float:
        """Neuron memory in words: ``C_out * 2**(ceil(log2 f_x) + ceil(log2 f_y))``."""
        f = [(self.input_dimension[i] - self.kernel_size[i] + 2 * self.padding[i]) / self.stride[i] + 1 for i in (0, 1)]
        return self.output_feature_size * pow(2, np.ceil(np.log2(f[0])) + np.ceil(np.log2(f[1])))

    def check_stride(self) -> bool:
        """True if any stride entry is 1, 2, 4 or 8."""
        return any(s in _STRIDES for s in self.stride)

    def calculate_total_memory(self) -> tuple[float, float, str, str]:
        """``(kernel Ki, neuron Ki, kernel error message, neuron error message)``; messages are "" when fine."""
        kernel = self.calculate_kernel_memory()
        neuron = self.calculate_neuron_memory()
        return (
            kernel / 1024,
            neuron / 1024,
            self.verify_combined_memories("kernel", kernel, "neuron", neuron),
            self.verify_combined_memories("neuron", neuron, "kernel", kernel),
        )

    def verify_combined_memories(
        self, base_name: str, base_memory: float, compared_name: str, compared_memory: float
    ) -> str:
        """Why ``base`` memory (in words) cannot sit on any core next to ``compared`` memory; "" if it can."""
        base = base_memory / 1024
        other = compared_memory / 1024
        Base = base_name.capitalize()
        message = ""
        if base > 64:
            message = (
                f"{Base} memory is {base:g}Ki and can not be mapped on chip. "
                f"{Base} memory on chip needs to be at most 64Ki."
            )
        for low, limit in ((16, 32), (32, 16)):
            upper_ok = base <= 32 if low == 16 else True
            if base > low and upper_ok and other > limit:
                message = (
                    "There is no core on chip to fit neuron and kernel memories. "
                    f"When {base_name} memory is higher than {low}Ki, {compared_name} memory needs to be at most "
                    f"{limit}Ki. {Base} is {base:g}Ki and {compared_name} is {other:g}Ki."
                )
        return message


def validate_memory_mapping_speck(
    input_feature_size: int,
    output_feature_size: int,
    kernel_size: Sequence[int],
    stride: Sequence[int],
    padding: Sequence[int],
    input_dimension: Sequence[int] = [64, 64],
    conv_2d: bool = True,
) -> str:
    """Check that one Conv2d layer fits a Speck core on its own; return a message or raise.

    Args: as :class:`ValidateMapping`.

    Returns:
        ``"Layer can be mapped successfully. Kernel memory is {k:g}Ki and neuron memory is {n:g}Ki."``

    Raises:
        ValueError: ``conv_2d`` is False (only Conv2d layers are validated).
        Exception: the memories do not fit; the message says which and why.

    Example:
        >>> validate_memory_mapping_speck(2, 64, (3, 3), (1, 1), (0, 0), [8, 8])
        'Layer can be mapped successfully. Kernel memory is 2Ki and neuron memory is 4Ki.'
    """
    if not conv_2d:
        raise ValueError("This function only validates Conv2D layers.")
    check = ValidateMapping(
        input_feature_size,
        output_feature_size,
        kernel_size,
        stride,
        padding,
        [input_dimension[0], input_dimension[1]],
        conv_2d,
    )
    kernel, neuron, kernel_error, neuron_error = check.calculate_total_memory()
    if kernel_error or neuron_error:
        raise Exception(kernel_error + neuron_error)
    return f"Layer can be mapped successfully. Kernel memory is {kernel:g}Ki and neuron memory is {neuron:g}Ki."
