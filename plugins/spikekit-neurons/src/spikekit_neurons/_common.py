"""What the neuron layers share: default arguments, parameter creation, the base class of the LIF family
(:class:`NeuronLayer`: one forward for all, the firing rate), and the recurrent mixin and constructor.

The input checks that :class:`NeuronLayer` runs live in the core (:mod:`spikekit.state`, public, so that a third
party's layer runs the same ones).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from spikekit.compute import NeuronParams, run_neuron
from spikekit.state import (
    StatefulLayer,
    check_broadcast,
    check_rec_connect,
    check_state_device,
    check_state_dtype,
    check_time_input,
)
from spikekit_neurons._checks import check_rec_connect_module
from spikekit_neurons.resets import MembraneSubtract


class _Default:
    """A default argument resolved into a fresh object at layer construction (so layers share nothing)."""

    def __init__(self, text: str, factory: Callable[[], Any]):
        self.text = text
        self.factory = factory

    def __repr__(self) -> str:  # shows in help() signatures
        return self.text


def _default_surrogate() -> Any:
    # Resolved through the public namespace at construction time: spikekit-surrogates provides it.
    import spikekit.activation as activation

    return activation.SingleExponential()


DEFAULT_SURROGATE: Any = _Default("SingleExponential()", _default_surrogate)
DEFAULT_RESET: Any = _Default("MembraneSubtract()", MembraneSubtract)


def resolve(value: Any) -> Any:
    """``value``, or a fresh default object if ``value`` is one of the default markers."""
    return value.factory() if isinstance(value, _Default) else value


def as_frozen_param(value: Any) -> nn.Parameter | None:
    """A non-trainable Parameter holding a private copy of ``value`` (None stays None).

    The copy is what differs from sinabs 3.1.3, where every layer built with the default threshold shares one
    storage (so an in-place change of one layer's threshold changed all of them).
    """
    if value is None:
        return None
    return nn.Parameter(torch.as_tensor(value).detach().clone(), requires_grad=False)


def as_float_param(value: Any, dtype: torch.dtype | None = torch.float32) -> nn.Parameter:
    """A trainable Parameter holding a private copy of ``value`` as ``dtype`` (or as-is if float and dtype None)."""
    tensor = torch.as_tensor(value, dtype=dtype).detach().clone()
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.get_default_dtype())
    return nn.Parameter(tensor)


def recurrent_init(base_init: Callable[..., None], after: str | None = None) -> Callable[..., None]:
    """The ``__init__`` of a recurrent layer built on ``base_init`` (the constructor of the layer it extends).

    Its signature is ``base_init``'s with a required ``rec_connect`` inserted after the argument ``after`` (first
    when None), so ``inspect.signature`` and the docs show every argument; it binds its arguments to that
    signature, runs ``base_init`` with all but ``rec_connect``, then checks ``rec_connect`` and registers it as a
    submodule.
    """
    base = inspect.signature(base_init)
    names = list(base.parameters)
    position = names.index(after) + 1 if after is not None else 1  # 0 is self
    rec = inspect.Parameter("rec_connect", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation="torch.nn.Module")
    parameters = list(base.parameters.values())
    signature = base.replace(parameters=[*parameters[:position], rec, *parameters[position:]])

    def __init__(self: nn.Module, *args: Any, **kwargs: Any) -> None:
        try:
            arguments = signature.bind(self, *args, **kwargs).arguments
        except TypeError as exc:
            raise TypeError(f"{type(self).__name__}: {exc}") from None
        del arguments["self"]
        rec_connect = arguments.pop("rec_connect")
        base_init(self, **arguments)
        check_rec_connect_module(self, rec_connect)
        self.rec_connect = rec_connect

    # for inspect.signature and the docs: the arguments, their annotations, and base_init's source (so that the
    # docs show the defaults as written there)
    __init__.__signature__ = signature  # type: ignore[attr-defined]
    __init__.__annotations__ = {n: p.annotation for n, p in signature.parameters.items() if p.annotation is not p.empty}
    __init__.__wrapped__ = base_init  # type: ignore[attr-defined]
    return __init__


class FiringRate:
    """Gives a neuron layer ``firing_rate``: the mean output of its last forward call, with its autograd graph.

    Computed in ``forward`` as sinabs computes it (:meth:`_set_rate`), a scalar: keeping a reference to the output
    and reducing it only when read would save one pass over the output, but would keep every layer's output alive
    until its next call (in a conv net, the spikes that a pooling layer has already consumed: about a quarter more
    peak memory in training). It can be set; the next call replaces a set value.
    """

    #: sinabs computes the rate of LIF, IAF and ExpLeak as ``output.mean()``, that of the recurrent and adaptive
    #: layers as ``output.sum() / output.numel()`` (equal in value, different in the last bit and the graph).
    _rate_by_mean: bool = True

    def _set_rate(self, output: torch.Tensor) -> None:
        self.firing_rate = output.mean() if self._rate_by_mean else output.sum() / output.numel()

    @property
    def firing_rate(self) -> Any:
        """Mean output per neuron and time step of the last forward call (AttributeError before the first)."""
        try:
            return self.__dict__["_firing_rate"]
        except KeyError:
            raise AttributeError(f"'{type(self).__name__}' object has no attribute 'firing_rate'") from None

    @firing_rate.setter
    def firing_rate(self, value: Any) -> None:
        self.__dict__["_firing_rate"] = value


class NeuronLayer(FiringRate, StatefulLayer):
    """The shared body of the LIF-family layers (IAF, LIF, ExpLeak, ALIF and their variants): decay factors from
    the time constants, the state shape, and one ``_run`` that checks the input, prepares the states, hands the
    whole time loop to the compute backend and keeps the final states, recordings and output.

    A subclass stores its arguments and provides :meth:`_neuron_params`.
    """

    train_alphas: bool
    tau_mem: torch.Tensor | None  # Parameters (alpha_* instead with train_alphas); IAF empties the tau_mem slot
    tau_syn: torch.Tensor | None
    alpha_mem: torch.Tensor
    alpha_syn: torch.Tensor | None
    v_mem: torch.Tensor

    #: When only the batch size changes, sinabs's IAF, LIF and ExpLeak draw the new batch entries from the old ones
    #: (``handle_state_batch_size_mismatch``, which uses the RNG); the recurrent and adaptive layers restart at zero.
    _resample_batch = False

    @property
    def alpha_mem_calculated(self) -> torch.Tensor:
        """The membrane decay factor :math:`e^{-1/\\tau_{mem}}` (the ``alpha_mem`` Parameter with train_alphas)."""
        if self.train_alphas:
            return self.alpha_mem
        if self.tau_mem is None:  # only IAF empties the slot, and IAF has its own alpha_mem_calculated
            raise TypeError(f"{type(self).__name__}: tau_mem is None, so there is no membrane decay factor")
        return torch.exp(-1.0 / self.tau_mem)

    @property
    def alpha_syn_calculated(self) -> torch.Tensor | None:
        """The synaptic decay factor, or None without a synapse."""
        if self.train_alphas:
            return self.alpha_syn
        return torch.exp(-1.0 / self.tau_syn) if self.tau_syn is not None else None

    @property
    def shape(self) -> torch.Size | None:
        """The state shape ``(B, ...)``, or None before the first input."""
        return self.v_mem.shape if self.is_state_initialised() else None

    def _neuron_params(self, rec_connect: nn.Module | None, device: torch.device | None = None) -> NeuronParams:
        """What the backend runs, with ``rec_connect``; tensors the layer does not register move to ``device``."""
        raise NotImplementedError

    def _prepare_state(self, batch_size: int, trailing: list[int]) -> None:
        shape = (batch_size, *trailing)
        if self.is_state_initialised() and self.state_has_shape(shape):
            return
        if self._resample_batch and self.is_state_initialised() and self.has_trailing_dimension(trailing):
            self.handle_state_batch_size_mismatch(batch_size)
        else:  # first call, new neuron shape, or a layer that restarts at zero
            self.init_state_with_shape(shape)

    def _run(self, input_data: torch.Tensor, rec_connect: nn.Module | None) -> torch.Tensor:
        x = check_time_input(self, input_data)
        batch_size, _, *trailing = x.shape  # (B, T, ...)
        self._prepare_state(batch_size, trailing)
        check_state_dtype(self)
        check_state_device(self, x)
        check_rec_connect(self, x, rec_connect)
        p = self._neuron_params(rec_connect, x.device)
        check_broadcast(
            self, (batch_size, *trailing), spike_threshold=p.spike_threshold, tau_mem=p.alpha_mem,
            tau_syn=p.alpha_syn, tau_adapt=p.alpha_adapt, adapt_scale=p.adapt_scale, min_v_mem=p.min_v_mem,
        )  # fmt: skip
        state = {name: buf for name, buf in self._buffers.items() if buf is not None}
        spikes, final, recordings = run_neuron(getattr(self, "backend", None), x, state, p)
        for name, value in final.items():
            setattr(self, name, value)  # carries the autograd history, as in sinabs
        self.recordings = recordings
        self._set_rate(spikes)
        return spikes

    def forward(self, input_data: torch.Tensor) -> torch.Tensor:
        """Run the layer over time.

        Args:
            input_data: ``(B, T, ...)``.

        Returns:
            spikes (or, for ExpLeak, the membrane trace) of the same shape.
        """
        return self._run(input_data, None)


class RecurrentMixin:
    """What a recurrent layer adds to the layer it extends (``class LIFRecurrent(RecurrentMixin, LIF)``): the
    layer's loop runs with ``rec_connect``, and ``_param_dict`` rebuilds it. The constructor is
    :func:`recurrent_init` of the layer's."""

    rec_connect: Any
    _rate_by_mean = False  # sinabs's recurrent layers compute the rate as sum / numel
    _resample_batch = False  # and restart from zero states on any change of shape

    def forward(self, input_data: torch.Tensor) -> torch.Tensor:
        """Run the layer over time; ``input_data`` is ``(B, T, ...)``, the output has the same shape."""
        spikes: torch.Tensor = self._run(input_data, self.rec_connect)  # type: ignore[attr-defined]
        return spikes

    @property
    def _param_dict(self) -> dict[str, Any]:
        param_dict: dict[str, Any] = super()._param_dict  # type: ignore[misc]
        param_dict.update(rec_connect=self.rec_connect)
        return param_dict


