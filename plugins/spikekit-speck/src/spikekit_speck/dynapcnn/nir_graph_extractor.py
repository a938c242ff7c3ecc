"""``GraphExtractor``: from a spiking model to a graph of DynapcnnLayers (sinabs's ``nir_graph_extractor``).

The graph is found by running the model once with forward hooks (see :mod:`spikekit_speck.graph`), not through
nirtorch as sinabs does; the checks are sinabs's and so are the exception classes they raise:

* a layer type the chip cannot run -> :class:`~.exceptions.UnsupportedLayerType` (listing the layers);
* a connection the chip cannot make (e.g. conv -> conv, neuron -> neuron) -> :class:`~.exceptions.InvalidEdge`;
* several inputs into anything but a ``Merge``, several outputs from anything but a neuron, pooling or DVS layer,
  isolated layers, more than one DVSLayer, and every other structural rule -> :class:`~.exceptions.InvalidGraphStructure`;
* DVS input of more than 2 channels, a DVSLayer merging polarities fed with 2, a non-square kernel or pooling
  window, or a pooling stride unlike its size -> ``ValueError``.

Where sinabs accepts a model and then computes something else, this refuses it: a BatchNorm that does not follow a
Conv2d or Linear (sinabs drops it silently at the end of a model, and fails with a shape error elsewhere) raises
:class:`~.exceptions.InvalidGraphStructure`.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable, Iterable
from pprint import pformat
from typing import Any

import torch
from torch import nn

from spikekit_speck.chip import SPECK
from spikekit_speck.dynapcnn._layer_table import layer_table
from spikekit_speck.dynapcnn.dvs_layer import DVSLayer
from spikekit_speck.dynapcnn.dynapcnn_layer import DynapcnnLayer
from spikekit_speck.dynapcnn.dynapcnn_layer_utils import construct_dynapcnnlayers_from_mapper
from spikekit_speck.dynapcnn.dynapcnnnetwork_module import DynapcnnNetworkModule
from spikekit_speck.dynapcnn.exceptions import InvalidEdge, InvalidGraphStructure, UnsupportedLayerType
from spikekit_speck.dynapcnn.sinabs_edges_handler import handle_batchnorm_nodes
from spikekit_speck.errors import LayerShapeError, SpeckModelError
from spikekit_speck.graph import INPUT, LayerPlan, NetworkPlan, leaves, plan_network, rescale_method_1, trace
from spikekit_speck.mapping import topological_sorting

__all__ = [
    "GraphExtractor",
    "construct_dynapcnnlayers_from_mapper",
    "get_new_index",
    "handle_batchnorm_nodes",
    "topological_sorting",
]

# What a DynapcnnNetwork accepts before any chip limit is checked (sinabs checks kernel sizes, strides, channel
# counts and pooling sizes only when the configuration is made): the core array's rules on structure only.
_STRUCTURE_ONLY = dataclasses.replace(
    SPECK,
    max_kernel_size=10**9,
    max_feature_count=10**9,
    strides=range(1, 10**9),
    poolings=range(1, 10**9),
    max_destinations=10**9,  # more than 2 runs in torch; the configuration refuses it (MaxDestinationsReached)
)

# Which node kinds may follow which (the chip's connections; sinabs's VALID_SINABS_EDGE_TYPES).
_VALID_EDGES = {
    ("conv", "neuron"),
    ("linear", "neuron"),
    ("neuron", "pool"),
    ("pool", "pool"),
    ("neuron", "conv"),
    ("neuron", "linear"),
    ("pool", "conv"),
    ("pool", "linear"),
    ("dvs", "conv"),
    ("dvs", "linear"),
    ("dvs", "pool"),
}
_MULTIPLE_OUTPUTS = ("neuron", "pool", "dvs")


def get_new_index(existing_indices: Iterable[int]) -> int:
    """The smallest index from 0 up that ``existing_indices`` does not hold (``[0, 1, 3]`` -> 2)."""
    taken = set(existing_indices)
    return next(i for i in range(len(taken) + 1) if i not in taken)


def _type_of(namespace_name: str) -> type | None:
    import spikekit.layers

    try:
        return getattr(spikekit.layers, namespace_name)
    except Exception:  # the plugin providing it is missing: nothing can be of that type
        return None


def verify_node_types(model: nn.Module) -> None:
    """Raise :class:`UnsupportedLayerType` naming every layer of ``model`` that the chip cannot run."""
    unsupported = [(name, module) for name, module, kind in leaves(model) if kind == "unsupported"]
    if not unsupported:
        return

    def pick(*types: type | None) -> list[str]:
        chosen = [f"{name!r}: {module}" for name, module in unsupported if type(module) in types]
        return chosen

    iaf = pick(_type_of("IAF"))
    if iaf:
        raise UnsupportedLayerType(
            f"The provided SNN contains IAF layers:\n{', '.join(iaf)}.\nFor compatibility with torch's `nn.Conv2d` "
            "modules, please use `IAFSqueeze` layers instead."
        )
    lif = pick(_type_of("LIF"), _type_of("LIFSqueeze"))
    if lif:
        raise UnsupportedLayerType(
            f"The provided SNN contains LIF layers:\n{', '.join(lif)}.\nLeaky Integrate-and-Fire dynamics are not "
            "supported by DynapCNN. Use non-leaky `IAF` or `IAFSqueeze` layers instead."
        )
    activations = pick(nn.ReLU, nn.Sigmoid, nn.Tanh, _type_of("NeuromorphicReLU"))
    if activations:
        raise UnsupportedLayerType(
            f"The provided SNN contains non-spiking activation layers:\n{', '.join(activations)}.\nPlease convert "
            "them to `IAF` or `IAFSqueeze` layers before instantiating a `DynapcnnNetwork`. You can use the function "
            "`sinabs.from_model.from_torch` for this."
        )
    by_type: dict[str, list[str]] = {}
    for name, module in unsupported:
        by_type.setdefault(type(module).__name__, []).append(name)
    raise UnsupportedLayerType(
        f"One or more layers in the provided SNN are not supported: {pformat(by_type)}. Supported layer types are: "
        "Conv2d, Linear, IAFSqueeze, SumPool2d, AvgPool2d, DVSLayer (plus Flatten, Merge, Identity, Dropout and "
        "BatchNorm after a weight layer)."
    )


def _weight_module(layer: LayerPlan, linear: bool) -> nn.Conv2d | nn.Linear:
    """The (BatchNorm-folded, not yet rescaled) weight layer of a planned chip layer, built without drawing random
    numbers; a ``Linear`` stays one, so that :class:`DynapcnnLayer` turns it into a Conv2d as sinabs does (drawing
    the Conv2d's initial values, as sinabs's conversion does, and giving the neuron state its ``(N, C, 1, 1)``
    shape)."""
    weight = layer.unscaled_weight if layer.unscaled_weight is not None else layer.weight
    bias = layer.bias is not None
    module: nn.Conv2d | nn.Linear
    if linear:
        module = nn.utils.skip_init(nn.Linear, weight[0].numel(), weight.shape[0], bias=bias)
        module.weight.data = weight.reshape(weight.shape[0], -1).clone()
    else:
        kernel = (int(weight.shape[-2]), int(weight.shape[-1]))
        module = nn.utils.skip_init(
            nn.Conv2d,
            layer.input_shape[0],
            weight.shape[0],
            kernel,
            stride=layer.stride,
            padding=layer.padding,
            bias=bias,
        )
        module.weight.data = weight.clone()
    if layer.bias is not None:
        assert module.bias is not None  # built with a bias because the layer has one
        module.bias.data = layer.bias.clone()
    return module


def _chip_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (*shape, 1, 1) if len(shape) == 1 else shape


class GraphExtractor:
    """The graph of a spiking model, checked against the chip's rules, and the DynapcnnLayers made from it.

    Args:
        spiking_model: the model (Conv2d / Linear -> IAFSqueeze -> pooling chains, Merge, Flatten, DVSLayer, ...).
        dummy_input: an input ``(batch, channels, height, width)``; only its shape is used.
        dvs_input: ``True`` adds a DVSLayer if there is none; ``False`` disables the pixel array of a DVSLayer;
            ``None`` takes DVS input only if the model has a DVSLayer.
        ignore_node_types: accepted for sinabs compatibility (Identity and Dropout are always dropped).
    """

    def __init__(
        self,
        spiking_model: nn.Module,
        dummy_input: torch.Tensor,
        dvs_input: bool | None = None,
        ignore_node_types: Iterable[type] | None = None,
    ) -> None:
        self._input_shape = tuple(int(s) for s in dummy_input.shape[1:])
        self._dvs_added = False
        verify_node_types(spiking_model)
        self._model = self._with_dvs(spiking_model, dvs_input)
        try:
            nodes, out_nodes = trace(self._model, self._input_shape)
        except SpeckModelError as exc:
            raise InvalidGraphStructure(str(exc)) from exc
        self._nodes = nodes
        self._out_nodes = out_nodes
        self._plans: dict[Any, NetworkPlan] = {}
        self._rescale_fn: Callable[[Iterable[float]], float] = rescale_method_1
        self._tables: dict[Any, dict[int, dict[str, Any]]] = {}
        self._name_2_indx_map = {self._user_name(node.name): i for i, node in enumerate(nodes)}
        self._edges = {(s, i) for i, node in enumerate(nodes) for s in node.sources if s != INPUT}
        self._entry_nodes = {i for i, node in enumerate(nodes) if INPUT in node.sources}
        self.verify_graph_integrity()

    # -- DVS input -----------------------------------------------------------------------------------------------
    def _with_dvs(self, model: nn.Module, dvs_input: bool | None) -> nn.Module:
        """The model to trace: ``model`` with its DVSLayer copied (pixel array set from ``dvs_input``), or with a
        DVSLayer put in front when ``dvs_input`` is True and it has none."""
        found = [(n, m) for n, m in model.named_modules() if isinstance(m, DVSLayer)]
        if len(found) > 1:
            raise InvalidGraphStructure(
                f"The provided model has {len(found)} `DVSLayer`s ({', '.join(repr(n) for n, _ in found)}). "
                "At most one is allowed."
            )
        features = self._input_shape[0]
        if found:
            name, layer = found[0]
            if features > 2:
                raise ValueError(
                    f"A DVSLayer instance can have the feature dimension of its inputs with values 1 or 2 but "
                    f"{features} was given (DVSLayer {name!r})."
                )
            if layer.merge_polarities and features != 1:
                raise ValueError(
                    f"The 'DVSLayer.merge_polarities' of {name!r} is set to 'True' which means the number of input "
                    f"features should be 1 (current input shape is {self._input_shape})."
                )
            model = copy.deepcopy(model)
            layer = dict(model.named_modules())[name]
            if features == 1:
                layer.merge_polarities = True
            if dvs_input is not None:
                layer.disable_pixel_array = not dvs_input
            return model
        if not dvs_input:
            return model
        if features > 2:
            raise ValueError(f"A DVSLayer instance can have a max feature dimension of 2 but {features} was given.")
        dvs = DVSLayer(
            input_shape=(self._input_shape[1], self._input_shape[2]),
            merge_polarities=features == 1,
            disable_pixel_array=False,
        )
        self._dvs_added = True
        return nn.Sequential(dvs, model)

    def _user_name(self, name: str) -> str:
        """A traced layer's name in the user's model; a DVSLayer put in front is ``"dvs"`` (sinabs's names)."""
        if not self._dvs_added:
            return name
        return "dvs" if name == "0" else name.removeprefix("1.")

    # -- checks ----------------------------------------------------------------------------------------------------
    def _real_targets(self, i: int) -> list[int]:
        """The nodes that ``i``'s output reaches, looking through Flatten / Identity / Dropout / BatchNorm / Merge."""
        found = []
        for j, node in enumerate(self._nodes):
            if i in node.sources:
                if node.kind in ("skip", "flatten", "merge", "bn"):
                    found += self._real_targets(j)
                else:
                    found.append(j)
        return found

    def verify_graph_integrity(self) -> None:
        """Check multiple inputs / outputs, isolated nodes and the kind of every connection (sinabs's rules)."""
        nodes = self._nodes
        for i, node in enumerate(nodes):
            if node.kind in ("skip", "flatten", "bn"):
                continue
            if node.kind != "merge" and len(node.sources) > 1:
                raise InvalidGraphStructure(
                    f"Node {i} ({node.name!r}, {type(node.module).__name__}) has {len(node.sources)} inputs, but only "
                    "Merge layers are allowed to have multiple inputs."
                )
            if node.kind == "merge":
                continue
            targets = self._real_targets(i)
            if node.kind not in _MULTIPLE_OUTPUTS and len(targets) > 1:
                raise InvalidGraphStructure(
                    f"Node {i} ({node.name!r}, {type(node.module).__name__}) has {len(targets)} outputs, but only "
                    "IAFSqueeze, pooling and DVS layers are allowed to have multiple outputs."
                )
            for j in targets:
                if (node.kind, nodes[j].kind) not in _VALID_EDGES:
                    raise InvalidEdge((node.name, nodes[j].name), type(node.module), type(nodes[j].module))

    # -- sinabs's accessors ----------------------------------------------------------------------------------------
    @property
    def dvs_layer(self) -> DVSLayer | None:
        return next((n.module for n in self._nodes if n.kind == "dvs" and isinstance(n.module, DVSLayer)), None)

    @property
    def dvs_node_id(self) -> int | None:
        return next((i for i, n in enumerate(self._nodes) if n.kind == "dvs"), None)

    @property
    def has_dvs_layer(self) -> bool:
        return self.dvs_layer is not None

    @property
    def entry_nodes(self) -> set[int]:
        return self._entry_nodes

    @property
    def edges(self) -> set[tuple[int, int]]:
        return self._edges

    @property
    def name_2_indx_map(self) -> dict[str, int]:
        return self._name_2_indx_map

    @property
    def indx_2_module_map(self) -> dict[int, nn.Module]:
        return {i: n.module for i, n in enumerate(self._nodes)}

    @property
    def nodes_io_shapes(self) -> dict[int, dict[str, tuple[int, ...]]]:
        """Node -> its ``"input"`` and ``"output"`` shapes without the batch dimension; a flat ``(N,)`` shape (after
        a Flatten, around a Linear) is given as ``(N, 1, 1)``, the shape the chip layer has, as sinabs gives it."""
        return {
            i: {"input": _chip_shape(n.in_shape), "output": _chip_shape(n.out_shape)} for i, n in enumerate(self._nodes)
        }

    @property
    def sorted_nodes(self) -> list[int]:
        return list(range(len(self._nodes)))

    def remove_nodes_by_class(self, node_classes: tuple[type, ...]) -> None:
        """Accepted for sinabs compatibility: Flatten and Merge nodes are always looked through when layers are made."""

    def plan(self, weight_rescaling_fn: Callable[[Iterable[float]], float] | None = None) -> NetworkPlan:
        """The chip layers of the model (structure checked, chip limits not), planned from the trace made when the
        extractor was built and kept (the model runs once); treat it as read-only."""
        fn = weight_rescaling_fn or rescale_method_1
        if fn not in self._plans:
            self._plans[fn] = self._plan(fn)
        return self._plans[fn]

    def _plan(self, weight_rescaling_fn: Callable[[Iterable[float]], float]) -> NetworkPlan:
        try:
            traced = (self._nodes, self._out_nodes)
            return plan_network(self._model, self._input_shape, _STRUCTURE_ONLY, weight_rescaling_fn, traced)
        except LayerShapeError as exc:  # sinabs: ValueError from DynapcnnLayer / the pooling conversion
            raise ValueError(str(exc)) from exc
        except SpeckModelError as exc:
            raise InvalidGraphStructure(str(exc)) from exc

    @property
    def dcnnl_info(self) -> dict[int, dict[str, Any]]:
        """sinabs's table of the chip layers (layer index -> its weight and neuron layers with their node ids, input
        shape, entry flag, destinations with the pooling on the way, pooling list and weight scale), for the
        weight scaling of the last :meth:`get_dynapcnn_network_module` call; see
        :mod:`~.dynapcnn_layer_utils` for the entries. Made once per weight scaling."""
        fn = self._rescale_fn
        if fn not in self._tables:
            self._tables[fn] = layer_table(self._nodes, self._out_nodes, self.plan(fn), self._real_targets, fn)
        return self._tables[fn]

    @property
    def dvs_layer_info(self) -> dict[str, Any] | None:
        """The DVS layer's ``node_id``, ``input_shape``, ``module`` (with a pooling layer that follows it folded
        in), ``pooling`` (that pooling layer's ``{"module", "node_id"}``, None if there is none) and
        ``destinations`` (chip layer indices, None if none), as sinabs gives them; None without a DVS layer."""
        plan = self.plan(self._rescale_fn)
        node = self.dvs_node_id
        if plan.dvs is None or node is None:
            return None
        pools = [j for j in self._real_targets(node) if self._nodes[j].kind == "pool"]
        return {
            "node_id": node,
            "input_shape": plan.dvs.input_shape,
            "module": plan.dvs,
            "pooling": {"module": self._nodes[pools[0]].module, "node_id": pools[0]} if pools else None,
            "destinations": list(plan.dvs_destinations) or None,
        }

    def get_dynapcnn_network_module(
        self, discretize: bool = True, weight_rescaling_fn: Callable[[Iterable[float]], float] | None = None
    ) -> DynapcnnNetworkModule:
        """A :class:`DynapcnnNetworkModule` with one DynapcnnLayer per chip layer (discretised if asked)."""
        self._rescale_fn = weight_rescaling_fn or rescale_method_1
        plan = self.plan(weight_rescaling_fn)
        modules = dict(self._model.named_modules())
        layers: dict[int, DynapcnnLayer] = {}
        destination_map: dict[Any, list[int]] = {}
        for layer in plan.layers:
            weight_layer = _weight_module(layer, isinstance(modules[layer.name], nn.Linear))
            pools = [[d.pooling, d.pooling] for d in layer.destinations]
            layers[layer.index] = DynapcnnLayer(
                weight_layer, modules[layer.neuron_name], layer.input_shape, pools, discretize, layer.rescale_factor
            )
            exits = iter(range(-1, -len(layer.destinations) - 1, -1))
            destination_map[layer.index] = [next(exits) if d.target is None else d.target for d in layer.destinations]
        dvs_info = self.dvs_layer_info
        if plan.dvs is not None:
            destination_map["dvs"] = list(plan.dvs_destinations) or [-1]
        entry_points = {"dvs"} if plan.dvs is not None else set(plan.entry_layers)
        return DynapcnnNetworkModule(layers, destination_map, entry_points, dvs_info)
