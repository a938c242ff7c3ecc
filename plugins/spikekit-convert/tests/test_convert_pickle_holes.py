"""One test per way a model file got past safe loading before the exact table; each payload is hand-assembled
from pickle opcodes, so the test says exactly what the file asks for.

Every load here must end in :class:`UnsafePickleError` naming the global or opcode, with no code run, no module
imported, no class changed and no memory spent.
"""

from __future__ import annotations

import collections
import io
import json
import os
import pickle
import subprocess
import sys
import textwrap

import pytest
import torch

import spikekit.activation as sa
import spikekit.utils as su
from spikekit_convert import safe_archive, safe_globals, safe_unpickler
from spikekit_convert.safe_unpickler import Limits, UnsafePickleError

PROTO2 = b"\x80\x02"


def _global(module: str, name: str) -> bytes:
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def _long(n: int) -> bytes:
    raw = n.to_bytes((n.bit_length() + 8) // 8, "little", signed=True)
    return b"\x8a" + bytes([len(raw)]) + raw  # LONG1


def _text(s: str) -> bytes:
    return b"X" + len(s.encode()).to_bytes(4, "little") + s.encode()  # BINUNICODE


def _call(module: str, name: str, *args: bytes) -> bytes:
    """A pickle that calls ``module.name(*args)`` (each arg already assembled) and returns the result."""
    return PROTO2 + _global(module, name) + b"(" + b"".join(args) + b"tR."


def _refused(data: bytes, *named: str) -> str:
    with pytest.raises(UnsafePickleError) as info:
        su.load_sinabs_model(io.BytesIO(data))
    for part in named:
        assert part in str(info.value)
    return str(info.value)


# ------------------------------------------------------------------------ dotted names and foreign classes
@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("spikekit.state", "torch.nn.Module"),  # a chain of attributes from a spikekit module
        ("spikekit_convert.sinabs_pickle", "torch.fx.GraphModule"),  # rebuilding one runs code from its graph
        ("spikekit_convert.sinabs_pickle", "pickle.loads"),
        ("torch.nn.modules.module", "Module.__init__"),
        ("torch.fx.graph_module", "GraphModule"),  # an nn.Module of torch, but not a layer a model file needs
        ("torch.nn.modules.rnn", "LSTM"),  # a layer whose __setstate__ is its own
        ("spikekit.state", "StatefulLayer"),  # spikekit's, but a base class no model file names
    ],
)
def test_dotted_names_and_classes_outside_the_table_are_refused(module, name):
    _refused(PROTO2 + _global(module, name) + b".", f"{module}.{name}")


def test_the_file_never_triggers_an_import():
    before = set(sys.modules)
    name = "spikekit_convert.never_imported_module"
    _refused(PROTO2 + _global(name, "Thing") + b".", name)
    assert set(sys.modules) == before


def test_a_tabled_module_not_yet_loaded_is_refused_not_imported(monkeypatch):
    fake = ("spikekit_fake_plugin.layers", "Layer")
    monkeypatch.setitem(safe_globals.TABLE, fake, (*fake, safe_unpickler.NEW))
    _refused(PROTO2 + _global(*fake) + b".", "spikekit has not loaded spikekit_fake_plugin.layers.Layer")
    assert "spikekit_fake_plugin" not in sys.modules


def test_an_object_whose_names_differ_from_the_pair_is_refused(monkeypatch):
    """The table's pair must be what the object itself says it is: a module attribute rebound elsewhere is not."""
    import importlib

    module = importlib.import_module("spikekit_neurons.iaf")
    monkeypatch.setattr(module, "IAF", importlib.import_module("spikekit_neurons.lif").LIF)
    monkeypatch.setattr(safe_globals, "_resolved", {})
    _refused(PROTO2 + _global("spikekit_neurons.iaf", "IAF") + b".", "spikekit_neurons.iaf.IAF")


