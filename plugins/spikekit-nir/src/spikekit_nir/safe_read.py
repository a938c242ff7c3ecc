"""Reading ``.nir`` files (HDF5) as untrusted input: structure checked before any data is read.

A ``.nir`` file is an HDF5 file, and HDF5 can point outside itself or promise more data than it holds. Before
reading a single value, :func:`read_nir` walks the file's links and datasets (metadata only) and refuses:

* external links, soft links, external raw-data storage and virtual datasets (a file's weights could otherwise be
  another local file's bytes);
* a dataset whose declared size exceeds ``max_bytes``, or datasets whose declared sizes add up to more (a 24 KB
  file with compressed or unwritten datasets can declare hundreds of GiB); a chunked dataset's size counts as at
  least one chunk's, as reading it decompresses whole chunks (a 1 MB file holding a 3 x 3 dataset in one
  compressed 16384 x 16384 chunk made the reader allocate 1 GiB);
* graphs nested deeper than ``max_depth``, more than ``max_nodes`` NIR nodes, and more than :data:`MAX_OBJECTS`
  groups and datasets;
* a second hard link to an object already seen. HDF5 objects can be linked from many places, so a file of a few
  KB whose groups link each other's children (a DAG) holds exponentially many *paths* to few *objects*; reading each
  object once, by its address, keeps the cost of a file linear in its size;
* types other than numbers and text (compound, opaque, array, reference), and filters other than HDF5's built-in
  ones and LZF (HDF5 would search its plugin folders for a library to load).

Only then is variable-length data (text) read, in bounded blocks, and refused when it comes to more than the
file's own size: written normally every string is its own heap object, while a crafted file can point thousands of
elements at one large object (a 2 MB file asking for 8 GB).

Then it builds the NIR nodes itself, field by field, so that a missing, unknown or malformed field is refused with
:class:`~spikekit_nir.conventions.ConversionError` naming the file, the node and the field, instead of the bare
``AssertionError`` / ``TypeError`` / ``KeyError`` of the nir package.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

import numpy as np

from spikekit_nir.conventions import ConversionError

__all__ = ["DEFAULT_MAX_BYTES", "DEFAULT_MAX_DEPTH", "DEFAULT_MAX_NODES", "MAX_OBJECTS", "read_nir"]

#: Default bound on the data a ``.nir`` file may make :func:`read_nir` allocate: 1 GiB (a 250M-parameter model).
DEFAULT_MAX_BYTES = 1 << 30
#: Default bound on the nesting of subgraphs.
DEFAULT_MAX_DEPTH = 32
#: Default bound on the number of NIR nodes in a file, subgraphs' nodes included.
DEFAULT_MAX_NODES = 10_000
#: Bound on the number of groups and datasets in a file.
MAX_OBJECTS = 1_000_000


def _fail(where: str, node: str, field: str | None, why: str) -> ConversionError:
    at = f"node {node!r}" if node else "the root"
    if field:
        at += f", field {field!r}"
    return ConversionError(f"from_nir({where!r}): {at}: {why}")


# ----------------------------------------------------------------------------------------- structure checks
class _Budget:
    def __init__(self, where: str, max_bytes: int, max_depth: int, max_nodes: int) -> None:
        self.where, self.max_bytes, self.max_depth, self.max_nodes = where, max_bytes, max_depth, max_nodes
        self.file_size = max(1, os.path.getsize(where))
        self.variable = 0  # bytes of variable-length data read while checking
        self.variable_datasets: list[tuple[Any, str]] = []
        self.total = 0
        self.objects = 0
        self.nodes = 0
        self.seen: dict[int, str] = {}  # object address -> the path it was first read at

    def visit(self, obj: Any, path: str) -> None:
        """Refuse a second hard link to one object: every object is read once."""
        import h5py

        address = h5py.h5o.get_info(obj.id).addr
        if address in self.seen:
            raise _refuse(
                self,
                path,
                f"a second hard link to the HDF5 object already read at {self.seen[address] or '/'!r}; a .nir file "
                "links each object once (shared links let a small file cost exponential time)",
            )
        self.seen[address] = path

    def count_nodes(self, group: Any, path: str) -> None:
        self.nodes += len(group)
        if self.nodes > self.max_nodes:
            raise _refuse(
                self,
                path,
                f"the file holds at least {self.nodes} NIR nodes, more than max_nodes={self.max_nodes}; pass a larger "
                "max_nodes to from_nir / load if you trust the file",
            )


def _locate(path: str) -> tuple[str, str | None]:
    """(node name, field) of an HDF5 path such as ``node/nodes/enc/nodes/0/weight`` -> ``("enc.0", "weight")``."""
    parts = path.split("/")
    if parts[:1] == ["node"]:
        parts = parts[1:]
    names = []
    while len(parts) >= 2 and parts[0] == "nodes":
        names.append(parts[1])
        parts = parts[2:]
    return ".".join(names), "/".join(parts) or None


def _refuse(budget: _Budget, path: str, why: str) -> ConversionError:
    node, field = _locate(path)
    return _fail(budget.where, node, field, f"{why} (HDF5 path {path!r})")


def _check_dataset(ds: Any, path: str, budget: _Budget) -> None:
    import h5py

    plist = ds.id.get_create_plist()
    if plist.get_external_count() > 0:
        raise _refuse(budget, path, "the dataset keeps its data in external files; refused")
    if ds.is_virtual or plist.get_layout() == h5py.h5d.VIRTUAL:
        raise _refuse(budget, path, "the dataset is virtual (maps other files' data); refused")
    _check_dtype_and_filters(ds, plist, path, budget)
    count = 1 if ds.shape is None else int(np.prod(np.asarray(ds.shape, dtype=object), dtype=object) or 0)
    declared = count * int(ds.dtype.itemsize)
    if ds.chunks is not None:  # reading decompresses whole chunks, which may be far larger than the dataset
        chunk = int(np.prod(np.asarray(ds.chunks, dtype=object), dtype=object)) * int(ds.dtype.itemsize)
        declared = max(declared, chunk)
    budget.total += declared
    _check_declared(ds, path, budget, declared)
    if _variable_length(ds.dtype):
        budget.variable_datasets.append((ds, path))  # read once every declared size has passed


#: HDF5's own filters (deflate, shuffle, fletcher32, szip, n-bit, scale-offset) and LZF, which h5py builds in;
#: any other filter id makes HDF5 search its plugin folders and load a shared library to decode the data.
_BUILTIN_FILTERS = frozenset({1, 2, 3, 4, 5, 6, 32000})


def _check_dtype_and_filters(ds: Any, plist: Any, path: str, budget: _Budget) -> None:
    import h5py

    dtype = ds.dtype
    if dtype.kind not in "biufcSO" or dtype.fields or dtype.subdtype is not None or h5py.check_ref_dtype(dtype):
        raise _refuse(
            budget,
            path,
            f"the dataset's type {dtype} is not numbers or text (compound, opaque, array and reference types are "
            "not NIR's)",
        )
    for i in range(plist.get_nfilters()):
        code = plist.get_filter(i)[0]
        if code not in _BUILTIN_FILTERS:
            raise _refuse(
                budget,
                path,
                f"the dataset needs the HDF5 filter {code}, not built in (HDF5 would load a plugin library to read "
                "it); refused",
            )


def _check_declared(ds: Any, path: str, budget: _Budget, declared: int) -> None:
    if declared > budget.max_bytes or budget.total > budget.max_bytes:
        raise _refuse(
            budget,
            path,
            f"the dataset declares {declared} bytes (shape {ds.shape}, chunks {ds.chunks}, {ds.dtype}; {budget.total} "
            "bytes in the file "
            f"so far), more than max_bytes={budget.max_bytes}; pass a larger max_bytes to from_nir / load if you "
            "trust the file",
        )


def _variable_length(dtype: np.dtype[Any]) -> bool:
    import h5py

    return dtype.kind == "O" or h5py.check_vlen_dtype(dtype) is not None


def _nbytes(value: Any) -> int:
    if isinstance(value, (bytes, str)):
        return len(value)
    if isinstance(value, np.ndarray) and value.dtype.kind != "O":
        return int(value.nbytes)
    if isinstance(value, (np.ndarray, list, tuple)):
        return sum(_nbytes(v) for v in np.asarray(value, dtype=object).flat)
    return int(np.asarray(value).nbytes)


#: the most a block of variable-length data read while checking can cost beyond the file's size
_BLOCK_BYTES = 64 << 20


def _check_variable_length(ds: Any, path: str, budget: _Budget) -> None:
    """Variable-length data (strings, sequences) lives in heaps the declared shape does not count, and many elements
    may point at one heap object: a 2 MB file whose 40,000 strings all point at one 200 KB object asks for 8 GB. Read
    it in blocks of at most ``max_bytes`` (an element is never larger than the file), summing what comes: written
    normally, each element has its own heap object, so the whole never exceeds the file."""
    if ds.shape is None or ds.ndim == 0 or ds.shape[0] == 0:
        blocks: Any = [()]
    else:
        per_row = max(1, int(np.prod(ds.shape[1:], dtype=np.int64)))
        rows = max(1, max(_BLOCK_BYTES, budget.file_size) // (budget.file_size * per_row))
        blocks = (np.s_[i : i + rows] for i in range(0, ds.shape[0], rows))
    for block in blocks:
        try:
            budget.variable += _nbytes(ds[block])
        except Exception as exc:  # h5py raises OSError / TypeError / ValueError for unreadable data
            raise _refuse(budget, path, f"unreadable variable-length data ({type(exc).__name__}: {exc})") from exc
        if budget.variable > budget.file_size:  # each element its own heap object: never more than the file
            raise _refuse(
                budget,
                path,
                f"the variable-length data read so far come to {budget.variable} bytes, more than the file's "
                f"{budget.file_size} (elements sharing one heap object); refused",
            )


def _check_group(group: Any, path: str, depth: int, budget: _Budget) -> None:
    import h5py

    if depth > 2 * budget.max_depth + 4:  # a graph level is two groups: <node>/nodes/<child>
        raise _refuse(budget, path, f"graphs are nested deeper than max_depth={budget.max_depth}")
    if path == "node/nodes" or path.endswith("/nodes"):
        budget.count_nodes(group, path)
    for name in group:
        child_path = f"{path}/{name}" if path else name
        budget.objects += 1
        if budget.objects > MAX_OBJECTS:
            raise _refuse(budget, child_path, f"the file holds more than {MAX_OBJECTS} objects")
        link = group.get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            raise _refuse(budget, child_path, f"external link to {link.filename}:{link.path}; refused")
        if isinstance(link, h5py.SoftLink):
            raise _refuse(budget, child_path, f"soft link to {link.path}; refused")
        obj = group[name]
        budget.visit(obj, child_path)
        if isinstance(obj, h5py.Dataset):
            _check_dataset(obj, child_path, budget)
        elif isinstance(obj, h5py.Group):
            _check_group(obj, child_path, depth + 1, budget)
        else:
            raise _refuse(budget, child_path, f"unexpected HDF5 object {type(obj).__name__}")


# ------------------------------------------------------------------------------------------- node building
def _value(ds: Any, where: str, node: str, field: str) -> Any:
    try:
        value = ds[()]
    except Exception as exc:  # h5py raises OSError / TypeError / ValueError for unreadable data
        raise _fail(where, node, field, f"unreadable ({type(exc).__name__}: {exc})") from exc
    if isinstance(value, bytes):
        return value.decode("utf8", errors="replace")
    return value


def _plain(group: Any, where: str, node: str) -> dict[str, Any]:
    import h5py

    out: dict[str, Any] = {}
    for key, item in group.items():
        if isinstance(item, h5py.Group):
            out[key] = _plain(item, where, node)
        else:
            out[key] = _value(item, where, node, key)
    return out


def _node_classes() -> dict[str, type]:
    import nir

    return {name: getattr(nir, name) for name in nir.ir.__all__ if isinstance(getattr(nir, name, None), type)}


def _build(group: Any, name: str, where: str, depth: int, max_depth: int) -> Any:
    import h5py

    if "type" not in group or not isinstance(group["type"], h5py.Dataset):
        raise _fail(where, name, "type", "missing (every NIR node names its type)")
    kind = _value(group["type"], where, name, "type")
    classes = _node_classes()
    if not isinstance(kind, str) or kind not in classes:
        raise _fail(where, name, "type", f"unknown NIR node type {kind!r}; known: {sorted(classes)}")
    if kind == "NIRGraph":
        if depth >= max_depth:
            raise _fail(where, name, None, f"graphs are nested deeper than max_depth={max_depth}")
        return _build_graph(group, name, where, depth + 1, max_depth)
    fields = {k: v for k, v in _plain(group, where, name).items() if k != "type"}
    if kind in ("Input", "Output"):
        key = "input" if kind == "Input" else "output"
        shape = fields.pop("shape", None)
        fields[f"{key}_type"] = {key: _shape(shape, where, name, "shape")}
    elif kind == "Flatten" and "input_type" in fields:
        fields["input_type"] = {"input": _shape(fields["input_type"], where, name, "input_type")}
    return _construct(classes[kind], fields, where, name)


def _shape(value: Any, where: str, node: str, field: str) -> Any:
    if value is None:
        return None
    arr = np.asarray(value)
    if arr.dtype.kind not in "iu" or arr.ndim > 1 or np.any(arr < 0):
        raise _fail(where, node, field, f"expected a 1-D array of non-negative ints, got {arr.dtype} {arr.tolist()}")
    return arr.astype(np.int64)


_TEXT_FIELDS = {"metadata", "padding", "input_type", "output_type"}  # padding may be "same" / "valid"


def _construct(cls: type, fields: dict[str, Any], where: str, name: str) -> Any:
    known = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key, value in fields.items():
        if key not in known:
            raise _fail(where, name, key, f"not a field of NIR {cls.__name__} (fields: {sorted(known)})")
        if key not in _TEXT_FIELDS and (isinstance(value, str) or np.asarray(value).dtype.kind in "OSU"):
            raise _fail(where, name, key, f"expected numbers, got {value!r:.60}")
    for key, f in known.items():
        no_default = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if no_default and key not in fields and key not in ("v_reset",):
            raise _fail(where, name, key, f"missing (NIR {cls.__name__} needs it)")
    if cls.__name__ in ("IF", "LIF", "CubaLIF") and "v_reset" not in fields and "v_threshold" in fields:
        fields["v_reset"] = np.zeros_like(np.asarray(fields["v_threshold"], dtype=np.float64))
    try:
        return cls(**fields)
    except Exception as exc:  # nir's own checks are asserts and numpy errors without the node's name
        field = next((k for k in fields if k in str(exc)), None)
        raise _fail(where, name, field, f"NIR {cls.__name__} refused its fields ({type(exc).__name__}: {exc})") from exc


def _build_graph(group: Any, name: str, where: str, depth: int, max_depth: int) -> Any:
    import h5py
    import nir

    if "nodes" not in group or not isinstance(group["nodes"], h5py.Group):
        raise _fail(where, name, "nodes", "missing (a NIRGraph holds its nodes in a group 'nodes')")
    nodes = {}
    for key, sub in group["nodes"].items():
        path = f"{name}.{key}" if name else key
        if not isinstance(sub, h5py.Group):
            raise _fail(where, path, None, "expected a group (a node), found a dataset")
        nodes[key] = _build(sub, path, where, depth, max_depth)
    edges = _edges(group, name, where)
    metadata = _plain(group["metadata"], where, name) if "metadata" in group else {}
    try:
        return nir.NIRGraph(nodes=nodes, edges=edges, metadata=metadata, type_check=False)
    except Exception as exc:
        raise _fail(where, name, "edges", f"NIR refused the graph ({type(exc).__name__}: {exc})") from exc


def _edges(group: Any, name: str, where: str) -> list[tuple[str, str]]:
    if "edges" not in group:
        raise _fail(where, name, "edges", "missing")
    raw = np.asarray(_value(group["edges"], where, name, "edges"))
    if raw.size == 0:
        return []
    if raw.ndim != 2 or raw.shape[1] != 2 or raw.dtype.kind not in "SOU":
        raise _fail(where, name, "edges", f"expected (n, 2) node names, got {raw.dtype} of shape {raw.shape}")

    def text(x: Any) -> str:
        return x.decode("utf8", errors="replace") if isinstance(x, bytes) else str(x)

    return [(text(a), text(b)) for a, b in raw.tolist()]


def read_nir(
    path: str | os.PathLike[str],
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> Any:
    """Read the NIR graph of a ``.nir`` file after checking its structure (see the module docstring).

    Args:
        path: the file.
        max_bytes: the most data (declared dataset sizes, summed) the file may make this process allocate.
        max_depth: the deepest nesting of subgraphs accepted.
        max_nodes: the most NIR nodes (subgraphs' nodes included) accepted.

    Returns:
        a ``nir.NIRGraph`` (type checking off, as spikekit checks the graph when it builds the model).

    Raises:
        ConversionError: naming the file, and where it applies the node and the field.
    """
    import h5py

    where = os.fspath(path)
    if not isinstance(max_bytes, int) or max_bytes <= 0:
        raise ValueError(f"read_nir: max_bytes must be a positive int, got {max_bytes!r}")
    if not isinstance(max_depth, int) or max_depth < 1:
        raise ValueError(f"read_nir: max_depth must be a positive int, got {max_depth!r}")
    if not isinstance(max_nodes, int) or isinstance(max_nodes, bool) or max_nodes < 1:
        raise ValueError(f"read_nir: max_nodes must be a positive int, got {max_nodes!r}")
    if not Path(where).is_file():
        raise FileNotFoundError(f"from_nir: no such file: {where!r}")
    try:
        f = h5py.File(where, "r")
    except OSError as exc:
        raise ConversionError(f"from_nir({where!r}): not a readable HDF5 / .nir file ({exc})") from exc
    with f:
        budget = _Budget(where, max_bytes, max_depth, max_nodes)
        budget.visit(f, "")
        _check_group(f, "", 0, budget)
        for ds, ds_path in budget.variable_datasets:
            _check_variable_length(ds, ds_path, budget)
        if "node" not in f or not isinstance(f["node"], h5py.Group):
            raise _fail(where, "", "node", "missing (a .nir file keeps its graph in the group 'node')")
        return _build(f["node"], "", where, 0, max_depth)
