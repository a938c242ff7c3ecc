"""Recurrent NIR graphs: *neuron -> Affine/Linear -> same neuron* to and from spikekit's recurrent layers.

NIR sums every edge into a node, so the neuron's input at step ``t`` is the external input plus the weights applied
to its own output; the recurrent edge carries the previous step's output, zero at the first step (what nirtorch,
norse and snnTorch run). spikekit's ``LIFRecurrent`` / ``IAFRecurrent`` compute exactly that: their
``rec_connect`` adds ``rec_connect(S_{t-1})`` to the input of step ``t`` (zero at the first step of each call).

Import: :func:`import_recurrent` builds the neuron as for a feed-forward graph, then the recurrent layer with
``rec_connect = Sequential(weights=Linear, [input_scale=Scale])`` (the node's input gain applies to both inputs),
inside a :class:`RecurrentNode` that takes spikekit's squeezed ``(B*T, ...)`` data like the other imported layers.

Export: a ``LIFRecurrent`` / ``IAFRecurrent`` (or a ``RecurrentNode``) becomes the pattern written flat into the
graph, as snnTorch writes ``RLeaky`` / ``RSynaptic``: a layer named ``1`` gives the nodes ``1.neuron`` (``LIF``,
``CubaLIF`` or ``IF``) and ``1.w_rec`` (``Linear``, or ``Affine`` with a bias), edges ``... -> 1.neuron -> 1.w_rec
-> 1.neuron -> ...`` (a ``RecurrentNode`` keeps the two names it was imported from). Its converter returns the
pattern as a small graph (``input``, ``neuron``, ``w_rec``, ``output``) that :func:`inline_recurrent` puts in place.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable
from typing import Any

import nir
import numpy as np
import torch
from torch import nn

from spikekit.state import SqueezeMixin
from spikekit_nir.conventions import ConversionError
from spikekit_nir.modules import Scale
from spikekit_nir.neuron_node import NeuronNode, fold_gain_and_rest, input_scale_of
from spikekit_nir.registry import ExportContext, ImportContext

__all__ = [
    "RECURRENT_NEURONS", "RecurrentNode", "export_recurrent", "export_recurrent_node", "import_recurrent",
    "inline_recurrent",
]  # fmt: skip

#: The NIR neuron nodes whose recurrent pattern spikekit runs.
RECURRENT_NEURONS = (nir.LIF, nir.CubaLIF, nir.IF)


class RecurrentNode(nn.Module, SqueezeMixin):
    """A recurrent layer (``neuron``) on spikekit's squeezed ``(B*T, ...)`` layout, with NIR's input gain and
    resting potential (as :class:`~spikekit_nir.neuron_node.NeuronNode`).

    Args:
        neuron: a ``LIFRecurrent`` or ``IAFRecurrent`` (taking ``(B, T, ...)``).
        input_scale: the node's input gain (also the last module of ``neuron.rec_connect``), or None.
        v_leak: the resting potential the layer's potential is measured from.
        batch_size, num_timesteps: as for the Squeeze layers (one is needed).
    """

    v_leak: torch.Tensor  # a buffer
    neuron: nn.Module

    def __init__(
        self, neuron: nn.Module, input_scale: Scale | None, v_leak: Any, batch_size: int | None,
        num_timesteps: int | None,
    ) -> None:  # fmt: skip
        super().__init__()
        self.squeeze_init(batch_size, num_timesteps)
        if input_scale is not None:
            self.input_scale = input_scale
        self.neuron = neuron
        self.register_buffer("v_leak", torch.as_tensor(v_leak, dtype=torch.float32).clone())
        self.weights_name: str | None = None  # the weight node's name in the graph it was imported from

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if "input_scale" in self._modules:
            x = self.input_scale(x)
        return self.squeeze_forward(x, self.neuron)


# ----------------------------------------------------------------------------------------------------- import
def _recurrent_layer(layer: nn.Module, rec_connect: nn.Module, name: str, node: Any = None) -> nn.Module:
    import spikekit.layers as sl
    from spikekit_nir.registry import metadata_value

    if not isinstance(layer, (sl.LIFSqueeze, sl.IAFSqueeze)):
        raise ConversionError(
            f"from_nir: recurrent node {name!r} imports as {type(layer).__name__}; spikekit runs recurrence through "
            "LIFRecurrent and IAFRecurrent only"
        )
    common = dict(
        spike_threshold=layer.spike_threshold.detach().clone(), spike_fn=layer.spike_fn, reset_fn=layer.reset_fn,
        tau_syn=None if layer.tau_syn is None else layer.tau_syn.detach().clone(),
        min_v_mem=None if layer.min_v_mem is None else layer.min_v_mem.detach().clone(),
    )  # fmt: skip
    if isinstance(layer, sl.IAFSqueeze):
        return sl.IAFRecurrent(rec_connect, **common)
    tau_mem = layer.tau_mem.detach().clone()
    tau_adapt = metadata_value(node, "spikekit_tau_adapt")
    if tau_adapt is not None:  # written from an ALIFRecurrent: its adaptation comes back
        scale = metadata_value(node, "spikekit_adapt_scale")
        return sl.ALIFRecurrent(
            tau_mem, _compact(tau_adapt), rec_connect, adapt_scale=_compact(0.0 if scale is None else scale),
            norm_input=layer.norm_input, **common,
        )  # fmt: skip
    return sl.LIFRecurrent(tau_mem, rec_connect, norm_input=layer.norm_input, **common)


def import_recurrent(
    node: nir.NIRNode, weights: nir.NIRNode, weights_name: str, ctx: ImportContext,
    import_node: Callable[[Any, ImportContext], nn.Module],
) -> RecurrentNode:  # fmt: skip
    """The :class:`RecurrentNode` of ``node`` whose output returns to it through ``weights`` (Affine / Linear)."""
    ctx.require_time(node)
    plain = import_node(node, ctx)
    scale: Scale | None = None
    v_leak: Any = 0.0
    if isinstance(plain, NeuronNode):
        child = plain._modules.get("input_scale")
        scale = child if isinstance(child, Scale) else None
        v_leak, plain = plain.v_leak, plain.neuron
    prefix = ctx.name.rpartition(".")[0]
    weights_ctx = dataclasses.replace(ctx, name=f"{prefix}.{weights_name}" if prefix else weights_name)
    parts: dict[str, nn.Module] = {"weights": import_node(weights, weights_ctx)}
    if scale is not None:
        parts["input_scale"] = Scale(scale.scale)
    rec_connect = nn.Sequential(collections.OrderedDict(parts))
    layer = _recurrent_layer(plain, rec_connect, ctx.name, node)
    node = RecurrentNode(layer, scale, v_leak, ctx.batch_size, ctx.num_timesteps)
    node.weights_name = weights_name
    return node


def _compact(value: Any) -> torch.Tensor:
    arr = np.asarray(value, dtype=np.float64)
    flat = arr.ravel()
    return torch.tensor(float(flat[0]) if flat.size and np.all(flat == flat[0]) else arr, dtype=torch.float32)


# ----------------------------------------------------------------------------------------------------- export
def _weights_node(rec_connect: nn.Module, n_neurons: int, name: str, skip_scale: bool) -> nir.NIRNode:
    """The NIR node of a rec_connect made of ``nn.Linear`` (with ``nn.Flatten`` and ``Scale`` around it)."""
    parts = list(rec_connect) if isinstance(rec_connect, nn.Sequential) else [rec_connect]
    linear = [p for p in parts if isinstance(p, nn.Linear)]
    others = [p for p in parts if not isinstance(p, (nn.Linear, nn.Flatten, Scale))]
    if len(linear) != 1 or others or linear[0].weight.shape != (n_neurons, n_neurons):
        raise ConversionError(
            f"to_nir: {name!r}: its rec_connect must be one nn.Linear({n_neurons}, {n_neurons}) (optionally with "
            f"nn.Flatten) to be written as NIR; got {rec_connect}"
        )
    weight = linear[0].weight.detach().cpu().to(torch.float64)
    bias = None if linear[0].bias is None else linear[0].bias.detach().cpu().to(torch.float64)
    for part in parts[parts.index(linear[0]) + 1 :]:
        if isinstance(part, Scale) and not skip_scale:
            factor = part.scale.detach().cpu().to(torch.float64).reshape(-1)
            weight = weight * factor.unsqueeze(-1) if factor.numel() > 1 else weight * factor
            bias = None if bias is None else bias * factor
    w = weight.to(torch.float32).numpy()
    if bias is None:
        return nir.Linear(weight=w)
    return nir.Affine(weight=w, bias=bias.to(torch.float32).numpy())


_PATTERN = {"input", "neuron", "w_rec", "output"}


def _rec_connect(layer: nn.Module) -> nn.Module:
    rec = layer._modules.get("rec_connect")
    if rec is None:
        raise ConversionError(f"to_nir: {type(layer).__name__} has no rec_connect module")
    return rec


def _subgraph(neuron: nir.NIRNode, weights: nir.NIRNode, shape: tuple[int, ...]) -> nir.NIRGraph:
    types = np.array(shape, dtype=np.int64)
    return nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": types}), "neuron": neuron, "w_rec": weights,
            "output": nir.Output(output_type={"output": types}),
        },
        edges=[("input", "neuron"), ("neuron", "w_rec"), ("w_rec", "neuron"), ("neuron", "output")],
        type_check=False,
    )  # fmt: skip


def _neuron_node(layer: nn.Module, ctx: ExportContext) -> nir.NIRNode:
    from spikekit_nir.converters_neurons import spiking_node

    if hasattr(layer, "alpha_adapt_calculated"):
        return _adaptive_node(layer, ctx)
    leaky = getattr(layer, "tau_mem", None) is not None
    return spiking_node(layer, ctx, leaky=leaky, recurrent=True)


def _steps(alpha: Any) -> torch.Tensor:
    return -1.0 / torch.log(torch.as_tensor(alpha).detach())


def _adaptive_node(layer: nn.Module, ctx: ExportContext) -> nir.NIRNode:
    """ALIFRecurrent -> the NIR node of its membrane (NIR has no adaptive threshold: ``b0`` is the threshold) with
    the adaptation in the metadata (``spikekit_tau_adapt``, ``spikekit_adapt_scale``), which spikekit reads back."""
    import warnings

    import spikekit.layers as sl
    from spikekit_nir.converters_neurons import NIRConventionWarning, spiking_node

    syn = getattr(layer, "alpha_syn_calculated", None)
    lif = sl.LIFRecurrent(
        tau_mem=_steps(layer.alpha_mem_calculated), rec_connect=_rec_connect(layer),
        tau_syn=None if syn is None else _steps(syn), spike_threshold=torch.as_tensor(layer.b0).detach().clone(),
        spike_fn=layer.spike_fn, reset_fn=layer.reset_fn, min_v_mem=layer.min_v_mem, norm_input=layer.norm_input,
    )  # fmt: skip
    lif.init_state_with_shape(layer.v_mem.shape)
    node = spiking_node(lif, ctx, leaky=True, recurrent=True)
    shape = tuple(np.shape(node.v_threshold))
    node.metadata["spikekit_tau_adapt"] = np.broadcast_to(_steps(layer.alpha_adapt_calculated).numpy(), shape).copy()
    node.metadata["spikekit_adapt_scale"] = np.broadcast_to(np.asarray(layer.adapt_scale, np.float64), shape).copy()
    warnings.warn(
        f"to_nir: {ctx.name!r} ({type(layer).__name__}) adapts its threshold, which NIR cannot state; the adaptation "
        "is kept in the node's metadata for spikekit only, and other readers run it as a LIF with threshold b0",
        NIRConventionWarning,
        stacklevel=5,
    )
    return node


def export_recurrent(module: nn.Module, ctx: ExportContext) -> nir.NIRGraph:
    """LIFRecurrent / IAFRecurrent -> nested NIRGraph ``input -> neuron <-> w_rec -> output``."""
    neuron = _neuron_node(module, ctx)
    shape = tuple(np.shape(neuron.v_threshold))
    if len(shape) != 1:
        raise ConversionError(f"to_nir: {ctx.name!r}: recurrent layers export with one neuron dim, got {shape}")
    rec_connect = _rec_connect(module)
    return _subgraph(neuron, _weights_node(rec_connect, shape[0], ctx.name, skip_scale=False), shape)


def export_recurrent_node(module: RecurrentNode, ctx: ExportContext) -> nir.NIRGraph:
    """RecurrentNode -> the nested graph of its layer, with the node's gain and resting potential put back."""
    from spikekit_nir.neuron_node import _unshifted_reset

    layer = _unshifted_reset(module.neuron)
    neuron = _neuron_node(layer, ctx)
    neuron = fold_gain_and_rest(neuron, input_scale_of(module), module.v_leak, ctx.name)
    shape = tuple(np.shape(neuron.v_threshold))
    rec_connect = _rec_connect(module.neuron)
    weights = _weights_node(rec_connect, shape[0], ctx.name, skip_scale=True)
    return _subgraph(neuron, weights, shape)


