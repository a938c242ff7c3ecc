"""Restricted unpickling: what ``load_sinabs_model(..., weights_only=True)`` (the default) runs on a file.

A pickle is a small program: its opcodes name globals, call them with arguments from the file, create instances
and set their state. :class:`SafeUnpickler` is a subclass of the pure-Python ``pickle._Unpickler`` whose opcode
table holds only what a model file needs, each opcode reimplemented where the standard one would call into
arbitrary objects:

* ``GLOBAL`` / ``STACK_GLOBAL``: only the exact pairs of :data:`spikekit_convert.safe_table.TABLE`; the object is
  taken from a module spikekit itself already imported (the file never triggers an import), without following
  dots, and its ``__module__`` / ``__qualname__`` must be the pair's;
* ``REDUCE``: only the table's callables, each with its own argument check (dense tensors only, with their extent
  inside their storage; sets, sizes and bytes bounded);
* ``NEWOBJ``: only the table's classes, without arguments; ``BUILD``: only on an instance (never a class) of
  such a class, with a plain ``str``-keyed dictionary;
* ``APPEND(S)`` / ``SETITEM(S)`` / ``ADDITEMS``: only on plain lists, dicts and sets, whose sizes are bounded;
* everything else (``INST``, ``OBJ``, ``NEWOBJ_EX``, extension codes, ``FROZENSET``, ``BYTEARRAY8``, out-of-band
  buffers, the text opcodes of protocol 0, ...) is refused.

Every refusal is an :class:`UnsafePickleError` naming the global or the opcode.

Why not torch's own ``weights_only`` unpickler with ``torch.serialization.add_safe_globals``? It is also a
pure-Python unpickler and can map a ``sinabs.*`` name to a spikekit class, but its allow-list is state of the whole
process, shared with every other ``torch.load`` of any library or thread, and its own table allows what a model file
never needs and this loader refuses: sparse, nested, quantized and wrapper-subclass tensor rebuilders (with torch
2.13 it loads a sparse COO tensor whose index lies outside its size), ``bytearray(n)`` for any ``n``, ``BUILD``
through the ``__setstate__`` of an allowed class. Owning the opcode table keeps every decision in one short file.
"""

from __future__ import annotations

import _codecs
import collections
import dataclasses
import importlib
import pickle
import pickletools
import re
import sys
import threading
from collections.abc import Callable
from typing import Any

import torch
import torch.utils.hooks
from torch import nn

from spikekit_convert.safe_table import CALL, NEW, REF, SPIKEKIT_NAMESPACES, STORAGE_TYPES, TABLE

__all__ = ["Limits", "SafeUnpickler", "UnsafePickleError", "is_allowed", "restricted_load_from_bytes"]


class UnsafePickleError(pickle.UnpicklingError):
    """Safe loading refused something in a file (a global, an opcode, a size); the message names it."""


@dataclasses.dataclass(frozen=True)
class Limits:
    """Bounds safe loading puts on what a file can make the process allocate."""

    #: most items in one list, tuple, dict or set
    max_items: int = 1 << 24
    #: most elements of one tensor (a stride-0 view can claim more elements than its storage holds)
    max_tensor_elements: int = 1 << 31
    #: most members of a ``torch.save`` archive
    max_members: int = 1 << 16
    #: most nesting of storages pickled inside pickles (``torch.storage._load_from_bytes``)
    max_nesting: int = 2


_OPNAMES = {op.code.encode("latin-1")[0]: op.name for op in pickletools.opcodes}
#: the pure-Python unpickler of the standard library (``pickle.Unpickler`` is its C twin, whose opcodes are fixed)
_PyUnpickler: Any = pickle._Unpickler
_BASE = _PyUnpickler.dispatch


def _opcode(name: str) -> int:
    return next(code for code, n in _OPNAMES.items() if n == name)


# --------------------------------------------------------------------------------------------- globals
_resolved: dict[tuple[str, str], Any] = {}
_lock = threading.Lock()


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
        if not _resolved:
            _prepare()
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


def restricted_load_from_bytes(data: bytes) -> Any:
    """Deprecated: use :func:`spikekit_convert.safe_archive.safe_load` (what this now calls)."""
    import warnings

    from spikekit_convert.safe_archive import safe_load

    warnings.warn(
        "spikekit_convert.safe_unpickler.restricted_load_from_bytes is deprecated; use "
        "spikekit_convert.safe_archive.safe_load",
        DeprecationWarning,
        stacklevel=2,
    )
    return safe_load(data)


