"""The globals a model file may name: UnsafePickleError, the bounds of safe loading, and how a pair of the table
becomes an object (only from a module spikekit itself already imported; no dots followed; the object's own
``__module__`` / ``__qualname__`` must be the pair's).
"""

from __future__ import annotations

import dataclasses
import importlib
import pickle
import sys
import threading
from typing import Any

import torch

from spikekit_convert.safe_table import SPIKEKIT_NAMESPACES, STORAGE_TYPES, TABLE

__all__ = ["Limits", "UnsafePickleError", "is_allowed", "resolve"]


class UnsafePickleError(pickle.UnpicklingError):
    """Safe loading refused something in a file (a global, an opcode, a size); the message names it."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """Bounds safe loading puts on what a file can make the process allocate."""

    #: most items in one list, tuple, dict or set
    max_items: int = 1 << 24
    #: most elements of one tensor (a stride-0 view can claim more elements than its storage holds)
    max_tensor_elements: int = 1 << 31
    #: most elements of a view with more elements than its storage (stride 0, overlapping strides): a 1-element
    #: storage could otherwise stand for a weight that takes 8 GiB the first time the model runs
    max_expanded_elements: int = 1 << 24
    #: most members of a ``torch.save`` archive
    max_members: int = 1 << 16
    #: most nesting of storages pickled inside pickles (``torch.storage._load_from_bytes``)
    max_nesting: int = 2
    #: what the calls and ``BUILD`` of one load may copy (items, bytes), per byte of the file (a file names a big
    #: string or list once and can hand it to a copying call again and again through the memo)
    copies_per_byte: int = 4
    #: ... plus this much for any file
    copies_base: int = 1 << 20


_resolved: dict[tuple[str, str], Any] = {}
_prepared: list[bool] = []  # non-empty once spikekit's namespaces were loaded
_lock = threading.RLock()  # re-entrant: a plugin spikekit loads may itself load a model


def _prepare() -> None:
    """Let spikekit load its own modules (through its public namespaces) before any file is read."""
    names = {qual for mod, qual, _ in TABLE.values() if mod.startswith("spikekit")}
    for namespace in SPIKEKIT_NAMESPACES:
        try:
            ns = importlib.import_module(namespace)
        except ImportError:
            continue
        for name in names:
            try:
                getattr(ns, name, None)
            except Exception:  # a namespace's plugin failing to load leaves its names refused, not the loader
                continue


def _lookup(module: str, qualname: str) -> Any:
    """The object ``module.qualname`` of an already imported module, checked to be what its names say."""
    mod = sys.modules.get(module)
    if mod is None:
        return None
    obj = vars(mod).get(qualname)
    if module == "torch" and (qualname in STORAGE_TYPES or isinstance(obj, torch.dtype)):
        return obj if obj is not None and str(obj) in (f"torch.{qualname}", f"<class 'torch.{qualname}'>") else None
    if getattr(obj, "__module__", None) != module or getattr(obj, "__qualname__", None) != qualname:
        return None
    return obj


def resolve(module: str, name: str) -> tuple[Any, str]:
    """(object, kind) for a global named by a file; :class:`UnsafePickleError` if the table lacks it."""
    entry = TABLE.get((module, name))
    if entry is None:
        raise UnsafePickleError(
            f"safe loading refuses {module}.{name}: this global is not in the table of classes and functions a "
            "sinabs or spikekit model needs, and loading it could run code; pass weights_only=False only for a "
            "file you trust"
        )
    target_module, qualname, kind = entry
    with _lock:
        if not _prepared:
            _prepare()
            _prepared.append(True)
        obj = _resolved.get((target_module, qualname))
        if obj is None:
            obj = _lookup(target_module, qualname)
            if obj is not None:
                _resolved[target_module, qualname] = obj
    if obj is None:
        raise UnsafePickleError(
            f"safe loading refuses {module}.{name}: spikekit has not loaded {target_module}.{qualname} "
            "(is the plugin providing it installed?), and safe loading never imports what a file names"
        )
    return obj, kind


def is_allowed(module: str, name: str) -> Any:
    """The object ``module.name`` stands for when the table allows it, else None (never imports anything)."""
    try:
        return resolve(module, name)[0]
    except UnsafePickleError:
        return None
