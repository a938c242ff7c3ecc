"""The neuron layers the reliability suite runs over, as factories, and helpers shared by its test files.

Loaded by path from each test module (``load_layers()``), since ``tests/`` is not a package.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

N = 3  # neurons per layer in these tests
SQUEEZE_B = 2  # batch_size given to the Squeeze layers


def sl() -> Any:
    import spikekit.layers as layers

    return layers


def rec(n: int = N) -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(n, n, bias=False))


@dataclasses.dataclass(frozen=True)
class Spec:
    """A neuron layer configuration: ``make(backend)`` builds it; ``squeeze`` layers take ``(B*T, N)``."""

    name: str
    make: Callable[[str | None], nn.Module]
    squeeze: bool = False
    spiking: bool = True
    recurrent: bool = False
    adaptive: bool = False

    def input(self, batch: int, steps: int, scale: float = 2.0, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        """A random ``(B, T, N)`` input (the layer's own layout is applied by :meth:`run`)."""
        return torch.rand(batch, steps, N, dtype=dtype) * scale

    def run(self, layer: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """Feed ``(B, T, N)`` ``x`` in the layer's layout; return ``(B, T, N)``."""
        if self.squeeze:
            return layer(x.flatten(0, 1)).unflatten(0, x.shape[:2])
        return layer(x)


SPECS: list[Spec] = [
    Spec("IAF", lambda b: sl().IAF(backend=b)),
    Spec("IAF-syn-floor", lambda b: sl().IAF(tau_syn=4.0, min_v_mem=-1.0, backend=b)),
    Spec("IAF-single-reset", lambda b: sl().IAF(spike_fn=sl_act().SingleSpike, reset_fn=sl_act().MembraneReset(),
                                                backend=b)),
    Spec("IAFSqueeze", lambda b: sl().IAFSqueeze(batch_size=SQUEEZE_B, backend=b), squeeze=True),
    Spec("IAFRecurrent", lambda b: sl().IAFRecurrent(rec_connect=rec(), backend=b), recurrent=True),
    Spec("LIF", lambda b: sl().LIF(tau_mem=8.0, backend=b)),
    Spec("LIF-syn-alphas", lambda b: sl().LIF(tau_mem=8.0, tau_syn=4.0, train_alphas=True, backend=b)),
    Spec("LIFSqueeze", lambda b: sl().LIFSqueeze(tau_mem=8.0, batch_size=SQUEEZE_B, backend=b), squeeze=True),
    Spec("LIFRecurrent", lambda b: sl().LIFRecurrent(tau_mem=8.0, rec_connect=rec(), backend=b), recurrent=True),
    Spec("ALIF", lambda b: sl().ALIF(tau_mem=8.0, tau_adapt=16.0, backend=b), adaptive=True),
    Spec("ALIFSqueeze", lambda b: sl().ALIFSqueeze(tau_mem=8.0, tau_adapt=16.0, batch_size=SQUEEZE_B, backend=b),
         squeeze=True, adaptive=True),
    Spec("ALIFRecurrent", lambda b: sl().ALIFRecurrent(tau_mem=8.0, tau_adapt=16.0, rec_connect=rec(), backend=b),
         recurrent=True, adaptive=True),
    Spec("ExpLeak", lambda b: sl().ExpLeak(tau_mem=8.0, backend=b), spiking=False),
    Spec("ExpLeakSqueeze", lambda b: sl().ExpLeakSqueeze(tau_mem=8.0, batch_size=SQUEEZE_B, backend=b),
         squeeze=True, spiking=False),
]  # fmt: skip


def sl_act() -> Any:
    import spikekit.activation as act

    return act


def backends() -> list[str]:
    """The CPU backends installed here: ``"torch"`` always, ``"fused-cpu"`` when spikekit-kernels is."""
    import spikekit

    return [b for b in ("torch", "fused-cpu") if b in spikekit.available_backends()]


#: (property, layer, backend) -> number of hypothesis examples run (filled by test_properties.py, printed by
#: conftest.py at the end of the session).
PROPERTY_COUNTS: dict[tuple[str, str, str], int] = {}