def _run_isolated(payloads: dict[str, bytes], tmp_path, memory_mib: int = 1536) -> dict[str, list[str]]:
    """Load each payload in a child process limited to ``memory_mib`` of address space; report what came out."""
    files = {}
    for key, data in payloads.items():
        files[key] = str(tmp_path / f"{key}.pkl")
        with open(files[key], "wb") as f:
            f.write(data)
    script = textwrap.dedent(
        f"""
        import json, resource, sys
        import spikekit.utils as su
        limit = {memory_mib} << 20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        out = {{}}
        for key, path in json.loads(sys.argv[1]).items():
            try:
                su.load_sinabs_model(path)
                out[key] = ["loaded", ""]
            except BaseException as exc:
                out[key] = [type(exc).__name__, str(exc)]
        print(json.dumps(out))
        """
    )
    env = dict(os.environ, OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(files)], capture_output=True, text=True, timeout=300, env=env
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_spikekit_main_named_by_a_file_neither_runs_nor_escapes(tmp_path):
    """Naming ``spikekit.__main__.main`` once ran the command line on the process's own argv (SystemExit)."""
    out = _run_isolated({"main": PROTO2 + _global("spikekit.__main__", "main") + b"."}, tmp_path)
    kind, message = out["main"]
    assert kind == "UnsafePickleError", out
    assert "spikekit.__main__.main" in message


def test_importing_spikekit_main_runs_nothing():
    code = "import sys; sys.argv = ['spikekit', 'plugins']; import spikekit.__main__; print('still here')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "still here", done.stdout + done.stderr
    usage = subprocess.run([sys.executable, "-m", "spikekit", "--help"], capture_output=True, text=True, timeout=120)
    assert usage.returncode == 0 and "usage" in usage.stdout.lower(), usage.stdout + usage.stderr


# --------------------------------------------------------------------------------------- BUILD on classes
@pytest.mark.parametrize("slot_state", [False, True])
def test_build_on_a_class_is_refused_and_the_class_is_unchanged(slot_state):
    cls = sa.SingleSpike
    before = dict(vars(cls))
    target = _global("sinabs.activation.spike_generation", "SingleSpike")
    replacement = _global("sinabs.activation.spike_generation", "MultiSpike")
    state = b"}" + _text("apply") + replacement + b"s"  # {"apply": MultiSpike}
    if slot_state:
        state = b"N" + state + b"\x86"  # (None, {...}): setattr on the object
    try:
        message = _refused(PROTO2 + target + state + b"b.", "BUILD")
    finally:
        changed = {k for k in set(before) | set(vars(cls)) if vars(cls).get(k) is not before.get(k)}
        for k in changed:  # put the class back if a broken loader changed it, so later tests are unaffected
            if k in before:
                setattr(cls, k, before[k])
            else:
                delattr(cls, k)
    assert not changed, f"the file changed {sorted(changed)} of {cls.__qualname__}"
    assert "class" in message


def test_build_on_an_instance_needs_a_plain_dict():
    layer = _global("torch.nn.modules.linear", "Linear")
    newobj = layer + b")\x81"  # Linear.__new__(Linear)
    _refused(PROTO2 + newobj + b"N}\x86b.", "BUILD")  # (None, {}) slot state
    _refused(PROTO2 + newobj + b"}" + _text("__class__") + b"Ns" + b"b.", "__class__")


# ---------------------------------------------------------------------------------------------- tensors
@pytest.mark.parametrize(
    "name",
    [
        "_rebuild_sparse_tensor",
        "_rebuild_nested_tensor",
        "_rebuild_qtensor",
        "_rebuild_wrapper_subclass",
        "_rebuild_device_tensor_from_numpy",
        "_rebuild_meta_tensor_no_storage",
        "_rebuild_tensor_v3",
    ],
)
def test_only_dense_tensor_rebuilders(name):
    _refused(_call("torch._utils", name), f"torch._utils.{name}")


def test_a_sparse_tensor_with_out_of_range_indices_is_refused():
    """Such a tensor loads and corrupts memory at its first use; it must never load."""
    bad = torch.sparse_coo_tensor(torch.tensor([[0, 10**6]]), torch.ones(2), (4,), check_invariants=False)
    _refused(pickle.dumps(bad), "_rebuild_sparse_tensor")
    buf = io.BytesIO()
    torch.save(bad, buf)
    _refused(buf.getvalue(), "_rebuild_sparse_tensor")


