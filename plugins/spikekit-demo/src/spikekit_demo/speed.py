"""Which compute backend trains the demo's network, and how much faster it is than the reference backend.

The backends are the ones registered with spikekit (``spikekit.available_backends()``): no list of names is kept
here. Each candidate trains identical copies of the network for a few steps on the same batch, with
``fallback="error"`` so that a backend that cannot run a layer is recognised instead of silently replaced by the
reference. The steps of all candidates are interleaved (one step each, in turn) so that a change in the machine's
load affects them alike, and the median step time counts. The global random state is left as it was.
"""

from __future__ import annotations

import copy
import dataclasses
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from spikekit_demo.config import AUTO_BACKEND
from spikekit_demo.training import snn_logits

__all__ = ["BackendChoice", "BackendError", "choose_backend"]


class BackendError(Exception):
    """The requested backend cannot train the demo's network (the message says why)."""


@dataclasses.dataclass
class BackendChoice:
    """The backend the demo trains with, and what was measured to choose it.

    Attributes:
        name: the backend used for training and evaluation.
        requested: ``"auto"`` or the name given with ``--backend``.
        reference: the reference backend's name.
        step_ms: median milliseconds per training step, for each backend measured.
        unusable: backends that are registered but cannot run this network here, with the reason.
        steps: training steps timed per backend.
    """

    name: str
    requested: str
    reference: str
    step_ms: dict[str, float]
    unusable: dict[str, str]
    steps: int

    @property
    def speedup(self) -> float | None:
        """Reference step time over the chosen backend's (None when the reference could not be timed)."""
        ref, mine = self.step_ms.get(self.reference), self.step_ms.get(self.name)
        return None if ref is None or not mine else ref / mine

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "speedup": self.speedup}

    def summary(self) -> str:
        """One line for the report."""
        how = "the fastest installed" if self.requested == AUTO_BACKEND else "chosen with --backend"
        if self.name == self.reference:
            return f"Backend {self.name!r} ({how}; the reference backend)"
        ref, mine = self.step_ms.get(self.reference), self.step_ms[self.name]
        return (
            f"Backend {self.name!r} ({how}): {self.speedup:.1f}x the reference backend {self.reference!r} "
            f"({mine:.1f} vs {ref:.1f} ms per training step, median of {self.steps})"
        )


Step = Callable[[], None]


def _trainer(model: nn.Module, backend: str, x: torch.Tensor, y: torch.Tensor) -> Step:
    """One training step (forward, BPTT, Adam) of ``model`` on backend ``backend``, without fallback."""
    import spikekit

    optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        with spikekit.use_backend(backend, fallback="error"):
            loss = F.cross_entropy(snn_logits(model, x), y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
        optimiser.step()

    return step


def _ready(names: list[str], model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[dict[str, Step], dict]:
    """A warmed-up step function per backend that can train ``model``; the others with the reason."""
    steps: dict[str, Step] = {}
    unusable: dict[str, str] = {}
    for name in names:
        step = _trainer(copy.deepcopy(model), name, x, y)
        try:
            step()  # warm-up: builds kernels, allocates; also proves the backend runs every layer
        except Exception as exc:  # not installed properly, a layer it cannot run, no device for it
            unusable[name] = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            continue
        steps[name] = step
    return steps, unusable


def _time(steps: dict[str, Step], rounds: int) -> dict[str, float]:
    times: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            step()
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * statistics.median(t) for name, t in times.items()}


def choose_backend(requested: str, model: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int) -> BackendChoice:
    """Time ``steps`` training steps of copies of ``model`` on batch ``(x, y)`` and choose the backend.

    ``requested`` is ``"auto"`` (every registered backend is a candidate; the fastest wins) or a backend name
    (timed against the reference for the speed-up).

    Raises:
        BackendError: the requested backend cannot train this network here (the reason is named).
    """
    from spikekit.compute import REFERENCE_BACKEND, available_backends

    if requested == AUTO_BACKEND:
        names = sorted(available_backends(), key=lambda n: (n != REFERENCE_BACKEND, n))
    else:
        names = [requested] + ([REFERENCE_BACKEND] if requested != REFERENCE_BACKEND else [])
    with torch.random.fork_rng():  # the measurement draws nothing from the run's random streams
        step_fns, unusable = _ready(names, model, x, y)
        if requested != AUTO_BACKEND and requested in unusable:
            raise BackendError(f"backend {requested!r} cannot train the demo's network here: {unusable[requested]}")
        if not step_fns:
            raise BackendError(f"no installed backend can train the demo's network: {unusable}")
        step_ms = _time(step_fns, steps)
    name = requested if requested != AUTO_BACKEND else min(step_ms, key=lambda n: step_ms[n])
    return BackendChoice(name, requested, REFERENCE_BACKEND, step_ms, unusable, steps)
