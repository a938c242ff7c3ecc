"""The containers of safe loading: ``torch.save`` archives (zip and legacy) read without :func:`torch.load`.

:func:`safe_load` reads the three forms a model file comes in, every pickle in them through
:class:`~spikekit_convert.safe_unpickler.SafeUnpickler`:

* a plain pickle (``pickle.dump(model)``);
* a ``torch.save`` zip archive: at most :attr:`Limits.max_members` members, every one stored (not compressed: a
  deflated member could inflate a few KB to GB), their sizes adding up to no more than the file, no TorchScript
  (``code/``, ``constants.pkl``: :func:`torch.load` would hand those to ``torch.jit.load``), each tensor's data a
  member whose size is exactly what its pickle declares;
* a legacy ``torch.save`` stream (``_use_new_zipfile_serialization=False``, and the bytes ``pickle`` writes for a
  storage): storages declared by the pickle add up to no more than the bytes left in the file before any is
  allocated, and each one's data header must match its declaration.

Storages are placed as :func:`torch.load` places them (``map_location`` as there).
"""

from __future__ import annotations

import io
import pickle
import re
import warnings
import zipfile
from typing import Any

import torch

from spikekit_convert.safe_globals import resolve
from spikekit_convert.safe_table import STORAGE_TYPES
from spikekit_convert.safe_unpickler import Limits, SafeUnpickler, UnsafePickleError, copy_allowance

__all__ = ["LEGACY_MAGIC", "check_map_location", "load_nested_storage", "safe_load"]

#: The first pickle of a legacy ``torch.save`` stream.
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_KEY = re.compile(r"\w{1,64}")
_LOCATION = re.compile(r"[a-z]{2,16}(:\d{1,4})?")


class _Context:
    """What the pickles of one load share: where tensors go, the limits, how deep storages are nested."""

    def __init__(self, map_location: Any, limits: Limits, nesting: int, allowance: list[int]) -> None:
        self.map_location, self.limits, self.nesting = map_location, limits, nesting
        self.allowance = allowance

    def unpickler(self, stream: io.BytesIO) -> SafeUnpickler:
        u = SafeUnpickler(stream)
        u.limits, u.map_location, u.nesting = self.limits, self.map_location, self.nesting
        u.allowance = self.allowance
        return u


def safe_load(
    data: bytes,
    map_location: Any = None,
    limits: Limits | None = None,
    nesting: int = 0,
    allowance: list[int] | None = None,
) -> Any:
    """The object a model file holds, read as the module docstring says (``data``: the whole file; ``allowance``:
    what the outer file may still copy, shared with the storages nested in it)."""
    limits = limits or Limits()
    ctx = _Context(map_location, limits, nesting, allowance or [copy_allowance(len(data), limits)])
    if data[:4] == b"PK\x03\x04":
        return _load_zip(data, ctx)
    stream = io.BytesIO(data)
    first = ctx.unpickler(stream).load()
    if type(first) is int and first == LEGACY_MAGIC:
        return _load_legacy(stream, len(data), ctx)
    return first


def load_nested_storage(data: bytes, outer: SafeUnpickler) -> Any:
    """``torch.storage._load_from_bytes(data)`` of a pickle: a storage saved by ``torch.save``, read safely."""
    if outer.nesting >= outer.limits.max_nesting:
        raise UnsafePickleError(f"safe loading refuses storages nested more than {outer.limits.max_nesting} deep")
    storage = safe_load(data, outer.map_location, outer.limits, outer.nesting + 1, outer.allowance)
    if not isinstance(storage, torch.storage.TypedStorage):
        raise UnsafePickleError(
            f"safe loading refuses torch.storage._load_from_bytes giving a {type(storage).__name__}"
        )
    return storage


