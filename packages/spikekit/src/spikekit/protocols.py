"""The activation protocols: spike functions, reset functions and surrogate gradients.

These are the contracts between neuron layers and the objects that plug into them. Any object that fits works:
the first-party plugins' classes, a third party's, or a user's own function.

* A **surrogate gradient** is any callable ``(v_mem, spike_threshold) -> dS/dv``: it returns, elementwise, the
  pseudo-derivative of the spike output with respect to the membrane potential.
* A **spike function** turns the states it names in ``required_states`` and a threshold into spikes, and routes
  the gradient through a surrogate: ``spike_fn.apply(*states, spike_threshold, surrogate_grad_fn)``.
* A **reset function** maps ``(spikes, state, spike_threshold)`` to the new state dict (without changing the one
  it was given).

:class:`SurrogateSpikeFunction` is the glue that gives any spike rule a surrogate-gradient backward pass.

**Self-description.** Any of the three may carry a ``spec`` attribute, an :class:`ActivationSpec`: its role, its
kind (a short name such as ``"multi_spike"`` or ``"subtract"``) and its parameters, and for a surrogate a closed form
``(v_mem, spike_threshold) -> tensor`` that backends may evaluate themselves. Compute backends, NIR export and hardware
targets read the spec (:func:`spec_of`) and never guess from class names or object identity, so a third party's
activation that declares the kind of a first-party one is treated exactly like it. The kinds first-party code
understands are listed in :data:`SPIKE_KINDS`, :data:`RESET_KINDS` and :data:`SURROGATE_KINDS`; other kinds are
allowed (a backend that does not know a kind falls back, or, for a surrogate with a closed form, evaluates it).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

import torch

__all__ = [
    "SurrogateGradient",
    "SpikeFunction",
    "ResetFunction",
    "SurrogateSpikeFunction",
    "ActivationSpec",
    "spec_of",
    "with_spec",
    "SPIKE_KINDS",
    "RESET_KINDS",
    "SURROGATE_KINDS",
]

Role = Literal["spike", "reset", "surrogate"]

#: Spike kinds and their parameters: ``multi_spike`` (``trunc(v/θ)`` spikes for ``v > 0``), ``single_spike``
#: (``v - θ >= 0``), ``max_spike`` (``multi_spike`` capped at ``max_num_spikes_per_bin``, None for no cap).
SPIKE_KINDS: Mapping[str, tuple[str, ...]] = {
    "multi_spike": (),
    "single_spike": (),
    "max_spike": ("max_num_spikes_per_bin",),
}
#: Reset kinds: ``subtract`` (``v - S·(subtract_value or θ)``), ``reset`` (spiking neurons to ``reset_value``).
RESET_KINDS: Mapping[str, tuple[str, ...]] = {"subtract": ("subtract_value",), "reset": ("reset_value",)}
#: Surrogate kinds whose closed forms the first-party fused kernels know (with the sinabs formulas of
#: ``spikekit-surrogates``); any other kind runs where the surrogate carries a ``closed_form``.
SURROGATE_KINDS: Mapping[str, tuple[str, ...]] = {
    "single_exponential": ("grad_width", "grad_scale"),
    "gaussian": ("mu", "sigma", "grad_scale"),
    "multi_gaussian": ("mu", "sigma", "h", "s", "grad_scale"),
    "heaviside": ("window",),
    "periodic_exponential": ("grad_width", "grad_scale"),
}


@dataclasses.dataclass(frozen=True)
class ActivationSpec:
    """What a spike function, reset function or surrogate gradient is, in a form other code can read.

    Attributes:
        role: ``"spike"``, ``"reset"`` or ``"surrogate"``.
        kind: a short name (``"multi_spike"``, ``"subtract"``, ``"single_exponential"``, or a third party's own).
        params: the kind's parameters by name (plain numbers, None, or tensors).
        closed_form: surrogates only: ``(v_mem, spike_threshold) -> dS/dv`` with torch operations, elementwise and
            free of side effects, which a backend may evaluate on saved membrane potentials (usually the
            surrogate's own ``__call__``).

    Example:
        >>> ActivationSpec("reset", "subtract", {"subtract_value": None}).kind
        'subtract'
    """

    role: Role
    kind: str
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    closed_form: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None

    def __post_init__(self) -> None:
        if self.role not in ("spike", "reset", "surrogate"):
            raise ValueError(f"ActivationSpec: role must be 'spike', 'reset' or 'surrogate', got {self.role!r}")
        if not isinstance(self.kind, str) or not self.kind:
            raise ValueError(f"ActivationSpec: kind must be a non-empty string, got {self.kind!r}")
        if self.closed_form is not None and (self.role != "surrogate" or not callable(self.closed_form)):
            raise ValueError("ActivationSpec: closed_form must be a callable, and only surrogates have one")

    def number(self, name: str) -> float | None:
        """Parameter ``name`` as a finite Python float (None stays None); ``ValueError`` if it is anything else."""
        value = self.params.get(name)
        if value is None:
            return None
        if isinstance(value, torch.Tensor):
            if value.numel() != 1 or value.requires_grad:
                raise ValueError(f"{self.kind}: {name} is a tensor of shape {tuple(value.shape)}, not a fixed number")
            value = value.item()
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{self.kind}: {name} must be a finite number, got {value!r}")
        return float(value)


def spec_of(obj: Any, role: Role | None = None) -> ActivationSpec | None:
    """The :class:`ActivationSpec` that ``obj`` (a class or an instance) carries as ``spec``, or None.

    ``role`` checks that the spec describes the expected role; a spec for another role counts as none. A spec
    describes the class that defines it: a subclass that overrides the behaviour (``spike_rule``, ``forward``,
    ``apply`` or ``__call__``) without defining its own ``spec`` has none, so it is never taken for its parent.

    Example:
        >>> spec_of(lambda v, thr: v) is None
        True
    """
    known = _class_specs.get(id(obj))  # classes first: torch.compile can fold id() but not read their attributes
    if known is not None:
        spec = known[1]
    elif isinstance(obj, type):
        spec = getattr(obj, "spec", None) if _describes_itself(obj) else None
        _class_specs[id(obj)] = (obj, spec)  # keeps the class alive, so its id stays unique
    else:
        cls = type(obj)
        trusted = _instance_classes.get(id(cls)) or _instance_classes.setdefault(id(cls), (cls, _describes_itself(cls)))
        # a spec set on the object itself (with_spec on a function) describes that object
        spec = getattr(obj, "spec", None) if trusted[1] else getattr(obj, "__dict__", {}).get("spec")
    return spec if isinstance(spec, ActivationSpec) and role in (None, spec.role) else None


_BEHAVIOUR = ("spike_rule", "forward", "apply", "__call__")


def _describes_itself(cls: type) -> bool:
    """False when a subclass changed the behaviour (``spike_rule``, ``forward``, ``apply``, ``__call__``) below the
    class that defines ``spec``: an inherited spec then describes the parent, not this class."""
    mro = cls.__mro__
    owner = next((i for i, k in enumerate(mro) if "spec" in k.__dict__), None)
    return owner is not None and not any(method in k.__dict__ for k in mro[:owner] for method in _BEHAVIOUR)


#: id(class) -> (class, whether its instances' spec describes them), for instances of activation classes.
_instance_classes: dict[int, tuple[type, bool]] = {}

#: id(class) -> (class, its spec or None): the specs of activation classes, filled when a
#: :class:`SurrogateSpikeFunction` subclass is defined and whenever :func:`spec_of` reads a class.
_class_specs: dict[int, tuple[type, Any]] = {}


def with_spec(fn: Any, kind: str, *, closed_form: bool = True, **params: Any) -> Any:
    """Attach a surrogate :class:`ActivationSpec` to a plain function and return it.

    Args:
        fn: a surrogate ``(v_mem, spike_threshold) -> tensor``.
        kind: its kind; ``closed_form=True`` declares ``fn`` itself as the closed form backends may evaluate.

    Example:
        >>> sg = with_spec(lambda v, thr: torch.ones_like(v), "straight_through")
        >>> spec_of(sg).kind
        'straight_through'
    """
    fn.spec = ActivationSpec("surrogate", kind, dict(params), fn if closed_form else None)
    return fn


@runtime_checkable
class SurrogateGradient(Protocol):
    """``(v_mem, spike_threshold) -> d spikes / d v_mem``, elementwise, same shape as ``v_mem``.

    Example:
        >>> def fast_sigmoid(v_mem, spike_threshold):
        ...     return 1.0 / (1.0 + 10.0 * (v_mem - spike_threshold).abs()) ** 2
    """

    def __call__(self, v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class SpikeFunction(Protocol):
    """Produces spikes from states and a threshold, with a surrogate gradient in the backward pass.

    ``required_states`` names the states passed positionally to ``apply`` (usually ``["v_mem"]``).
    """

    required_states: list[str]

    def apply(self, *args: Any) -> torch.Tensor: ...


@runtime_checkable
class ResetFunction(Protocol):
    """``(spikes, state, spike_threshold) -> new_state``: the membrane reset after spiking."""

    def __call__(
        self, spikes: torch.Tensor, state: Mapping[str, torch.Tensor], spike_threshold: torch.Tensor
    ) -> dict[str, torch.Tensor]: ...


class SurrogateSpikeFunction(torch.autograd.Function):
    """Base class for spike rules whose backward pass is ``grad_output * surrogate(v_mem, threshold)``.

    A subclass defines only the forward rule, :meth:`spike_rule`; ``apply(v_mem, spike_threshold, surrogate)``
    then returns the spikes, and the backward pass sends the surrogate gradient to ``v_mem`` alone (none reaches
    the threshold). Any callable that fits :class:`SurrogateGradient` works as ``surrogate``.

    Example:
        >>> class AtLeastThreshold(SurrogateSpikeFunction):
        ...     @staticmethod
        ...     def spike_rule(v_mem, spike_threshold):
        ...         return (v_mem >= spike_threshold).to(v_mem.dtype)
        >>> v = torch.tensor([0.5, 1.5], requires_grad=True)
        >>> AtLeastThreshold.apply(v, torch.tensor(1.0), lambda v, t: torch.ones_like(v)).sum().backward()
        >>> v.grad
        tensor([1., 1.])
    """

    required_states: ClassVar[list[str]] = ["v_mem"]

    @staticmethod
    def spike_rule(v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Give each subclass a *static* forward bound to its own spike_rule: torch.compile traces static
        # forwards of autograd Functions, not class methods.
        super().__init_subclass__(**kwargs)
        if "forward" not in cls.__dict__:
            cls.forward = staticmethod(_surrogate_forward(cls.spike_rule))  # type: ignore[method-assign]
        spec_of(cls)  # remember the class's spec now, so that compiled code can find it (see spec_of)

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        v_mem, spike_threshold = ctx.saved_tensors
        surrogate = ctx.surrogate_grad_fn
        if surrogate is None:
            raise RuntimeError(
                "a spike function was called without a surrogate gradient (surrogate_grad_fn=None), "
                "so no gradient can pass through it"
            )
        return grad_output * surrogate(v_mem, spike_threshold), None, None


def _surrogate_forward(rule: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]) -> Callable[..., torch.Tensor]:
    """A static ``forward`` that applies ``rule`` and saves what the surrogate backward pass needs."""

    def forward(
        ctx: Any, v_mem: torch.Tensor, spike_threshold: torch.Tensor, surrogate_grad_fn: SurrogateGradient
    ) -> torch.Tensor:
        ctx.save_for_backward(v_mem.clone(), torch.as_tensor(spike_threshold))
        ctx.surrogate_grad_fn = surrogate_grad_fn
        return rule(v_mem, spike_threshold)

    return forward
