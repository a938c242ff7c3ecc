"""Fuzzing safe loading (hypothesis): every file either loads to what was saved or raises ``UnpicklingError``
(:class:`UnsafePickleError` is one), within a time and memory budget, and never runs code.

Three sources of files: models and values built from what the table allows, saved by ``pickle`` (protocols 2 to
5) and ``torch.save`` (zip and legacy), which must load back equal; the same files with bytes flipped, cut or
spliced; and opcode streams assembled at random from the allowed opcodes and globals plus hostile ones
(``exec``, ``os.system``, ``spikekit.__main__.main``, dotted names, BUILD on classes, bombs).

CI runs a few examples per test (profile ``ci``); ``nox -s fuzz`` runs many (``SPIKEKIT_FUZZ=fuzz``).
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import resource

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spikekit.layers as sl
import spikekit.utils as su

settings.register_profile(
    "spikekit-ci", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile(
    "spikekit-fuzz", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
FUZZ = settings.get_profile("spikekit-fuzz" if os.environ.get("SPIKEKIT_FUZZ") == "fuzz" else "spikekit-ci")

# `nox -s fuzz` also caps the address space of its process (SPIKEKIT_FUZZ_MEMORY_MB), so that a file that made the
# reader allocate without bound would end in MemoryError (which the readers must report as their documented error)
# instead of exhausting the machine.
if os.environ.get("SPIKEKIT_FUZZ_MEMORY_MB"):
    _cap = int(os.environ["SPIKEKIT_FUZZ_MEMORY_MB"]) << 20
    resource.setrlimit(resource.RLIMIT_AS, (_cap, resource.getrlimit(resource.RLIMIT_AS)[1]))

#: seconds one file may take to load, and bytes of resident memory the whole run may grow by
TIME_BUDGET_S = 5.0
MEMORY_BUDGET = 1 << 30


@pytest.fixture(scope="module")
def budget():
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def check(seconds: float) -> None:
        grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 - start
        assert seconds < TIME_BUDGET_S, f"one load took {seconds:.1f} s"
        assert grown < MEMORY_BUDGET, f"the process grew by {grown >> 20} MiB"

    return check


def _load(data: bytes, budget, marker) -> object:
    """What the loader made of ``data``, or the UnpicklingError it raised; anything else fails the test."""
    import time

    start = time.perf_counter()
    try:
        return su.load_sinabs_model(io.BytesIO(data))
    except pickle.UnpicklingError as exc:
        return exc
    finally:
        budget(time.perf_counter() - start)
        assert not os.path.exists(marker), "code in the file ran"


# ------------------------------------------------------------------------------------- valid files
_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(1 << 70), 1 << 70),
    st.floats(allow_nan=False),
    st.text(max_size=8),
    st.binary(max_size=16),
    st.lists(st.integers(0, 9), max_size=4).map(lambda v: torch.tensor(v, dtype=torch.int64)),
    st.integers(0, 3).map(lambda n: torch.Size([n, 2])),
    st.sampled_from([torch.float32, torch.int64, torch.bool]),
)


def _layers() -> st.SearchStrategy[torch.nn.Module]:
    return st.sampled_from(
        [
            lambda: torch.nn.Linear(3, 2),
            lambda: torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU()),
            lambda: sl.IAF(spike_threshold=torch.tensor(0.5)),
            lambda: sl.LIF(tau_mem=3.0, tau_syn=2.0),
            lambda: sl.ExpLeakSqueeze(tau_mem=4.0, batch_size=2),
            lambda: sl.SumPool2d(2),
        ]
    ).map(lambda make: make())


_values = st.recursive(
    st.one_of(_leaves, _layers()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=4), inner, max_size=4),
        st.dictionaries(st.text(max_size=4), inner, max_size=3).map(collections.OrderedDict),
        st.sets(st.integers(0, 50), max_size=5),
    ),
    max_leaves=8,
)


def _same(a: object, b: object) -> bool:
    if isinstance(a, torch.nn.Module):
        sa, sb = a.state_dict(), b.state_dict()  # type: ignore[union-attr]
        return type(a) is type(b) and list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))  # type: ignore[arg-type]
    if isinstance(a, dict):
        return type(a) is type(b) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)  # type: ignore[index]
    return type(a) is type(b) and a == b


def _saved(value: object, how: str) -> bytes:
    if how.startswith("pickle"):
        return pickle.dumps(value, protocol=int(how[-1]))
    buf = io.BytesIO()
    torch.save(value, buf, _use_new_zipfile_serialization=how == "torch.save")
    return buf.getvalue()


_HOW = st.sampled_from(["pickle2", "pickle3", "pickle4", "pickle5", "torch.save", "legacy"])


@FUZZ
@given(value=_values, how=_HOW)
def test_what_the_table_allows_loads_back_equal(value, how, budget, tmp_path_factory):
    marker = tmp_path_factory.getbasetemp() / "marker"
    loaded = _load(_saved(value, how), budget, marker)
    assert not isinstance(loaded, Exception), f"{how}: {loaded}"
    assert _same(value, loaded)


@FUZZ
@given(value=_values, how=_HOW, edits=st.lists(st.tuples(st.integers(0, 1 << 16), st.binary(max_size=3)), max_size=4))
def test_damaged_files_load_or_raise_unpickling_error(value, how, edits, budget, tmp_path_factory):
    marker = tmp_path_factory.getbasetemp() / "marker"
    data = bytearray(_saved(value, how))
    for at, patch in edits:
        at %= len(data) + 1
        data[at : at + len(patch)] = patch
    _load(bytes(data), budget, marker)


# ------------------------------------------------------------------------------- opcode streams
def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


_HOSTILE_GLOBALS = [
    ("builtins", "exec"),
    ("builtins", "eval"),
    ("builtins", "getattr"),
    ("os", "system"),
    ("posix", "system"),
    ("subprocess", "Popen"),
    ("spikekit.__main__", "main"),
    ("spikekit.state", "torch.nn.Module"),
    ("builtins", "bytearray"),
    ("builtins", "range"),
    ("builtins", "frozenset"),
    ("torch._utils", "_rebuild_sparse_tensor"),
    ("torch._tensor", "_rebuild_from_type_v2"),
    ("copyreg", "_reconstructor"),
    ("functools", "partial"),
]
_ALLOWED_GLOBALS = [
    ("collections", "OrderedDict"),
    ("__builtin__", "set"),
    ("torch", "Size"),
    ("torch", "device"),
    ("torch", "float32"),
    ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"),
    ("torch.nn.modules.linear", "Linear"),
    ("sinabs.layers.iaf", "IAF"),
    ("sinabs.activation.spike_generation", "SingleSpike"),
    ("spikekit_neurons.resets", "MembraneSubtract"),
    ("_codecs", "encode"),
]


def _snippets(marker: str) -> st.SearchStrategy[bytes]:
    code = f"open({marker!r}, 'w').write('ran')"
    text = b"X" + len(code).to_bytes(4, "little") + code.encode()
    return st.one_of(
        st.sampled_from(
            [
                b"(",  # MARK
                b"t",  # TUPLE
                b")",  # EMPTY_TUPLE
                b"\x85",  # TUPLE1
                b"\x86",  # TUPLE2
                b"]",  # EMPTY_LIST
                b"e",  # APPENDS
                b"a",  # APPEND
                b"}",  # EMPTY_DICT
                b"s",  # SETITEM
                b"u",  # SETITEMS
                b"R",  # REDUCE
                b"\x81",  # NEWOBJ
                b"b",  # BUILD
                b"N",  # NONE
                b"0",  # POP
                b"1",  # POP_MARK
                b"\x94",  # MEMOIZE
                b"\x8f",  # EMPTY_SET
                b"\x90",  # ADDITEMS
                b"\x91",  # FROZENSET
                b"i",  # INST
                b"o",  # OBJ
                b"\x92",  # NEWOBJ_EX
                b"\x82\x01",  # EXT1
                b"Q",  # BINPERSID
                b"\x96\x00\x00\x00\x00\x02\x00\x00\x00",  # BYTEARRAY8 of 8 GiB
                text,
            ]
        ),
        st.integers(-(1 << 40), 1 << 40).map(lambda n: b"\x8a\x08" + n.to_bytes(8, "little", signed=True)),
        st.integers(0, 255).map(lambda n: b"K" + bytes([n])),
        st.integers(0, 6).map(lambda n: b"h" + bytes([n])),  # BINGET
        st.integers(0, 6).map(lambda n: b"q" + bytes([n])),  # BINPUT
        st.sampled_from(_HOSTILE_GLOBALS + _ALLOWED_GLOBALS).map(lambda pair: _global(*pair)),
    )


@FUZZ
@given(data=st.data())
def test_random_opcode_streams_load_or_raise_unpickling_error(data, budget, tmp_path_factory):
    marker = str(tmp_path_factory.getbasetemp() / "marker")
    body = data.draw(st.lists(_snippets(marker), min_size=1, max_size=24))
    proto = data.draw(st.sampled_from([b"\x80\x02", b"\x80\x04", b"\x80\x05"]))
    _load(proto + b"".join(body) + b".", budget, marker)


# ----------------------------------------------------------- one object, built once, reused through the memo
def _big(kind: str, n: int) -> bytes:
    """A pickle fragment leaving one object of ``n`` items or bytes in memo 1 (and on the stack)."""
    if kind == "text":
        return b"X" + n.to_bytes(4, "little") + b"a" * n + b"q\x01"
    if kind == "list":
        return b"(" + b"K\x00" * n + b"lq\x01"
    if kind == "pairs":
        return b"(" + b"K\x00N\x86" * n + b"lq\x01"
    if kind == "tuple":
        return b"(" + b"K\x00" * n + b"tq\x01"
    return b")" + b"\x85" * n + b"q\x01"  # a tuple nested n deep


_REUSE = {  # (kind of object, what the file does with it again and again; each pushes one result)
    "encode": ("text", b"c_codecs\nencode\nq\x02", b"h\x02h\x01X\x06\x00\x00\x00latin1\x86R"),
    "set": ("list", b"c__builtin__\nset\nq\x02", b"h\x02h\x01\x85R"),
    "ordered_dict": ("pairs", b"ccollections\nOrderedDict\nq\x02", b"h\x02h\x01\x85R"),
    "dict_key": ("tuple", b"", b"}h\x01K\x01s"),
    "set_key": ("tuple", b"", b"\x8f(h\x01\x90"),
    "deep_key": ("deep", b"", b"}h\x01K\x01s"),
}


@FUZZ
@given(
    use=st.sampled_from(sorted(_REUSE)),
    n=st.integers(1, 400_000),
    times=st.integers(1, 3_000),
    keep=st.booleans(),
)
def test_one_object_reused_through_the_memo_stays_within_budget(use, n, times, keep, budget, tmp_path_factory):
    """Every call or key of ``times`` reuses one object of ``n`` items: the load must stay within the time and
    memory budget (the copies are counted against the file's size), keeping the results alive or not."""
    marker = tmp_path_factory.getbasetemp() / "marker"
    kind, setup, again = _REUSE[use]
    body = _big(kind, n) + b"0" + setup + (b"]" if keep else b"")
    body += (again + (b"a" if keep else b"0")) * times
    _load(b"\x80\x04" + body + (b"" if keep else b"N") + b".", budget, marker)