def inline_recurrent(nodes: dict[str, Any], edges: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Write every recurrent pattern graph among ``nodes`` flat into them (changed in place); the new edges."""
    for name in [k for k, v in nodes.items() if isinstance(v, nir.NIRGraph) and set(v.nodes) == _PATTERN]:
        sub = nodes[name]
        given = (sub.metadata or {}).get("spikekit_names")
        neuron, weights = (given[0], given[1]) if given else (f"{name}.neuron", f"{name}.w_rec")
        for taken in (neuron, weights):
            if taken in nodes and taken != name:
                raise ConversionError(f"to_nir: the recurrent layer {name!r} needs the node name {taken!r}, taken")
        # in place of the graph node, so that the order of the nodes stays (readers such as nirtorch follow it)
        order = list(nodes.items())
        nodes.clear()
        for key, value in order:
            if key == name:
                nodes[neuron], nodes[weights] = sub.nodes["neuron"], sub.nodes["w_rec"]
            else:
                nodes[key] = value
        renamed = [(neuron if a == name else a, neuron if b == name else b) for a, b in edges]
        renamed = [e for e in renamed if e not in ((neuron, weights), (weights, neuron))]
        # the pair right after the neuron's last input: nirtorch executes in edge order and returns the last value
        last_in = max((i for i, (_, b) in enumerate(renamed) if b == neuron), default=-1)
        edges = [*renamed[: last_in + 1], (neuron, weights), (weights, neuron), *renamed[last_in + 1 :]]
    return list(dict.fromkeys(edges))
