"""Restricted unpickling: the allow-list that ``load_sinabs_model(..., weights_only=True)`` (the default) applies.

A pickle names the callables it needs (``module.name``) and unpickling calls them with arguments from the file, so
an unrestricted unpickler runs whatever code the file asks for. :class:`SafeUnpickler` resolves a name only when it
is on the allow-list below, and refuses anything else with :class:`UnsafePickleError` naming it. Allowed:

* tensors and storages: torch's tensor / parameter rebuild functions, ``torch.Size``, dtypes, devices, layouts,
  memory formats; a storage pickled with :func:`pickle.dumps` is read by torch's own ``weights_only`` loader;
* torch's layer classes (``torch.nn.modules.*`` subclasses of ``nn.Module``);
* spikekit's classes (any package ``spikekit`` / ``spikekit_*``) that are modules, autograd functions (spike
  functions) or dataclasses (resets, surrogates), and the hook functions and classes of ``spikekit.hooks`` and
  ``spikekit.synopcounter``; torch's ``RemovableHandle``; ``sinabs.*`` names
  are first mapped to spikekit's objects of the same name (see :mod:`spikekit_convert.sinabs_pickle`) and then
  checked the same way;
* plain containers and values: ``collections.OrderedDict``, ``set``, ``frozenset``, ``slice``, ``complex``, ``range``,
  ``bytearray``, and numpy arrays, dtypes and scalars.

Nothing else: no ``os``, ``subprocess``, ``builtins.eval`` / ``exec`` / ``getattr`` / ``__import__``, no
``functools.partial``, no ``copyreg`` helpers, no classes of other packages.
"""

from __future__ import annotations

import collections
import dataclasses
import importlib
import io
import pickle
from typing import Any

import torch
import torch.utils.hooks
from torch import nn

__all__ = ["SafeUnpickler", "UnsafePickleError", "is_allowed", "restricted_load_from_bytes"]


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle asks for a callable or class that safe loading does not allow; the message names it."""


def restricted_load_from_bytes(data: bytes) -> Any:
    """What a storage pickled with ``pickle.dumps`` is rebuilt with: torch's own ``weights_only`` loader."""
    return torch.load(io.BytesIO(data), weights_only=True)


_TORCH_REBUILDERS = {
    "_rebuild_tensor",
    "_rebuild_tensor_v2",
    "_rebuild_tensor_v3",
    "_rebuild_parameter",
    "_rebuild_parameter_with_state",
    "_rebuild_device_tensor_from_numpy",
    "_rebuild_device_tensor_from_cpu_tensor",
    "_rebuild_meta_tensor_no_storage",
    "_rebuild_sparse_tensor",
    "_rebuild_nested_tensor",
    "_rebuild_qtensor",
    "_rebuild_wrapper_subclass",
    "_rebuild_from_type_v2",
}

_TORCH_TENSOR_REBUILDERS = {("torch._tensor", "_rebuild_from_type_v2")}

_EXACT: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("builtins", "range"): range,
    ("builtins", "bytearray"): bytearray,
    ("__builtin__", "set"): set,  # protocol 2 (torch.save) spells builtins this way
    ("__builtin__", "frozenset"): frozenset,
    ("__builtin__", "slice"): slice,
    ("__builtin__", "complex"): complex,
    ("torch.utils.hooks", "RemovableHandle"): torch.utils.hooks.RemovableHandle,
    ("torch", "Size"): torch.Size,
    ("torch", "device"): torch.device,
    ("torch.storage", "_load_from_bytes"): restricted_load_from_bytes,
    ("torch.storage", "UntypedStorage"): torch.UntypedStorage,
    ("torch", "UntypedStorage"): torch.UntypedStorage,
}

_NUMPY_CALLABLES = {"_reconstruct", "scalar"}
_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray")


def _spikekit_module(module: str) -> bool:
    top = module.split(".", 1)[0]
    return top == "spikekit" or top.startswith("spikekit_")


