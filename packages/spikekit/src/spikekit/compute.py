"""Compute backends: who runs a neuron layer's time loop.

A neuron layer describes its model as :class:`NeuronParams` and hands the whole ``(B, T, ...)`` input to a
*compute backend*, which returns the spikes, the final state and (if asked) the per-step recordings. The
reference backend, ``"torch"``, is the plain PyTorch loop; plugins add faster ones (a fused CPU loop, GPU
kernels) through the ``spikekit_backends`` hook.

A layer of a model the LIF family cannot describe hands a :class:`StepModel` instead: its per-step function and
its parameters. Every backend may be given one; the reference backend runs the step in a Python loop
(:func:`run_step_loop`), the ``"compiled"`` backend (spikekit-kernels) compiles the step with ``torch.compile``, and a
backend that cannot run it says so in ``unsupported_reason`` (the layer then falls back as below).

Selection, from strongest to weakest:

1. the layer's own ``backend=`` argument (``layer.backend``);
2. the innermost :func:`use_backend` block around the call;
3. ``"torch"``.

**Threads, tasks and processes.** The :func:`use_backend` selection lives in a :mod:`contextvars` context variable.
An asyncio task runs in a copy of the context it was created in: a block entered inside one task is never seen by
another task, and a task created inside a block keeps that block's backend. A new thread starts from an empty
context (the default, ``"torch"``), so a thread pool started inside a block does *not* inherit the block; submit
``contextvars.copy_context().run`` (as ``asyncio.to_thread`` does) to carry it over. A child process never inherits
it: enter :func:`use_backend` in the child, or give the layers their own ``backend=``, which pickles with them.
A model compiled with ``torch.compile`` keeps the selection in force when it was traced.

**Fallback.** Before running, the chosen backend's :meth:`ComputeBackend.unsupported_reason` is asked whether it
can run this configuration (model, spike and reset function, dtype, device, ...). If it cannot, the layer runs on
``"torch"`` instead and a :class:`BackendFallbackWarning` names the layer, the backend and the reason, once per
(layer class, backend, reason). With ``use_backend(name, fallback="error")`` the layer raises
:class:`BackendUnsupportedError` instead. A backend that is not installed always raises.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Literal, Protocol, runtime_checkable

import torch
from torch import nn

from spikekit.errors import BackendFallbackWarning, BackendUnsupportedError, warn_at_caller
from spikekit.plugins import host
from spikekit.protocols import ResetFunction, SpikeFunction, SurrogateGradient

__all__ = [
    "NeuronParams",
    "StepModel",
    "run_step_loop",
    "ComputeBackend",
    "BackendResult",
    "use_backend",
    "current_backend",
    "get_backend",
    "available_backends",
    "unavailable_backends",
    "run_neuron",
    "REFERENCE_BACKEND",
]

REFERENCE_BACKEND = "torch"
Fallback = Literal["warn", "error", "silent"]
BackendResult = tuple[torch.Tensor, dict[str, torch.Tensor], dict[str, torch.Tensor]]


@dataclasses.dataclass
class NeuronParams:
    """Everything a backend needs to run the leaky-integrate-and-fire family over time.

    Per time step ``t`` (``x_t`` the input, ``α = exp(-1/τ)``)::

        i_syn = α_syn · (i_syn + x_t)          if alpha_syn is not None, else  i_syn = x_t
        v_mem = α_mem · v_mem + (1 − α_mem) · i_syn   if norm_input, else  α_mem · v_mem + i_syn
        θ     = b0 + adapt_scale · b           (adaptive threshold; θ = spike_threshold without adaptation)
        s     = spike_fn(v_mem, θ)             (surrogate gradient in the backward pass)
        state = reset_fn(s, state, θ)
        b     = α_adapt · b + (1 − α_adapt) · s           (adaptation only)
        v_mem = relu(v_mem − min_v_mem) + min_v_mem      if min_v_mem is not None

    Without a spike function (``spike_fn is None``, a leaky integrator) the output is ``v_mem`` before the floor.
    With ``rec_connect`` (recurrent layers), ``rec_connect(s_t)`` is added to ``x_{t+1}``.

    Attributes:
        alpha_mem: membrane decay, a scalar or per-neuron tensor broadcastable to the state; ``1`` for IAF.
        alpha_syn: synaptic decay, or None for no synaptic state.
        spike_threshold: threshold (scalar or per-neuron); the base threshold ``b0`` for adaptive neurons.
        spike_fn / reset_fn / surrogate_grad_fn: the activation objects (see :mod:`spikekit.protocols`).
        min_v_mem: lower bound of the membrane potential, or None.
        norm_input: scale the drive by ``(1 − α_mem)``.
        record_states: return every state after every step as ``(B, T, ...)`` recordings.
        alpha_adapt / adapt_scale: threshold adaptation (ALIF); None for the other models.
        rec_connect: recurrent connection module, or None.
        layer_name: the layer's class name, for messages.
    """

    alpha_mem: torch.Tensor
    alpha_syn: torch.Tensor | None
    spike_threshold: torch.Tensor | None
    spike_fn: SpikeFunction | None
    reset_fn: ResetFunction | None
    surrogate_grad_fn: SurrogateGradient | None
    min_v_mem: torch.Tensor | None = None
    norm_input: bool = True
    record_states: bool = False
    alpha_adapt: torch.Tensor | None = None
    adapt_scale: torch.Tensor | float | None = None
    rec_connect: nn.Module | None = None
    layer_name: str = "layer"


StepFunction = Callable[
    [torch.Tensor, dict[str, torch.Tensor], Mapping[str, Any]], tuple[torch.Tensor, dict[str, torch.Tensor]]
]


@dataclasses.dataclass
class StepModel:
    """Any neuron model, described by one time step: what a backend needs to run a model it was not written for.

    ``step(x_t, state, params) -> (out_t, new_state)`` takes the input at one step ``(B, ...)``, the state dict (the
    keys of the layer's state, tensors ``(B, ...)``) and :attr:`params`, and returns the step's output and the new
    state dict with the same keys. It must be a pure function of its arguments written with torch operations
    (spike functions and surrogates included), must not change its arguments in place, and must not read anything
    else that changes between calls: then every backend computes the same numbers as :func:`run_step_loop`.

    Attributes:
        step: the per-step function.
        params: its parameters by name (tensors, possibly trainable, or plain numbers); gradients must reach every
            tensor that requires them.
        kind: a short name of the model (``"my_package.Izhikevich"``), for messages and backend caches.
        record_states: return every state after every step as ``(B, T, ...)`` recordings.
        layer_name: the layer's class name, for messages.

    Example:
        >>> def leaky_step(x, state, params):
        ...     v = params["alpha"] * state["v_mem"] + x
        ...     return v, {"v_mem": v}
        >>> model = StepModel(leaky_step, {"alpha": 0.9}, kind="leaky")
        >>> out, final, _ = run_step_loop(torch.ones(1, 3, 2), {"v_mem": torch.zeros(1, 2)}, model)
        >>> out[0, :, 0]
        tensor([1.0000, 1.9000, 2.7100])
    """

    step: StepFunction
    params: Mapping[str, Any]
    kind: str = "step"
    record_states: bool = False
    layer_name: str = "layer"


def run_step_loop(x: torch.Tensor, state: Mapping[str, torch.Tensor], model: StepModel) -> BackendResult:
    """The reference time loop of a :class:`StepModel`: ``model.step`` once per step, outputs stacked on dim 1."""
    if x.dim() < 2:
        raise ValueError(f"{model.layer_name}: expected input of shape (batch, time, ...), got {tuple(x.shape)}")
    current = dict(state)
    outputs: list[torch.Tensor] = []
    recordings: dict[str, list[torch.Tensor]] = {k: [] for k in state} if model.record_states else {}
    for t in range(x.shape[1]):
        out, current = model.step(x[:, t], current, model.params)
        if set(current) != set(state):
            raise ValueError(
                f"{model.layer_name}: the step of model {model.kind!r} returned states {sorted(current)}, "
                f"expected {sorted(state)}"
            )
        outputs.append(out)
        for k, rec in recordings.items():
            rec.append(current[k])
    if not outputs:
        empty = x.new_zeros(x.shape)
        return empty, {k: current[k] for k in state}, {k: empty.clone() for k in recordings}
    stacked = {k: torch.stack(v, dim=1) for k, v in recordings.items()}
    return torch.stack(outputs, dim=1), {k: current[k] for k in state}, stacked


@runtime_checkable
class ComputeBackend(Protocol):
    """Runs a neuron layer's whole time loop.

    ``run(x, state, params)`` takes the input ``x`` of shape ``(B, T, ...)``, the state dict (tensors of shape
    ``(B, ...)``, for example ``{"v_mem": ..., "i_syn": ...}``; the backend must not change them in place) and
    :class:`NeuronParams` (the LIF family) or a :class:`StepModel` (any other model), and returns ``(spikes, final_state, recordings)``: spikes ``(B, T, ...)``, a new state
    dict with the same keys, and ``{name: (B, T, ...)}`` (empty unless ``params.record_states``). Gradients must
    flow to ``x``, to the initial state and to every tensor in ``params`` that requires them.
    ``unsupported_reason`` returns None when the backend can run the call, else a sentence saying why not (a
    backend written before :class:`StepModel` existed should return one for it, so the layer falls back).

    Example:
        >>> class Reference:
        ...     name = "my-loop"
        ...     def unsupported_reason(self, x, state, params):
        ...         return None if params.rec_connect is None else "no recurrent layers"
        ...     def run(self, x, state, params):
        ...         ...
    """

    name: str

    def unsupported_reason(
        self, x: torch.Tensor, state: Mapping[str, torch.Tensor], params: NeuronParams | StepModel
    ) -> str | None: ...

    def run(
        self, x: torch.Tensor, state: Mapping[str, torch.Tensor], params: NeuronParams | StepModel
    ) -> BackendResult: ...


# ----------------------------------------------------------------------------------------------------- selection
@dataclasses.dataclass(frozen=True)
class _Choice:
    name: str
    fallback: Fallback


_selection: contextvars.ContextVar[_Choice | None] = contextvars.ContextVar("spikekit_backend", default=None)
_warned: set[tuple[str, str, str]] = set()


@contextlib.contextmanager
def use_backend(name: str, *, fallback: Fallback = "warn") -> Iterator[None]:
    """Run every neuron layer inside the block on backend ``name`` unless the layer names its own.

    Args:
        name: a registered backend (``spikekit.compute.available_backends()`` lists them).
        fallback: what to do when the backend cannot run a layer's configuration: ``"warn"`` (run on ``"torch"``
            and warn once), ``"silent"`` (run on ``"torch"``), or ``"error"`` (raise).

    The choice is held in a context variable: it applies to this thread or asyncio task (and to tasks created
    inside the block), never to other tasks or to threads and processes started inside the block (see the module
    docstring for how to carry it over).

    Example:
        >>> with spikekit.use_backend("fused-cpu"):
        ...     out = model(x)
    """
    if fallback not in ("warn", "error", "silent"):
        raise ValueError(f"use_backend: fallback must be 'warn', 'error' or 'silent', got {fallback!r}")
    get_backend(name)  # fail early on a name that is not installed
    token = _selection.set(_Choice(name, fallback))
    try:
        yield
    finally:
        _selection.reset(token)


def _current_choice() -> _Choice | None:
    # torch.compile cannot trace ContextVar.get: the choice in force when a model is traced is baked into its graph
    return _selection.get()


# What torch.compiler.assume_constant_result does, without importing torch._dynamo (about 2 s) with spikekit.
_current_choice._dynamo_marked_constant = True  # type: ignore[attr-defined]


def current_backend() -> str:
    """The backend a layer without its own ``backend=`` would use here (in this thread or asyncio task)."""
    choice = _selection.get()
    return REFERENCE_BACKEND if choice is None else choice.name


def get_backend(name: str) -> ComputeBackend:
    """The backend instance registered under ``name`` (instantiated once per plugin host and plugin set).

    The host caches the instance and drops it whenever plugins are registered or unregistered, or the host is
    replaced (:func:`spikekit.plugins.configure`), so a changed plugin set is always seen.
    """
    backend: ComputeBackend = host().load_backend(name)
    return backend


def available_backends() -> dict[str, str]:
    """``{name: description}`` of every registered backend that can be used here (its required modules found)."""
    return {name: spec.description for name, spec in host().backends().items() if not spec.missing_requirements()}


def unavailable_backends() -> dict[str, str]:
    """``{name: reason}`` of every registered backend that cannot be used here, e.g. ``triton`` without Triton."""
    specs = host().backends().items()
    return {n: f"needs {', '.join(m)}, not installed" for n, s in specs if (m := s.missing_requirements())}


def run_neuron(
    requested: str | None, x: torch.Tensor, state: Mapping[str, torch.Tensor], params: NeuronParams | StepModel
) -> BackendResult:
    """Run ``params``'s model over ``x`` on backend ``requested`` (the layer's own choice, or None to follow
    :func:`use_backend`), with the fallback described in the module docstring."""
    choice = _current_choice() if requested is None else _Choice(requested, "warn")
    name, fallback = (REFERENCE_BACKEND, "warn") if choice is None else (choice.name, choice.fallback)
    backend = get_backend(name)
    if name != REFERENCE_BACKEND:
        reason = backend.unsupported_reason(x, state, params)
        if reason is not None:
            if fallback == "error":
                raise BackendUnsupportedError(f"{params.layer_name}: backend {name!r} cannot run this layer: {reason}")
            key = (params.layer_name, name, reason)
            if fallback == "warn" and key not in _warned:
                _warned.add(key)
                warn_at_caller(
                    f"{params.layer_name}: backend {name!r} cannot run this layer ({reason}); "
                    f"running it on the reference backend {REFERENCE_BACKEND!r} instead",
                    BackendFallbackWarning,
                )
            backend = get_backend(REFERENCE_BACKEND)
    return backend.run(x, state, params)
