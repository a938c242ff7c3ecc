"""The functions a model file may call (``REDUCE``), each behind a check of its arguments: dense tensors whose view
lies inside their storage, bounded sets and sizes, the bytes helpers of protocol 2, nested storages.

Each check takes the unpickler (for its limits) and the argument tuple, and raises
:class:`~spikekit_convert.safe_globals.UnsafePickleError` naming the function and what it refused.
"""

from __future__ import annotations

import _codecs
import collections
import re
from collections.abc import Callable
from typing import Any

import torch

from spikekit_convert.safe_globals import UnsafePickleError, is_allowed
from spikekit_convert.safe_table import IDENTITY_HASHED

__all__ = ["CHECKED", "charge", "check", "check_keys", "is_int"]


def check(ok: bool, what: str | Callable[[], str]) -> None:
    """Refuse ``what`` unless ``ok`` (a callable ``what`` is only called to refuse: its text may be costly)."""
    if not ok:
        raise UnsafePickleError(f"safe loading refuses {what if isinstance(what, str) else what()}")


def charge(u: Any, n: int, what: str) -> None:
    """Count ``n`` items or bytes the load copies against what the file may make it copy (see ``Limits``)."""
    u.allowance[0] -= n
    if u.allowance[0] < 0:
        raise UnsafePickleError(
            f"safe loading refuses {what}: the file makes the loader copy more than "
            f"{u.limits.copies_per_byte} items or bytes per byte of the file (it hands one object to copying calls "
            "again and again)"
        )


def is_int(x: Any, low: int = 0, high: int = 1 << 62) -> bool:
    return type(x) is int and low <= x <= high


#: key types hashed by CPython without recursing into anything a file builds
_FLAT_KEYS = (str, int, float, bool, bytes, type(None), torch.dtype, torch.device)
#: deepest tuple a dict or set key may be (CPython hashes a tuple's items with no recursion guard: a key nested a
#: few hundred thousand tuples deep, a 200 KB pickle, overflows the C stack and kills the process)
MAX_KEY_NESTING = 8


def _flat_key(u: Any, key: Any, depth: int) -> bool:
    if type(key) in _FLAT_KEYS or isinstance(key, type):
        return True
    if type(key) is tuple:  # hashing it reads every item: counted, as one tuple can be a key again and again
        charge(u, len(key), "a tuple as a key")
        return depth < MAX_KEY_NESTING and all(_flat_key(u, k, depth + 1) for k in key)
    # identity-hashed objects (layers, tensors, tokens, graph nodes): hashing them reads nothing the file chose
    hashing: Any = type(key).__hash__
    return hashing in (object.__hash__, torch.Tensor.__hash__) or type(key) in _identity_hashed()


def _identity_hashed() -> tuple[type, ...]:
    return tuple(t for t in (is_allowed(*pair) for pair in IDENTITY_HASHED) if isinstance(t, type))


def check_keys(u: Any, keys: Any, what: str) -> None:
    """Refuse dict / set keys whose hash would recurse into what the file built (tuples nested too deep,
    dataclass instances hashing their fields); count the items of tuple keys against what the file may copy."""
    for key in keys:
        if not _flat_key(u, key, 0):
            kind = "a tuple nested too deep" if type(key) is tuple else f"a {type(key).__name__}"
            raise UnsafePickleError(
                f"safe loading refuses {kind} as a key of a {what} (only plain values, layers, tensors and tuples "
                f"{MAX_KEY_NESTING} deep are hashed)"
            )


def _empty_hooks(hooks: Any) -> bool:
    return type(hooks) in (dict, collections.OrderedDict) and not hooks