class _Reaching:
    """Pickles as a dense tensor whose view reaches past the end of its storage."""

    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, size, stride, False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


@pytest.mark.parametrize(
    ("offset", "size", "stride", "named"),
    [
        (0, (5,), (1,), "out of range"),
        (3, (2,), (1,), "out of range"),
        (0, (2, 2), (1, 3), "out of range"),
        (0, (1 << 40,), (0,), "elements"),
        (0, (2,), (-1,), "stride"),
    ],
)
def test_a_dense_tensor_reaching_past_its_storage_is_refused(offset, size, stride, named):
    storage = torch.arange(4.0).storage()
    _refused(pickle.dumps(_Reaching(storage, offset, size, stride)), "_rebuild_tensor_v2", named)


def _rezipped(data: bytes, edit) -> bytes:
    """The archive ``data`` with ``edit(name, content)`` applied to every member, written back stored."""
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, edit(info.filename, src.read(info.filename)))
    return out.getvalue()


def test_an_archive_whose_data_member_is_shorter_than_declared_is_refused():
    buf = io.BytesIO()
    torch.save(torch.arange(16.0), buf)

    def declare_more(name, content):  # the element count follows the storage type, key and location
        if not name.endswith("data.pkl"):
            return content
        at = content.index(b"FloatStorage")
        return content[:at] + content[at:].replace(b"K\x10", b"K\x20", 1)  # 16 -> 32 elements

    patched = _rezipped(buf.getvalue(), declare_more)
    assert su.load_sinabs_model(io.BytesIO(_rezipped(buf.getvalue(), lambda n, c: c))).tolist() == list(range(16))
    _refused(patched, "bytes for 32")


# --------------------------------------------------------------------------------------- allocation bombs
def _bombs() -> dict[str, bytes]:
    return {
        "bytearray": _call("builtins", "bytearray", _long(8 << 30)),  # 8 GiB of zeros from a few dozen bytes
        "range": _call("builtins", "range", _long(1 << 40)),
        "set-range": PROTO2
        + _global("builtins", "set")
        + b"("
        + _call("builtins", "range", _long(1 << 30))[2:-1]
        + b"tR.",
        "frozenset-opcode": b"\x80\x04(" + b"K\x01" * 8 + b"\x91.",  # FROZENSET
        "frozenset-global": _call("builtins", "frozenset", b"]" + b"(" + b"K\x01" * 8 + b"e"),
        "bytearray8": b"\x80\x05\x96" + (8 << 30).to_bytes(8, "little") + b".",  # BYTEARRAY8
    }


def test_allocation_bombs_are_refused_without_allocating(tmp_path):
    out = _run_isolated(_bombs(), tmp_path, memory_mib=1536)
    for key, (kind, message) in out.items():
        assert kind == "UnsafePickleError", f"{key}: {kind}: {message[:300]}"
        assert "refuses" in message, key


def test_containers_are_bounded(monkeypatch):
    monkeypatch.setattr(safe_unpickler.SafeUnpickler, "limits", Limits(max_items=8))
    monkeypatch.setattr(safe_archive, "Limits", lambda: Limits(max_items=8))
    small, large = b"K\x01" * 8, b"K\x01" * 9
    assert su.load_sinabs_model(io.BytesIO(PROTO2 + b"](" + small + b"e.")) == [1] * 8
    _refused(PROTO2 + b"](" + large + b"e.", "list of 9 items")
    _refused(PROTO2 + b"(" + large + b"t.", "tuple of 9 items")
    _refused(PROTO2 + b"}(" + b"".join(b"K" + bytes([i]) + b"N" for i in range(9)) + b"u.", "dict of 9 items")
    _refused(b"\x80\x04\x8f(" + b"".join(b"K" + bytes([i]) for i in range(9)) + b"\x90.", "set of 9 items")


