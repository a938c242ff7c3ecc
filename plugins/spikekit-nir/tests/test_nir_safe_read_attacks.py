"""Attacks on the ``.nir`` reader as it stands: variable-length data pointing many elements at one heap object,
types that are not numbers or text, filters HDF5 would load a plugin library for."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import textwrap

import h5py
import nir
import numpy as np
import pytest
import torch

import spikekit
from spikekit_nir import ConversionError


def _graph() -> nir.NIRGraph:
    return nir.NIRGraph.from_list(nir.Affine(np.eye(3, dtype=np.float32), np.zeros(3, dtype=np.float32)))


def _aliased_edges(path, rows: int, size: int) -> int:
    """A valid file whose ``edges`` dataset (``rows`` x 2 strings) then has every element point at the heap object
    of its first string, ``size`` bytes long: reading it asks for ``2 * rows * size`` bytes. Returns that."""
    nir.write(path, _graph())
    with h5py.File(path, "a") as f:
        del f["node/edges"]
        data = np.array([["x" * size, "y"]] + [["y", "y"]] * (rows - 1), dtype=object)
        offset = f.create_dataset("node/edges", data=data, dtype=h5py.string_dtype()).id.get_offset()
    raw = bytearray(path.read_bytes())
    first = raw[offset : offset + 16]  # (length u32, heap collection address u64, index u32)
    assert struct.unpack("<IQI", first)[0] == size
    for i in range(1, 2 * rows):
        raw[offset + 16 * i : offset + 16 * (i + 1)] = first
    path.write_bytes(raw)
    return 2 * rows * size


def test_text_whose_elements_share_one_heap_object_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "aliased.nir"
    asked = _aliased_edges(path, rows=4000, size=200_000)
    assert asked > 1000 * path.stat().st_size  # 1.6 GB asked for by a file of under 1 MB
    script = textwrap.dedent(
        """
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        import spikekit
        try:
            spikekit.from_nir(sys.argv[1])
            out = ["loaded", ""]
        except BaseException as exc:
            out = [type(exc).__name__, str(exc)]
        # the peak resident size of this process image (ru_maxrss would include the forking parent's)
        status = open("/proc/self/status").read() if sys.platform == "linux" else ""
        peak = [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")]
        out.append(peak[0] if peak else 0)
        print(json.dumps(out))
        """
    )
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-1500:]
    kind, message, max_rss_kib = json.loads(done.stdout.strip().splitlines()[-1])
    assert kind == "ConversionError", (kind, message[:300])
    assert "sharing one heap object" in message and "'edges'" in message, message
    assert max_rss_kib < 1 << 20, f"refusing the file took {max_rss_kib} KiB"


def test_text_written_normally_still_loads(tmp_path):
    graph = nir.NIRGraph.from_list(
        *(nir.Affine(np.eye(3, dtype=np.float32), np.zeros(3, np.float32)) for _ in range(40))
    )
    nir.write(tmp_path / "long.nir", graph)
    assert len(list(spikekit.from_nir(tmp_path / "long.nir").children())) >= 40


@pytest.mark.parametrize(
    "dtype",
    [
        np.dtype([("a", "<f4"), ("b", "<i4")]),  # compound
        np.dtype("V8"),  # opaque
        np.dtype(("<f4", (2,))),  # array type
        h5py.ref_dtype,  # object references
    ],
    ids=["compound", "opaque", "array", "reference"],
)
def test_types_that_are_not_numbers_or_text_are_refused(tmp_path, dtype):
    path = tmp_path / "model.nir"
    nir.write(path, _graph())
    with h5py.File(path, "a") as f:
        key = next(f"node/nodes/{k}/bias" for k in f["node/nodes"] if "bias" in f[f"node/nodes/{k}"])
        del f[key]
        f.create_dataset(key, shape=(3,), dtype=dtype)
    with pytest.raises(ConversionError, match=r"field 'bias'.*not numbers or text"):
        spikekit.from_nir(path)


def test_a_filter_hdf5_would_load_a_plugin_for_is_refused_before_any_read(tmp_path, monkeypatch):
    path = tmp_path / "model.nir"
    nir.write(path, _graph())
    with h5py.File(path, "a") as f:
        key = next(f"node/nodes/{k}/weight" for k in f["node/nodes"] if "weight" in f[f"node/nodes/{k}"])
        del f[key]
        f.create_dataset(key, shape=(3, 3), dtype="f4", chunks=(3, 3), compression=32018, allow_unknown_filter=True)
    reads = []
    original = h5py.Dataset.__getitem__

    def counting(self, item):
        reads.append(self.name)
        return original(self, item)

    monkeypatch.setattr(h5py.Dataset, "__getitem__", counting)
    with pytest.raises(ConversionError, match=r"field 'weight'.*HDF5 filter 32018"):
        spikekit.from_nir(path)
    assert reads == []


def test_a_chunk_larger_than_its_dataset_counts_against_max_bytes(tmp_path):
    """Reading decompresses whole chunks: a 3 x 3 dataset in one 1024 x 1024 chunk costs 4 MiB, not 36 bytes (with
    16384 x 16384, a 1 MB file made the reader allocate 1 GiB)."""
    path = tmp_path / "model.nir"
    nir.write(path, _graph())
    with h5py.File(path, "a") as f:
        key = next(f"node/nodes/{k}/weight" for k in f["node/nodes"] if "weight" in f[f"node/nodes/{k}"])
        del f[key]
        big = f.create_dataset(
            key, shape=(3, 3), maxshape=(None, None), chunks=(1024, 1024), dtype="f4", compression="gzip"
        )
        big[...] = np.eye(3, dtype=np.float32)
    with pytest.raises(ConversionError, match=r"field 'weight'.*declares 4194304 bytes.*chunks \(1024, 1024\)"):
        spikekit.from_nir(path, max_bytes=1 << 20)
    assert isinstance(spikekit.from_nir(path, max_bytes=8 << 20), torch.nn.Module)
