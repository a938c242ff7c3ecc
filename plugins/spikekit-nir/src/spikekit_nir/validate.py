"""Checks of NIR graphs and node parameters before spikekit builds anything from them.

A graph from a file or from another library is untrusted: :func:`check_graph` refuses malformed node tables and
edges (unknown or duplicate edges, names that are not strings), and :func:`check_parameters` refuses parameter
values that would make the imported layers compute NaN or nonsense (a threshold that is 0, negative or NaN; a time
constant that is 0, negative or NaN; NaN or infinite gains, weights and resets; non-positive strides and kernels).
Every refusal is a :class:`~spikekit_nir.conventions.ConversionError` naming the node and the field.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from spikekit_nir.conventions import ConversionError

__all__ = ["check_graph", "check_parameters"]

_NOT_PARAMETERS = {"metadata", "input_type", "output_type", "nodes", "edges", "type_check"}
_POSITIVE = {"v_threshold", "kernel_size", "stride", "dilation", "groups"}  # finite and > 0
_TIME_CONSTANTS = {"tau", "tau_mem", "tau_syn"}  # > 0; infinite means no leak
_NON_NEGATIVE = {"delay", "padding"}


def _numeric(value: Any) -> np.ndarray | None:
    """The value as a numpy array, or None when it is not array data (a string such as padding="same")."""
    if isinstance(value, (str, bytes)) or value is None:
        return None
    if hasattr(value, "detach"):  # sinabs writes torch tensors into its graphs
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _field_error(name: str, node: Any, field: str, why: str) -> ConversionError:
    return ConversionError(f"from_nir: node {name!r} ({type(node).__name__}), field {field!r}: {why}")


def _check_value(name: str, node: Any, field: str, arr: np.ndarray) -> None:
    if arr.dtype.kind not in "biuf":
        raise _field_error(name, node, field, f"expected numbers, got an array of {arr.dtype}")
    values = arr.astype(np.float64, copy=False)
    if np.any(np.isnan(values)):
        raise _field_error(name, node, field, "contains NaN")
    if field in _TIME_CONSTANTS:
        if np.any(values <= 0):
            raise _field_error(name, node, field, f"time constants must be > 0 (inf: no leak), got {_show(values)}")
        return
    if np.any(np.isinf(values)):
        raise _field_error(name, node, field, f"contains inf ({_show(values)})")
    if field in _POSITIVE and np.any(values <= 0):
        raise _field_error(name, node, field, f"must be > 0, got {_show(values)}")
    if field in _NON_NEGATIVE and np.any(values < 0):
        raise _field_error(name, node, field, f"must be >= 0, got {_show(values)}")


def _show(values: np.ndarray) -> str:
    flat = values.ravel()
    return str(flat[:6].tolist()) + (" ..." if flat.size > 6 else "")


def check_parameters(node: Any, name: str) -> None:
    """Refuse a node whose parameters are not numbers or lie outside what the node's equations allow."""
    if not dataclasses.is_dataclass(node):
        return
    for f in dataclasses.fields(node):
        if f.name in _NOT_PARAMETERS:
            continue
        arr = _numeric(getattr(node, f.name, None))
        if arr is not None:
            _check_value(name, node, f.name, arr)


def check_graph(graph: Any, where: str) -> list[tuple[str, str]]:
    """The graph's edges as ``(source, target)`` strings, after checking node names and edges.

    Args:
        graph: a ``nir.NIRGraph``.
        where: the graph's name for messages (``""`` for the top level).
    """
    label = f"graph {where!r}" if where else "the graph"
    nodes = getattr(graph, "nodes", None)
    if not isinstance(nodes, dict):
        raise ConversionError(f"from_nir: {label}: field 'nodes' must be a dict of NIR nodes, got {type(nodes)}")
    for key in nodes:
        if not isinstance(key, str) or not key:
            raise ConversionError(f"from_nir: {label}: node names must be non-empty strings, got {key!r}")
    raw = getattr(graph, "edges", None)
    if raw is None:
        raise ConversionError(f"from_nir: {label}: field 'edges' is missing")
    edges: list[tuple[str, str]] = []
    seen: set[tuple[str, str]] = set()
    for edge in list(raw):
        if not (isinstance(edge, (tuple, list)) and len(edge) == 2 and all(isinstance(e, str) for e in edge)):
            raise ConversionError(f"from_nir: {label}: field 'edges': each edge must be two node names, got {edge!r}")
        a, b = str(edge[0]), str(edge[1])
        for end in (a, b):
            if end not in nodes:
                raise ConversionError(f"from_nir: {label}: edge ({a!r}, {b!r}) names the unknown node {end!r}")
        if (a, b) in seen:
            raise ConversionError(
                f"from_nir: {label}: edge ({a!r}, {b!r}) appears twice; NIR sums every edge into a node, so a "
                "repeated edge would double that input"
            )
        seen.add((a, b))
        edges.append((a, b))
    return edges
