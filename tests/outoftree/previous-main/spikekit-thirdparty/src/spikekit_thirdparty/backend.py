"""A compute backend for any StepModel, with its own time loop (preallocated output, in-order steps)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch

from spikekit.backends import StepModel

__all__ = ["StepLoopBackend"]


class StepLoopBackend:
    """``thirdparty-loop``: runs declared step models; declines the LIF family (NeuronParams) with a reason."""

    name = "thirdparty-loop"

    def unsupported_reason(self, x: torch.Tensor, state: Mapping[str, torch.Tensor], params: Any) -> str | None:
        if not isinstance(params, StepModel):
            return f"thirdparty-loop runs StepModel layers only, not {type(params).__name__}"
        return None

    def run(self, x: torch.Tensor, state: Mapping[str, torch.Tensor], params: Any) -> Any:
        current = dict(state)
        outs = []
        recs: dict[str, list[torch.Tensor]] = {k: [] for k in state} if params.record_states else {}
        for t in range(x.shape[1]):
            out, current = params.step(x[:, t], current, params.params)
            outs.append(out)
            for k in recs:
                recs[k].append(current[k])
        return torch.stack(outs, 1), current, {k: torch.stack(v, 1) for k, v in recs.items()}