# ---------------------------------------------------------------------------------------------- storages
def _dtype_of(storage_type: Any) -> torch.dtype:
    for name in STORAGE_TYPES:
        if storage_type is resolve("torch", name)[0]:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # TypedStorage is deprecated; its dtype is what we want
                dtype: torch.dtype = storage_type.dtype
            return dtype
    raise UnsafePickleError(f"safe loading refuses the storage type {storage_type!r:.60}")


def _checked_pid(pid: Any, length: int) -> tuple[torch.dtype, str, str, int]:
    ok = type(pid) is tuple and len(pid) == length and pid[0] == "storage"
    ok = ok and type(pid[2]) is str and _KEY.fullmatch(pid[2]) is not None
    ok = ok and type(pid[3]) is str and _LOCATION.fullmatch(pid[3]) is not None
    if not (ok and type(pid[4]) is int and 0 <= pid[4] < 1 << 62):
        raise UnsafePickleError(f"safe loading refuses the persistent id {pid!r:.100} (opcode BINPERSID)")
    return _dtype_of(pid[1]), pid[2], pid[3], pid[4]


def _restore(storage: torch.UntypedStorage, location: str, map_location: Any) -> Any:
    target = location
    if isinstance(map_location, (str, torch.device)):
        target = str(map_location)
    elif isinstance(map_location, dict):
        target = map_location.get(location, location)
    elif callable(map_location):
        result = map_location(storage, location)  # the caller's own function
        if result is not None:
            return result
    try:
        return torch.serialization.default_restore_location(storage, target)
    except RuntimeError as exc:
        raise pickle.UnpicklingError(
            f"a tensor saved on {location!r} cannot be placed on {target!r} here ({exc}); pass map_location, e.g. "
            "map_location='cpu'"
        ) from exc


def check_map_location(map_location: Any) -> None:
    """``map_location`` as :func:`torch.load` takes it: None, a str, a device, a dict or a callable."""
    if not (map_location is None or isinstance(map_location, (str, torch.device, dict)) or callable(map_location)):
        raise TypeError(
            f"load_sinabs_model: map_location must be a str, device, dict or callable, got {map_location!r}"
        )


def _typed(untyped: Any, dtype: torch.dtype) -> torch.storage.TypedStorage:
    return torch.storage.TypedStorage(wrap_storage=untyped, dtype=dtype, _internal=True)


def _from_bytes(raw: bytes) -> torch.UntypedStorage:
    if not raw:
        return torch.UntypedStorage(0)
    return torch.UntypedStorage.from_buffer(raw, dtype=torch.uint8)


