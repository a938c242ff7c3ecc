"""Reading and writing ``.nir`` files (HDF5, through the ``nir`` package)."""

from __future__ import annotations

from pathlib import Path

import nir

from spikekit_nir.safe_read import DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH, DEFAULT_MAX_NODES, read_nir

__all__ = ["save", "load"]


def save(graph: nir.NIRNode, path: str | Path) -> None:
    """Write a NIR graph (from :func:`spikekit_nir.to_nir`) to ``path``.

    Example:
        >>> save(to_nir(model, sample), "model.nir")  # doctest: +SKIP
    """
    nir.write(path, graph)


def load(
    path: str | Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> nir.NIRGraph:
    """Read the NIR graph stored at ``path`` (pass it, or the path itself, to :func:`spikekit_nir.from_nir`).

    The file is untrusted input: HDF5 external storage, external or soft links and virtual datasets are refused,
    and the declared data sizes are checked against ``max_bytes`` (default 1 GiB), the nesting against ``max_depth``
    (default 32) and the number of NIR nodes against ``max_nodes`` (default 10,000), before anything is read; a
    malformed node is refused with a ``ConversionError`` naming the file, the node and the field (see
    :mod:`spikekit_nir.safe_read`).

    Example:
        >>> graph = load("model.nir")  # doctest: +SKIP
    """
    return read_nir(path, max_bytes=max_bytes, max_depth=max_depth, max_nodes=max_nodes)
