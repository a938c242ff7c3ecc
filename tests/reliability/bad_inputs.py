"""The bad-input table: one list of cases that both ``test_bad_inputs.py`` and the docs table are made from.

Each case builds a layer, feeds it one or more inputs (the last one is the one under test) and says what the user
gets: an exception of a given type whose message contains given fragments (the layer's name, what it expected,
what came), or an output that passes a check. ``stage`` says where the bad value enters: the constructor
(``construct``: building the layer is what is tested), a call (``call``), ``load_state_dict`` (``load``: the last
input is a state dict) or a call from a second thread while another thread is inside the layer (``concurrent``).
Rows of the converters and the NIR reader call a function instead of a layer: with bad arguments (``argument``:
``make`` makes the call) or on a hostile file (``file``: ``write`` writes the file into a temporary directory the
test provides, ``make`` returns the function that reads it; the fragment :data:`FILE` stands for the file's path).
``needs`` names the plugins a row needs (:data:`NEEDS`); the test skips the row, with the reason, where one is not
installed. The exception of a plugin is named as ``"module:Class"`` so that this file imports no plugin.
``pending`` holds the exact fix still needed where the layer does not yet behave as the row says; the test marks
such rows ``xfail(strict=True)``, so a fix turns them red until the mark is removed.

``docs/reliability/make_table.py`` renders :data:`CASES` into ``docs/reliability/bad-inputs.md``; a test checks
that the page holds exactly that rendering, so the page and the tests cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import pickle
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from spikekit.state import ConcurrentUseError, ShapeMismatchError


def _sl() -> Any:
    import spikekit.layers as sl

    return sl


def _act() -> Any:
    import spikekit.activation as act

    return act


def _enc() -> Any:
    import spikekit_neurons.encoders as enc

    return enc


def _sk() -> Any:
    import spikekit

    return spikekit


def _ones(v: torch.Tensor, thr: Any) -> torch.Tensor:  # a plain surrogate, so no other plugin is needed
    return torch.ones_like(v)


@dataclasses.dataclass(frozen=True)
class Case:
    """One row of the table.

    Attributes:
        id: short test id.
        layer: what is built, as shown in the table.
        bad: the input under test, as shown in the table.
        make: builds the layer.
        inputs: returns the inputs to feed, in order (earlier ones prime the state).
        raises: the exception type the user gets, or None when the input is accepted.
        fragments: substrings the message must contain (for accepted inputs: unused).
        gets: what the user gets, in words (the table's last column).
        check: for accepted inputs, a function ``(layer, output) -> None`` that asserts the documented result.
        pending: None when the behaviour holds today; else the exact fix needed (file:function).
        stage: ``call``, ``construct``, ``load``, ``concurrent``, ``argument`` or ``file`` (see the module
            docstring).
        also_is: further exception classes the error is an instance of (sinabs's class for the same input).
        needs: plugins (distribution names, keys of :data:`NEEDS`) the row needs.
        write: for ``file`` rows, ``write(directory) -> path`` writes the hostile file.
        names: what a refusal's message names when that is not the class or function in ``layer`` (default).
    """

    id: str
    layer: str
    bad: str
    make: Callable[[], Any]
    inputs: Callable[[], Sequence[Any]]
    raises: type[BaseException] | str | None
    fragments: tuple[str, ...] = ()
    gets: str = ""
    check: Callable[[Any, Any], None] | None = None
    pending: str | None = None
    stage: str = "call"
    also_is: tuple[type[BaseException], ...] = ()
    needs: tuple[str, ...] = ()
    write: Callable[[Path], Path] | None = None
    names: str | None = None

    @property
    def exception(self) -> type[BaseException] | None:
        """The class in ``raises`` (a ``"module:Class"`` name is imported now)."""
        if not isinstance(self.raises, str):
            return self.raises
        module, name = self.raises.split(":")
        return getattr(importlib.import_module(module), name)

    @property
    def exception_name(self) -> str:
        return self.raises.split(":")[-1] if isinstance(self.raises, str) else self.raises.__name__

    def run(self, path: Path | None = None) -> tuple[Any, Any]:
        """Do what the row says; returns ``(layer, output)`` (raises what the row expects).

        ``path``: for a ``file`` row, the file its ``write`` wrote.
        """
        if self.stage in ("construct", "argument"):
            return self.make(), None
        if self.stage == "file":
            assert path is not None, f"{self.id}: a file row reads the file its write wrote"
            fn = self.make()
            return fn, fn(path)
        layer = self.make()
        inputs = list(self.inputs())
        for x in inputs[:-1]:
            layer(x)
        if self.stage == "load":
            return layer, layer.load_state_dict(inputs[-1])
        if self.stage == "concurrent":
            return layer, _call_while_busy(layer, inputs[-1])
        return layer, layer(inputs[-1])


def _call_while_busy(layer: Any, x: Any) -> Any:
    """Call ``layer(x)`` while another thread is inside ``layer`` (held there by its ``rec_connect``)."""
    import threading

    inside, release = threading.Event(), threading.Event()

    class Held(nn.Module):  # the recurrent connection, made to wait inside the first thread's call
        def __init__(self, inner: nn.Module):
            super().__init__()
            self.inner = inner

        def forward(self, spikes: torch.Tensor) -> torch.Tensor:
            inside.set()
            release.wait(10)
            return self.inner(spikes)

    layer.rec_connect = Held(layer.rec_connect)
    other = threading.Thread(target=layer, args=(x,))
    other.start()
    try:
        assert inside.wait(10), "the first thread never entered the layer"
        return layer(x)
    finally:
        release.set()
        other.join(10)


def _none() -> list[Any]:
    return []


def _check_shape_dtype(shape: tuple[int, ...], dtype: torch.dtype) -> Callable[[Any, Any], None]:
    def check(layer: Any, out: Any) -> None:
        assert tuple(out.shape) == shape, (tuple(out.shape), shape)
        assert out.dtype == dtype, (out.dtype, dtype)

    return check


def _check_state_recreated(layer: Any, out: Any) -> None:
    assert tuple(out.shape) == (2, 4, 5)
    assert tuple(layer.v_mem.shape) == (2, 5)


def _check_state_on_meta_refused(layer: Any, out: Any) -> None:  # never reached: the row expects a refusal
    raise AssertionError("unreachable")


def _state_on_meta(layer: Any) -> Any:
    layer(torch.rand(2, 4, 3))
    layer.v_mem = layer.v_mem.to("meta")  # a state on another device than the next input
    return layer


# ------------------------------------------------------------------------------------ converters and NIR files
#: Stands, in ``fragments``, for the path of the file a ``file`` row wrote: the message must name it.
FILE = "{file}"

#: The plugins a row can need (distribution name -> modules that must be importable).
NEEDS: dict[str, tuple[str, ...]] = {
    "spikekit-convert": ("spikekit_convert",),
    "spikekit-nir": ("spikekit_nir", "nir", "h5py"),
}

# Hand-written protocol-0 pickles: GLOBAL 'module name', MARK, a string argument, TUPLE, REDUCE (call), STOP.
# Unpickled without restriction they would run exec("pass") / os.system("true").
_PICKLE_EXEC = b"cbuiltins\nexec\n(Vpass\ntR."
_PICKLE_OS_SYSTEM = b"cos\nsystem\n(Vtrue\ntR."


# Hand-assembled protocol-2 pickles for the holes safe loading closes (each byte string is the whole file).
_SPIKE_GEN = b"csinabs.activation.spike_generation\n"
_PICKLE_DOTTED = b"\x80\x02cspikekit.state\ntorch.nn.Module\n."  # a chain of attributes from a spikekit module
_PICKLE_MAIN = b"\x80\x02cspikekit.__main__\nmain\n."  # importing it once ran the command line
_PICKLE_BUILD_CLASS = (  # BUILD on the class SingleSpike with slot state {"apply": MultiSpike}
    b"\x80\x02" + _SPIKE_GEN + b"SingleSpike\nN}X\x05\x00\x00\x00apply" + _SPIKE_GEN + b"MultiSpike\ns\x86b."
)
_PICKLE_BYTEARRAY = b"\x80\x02cbuiltins\nbytearray\n(\x8a\x06\x00\x00\x00\x00\x02\x00tR."  # bytearray(8 GiB)
_PICKLE_FROZENSET = b"\x80\x04(K\x01K\x02\x91."  # FROZENSET


def _sparse_out_of_range() -> bytes:
    """A sparse COO tensor whose index 10**6 lies outside its size 4 (it corrupts memory at its first use)."""
    bad = torch.sparse_coo_tensor(torch.tensor([[0, 10**6]]), torch.ones(2), (4,), check_invariants=False)
    return pickle.dumps(bad)


class _PastItsStorage:
    """Pickles as a dense tensor of 8 elements over a storage of 4."""

    def __reduce__(self) -> tuple[Any, ...]:
        from collections import OrderedDict

        storage = torch.arange(4.0).untyped_storage()
        typed = torch.storage.TypedStorage(wrap_storage=storage, dtype=torch.float32, _internal=True)
        return (torch._utils._rebuild_tensor_v2, (typed, 0, (8,), (1,), False, OrderedDict()))


def _deflated_torch_save() -> bytes:
    """``torch.save(Linear(4, 4))`` with its members deflated (torch writes them stored)."""
    import zipfile

    buffer = io.BytesIO()
    torch.save(nn.Linear(4, 4), buffer)
    src, out = zipfile.ZipFile(io.BytesIO(buffer.getvalue())), io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
    return out.getvalue()


_PICKLE_DEEP_KEY = b"\x80\x02}" + b")" + b"\x85" * 300_000 + b"K\x01s."  # a key of tuples 300,000 deep
# one 4 MB string, then _codecs.encode(it, "latin1") 300 times through the memo, each result kept in a list
_PICKLE_ENCODE_AGAIN = (
    b"\x80\x02X" + (4_000_000).to_bytes(4, "little") + b"a" * 4_000_000 + b"q\x01c_codecs\nencode\nq\x02]"
    + b"h\x02h\x01X\x06\x00\x00\x00latin1\x86Ra" * 300 + b"."
)  # fmt: skip


class _OneFloatAsGigabytes:
    """Pickles as a (32768, 65536) float tensor whose strides are 0 over a storage of one element."""

    def __reduce__(self) -> tuple[Any, ...]:
        from collections import OrderedDict

        storage = torch.ones(1).untyped_storage()
        typed = torch.storage.TypedStorage(wrap_storage=storage, dtype=torch.float32, _internal=True)
        return (torch._utils._rebuild_tensor_v2, (typed, 0, (1 << 15, 1 << 16), (0, 0), False, OrderedDict()))


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _truncated_torch_save() -> bytes:
    """The first half of ``torch.save(Linear(4, 4))`` (a zip archive that stops in the middle)."""
    buffer = io.BytesIO()
    torch.save(nn.Linear(4, 4), buffer)
    data = buffer.getvalue()
    return data[: len(data) // 2]


def _ann() -> nn.Module:
    return nn.Sequential(nn.Linear(8, 4), nn.ReLU())


def _affine_graph() -> Any:
    import nir
    import numpy as np

    return nir.NIRGraph.from_list(nir.Affine(np.eye(3, dtype=np.float32), np.zeros(3, dtype=np.float32)))


def _write_nir(directory: Path, edit: Callable[[Any, str, Path], None]) -> Path:
    """A valid ``.nir`` file of one Affine node, then ``edit(h5file, affine_group_path, directory)``."""
    import h5py
    import nir

    path = directory / "model.nir"
    nir.write(path, _affine_graph())
    with h5py.File(path, "a") as f:
        affine = next(k for k in f["node/nodes"] if f[f"node/nodes/{k}/type"][()] == b"Affine")
        edit(f, f"node/nodes/{affine}", directory)
    return path


def _other_h5(directory: Path) -> Path:
    """Another local HDF5 file holding a (3, 3) dataset ``w``."""
    import h5py
    import numpy as np

    other = directory / "other.h5"
    with h5py.File(other, "w") as f:
        f["w"] = np.ones((3, 3), dtype=np.float32)
    return other


def _nir_external_storage(f: Any, node: str, directory: Path) -> None:
    import numpy as np

    secret = _write(directory / "secret.bin", np.arange(9, dtype=np.float32).tobytes())
    del f[f"{node}/weight"]
    f.create_dataset(f"{node}/weight", shape=(3, 3), dtype="f4", external=[(str(secret), 0, 36)])


def _nir_external_link(f: Any, node: str, directory: Path) -> None:
    import h5py

    del f[f"{node}/weight"]
    f[f"{node}/weight"] = h5py.ExternalLink(str(_other_h5(directory)), "/w")


def _nir_soft_link(f: Any, node: str, directory: Path) -> None:
    import h5py

    del f[f"{node}/bias"]
    f[f"{node}/bias"] = h5py.SoftLink(f"/{node}/weight")


def _nir_virtual(f: Any, node: str, directory: Path) -> None:
    import h5py

    layout = h5py.VirtualLayout(shape=(3, 3), dtype="f4")
    layout[:] = h5py.VirtualSource(str(_other_h5(directory)), "w", shape=(3, 3))
    del f[f"{node}/weight"]
    f.create_virtual_dataset(f"{node}/weight", layout)


def _nir_bomb(f: Any, node: str, directory: Path) -> None:
    # chunked, compressed and never written: 160 GB declared, a few KB on disk
    del f[f"{node}/weight"]
    f.create_dataset(f"{node}/weight", shape=(200_000, 200_000), dtype="f4", chunks=(64, 64), compression="gzip")


def _nir_missing_bias(f: Any, node: str, directory: Path) -> None:
    del f[f"{node}/bias"]


def _nir_unknown_type(f: Any, node: str, directory: Path) -> None:
    del f[f"{node}/type"]
    f[f"{node}/type"] = "NoSuchNode"


def _nir_dag(f: Any, node: str, directory: Path) -> None:
    levels = [f.create_group(f"{node}/dag/level{i}") for i in range(31)]
    for i in range(30):
        levels[i]["x"] = levels[i + 1]  # two hard links to one group
        levels[i]["y"] = levels[i + 1]


def _nir_text_weight(f: Any, node: str, directory: Path) -> None:
    del f[f"{node}/weight"]
    f[f"{node}/weight"] = "not numbers"


def _nir_compound_bias(f: Any, node: str, directory: Path) -> None:
    import numpy as np

    del f[f"{node}/bias"]
    f.create_dataset(f"{node}/bias", shape=(3,), dtype=np.dtype([("a", "<f4"), ("b", "<i4")]))


def _nir_plugin_filter(f: Any, node: str, directory: Path) -> None:
    del f[f"{node}/weight"]
    f.create_dataset(f"{node}/weight", shape=(3, 3), dtype="f4", chunks=(3, 3), compression=32018,
                     allow_unknown_filter=True)  # fmt: skip


def _nir_big_chunk(f: Any, node: str, directory: Path) -> None:
    import numpy as np

    del f[f"{node}/weight"]
    ds = f.create_dataset(f"{node}/weight", shape=(3, 3), maxshape=(None, None), chunks=(16384, 16384), dtype="f4",
                          compression="gzip", compression_opts=9)  # fmt: skip
    ds[...] = np.eye(3, dtype=np.float32)


def _nir_aliased_text(directory: Path) -> Path:
    """A valid file whose 4000 edge names all point at one 20 KB heap object (160 MB asked for by about 140 KB)."""
    import struct

    import h5py
    import nir
    import numpy as np

    path = directory / "model.nir"
    nir.write(path, _affine_graph())
    with h5py.File(path, "a") as f:
        del f["node/edges"]
        data = np.array([["x" * 20_000, "y"]] + [["y", "y"]] * 1999, dtype=object)
        offset = f.create_dataset("node/edges", data=data, dtype=h5py.string_dtype()).id.get_offset()
    raw = bytearray(path.read_bytes())
    first = bytes(raw[offset : offset + 16])  # (length, heap collection address, index) of the first string
    assert struct.unpack("<IQI", first)[0] == 20_000
    raw[offset : offset + 16 * 4000] = first * 4000
    return _write(path, bytes(raw))


def _nested(depth: int) -> Any:
    """An Affine graph wrapped ``depth`` times in a graph ``input -> sub -> output``."""
    import nir
    import numpy as np

    graph = _affine_graph()
    for _ in range(depth):
        graph = nir.NIRGraph(
            nodes={"input": nir.Input({"input": np.array([3])}), "sub": graph,
                   "output": nir.Output({"output": np.array([3])})},
            edges=[("input", "sub"), ("sub", "output")],
            type_check=False,
        )  # fmt: skip
    return graph


def _duplicate_edge() -> Any:
    graph = _affine_graph()
    graph.edges = [*graph.edges, ("input", "affine")]
    return graph


def _lif_graph(**changes: float) -> Any:
    """A graph of one LIF node of 3 neurons, with the given fields set to the given value."""
    import nir
    import numpy as np

    fields = {"tau": 4.0, "r": 1.0, "v_leak": 0.0, "v_threshold": 1.0, **changes}
    return nir.NIRGraph.from_list(nir.LIF(**{k: np.full(3, v) for k, v in fields.items()}), type_check=False)


CASES: list[Case] = [
    Case("0d", "IAF()", "0-d tensor", lambda: _sl().IAF(surrogate_grad_fn=_ones), lambda: [torch.tensor(1.0)],
         ValueError, ("IAF", "(batch, time, ...)", "got shape ()"), "ValueError: needs (batch, time, ...)"),
    Case("no-time", "LIF(tau_mem=10)", "(5,): no time dimension", lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones),
         lambda: [torch.rand(5)], ValueError, ("LIF", "time dimension", "(5,)"),
         "ValueError naming the missing time dimension"),
    Case("no-time-alif", "ALIF(tau_mem=10, tau_adapt=20)", "(5,): no time dimension",
         lambda: _sl().ALIF(tau_mem=10.0, tau_adapt=20.0, surrogate_grad_fn=_ones), lambda: [torch.rand(5)],
         ValueError, ("ALIF", "time dimension", "(5,)"), "ValueError naming the missing time dimension"),
    Case("no-time-expleak", "ExpLeak(tau_mem=10)", "(5,): no time dimension", lambda: _sl().ExpLeak(tau_mem=10.0),
         lambda: [torch.rand(5)], ValueError, ("ExpLeak", "time dimension", "(5,)"),
         "ValueError naming the missing time dimension"),
    Case("list", "LIF(tau_mem=10)", "a Python list", lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones),
         lambda: [[[1.0, 2.0]]], TypeError, ("LIF", "torch.Tensor", "list"), "TypeError: expects a torch.Tensor"),
    Case("squeeze-list", "IAFSqueeze(batch_size=2)", "a Python list",
         lambda: _sl().IAFSqueeze(batch_size=2, surrogate_grad_fn=_ones), lambda: [[[1.0, 2.0]]], TypeError,
         ("IAFSqueeze", "torch.Tensor", "list"), "TypeError: expects a torch.Tensor"),
    Case("squeeze-rows", "IAFSqueeze(batch_size=2)", "(5, 3): 5 rows, not a multiple of 2",
         lambda: _sl().IAFSqueeze(batch_size=2, surrogate_grad_fn=_ones), lambda: [torch.rand(5, 3)], ShapeMismatchError,
         ("IAFSqueeze", "(batch*time, ...)", "batch_size=2", "(5, 3)"),
         "naming batch_size and the shape; a RuntimeError as in sinabs", also_is=(ValueError, RuntimeError)),
    Case("squeeze-both", "LIFSqueeze(batch_size=2, num_timesteps=3)", "(8, 3): 8 rows, not 2*3",
         lambda: _sl().LIFSqueeze(tau_mem=10.0, batch_size=2, num_timesteps=3, surrogate_grad_fn=_ones),
         lambda: [torch.rand(8, 3)], ShapeMismatchError, ("LIFSqueeze", "num_timesteps=3", "(8, 3)"),
         "naming batch_size, num_timesteps and the shape; a RuntimeError as in sinabs",
         also_is=(ValueError, RuntimeError)),
    Case("threshold-shape", "LIF(tau_mem=10, spike_threshold=ones(4))", "(2, 3, 5): 5 neurons, 4 thresholds",
         lambda: _sl().LIF(10.0, spike_threshold=torch.ones(4), surrogate_grad_fn=_ones),
         lambda: [torch.rand(2, 3, 5)], ValueError, ("LIF", "spike_threshold of shape (4,)", "(5,)"),
         "ValueError: the per-neuron threshold does not broadcast"),
    Case("trailing-change", "LIF(tau_mem=10)", "(2, 4, 3) then (2, 4, 5): trailing dims change",
         lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones), lambda: [torch.rand(2, 4, 3), torch.rand(2, 4, 5)], None,
         gets="accepted: the state is re-created as zeros of the new shape (sinabs behaviour)",
         check=_check_state_recreated),
    Case("complex", "LIF(tau_mem=10)", "complex64", lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones),
         lambda: [torch.rand(2, 4, 3, dtype=torch.complex64)], TypeError, ("LIF", "floating-point", "complex64"),
         "TypeError: real-valued state needs a floating-point input"),
    Case("int64", "IAF()", "int64 spike counts", lambda: _sl().IAF(surrogate_grad_fn=_ones),
         lambda: [torch.randint(0, 3, (2, 4, 3))], None,
         gets="accepted: converted to the state dtype (float32); output float32",
         check=_check_shape_dtype((2, 4, 3), torch.float32)),
    Case("bool", "IAF()", "bool spikes", lambda: _sl().IAF(surrogate_grad_fn=_ones),
         lambda: [torch.rand(2, 4, 3) > 0.5], None, gets="accepted: converted to float32; output float32",
         check=_check_shape_dtype((2, 4, 3), torch.float32)),
    Case("half-into-float", "LIF(tau_mem=10)", "float16 input, float32 layer",
         lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones), lambda: [torch.rand(2, 4, 3).half()], None,
         gets="accepted: computed in float32 (type promotion with the float32 parameters); output float32",
         check=_check_shape_dtype((2, 4, 3), torch.float32)),
    Case("half-layer", "LIF(tau_mem=10).half()", "float16 input, float16 layer",
         lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones).half(), lambda: [torch.rand(2, 4, 3).half()], None,
         gets="accepted: computed in float16; output and state float16",
         check=_check_shape_dtype((2, 4, 3), torch.float16)),
    Case("double", "LIF(tau_mem=10)", "float64 input, float32 layer",
         lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones), lambda: [torch.rand(2, 4, 3).double()], None,
         gets="accepted: computed in float64 (promotion); output and state float64",
         check=_check_shape_dtype((2, 4, 3), torch.float64)),
    Case("rec-double", "IAFRecurrent(rec_connect=Linear(3, 3))", "float64 input, float32 rec_connect",
         lambda: _sl().IAFRecurrent(rec_connect=nn.Sequential(nn.Flatten(), nn.Linear(3, 3)), surrogate_grad_fn=_ones),
         lambda: [torch.rand(2, 4, 3).double()], TypeError, ("IAFRecurrent", "rec_connect", "float64"),
         "TypeError naming the layer and the dtype mismatch with rec_connect"),
    Case("empty-batch", "LIF(tau_mem=10)", "(0, 4, 3): empty batch", lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones),
         lambda: [torch.rand(0, 4, 3)], None, gets="accepted: output (0, 4, 3)",
         check=_check_shape_dtype((0, 4, 3), torch.float32)),
    Case("t0", "LIF(tau_mem=10)", "(2, 0, 3): T = 0", lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones),
         lambda: [torch.rand(2, 0, 3)], ValueError, ("LIF", "at least one time step", "(2, 0, 3)"),
         "ValueError: at least one time step"),
    Case("squeeze-empty", "IAFSqueeze(batch_size=2)", "(0, 3): no rows (T = 0)",
         lambda: _sl().IAFSqueeze(batch_size=2, surrogate_grad_fn=_ones), lambda: [torch.rand(0, 3)], ValueError,
         ("IAFSqueeze", "at least one time step"), "ValueError: at least one time step"),
    Case("t1", "LIF(tau_mem=10)", "(2, 1, 3): T = 1", lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones),
         lambda: [torch.rand(2, 1, 3)], None, gets="accepted: output (2, 1, 3)",
         check=_check_shape_dtype((2, 1, 3), torch.float32)),
    Case("state-device", "LIF(tau_mem=10), state moved to 'meta'", "(2, 4, 3) on cpu, v_mem on meta",
         lambda: _state_on_meta(_sl().LIF(10.0, surrogate_grad_fn=_ones)), lambda: [torch.rand(2, 4, 3)],
         RuntimeError, ("LIF", "v_mem", "meta", "cpu"), "RuntimeError naming the layer, the state and both devices"),
    Case("sumpool-rank", "SumPool2d(2)", "(4, 4): no channel dim", lambda: _sl().SumPool2d(2),
         lambda: [torch.rand(4, 4)], ValueError, ("SumPool2d", "(N, C, H, W)", "(4, 4)"),
         "ValueError: expects (N, C, H, W)"),
    Case("maxpool-rank", "SpikingMaxPooling2dLayer(2)", "(4, 4): no channel dim",
         lambda: _sl().SpikingMaxPooling2dLayer(2), lambda: [torch.rand(4, 4)], ValueError,
         ("SpikingMaxPooling2dLayer", "(T, C, H, W)", "(4, 4)"), "ValueError: expects (T, C, H, W)"),
    Case("crop-rank", "Cropping2dLayer(((1, 1), (1, 1)))", "(4, 4): no channel dim",
         lambda: _sl().Cropping2dLayer(((1, 1), (1, 1))), lambda: [torch.rand(4, 4)], ValueError,
         ("Cropping2dLayer", "(N, C, H, W)", "(4, 4)"), "ValueError: expects (N, C, H, W)"),
    Case("shift-rank", "ChannelShift(2)", "(4, 4): no channel dim", lambda: _sl().ChannelShift(2),
         lambda: [torch.rand(4, 4)], ValueError, ("ChannelShift", "(4, 4)"), "ValueError naming the layer"),
    Case("sig2spike-rank", "Sig2SpikeLayer(channels_in=2, tw=3)", "(2, 1, 4, 4)",
         lambda: _sl().Sig2SpikeLayer(channels_in=2, tw=3), lambda: [torch.rand(2, 1, 4, 4)], ValueError,
         ("Sig2SpikeLayer", "(channels, time)", "(2, 1, 4, 4)"), "ValueError: expects (channels, time)"),
    Case("unflatten-rows", "UnflattenTime(batch_size=2)", "(5,): 5 rows", lambda: _sl().UnflattenTime(batch_size=2),
         lambda: [torch.rand(5)], ShapeMismatchError, ("UnflattenTime", "batch_size=2", "(5,)"),
         "naming batch_size and the shape; a RuntimeError as in sinabs", also_is=(ValueError, RuntimeError)),
    Case("flatten-rank", "FlattenTime()", "(5,): one dim", lambda: _sl().FlattenTime(), lambda: [torch.rand(5)],
         ValueError, ("FlattenTime", "(batch, time, ...)", "(5,)"), "ValueError: expects (batch, time, ...)"),
    Case("nan", "LIF(tau_mem=10)", "NaN in one batch entry", lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones),
         lambda: [torch.where(torch.arange(2).view(2, 1, 1) == 0, float("nan"), torch.rand(2, 4, 3))], None,
         gets="accepted (policy: propagate, like torch layers): NaN stays in the affected batch entry",
         check=lambda layer, out: (
             _assert(bool(torch.isnan(out[0]).all()) or bool(torch.isnan(layer.v_mem[0]).all())),
             _assert(bool(torch.isfinite(out[1]).all())),
         )),
    # ---------------------------------------------------------------------------------------- constructor arguments
    *[Case(f"ctor-{cid}", layer, bad, make, _none, exc, frags, gets, stage="construct")
      for cid, layer, bad, make, exc, frags, gets in [
        ("tau-zero", "LIF(tau_mem=0)", "tau_mem = 0", lambda: _sl().LIF(tau_mem=0.0), ValueError,
         ("LIF", "tau_mem must be positive", "0.0"), "ValueError: a time constant must be positive"),
        ("tau-negative", "ExpLeak(tau_mem=-5)", "tau_mem < 0 (decay factor > 1: the trace grows)",
         lambda: _sl().ExpLeak(tau_mem=-5.0), ValueError, ("ExpLeak", "tau_mem must be positive", "-5.0"),
         "ValueError: a time constant must be positive"),
        ("tau-nan", "LIF(tau_mem=tensor([5, nan]))", "a NaN per-neuron time constant",
         lambda: _sl().LIF(tau_mem=torch.tensor([5.0, float("nan")])), ValueError,
         ("LIF", "tau_mem must be positive", "nan", "index (1,)"), "ValueError naming the first bad entry"),
        ("tau-str", "LIF(tau_mem='10')", "a string", lambda: _sl().LIF(tau_mem="10"), TypeError,
         ("LIF", "tau_mem", "number", "'10'"), "TypeError: expects a number or a tensor"),
        ("tau-syn-zero", "LIF(tau_mem=10, tau_syn=0)", "tau_syn = 0 (the synapse would pass nothing)",
         lambda: _sl().LIF(tau_mem=10.0, tau_syn=0.0), ValueError, ("LIF", "tau_syn must be positive"),
         "ValueError: a time constant must be positive"),
        ("tau-adapt-zero", "ALIF(tau_mem=10, tau_adapt=0)", "tau_adapt = 0",
         lambda: _sl().ALIF(tau_mem=10.0, tau_adapt=0.0), ValueError, ("ALIF", "tau_adapt must be positive"),
         "ValueError: a time constant must be positive"),
        ("threshold-zero", "IAF(spike_threshold=0)", "threshold 0 with MultiSpike (v / 0 spikes)",
         lambda: _sl().IAF(spike_threshold=0.0), ValueError, ("IAF", "spike_threshold must be positive", "MultiSpike"),
         "ValueError: MultiSpike divides by the threshold"),
        ("threshold-negative", "LIF(tau_mem=10, spike_threshold=-1)", "negative threshold with MultiSpike",
         lambda: _sl().LIF(tau_mem=10.0, spike_threshold=-1.0), ValueError,
         ("LIF", "spike_threshold must be positive", "-1.0"), "ValueError: MultiSpike divides by the threshold"),
        ("threshold-str", "IAF(spike_threshold='1')", "a string", lambda: _sl().IAF(spike_threshold="1"), TypeError,
         ("IAF", "spike_threshold", "number", "'1'"), "TypeError: expects a number or a tensor"),
        ("threshold-subtract-zero", "IAF(spike_threshold=0, spike_fn=SingleSpike)",
         "threshold 0 with the subtractive reset (never lowers v_mem)",
         lambda: _sl().IAF(spike_threshold=0.0, spike_fn=_act().SingleSpike), ValueError,
         ("IAF", "spike_threshold must be non-zero", "MembraneSubtract"), "ValueError naming the reset"),
        ("max-spike-zero", "IAF(spike_fn=MaxSpike(0))", "a spike limit of 0",
         lambda: _sl().IAF(spike_fn=_act().MaxSpike(0)), ValueError,
         ("IAF", "max_num_spikes_per_bin", "positive whole number", "got 0"), "ValueError: the limit must be >= 1"),
        ("max-spike-class", "IAF(spike_fn=MaxSpike)", "the class MaxSpike, not an instance",
         lambda: _sl().IAF(spike_fn=_act().MaxSpike), TypeError, ("IAF", "MaxSpike(2)", "class"),
         "TypeError: MaxSpike needs an instance with its limit"),
        ("spike-fn-str", "IAF(spike_fn='MultiSpike')", "a string", lambda: _sl().IAF(spike_fn="MultiSpike"),
         TypeError, ("IAF", "spike_fn must be a spike function", "'MultiSpike'"), "TypeError naming what fits"),
        ("subtract-zero", "IAF(reset_fn=MembraneSubtract(subtract_value=0))", "subtract_value = 0",
         lambda: _sl().IAF(reset_fn=_act().MembraneSubtract(subtract_value=0.0)), ValueError,
         ("IAF", "subtract_value must be non-zero"), "ValueError: 0 never lowers v_mem"),
        ("reset-value-str", "IAF(reset_fn=MembraneReset(reset_value='0'))", "a string reset value",
         lambda: _sl().IAF(reset_fn=_act().MembraneReset(reset_value="0")), TypeError,
         ("IAF", "reset_value", "number", "'0'"), "TypeError: expects a number"),
        ("reset-class", "IAF(reset_fn=MembraneReset)", "the class, not an instance",
         lambda: _sl().IAF(reset_fn=_act().MembraneReset), TypeError, ("IAF", "MembraneReset()", "class"),
         "TypeError: pass an instance"),
        ("min-v-mem-nan", "LIF(tau_mem=10, min_v_mem=nan)", "a NaN floor",
         lambda: _sl().LIF(tau_mem=10.0, min_v_mem=float("nan")), ValueError, ("LIF", "min_v_mem", "finite"),
         "ValueError: the floor must be a finite number (or -inf)"),
        ("squeeze-negative", "IAFSqueeze(batch_size=-2)", "batch_size = -2",
         lambda: _sl().IAFSqueeze(batch_size=-2), ValueError, ("IAFSqueeze", "batch_size", "positive", "-2"),
         "ValueError: a positive whole number"),
        ("squeeze-fraction", "LIFSqueeze(tau_mem=10, num_timesteps=2.5)", "num_timesteps = 2.5",
         lambda: _sl().LIFSqueeze(tau_mem=10.0, num_timesteps=2.5), ValueError,
         ("LIFSqueeze", "num_timesteps", "whole number", "2.5"), "ValueError: a positive whole number"),
        ("rec-not-module", "IAFRecurrent(rec_connect='linear')", "a string", lambda: _sl().IAFRecurrent("linear"),
         TypeError, ("IAFRecurrent", "rec_connect must be a module", "'linear'"), "TypeError naming what fits"),
        ("unflatten-zero", "UnflattenTime(batch_size=0)", "batch_size = 0", lambda: _sl().UnflattenTime(batch_size=0),
         ValueError, ("UnflattenTime", "batch_size must be a positive int", "0"), "ValueError: a positive int"),
        ("repeat-not-module", "Repeat('conv')", "not a module", lambda: _sl().Repeat("conv"), TypeError,
         ("Repeat", "torch.nn.Module", "str"), "TypeError: expects a module"),
        ("crop-negative", "Cropping2dLayer(((-1, 0), (0, 0)))", "a negative crop",
         lambda: _sl().Cropping2dLayer(((-1, 0), (0, 0))), ValueError, ("Cropping2dLayer", "non-negative ints"),
         "ValueError: ((top, bottom), (left, right)) of non-negative ints"),
        ("img2spike-norm", "Img2SpikeLayer(None, norm=0)", "norm = 0 (divides by zero)",
         lambda: _sl().Img2SpikeLayer(None, norm=0), ValueError, ("Img2SpikeLayer", "norm must be positive"),
         "ValueError: a normalisation constant must be positive"),
        ("sig2spike-norm", "Sig2SpikeLayer(2, norm_level=0)", "norm_level = 0",
         lambda: _sl().Sig2SpikeLayer(2, norm_level=0), ValueError, ("Sig2SpikeLayer", "norm_level must be positive"),
         "ValueError: a normalisation constant must be positive"),
        ("sig2spike-tw", "Sig2SpikeLayer(2, tw=0)", "tw = 0", lambda: _sl().Sig2SpikeLayer(2, tw=0), ValueError,
         ("Sig2SpikeLayer", "tw must be a positive whole number"), "ValueError: a positive whole number"),
        ("rate-gain", "RateEncoder(num_steps=10, gain=-1)", "a negative gain",
         lambda: _enc().RateEncoder(10, gain=-1.0), ValueError, ("RateEncoder", "gain", "> 0", "-1.0"),
         "ValueError: a finite number > 0"),
        ("latency-tau", "LatencyEncoder(num_steps=10, tau=5, threshold=0)", "RC variant with threshold 0",
         lambda: _enc().LatencyEncoder(10, tau=5.0, threshold=0.0), ValueError,
         ("LatencyEncoder", "needs threshold > 0"), "ValueError: every input would spike at step 0"),
        ("delta-threshold", "DeltaEncoder(threshold=0)", "threshold 0", lambda: _enc().DeltaEncoder(threshold=0.0),
         ValueError, ("DeltaEncoder", "threshold", "> 0"), "ValueError: a finite number > 0"),
        ("nrelu-fanout", "NeuromorphicReLU(fanout=-1)", "a negative fan-out",
         lambda: _sl().NeuromorphicReLU(fanout=-1), ValueError, ("NeuromorphicReLU", "fanout must be non-negative"),
         "ValueError: non-negative"),
        ("quantize-flag", "QuantizeLayer(quantize='yes')", "a string flag", lambda: _sl().QuantizeLayer("yes"),
         TypeError, ("QuantizeLayer", "True or False", "'yes'"), "TypeError: True or False"),
        ("channel-shift", "ChannelShift(-1)", "a negative shift (would cut channels)", lambda: _sl().ChannelShift(-1),
         ValueError, ("ChannelShift", "channel_shift", ">= 0", "-1"), "ValueError: a whole number >= 0"),
    ]],
    # values sinabs accepts and uses meaningfully: still accepted
    Case("ctor-tau-inf", "LIF(tau_mem=inf)", "tau_mem = inf (no leak)",
         lambda: _sl().LIF(tau_mem=float("inf"), norm_input=False, surrogate_grad_fn=_ones),
         lambda: [torch.tensor([[0.4, 0.4, 0.4]])], None,
         gets="accepted: no leak, integrates like IAF (output [0, 0, 1])",
         check=lambda layer, out: _assert(torch.equal(out, torch.tensor([[0.0, 0.0, 1.0]])))),
    Case("ctor-single-zero", "IAF(spike_threshold=0, spike_fn=SingleSpike, reset_fn=MembraneReset())",
         "threshold 0 with SingleSpike and a reset to 0",
         lambda: _sl().IAF(spike_threshold=0.0, spike_fn=_act().SingleSpike, reset_fn=_act().MembraneReset(),
                           surrogate_grad_fn=_ones),
         lambda: [torch.tensor([[-1.0, 2.0, 0.0]])], None,
         gets="accepted: SingleSpike compares v_mem >= 0 (input [-1, 2, 0] gives [0, 1, 1])",
         check=lambda layer, out: _assert(torch.equal(out, torch.tensor([[0.0, 1.0, 1.0]])))),
    Case("ctor-alif-tau-syn-zero", "ALIF(tau_mem=10, tau_adapt=20, tau_syn=0)", "tau_syn = 0",
         lambda: _sl().ALIF(tau_mem=10.0, tau_adapt=20.0, tau_syn=0, surrogate_grad_fn=_ones),
         lambda: [torch.rand(1, 3, 2)], None, gets="accepted: as in sinabs, 0 means no synapse (no tau_syn Parameter)",
         check=lambda layer, out: _assert(layer.tau_syn is None and tuple(out.shape) == (1, 3, 2))),
    # ------------------------------------------------------------------------------------- calls: shapes that don't fit
    Case("crop-too-big", "Cropping2dLayer(((2, 2), (0, 0)))", "(1, 1, 4, 4): crops all 4 rows",
         lambda: _sl().Cropping2dLayer(((2, 2), (0, 0))), lambda: [torch.rand(1, 1, 4, 4)], ValueError,
         ("Cropping2dLayer", "does not fit", "(1, 1, 4, 4)", "height > 4"), "ValueError: the crop does not fit"),
    Case("rec-wrong-size", "LIFRecurrent(tau_mem=10, rec_connect=Linear(3, 4))", "(2, 4, 3): 3 neurons, 4 outputs",
         lambda: _sl().LIFRecurrent(tau_mem=10.0, rec_connect=nn.Sequential(nn.Flatten(), nn.Linear(3, 4)),
                                    surrogate_grad_fn=_ones),
         lambda: [torch.rand(2, 4, 3)], ShapeMismatchError,
         ("LIFRecurrent", "rec_connect", "(2, 4)", "expected 6 values"),
         "naming both shapes; a RuntimeError as in sinabs", also_is=(ValueError, RuntimeError)),
    # ------------------------------------------------------------------------------------------------- load_state_dict
    Case("load-mixed-states", "LIF(tau_mem=10, tau_syn=5)", "v_mem (2, 3) with i_syn (3, 3)",
         lambda: _sl().LIF(tau_mem=10.0, tau_syn=5.0),
         lambda: [_state_dict(_sl().LIF(tau_mem=10.0, tau_syn=5.0), v_mem=torch.zeros(2, 3), i_syn=torch.zeros(3, 3))],
         RuntimeError, ("LIF", "different shapes", "v_mem (2, 3)", "i_syn (3, 3)"),
         "RuntimeError (torch's load error) naming the layer and both states", stage="load"),
    Case("load-0d-state", "IAF()", "a 0-d v_mem", lambda: _sl().IAF(),
         lambda: [_state_dict(_sl().IAF(), v_mem=torch.tensor(0.5))], RuntimeError, ("IAF", "'v_mem' is 0-d"),
         "RuntimeError (torch's load error) naming the layer and the state", stage="load"),
    Case("load-new-batch", "IAF() that has not seen input", "v_mem (4, 3) from a checkpoint", lambda: _sl().IAF(),
         lambda: [_state_dict(_sl().IAF(), v_mem=torch.full((4, 3), 0.25))], None,
         gets="accepted: the state takes the checkpoint's shape (sinabs: size mismatch)", stage="load",
         check=lambda layer, out: _assert(torch.equal(layer.v_mem, torch.full((4, 3), 0.25)))),
    # ------------------------------------------------------------------------------------------------------- threads
    Case("two-threads", "IAFRecurrent(rec_connect=Linear(3, 3))", "a call while another thread is inside the layer",
         lambda: _sl().IAFRecurrent(rec_connect=nn.Sequential(nn.Flatten(), nn.Linear(3, 3)), surrogate_grad_fn=_ones),
         lambda: [torch.rand(2, 4, 3)], ConcurrentUseError, ("IAFRecurrent", "not thread-safe", "copy.deepcopy"),
         "in the second thread; the first thread's call completes", also_is=(RuntimeError,),
         stage="concurrent"),
    # ===================================================== converters (spikekit-convert) and NIR (spikekit-nir)
    # --------------------------------------------------------------------- load_sinabs_model: untrusted pickles
    Case("pickle-exec", "load_sinabs_model(path)", "a pickle whose code calls builtins.exec",
         lambda: _sk().utils.load_sinabs_model, _none, "spikekit_convert.safe_unpickler:UnsafePickleError",
         ("load_sinabs_model", "safe loading refuses builtins.exec", "weights_only=False", FILE),
         "refused before anything in the file runs", also_is=(pickle.UnpicklingError,), stage="file",
         needs=("spikekit-convert",), write=lambda d: _write(d / "model.pth", _PICKLE_EXEC)),
    Case("pickle-os-system", "load_sinabs_model(path)", "a pickle whose code calls os.system",
         lambda: _sk().utils.load_sinabs_model, _none, "spikekit_convert.safe_unpickler:UnsafePickleError",
         ("load_sinabs_model", "safe loading refuses os.system", FILE),
         "refused before anything in the file runs", also_is=(pickle.UnpicklingError,), stage="file",
         needs=("spikekit-convert",), write=lambda d: _write(d / "model.pth", _PICKLE_OS_SYSTEM)),
    Case("pickle-truncated", "load_sinabs_model(path)", "the first half of a torch.save file",
         lambda: _sk().utils.load_sinabs_model, _none, pickle.UnpicklingError,
         ("load_sinabs_model", "the file is truncated, corrupt", FILE), "naming the file", stage="file",
         needs=("spikekit-convert",), write=lambda d: _write(d / "model.pth", _truncated_torch_save())),
    # ------------------------------------------------------------------------ from_nir: untrusted .nir files
    *[Case(f"nir-{cid}", "from_nir(path)", bad, lambda: _sk().from_nir, _none,
           "spikekit_nir.conventions:ConversionError", ("from_nir", *frags, FILE), gets, also_is=(ValueError,),
           stage="file", needs=("spikekit-nir",), write=lambda d, edit=edit: _write_nir(d, edit))
      for cid, bad, edit, frags, gets in [
        ("external-storage", "Affine weight stored in another local file (HDF5 external storage)",
         _nir_external_storage, ("field 'weight'", "the dataset keeps its data in external files"),
         "refused, naming the node and the field"),
        ("external-link", "Affine weight an HDF5 external link to another file", _nir_external_link,
         ("field 'weight'", "external link to"), "refused, naming the node and the field"),
        ("soft-link", "Affine bias a soft link to the weight", _nir_soft_link, ("field 'bias'", "soft link to"),
         "refused, naming the node and the field"),
        ("virtual", "Affine weight a virtual dataset mapping another file", _nir_virtual,
         ("field 'weight'", "is virtual"), "refused, naming the node and the field"),
        ("bomb", "Affine weight declaring 200000 x 200000 float32 (160 GB) in a file of a few KB", _nir_bomb,
         ("field 'weight'", "declares 160000000000 bytes", "more than max_bytes"),
         "refused from the size the file declares"),
        ("missing-field", "Affine node without its bias", _nir_missing_bias, ("field 'bias': missing",),
         "naming the node and the field"),
        ("unknown-type", "a node of type 'NoSuchNode'", _nir_unknown_type,
         ("field 'type'", "unknown NIR node type 'NoSuchNode'"), "naming the node and the known types"),
        ("text-weight", "Affine weight stored as text", _nir_text_weight, ("field 'weight'", "expected numbers"),
         "naming the node and the field"),
    ]],
    # ------------------------------------------------------------------------------------- from_nir: graphs
    Case("nir-nested", "from_nir(graph)", "250 graphs nested in one another", lambda: _sk().from_nir(_nested(250)),
         _none, "spikekit_nir.conventions:ConversionError", ("from_nir", "nested 33 deep", "max_depth=32"),
         "refused at depth 33 (no RecursionError)", also_is=(ValueError,), stage="argument",
         needs=("spikekit-nir",)),
    Case("nir-duplicate-edge", "from_nir(graph)", "the edge ('input', 'affine') twice",
         lambda: _sk().from_nir(_duplicate_edge()), _none, "spikekit_nir.conventions:ConversionError",
         ("from_nir", "('input', 'affine')", "appears twice"), "a repeated edge would double the node's input",
         also_is=(ValueError,), stage="argument", needs=("spikekit-nir",)),
    *[Case(f"nir-lif-{cid}", "from_nir(graph, batch_size=1)", bad,
           lambda field=field, value=value: _sk().from_nir(_lif_graph(**{field: value}), batch_size=1), _none,
           "spikekit_nir.conventions:ConversionError", ("from_nir", f"'lif' (LIF), field '{field}'", frag),
           "naming the node and the field", also_is=(ValueError,), stage="argument", needs=("spikekit-nir",))
      for cid, bad, field, value, frag in [
        ("threshold-zero", "LIF v_threshold 0", "v_threshold", 0.0, "must be > 0"),
        ("threshold-nan", "LIF v_threshold NaN", "v_threshold", float("nan"), "contains NaN"),
        ("tau-zero", "LIF tau 0", "tau", 0.0, "time constants must be > 0"),
    ]],
    # ----------------------------------------------------------------------------------------------- to_nir
    Case("to-nir-layout", "to_nir(Sequential(Linear(3, 4), IAF()), x, ignore_dims=(0,))",
         "x of shape (2, 5, 3): plain layers take (B, T, ...), so dim 1 is time, not data",
         lambda: _sk().to_nir(nn.Sequential(nn.Linear(3, 4), _sl().IAF()), torch.rand(2, 5, 3), ignore_dims=(0,)),
         _none, "spikekit_nir.conventions:ConversionError", ("to_nir", "type check", "ignore_dims=(0,)", "(0, 1)"),
         "says which ignore_dims to pass", also_is=(ValueError,), stage="argument", needs=("spikekit-nir",)),
    # ------------------------------------------------------------------ from_model, Network, normalize_weights
    Case("from-model-not-module", "from_model(model)", "a string, not a module",
         lambda: _sk().from_model("resnet18"), _none, TypeError,
         ("from_model: model must be a torch.nn.Module", "str", "'resnet18'"), "naming the argument and what came",
         stage="argument", needs=("spikekit-convert",)),
    Case("from-model-shape-zero", "from_model(ann, input_shape=(2, 0, 8))", "a 0 in the shape",
         lambda: _sk().from_model(_ann(), input_shape=(2, 0, 8), batch_size=1), _none, ValueError,
         ("from_model: input_shape", "positive ints", "(2, 0, 8)"), "naming the argument and what came",
         stage="argument", needs=("spikekit-convert",)),
    Case("from-model-shape-misfit", "from_model(ann, input_shape=(3,))",
         "ann = Sequential(Linear(8, 4), ReLU()): 3 features where Linear takes 8",
         lambda: _sk().from_model(_ann(), input_shape=(3,), batch_size=1), _none, RuntimeError,
         ("Network: input_shape (3,)", "does not fit the model", "layer '0' (Linear)", "(1, 3)"),
         "the class the layer raised, re-raised by the Network that from_model builds, naming the shape and the "
         "layer", stage="argument", needs=("spikekit-convert",), names="Network"),
    Case("from-model-bias-rescaling", "from_model(ann, bias_rescaling=0)", "bias_rescaling = 0 (divides the biases)",
         lambda: _sk().from_model(_ann(), bias_rescaling=0), _none, ValueError,
         ("from_model", "bias_rescaling", "finite and non-zero", "got 0"), "naming the argument and what came",
         stage="argument", needs=("spikekit-convert",)),
    Case("network-not-module", "Network(ann, 'x')", "a string as the spiking model",
         lambda: _sk().Network(_ann(), "x"), _none, TypeError,
         ("Network: spiking_model must be a torch.nn.Module", "str"), "naming the argument and what came",
         stage="argument", needs=("spikekit-convert",)),
    Case("normalize-percentile", "normalize_weights(ann, x, ['1'], ['0'], percentile=101)", "percentile = 101",
         lambda: _sk().utils.normalize_weights(_ann(), torch.rand(4, 8), ["1"], ["0"], percentile=101), _none,
         ValueError, ("normalize_weights", "percentile must be a number in [0, 100]", "101"),
         "naming the argument and what came", stage="argument", needs=("spikekit-convert",)),
    # ------------------------------------------------- safe loading and the .nir reader: the holes closed since
    *[Case(f"pickle-{cid}", "load_sinabs_model(path)", bad, lambda: _sk().utils.load_sinabs_model, _none,
           "spikekit_convert.safe_unpickler:UnsafePickleError", ("load_sinabs_model", *frags, FILE), gets,
           also_is=(pickle.UnpicklingError,), stage="file", needs=("spikekit-convert",),
           write=lambda d, data=data: _write(d / "model.pth", data()))
      for cid, bad, data, frags, gets in [
        ("dotted-name", "a pickle naming spikekit.state.torch.nn.Module (a dotted name)", lambda: _PICKLE_DOTTED,
         ("safe loading refuses spikekit.state.torch.nn.Module",), "refused: only exact (module, qualname) pairs"),
        ("main", "a 27-byte pickle naming spikekit.__main__.main", lambda: _PICKLE_MAIN,
         ("safe loading refuses spikekit.__main__.main",), "refused, nothing imported (no SystemExit)"),
        ("build-class", "BUILD on the class SingleSpike, replacing its apply", lambda: _PICKLE_BUILD_CLASS,
         ("BUILD on the class", "never on classes"), "refused; the class is unchanged"),
        ("sparse", "a sparse COO tensor with out-of-range indices", _sparse_out_of_range,
         ("safe loading refuses torch._utils._rebuild_sparse_tensor",), "refused: dense tensors only"),
        ("past-storage", "a dense tensor of 8 elements over a storage of 4", lambda: pickle.dumps(_PastItsStorage()),
         ("_rebuild_tensor_v2", "out of range"), "refused before any element is read"),
        ("bytearray-bomb", "a 34-byte pickle calling bytearray(8 GiB)", lambda: _PICKLE_BYTEARRAY,
         ("safe loading refuses builtins.bytearray",), "refused before anything is allocated"),
        ("frozenset", "a FROZENSET opcode", lambda: _PICKLE_FROZENSET, ("opcode FROZENSET",),
         "refused, naming the opcode"),
        ("deflated", "a torch.save archive whose members are deflated (an archive bomb's form)", _deflated_torch_save,
         ("compressed archive member",), "refused before anything is inflated"),
    ]],
    *[Case(f"pickle-{cid}", "load_sinabs_model(path)", bad, lambda: _sk().utils.load_sinabs_model, _none,
           "spikekit_convert.safe_unpickler:UnsafePickleError", ("load_sinabs_model", *frags, FILE), gets,
           also_is=(pickle.UnpicklingError,), stage="file", needs=("spikekit-convert",),
           write=lambda d, data=data: _write(d / "model.pth", data()))
      for cid, bad, data, frags, gets in [
        ("deep-key", "a dict key of tuples nested 300,000 deep (its hash overflowed the C stack: SIGSEGV)",
         lambda: _PICKLE_DEEP_KEY, ("nested too deep", "as a key of a dict"), "refused before the key is hashed"),
        ("copied-again", "a 4 MB string handed to _codecs.encode 300 times through the memo (1.2 GB of copies)",
         lambda: _PICKLE_ENCODE_AGAIN, ("_codecs.encode", "copy more than"),
         "refused once the copies exceed a few bytes per byte of the file"),
        ("expanded-view", "one stored float viewed as a (32768, 65536) weight with strides 0 (8 GiB once used)",
         lambda: pickle.dumps(_OneFloatAsGigabytes()), ("_rebuild_tensor_v2", "repeated from a smaller storage"),
         "refused: views larger than their storage are bounded"),
    ]],
    *[Case(f"nir-{cid}", "from_nir(path)", bad, lambda: _sk().from_nir, _none,
           "spikekit_nir.conventions:ConversionError", ("from_nir", *frags, FILE), gets, also_is=(ValueError,),
           stage="file", needs=("spikekit-nir",), write=lambda d, edit=edit: _write_nir(d, edit))
      for cid, bad, edit, frags, gets in [
        ("compound", "Affine bias of an HDF5 compound type", _nir_compound_bias,
         ("field 'bias'", "not numbers or text"), "refused, naming the node and the field"),
        ("plugin-filter", "Affine weight compressed with HDF5 filter 32018 (HDF5 would look for a plugin library)",
         _nir_plugin_filter, ("field 'weight'", "HDF5 filter 32018"), "refused before any data is read"),
        ("big-chunk", "Affine weight of 3 x 3 in one compressed 16384 x 16384 chunk (1 GiB to decompress, 1 MB file)",
         _nir_big_chunk, ("field 'weight'", "declares 1073741824 bytes", "more than max_bytes"),
         "refused: a chunk counts against max_bytes"),
    ]],
    Case("nir-aliased-text", "from_nir(path)",
         "4000 edge names all pointing at one 20 KB HDF5 heap object (160 MB asked for by a 140 KB file)",
         lambda: _sk().from_nir, _none, "spikekit_nir.conventions:ConversionError",
         ("from_nir", "field 'edges'", "sharing one heap object", FILE),
         "refused once the text read exceeds the file's size", also_is=(ValueError,), stage="file",
         needs=("spikekit-nir",), write=_nir_aliased_text),
    Case("nir-dag", "from_nir(path)",
         "Affine node holding 30 groups that each hard-link the next twice (2**30 paths, a few KB)",
         lambda: _sk().from_nir, _none, "spikekit_nir.conventions:ConversionError",
         ("from_nir", "second hard link to the HDF5 object", FILE), "refused at the second link: each object is read once",
         also_is=(ValueError,), stage="file", needs=("spikekit-nir",), write=lambda d: _write_nir(d, _nir_dag)),
]  # fmt: skip


def _assert(cond: bool) -> None:
    assert cond


def _state_dict(layer: Any, **states: torch.Tensor) -> dict[str, Any]:
    """``layer``'s state dict with some states replaced (as a checkpoint could hold them)."""
    sd = dict(layer.state_dict())
    sd.update(states)
    return sd


_WHEN = {
    "call": "call",
    "construct": "construction",
    "load": "`load_state_dict`",
    "concurrent": "two threads",
    "argument": "arguments",
    "file": "reads a file",
}
_FUNCTION_STAGES = {"argument", "file"}

_FUNCTIONS_INTRO = (
    "Calls of the converters (spikekit-convert) and of the NIR reader and writer (spikekit-nir). A *reads a file* "
    "row writes the hostile file into a temporary directory and passes its path; the message names that path. "
    "These rows need the plugin named in their status column, and are skipped (with the reason) where it is not "
    "installed."
)


def _got(c: Case) -> str:
    if c.raises is None:
        return c.gets
    also = f" (also a {' and a '.join(f'`{cls.__name__}`' for cls in c.also_is)})" if c.also_is else ""
    shown = ", ".join("the file's path" if f == FILE else f"`{f}`" for f in c.fragments)
    return f"`{c.exception_name}`{also}: {c.gets}; message contains {shown}"


def _rows(cases: Sequence[tuple[int, Case]], what: str) -> list[str]:
    rows = [f"| # | {what} | when | bad input | what the user gets | status |", "|---|---|---|---|---|---|"]
    for i, c in cases:
        needs = f"; needs {', '.join(c.needs)}" if c.needs else ""
        status = f"holds (tested{needs})" if c.pending is None else f"**pending fix** ({c.pending})"
        cells = [str(i), f"`{c.layer}`", _WHEN[c.stage], c.bad, _got(c), status]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return rows


def render_table(cases: Sequence[Case] = CASES) -> str:
    """The markdown of the docs page's generated section: one table for the layers, one for the functions."""
    numbered = list(enumerate(cases, 1))
    layers = [(i, c) for i, c in numbered if c.stage not in _FUNCTION_STAGES]
    functions = [(i, c) for i, c in numbered if c.stage in _FUNCTION_STAGES]
    lines = ["## Layers", "", *_rows(layers, "layer")]
    if functions:
        lines += ["", "## Converters and NIR files", "", _FUNCTIONS_INTRO, "", *_rows(functions, "call")]
    return "\n".join(lines) + "\n"
