"""The "Writing a neuron layer" tutorial runs as a script: its layer is built from the public API alone and passes
every check of ``NeuronConformance`` (the docs build executes the same file)."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest
import torch

pytest.importorskip("spikekit_neurons")

TUTORIAL = Path(__file__).parents[2] / "docs" / "tutorials" / "plot_09_writing_a_neuron_layer.py"


def test_the_tutorial_runs_and_its_layer_passes_conformance(capsys, monkeypatch):
    monkeypatch.chdir(TUTORIAL.parent)
    namespace = runpy.run_path(str(TUTORIAL), run_name="__main__")
    printed = capsys.readouterr().out
    suite = namespace["TestRefractoryLIF"]()
    checks = [n for n in dir(suite) if n.startswith("test_")]
    assert len(checks) >= 13 and f"{len(checks)} conformance checks passed" in printed
    # the model does what the page says: a refractory period of 3 stretches the interval between spikes by 3
    layer = namespace["RefractoryLIF"](tau_mem=4.0, refractory_steps=3)
    with torch.no_grad():
        spikes = layer(torch.full((1, 30, 1), 3.0))[0, :, 0]
    times = spikes.nonzero().flatten()
    assert (times.diff() == 5).all() and len(times) == 6  # every 5 steps (2 without the period: 2 + 3)
    # the constant buffer survives a reset, the states do not
    gained = namespace["gained"]
    assert gained.state_names == ["v_mem", "refractory"] and gained.constant_names == ["gain"]
    assert torch.equal(gained.gain, torch.tensor([0.5, 1.0, 2.0]))