# ----------------------------------------------------------------------------------------- zip archives
def _members(zf: zipfile.ZipFile, size: int, limits: Limits) -> tuple[str, set[str]]:
    infos = zf.infolist()
    if len(infos) > limits.max_members:
        raise UnsafePickleError(f"safe loading refuses an archive of {len(infos)} members (limit {limits.max_members})")
    names = {info.filename for info in infos}
    pickles = [n for n in names if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(pickles) != 1:
        raise UnsafePickleError(f"safe loading refuses an archive with {len(pickles)} data.pkl (one expected)")
    prefix = pickles[0][: -len("data.pkl")]
    if f"{prefix}constants.pkl" in names or any(n.startswith(f"{prefix}code/") for n in names):
        raise UnsafePickleError("safe loading refuses a TorchScript archive (torch.jit.save): it holds code")
    total = 0
    for info in infos:
        if info.compress_type != zipfile.ZIP_STORED or info.file_size != info.compress_size:
            raise UnsafePickleError(f"safe loading refuses the compressed archive member {info.filename!r:.80}")
        total += info.file_size
    if total > size or len(names) != len(infos):
        raise UnsafePickleError("safe loading refuses an archive whose members overlap or exceed the file")
    if f"{prefix}byteorder" in names and zf.read(f"{prefix}byteorder") != b"little":
        raise UnsafePickleError("safe loading refuses a big-endian archive")
    return prefix, names


def _load_zip(data: bytes, ctx: _Context) -> Any:
    zf = zipfile.ZipFile(io.BytesIO(data))
    prefix, names = _members(zf, len(data), ctx.limits)
    storages: dict[str, torch.storage.TypedStorage] = {}

    def persistent_load(pid: Any) -> Any:
        dtype, key, location, numel = _checked_pid(pid, 5)
        if key in storages:
            if storages[key].dtype != dtype:
                raise UnsafePickleError(f"safe loading refuses storage {key} read as two dtypes")
            return storages[key]
        member = f"{prefix}data/{key}"
        if member not in names:
            raise UnsafePickleError(f"safe loading refuses storage {key}: the archive has no member {member!r}")
        raw = zf.read(member)
        if len(raw) != numel * dtype.itemsize:
            raise UnsafePickleError(f"safe loading refuses storage {key}: {len(raw)} bytes for {numel} x {dtype}")
        storages[key] = _typed(_restore(_from_bytes(raw), location, ctx.map_location), dtype)
        return storages[key]

    u = ctx.unpickler(io.BytesIO(zf.read(f"{prefix}data.pkl")))
    u.persistent_load = persistent_load  # type: ignore[method-assign]
    return u.load()


# ------------------------------------------------------------------------------------ legacy torch.save
def _load_legacy(stream: io.BytesIO, size: int, ctx: _Context) -> Any:
    if ctx.unpickler(stream).load() != _LEGACY_PROTOCOL:
        raise UnsafePickleError("safe loading refuses a legacy torch.save stream of an unknown protocol version")
    info = ctx.unpickler(stream).load()
    if type(info) is not dict or info.get("little_endian") is not True:
        raise UnsafePickleError("safe loading refuses a legacy torch.save stream that is not little-endian")
    pending: dict[str, tuple[torch.storage.TypedStorage, int]] = {}
    declared = 0

    def persistent_load(pid: Any) -> Any:
        nonlocal declared
        if type(pid) is tuple and len(pid) == 4 and pid[0] == "module":  # a class and its source text, ignored
            if u._entry(pid[1]) is None:
                raise UnsafePickleError(f"safe loading refuses the persistent id {pid!r:.100} (opcode BINPERSID)")
            return pid[1]
        dtype, key, location, numel = _checked_pid(pid, 6)
        if pid[5] is not None:
            raise UnsafePickleError(f"safe loading refuses the storage view {pid[5]!r:.60} (opcode BINPERSID)")
        if key not in pending:
            declared += numel * dtype.itemsize + 8
            if declared > size - stream.tell():
                raise UnsafePickleError(f"safe loading refuses storages of {declared} bytes in a file of {size}")
            untyped = _restore(torch.UntypedStorage(numel * dtype.itemsize), location, ctx.map_location)
            pending[key] = (_typed(untyped, dtype), numel)
        elif pending[key][0].dtype != dtype:
            raise UnsafePickleError(f"safe loading refuses storage {key} read as two dtypes")
        return pending[key][0]

    u = ctx.unpickler(stream)
    u.persistent_load = persistent_load  # type: ignore[method-assign]
    result = u.load()
    _fill_legacy(stream, ctx.unpickler(stream).load(), pending)
    return result


def _fill_legacy(stream: io.BytesIO, keys: Any, pending: dict[str, tuple[Any, int]]) -> None:
    if type(keys) is not list or sorted(keys) != sorted(pending):
        raise UnsafePickleError("safe loading refuses a legacy torch.save stream whose storage keys do not match")
    for key in keys:
        storage, numel = pending[key]
        header = int.from_bytes(stream.read(8), "little", signed=True)
        raw = stream.read(numel * storage.element_size())
        if header != numel or len(raw) != numel * storage.element_size():
            raise UnsafePickleError(f"safe loading refuses storage {key}: its data does not match its declaration")
        if numel:
            storage._untyped_storage.copy_(_from_bytes(raw))
