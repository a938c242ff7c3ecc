"""Load whole models pickled by sinabs (``torch.save(model)`` / ``pickle.dump``) into spikekit objects.

A pickle names every class and function by its module path (``sinabs.layers.iaf.IAFSqueeze``,
``sinabs.activation.spike_generation.MultiSpike``, ``sinabs.hooks.conv_layer_synops_hook``, ...). The
:class:`Unpickler` here maps each ``sinabs.*`` path to the spikekit object of the same name, found through
spikekit's public namespaces, so the loaded model runs under spikekit with its parameters, states, hooks and
attributes. sinabs need not be installed.

This module is itself a *pickle module* for :func:`torch.load`::

    model = torch.load("model.pth", pickle_module=spikekit.utils.sinabs_pickle, weights_only=False)

or, shorter, ``spikekit.utils.load_sinabs_model("model.pth")``. Only load pickles you trust: unpickling runs code.
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
from typing import IO, Any

import torch

__all__ = ["Unpickler", "load", "loads", "load_sinabs_model", "map_sinabs_global"]

# sinabs module path prefix -> spikekit namespaces to search, in order.
_NAMESPACES_FOR: list[tuple[str, tuple[str, ...]]] = [
    ("sinabs.layers.functional", ("spikekit.layers.functional", "spikekit.layers")),
    ("sinabs.layers", ("spikekit.layers",)),
    ("sinabs.activation", ("spikekit.activation",)),
    ("sinabs.hooks", ("spikekit.hooks",)),
    ("sinabs.synopcounter", ("spikekit_convert.synopcounter", "spikekit.synopcounter")),
    ("sinabs.network", ("spikekit.network",)),
    ("sinabs.from_torch", ("spikekit.from_torch",)),
    ("sinabs.conversion", ("spikekit.conversion",)),
    ("sinabs.utils", ("spikekit.utils",)),
    ("sinabs.cnnutils", ("spikekit.cnnutils",)),
    ("sinabs.nir", ("spikekit.nir",)),
    ("sinabs", ("spikekit",)),
]


def map_sinabs_global(module: str, name: str) -> Any:
    """The spikekit object standing for ``module.name`` of sinabs (e.g. ``sinabs.layers.iaf``, ``IAFSqueeze``).

    Raises:
        pickle.UnpicklingError: if spikekit has no object of that name.
    """
    namespaces = next(
        (spaces for prefix, spaces in _NAMESPACES_FOR if module == prefix or module.startswith(prefix + ".")), None
    )
    if namespaces is None:
        raise pickle.UnpicklingError(f"{module}.{name} is not a sinabs path")
    errors = []
    for namespace in namespaces:
        try:
            obj: Any = importlib.import_module(namespace)
            for part in name.split("."):
                obj = getattr(obj, part)
            return obj
        except (ImportError, AttributeError) as exc:
            errors.append(f"{namespace}: {exc}")
    raise pickle.UnpicklingError(
        f"the pickle refers to {module}.{name}, which spikekit does not provide ({'; '.join(errors)})"
    )


class Unpickler(pickle.Unpickler):
    """A :class:`pickle.Unpickler` that resolves ``sinabs.*`` globals to spikekit's objects."""

    def find_class(self, module: str, name: str) -> Any:
        if module == "sinabs" or module.startswith("sinabs."):
            return map_sinabs_global(module, name)
        return super().find_class(module, name)


def load(file: IO[bytes], **kwargs: Any) -> Any:
    """``pickle.load`` with sinabs paths mapped to spikekit (for plain pickles, not ``torch.save`` archives)."""
    return Unpickler(file, **kwargs).load()


def loads(data: bytes, **kwargs: Any) -> Any:
    """``pickle.loads`` with sinabs paths mapped to spikekit."""
    return load(io.BytesIO(data), **kwargs)


_LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C

# torch.load reads these from a pickle module
Pickler = pickle.Pickler
dump = pickle.dump
dumps = pickle.dumps
HIGHEST_PROTOCOL = pickle.HIGHEST_PROTOCOL
UnpicklingError = pickle.UnpicklingError


def load_sinabs_model(
    path_or_file: str | os.PathLike[str] | IO[bytes], map_location: Any = None, **torch_load_kwargs: Any
) -> Any:
    """Load a whole model saved by sinabs with ``torch.save(model, ...)`` (or ``pickle.dump``) as spikekit objects.

    Args:
        path_or_file: a path or a binary file object.
        map_location: as for :func:`torch.load`.
        **torch_load_kwargs: passed to :func:`torch.load`.

    Example:
        >>> model = load_sinabs_model("sinabs_model.pth")  # saved by sinabs; IAFSqueeze etc. become spikekit's
        >>> out = model(x)

    Only load files you trust: unpickling runs code.
    """
    import spikekit_convert.sinabs_pickle as this_module

    torch_load_kwargs.setdefault("weights_only", False)
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "rb") as f:
            data = f.read()
    else:
        data = path_or_file.read()

    def with_torch() -> Any:
        return torch.load(io.BytesIO(data), map_location=map_location, pickle_module=this_module, **torch_load_kwargs)

    if data[:2] == b"PK":  # torch.save's zip archive
        return with_torch()
    obj = loads(data)
    if isinstance(obj, int) and obj == _LEGACY_TORCH_MAGIC:  # torch.save(..., _use_new_zipfile_serialization=False)
        return with_torch()
    return obj  # a plain pickle
