"""DynapcnnLayers from a table of chip layers (sinabs's ``sinabs.backend.dynapcnn.dynapcnn_layer_utils``).

The table (``dcnnl_map``, as :attr:`GraphExtractor.dcnnl_info <.nir_graph_extractor.GraphExtractor.dcnnl_info>` gives
it) maps a layer index to a dict with ``"input_shape"``, ``"conv"`` and ``"neuron"`` (each ``{"module", "node_id"}``),
``"is_entry_node"``, ``"rescale_factors"`` (a set) and ``"destinations"``: one dict per output with
``"pooling_modules"`` (the pooling layers in order), ``"pooling_ids"`` and ``"destination_layer"`` (a layer index,
or ``None`` for an output of the network).

Building the layers completes the table in place, as sinabs does: each destination gets its
``"cumulative_pooling"`` and ``"cumulative_scaling"``, each layer its ``"pooling_list"`` and ``"rescale_factor"``
(an average pooling before a layer becomes a sum pooling and the layer's weights are scaled down to match).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from torch import nn

from spikekit_speck.dvs import expand_to_pair
from spikekit_speck.dynapcnn.dynapcnn_layer import DynapcnnLayer

__all__ = [
    "DynapcnnLayer",
    "collect_entry_points",
    "consolidate_dest_pooling",
    "consolidate_dvs_pooling",
    "consolidate_layer_pooling",
    "consolidate_layer_scaling",
    "construct_destination_map",
    "construct_dynapcnnlayers_from_mapper",
    "construct_single_dynapcnn_layer",
    "expand_to_pair",
    "extract_pooling_from_module",
    "finalize_dcnnl_map",
]

RescaleFn = Callable[[set[float]], float]


def construct_dynapcnnlayers_from_mapper(
    dcnnl_map: dict[int, dict[str, Any]],
    dvs_layer_info: dict[str, Any] | None,
    discretize: bool,
    rescale_fn: RescaleFn | None = None,
) -> tuple[dict[int, DynapcnnLayer], dict[Any, list[int]], set[Any]]:
    """``(layers, destination map, entry points)`` of the table ``dcnnl_map`` (completed in place).

    ``rescale_fn`` picks one weight scale where average poolings of different sizes lead into the same layer.
    """
    finalize_dcnnl_map(dcnnl_map, dvs_layer_info, rescale_fn)
    layers = {index: construct_single_dynapcnn_layer(info, discretize) for index, info in dcnnl_map.items()}
    return layers, construct_destination_map(dcnnl_map, dvs_layer_info), collect_entry_points(dcnnl_map, dvs_layer_info)


def finalize_dcnnl_map(
    dcnnl_map: dict[int, dict[str, Any]], dvs_info: dict[str, Any] | None, rescale_fn: RescaleFn | None = None
) -> None:
    """Complete the table in place: the DVS layer's pooling, each destination's pooling, each layer's weight scale."""
    consolidate_dvs_pooling(dvs_info, dcnnl_map)
    for info in dcnnl_map.values():
        consolidate_layer_pooling(info, dcnnl_map)
    for info in dcnnl_map.values():
        consolidate_layer_scaling(info, rescale_fn)


def extract_pooling_from_module(pooling_layer: nn.Module) -> tuple[tuple[int, int], float]:
    """``((pool_y, pool_x), weight scale)`` of a ``SumPool2d`` (scale 1) or ``nn.AvgPool2d`` (1 / window size).

    Raises:
        ValueError: the stride differs from the window, or the layer is no pooling the chip has.
    """
    from spikekit.layers import SumPool2d

    if not isinstance(pooling_layer, (nn.AvgPool2d, SumPool2d)):
        raise ValueError(f"Unsupported type {type(pooling_layer)} for pooling layer (expected SumPool2d or AvgPool2d)")
    kernel = pooling_layer.kernel_size
    pooling = expand_to_pair(kernel)
    stride = pooling_layer.stride
    if stride is not None and expand_to_pair(stride) != pooling:
        raise ValueError(f"Pooling layer {pooling_layer}: stride {stride} must equal its kernel size {kernel}")
    if isinstance(pooling_layer, nn.AvgPool2d):
        return pooling, 1.0 / (pooling[0] * pooling[1])
    return pooling, 1.0


def consolidate_dest_pooling(modules: Iterable[nn.Module]) -> tuple[list[int], float]:
    """``([pool_y, pool_x], weight scale)`` of pooling layers applied one after the other (sizes and scales
    multiply)."""
    pooling, scale = [1, 1], 1.0
    for module in modules:
        (py, px), factor = extract_pooling_from_module(module)
        pooling = [pooling[0] * py, pooling[1] * px]
        scale *= factor
    return pooling, scale


