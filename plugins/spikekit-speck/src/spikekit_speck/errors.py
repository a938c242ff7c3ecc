"""Errors raised when a model cannot go onto the chip. All are ``ValueError``s that name the offending layer."""

from __future__ import annotations

__all__ = ["SpeckModelError", "UnsupportedLayerError", "MappingError", "LayerShapeError"]


class SpeckModelError(ValueError):
    """The model breaks one of the chip's rules (the message names the layer, the rule and what was found)."""


class UnsupportedLayerError(SpeckModelError):
    """A layer type that the chip cannot run."""


class MappingError(SpeckModelError):
    """No assignment of layers to cores respects the cores' memories (the message says why)."""


class LayerShapeError(SpeckModelError):
    """A kernel or pooling window of a shape the chip cannot run (non-square, or a pooling stride unlike its size)."""