#: The constructor arguments every LIF-family layer keeps under their own name, in sinabs's ``_param_dict`` order
#: (after the time constants and the threshold, which each layer stores its own way).
STORED_ARGS = ("spike_fn", "reset_fn", "surrogate_grad_fn", "train_alphas", "shape", "min_v_mem", "norm_input",
               "record_states")  # fmt: skip
_PARAM_FIELDS = frozenset(f.name for f in dataclasses.fields(NeuronParams))


def neuron_param_dict(layer: nn.Module, param_dict: dict[str, Any], **own: Any) -> dict[str, Any]:
    """``param_dict`` extended with ``own`` (the layer's time constants and threshold), the :data:`STORED_ARGS`
    and ``backend`` when the layer has one: the arguments that rebuild ``layer``."""
    param_dict.update(own)
    param_dict.update({name: getattr(layer, name) for name in STORED_ARGS})
    if getattr(layer, "backend", None) is not None:
        param_dict["backend"] = layer.backend
    return param_dict


def neuron_params(layer: nn.Module, rec_connect: nn.Module | None, **own: Any) -> NeuronParams:
    """The :class:`~spikekit.compute.NeuronParams` of a LIF-family layer: ``own`` (decay factors, threshold,
    adaptation), the :data:`STORED_ARGS` that are fields of ``NeuronParams``, and ``rec_connect``."""
    shared = {name: getattr(layer, name) for name in STORED_ARGS if name in _PARAM_FIELDS}
    return NeuronParams(**own, **shared, rec_connect=rec_connect, layer_name=type(layer).__name__)
