"""ValidateMapping / validate_memory_mapping_speck: numbers from the memory formulas, messages as in sinabs."""

import math

import pytest

import spikekit
from spikekit_speck import ValidateMapping, validate_memory_mapping_speck


def kernel_words(c_in, c_out, k):
    return c_in * 2 ** (math.ceil(math.log2(k * k)) + math.ceil(math.log2(c_out)))


def test_fits_message_and_numbers():
    # 2 -> 64 channels, 3x3, 8x8 input: kernel 2*2^(4+6)=2048 words = 2Ki; neuron 64*2^(3+3)=4096 = 4Ki
    assert kernel_words(2, 64, 3) == 2048
    msg = validate_memory_mapping_speck(2, 64, (3, 3), (1, 1), (1, 1), [8, 8])
    assert msg == "Layer can be mapped successfully. Kernel memory is 2Ki and neuron memory is 4Ki."


def test_kernel_too_large():
    # 64 -> 65: 64 * 2^(4+7) = 131072 = 128Ki
    with pytest.raises(Exception) as info:
        validate_memory_mapping_speck(64, 65, (3, 3), (1, 1), (0, 0), [8, 8])
    assert str(info.value).startswith(
        "Kernel memory is 128Ki and can not be mapped on chip. Kernel memory on chip needs to be at most 64Ki."
    )


def test_no_core_message_for_combined_memories():
    # kernel 16 -> 64 ch, 3x3: 16*2^(4+6) = 16Ki... use 32 in: 32Ki kernel; neuron 64ch * 64x64 = 256Ki
    check = ValidateMapping(32, 64, (3, 3), (1, 1), (1, 1), [64, 64])
    kernel, neuron, kmsg, nmsg = check.calculate_total_memory()
    assert (kernel, neuron) == (32.0, 256.0)
    assert kmsg == (
        "There is no core on chip to fit neuron and kernel memories. When kernel memory is higher than 16Ki, "
        "neuron memory needs to be at most 32Ki. Kernel is 32Ki and neuron is 256Ki."
    )
    # the "> 64Ki" message is overwritten by the later "> 32Ki" rule (sinabs's order of checks)
    assert nmsg == (
        "There is no core on chip to fit neuron and kernel memories. When neuron memory is higher than 32Ki, "
        "kernel memory needs to be at most 16Ki. Neuron is 256Ki and kernel is 32Ki."
    )
    _, _, _, alone = ValidateMapping(1, 64, (1, 1), (1, 1), (0, 0), [64, 64]).calculate_total_memory()
    assert (
        alone == "Neuron memory is 256Ki and can not be mapped on chip. Neuron memory on chip needs to be at most 64Ki."
    )


@pytest.mark.parametrize(
    "args, text",
    [
        ((2, 2, (17, 17), (1, 1), (0, 0)), "Kernel size is limited to, at most, 16x16."),
        ((2, 1025, (3, 3), (1, 1), (0, 0)), "Output feature size is limited to, at most, 1024."),
        ((2, 2, (3, 3, 3), (1, 1), (0, 0)), "We expect input dimension kernel"),
    ],
)
def test_constructor_errors(args, text):
    with pytest.raises(Exception, match=text.split(",")[0]):
        ValidateMapping(*args)


def test_stride_raises_warning_as_exception():
    with pytest.raises(Warning, match="Kernel stride can be 1, 2, 4 or 8"):
        ValidateMapping(2, 2, (3, 3), (3, 3), (0, 0))
    ValidateMapping(2, 2, (3, 3), (3, 2), (0, 0))  # one valid entry is enough


def test_avgpool_mode():
    with pytest.raises(Exception, match="1x1, 2x2 or 4x4"):
        ValidateMapping(2, 2, (3, 3), (1, 1), (0, 0), conv_2d=False)
    with pytest.raises(ValueError, match="only validates Conv2D"):
        validate_memory_mapping_speck(2, 2, (2, 2), (1, 1), (0, 0), conv_2d=False)


def test_exported_through_the_registry():
    assert spikekit.validate_memory_mapping_speck is validate_memory_mapping_speck
    assert spikekit.utils.validate_memory_mapping_speck is validate_memory_mapping_speck
    assert spikekit.ValidateMapping is ValidateMapping