def test_memory_exhaustion_is_reported_clearly(monkeypatch):
    def exhausted(raw):
        raise MemoryError

    monkeypatch.setattr(safe_archive, "_from_bytes", exhausted)
    buf = io.BytesIO()
    torch.save(torch.nn.Linear(2, 2), buf)
    _refused(buf.getvalue(), "more memory than this process has")


# ------------------------------------------------------------------------------------------ containers
def test_compressed_and_torchscript_archives_are_refused(tmp_path):
    import zipfile

    buf = io.BytesIO()
    torch.save(torch.nn.Linear(2, 2), buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    deflated = io.BytesIO()
    with zipfile.ZipFile(deflated, "w", compression=zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            out.writestr(info.filename, src.read(info.filename))
    _refused(deflated.getvalue(), "compressed")
    script = io.BytesIO()
    torch.jit.save(torch.jit.script(torch.nn.Linear(2, 2)), script)
    _refused(script.getvalue(), "TorchScript")


@pytest.mark.parametrize("opcode", [b"i", b"o", b"\x92", b"\x82", b"\x97", b"\x98"])
def test_opcodes_a_model_never_needs_are_refused_by_name(opcode):
    import pickletools

    name = next(op.name for op in pickletools.opcodes if op.code.encode("latin-1") == opcode)
    _refused(b"\x80\x05" + opcode + b".", f"opcode {name}")


def test_the_old_storage_loader_still_works_and_names_its_replacement():
    buf = io.BytesIO()
    torch.save(torch.arange(3.0), buf)
    with pytest.warns(DeprecationWarning, match="safe_archive.safe_load"):
        loaded = safe_unpickler.restricted_load_from_bytes(buf.getvalue())
    assert loaded.tolist() == [0.0, 1.0, 2.0]


@pytest.mark.parametrize(
    "map_location",
    ["cpu", torch.device("cpu"), {"cpu": "cpu"}, lambda storage, location: storage, None],
)
def test_map_location_places_the_tensors_as_torch_load_does(map_location):
    model = torch.nn.Linear(3, 2)
    buf = io.BytesIO()
    torch.save(model, buf)
    loaded = su.load_sinabs_model(io.BytesIO(buf.getvalue()), map_location=map_location)
    assert torch.equal(loaded.weight, model.weight) and loaded.weight.device.type == "cpu"


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_a_tensor_saved_on_a_missing_device_names_the_fix():
    buf = io.BytesIO()
    torch.save(torch.nn.Linear(3, 2), buf)

    def on_cuda(name, content):  # the location string of every storage: "cpu" -> "cuda:0"
        return (
            content.replace(b"X\x03\x00\x00\x00cpu", b"X\x06\x00\x00\x00cuda:0") if name.endswith(".pkl") else content
        )

    data = _rezipped(buf.getvalue(), on_cuda)
    with pytest.raises(pickle.UnpicklingError, match="saved on 'cuda:0'.*map_location='cpu'"):
        su.load_sinabs_model(io.BytesIO(data))
    assert su.load_sinabs_model(io.BytesIO(data), map_location="cpu").weight.device.type == "cpu"
    with pytest.raises(TypeError, match="map_location"):
        su.load_sinabs_model(io.BytesIO(data), map_location=3)


@pytest.mark.parametrize(
    ("module", "name"), [("torch.storage", "_load_from_bytes"), ("torch._utils", "_rebuild_tensor_v2")]
)
def test_a_callable_of_the_table_stored_as_a_value_is_inert(module, name):
    """A file may call the table's functions (checked), but never hand one to spikekit to call later."""
    linear = _global("torch.nn.modules.linear", "Linear") + b")\x81"  # Linear.__new__(Linear)
    state = b"}" + _text("_parameters") + b"}s" + _text("later") + _global(module, name) + b"s"
    loaded = su.load_sinabs_model(io.BytesIO(PROTO2 + linear + state + b"b."))
    assert type(loaded) is torch.nn.Linear
    assert not callable(loaded.later) and name in repr(loaded.later)
