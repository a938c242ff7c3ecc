"""PyTorch Lightning trains a spiking model (examples/lightning_train.py); skipped where lightning is absent."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch

pytest.importorskip("spikekit_neurons")
pytest.importorskip("lightning")

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "lightning_train.py"


@pytest.mark.slow
def test_lightning_trains_a_spiking_model_and_moves_every_parameter() -> None:
    spec = importlib.util.spec_from_file_location("spikekit_example_lightning_train", SCRIPT)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    before = {n: p.detach().clone() for n, p in example.SpikingClassifier().named_parameters() if p.requires_grad}
    trained = example.main(["--steps", "3"])
    after = dict(trained.named_parameters())
    for name, value in before.items():
        assert not torch.equal(after[name].detach(), value), f"{name} did not train"
