"""Load whole models pickled by sinabs (``torch.save(model)`` / ``pickle.dump``) into spikekit objects.

A pickle names every class and function by its module path (``sinabs.layers.iaf.IAFSqueeze``,
``sinabs.activation.spike_generation.MultiSpike``, ``sinabs.hooks.conv_layer_synops_hook``, ...). The
:class:`Unpickler` here maps each ``sinabs.*`` path to the spikekit object of the same name, found through
spikekit's public namespaces, so the loaded model runs under spikekit with its parameters, states, hooks and
attributes. sinabs need not be installed.

This module is itself a *pickle module* for :func:`torch.load`, and its :class:`Unpickler` applies the
safe-loading allow-list of :mod:`spikekit_convert.safe_unpickler` (torch refuses a pickle module together with
its own ``weights_only=True``, so pass ``False`` there; the restriction is ours)::

    model = torch.load("model.pth", pickle_module=spikekit.utils.sinabs_pickle, weights_only=False)

That applies the table to the pickle only: ``torch.load`` reads the archive itself, and hands a TorchScript archive
(``torch.jit.save``) to ``torch.jit.load`` without calling the pickle module at all, so its code runs. For a file
you do not trust use :func:`load_sinabs_model`, which reads the archive itself and refuses TorchScript:
``spikekit.utils.load_sinabs_model("model.pth")`` (safe by default; ``weights_only=False`` for an
unrestricted load of a file you trust, which can run any code in it).
"""

from __future__ import annotations

import importlib
import io
import os
import pickle
import struct
import sys
import types
import zipfile
from typing import IO, Any

import torch

from spikekit_convert.safe_archive import check_map_location, safe_load
from spikekit_convert.safe_unpickler import SafeUnpickler, UnsafePickleError

__all__ = [
    "Unpickler",
    "TrustingUnpickler",
    "UnsafePickleError",
    "load",
    "loads",
    "load_sinabs_model",
    "map_sinabs_global",
]

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


class TrustingUnpickler(pickle.Unpickler):
    """The unrestricted unpickler: ``sinabs.*`` globals mapped to spikekit's objects, every other name resolved as
    :mod:`pickle` does, so the file can run any code.

    Used only by ``load_sinabs_model(..., weights_only=False)``. Only for files you trust.
    """

    def find_class(self, module: str, name: str) -> Any:
        if module == "sinabs" or module.startswith("sinabs."):
            return map_sinabs_global(module, name)
        return super().find_class(module, name)


#: The unpickler of this pickle module: sinabs paths mapped to spikekit, then the safe-loading allow-list applied.
Unpickler = SafeUnpickler


def load(file: IO[bytes], **kwargs: Any) -> Any:
    """``pickle.load`` with sinabs paths mapped to spikekit and the safe-loading allow-list applied."""
    return Unpickler(file, **kwargs).load()


def loads(data: bytes, **kwargs: Any) -> Any:
    """``pickle.loads`` with sinabs paths mapped to spikekit and the safe-loading allow-list applied."""
    return load(io.BytesIO(data), **kwargs)


_LEGACY_TORCH_MAGIC = 0x1950A86A20F9469CFC6C

# torch.load reads these from a pickle module
Pickler = pickle.Pickler
dump = pickle.dump
dumps = pickle.dumps
HIGHEST_PROTOCOL = pickle.HIGHEST_PROTOCOL
UnpicklingError = pickle.UnpicklingError


def _pickle_module(weights_only: bool) -> Any:
    """A pickle module for :func:`torch.load`: this one (allow-list) or its trusting twin."""
    if weights_only:
        return sys.modules[__name__]
    return types.SimpleNamespace(
        Unpickler=TrustingUnpickler,
        load=lambda f, **kw: TrustingUnpickler(f, **kw).load(),
        Pickler=Pickler,
        dump=dump,
        dumps=dumps,
        HIGHEST_PROTOCOL=HIGHEST_PROTOCOL,
        UnpicklingError=UnpicklingError,
        __name__=f"{__name__} (trusting)",
    )


def _read(path_or_file: str | os.PathLike[str] | IO[bytes]) -> tuple[bytes, str]:
    if isinstance(path_or_file, (str, os.PathLike)):
        with open(path_or_file, "rb") as f:
            return f.read(), os.fspath(path_or_file)
    return path_or_file.read(), getattr(path_or_file, "name", None) or type(path_or_file).__name__


