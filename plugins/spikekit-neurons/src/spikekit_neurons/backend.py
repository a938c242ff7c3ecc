"""The reference compute backend ``"torch"``: the plain PyTorch time loop of :mod:`spikekit_neurons.functional`.

It runs every configuration :class:`spikekit.compute.NeuronParams` can describe (IAF, LIF, ExpLeak, ALIF, with or
without synapse, floor, recordings and recurrent connection), and every model declared as a :class:`spikekit.compute.StepModel` (through
:func:`spikekit.compute.run_step_loop`), so ``unsupported_reason`` is always None. Other
backends (fused CPU loops, GPU kernels) are checked against it with ``spikekit_testing.BackendConformance``.

What the states mean, for a backend that implements the same model (all of shape ``(B, ...)``):

* ``v_mem``: membrane potential after the step's reset and floor.
* ``i_syn`` (present iff ``params.alpha_syn`` is not None): the synaptic current ``α_syn · (i_syn + x_t)``, not
  scaled by ``1 − α_mem`` (the scaling applies only to the drive into ``v_mem``). With a recurrent connection
  ``x_t`` already includes the recurrent input.
* ``b`` (ALIF): the adaptation variable ``α_adapt · b + (1 − α_adapt) · S``.
* ``spike_threshold`` (ALIF): ``b0 + adapt_scale · b`` after the step, i.e. the threshold in force at the next
  step (its value in the initial state is never read: each step recomputes it from ``b``).

``params.spike_threshold`` is the fixed threshold, or ``b0`` for ALIF. The final state has exactly the keys of the
initial one; recordings (``params.record_states``) hold each of those keys after every step, ``(B, T, ...)``.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from spikekit.compute import BackendResult, NeuronParams, StepModel, run_step_loop
from spikekit_neurons.functional.alif import alif_loop
from spikekit_neurons.functional.lif import lif_loop

__all__ = ["TorchBackend"]


class TorchBackend:
    """The reference backend: a Python loop over time steps calling the functional step (works on any device).

    Example:
        >>> from spikekit.compute import get_backend
        >>> get_backend("torch").name
        'torch'
    """

    name = "torch"

    def unsupported_reason(
        self, x: torch.Tensor, state: Mapping[str, torch.Tensor], params: NeuronParams | StepModel
    ) -> str | None:
        return None

    def run(
        self, x: torch.Tensor, state: Mapping[str, torch.Tensor], params: NeuronParams | StepModel
    ) -> BackendResult:
        if isinstance(params, StepModel):
            return run_step_loop(x, state, params)
        loop = lif_loop if params.alpha_adapt is None else alif_loop
        spikes, final, recordings = loop(x, state, params)
        return spikes, {k: final[k] for k in state}, recordings
