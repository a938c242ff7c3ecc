"""Speck 2E's configuration builder (samna's ``samna.speck2e`` module, imported only when used)."""

from __future__ import annotations

from typing import Any

from spikekit_speck.dynapcnn.chips.dynapcnn import DynapcnnConfigBuilder
from spikekit_speck.dynapcnn.dynapcnn_layer import DynapcnnLayer

__all__ = ["DynapcnnLayer", "Speck2EConfigBuilder"]


class Speck2EConfigBuilder(DynapcnnConfigBuilder):
    """Speck 2E (``speck2e``, ``speck2edevkit``)."""

    samna_family = "speck2e"

    @classmethod
    def get_samna_module(cls) -> Any:
        return cls._samna("get_samna_module", "speck2e")

    @classmethod
    def get_default_config(cls) -> Any:
        return cls._samna("get_default_config", "speck2e.configuration").SpeckConfiguration()

    @classmethod
    def get_dvs_layer_config(cls) -> Any:
        return cls._samna("get_dvs_layer_config", "speck2e.configuration").SpeckConfiguration().DVSLayerConfig

    @classmethod
    def get_input_buffer(cls) -> Any:
        return cls._samna("get_input_buffer").BasicSourceNode_speck2e_event_speck2e_input_event()

    @classmethod
    def get_output_buffer(cls) -> Any:
        return cls._samna("get_output_buffer").BasicSinkNode_speck2e_event_output_event()