_CORRUPT = (
    EOFError,
    ValueError,
    RuntimeError,
    IndexError,
    KeyError,
    TypeError,
    AttributeError,
    OverflowError,
    zipfile.BadZipFile,
    struct.error,
)


def load_sinabs_model(
    path_or_file: str | os.PathLike[str] | IO[bytes],
    map_location: Any = None,
    *,
    weights_only: bool = True,
    **torch_load_kwargs: Any,
) -> Any:
    """Load a whole model saved by sinabs (or spikekit) with ``torch.save(model, ...)`` or ``pickle.dump``.

    Every ``sinabs.*`` class and function in the file becomes spikekit's object of the same name.

    Args:
        path_or_file: a path or a binary file object.
        map_location: as for :func:`torch.load`.
        weights_only: ``True`` (the default, like :func:`torch.load`'s): safe loading. Only what a sinabs or
            spikekit model needs is rebuilt (dense tensors, the torch and spikekit layers, activations, surrogates
            and hooks of :mod:`spikekit_convert.safe_table`, plain containers of bounded size); the file is read
            by spikekit (:mod:`spikekit_convert.safe_archive`), never by :func:`torch.load`, and anything else in
            it is refused with :class:`~spikekit_convert.safe_unpickler.UnsafePickleError` naming the global or
            opcode, before it runs. ``False``: unrestricted unpickling, which runs any code the file contains.
            Only for files you trust.
        **torch_load_kwargs: passed to :func:`torch.load`; with ``weights_only=False`` only (a ``TypeError``
            otherwise).

    Raises:
        UnsafePickleError: safe loading refused a global, an opcode or a size, or the file asks for more memory
            than the process has.
        pickle.UnpicklingError: the file is truncated, corrupt or not a pickle (the message names the file).

    Example:
        >>> model = load_sinabs_model("sinabs_model.pth")  # saved by sinabs; IAFSqueeze etc. become spikekit's
        >>> out = model(x)
    """
    if weights_only:
        _no_torch_kwargs(torch_load_kwargs)
        check_map_location(map_location)
    data, where = _read(path_or_file)
    try:
        if weights_only:
            return safe_load(data, map_location)
        return _trusting_load(data, map_location, torch_load_kwargs)
    except UnsafePickleError as exc:
        raise UnsafePickleError(f"load_sinabs_model({where!r}): {exc}") from None
    except MemoryError:
        raise UnsafePickleError(
            f"load_sinabs_model({where!r}): the file asks for more memory than this process has ({len(data)} bytes "
            "read); refused"
        ) from None
    except pickle.UnpicklingError as exc:
        raise pickle.UnpicklingError(f"load_sinabs_model({where!r}): {exc}") from exc
    except _CORRUPT as exc:
        raise pickle.UnpicklingError(
            f"load_sinabs_model({where!r}): the file is truncated, corrupt or not a model saved with torch.save / "
            f"pickle ({type(exc).__name__}: {exc})"
        ) from exc


def _no_torch_kwargs(kwargs: dict[str, Any]) -> None:
    kwargs.pop("pickle_module", None)
    if kwargs:
        raise TypeError(
            f"load_sinabs_model: safe loading reads the file itself and takes no torch.load arguments (got "
            f"{sorted(kwargs)}); they apply with weights_only=False only"
        )


def _trusting_load(data: bytes, map_location: Any, torch_load_kwargs: dict[str, Any]) -> Any:
    """weights_only=False: torch.load / pickle with every global resolved (sinabs paths mapped to spikekit)."""
    module = _pickle_module(False)
    torch_load_kwargs.pop("pickle_module", None)

    def with_torch() -> Any:
        return torch.load(
            io.BytesIO(data), map_location=map_location, pickle_module=module, weights_only=False, **torch_load_kwargs
        )

    if data[:2] == b"PK":  # torch.save's zip archive
        return with_torch()
    obj = module.load(io.BytesIO(data))
    if isinstance(obj, int) and obj == _LEGACY_TORCH_MAGIC:  # torch.save(..., _use_new_zipfile_serialization=False)
        return with_torch()
    return obj  # a plain pickle