# ------------------------------------------------------------------------------------- checked callables
def _check(ok: bool, what: str) -> None:
    if not ok:
        raise UnsafePickleError(f"safe loading refuses {what}")


def _is_int(x: Any, low: int = 0, high: int = 1 << 62) -> bool:
    return type(x) is int and low <= x <= high


def _empty_hooks(hooks: Any) -> bool:
    return type(hooks) in (dict, collections.OrderedDict) and not hooks


def _rebuild_tensor_v2(u: SafeUnpickler, args: tuple[Any, ...]) -> Any:
    _check(len(args) in (6, 7), f"torch._utils._rebuild_tensor_v2 with {len(args)} arguments")
    storage, offset, size, stride, requires_grad, hooks = args[:6]
    metadata = args[6] if len(args) == 7 else None
    what = "torch._utils._rebuild_tensor_v2"
    _check(isinstance(storage, torch.storage.TypedStorage), f"{what} on a {type(storage).__name__}, not a storage")
    dims_ok = type(size) in (tuple, torch.Size) and type(stride) in (tuple, torch.Size) and len(size) == len(stride)
    _check(dims_ok and len(size) <= 64, f"{what} with size {size!r:.80} and stride {stride!r:.80}")
    _check(all(_is_int(n) for n in size) and all(_is_int(s) for s in stride), f"{what}: size {size} stride {stride}")
    _check(_is_int(offset) and type(requires_grad) is bool, f"{what}: offset {offset!r:.40}")
    _check(_empty_hooks(hooks) and (metadata is None or metadata == {}), f"{what} with hooks or metadata")
    numel = 1
    for n in size:
        numel *= n
    _check(
        numel <= u.limits.max_tensor_elements,
        f"{what}: a tensor of {numel} elements (limit {u.limits.max_tensor_elements})",
    )
    extent = offset + (sum((n - 1) * s for n, s in zip(size, stride)) + 1 if numel else 0)
    held = storage.size()
    _check(extent <= held, f"{what}: a tensor reaching element {extent} of a storage of {held} elements (out of range)")
    return torch._utils._rebuild_tensor_v2(storage, offset, tuple(size), tuple(stride), requires_grad, hooks)


def _rebuild_parameter(u: SafeUnpickler, args: tuple[Any, ...]) -> Any:
    _check(len(args) == 3, f"torch._utils._rebuild_parameter with {len(args)} arguments")
    data, requires_grad, hooks = args
    _check(type(data) is torch.Tensor and data.layout == torch.strided, "a parameter that is not a dense tensor")
    _check(type(requires_grad) is bool and _empty_hooks(hooks), "a parameter with backward hooks")
    return torch._utils._rebuild_parameter(data, requires_grad, collections.OrderedDict())


def _ordered_dict(u: SafeUnpickler, args: tuple[Any, ...]) -> Any:
    _check(args == () or (len(args) == 1 and type(args[0]) is list), "collections.OrderedDict with arguments")
    return collections.OrderedDict(args[0] if args else ())


def _set(u: SafeUnpickler, args: tuple[Any, ...]) -> Any:
    _check(args == () or (len(args) == 1 and type(args[0]) is list), "builtins.set of anything but a list")
    return set(args[0] if args else ())  # the list is already bounded by max_items


def _encode(u: SafeUnpickler, args: tuple[Any, ...]) -> Any:
    _check(len(args) == 2 and type(args[0]) is str and args[1] == "latin1", "_codecs.encode but for latin1 text")
    return _codecs.encode(args[0], "latin1")


def _bytes(u: SafeUnpickler, args: tuple[Any, ...]) -> Any:
    _check(args == (), "builtins.bytes with arguments (a protocol 2 file calls it only for empty bytes)")
    return b""


def _size(u: SafeUnpickler, args: tuple[Any, ...]) -> Any:
    ok = len(args) == 1 and type(args[0]) is tuple and len(args[0]) <= 64 and all(_is_int(n) for n in args[0])
    _check(ok, f"torch.Size{args!r:.80}")
    return torch.Size(args[0])


_DEVICE = re.compile(r"[a-z]{2,16}(:\d{1,4})?")


