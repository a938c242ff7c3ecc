"""Constructor checks of the layers: each refuses a value with an error that names the layer's class, the argument,
what was expected and what came.

They run once, in ``__init__`` (never in ``forward``), so they cost nothing per call and add nothing to a
``torch.compile`` graph. Values that sinabs 3.1.3 accepts and uses meaningfully stay accepted (``tau_mem=inf``,
a zero or negative threshold with ``SingleSpike``, ``tau_syn=0`` for ``ALIF``, which means "no synapse" there).
"""

from __future__ import annotations

import math
import numbers
import operator
from typing import Any

import torch
from torch import nn

from spikekit.state import layer_name

_NOT_NUMBER = "a number or a tensor of numbers"


def _name(layer: Any) -> str:
    """The class name of ``layer`` (or ``layer`` itself when it is already a name)."""
    return layer if isinstance(layer, str) else layer_name(layer)


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        if value.numel() == 1:
            return f"{value.item()!r} (a tensor)"
        return f"a tensor of shape {tuple(value.shape)}"
    return f"{value!r} ({type(value).__name__})"


def as_numbers(layer: Any, arg: str, value: Any) -> torch.Tensor:
    """``value`` as a detached real tensor; a TypeError naming ``layer`` and ``arg`` for anything else."""
    name = _name(layer)
    if isinstance(value, bool) or not isinstance(value, (numbers.Real, torch.Tensor)):
        raise TypeError(f"{name}: {arg} must be {_NOT_NUMBER}, got {_describe(value)}")
    tensor = torch.as_tensor(value).detach()
    if tensor.dtype == torch.bool or tensor.is_complex():
        raise TypeError(f"{name}: {arg} must be {_NOT_NUMBER} (real-valued), got a {tensor.dtype} tensor")
    if tensor.numel() == 0:
        raise ValueError(f"{name}: {arg} must be {_NOT_NUMBER}, got an empty tensor of shape {tuple(tensor.shape)}")
    return tensor


def _readable(tensor: torch.Tensor) -> bool:
    return tensor.device.type != "meta"  # a meta tensor has no values to check


def _first_bad(tensor: torch.Tensor, bad: torch.Tensor) -> str:
    if tensor.numel() == 1:
        return repr(tensor.item())
    index = tuple(int(i) for i in torch.nonzero(bad)[0])
    return f"a tensor of shape {tuple(tensor.shape)} with {tensor[index].item()!r} at index {index}"


def check_time_constant(layer: Any, arg: str, value: Any) -> None:
    """A time constant: positive (``inf`` allowed: no decay), never NaN; scalar or per-neuron tensor."""
    tensor = as_numbers(layer, arg, value)
    if not _readable(tensor):
        return
    bad = ~(tensor.double() > 0)  # NaN fails the comparison too
    if bad.any():
        raise ValueError(
            f"{_name(layer)}: {arg} must be positive (a time constant in time steps; the decay factor "
            f"exp(-1/{arg}) must lie in (0, 1]), got {_first_bad(tensor, bad)}"
        )


def check_finite(layer: Any, arg: str, value: Any, *, allow_neg_inf: bool = False) -> None:
    """A number (or tensor) that must not be NaN or infinite (``-inf`` allowed where it means "no bound")."""
    if value is None:
        return
    tensor = as_numbers(layer, arg, value)
    if not _readable(tensor):
        return
    t = tensor.double()
    bad = torch.isnan(t) | (t == math.inf)
    if not allow_neg_inf:
        bad |= t == -math.inf
    if bad.any():
        raise ValueError(f"{_name(layer)}: {arg} must be a finite number, got {_first_bad(tensor, bad)}")


def _spike_fn_divides(spike_fn: Any) -> bool:
    from spikekit_neurons.spike_functions import MaxSpike, MultiSpike

    return spike_fn is MultiSpike or isinstance(spike_fn, MaxSpike)


def _subtracts_threshold(reset_fn: Any) -> bool:
    from spikekit_neurons.resets import MembraneSubtract

    return isinstance(reset_fn, MembraneSubtract) and reset_fn.subtract_value is None


def check_threshold(layer: Any, value: Any, spike_fn: Any, reset_fn: Any, arg: str = "spike_threshold") -> None:
    """The spike threshold, judged with the spike and reset functions that use it.

    MultiSpike and MaxSpike count ``v_mem / threshold`` spikes: the threshold must be positive (0 gives infinite
    counts, a negative one negative counts). With a subtractive reset a threshold of 0 would never lower the
    membrane. SingleSpike compares ``v_mem >= threshold``, which any finite value makes meaningful.
    """
    if value is None:
        return
    check_finite(layer, arg, value)
    tensor = torch.as_tensor(value).detach()
    if spike_fn is None or not _readable(tensor):  # no spikes: the threshold is never used
        return
    t = tensor.double()
    if _spike_fn_divides(spike_fn):
        bad = ~(t > 0)
        why = f"positive with {_fn_name(spike_fn)}, which emits floor(v_mem / {arg}) spikes"
    elif _subtracts_threshold(reset_fn):
        bad = t == 0
        why = f"non-zero with {_fn_name(reset_fn)}, which subtracts it after each spike (0 never lowers v_mem)"
    else:
        return
    if bad.any():
        raise ValueError(f"{_name(layer)}: {arg} must be {why}; got {_first_bad(tensor, bad)}")


