"""Stateful layers: the base class of every neuron layer, and the squeeze mixin.

A *stateful layer* is an :class:`torch.nn.Module` that keeps named state tensors (membrane potential, synaptic
current, ...) as buffers, so that they follow ``.to()``, ``state_dict()`` and ``deepcopy``. States start empty
(shape ``(0,)``), are created from the first input, and are re-created when the input's shape changes.

Time layout: neuron layers take ``(B, T, ...)``. A :class:`SqueezeMixin` layer takes ``(B*T, ...)`` and needs
``batch_size`` or ``num_timesteps`` to unfold it.

This module is the public layer-authoring API: besides the two classes it holds the input checks that the
first-party neuron layers run (:func:`check_time_input`, :func:`check_state_device`, :func:`check_state_dtype`,
:func:`check_broadcast`, :func:`check_rec_connect`), which a plugin's layer may call too, and the errors they raise.

Stateful layers are **not thread-safe**: a layer holds one set of states, so two threads calling one layer would
interleave them. A call that starts while another thread is inside the same layer raises
:class:`ConcurrentUseError`; give each thread its own copy (``copy.deepcopy(model)``).
"""

from __future__ import annotations

import copy as _copy
import math
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from spikekit.errors import SpikekitError

__all__ = [
    "StatefulLayer",
    "SqueezeMixin",
    "layer_name",
    "ShapeMismatchError",
    "ConcurrentUseError",
    "check_time_input",
    "check_state_device",
    "check_state_dtype",
    "check_broadcast",
    "check_rec_connect",
]

_REPR_KEYS = (
    "tau_mem",
    "tau_syn",
    "tau_adapt",
    "adapt_scale",
    "spike_threshold",
    "min_v_mem",
    "norm_input",
    "batch_size",
    "num_timesteps",
)
_EMPTY = torch.Size([0])


def layer_name(module: nn.Module) -> str:
    """The class name used in error messages (``IAFSqueeze``, ``LIF``, ...)."""
    return type(module).__name__


class ShapeMismatchError(SpikekitError, ValueError, RuntimeError):
    """An input, a state or a recurrent connection's output has a shape that does not fit the layer.

    Raised for a ``(B*T, ...)`` input whose row count does not fit ``batch_size`` / ``num_timesteps``, a
    ``rec_connect`` whose output does not have the neuron count, states loaded with shapes that disagree. It is a
    :class:`ValueError` (what spikekit raised before) and a :class:`RuntimeError` (what sinabs raises for the same
    input, from ``torch.reshape``), so code written for either catches it.
    """


class ConcurrentUseError(SpikekitError, RuntimeError):
    """A stateful layer was called from a thread while another thread was inside the same layer.

    Stateful layers are not thread-safe: they hold one set of states. Give each thread its own copy
    (``copy.deepcopy(model)``).
    """


def _unloadable(saved: Mapping[str, Any], ran: tuple[int, ...] | None) -> str | None:
    """Why a set of saved states cannot be loaded together into a layer that has run on neurons of shape ``ran``
    (None: it has not run), or None. A checkpoint may change the batch size, never the neurons a layer knows: their
    states would be re-initialised, silently, at the next call."""
    shapes = {n: tuple(v.shape) for n, v in saved.items() if isinstance(v, torch.Tensor)}
    for name, shape in shapes.items():
        if len(shape) == 0:
            return f"state {name!r} is 0-d; expected shape (batch, *neurons) or (0,) for a state not yet created"
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{n} {s}" for n, s in shapes.items())
        return f"the saved states have different shapes ({listed}); expected one shape (batch, *neurons) for all"
    for name, shape in shapes.items():
        if ran is not None and shape != tuple(_EMPTY) and shape[1:] != ran:
            return (
                f"state {name!r} of shape {shape} is for neurons of shape {shape[1:]}, but the layer has run on "
                f"neurons of shape {ran}; expected states of shape (batch, {', '.join(map(str, ran))}) (build a new "
                "layer for other neurons)"
            )
    return None


