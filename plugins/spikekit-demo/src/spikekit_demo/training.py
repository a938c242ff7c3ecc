"""Training and evaluation loops: the spiking net by BPTT with a surrogate gradient, and the ANN."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from spikekit_demo.model import readout
from spikekit_demo.progress import ProgressBar

__all__ = ["EpochRecord", "train", "evaluate_ann", "evaluate_snn"]


@dataclasses.dataclass
class EpochRecord:
    """One epoch's numbers: mean training loss and accuracy, test accuracy, wall-clock seconds of training."""

    epoch: int
    loss: float
    train_acc: float
    test_acc: float
    seconds: float


def _batches(n: int, batch_size: int, generator: torch.Generator | None) -> list[torch.Tensor]:
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    return list(order.split(batch_size))


def _reset(model: nn.Module) -> None:
    from spikekit.utils import reset_states

    reset_states(model)


def snn_logits(model: nn.Module, spikes: torch.Tensor) -> torch.Tensor:
    """Run the spiking net on ``spikes`` of shape ``(B, T, 1, 8, 8)`` from fresh (zero) states; logits ``(B, 10)``."""
    timesteps = spikes.shape[1]
    _reset(model)
    out = model(spikes.flatten(0, 1))  # (B*T, 1, 8, 8) -> (B*T, 10)
    return readout(out, timesteps)


@torch.no_grad()
def evaluate_snn(model: nn.Module, spikes: torch.Tensor, labels: torch.Tensor, batch_size: int = 256) -> float:
    """Accuracy of the spiking net on encoded samples ``(N, T, 1, 8, 8)``."""
    model.eval()
    correct = 0
    for idx in _batches(len(labels), batch_size, None):
        correct += int((snn_logits(model, spikes[idx]).argmax(1) == labels[idx]).sum())
    return correct / len(labels)


@torch.no_grad()
def evaluate_ann(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> float:
    """Accuracy of the ANN on images ``(N, 1, 8, 8)``."""
    model.eval()
    return float((model(images).argmax(1) == labels).float().mean())


def train(
    model: nn.Module,
    x_train: torch.Tensor,
    y_train: torch.Tensor,
    *,
    forward: Callable[[nn.Module, torch.Tensor], torch.Tensor],
    test_accuracy: Callable[[], float],
    epochs: int,
    batch_size: int,
    lr: float,
    generator: torch.Generator,
    label: str,
) -> list[EpochRecord]:
    """Train ``model`` with Adam and cross-entropy, one progress bar per epoch.

    For the spiking net, ``forward`` runs the whole time loop and returns the time-averaged read-out, so that
    ``loss.backward()`` is backpropagation through time: the gradient of the spikes with respect to the membrane
    potential is the layer's surrogate gradient.

    Args:
        model: the network to train.
        x_train: inputs, ``(N, ...)`` (images for the ANN, spike trains ``(N, T, 1, 8, 8)`` for the SNN).
        y_train: labels ``(N,)``.
        forward: ``forward(model, x_batch) -> logits (B, 10)``.
        test_accuracy: called after each epoch (not timed), for the training curves.
        generator: shuffles the batches reproducibly.
        label: shown in front of the progress bar.
    """
    optimiser = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(epochs, 1))
    history: list[EpochRecord] = []
    width = len(str(epochs))
    for epoch in range(1, epochs + 1):
        model.train()
        batches = _batches(len(y_train), batch_size, generator)
        bar = ProgressBar(len(batches), f"{label} epoch {epoch:>{width}}/{epochs}")
        total_loss, correct, seen = 0.0, 0, 0
        start = time.perf_counter()
        for idx in batches:
            logits = forward(model, x_train[idx])
            loss = F.cross_entropy(logits, y_train[idx])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            total_loss += float(loss.detach()) * len(idx)
            correct += int((logits.argmax(1) == y_train[idx]).sum())
            seen += len(idx)
            bar.update(loss=total_loss / seen, acc=correct / seen)
        scheduler.step()
        seconds = time.perf_counter() - start
        test_acc = test_accuracy()
        bar.close(acc=correct / seen, test_acc=test_acc)
        history.append(EpochRecord(epoch, total_loss / seen, correct / seen, test_acc, seconds))
    return history