def _device(u: SafeUnpickler, args: tuple[Any, ...]) -> Any:
    ok = len(args) in (1, 2) and type(args[0]) is str and _DEVICE.fullmatch(args[0]) is not None
    _check(ok and (len(args) == 1 or _is_int(args[1], 0, 1 << 16)), f"torch.device{args!r:.80}")
    return torch.device(*args)


def _load_from_bytes(u: SafeUnpickler, args: tuple[Any, ...]) -> Any:
    from spikekit_convert.safe_archive import load_nested_storage

    _check(len(args) == 1 and type(args[0]) is bytes, "torch.storage._load_from_bytes of anything but bytes")
    return load_nested_storage(args[0], u)


_CHECKED: dict[tuple[str, str], Callable[[SafeUnpickler, tuple[Any, ...]], Any]] = {
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


# ------------------------------------------------------------------------------------------ the unpickler
def _plain_state(inst: Any, state: Any) -> None:
    """BUILD: only ``str``-keyed dicts on instances of the table's classes; their own ``__setstate__`` only when
    torch defines it (``nn.Module`` and a few layers)."""
    cls = type(inst)
    if cls is torch.utils.hooks.RemovableHandle:
        ok = type(state) is tuple and len(state) in (2, 3) and _is_int(state[1])
        ok = ok and (state[0] is None or type(state[0]) in (dict, collections.OrderedDict))
        _check(ok and (len(state) == 2 or state[2] is None or type(state[2]) is tuple), "a RemovableHandle state")
        if len(state) == 3 and state[2] is not None:
            _check(all(type(d) in (dict, collections.OrderedDict) for d in state[2]), "a RemovableHandle state")
        inst.__setstate__(state)
        return
    _check(type(state) is dict, f"BUILD of {cls.__qualname__} with a {type(state).__name__} state (a dict expected)")
    bad = next((k for k in state if type(k) is not str or k.startswith("__")), None)
    _check(bad is None, f"BUILD of {cls.__qualname__} setting the attribute {bad!r:.60}")
    setstate: Any = getattr(cls, "__setstate__", None)
    if isinstance(inst, nn.Module):
        _check(setstate is not None and setstate.__module__.startswith("torch.nn."), f"{cls.__qualname__}.__setstate__")
        setstate(inst, state)
    else:
        _check(setstate is None or setstate is object.__dict__.get("__setstate__"), f"{cls.__qualname__}.__setstate__")
        inst.__dict__.update(state)


class SafeUnpickler(_PyUnpickler):
    """A pure-Python unpickler that only does what a sinabs / spikekit model file needs (see the module docs).

    Raises:
        UnsafePickleError: for anything else, before anything of it is imported, called or changed.
    """

    limits = Limits()
    nesting = 0
    map_location: Any = None

    def find_class(self, module: str, name: str) -> Any:
        obj, kind = resolve(module, name)
        self._kinds[id(obj)] = (obj, kind, (module, name))
        return obj

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"safe loading refuses the opcode BINPERSID here (persistent id {pid!r:.60})")

    def load(self) -> Any:
        self._kinds: dict[int, tuple[Any, str, tuple[str, str]]] = {}
        try:
            return super().load()
        except RecursionError as exc:
            raise UnsafePickleError("safe loading refuses objects nested this deeply") from exc

    # -- opcode handlers (self is the unpickler; each reads what the standard one reads)
    def _entry(self, obj: Any) -> tuple[str, tuple[str, str]] | None:
        found = self._kinds.get(id(obj))
        return (found[1], found[2]) if found is not None and found[0] is obj else None

    def _reduce(self) -> None:
        args = self.stack.pop()
        func = self.stack[-1]
        entry = self._entry(func)
        _check(entry is not None and entry[0] == CALL, f"REDUCE (a call) of {_describe(func, entry)}")
        assert entry is not None
        _check(type(args) is tuple, f"REDUCE of {entry[1][0]}.{entry[1][1]} with {type(args).__name__} arguments")
        target = TABLE[entry[1]]
        self.stack[-1] = _CHECKED[target[0], target[1]](self, args)

    def _newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        entry = self._entry(cls)
        _check(entry is not None and entry[0] == NEW and isinstance(cls, type), f"NEWOBJ of {_describe(cls, entry)}")
        _check(args == (), f"NEWOBJ of {cls.__qualname__} with arguments {args!r:.60}")
        self.append(cls.__new__(cls))

    def _build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        _check(
            not isinstance(inst, type), f"BUILD on the class {_describe(inst, self._entry(inst))} (never on classes)"
        )
        entry = self._entry(type(inst))
        _check(entry is not None and entry[0] == NEW, f"BUILD on an instance of {type(inst).__qualname__}")
        _plain_state(inst, state)

    def _bounded(self, n: int, what: str) -> None:
        if n > self.limits.max_items:
            raise UnsafePickleError(f"safe loading refuses a {what} of {n} items (limit {self.limits.max_items})")

    def _appends(self) -> None:
        items = self.pop_mark()
        target = self.stack[-1]
        _check(type(target) is list, f"APPENDS to a {type(target).__name__}")
        self._bounded(len(target) + len(items), "list")
        target.extend(items)

    def _append(self) -> None:
        value = self.stack.pop()
        target = self.stack[-1]
        _check(type(target) is list, f"APPEND to a {type(target).__name__}")
        self._bounded(len(target) + 1, "list")
        target.append(value)

    def _setitems(self) -> None:
        items = self.pop_mark()
        target = self.stack[-1]
        _check(type(target) in (dict, collections.OrderedDict), f"SETITEMS on a {type(target).__name__}")
        self._bounded(len(target) + len(items) // 2, "dict")
        for i in range(0, len(items) - 1, 2):
            target[items[i]] = items[i + 1]

    def _setitem(self) -> None:
        value = self.stack.pop()
        key = self.stack.pop()
        target = self.stack[-1]
        _check(type(target) in (dict, collections.OrderedDict), f"SETITEM on a {type(target).__name__}")
        self._bounded(len(target) + 1, "dict")
        target[key] = value

    def _additems(self) -> None:
        items = self.pop_mark()
        target = self.stack[-1]
        _check(type(target) is set, f"ADDITEMS on a {type(target).__name__}")
        self._bounded(len(target) + len(items), "set")
        target.update(items)


def _marked(name: str) -> Callable[[SafeUnpickler], None]:
    """TUPLE / LIST / DICT: the standard handler after bounding the items since the mark."""
    base = _BASE[_opcode(name)]

    def handler(u: SafeUnpickler) -> None:
        u._bounded(len(u.stack), name.lower())
        base(u)

    return handler


def _describe(obj: Any, entry: tuple[str, tuple[str, str]] | None) -> str:
    if entry is not None:
        return f"{entry[1][0]}.{entry[1][1]}"
    return f"a {type(obj).__name__} object" if not isinstance(obj, type) else f"the class {obj.__qualname__}"


_PLAIN = (
    "PROTO FRAME STOP MARK POP POP_MARK NONE NEWTRUE NEWFALSE BININT BININT1 BININT2 LONG1 BINFLOAT BINUNICODE "
    "SHORT_BINUNICODE BINUNICODE8 BINBYTES SHORT_BINBYTES BINBYTES8 EMPTY_TUPLE TUPLE1 TUPLE2 TUPLE3 EMPTY_LIST "
    "EMPTY_DICT EMPTY_SET GLOBAL STACK_GLOBAL BINPERSID BINGET LONG_BINGET BINPUT LONG_BINPUT MEMOIZE"
).split()
_OWN = {
    "REDUCE": SafeUnpickler._reduce,
    "NEWOBJ": SafeUnpickler._newobj,
    "BUILD": SafeUnpickler._build,
    "APPENDS": SafeUnpickler._appends,
    "APPEND": SafeUnpickler._append,
    "SETITEMS": SafeUnpickler._setitems,
    "SETITEM": SafeUnpickler._setitem,
    "ADDITEMS": SafeUnpickler._additems,
}


class _Dispatch(dict[int, Callable[["SafeUnpickler"], None]]):
    def __missing__(self, code: int) -> Callable[[SafeUnpickler], None]:
        name = _OPNAMES.get(code, f"0x{code:02x} (not an opcode)")

        def refuse(u: SafeUnpickler) -> None:
            raise UnsafePickleError(f"safe loading refuses the opcode {name}: a model file never needs it")

        return refuse


def _dispatch() -> dict[int, Callable[[SafeUnpickler], None]]:
    table = _Dispatch({_opcode(n): _BASE[_opcode(n)] for n in _PLAIN})
    table.update({_opcode(n): f for n, f in _OWN.items()})
    table.update({_opcode(n): _marked(n) for n in ("TUPLE", "LIST", "DICT")})
    return table


SafeUnpickler.dispatch = _dispatch()
_ = REF  # REF objects are only pushed: no handler calls them