def _fn_name(fn: Any) -> str:
    return fn.__name__ if isinstance(fn, type) else f"{type(fn).__name__}()"


def check_spike_fn(layer: Any, spike_fn: Any) -> None:
    """None, or a spike function: a class such as ``MultiSpike`` or an instance such as ``MaxSpike(2)``."""
    from spikekit_neurons.spike_functions import MaxSpike

    if spike_fn is None:
        return
    name = _name(layer)
    if spike_fn is MaxSpike:
        raise TypeError(f"{name}: spike_fn=MaxSpike must be an instance with its cap, e.g. MaxSpike(2); got the class")
    if not callable(getattr(spike_fn, "apply", None)):
        raise TypeError(
            f"{name}: spike_fn must be a spike function with .apply(v_mem, spike_threshold, surrogate_grad_fn) "
            f"(a class such as MultiSpike or SingleSpike, or an instance such as MaxSpike(2)), got {_describe(spike_fn)}"
        )
    if isinstance(spike_fn, MaxSpike) and spike_fn.max_num_spikes_per_bin is not None:
        check_count(layer, "MaxSpike.max_num_spikes_per_bin", spike_fn.max_num_spikes_per_bin, what="spike limit")


def check_reset_fn(layer: Any, reset_fn: Any) -> None:
    """None, or a callable reset; the first-party resets' values are numbers (a subtracted value non-zero)."""
    from spikekit_neurons.resets import MembraneReset, MembraneSubtract

    if reset_fn is None:
        return
    name = _name(layer)
    if isinstance(reset_fn, type) and reset_fn in (MembraneReset, MembraneSubtract):
        raise TypeError(f"{name}: reset_fn must be an instance, e.g. {reset_fn.__name__}(); got the class")
    if not callable(reset_fn):
        raise TypeError(
            f"{name}: reset_fn must be callable as reset_fn(spikes, state, spike_threshold) (e.g. MembraneSubtract() "
            f"or MembraneReset()), got {_describe(reset_fn)}"
        )
    if isinstance(reset_fn, MembraneSubtract) and reset_fn.subtract_value is not None:
        check_finite(layer, "MembraneSubtract.subtract_value", reset_fn.subtract_value)
        tensor = torch.as_tensor(reset_fn.subtract_value).detach()
        if _readable(tensor) and bool((tensor == 0).any()):
            raise ValueError(
                f"{name}: MembraneSubtract.subtract_value must be non-zero (0 never lowers v_mem after a spike; "
                "use None to subtract the threshold), got 0"
            )
    if isinstance(reset_fn, MembraneReset):
        check_finite(layer, "MembraneReset.reset_value", reset_fn.reset_value)


def check_callable_or_none(layer: Any, arg: str, value: Any, example: str) -> None:
    if value is not None and not callable(value):
        raise TypeError(f"{_name(layer)}: {arg} must be callable ({example}) or None, got {_describe(value)}")


def check_count(layer: Any, arg: str, value: Any, *, what: str = "count", minimum: int = 1) -> int:
    """A whole number >= ``minimum`` (bool refused); returned as int."""
    name = _name(layer)
    try:
        number = operator.index(value)
    except TypeError:
        number = None
    if number is None and isinstance(value, float) and value.is_integer():
        number = int(value)
    if isinstance(value, bool) or number is None or number < minimum:
        bound = "a positive whole number" if minimum == 1 else f"a whole number >= {minimum}"
        raise ValueError(f"{name}: {arg} must be {bound} ({what}), got {_describe(value)}")
    return number


def check_shape(layer: Any, shape: Any) -> None:
    """The optional ``shape=`` of a neuron layer: a sequence of non-negative ints ``(batch, *neurons)``."""
    if not shape:
        return
    ok = isinstance(shape, (tuple, list, torch.Size)) and all(
        not isinstance(d, bool) and isinstance(d, numbers.Integral) and int(d) >= 0 for d in shape
    )
    if not ok:
        raise ValueError(
            f"{_name(layer)}: shape must be a sequence of non-negative ints (batch, *neurons), got {shape!r}"
        )


def check_rec_connect_module(layer: Any, rec_connect: Any) -> None:
    if not isinstance(rec_connect, nn.Module) and not callable(rec_connect):
        raise TypeError(
            f"{_name(layer)}: rec_connect must be a module mapping spikes (B, *neurons) to B * prod(neurons) "
            f"values, e.g. nn.Sequential(nn.Flatten(), nn.Linear(n, n)); got {_describe(rec_connect)}"
        )


def check_neuron_args(layer: Any, *, spike_threshold: Any, spike_fn: Any, reset_fn: Any, **others: Any) -> None:
    """The arguments every LIF-family layer shares (time constants are checked by the caller)."""
    check_spike_fn(layer, spike_fn)
    check_reset_fn(layer, reset_fn)
    check_threshold(layer, spike_threshold, spike_fn, reset_fn)
    if spike_fn is not None:  # without spikes the surrogate is never called (and sinabs keeps it unresolved)
        check_callable_or_none(layer, "surrogate_grad_fn", others.get("surrogate_grad_fn"), "e.g. SingleExponential()")
    check_finite(layer, "min_v_mem", others.get("min_v_mem"), allow_neg_inf=True)
    check_shape(layer, others.get("shape"))
