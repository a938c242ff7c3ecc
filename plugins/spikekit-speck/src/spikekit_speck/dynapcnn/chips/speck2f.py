"""Speck 2F's configuration builder (samna's ``samna.speck2f`` module, imported only when used)."""

from __future__ import annotations

from typing import Any

from spikekit_speck.dynapcnn.chips.dynapcnn import DynapcnnConfigBuilder
from spikekit_speck.dynapcnn.dynapcnn_layer import DynapcnnLayer

__all__ = ["DynapcnnLayer", "Speck2FConfigBuilder"]


class Speck2FConfigBuilder(DynapcnnConfigBuilder):
    """Speck 2F (``speck2f``, ``speck2fdevkit``, ``speck2fmodule``)."""

    samna_family = "speck2f"

    @classmethod
    def get_samna_module(cls) -> Any:
        return cls._samna("get_samna_module", "speck2f")

    @classmethod
    def get_default_config(cls) -> Any:
        return cls._samna("get_default_config", "speck2f.configuration").SpeckConfiguration()

    @classmethod
    def get_dvs_layer_config(cls) -> Any:
        return cls._samna("get_dvs_layer_config", "speck2f.configuration").SpeckConfiguration().DVSLayerConfig

    @classmethod
    def get_input_buffer(cls) -> Any:
        return cls._samna("get_input_buffer").BasicSourceNode_speck2f_event_input_event()

    @classmethod
    def get_output_buffer(cls) -> Any:
        return cls._samna("get_output_buffer").BasicSinkNode_speck2f_event_output_event()
