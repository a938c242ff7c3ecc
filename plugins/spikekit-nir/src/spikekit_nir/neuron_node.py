"""``NeuronNode``: an imported NIR neuron node whose input gain or resting potential a spikekit layer has not.

spikekit's neurons rest at 0 and take their input with gain 1 (or ``1 - alpha`` with ``norm_input``). A NIR node
with another gain, or with ``v_leak != 0``, becomes a ``NeuronNode``: ``input_scale`` (a :class:`Scale`) in front
of the layer, and the layer run on the potential measured from the resting potential, :math:`u = v - v_{leak}`:

.. math:: u_t = a\\,u_{t-1} + g\\,I_t \\quad\\Leftrightarrow\\quad v_t = a\\,v_{t-1} + (1 - a)\\,v_{leak} + g\\,I_t

so the layer's threshold is :math:`\\theta - v_{leak}`, a reset to ``v_reset`` resets ``u`` to
:math:`v_{reset} - v_{leak}`, a subtractive reset still subtracts :math:`\\theta`, ``min_v_mem`` moves by
:math:`-v_{leak}`, and a leaky integrator's output (its potential) gets :math:`v_{leak}` back (``output_offset``).
The states start at 0, that is at rest (:math:`v_0 = v_{leak}`, as norse starts its neurons). Exported, a
``NeuronNode`` gives back the NIR node it came from (gain folded into ``r`` / ``w_in``, ``v_leak`` restored).
"""

from __future__ import annotations

import copy
from typing import Any

import nir
import numpy as np
import torch
from torch import nn

from spikekit_nir.conventions import ConversionError
from spikekit_nir.modules import Offset, Scale
from spikekit_nir.registry import ExportContext, export_converters, find_exporter

__all__ = ["NeuronNode", "export_neuron_node", "fold_gain_and_rest"]


class NeuronNode(nn.Sequential):
    """A spikekit neuron layer with NIR's input gain and resting potential (see the module docstring).

    Children, in order: ``input_scale`` (:class:`Scale`, when the gain is not the layer's own), ``neuron`` (the
    layer), ``output_offset`` (:class:`Offset`, for a leaky integrator with ``v_leak != 0``). The buffer ``v_leak``
    holds the resting potential (0-d or per neuron).

    Example:
        >>> import spikekit.layers as sl
        >>> node = NeuronNode(sl.ExpLeakSqueeze(tau_mem=2.0, batch_size=1), Scale(torch.tensor(2.0)))
        >>> list(dict(node.named_children()))
        ['input_scale', 'neuron']
    """

    v_leak: torch.Tensor  # a buffer
    neuron: nn.Module

    def __init__(
        self, neuron: nn.Module, input_scale: Scale | None = None, v_leak: Any = 0.0, output_offset: bool = False
    ) -> None:
        super().__init__()
        if input_scale is not None:
            self.add_module("input_scale", input_scale)
        self.add_module("neuron", neuron)
        rest = torch.as_tensor(v_leak, dtype=torch.float32).clone()
        if output_offset:
            self.add_module("output_offset", Offset(rest))
        self.register_buffer("v_leak", rest)


def _float64(x: Any, shape: tuple[int, ...]) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().to(torch.float64).numpy()
    return np.broadcast_to(np.asarray(x, dtype=np.float64), shape).copy()


def fold_gain_and_rest(node: nir.NIRNode, scale: Any, v_leak: Any, name: str) -> nir.NIRNode:
    """Put an input gain and a resting potential back into the NIR node exported from the shifted layer."""
    shape = tuple(np.shape(node.v_threshold if hasattr(node, "v_threshold") else node.r))
    gain_field = "w_in" if isinstance(node, nir.CubaLIF) else "r"
    if scale is not None:
        setattr(node, gain_field, np.asarray(getattr(node, gain_field), dtype=np.float64) * _float64(scale, shape))
    rest = _float64(v_leak, shape)
    if not np.any(rest):
        return node
    if not hasattr(node, "v_leak"):
        raise ConversionError(f"to_nir: {name!r}: a {type(node).__name__} node has no resting potential (v_leak)")
    node.v_leak = rest
    metadata = node.metadata if isinstance(node.metadata, dict) else {}
    if hasattr(node, "v_threshold"):
        node.v_threshold = np.asarray(node.v_threshold, dtype=np.float64) + rest
        if metadata.get("spikekit_reset", "to_v_reset") == "to_v_reset":
            node.v_reset = np.asarray(node.v_reset, dtype=np.float64) + rest
    floor = metadata.get("spikekit_min_v_mem")
    if isinstance(floor, np.ndarray):
        metadata["spikekit_min_v_mem"] = floor + rest
    return node


def _unshifted_reset(neuron: nn.Module) -> nn.Module:
    """A copy of ``neuron`` whose subtractive reset subtracts its threshold (the shift made it a fixed value)."""
    from spikekit.protocols import spec_of

    spec = spec_of(getattr(neuron, "reset_fn", None), "reset")
    if spec is None or spec.kind != "subtract" or spec.params.get("subtract_value") is None:
        return neuron
    import spikekit.activation as activation

    plain = copy.deepcopy(neuron)
    plain.reset_fn = activation.MembraneSubtract()
    return plain


def export_neuron_node(module: NeuronNode, ctx: ExportContext) -> nir.NIRNode:
    """NeuronNode -> the NIR node of its layer, with the input gain and the resting potential put back."""
    neuron = _unshifted_reset(module.neuron)
    converter = find_exporter(neuron, export_converters())
    if converter is None:
        raise ConversionError(f"to_nir: {ctx.name!r}: its neuron {type(neuron).__name__} has no NIR converter")
    node = converter(neuron, ctx)
    if not isinstance(node, nir.NIRNode):
        raise ConversionError(f"to_nir: {ctx.name!r}: its neuron did not export to one NIR node")
    return fold_gain_and_rest(node, input_scale_of(module), module.v_leak, ctx.name)


def input_scale_of(module: nn.Module) -> torch.Tensor | None:
    """The ``scale`` of a node module's ``input_scale`` child, or None."""
    child = module._modules.get("input_scale")
    return child.scale if isinstance(child, Scale) else None