# Modules whose classes and functions a model can hold as hooks (synop / firing-rate counting).
_HOOK_MODULES = ("spikekit_convert.hooks", "spikekit_convert.synopcounter")


def _allowed_spikekit_object(obj: Any) -> bool:
    module = getattr(obj, "__module__", "") or ""
    if module in _HOOK_MODULES and callable(obj):
        return True
    if isinstance(obj, type):
        return issubclass(obj, (nn.Module, torch.autograd.Function)) or dataclasses.is_dataclass(obj)
    return False


def _torch_value(module: str, name: str) -> Any:
    """dtypes (``torch.float32``), layouts and memory formats, which pickles name as ``torch.<name>``."""
    if module != "torch":
        return None
    value = getattr(torch, name, None)
    if isinstance(value, (torch.dtype, torch.layout, torch.memory_format)):
        return value
    if isinstance(value, type) and name.endswith("Storage"):  # torch.FloatStorage & co (legacy typed storages)
        return value
    return None


def _numpy_object(module: str, name: str) -> Any:
    if not (module == "numpy" or module.startswith("numpy.")):
        return None
    np = importlib.import_module("numpy")
    if module in _NUMPY_MODULES and name in _NUMPY_CALLABLES:
        return getattr(importlib.import_module(module), name)
    if (module, name) in (("numpy", "ndarray"), ("numpy", "dtype")):
        return getattr(np, name)
    if module == "numpy.dtypes":  # numpy >= 1.25 names dtype classes here
        value = getattr(importlib.import_module(module), name, None)
        return value if isinstance(value, type) and issubclass(value, np.dtype) else None
    return None


def is_allowed(module: str, name: str) -> Any:
    """The object ``module.name`` stands for when safe loading allows it, else None (never imports other code)."""
    if (module, name) in _EXACT:
        return _EXACT[module, name]
    if (module, name) in _TORCH_TENSOR_REBUILDERS or (module == "torch._utils" and name in _TORCH_REBUILDERS):
        return getattr(importlib.import_module(module), name)
    value = _torch_value(module, name) or _numpy_object(module, name)
    if value is not None:
        return value
    if module.startswith("torch.nn.modules.") and "." not in name:
        cls = getattr(importlib.import_module(module), name, None)
        return cls if isinstance(cls, type) and issubclass(cls, nn.Module) else None
    if _spikekit_module(module):
        obj = _resolve(module, name)
        return obj if obj is not None and _allowed_spikekit_object(obj) else None
    return None


def _resolve(module: str, name: str) -> Any:
    try:
        obj: Any = importlib.import_module(module)
        for part in name.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError):
        return None
    return obj


def _sinabs_object(module: str, name: str) -> Any:
    from spikekit_convert.sinabs_pickle import map_sinabs_global

    obj = map_sinabs_global(module, name)
    if not _allowed_spikekit_object(obj):
        raise UnsafePickleError(
            f"safe loading refuses {module}.{name} (spikekit's {_qualname(obj)}): only layer classes, activation "
            "and surrogate classes and hook functions are allowed; pass weights_only=False for a file you trust"
        )
    return obj


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__name__)}"


class SafeUnpickler(pickle.Unpickler):
    """A :class:`pickle.Unpickler` that resolves only allow-listed names (``sinabs.*`` mapped to spikekit).

    Raises:
        UnsafePickleError: for any other name, before anything of it is imported or called.
    """

    def find_class(self, module: str, name: str) -> Any:
        if module == "sinabs" or module.startswith("sinabs."):
            return _sinabs_object(module, name)
        obj = is_allowed(module, name)
        if obj is None:
            raise UnsafePickleError(
                f"safe loading refuses {module}.{name}: it is not a class or function a sinabs or spikekit model "
                "needs, and unpickling it could run code; pass weights_only=False only for a file you trust"
            )
        return obj