class StatefulLayer(nn.Module):
    """Base class of layers whose output depends on state carried from one time step to the next.

    *States* are buffers that the layer (re)creates from its input: they start empty (shape ``(0,)``), are
    zeroed by :meth:`reset_states`, re-created when the input's shape changes and cut from the graph by
    :meth:`detach_states`. They are the names given to ``__init__``, plus any registered later with
    :meth:`register_state`. A buffer registered with :meth:`register_constant` (a fixed kernel, a lookup table)
    is *not* a state: it follows ``.to()`` and ``state_dict`` like any buffer, but resets and shape changes leave
    it alone. (In sinabs every buffer counts as a state; here too, unless it is registered as a constant.)

    A new layer describes how to rebuild itself by overriding :meth:`constructor_args` (``deepcopy``,
    ``arg_dict`` and conversions use it); layers written for sinabs that override ``_param_dict`` keep working.

    Stateful layers are not thread-safe: calling one layer from a second thread while the first is inside it
    raises :class:`ConcurrentUseError` in the second thread (checked outside ``torch.compile`` only; the check
    costs three dictionary operations per call).

    Args:
        state_names: names of the state buffers; each starts as an empty tensor of shape ``(0,)``.

    Example:
        >>> class Counter(StatefulLayer):
        ...     def __init__(self):
        ...         super().__init__(state_names=["count"])
        ...         self.register_constant("gain", torch.tensor(2.0))  # not zeroed by reset_states()
        ...     def forward(self, x):  # x: (B, T, N)
        ...         x = check_time_input(self, x)
        ...         if not self.is_state_initialised() or not self.state_has_shape(x[:, 0].shape):
        ...             self.init_state_with_shape(x[:, 0].shape)
        ...         self.count = self.count + self.gain * x.sum(1)
        ...         return x
        >>> layer = Counter()
        >>> _ = layer(torch.ones(1, 3, 2)); layer.count
        tensor([[6., 6.]])
        >>> layer.reset_states(); layer.count, layer.gain
        (tensor([[0., 0.]]), tensor(2.))
    """

    def __init__(self, state_names: Iterable[str]):
        super().__init__()
        self._constant_names: set[str] = set()
        for name in state_names:
            self.register_buffer(name, torch.zeros(0))

    # ------------------------------------------------------------------------------------------ declaring buffers
    def register_state(self, name: str, tensor: torch.Tensor | None = None, persistent: bool = True) -> None:
        """Declare a state after ``__init__`` (empty, shape ``(0,)``, unless ``tensor`` is given)."""
        self._constants().discard(name)
        self.register_buffer(name, torch.zeros(0) if tensor is None else tensor, persistent=persistent)

    def register_constant(self, name: str, tensor: torch.Tensor, persistent: bool = True) -> None:
        """Register a buffer that is not a state: never zeroed, resized, randomised or detached by the layer."""
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(
                f"{layer_name(self)}.register_constant expects a torch.Tensor for {name!r}, got {type(tensor).__name__}"
            )
        self.register_buffer(name, tensor, persistent=persistent)
        self._constants().add(name)

    def _constants(self) -> set[str]:
        constants = self.__dict__.get("_constant_names")
        if constants is None:  # a layer pickled before constants existed
            constants = self.__dict__["_constant_names"] = set()
        return constants

    # ----------------------------------------------------------------------------------------------- state queries
    @property
    def state_names(self) -> list[str]:
        """Names of the state buffers, in registration order (constants excluded)."""
        return [n for n, _ in self._state_buffers()]

    @property
    def constant_names(self) -> list[str]:
        """Names of the buffers registered with :meth:`register_constant`."""
        constants = self._constants()
        return [n for n in self._buffers if n in constants]

    def _state_buffers(self) -> list[tuple[str, torch.Tensor]]:
        constants = self._constants()
        return [(n, b) for n, b in self._buffers.items() if b is not None and n not in constants]

    # ------------------------------------------------------------------------------------------ thread ownership
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if torch.compiler.is_compiling():
            return super().__call__(*args, **kwargs)
        slot, me = self.__dict__, threading.get_ident()
        if slot.get("_active_thread") == me:  # a nested call in the thread that already holds the layer
            return super().__call__(*args, **kwargs)
        # dict.setdefault is atomic: of two threads entering at once, exactly one gets the layer
        owner = slot.setdefault("_active_thread", me)
        if owner != me and owner is not None:
            raise ConcurrentUseError(
                f"{layer_name(self)} was called from thread {me} while thread {owner} is running it: stateful "
                "layers are not thread-safe (they hold one set of states); give each thread its own copy "
                "(copy.deepcopy(model))"
            )
        try:
            return super().__call__(*args, **kwargs)
        finally:
            slot.pop("_active_thread", None)

    def is_state_initialised(self) -> bool:
        """True when no state buffer is still empty (shape ``(0,)``)."""
        return all(buf.shape != _EMPTY for _, buf in self._state_buffers())

    def state_has_shape(self, shape: Iterable[int]) -> bool:
        """True when every state buffer has exactly ``shape``."""
        shape = torch.Size(shape)
        return all(buf.shape == shape for _, buf in self._state_buffers())

    def has_trailing_dimension(self, trailing_dim: Iterable[int]) -> bool:
        """True when every state buffer has ``shape[1:] == trailing_dim``."""
        trailing = torch.Size(trailing_dim)
        return all(buf.shape[1:] == trailing for _, buf in self._state_buffers())

    # ------------------------------------------------------------------------------------------ state (re)creation
    def init_state_with_shape(self, shape: Iterable[int], randomize: bool = False) -> None:
        """(Re)create every state buffer as zeros of ``shape`` on the buffer's device and dtype."""
        shape = torch.Size(shape)
        for name, buf in self._state_buffers():
            self.register_buffer(name, torch.zeros(shape, device=buf.device, dtype=buf.dtype))
        self.reset_states(randomize=randomize)

    def handle_state_batch_size_mismatch(self, new_batch_size: int) -> None:
        """Resize the batch dimension of every state by drawing old batch entries at random, with replacement.

        Each buffer draws its own indices with ``torch.randint`` (so this consumes the global RNG, one draw per
        buffer, exactly as sinabs does).
        """
        for name, buf in self._state_buffers():
            idx = torch.randint(0, buf.shape[0], (new_batch_size,)).to(buf.device)
            self.register_buffer(name, buf.index_select(0, idx))

    def reset_states(
        self, randomize: bool = False, value_ranges: Mapping[str, tuple[float, float]] | None = None
    ) -> None:
        """Reset every state to zero, or to uniform noise in ``value_ranges[name]`` (default ``(0, 1)``).

        Does nothing before the states exist. States are detached from any autograd history.
        """
        if not self.is_state_initialised():
            return
        for name, buf in self._state_buffers():
            # Fresh tensors rather than in-place writes: the old state may be saved in an autograd graph that is
            # still to be back-propagated, or be a view that a backend returned.
            if randomize:
                low, high = (value_ranges or {}).get(name, (0.0, 1.0))
                fresh = torch.empty_like(buf, memory_format=torch.contiguous_format).uniform_() * (high - low) + low
            else:
                fresh = torch.zeros_like(buf, memory_format=torch.contiguous_format)
            setattr(self, name, fresh)

    def zero_grad(self, set_to_none: bool = False) -> None:
        """Zero parameter gradients and cut the states from the autograd graph, keeping their values.

        Call between sequences in truncated BPTT: the next backward pass then stops at the current state.
        """
        super().zero_grad(set_to_none)
        self.detach_states()

    def detach_states(self) -> None:
        """Cut every state from the autograd graph, in place, keeping its value."""
        for _, buf in self._state_buffers():
            if buf.grad_fn is not None:
                buf.detach_()
            else:
                buf.requires_grad_(False)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{layer_name(self)} does not implement forward()")

    def _load_from_state_dict(
        self,
        state_dict: Mapping[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        # States take the checkpoint's shape: a layer that has not seen input yet (states of shape (0,)), or one
        # that ran with another batch size, loads a checkpoint instead of failing with "size mismatch" as in sinabs.
        # The saved states must agree with each other, though: one shape (batch, *neurons) for all, or all empty.
        saved = {n: state_dict[prefix + n] for n, _ in self._state_buffers() if prefix + n in state_dict}
        ran = next((tuple(b.shape[1:]) for _, b in self._state_buffers() if b.shape != _EMPTY), None)
        problem = _unloadable(saved, ran)
        if problem is not None:
            error_msgs.append(f"{layer_name(self)} (at {prefix[:-1] or 'top level'!r}): {problem}")
            return
        for name, buf in self._state_buffers():
            value = saved.get(name)
            if isinstance(value, torch.Tensor) and value.shape != buf.shape:
                self.register_buffer(
                    name,
                    torch.zeros(value.shape, device=buf.device, dtype=buf.dtype),
                    persistent=name not in self._non_persistent_buffers_set,
                )
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    # ------------------------------------------------------------------------------------ constructor round trip
    def constructor_args(self) -> dict[str, Any]:
        """The keyword arguments that rebuild a layer like this one: ``type(layer)(**layer.constructor_args())``.

        Override it in a new layer (return the *current* values, e.g. a trained time constant, detached). It is
        what :attr:`arg_dict`, :func:`copy.deepcopy` and the converters read. The base class returns ``{}``.
        """
        return {}

    @property
    def _param_dict(self) -> dict[str, Any]:
        """sinabs's name for :meth:`constructor_args`, kept: layers written for sinabs override this property."""
        return self.constructor_args()

    @property
    def arg_dict(self) -> dict[str, Any]:
        """The constructor arguments (public getter, as in sinabs): :attr:`_param_dict`."""
        return self._param_dict

    @property
    def does_spike(self) -> bool:
        """True when the layer has a spike function (False for leaky integrators such as ExpLeak)."""
        return getattr(self, "spike_fn", None) is not None

    def __repr__(self) -> str:
        params = self._param_dict
        shown = ", ".join(f"{k}={params[k]}" for k in params if k in _REPR_KEYS and params[k] is not None)
        extra = "\n".join(f"  ({n}): {m!r}".replace("\n", "\n  ") for n, m in self._modules.items())
        return f"{layer_name(self)}({shown})" + (f"\n{extra}\n" if extra else "")

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> StatefulLayer:
        """Rebuild from :attr:`_param_dict`, then copy every parameter, buffer and submodule.

        Unlike sinabs, submodules (a recurrent layer's ``rec_connect``) are deep-copied too, so layers whose
        ``rec_connect`` has parameters copy fine and the copy shares nothing with the original.
        """
        memo = {} if memo is None else memo
        if id(self) in memo:
            copied: StatefulLayer = memo[id(self)]
            return copied
        kwargs = {k: _copy.deepcopy(v, memo) if isinstance(v, nn.Module) else v for k, v in self._param_dict.items()}
        new = self.__class__(**kwargs)  # type: ignore[arg-type]
        memo[id(self)] = new
        new._constants().update(self._constants())
        for name, param in self.named_parameters(recurse=False):
            target = getattr(new, name)
            target.data = param.data.clone()
            target.requires_grad_(param.requires_grad)
        for name, buf in self.named_buffers(recurse=False):
            if buf is not None:
                new.register_buffer(name, buf.detach().clone(), persistent=name not in self._non_persistent_buffers_set)
        for name, module in self._modules.items():
            if module is not None:
                setattr(new, name, _copy.deepcopy(module, memo))
        new.train(self.training)
        return new


class SqueezeMixin:
    """Lets a ``(B, T, ...)`` layer take ``(B*T, ...)`` input, as needed between ``Conv2d`` layers.

    Listed *before* the layer it squeezes, the mixin is the whole Squeeze class: it takes ``batch_size`` /
    ``num_timesteps`` and passes every other argument by keyword to the layer, unfolds the input around the layer's
    ``forward`` and adds both sizes to ``_param_dict``::

        class LIFSqueeze(SqueezeMixin, LIF):
            '''LIF taking (B*T, ...) input.'''

    Listed after the layer (sinabs's order, ``class MySqueeze(MyLayer, SqueezeMixin)``), the layer's own methods
    come first: such a subclass calls :meth:`squeeze_init` in its ``__init__``, routes ``forward`` through
    :meth:`squeeze_forward` and extends ``_param_dict`` with :meth:`squeeze_param_dict`, as in sinabs.
    One of ``batch_size`` / ``num_timesteps`` may be unknown (stored as ``-1``) and is inferred from the row count.
    """

    batch_size: int
    num_timesteps: int

    def __init__(self, batch_size: int | None = None, num_timesteps: int | None = None, **kwargs: Any):
        super().__init__(**kwargs)
        self.squeeze_init(batch_size, num_timesteps)

    def forward(self, input_data: torch.Tensor) -> torch.Tensor:
        """``(B*T, ...) -> (B*T, ...)``: the layer's ``forward`` on the input unfolded to ``(B, T, ...)``."""
        return self.squeeze_forward(input_data, super().forward)  # type: ignore[misc]

    @property
    def _param_dict(self) -> dict[str, Any]:
        return self.squeeze_param_dict(super()._param_dict)  # type: ignore[misc]

    def squeeze_init(self, batch_size: int | None, num_timesteps: int | None) -> None:
        if not batch_size and not num_timesteps:
            raise TypeError("You need to specify either batch_size or num_timesteps.")
        self.batch_size = _squeeze_size(self, "batch_size", batch_size)
        self.num_timesteps = _squeeze_size(self, "num_timesteps", num_timesteps)

    def squeeze_forward(
        self, input_data: torch.Tensor, forward_method: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        """Unfold ``(B*T, ...)`` into ``(B, T, ...)``, run ``forward_method``, fold the result back."""
        if not isinstance(input_data, torch.Tensor):
            raise TypeError(
                f"{layer_name(self)} expects a torch.Tensor of shape (batch*time, ...), got {type(input_data).__name__}"
            )
        if input_data.ndim < 1:
            raise ValueError(f"{layer_name(self)} expects input of shape (batch*time, ...), got a 0-d tensor")  # type: ignore[arg-type]
        rows = input_data.shape[0]
        bs, nt = self.batch_size, self.num_timesteps
        known = [v for v in (bs, nt) if v > 0]
        product = math.prod(known)
        if (len(known) == 2 and rows != product) or (len(known) == 1 and rows % product):
            what = f"batch_size={bs}, num_timesteps={nt}"
            raise ShapeMismatchError(
                f"{layer_name(self)} expects input of shape (batch*time, ...) whose first dimension fits "  # type: ignore[arg-type]
                f"{what}, got shape {tuple(input_data.shape)}"
            )
        unfolded = input_data.reshape(bs, nt, *input_data.shape[1:])  # (B, T, ...)
        return forward_method(unfolded).flatten(0, 1)  # (B*T, ...)

    def squeeze_param_dict(self, param_dict: dict[str, Any]) -> dict[str, Any]:
        param_dict.update(batch_size=self.batch_size, num_timesteps=self.num_timesteps)
        return param_dict


def _squeeze_size(layer: Any, arg: str, value: Any) -> int:
    """``batch_size`` / ``num_timesteps`` of a Squeeze layer: a positive whole number, or -1 when not given.

    As in sinabs, a falsy value (None, 0) and -1 (what ``arg_dict`` holds for it) mean "not given", and a whole
    float (``2.0``) is taken as an int.
    """
    if not value or (not isinstance(value, bool) and isinstance(value, (int, float)) and value == -1):
        return -1
    number = value.item() if isinstance(value, torch.Tensor) and value.numel() == 1 else value
    if isinstance(number, bool) or not isinstance(number, (int, float)) or number != int(number) or number < 1:
        raise ValueError(
            f"{layer_name(layer)}: {arg} must be a positive whole number (or None to infer it), got {value!r}"
        )
    return int(number)


# ============================================================================================ input checks (public)
def check_time_input(layer: nn.Module, x: Any) -> torch.Tensor:
    """Check a ``(B, T, ...)`` input of ``layer`` and return it in a dtype that can hold the layer's states.

    Refuses, naming the layer's class: a non-tensor (``TypeError``), fewer than 2 dims or ``T = 0``
    (``ValueError``), complex input (``TypeError``). Integer and boolean inputs (spike counts) are converted to
    the states' floating dtype (the numbers sinabs gets by type promotion); floating inputs pass unchanged.

    Example:
        >>> check_time_input(nn.Identity(), torch.ones(2, 3)).dtype
        torch.float32
    """
    name = layer_name(layer)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} expects a torch.Tensor of shape (batch, time, ...), got {type(x).__name__}")
    if x.ndim < 2:
        raise ValueError(
            f"{name} expects input of shape (batch, time, ...) with a time dimension, got shape {tuple(x.shape)}"
        )
    if x.shape[1] == 0:
        raise ValueError(
            f"{name} expects at least one time step: input of shape (batch, time >= 1, ...), got shape {tuple(x.shape)}"
        )
    if x.is_floating_point():
        return x
    if x.is_complex():
        raise TypeError(f"{name} keeps real-valued state: expected a floating-point input, got dtype {x.dtype}")
    state_dtype = next((b.dtype for _, b in _states_of(layer)), torch.get_default_dtype())
    if not state_dtype.is_floating_point:
        raise TypeError(f"{name} needs floating-point state, but its state has dtype {state_dtype}")
    return x.to(state_dtype)


def _states_of(layer: nn.Module) -> list[tuple[str, torch.Tensor]]:
    if isinstance(layer, StatefulLayer):
        return layer._state_buffers()
    return [(n, b) for n, b in layer._buffers.items() if b is not None]


def check_state_device(layer: nn.Module, x: torch.Tensor) -> None:
    """Refuse (``RuntimeError``) a state on another device than the input ``x``; torch's own error names no layer."""
    for state_name, buf in _states_of(layer):
        if buf.device != x.device:
            raise RuntimeError(
                f"{layer_name(layer)}: state {state_name!r} is on {buf.device}, the input on {x.device}; "
                f"move the layer with .to({str(x.device)!r})"
            )


def check_state_dtype(layer: nn.Module) -> None:
    """Refuse (``TypeError``) a state whose dtype is not floating-point (after ``layer.to(torch.int32)``, say)."""
    for state_name, buf in _states_of(layer):
        if not buf.dtype.is_floating_point:
            raise TypeError(
                f"{layer_name(layer)} needs floating-point state, but state {state_name!r} has dtype {buf.dtype}; "
                "expected float16, bfloat16, float32 or float64"
            )


def check_rec_connect(layer: nn.Module, x: torch.Tensor, rec_connect: nn.Module | None) -> None:
    """Refuse (``TypeError``) a recurrent connection whose floating parameters have another dtype than ``x``."""
    if rec_connect is None:
        return
    for name, param in rec_connect.named_parameters():
        if param.is_floating_point() and param.dtype != x.dtype:
            raise TypeError(
                f"{layer_name(layer)}: rec_connect has {param.dtype} parameters ({name}), the input is {x.dtype}; "
                "convert one of them"
            )


def check_broadcast(layer: nn.Module, state_shape: Sequence[int], **tensors: Any) -> None:
    """Refuse (``ValueError``) a per-neuron tensor (threshold, time constant, floor) that does not broadcast to the
    state's shape ``(B, *neurons)``. Scalars and non-tensors pass; keywords name the tensors in the message.

    Example:
        >>> check_broadcast(nn.Identity(), (2, 4), spike_threshold=torch.ones(4))  # fine: nothing happens
    """
    shape = torch.Size(state_shape)
    for what, value in tensors.items():
        if isinstance(value, torch.Tensor) and value.ndim:
            try:
                ok = torch.broadcast_shapes(value.shape, shape) == shape
            except RuntimeError:
                ok = False
            if not ok:
                raise ValueError(
                    f"{layer_name(layer)}: {what} of shape {tuple(value.shape)} does not broadcast to the neuron "
                    f"state of shape {tuple(shape)} (batch, *neuron dims); expected a scalar or a shape that "
                    f"broadcasts to {tuple(shape[1:])}"
                )
