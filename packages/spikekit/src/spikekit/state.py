"""Stateful layers: the base class of every neuron layer, and the squeeze mixin.

A *stateful layer* is an :class:`torch.nn.Module` that keeps named state tensors (membrane potential, synaptic
current, ...) as buffers, so that they follow ``.to()``, ``state_dict()`` and ``deepcopy``. States start empty
(shape ``(0,)``), are created from the first input, and are re-created when the input's shape changes.

Time layout: neuron layers take ``(B, T, ...)``. A :class:`SqueezeMixin` layer takes ``(B*T, ...)`` and needs
``batch_size`` or ``num_timesteps`` to unfold it.
"""

from __future__ import annotations

import copy as _copy
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import nn

__all__ = ["StatefulLayer", "SqueezeMixin", "layer_name"]

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


class StatefulLayer(nn.Module):
    """Base class of layers whose output depends on state carried from one time step to the next.

    Args:
        state_names: names of the state buffers; each starts as an empty tensor of shape ``(0,)``.

    Example:
        >>> class Counter(StatefulLayer):
        ...     def __init__(self):
        ...         super().__init__(state_names=["count"])
        ...     def forward(self, x):  # x: (B, T, N)
        ...         if not self.is_state_initialised() or not self.state_has_shape(x[:, 0].shape):
        ...             self.init_state_with_shape(x[:, 0].shape)
        ...         self.count = self.count + x.sum(1)
        ...         return x
    """

    def __init__(self, state_names: Iterable[str]):
        super().__init__()
        for name in state_names:
            self.register_buffer(name, torch.zeros(0))

    # ----------------------------------------------------------------------------------------------- state queries
    @property
    def state_names(self) -> list[str]:
        """Names of the state buffers, in registration order."""
        return [name for name, _ in self.named_buffers(recurse=False)]

    def _state_buffers(self) -> list[tuple[str, torch.Tensor]]:
        return [(n, b) for n, b in self.named_buffers(recurse=False) if b is not None]

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
        self,
        randomize: bool = False,
        value_ranges: Mapping[str, tuple[float, float]] | None = None,
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
        for name, buf in self._state_buffers():
            saved = state_dict.get(prefix + name)
            if isinstance(saved, torch.Tensor) and saved.shape != buf.shape:
                self.register_buffer(
                    name,
                    torch.zeros(saved.shape, device=buf.device, dtype=buf.dtype),
                    persistent=name not in self._non_persistent_buffers_set,
                )
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    # ------------------------------------------------------------------------------------ constructor round trip
    @property
    def _param_dict(self) -> dict[str, Any]:
        """The constructor arguments that rebuild a layer like this one (subclasses extend it)."""
        return {}

    @property
    def arg_dict(self) -> dict[str, Any]:
        """Public alias of :attr:`_param_dict`."""
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
            return memo[id(self)]
        kwargs = {k: _copy.deepcopy(v, memo) if isinstance(v, nn.Module) else v for k, v in self._param_dict.items()}
        new = self.__class__(**kwargs)  # type: ignore[arg-type]
        memo[id(self)] = new
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

    Subclasses call :meth:`squeeze_init` in ``__init__`` and route ``forward`` through :meth:`squeeze_forward`.
    One of ``batch_size`` / ``num_timesteps`` may be unknown (stored as ``-1``) and is inferred from the row count.
    """

    batch_size: int
    num_timesteps: int

    def squeeze_init(self, batch_size: int | None, num_timesteps: int | None) -> None:
        if not batch_size and not num_timesteps:
            raise TypeError("You need to specify either batch_size or num_timesteps.")
        self.batch_size = int(batch_size) if batch_size else -1
        self.num_timesteps = int(num_timesteps) if num_timesteps else -1

    def squeeze_forward(self, input_data: torch.Tensor, forward_method: Callable[[torch.Tensor], torch.Tensor]):
        """Unfold ``(B*T, ...)`` into ``(B, T, ...)``, run ``forward_method``, fold the result back."""
        if not isinstance(input_data, torch.Tensor):
            raise TypeError(
                f"{layer_name(self)} expects a torch.Tensor of shape (batch*time, ...), got {type(input_data).__name__}"
            )  # type: ignore[arg-type]
        if input_data.ndim < 1:
            raise ValueError(f"{layer_name(self)} expects input of shape (batch*time, ...), got a 0-d tensor")  # type: ignore[arg-type]
        rows = input_data.shape[0]
        bs, nt = self.batch_size, self.num_timesteps
        known = [v for v in (bs, nt) if v > 0]
        product = 1
        for v in known:
            product *= v
        if (len(known) == 2 and rows != product) or (len(known) == 1 and rows % product):
            what = f"batch_size={bs}, num_timesteps={nt}"
            raise ValueError(
                f"{layer_name(self)} expects input of shape (batch*time, ...) whose first dimension fits "  # type: ignore[arg-type]
                f"{what}, got shape {tuple(input_data.shape)}"
            )
        unfolded = input_data.reshape(bs, nt, *input_data.shape[1:])  # (B, T, ...)
        return forward_method(unfolded).flatten(0, 1)  # (B*T, ...)

    def squeeze_param_dict(self, param_dict: dict[str, Any]) -> dict[str, Any]:
        param_dict.update(batch_size=self.batch_size, num_timesteps=self.num_timesteps)
        return param_dict