def consolidate_layer_pooling(layer_info: dict[str, Any], dcnnl_map: dict[int, dict[str, Any]]) -> None:
    """Give each destination of ``layer_info`` its cumulative pooling and scale, the layer its ``"pooling_list"``,
    and each destination layer the scale in its ``"rescale_factors"``."""
    layer_info["pooling_list"] = []
    for destination in layer_info["destinations"]:
        pooling, scale = consolidate_dest_pooling(destination["pooling_modules"])
        destination["cumulative_pooling"] = pooling
        destination["cumulative_scaling"] = scale
        layer_info["pooling_list"].append(pooling)
        if destination["destination_layer"] is not None:
            dcnnl_map[destination["destination_layer"]]["rescale_factors"].add(scale)


def consolidate_dvs_pooling(dvs_info: dict[str, Any] | None, dcnnl_map: dict[int, dict[str, Any]]) -> None:
    """Fold a pooling layer that follows the DVS layer into the DVS layer's own pooling (in place) and pass its
    weight scale to the DVS layer's destinations.

    Raises:
        ValueError: the DVS layer crops or flips (pooling after it would change what that means).
    """
    if dvs_info is None or dvs_info.get("pooling") is None:
        return
    dvs = dvs_info["module"]
    crop = dvs.crop_layer
    height, width = dvs.input_shape[1], dvs.input_shape[2]
    if (crop.top_crop, crop.left_crop, crop.bottom_crop, crop.right_crop) != (0, 0, height, width):
        raise ValueError(
            "A pooling layer follows a DVSLayer that crops; give the pooling to the DVSLayer (its `pool` argument) "
            "instead of a separate layer."
        )
    flip = dvs.flip_layer
    if flip.flip_x or flip.flip_y or flip.swap_xy:
        raise ValueError(
            "A pooling layer follows a DVSLayer that flips or swaps axes; give the pooling to the DVSLayer (its "
            "`pool` argument) instead of a separate layer."
        )
    (py, px), scale = extract_pooling_from_module(dvs_info["pooling"]["module"])
    own = expand_to_pair(dvs.pool_layer.kernel_size)
    dvs.pool_layer.kernel_size = (own[0] * py, own[1] * px)
    dvs.pool_layer.stride = None
    crop.bottom_crop //= py
    crop.right_crop //= px
    for index in dvs_info.get("destinations") or []:
        dcnnl_map[index]["rescale_factors"].add(scale)


def consolidate_layer_scaling(layer_info: dict[str, Any], rescale_fn: RescaleFn | None = None) -> None:
    """Set ``layer_info["rescale_factor"]``: 1 without scales, the only scale if one (taken out of the set), else
    ``rescale_fn`` of the set.

    Raises:
        ValueError: several different scales and no ``rescale_fn``.
    """
    factors = layer_info["rescale_factors"]
    if not factors:
        layer_info["rescale_factor"] = 1
    elif len(factors) == 1:
        layer_info["rescale_factor"] = factors.pop()
    elif rescale_fn is None:
        raise ValueError(
            f"Average pooling layers of different sizes lead into the same layer (weight scales {sorted(factors)}): "
            "replace them by SumPool2d layers or give a `rescale_fn` that picks one scale."
        )
    else:
        layer_info["rescale_factor"] = rescale_fn(factors)


def construct_single_dynapcnn_layer(layer_info: dict[str, Any], discretize: bool) -> DynapcnnLayer:
    """The DynapcnnLayer of one completed table entry."""
    return DynapcnnLayer(
        conv=layer_info["conv"]["module"],
        spk=layer_info["neuron"]["module"],
        in_shape=layer_info["input_shape"],
        pool=layer_info["pooling_list"],
        discretize=discretize,
        rescale_weights=layer_info["rescale_factor"],
    )


def construct_destination_map(
    dcnnl_map: dict[int, dict[str, Any]], dvs_layer_info: dict[str, Any] | None
) -> dict[Any, list[int]]:
    """Layer index -> its destinations' layer indices; the network's outputs are -1, -2, ... in the order of a
    layer's destinations; ``"dvs"`` holds the DVS layer's destinations ([-1] if it has none)."""
    found: dict[Any, list[int]] = {}
    for index, info in dcnnl_map.items():
        exits = 0
        targets = []
        for destination in info["destinations"]:
            if destination["destination_layer"] is None:
                exits += 1
                targets.append(-exits)
            else:
                targets.append(destination["destination_layer"])
        found[index] = targets
    if dvs_layer_info is not None:
        found["dvs"] = list(dvs_layer_info["destinations"] or [-1])
    return found


def collect_entry_points(dcnnl_map: dict[int, dict[str, Any]], dvs_layer_info: dict[str, Any] | None) -> set[Any]:
    """The layers that take the network's input: ``{"dvs"}`` with a DVS layer, else those marked entry nodes."""
    if dvs_layer_info is not None:
        return {"dvs"}
    return {index for index, info in dcnnl_map.items() if info["is_entry_node"]}
