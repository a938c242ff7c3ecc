"""The ``fused-cpu`` backend: LIF-family layers through the fused op (:mod:`spikekit_kernels.op`), whose CPU
kernels are the compiled C loops (:mod:`spikekit_kernels.c_loops`, one library per configuration with the flags as
compile-time constants so that the neuron loops vectorise), or the torch loop where no C compiler is available.
Recurrent layers run through :mod:`spikekit_kernels.recurrent`.

Importing this module registers the C loops as the op's ``"cpu"`` kernels.

Example:
    >>> import spikekit, spikekit.layers as sl
    >>> layer = sl.LIF(tau_mem=10.0, backend="fused-cpu")        # doctest: +SKIP
    >>> with spikekit.use_backend("fused-cpu"):                  # doctest: +SKIP
    ...     out = model(x)
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from spikekit.compute import BackendResult, NeuronParams, get_backend
from spikekit_kernels import c_loops, op, torch_loop
from spikekit_kernels._plan import Plan, make_plan
from spikekit_kernels.layout import run_plan
from spikekit_kernels.recurrent import recurrent_plan, run_recurrent

__all__ = ["FusedCPUBackend"]

Tensor = torch.Tensor


def _cpu_forward(*args: object) -> tuple[Tensor, ...]:
    """The op's CPU forward: the compiled loop, or the torch loop where no library is available."""
    got = c_loops.forward(*args)
    return got if got is not None else torch_loop.run_forward(*args)


def _cpu_backward(*args: object) -> tuple[Tensor, ...]:
    got = c_loops.backward(*args)
    return got if got is not None else torch_loop.run_backward(*args)


op.register_device("cpu", _cpu_forward, _cpu_backward)


class FusedCPUBackend:
    """``fused-cpu``: the LIF family's time loop as one op with a hand-written BPTT backward (see module docstring).

    Covers IAF, LIF (with and without synapse, norm_input), ExpLeak and ALIF with MultiSpike / SingleSpike /
    MaxSpike, MembraneSubtract / MembraneReset, min_v_mem and every surrogate, in float32 and float64 on CPU.
    Gradients reach the input, the initial state and alpha_mem / alpha_syn / alpha_adapt (hence tau).
    """

    name = "fused-cpu"

    def __init__(self) -> None:
        # The plan made while answering unsupported_reason, kept for the run() that follows it with the same
        # input and NeuronParams objects (run_neuron makes one per forward), so each forward plans once.
        self._checked: tuple[Tensor, NeuronParams, Plan] | None = None

    def unsupported_reason(self, x: Tensor, state: Mapping[str, Tensor], params: NeuronParams) -> str | None:
        if x.device.type != "cpu":
            return f"input on {x.device}; fused-cpu runs on the CPU (use the 'triton' backend on CUDA)"
        if x.dtype not in (torch.float32, torch.float64):
            return f"dtype {x.dtype} on CPU (float32 and float64 are covered)"
        if not isinstance(params, NeuronParams):  # e.g. a StepModel: make_plan says why it is not covered
            declined = make_plan(x, state, params)
            return declined if isinstance(declined, str) else "not a NeuronParams"
        if x.numel() == 0:
            return None  # nothing to compute: run() hands it to the reference backend (identical results)
        plan = make_plan(x, state, params) if params.rec_connect is None else recurrent_plan(x, state, params)
        if isinstance(plan, str):
            return plan
        self._checked = (x, params, plan)
        return None

    def run(self, x: Tensor, state: Mapping[str, Tensor], params: NeuronParams) -> BackendResult:
        if x.numel() == 0:  # an empty batch (or no neurons): no loop to fuse; same shapes and graph as the reference
            return get_backend("torch").run(x, state, params)
        checked, self._checked = self._checked, None
        recurrent = params.rec_connect is not None
        plan: Plan | str
        if checked is not None and checked[0] is x and checked[1] is params:
            plan = checked[2]
        else:
            plan = recurrent_plan(x, state, params) if recurrent else make_plan(x, state, params)
        if isinstance(plan, str):
            raise ValueError(f"{params.layer_name}: fused-cpu cannot run this layer: {plan}")
        if recurrent:
            return run_recurrent(x, state, params, plan)
        return run_plan(x, state, plan, params.record_states)
