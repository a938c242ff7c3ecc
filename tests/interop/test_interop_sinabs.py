"""spikekit <-> sinabs through NIR: same spikes on the same input (nox -s interop; skipped without sinabs)."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

sinabs = pytest.importorskip("sinabs")
sinabs_layers = pytest.importorskip("sinabs.layers")

import spikekit  # noqa: E402
import spikekit.layers as sl  # noqa: E402

B, T = 2, 8


def _sinabs_out(model, x):
    out = model(x)
    return out[0] if isinstance(out, tuple) else out  # sinabs's nirtorch executor returns (output, state)


def _spikekit_model():
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        sl.IAFSqueeze(batch_size=B, min_v_mem=-1.0),  # sinabs imports IF with min_v_mem = -threshold
        sl.SumPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 6),
        sl.LIFSqueeze(tau_mem=5.0, norm_input=False, batch_size=B),
        nn.Linear(6, 3),
        sl.ExpLeakSqueeze(tau_mem=3.0, batch_size=B),
    )


def test_spikekit_export_sinabs_import():
    torch.manual_seed(0)
    model = _spikekit_model()
    x = (torch.rand(B * T, 2, 8, 8) < 0.4).float() * 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = spikekit.to_nir(model, x)
    spikekit.reset_states(model)
    expected = model(x)
    theirs = sinabs.from_nir(graph, batch_size=B)
    assert torch.equal(_sinabs_out(theirs, x), expected)
    assert expected.abs().sum() > 0


def test_sinabs_export_spikekit_import():
    torch.manual_seed(1)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1),
        sinabs_layers.IAFSqueeze(batch_size=B, min_v_mem=-1.0),
        sinabs_layers.SumPool2d(2),
        nn.Flatten(),
        nn.Linear(4 * 4 * 4, 6),
        sinabs_layers.LIFSqueeze(tau_mem=5.0, norm_input=False, batch_size=B),
        nn.Linear(6, 3),
        sinabs_layers.ExpLeakSqueeze(tau_mem=3.0, batch_size=B),
    )
    x = (torch.rand(B * T, 2, 8, 8) < 0.4).float() * 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = sinabs.to_nir(model, x)
    sinabs.reset_states(model)
    expected = model(x)
    ours = spikekit.from_nir(graph, batch_size=B)
    assert torch.equal(ours(x), expected)
    assert expected.abs().sum() > 0


def test_reexport_of_a_sinabs_graph_is_silent_and_sinabs_reads_it_back():
    """No false NIRConventionWarning (IF's min_v_mem = -threshold is what sinabs's reader applies anyway)."""
    torch.manual_seed(2)
    model = nn.Sequential(
        nn.Conv2d(2, 4, 3, padding=1), sinabs_layers.IAFSqueeze(batch_size=B, min_v_mem=-1.0),
        sinabs_layers.SumPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 6, bias=False),
        sinabs_layers.IAFSqueeze(batch_size=B, min_v_mem=-1.0),
    )  # fmt: skip
    with torch.no_grad():
        model[4].weight.abs_().mul_(4)
    x = (torch.rand(B * T, 2, 8, 8) < 0.4).float() * 2
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = sinabs.to_nir(model, x)
    ours = spikekit.from_nir(graph, batch_size=B)
    with warnings.catch_warnings():
        warnings.simplefilter("error", spikekit.nir.NIRConventionWarning)
        again = spikekit.to_nir(ours, x)
    sinabs.reset_states(model)
    expected = model(x)
    assert torch.equal(_sinabs_out(sinabs.from_nir(again, batch_size=B), x), expected)
    assert expected.sum() > 0


def test_sinabs_default_export_calls_work():
    """sinabs's own calls: a (batch, features) sample; a bias-free Linear written as Affine with a zero bias."""
    m = nn.Sequential(nn.Linear(10, 2), sl.ExpLeak(tau_mem=10.0), sl.LIF(tau_mem=10.0), nn.Linear(2, 1))
    ours = spikekit.to_nir(m, torch.randn(1, 10))
    theirs = sinabs.to_nir(
        nn.Sequential(nn.Linear(10, 2), sinabs_layers.ExpLeak(tau_mem=10.0), sinabs_layers.LIF(tau_mem=10.0),
                      nn.Linear(2, 1)), torch.randn(1, 10),
    )  # fmt: skip
    assert {k: type(v).__name__ for k, v in ours.nodes.items()} == {
        k: type(v).__name__ for k, v in theirs.nodes.items()
    }
    assert ours.nodes["1"].tau.shape == (2,)  # counted from the Linear that feeds it
    linear = spikekit.to_nir(nn.Linear(2, 3, bias=False), torch.randn(1, 2)).nodes["model"]
    reference = sinabs.to_nir(nn.Linear(2, 3, bias=False), torch.randn(1, 2)).nodes["model"]
    assert type(linear) is type(reference) and tuple(linear.bias.shape) == tuple(reference.bias.shape) == (3,)
    assert not linear.bias.any()


def test_conv_strides_are_python_ints_where_sinabs_gives_numpy_ints(tmp_path):
    """A kept difference: sinabs's from_nir hands NIR's numpy arrays to nn.Conv2d, so strides and padding read from
    a file are np.int64 and torch.jit.script refuses the module; spikekit gives Python ints."""
    import numpy as np

    path = tmp_path / "conv.nir"
    spikekit.to_nir(nn.Conv2d(1, 3, 2, stride=2, padding=1), torch.randn(2, 1, 8, 8), path=path)
    theirs = sinabs.from_nir(spikekit.nir.load(path), batch_size=2).model
    ours = spikekit.from_nir(path, batch_size=2).model
    assert all(isinstance(v, np.integer) for v in (*theirs.stride, *theirs.padding))
    assert all(type(v) is int for v in (*ours.stride, *ours.padding))
    with pytest.raises(Exception, match="constant"):
        torch.jit.script(theirs)
    torch.jit.script(ours)


def test_sinabs_reference_nir_tests_pass_renamed(tmp_path):
    """sinabs 3.1.3's tests/test_nir.py with ``sinabs`` renamed to ``spikekit``, all but its private ``_as_pair``.

    The file comes from sinabs's source distribution at test time (``SPIKEKIT_SINABS_SDIST``, set by the interop
    session); nothing of sinabs is kept in this repository.
    """
    import os
    import subprocess
    import sys
    import tarfile

    sdist = os.environ.get("SPIKEKIT_SINABS_SDIST")
    if not sdist:
        pytest.skip("SPIKEKIT_SINABS_SDIST (sinabs 3.1.3's .tar.gz) not set; nox -s interop sets it")
    with tarfile.open(sdist) as archive:
        member = next(m for m in archive.getmembers() if m.name.endswith("/tests/test_nir.py"))
        source = archive.extractfile(member).read().decode()  # type: ignore[union-attr]
    (tmp_path / "test_reference_nir.py").write_text(source.replace("sinabs", "spikekit"))
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "not as_pair", str(tmp_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout
