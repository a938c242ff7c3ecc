"""Fuzzing the ``.nir`` reader (hypothesis): random HDF5 trees either read as a NIR graph or raise
``ConversionError``, within a time and memory budget.

Each example starts from a file ``nir.write`` made and changes it at random: groups and datasets added or
removed, datasets of random dtypes, shapes, chunking and filters (some declaring far more data than they hold),
attributes, hard links (also to objects already linked, and back to the root), soft and external links, node
fields replaced by values of the wrong kind, chunks far larger than their dataset, opaque, reference and array
types, filters HDF5 does not build in, and text whose elements all point at one heap object.

CI runs a few examples per test (profile ``ci``); ``nox -s fuzz`` runs many (``SPIKEKIT_FUZZ=fuzz``).
"""

from __future__ import annotations

import itertools
import os
import resource
import time

import h5py
import nir
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikekit_nir import ConversionError
from spikekit_nir.safe_read import read_nir

settings.register_profile(
    "spikekit-nir-ci",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=True,
)
settings.register_profile(
    "spikekit-nir-fuzz",
    max_examples=1500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
FUZZ = settings.get_profile("spikekit-nir-fuzz" if os.environ.get("SPIKEKIT_FUZZ") == "fuzz" else "spikekit-nir-ci")

# `nox -s fuzz` also caps the address space of its process (SPIKEKIT_FUZZ_MEMORY_MB), so that a file that made the
# reader allocate without bound would end in MemoryError (which the readers must report as their documented error)
# instead of exhausting the machine.
if os.environ.get("SPIKEKIT_FUZZ_MEMORY_MB"):
    _cap = int(os.environ["SPIKEKIT_FUZZ_MEMORY_MB"]) << 20
    resource.setrlimit(resource.RLIMIT_AS, (_cap, resource.getrlimit(resource.RLIMIT_AS)[1]))

TIME_BUDGET_S = 5.0
MEMORY_BUDGET = 1 << 30
MAX_BYTES = 1 << 24  # the reader's data budget in these tests: 16 MiB


def _graph(n: int) -> nir.NIRGraph:
    nodes: dict[str, nir.NIRNode] = {"input": nir.Input(input_type={"input": np.array([3])})}
    for i in range(n):
        nodes[f"a{i}"] = nir.Affine(np.eye(3, dtype=np.float32), np.zeros(3, dtype=np.float32))
    nodes["lif"] = nir.LIF(
        tau=np.ones(3), r=np.ones(3), v_leak=np.zeros(3), v_threshold=np.ones(3), v_reset=np.zeros(3)
    )
    nodes["output"] = nir.Output(output_type={"output": np.array([3])})
    chain = ["input"] + [f"a{i}" for i in range(n)] + ["lif", "output"]
    return nir.NIRGraph(nodes=nodes, edges=list(itertools.pairwise(chain)))


_DTYPES = st.sampled_from(
    ["f4", "f8", "i1", "i8", "u2", "?", "S5", h5py.string_dtype(), "c8", [("a", "f4"), ("b", "i2")]]
)
_SHAPES = st.one_of(st.just(()), st.lists(st.integers(0, 5), min_size=1, max_size=3).map(tuple))
_NAMES = st.sampled_from(["type", "weight", "bias", "tau", "nodes", "edges", "shape", "metadata", "x", "0", "input"])


@st.composite
def _edits(draw) -> list[tuple]:
    """A list of edits, each a tuple naming what to do; paths are chosen among the file's objects when applied."""
    edit = st.one_of(
        st.tuples(st.just("dataset"), _NAMES, _DTYPES, _SHAPES, st.sampled_from([None, "gzip", "lzf"]), st.booleans()),
        st.tuples(st.just("bomb"), _NAMES, st.integers(20, 40)),
        st.tuples(st.just("bigchunk"), _NAMES, st.integers(8, 12)),
        st.tuples(st.just("oddtype"), _NAMES, st.sampled_from(["V8", "opaque-ref", "array"])),
        st.tuples(st.just("filter"), _NAMES, st.integers(32001, 32100)),
        st.tuples(st.just("alias"), _NAMES, st.integers(2, 4000), st.integers(1, 100_000)),
        st.tuples(st.just("group"), _NAMES),
        st.tuples(st.just("attr"), _NAMES, st.integers(-5, 5)),
        st.tuples(st.just("hardlink"), _NAMES, st.integers(0, 1 << 16)),
        st.tuples(st.just("softlink"), _NAMES, st.integers(0, 1 << 16)),
        st.tuples(st.just("external"), _NAMES),
        st.tuples(st.just("delete"), st.integers(0, 1 << 16)),
        st.tuples(
            st.just("retype"), st.integers(0, 1 << 16), st.sampled_from(["NIRGraph", "Affine", "LIF", "Nope", ""])
        ),
    )
    return draw(st.lists(edit, max_size=6))


def _objects(f: h5py.File) -> list[str]:
    paths: list[str] = []
    f.visit(paths.append)  # h5py visits each object once
    return paths


def _group_at(f: h5py.File, pick: int) -> h5py.Group:
    groups = [f] + [f[p] for p in _objects(f) if isinstance(f[p], h5py.Group)]
    return groups[pick % len(groups)]


def _apply(f: h5py.File, edit: tuple, pick: int) -> None:
    kind, *args = edit
    group = _group_at(f, pick)
    name = args[0] if args and isinstance(args[0], str) else "x"
    if kind in ("dataset", "bomb", "group", "hardlink", "softlink", "external") and name in group:
        del group[name]
    if kind == "dataset":
        _, dtype, shape, compression, fletcher = args
        is_text = h5py.check_string_dtype(np.dtype(dtype)) is not None
        data = None if is_text or not shape else np.zeros(shape, dtype=dtype)
        chunks = bool(shape) and all(shape) and (compression or fletcher)
        group.create_dataset(
            name, shape=shape, dtype=dtype, data=data,
            compression=compression if chunks else None, fletcher32=bool(fletcher and chunks),
        )  # fmt: skip
    elif kind == "bomb":  # declares 2**k elements, holds none (chunked, never written)
        group.create_dataset(name, shape=(1 << args[1],), dtype="f8", chunks=(1024,), compression="gzip")
    elif kind == "bigchunk":  # 3 values in one written, compressed chunk of 4**k
        ds = group.create_dataset(name, shape=(3,), maxshape=(None,), chunks=(4 ** args[1],), dtype="f4",
                                  compression="gzip")  # fmt: skip
        ds[...] = 1.0
    elif kind == "oddtype":
        odd = {"V8": np.dtype("V8"), "opaque-ref": h5py.ref_dtype, "array": np.dtype(("<f4", (2,)))}[args[1]]
        group.create_dataset(name, shape=(3,), dtype=odd)
    elif kind == "filter":
        group.create_dataset(name, shape=(3,), chunks=(3,), dtype="f4", compression=args[1], allow_unknown_filter=True)
    elif kind == "alias":  # text whose elements are pointed at the first one's heap object once the file is closed
        data = np.array(["x" * args[2]] + ["y"] * (args[1] - 1), dtype=object)
        ds = group.create_dataset(name, data=data, dtype=h5py.string_dtype())
        _ALIASED.append((ds.id.get_offset(), args[1]))
    elif kind == "group":
        group.create_group(name)
    elif kind == "attr":
        group.attrs[name] = args[1]
    elif kind in ("hardlink", "softlink"):
        paths = _objects(f)
        target = "/" + paths[args[1] % len(paths)] if paths else "/"
        group[name] = f[target] if kind == "hardlink" else h5py.SoftLink(target)
    elif kind == "external":
        group[name] = h5py.ExternalLink("elsewhere.h5", "/x")
    elif kind == "delete":
        paths = _objects(f)
        if paths and paths[args[0] % len(paths)] in f:
            del f[paths[args[0] % len(paths)]]
    elif kind == "retype":
        types = [p for p in _objects(f) if p.endswith("/type") and isinstance(f[p], h5py.Dataset)]
        if types:
            path = types[args[0] % len(types)]
            del f[path]
            f[path] = args[1]


_ALIASED: list[tuple[int, int]] = []  # (file offset, elements) of text datasets to alias once the file is closed


def _alias(path) -> None:
    raw = bytearray(path.read_bytes())
    for offset, count in _ALIASED:
        if offset is not None:
            raw[offset + 16 : offset + 16 * count] = bytes(raw[offset : offset + 16]) * (count - 1)
    _ALIASED.clear()
    path.write_bytes(bytes(raw))


@pytest.fixture(scope="module")
def budget():
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def check(seconds: float) -> None:
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - start
        assert seconds < TIME_BUDGET_S, f"one read took {seconds:.1f} s"
        assert grown < MEMORY_BUDGET, f"the process grew by {grown >> 20} MiB"

    return check


@FUZZ
@given(n=st.integers(0, 3), edits=_edits(), picks=st.lists(st.integers(0, 1 << 16), min_size=6, max_size=6))
def test_random_hdf5_trees_read_or_raise_conversion_error(n, edits, picks, budget, tmp_path):
    path = tmp_path / "fuzz.nir"
    if path.exists():
        path.unlink()
    graph = _graph(n)
    nir.write(path, graph)
    _ALIASED.clear()
    with h5py.File(path, "a") as f:
        for edit, pick in zip(edits, picks):
            try:
                _apply(f, edit, pick)
            except (ValueError, TypeError, KeyError, OSError):
                continue  # h5py cannot make this edit (e.g. a checksum filter on variable-length text): skip it
    _alias(path)
    start = time.perf_counter()
    try:
        read = read_nir(path, max_bytes=MAX_BYTES)
    except ConversionError as exc:
        assert str(path) in str(exc)
    else:
        assert isinstance(read, nir.NIRGraph)
        if not edits:  # nothing changed: the graph read is the graph written
            assert sorted(read.nodes) == sorted(graph.nodes)
            assert sorted(read.edges) == sorted(graph.edges)
    finally:
        budget(time.perf_counter() - start)
