"""Reading and writing ``.nir`` files (HDF5, through the ``nir`` package)."""

from __future__ import annotations

from pathlib import Path

import nir

__all__ = ["save", "load"]


def save(graph: nir.NIRNode, path: str | Path) -> None:
    """Write a NIR graph (from :func:`spikekit_nir.to_nir`) to ``path``.

    Example:
        >>> save(to_nir(model, sample), "model.nir")  # doctest: +SKIP
    """
    nir.write(path, graph)


def load(path: str | Path) -> nir.NIRGraph:
    """Read the NIR graph stored at ``path`` (pass it, or the path itself, to :func:`spikekit_nir.from_nir`).

    Example:
        >>> graph = load("model.nir")  # doctest: +SKIP
    """
    return nir.read(path, type_check=False)
