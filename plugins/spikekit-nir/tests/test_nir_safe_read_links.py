"""The ``.nir`` reader reads every HDF5 object once, and bounds the number of NIR nodes.

HDF5 hard links let many paths lead to one object: ``k`` groups each linking the next one twice make ``2**k``
paths in a file of a few KB. A reader that walks paths instead of objects spends exponential time on such a file.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap

import h5py
import nir
import numpy as np
import pytest

from spikekit_nir import ConversionError
from spikekit_nir.safe_read import DEFAULT_MAX_NODES, read_nir


def _chain(n: int) -> nir.NIRGraph:
    nodes = {"input": nir.Input(input_type={"input": np.array([3])})}
    for i in range(n):
        nodes[f"a{i}"] = nir.Affine(np.eye(3, dtype=np.float32), np.zeros(3, dtype=np.float32))
    nodes["output"] = nir.Output(output_type={"output": np.array([3])})
    edges = [("input", "a0")] + [(f"a{i}", f"a{i + 1}") for i in range(n - 1)] + [(f"a{n - 1}", "output")]
    return nir.NIRGraph(nodes=nodes, edges=edges)


def _write(path, graph) -> None:
    nir.write(path, graph)


def _add_dag(path, depth: int, where: str = "node/nodes/a0/dag") -> None:
    """``depth`` groups, each hard-linking the next one twice: 2**depth paths to depth + 1 objects."""
    with h5py.File(path, "a") as f:
        levels = [f.create_group(f"{where}/level0")]
        for i in range(1, depth + 1):
            levels.append(f.create_group(f"{where}/level{i}"))
        for i in range(depth):
            levels[i]["x"] = levels[i + 1]  # a hard link
            levels[i]["y"] = levels[i + 1]  # a second hard link to the same group


def test_a_file_as_written_by_nir_reads(tmp_path):
    path = tmp_path / "ok.nir"
    _write(path, _chain(3))
    graph = read_nir(path)
    assert sorted(graph.nodes) == ["a0", "a1", "a2", "input", "output"]
    assert np.array_equal(graph.nodes["a1"].weight, np.eye(3))


def test_a_second_hard_link_to_an_object_is_refused(tmp_path):
    path = tmp_path / "dag.nir"
    _write(path, _chain(2))
    _add_dag(path, 12)
    with pytest.raises(ConversionError, match="second hard link") as info:
        read_nir(path)
    assert str(path) in str(info.value)
    assert "a0" in str(info.value)  # the node the link sits in


def test_a_link_back_to_the_root_is_refused(tmp_path):
    path = tmp_path / "cycle.nir"
    _write(path, _chain(1))
    with h5py.File(path, "a") as f:
        f["node/nodes/a0/loop"] = f["/"]
    with pytest.raises(ConversionError, match="second hard link"):
        read_nir(path)


def test_a_dataset_linked_twice_is_refused(tmp_path):
    path = tmp_path / "shared.nir"
    _write(path, _chain(2))
    with h5py.File(path, "a") as f:
        del f["node/nodes/a1/weight"]
        f["node/nodes/a1/weight"] = f["node/nodes/a0/weight"]
    with pytest.raises(ConversionError, match="second hard link.*a0/weight"):
        read_nir(path)


def test_a_deep_dag_is_refused_in_linear_time(tmp_path):
    """40 levels: 2**40 paths. Walking paths never ends; reading objects refuses it at once (a child process
    with a deadline, so that a reader that walks paths fails the test instead of hanging it)."""
    path = tmp_path / "deep.nir"
    _write(path, _chain(1))
    _add_dag(path, 40)
    code = textwrap.dedent(
        f"""
        from spikekit_nir import ConversionError
        from spikekit_nir.safe_read import read_nir
        try:
            read_nir({str(path)!r})
        except ConversionError as exc:
            print("refused:", exc)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert "refused:" in done.stdout and "second hard link" in done.stdout, done.stdout + done.stderr[-2000:]


def test_max_nodes_bounds_the_nodes_and_names_count_and_limit(tmp_path):
    path = tmp_path / "many.nir"
    _write(path, _chain(30))
    assert len(read_nir(path, max_nodes=32).nodes) == 32
    with pytest.raises(ConversionError) as info:
        read_nir(path, max_nodes=31)
    assert "32 NIR nodes" in str(info.value) and "max_nodes=31" in str(info.value)


def test_max_nodes_counts_the_nodes_of_subgraphs(tmp_path):
    inner = _chain(5)
    outer = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([3])}),
            "sub": inner,
            "output": nir.Output(output_type={"output": np.array([3])}),
        },
        edges=[("input", "sub"), ("sub", "output")],
    )
    path = tmp_path / "nested.nir"
    _write(path, outer)
    read_nir(path, max_nodes=10)  # 3 + 7
    with pytest.raises(ConversionError, match="max_nodes=9"):
        read_nir(path, max_nodes=9)


def test_max_nodes_default_and_checks(tmp_path):
    assert inspect.signature(read_nir).parameters["max_nodes"].default == DEFAULT_MAX_NODES == 10_000
    path = tmp_path / "ok.nir"
    _write(path, _chain(1))
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_nodes"):
            read_nir(path, max_nodes=bad)


def test_every_way_of_reading_a_file_takes_max_nodes(tmp_path):
    """``spikekit_nir.load`` and ``from_nir(path)`` hand the caller's bound to the reader (not only its default)."""
    from spikekit_nir import from_nir
    from spikekit_nir.io import load

    path = tmp_path / "many.nir"
    _write(path, _chain(30))
    assert len(load(path, max_nodes=32).nodes) == 32
    for read in (load, lambda p, **k: from_nir(p, batch_size=1, **k)):
        with pytest.raises(ConversionError, match="max_nodes=31"):
            read(path, max_nodes=31)
