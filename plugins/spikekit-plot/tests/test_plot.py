"""spikekit-plot: what each helper draws, its errors, the lazy matplotlib import, and its names in ``spikekit.plot``."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.figure import Figure  # noqa: E402

import spikekit.plot as skp  # noqa: E402


@pytest.fixture
def ax():
    return Figure().subplots()


def test_raster_marks_every_spike_at_time_and_flattened_neuron_index(ax):
    spikes = torch.zeros(5, 2, 3)  # (T, C, W): neuron index = c * 3 + w
    spikes[0, 0, 1] = 1  # t=0, n=1
    spikes[3, 1, 2] = 2  # t=3, n=5 (a double spike is one mark)
    spikes[4, 1, 0] = 1  # t=4, n=3
    out = skp.raster(spikes, ax=ax, dt=0.5, title="layer")
    assert out is ax
    (collection,) = ax.collections
    points = {tuple(p) for p in collection.get_offsets().tolist()}
    assert points == {(0.0, 1.0), (1.5, 5.0), (2.0, 3.0)}
    assert ax.get_ylim() == (-0.5, 5.5)
    assert ax.get_title() == "layer"


def test_raster_accepts_numpy_bool_and_a_single_train(ax):
    train = np.array([False, True, False, True])
    skp.raster(train, ax=ax)
    assert sorted(map(tuple, ax.collections[0].get_offsets().tolist())) == [(1.0, 0.0), (3.0, 0.0)]


def test_raster_rejects_a_scalar(ax):
    with pytest.raises(ValueError, match=r"raster expects spikes of shape \(T, ...\)"):
        skp.raster(torch.tensor(1.0), ax=ax)


def test_membrane_trace_draws_each_neuron_threshold_and_spike_dots(ax):
    v = torch.tensor([[0.0, 0.5], [0.6, 1.2], [1.1, 0.1]], requires_grad=True)  # (T=3, K=2), grad is fine
    s = torch.tensor([[0, 0], [0, 1], [1, 0]])
    skp.membrane_trace(v, ax=ax, threshold=1.0, spikes=s, labels=["a", "b"])
    lines = ax.get_lines()
    traces = [line for line in lines if line.get_label() in ("a", "b")]
    assert [line.get_label() for line in traces] == ["a", "b"]
    np.testing.assert_allclose(traces[0].get_ydata(), [0.0, 0.6, 1.1])
    np.testing.assert_allclose(traces[1].get_ydata(), [0.5, 1.2, 0.1])
    dots = [line for line in lines if line.get_marker() == "o"]
    assert len(dots) == 2
    np.testing.assert_allclose(dots[0].get_xydata(), [[2.0, 1.1]])
    np.testing.assert_allclose(dots[1].get_xydata(), [[1.0, 1.2]])
    (threshold,) = [line for line in lines if line.get_linestyle() == "--"]
    assert list(threshold.get_ydata()) == [1.0, 1.0]


def test_membrane_trace_single_neuron_and_dt(ax):
    skp.membrane_trace(np.array([0.0, 1.0, 2.0]), ax=ax, dt=2.0)
    (line,) = ax.get_lines()
    np.testing.assert_allclose(line.get_xdata(), [0.0, 2.0, 4.0])


@pytest.mark.parametrize(
    ("v", "kwargs", "message"),
    [
        (np.zeros((2, 2, 2)), {}, r"shape \(T,\) or \(T, K\), got shape \(2, 2, 2\)"),
        (np.zeros((3, 2)), {"labels": ["a"]}, "got 1 labels for 2 traces"),
        (np.zeros((3, 2)), {"spikes": np.zeros((3, 3))}, r"spikes of shape \(3, 3\) do not match"),
    ],
)
def test_membrane_trace_errors(ax, v, kwargs, message):
    with pytest.raises(ValueError, match=message):
        skp.membrane_trace(v, ax=ax, **kwargs)


def test_firing_rate_histogram_counts_every_neuron_on_shared_bins(ax):
    rates = {"layer 1": torch.tensor([0.0, 0.1, 0.1, 0.5]), "layer 2": np.array([[0.2, 0.9], [0.3, 0.3]])}
    skp.firing_rate_histogram(rates, ax=ax, bins=4)
    bars_per_layer = [c for c in ax.containers]
    assert len(bars_per_layer) == 2
    heights = [[p.get_height() for p in bars] for bars in bars_per_layer]
    assert [sum(h) for h in heights] == [4, 4]
    # shared edges over [0, 0.9], width 0.225: 0, .1, .1 | - | .5 -> [3, 0, 1, 0]; .2 | .3 .3 | - | .9 -> [1, 2, 0, 1]
    assert heights == [[3, 0, 1, 0], [1, 2, 0, 1]]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["layer 1", "layer 2"]


def test_firing_rate_histogram_rejects_empty(ax):
    with pytest.raises(ValueError, match="got no rates"):
        skp.firing_rate_histogram({}, ax=ax)
    with pytest.raises(ValueError, match="got no rates"):
        skp.firing_rate_histogram(np.array([]), ax=ax)


def test_helpers_make_their_own_axes_when_none_given():
    matplotlib.use("Agg")
    ax = skp.raster(torch.eye(3))
    assert ax.figure.axes == [ax]  # a new figure holding just this axes
    assert sum(len(c.get_offsets()) for c in ax.collections) == 3  # one point per spike
    import matplotlib.pyplot as plt

    plt.close(ax.figure)


def test_the_helpers_are_reached_through_the_spikekit_plot_namespace():
    import spikekit
    import spikekit_plot

    assert {"raster", "membrane_trace", "firing_rate_histogram"} <= set(dir(skp))
    assert skp.raster is spikekit_plot.raster and spikekit.plot.membrane_trace is spikekit_plot.membrane_trace
    from spikekit.plot import firing_rate_histogram

    assert firing_rate_histogram is spikekit_plot.firing_rate_histogram
    with pytest.raises(AttributeError, match="no attribute 'histogram'"):
        skp.histogram


def _run(code: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env})


def test_import_is_lazy_and_missing_matplotlib_is_named():
    code = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "import spikekit.plot as skp\n"
        "assert 'matplotlib.pyplot' not in sys.modules\n"
        "skp.raster([[1.0]])\n"
    )
    result = _run(code)
    assert result.returncode == 1
    assert (
        "ImportError: spikekit-plot needs matplotlib, which is not installed: pip install matplotlib" in result.stderr
    )


def test_without_the_plugin_the_error_names_the_distribution():
    result = _run("import spikekit.plot as skp; skp.raster([[1.0]])", SPIKEKIT_BLOCK_PLUGINS="spikekit-plot")
    assert result.returncode == 1
    assert "PluginNotInstalledError: spikekit.plot.raster comes from the spikekit-plot distribution" in result.stderr
    assert "pip install spikekit-plot" in result.stderr
