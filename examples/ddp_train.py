"""Train a small spiking network with PyTorch DistributedDataParallel (DDP) on CPU processes (gloo).

Run on 2 processes (one machine)::

    python -m torch.distributed.run --nproc_per_node=2 --standalone examples/ddp_train.py --steps 3

or as a single process (no torchrun: the same model on the whole global batch, for comparison)::

    python examples/ddp_train.py --steps 3

Each process takes its slice of every global batch. Neuron layers keep their membrane state in *buffers*, and
those states belong to each process's own slice of the batch, so the model is wrapped with
``forward_sync_buffers=False`` (``broadcast_buffers=False`` before torch 2.13): with DDP's default rank 0 would overwrite every other rank's neuron states
at each forward (and ranks with different local batch sizes would fail on the shape). States are reset at the
start of every sequence (``reset_states``), so they never need to agree across processes; parameters are
synchronised by DDP's gradient all-reduce as usual.

``--out FILE`` writes, from rank 0 (or the single process), a ``torch.save`` dict with the gradients of the first
step and the parameters after the last step.
"""

from __future__ import annotations

import argparse
import inspect
import os

import torch
import torch.distributed as dist
from torch import nn

import spikekit.layers as sl


def build_model(backend: str | None = None) -> nn.Module:
    """Linear -> LIF -> Linear -> LIF over (B, T, features); reads the class scores as spike counts."""
    torch.manual_seed(0)  # the same initial weights on every process and in the single-process run
    return nn.Sequential(
        nn.Linear(8, 16),
        sl.LIF(tau_mem=5.0, norm_input=False, backend=backend),
        nn.Linear(16, 4),
        sl.LIF(tau_mem=5.0, norm_input=False, backend=backend),
    )


def global_batch(step: int, size: int, steps: int = 6) -> tuple[torch.Tensor, torch.Tensor]:
    """The step's whole batch (inputs (size, T, 8) and labels (size,)), the same on every process."""
    gen = torch.Generator().manual_seed(1000 + step)
    x = torch.rand(size, steps, 8, generator=gen) * 3.0
    y = torch.randint(0, 4, (size,), generator=gen)
    return x, y


def reset_neuron_states(model: nn.Module) -> None:
    """Zero every neuron state (and cut its autograd history) before a new sequence."""
    for module in model.modules():
        if hasattr(module, "reset_states"):
            module.reset_states()


def wrap_ddp(model: nn.Module) -> nn.Module:
    """DDP with the setting spiking models need: neuron states are per-process buffers, never broadcast.

    torch >= 2.13 names the switch ``forward_sync_buffers`` (``broadcast_buffers`` is deprecated there); older
    versions know only ``broadcast_buffers``. Either way buffers are still synchronised once when DDP wraps the
    model, which is harmless for neuron states: wrap before the first forward (states are still empty) or after
    ``reset_states``.
    """
    ddp = nn.parallel.DistributedDataParallel
    if "forward_sync_buffers" in inspect.signature(ddp.__init__).parameters:
        return ddp(model, forward_sync_buffers=False)
    return ddp(model, broadcast_buffers=False)


def train(args: argparse.Namespace) -> dict:
    distributed = "WORLD_SIZE" in os.environ and int(os.environ["WORLD_SIZE"]) > 1
    if distributed:
        dist.init_process_group("gloo")
        rank, world = dist.get_rank(), dist.get_world_size()
    else:
        rank, world = 0, 1
    if args.global_batch % world:
        raise SystemExit(f"--global-batch {args.global_batch} is not divisible by {world} processes")
    local = args.global_batch // world
    model = build_model(args.backend)
    net = wrap_ddp(model) if distributed else model
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    first_grads: dict[str, torch.Tensor] = {}
    losses = []
    for step in range(args.steps):
        x, y = global_batch(step, args.global_batch)
        x, y = x[rank * local : (rank + 1) * local], y[rank * local : (rank + 1) * local]
        reset_neuron_states(model)
        opt.zero_grad()
        counts = net(x).sum(1)  # (B, 4) spike counts
        loss = nn.functional.cross_entropy(counts, y)  # the mean over the local batch; DDP averages over ranks
        loss.backward()
        losses_detached = loss.detach()
        if step == 0:
            first_grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
        opt.step()
        losses.append(float(losses_detached))
    result = {
        "world_size": world,
        "grads": first_grads,
        "params": {n: p.detach().clone() for n, p in model.named_parameters()},
        "losses": losses,
        "state_shapes": {n: tuple(b.shape) for n, b in model.named_buffers() if n.endswith("v_mem")},
    }
    if rank == 0 and args.out:
        torch.save(result, args.out)
    if rank == 0:
        print(f"world_size={world} local_batch={local} losses={[round(v, 4) for v in losses]}")
    if distributed:
        dist.destroy_process_group()
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--global-batch", type=int, default=8)
    parser.add_argument("--backend", default=None, help="compute backend of the LIF layers (default: torch)")
    parser.add_argument("--out", default=None, help="torch.save the first-step gradients and final parameters here")
    torch.set_num_threads(1)
    return train(parser.parse_args(argv))


if __name__ == "__main__":
    main()
