"""Train a small spiking network with PyTorch Lightning (CPU; ``--devices 2`` runs DDP over 2 gloo processes).

    python examples/lightning_train.py --steps 5
    python examples/lightning_train.py --steps 5 --devices 2     # Lightning's DDP, neuron states not broadcast

Lightning needs nothing special for spiking layers except two things every stateful model needs: reset the neuron
states at the start of each sequence (``on_train_batch_start`` below), and, with DDP, keep DDP from broadcasting
buffers (the neuron states) at every forward: ``DDPStrategy(broadcast_buffers=False)`` (forwarded to
``DistributedDataParallel``).
"""

from __future__ import annotations

import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import spikekit.layers as sl

try:
    import lightning as L
    from lightning.pytorch.strategies import DDPStrategy
except ImportError as exc:  # pragma: no cover - optional
    raise SystemExit("this example needs PyTorch Lightning: pip install lightning") from exc


class SpikingClassifier(L.LightningModule):
    """Linear -> LIF -> Linear -> LIF; the class score is the output spike count; cross-entropy loss."""

    def __init__(self, lr: float = 0.1):
        super().__init__()
        torch.manual_seed(0)
        self.net = nn.Sequential(
            nn.Linear(8, 16),
            sl.LIF(tau_mem=5.0, norm_input=False),
            nn.Linear(16, 4),
            sl.LIF(tau_mem=5.0, norm_input=False),
        )
        self.lr = lr

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, T, 8) -> (B, 4) spike counts
        return self.net(x).sum(1)

    def on_train_batch_start(self, batch, batch_idx: int) -> None:
        for module in self.net.modules():
            if hasattr(module, "reset_states"):
                module.reset_states()

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.cross_entropy(self(x), y)
        self.log("loss", loss, prog_bar=True)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)


def data(n: int = 64, steps: int = 6) -> TensorDataset:
    gen = torch.Generator().manual_seed(0)
    return TensorDataset(torch.rand(n, steps, 8, generator=gen) * 3.0, torch.randint(0, 4, (n,), generator=gen))


def main(argv: list[str] | None = None) -> SpikingClassifier:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--devices", type=int, default=1)
    args = parser.parse_args(argv)
    model = SpikingClassifier()
    strategy = DDPStrategy(process_group_backend="gloo", broadcast_buffers=False) if args.devices > 1 else "auto"
    trainer = L.Trainer(
        accelerator="cpu", devices=args.devices, strategy=strategy, max_steps=args.steps, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    trainer.fit(model, DataLoader(data(), batch_size=8))
    return model


if __name__ == "__main__":
    main()
