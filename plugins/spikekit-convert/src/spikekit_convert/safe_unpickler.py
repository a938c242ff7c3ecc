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
  such a class, with a plain ``str``-keyed dictionary that hides none of the class's methods (``forward``);
* ``APPEND(S)`` / ``SETITEM(S)`` / ``ADDITEMS``: only on plain lists, dicts and sets, whose sizes are bounded, with
  keys CPython hashes without recursing into what the file built (a key of tuples nested 300,000 deep overflows the C
  stack);
* what the calls and ``BUILD`` copy is counted against a few items or bytes per byte of the file (through the memo a
  file can hand one big string or list to a copying call any number of times);
* everything else (``INST``, ``OBJ``, ``NEWOBJ_EX``, extension codes, ``FROZENSET``, ``BYTEARRAY8``, out-of-band
  buffers, the text opcodes of protocol 0, ...) is refused.

Every refusal is an :class:`UnsafePickleError` naming the global or the opcode.

Why not torch's own ``weights_only`` unpickler with ``torch.serialization.add_safe_globals``? It is also a
pure-Python unpickler and can map a ``sinabs.*`` name to a spikekit class, but its allow-list is state of the whole
process, shared with every other ``torch.load`` of any library or thread, and its own table allows what a model file
never needs and this loader refuses: sparse, nested, quantized and wrapper-subclass tensor rebuilders (with torch
2.13 it loads a sparse COO tensor whose index lies outside its size), ``bytearray(n)`` for any ``n``, ``BUILD``
through the ``__setstate__`` of an allowed class. Owning the opcode table keeps every decision in a few short files
(:mod:`~spikekit_convert.safe_table`, :mod:`~spikekit_convert.safe_globals`, :mod:`~spikekit_convert.safe_calls`,
this one).
"""

from __future__ import annotations

import collections
import inspect
import pickle
import pickletools
import types
from collections.abc import Callable
from typing import Any

import torch
import torch.utils.hooks
from torch import nn

from spikekit_convert import safe_globals
from spikekit_convert.safe_calls import CHECKED, charge, check, check_keys, is_int
from spikekit_convert.safe_globals import Limits, UnsafePickleError, is_allowed
from spikekit_convert.safe_table import CALL, NEW, TABLE

__all__ = [
    "Limits",
    "SafeUnpickler",
    "UnsafePickleError",
    "copy_allowance",
    "is_allowed",
    "restricted_load_from_bytes",
]


def copy_allowance(size: int, limits: Limits) -> int:
    """What a file of ``size`` bytes may make one load copy (items or bytes), nested storages included."""
    return limits.copies_base + limits.copies_per_byte * size


_OPNAMES = {op.code.encode("latin-1")[0]: op.name for op in pickletools.opcodes}
#: the pure-Python unpickler of the standard library (``pickle.Unpickler`` is its C twin, whose opcodes are fixed)
_PyUnpickler: Any = pickle._Unpickler
_BASE = _PyUnpickler.dispatch


def _opcode(name: str) -> int:
    return next(code for code, n in _OPNAMES.items() if n == name)


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


class _CallToken:
    """What a file gets for a function it may call: ``REDUCE`` on it runs the checked call, and nothing else can.

    Were the function itself pushed, a file could store, say, ``torch.storage._load_from_bytes`` (an unrestricted
    ``torch.load``) as a layer's attribute for spikekit to call later; a token is not callable.
    """

    __slots__ = ("pair",)

    def __init__(self, pair: tuple[str, str]) -> None:
        self.pair = pair

    def __repr__(self) -> str:
        return f"<safe loading's token for {self.pair[0]}.{self.pair[1]}>"


_TOKENS: dict[tuple[str, str], _CallToken] = {}


def _token(entry: tuple[str, str, str]) -> _CallToken:
    pair = (entry[0], entry[1])
    return _TOKENS.setdefault(pair, _CallToken(pair))


# ------------------------------------------------------------------------------------------ the unpickler
def _shadows_a_method(cls: type, key: str, value: Any) -> bool:
    """An instance attribute hiding a method of the class (``forward``, ``_call_impl``, ...), or the slot
    ``nn.Module`` calls instead of them when set (``_compiled_call_impl``)."""
    if key == "_compiled_call_impl":
        return value is not None
    return isinstance(inspect.getattr_static(cls, key, None), (types.FunctionType, staticmethod, classmethod))


def _plain_state(inst: Any, state: Any) -> None:
    """BUILD: only ``str``-keyed dicts on instances of the table's classes; their own ``__setstate__`` only when
    torch defines it (``nn.Module`` and a few layers)."""
    cls = type(inst)
    if cls is torch.utils.hooks.RemovableHandle:
        ok = type(state) is tuple and len(state) in (2, 3) and is_int(state[1])
        ok = ok and (state[0] is None or type(state[0]) in (dict, collections.OrderedDict))
        check(ok and (len(state) == 2 or state[2] is None or type(state[2]) is tuple), "a RemovableHandle state")
        if len(state) == 3 and state[2] is not None:
            check(all(type(d) in (dict, collections.OrderedDict) for d in state[2]), "a RemovableHandle state")
        inst.__setstate__(state)
        return
    check(type(state) is dict, f"BUILD of {cls.__qualname__} with a {type(state).__name__} state (a dict expected)")
    bad = next((k for k in state if type(k) is not str or k.startswith("__")), None)
    check(bad is None, f"BUILD of {cls.__qualname__} setting the attribute {bad!r:.60}")
    shadow = next((k for k in state if _shadows_a_method(cls, k, state[k])), None)
    check(
        shadow is None,
        lambda: (
            f"BUILD of {cls.__qualname__} setting {shadow!r:.60} over its method (a call of the layer would run "
            "what the file put there)"
        ),
    )
    setstate: Any = getattr(cls, "__setstate__", None)
    if isinstance(inst, nn.Module):
        # torch.compile wraps nn.Module.__setstate__ once per process (torch._dynamo.mutation_guard); still torch's own
        where = getattr(setstate, "__module__", None) or ""
        ok = where.startswith("torch.nn.") or where == "torch._dynamo.mutation_guard"
        check(ok, f"{cls.__qualname__}.__setstate__")
        setstate(inst, state)
    else:
        check(setstate is None or setstate is object.__dict__.get("__setstate__"), f"{cls.__qualname__}.__setstate__")
        inst.__dict__.update(state)


def _state_dict_metadata(u: SafeUnpickler, inst: collections.OrderedDict[Any, Any], state: Any) -> None:
    """BUILD on an OrderedDict: only the ``_metadata`` of ``nn.Module.state_dict()``, ``{prefix: {key: plain}}``."""
    ok = type(state) is dict and set(state) <= {"_metadata"}
    meta: Any = state.get("_metadata") if ok else None
    ok = ok and type(meta) in (dict, collections.OrderedDict)
    charge(u, len(meta) if ok else 0, "BUILD of an OrderedDict")
    charge(u, sum(len(v) for v in meta.values() if type(v) is dict) if ok else 0, "BUILD of an OrderedDict")
    plain = (str, int, float, bool, type(None))
    ok = ok and all(
        type(k) is str and type(v) is dict and all(type(a) is str and type(b) in plain for a, b in v.items())
        for k, v in meta.items()
    )
    check(ok, lambda: f"BUILD of an OrderedDict with the state {state!r:.80} (only a state_dict's _metadata)")
    inst._metadata = meta  # type: ignore[attr-defined]


class SafeUnpickler(_PyUnpickler):
    """A pure-Python unpickler that only does what a sinabs / spikekit model file needs (see the module docs).

    Raises:
        UnsafePickleError: for anything else, before anything of it is imported, called or changed.
    """

    limits = Limits()
    nesting = 0
    map_location: Any = None
    #: what the load may still copy, shared by the pickles of one file (see :func:`copy_allowance`)
    allowance: list[int] | None = None

    def __init__(self, file: Any, **kwargs: Any) -> None:
        super().__init__(file, **kwargs)
        self._source = file

    def find_class(self, module: str, name: str) -> Any:
        obj, kind = safe_globals.resolve(module, name)
        if kind == CALL:  # the file gets a token for the call, never the function itself (see _CallToken)
            obj = _token(TABLE[module, name])
        self._kinds[id(obj)] = (obj, kind, (module, name))
        return obj

    def persistent_load(self, pid: Any) -> Any:
        raise UnsafePickleError(f"safe loading refuses the opcode BINPERSID here (persistent id {pid!r:.60})")

    def load(self) -> Any:
        self._kinds: dict[int, tuple[Any, str, tuple[str, str]]] = {}
        if self.allowance is None:  # used as a pickle module: the allowance follows the stream's size
            self.allowance = [copy_allowance(_stream_size(self._source), self.limits)]
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
        check(entry is not None and entry[0] == CALL, f"REDUCE (a call) of {_describe(func, entry)}")
        assert entry is not None
        check(type(args) is tuple, f"REDUCE of {entry[1][0]}.{entry[1][1]} with {type(args).__name__} arguments")
        target = TABLE[entry[1]]
        self.stack[-1] = CHECKED[target[0], target[1]](self, args)

    def _newobj(self) -> None:
        args = self.stack.pop()
        cls = self.stack.pop()
        entry = self._entry(cls)
        check(entry is not None and entry[0] == NEW and isinstance(cls, type), f"NEWOBJ of {_describe(cls, entry)}")
        check(args == (), f"NEWOBJ of {cls.__qualname__} with arguments {args!r:.60}")
        self.append(cls.__new__(cls))

    def _build(self) -> None:
        state = self.stack.pop()
        inst = self.stack[-1]
        check(not isinstance(inst, type), f"BUILD on the class {_describe(inst, self._entry(inst))} (never on classes)")
        if type(inst) is collections.OrderedDict:  # a state_dict(): its ``_metadata`` (versions per prefix)
            _state_dict_metadata(self, inst, state)
            return
        entry = self._entry(type(inst))
        check(entry is not None and entry[0] == NEW, f"BUILD on an instance of {type(inst).__qualname__}")
        charge(self, len(state) if hasattr(state, "__len__") else 1, f"BUILD of {type(inst).__qualname__}")
        _plain_state(inst, state)

    def _bounded(self, n: int, what: str) -> None:
        if n > self.limits.max_items:
            raise UnsafePickleError(f"safe loading refuses a {what} of {n} items (limit {self.limits.max_items})")

    def _appends(self) -> None:
        items = self.pop_mark()
        target = self.stack[-1]
        check(type(target) is list, f"APPENDS to a {type(target).__name__}")
        self._bounded(len(target) + len(items), "list")
        target.extend(items)

    def _append(self) -> None:
        value = self.stack.pop()
        target = self.stack[-1]
        check(type(target) is list, f"APPEND to a {type(target).__name__}")
        self._bounded(len(target) + 1, "list")
        target.append(value)

    def _setitems(self) -> None:
        items = self.pop_mark()
        target = self.stack[-1]
        check(type(target) in (dict, collections.OrderedDict), f"SETITEMS on a {type(target).__name__}")
        self._bounded(len(target) + len(items) // 2, "dict")
        check_keys(self, items[0::2], "dict")
        for i in range(0, len(items) - 1, 2):
            target[items[i]] = items[i + 1]

    def _setitem(self) -> None:
        value = self.stack.pop()
        key = self.stack.pop()
        target = self.stack[-1]
        check(type(target) in (dict, collections.OrderedDict), f"SETITEM on a {type(target).__name__}")
        self._bounded(len(target) + 1, "dict")
        check_keys(self, (key,), "dict")
        target[key] = value

    def _additems(self) -> None:
        items = self.pop_mark()
        target = self.stack[-1]
        check(type(target) is set, f"ADDITEMS on a {type(target).__name__}")
        self._bounded(len(target) + len(items), "set")
        check_keys(self, items, "set")
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


def _stream_size(file: Any) -> int:
    try:
        here = file.tell()
        size = file.seek(0, 2)
        file.seek(here)
        return int(size)
    except (AttributeError, OSError, ValueError):
        return 1 << 30  # a stream of unknown size (a pipe): a generous, fixed allowance


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