def _rebuild_tensor_v2(u: Any, args: tuple[Any, ...]) -> Any:
    check(len(args) in (6, 7), f"torch._utils._rebuild_tensor_v2 with {len(args)} arguments")
    storage, offset, size, stride, requires_grad, hooks = args[:6]
    metadata = args[6] if len(args) == 7 else None
    what = "torch._utils._rebuild_tensor_v2"
    check(isinstance(storage, torch.storage.TypedStorage), f"{what} on a {type(storage).__name__}, not a storage")
    dims_ok = type(size) in (tuple, torch.Size) and type(stride) in (tuple, torch.Size) and len(size) == len(stride)
    check(dims_ok and len(size) <= 64, lambda: f"{what} with size {size!r:.80} and stride {stride!r:.80}")
    check(all(is_int(n) for n in size) and all(is_int(s) for s in stride), f"{what}: size {size} stride {stride}")
    check(is_int(offset) and type(requires_grad) is bool, lambda: f"{what}: offset {offset!r:.40}")
    check(_empty_hooks(hooks) and (metadata is None or metadata == {}), f"{what} with hooks or metadata")
    numel = 1
    for n in size:
        numel *= n
    check(
        numel <= u.limits.max_tensor_elements,
        f"{what}: a tensor of {numel} elements (limit {u.limits.max_tensor_elements})",
    )
    extent = offset + (sum((n - 1) * s for n, s in zip(size, stride)) + 1 if numel else 0)
    held = storage.size()
    check(extent <= held, f"{what}: a tensor reaching element {extent} of a storage of {held} elements (out of range)")
    check(  # a view repeating its storage (stride 0, overlapping strides) costs its full size once computed with
        numel <= max(held, u.limits.max_expanded_elements),
        f"{what}: a view of {numel} elements over a storage of {held} (more than "
        f"{u.limits.max_expanded_elements} elements repeated from a smaller storage)",
    )
    return torch._utils._rebuild_tensor_v2(storage, offset, tuple(size), tuple(stride), requires_grad, hooks)


def _rebuild_parameter(u: Any, args: tuple[Any, ...]) -> Any:
    check(len(args) == 3, f"torch._utils._rebuild_parameter with {len(args)} arguments")
    data, requires_grad, hooks = args
    check(type(data) is torch.Tensor and data.layout == torch.strided, "a parameter that is not a dense tensor")
    check(type(requires_grad) is bool and _empty_hooks(hooks), "a parameter with backward hooks")
    return torch._utils._rebuild_parameter(data, requires_grad, collections.OrderedDict())


def _ordered_dict(u: Any, args: tuple[Any, ...]) -> Any:
    check(args == () or (len(args) == 1 and type(args[0]) is list), "collections.OrderedDict with arguments")
    pairs = args[0] if args else []
    charge(u, len(pairs), "collections.OrderedDict")
    check(all(type(p) in (tuple, list) and len(p) == 2 for p in pairs), "collections.OrderedDict of non-pairs")
    check_keys(u, (p[0] for p in pairs), "OrderedDict")
    return collections.OrderedDict(pairs)


def _set(u: Any, args: tuple[Any, ...]) -> Any:
    check(args == () or (len(args) == 1 and type(args[0]) is list), "builtins.set of anything but a list")
    charge(u, len(args[0]) if args else 0, "builtins.set")
    check_keys(u, args[0] if args else (), "set")
    return set(args[0] if args else ())  # the list is already bounded by max_items


def _encode(u: Any, args: tuple[Any, ...]) -> Any:
    check(len(args) == 2 and type(args[0]) is str and args[1] == "latin1", "_codecs.encode but for latin1 text")
    charge(u, len(args[0]), "_codecs.encode")
    return _codecs.encode(args[0], "latin1")


def _bytes(u: Any, args: tuple[Any, ...]) -> Any:
    check(args == (), "builtins.bytes with arguments (a protocol 2 file calls it only for empty bytes)")
    return b""


def _size(u: Any, args: tuple[Any, ...]) -> Any:
    ok = len(args) == 1 and type(args[0]) is tuple and len(args[0]) <= 64 and all(is_int(n) for n in args[0])
    check(ok, lambda: f"torch.Size{args!r:.80}")
    return torch.Size(args[0])


_DEVICE = re.compile(r"[a-z]{2,16}(:\d{1,4})?")


def _device(u: Any, args: tuple[Any, ...]) -> Any:
    ok = len(args) in (1, 2) and type(args[0]) is str and _DEVICE.fullmatch(args[0]) is not None
    check(ok and (len(args) == 1 or is_int(args[1], 0, 1 << 16)), lambda: f"torch.device{args!r:.80}")
    return torch.device(*args)


def _load_from_bytes(u: Any, args: tuple[Any, ...]) -> Any:
    from spikekit_convert.safe_archive import load_nested_storage

    check(len(args) == 1 and type(args[0]) is bytes, "torch.storage._load_from_bytes of anything but bytes")
    charge(u, len(args[0]), "torch.storage._load_from_bytes")
    return load_nested_storage(args[0], u)


#: (module, qualname) of a callable of the table -> the check that calls it
CHECKED: dict[tuple[str, str], Callable[[Any, tuple[Any, ...]], Any]] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("collections", "OrderedDict"): _ordered_dict,
    ("builtins", "set"): _set,
    ("_codecs", "encode"): _encode,
    ("builtins", "bytes"): _bytes,
    ("torch", "Size"): _size,
    ("torch", "device"): _device,
    ("torch.storage", "_load_from_bytes"): _load_from_bytes,
}
