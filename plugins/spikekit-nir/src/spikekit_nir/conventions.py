"""How NIR's continuous-time neuron equations become spikekit's per-step updates (and back).

NIR states its neurons as differential equations (``tau dv/dt = (v_leak - v) + r I``, ``dv/dt = r I``,
``tau_syn dI/dt = -I + w_in S``) plus a threshold and a reset to ``v_reset``. A simulator has to discretise them
with a time step ``dt``, and the libraries that speak NIR do so differently. A :class:`Convention` names every
choice, so that nothing is ignored silently:

* ``decay``: the per-step decay factor of a time constant ``tau``,
  ``"exp"``: :math:`a = e^{-dt/\\tau}` (exact for the homogeneous part; sinabs), or
  ``"euler"``: :math:`a = 1 - dt/\\tau` (forward Euler; snntorch, norse).
* ``gain``: how much of the per-step input reaches the state,
  ``"r"``: :math:`g = r` for the membrane and :math:`g = w_{in}` for the synapse (sinabs's reading, where NIR's
  ``r = 1`` means "add the input as it is"), or
  ``"euler"``: :math:`g = r\\,dt/\\tau` (``r dt`` for IF and I) and :math:`g = w_{in}\\,dt/\\tau_{syn}`, or
  ``"exp_euler"`` (rockpool's reading): :math:`g = r\\,dt/(\\tau a)` and :math:`g = w_{in}\\,a_{syn}`.
* ``reset``: ``"subtract"`` (sinabs: a spike subtracts the threshold; ``v_reset`` must be 0) or ``"to_v_reset"``
  (NIR's own rule: a spiking neuron's potential is set to ``v_reset``).
* ``spike``: ``"multi"`` (sinabs's ``MultiSpike``: as many spikes as thresholds crossed) or ``"single"``
  (``SingleSpike``, NIR's ``z = 1``).
* ``if_floor``: give imported IF neurons the lower bound ``min_v_mem = -v_threshold`` (what sinabs does).

With these, one step of NIR's neurons reads

.. math::
    I_t &= a_{syn} I_{t-1} + g_{syn} x_t \\\\
    v_t &= a_{mem} v_{t-1} + (1 - a_{mem}) v_{leak} + g_{mem} I_t \\quad (I_t = x_t \\text{ without synapse})

and spikekit's ``LIF`` computes :math:`i_t = \\alpha_{syn}(i_{t-1} + x_t)`, :math:`v_t = \\alpha_{mem} v_{t-1} + b\\,
i_t` with :math:`\\alpha = e^{-1/\\tau_{steps}}` and :math:`b = 1 - \\alpha_{mem}` (``norm_input``) or 1. So an import
sets :math:`\\tau_{steps} = -1/\\ln a`, feeds the layer :math:`c\\,x_t` with :math:`c = (g_{syn}/\\alpha_{syn})\\,
g_{mem}/b` (an ``input_scale`` in front of the layer, left out when :math:`c = 1`) and chooses ``norm_input`` when
:math:`g_{mem} = 1 - a_{mem}`; an export inverts these formulas. A resting potential ``v_leak`` is handled by
:mod:`spikekit_nir.neuron_node`.

Presets: ``"sinabs"`` (the default: dt 1, exp, r, subtract, multi, if_floor), ``"snntorch"`` (dt 1e-4, euler,
euler, to_v_reset, single), ``"norse"`` (dt 1e-3, euler, euler, to_v_reset, single), ``"rockpool"`` (dt 1e-3,
exp, exp_euler, subtract, multi).

Example:
    >>> c = Convention.named("snntorch")
    >>> float(c.decay_factor(2e-4))
    0.5
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

import numpy as np

__all__ = ["Convention", "PRESETS", "resolve_convention", "ConversionError"]


class ConversionError(ValueError):
    """A model or NIR node that cannot be converted exactly; the message names the node or layer."""


@dataclasses.dataclass(frozen=True)
class Convention:
    """One discretisation of NIR's neuron equations (see the module docstring for the formulas).

    Args:
        dt: the time step, in the unit of NIR's time constants.
        decay: ``"exp"`` (:math:`e^{-dt/\\tau}`) or ``"euler"`` (:math:`1 - dt/\\tau`).
        gain: ``"r"`` (per-step gain ``r`` / ``w_in``), ``"euler"`` (``r dt / tau`` / ``w_in dt / tau_syn``) or
            ``"exp_euler"`` (``r dt / (tau a)`` / ``w_in a_syn``, as rockpool reads and writes them).
        integrator_gain: for the leak-free nodes (IF, I) under ``gain="euler"``: ``"euler"`` (per-step gain
            ``r dt``) or ``"r"`` (per-step gain ``r``, as norse integrates).
        reset: ``"subtract"`` or ``"to_v_reset"``.
        spike: ``"multi"`` or ``"single"``.
        if_floor: imported IF neurons get ``min_v_mem = -v_threshold``.

    Example:
        >>> Convention(dt=0.5).decay_factor(1.0).round(4)
        np.float64(0.6065)
    """

    dt: float = 1.0
    decay: Literal["exp", "euler"] = "exp"
    gain: Literal["r", "euler", "exp_euler"] = "r"
    integrator_gain: Literal["r", "euler"] = "euler"
    reset: Literal["subtract", "to_v_reset"] = "subtract"
    spike: Literal["multi", "single"] = "multi"
    if_floor: bool = True
    name: str = "custom"

    def __post_init__(self) -> None:
        if not (isinstance(self.dt, (int, float)) and np.isfinite(self.dt) and self.dt > 0):
            raise ValueError(f"Convention: dt must be a positive finite number, got {self.dt!r}")
        for field, allowed in (
            ("decay", ("exp", "euler")),
            ("gain", ("r", "euler", "exp_euler")),
            ("integrator_gain", ("r", "euler")),
            ("reset", ("subtract", "to_v_reset")),
            ("spike", ("multi", "single")),
        ):
            if getattr(self, field) not in allowed:
                raise ValueError(f"Convention: {field} must be one of {allowed}, got {getattr(self, field)!r}")

    @staticmethod
    def named(name: str, **changes: Any) -> Convention:
        """A preset (``"sinabs"``, ``"snntorch"``, ``"norse"``), optionally with fields changed (e.g. ``dt``)."""
        try:
            preset = PRESETS[name]
        except KeyError:
            raise ValueError(f"unknown NIR convention {name!r}; presets: {sorted(PRESETS)}") from None
        return dataclasses.replace(preset, **changes) if changes else preset

    # ------------------------------------------------------------------------------------------- time constants
    def decay_factor(self, tau: Any) -> np.ndarray:
        """Per-step decay :math:`a` of the time constant ``tau`` (array)."""
        tau = np.asarray(tau, dtype=np.float64)
        with np.errstate(divide="ignore"):
            if self.decay == "exp":
                return np.exp(-self.dt / tau)
            return 1.0 - self.dt / tau

    def tau_from_decay(self, a: Any) -> np.ndarray:
        """The NIR time constant whose per-step decay is ``a`` (inverse of :meth:`decay_factor`)."""
        a = np.asarray(a, dtype=np.float64)
        with np.errstate(divide="ignore"):
            if self.decay == "exp":
                return -self.dt / np.log(a)
            return self.dt / (1.0 - a)

    def tau_steps(self, tau: Any) -> np.ndarray:
        """spikekit's ``tau`` (in steps, :math:`\\alpha = e^{-1/\\tau_{steps}}`) for the NIR time constant ``tau``."""
        tau = np.asarray(tau, dtype=np.float64)
        if self.decay == "exp":
            return tau / self.dt  # exp(-dt/tau) = exp(-1/(tau/dt)), without a round trip through log
        a = self.decay_factor(tau)
        with np.errstate(divide="ignore"):
            return -1.0 / np.log(a)

    def tau_from_steps(self, tau_steps: Any) -> np.ndarray:
        """The NIR time constant for spikekit's ``tau`` in steps (inverse of :meth:`tau_steps`)."""
        tau_steps = np.asarray(tau_steps, dtype=np.float64)
        if self.decay == "exp":
            return tau_steps * self.dt
        return self.tau_from_decay(np.exp(-1.0 / tau_steps))

    # --------------------------------------------------------------------------------------------------- gains
    def membrane_gain(self, r: Any, tau: Any | None) -> np.ndarray:
        """Per-step gain :math:`g_{mem}` of the membrane for resistance ``r`` (``tau`` None: no leak, IF / I)."""
        r = np.asarray(r, dtype=np.float64)
        if self.gain == "r":
            return r
        if tau is None:
            return r if self.integrator_gain == "r" else r * self.dt
        euler = r * self.dt / np.asarray(tau, dtype=np.float64)
        return euler / self.decay_factor(tau) if self.gain == "exp_euler" else euler

    def r_from_gain(self, g: Any, tau: Any | None) -> np.ndarray:
        """The resistance ``r`` whose per-step gain is ``g`` (inverse of :meth:`membrane_gain`)."""
        g = np.asarray(g, dtype=np.float64)
        if self.gain == "r":
            return g
        if tau is None:
            return g if self.integrator_gain == "r" else g / self.dt
        r = g * np.asarray(tau, dtype=np.float64) / self.dt
        return r * self.decay_factor(tau) if self.gain == "exp_euler" else r

    def synapse_gain(self, w_in: Any, tau_syn: Any) -> np.ndarray:
        """Per-step gain :math:`g_{syn}` of a current-based synapse with input weight ``w_in``."""
        w_in = np.asarray(w_in, dtype=np.float64)
        if self.gain == "r":
            return w_in
        if self.gain == "exp_euler":
            return w_in * self.decay_factor(tau_syn)
        return w_in * self.dt / np.asarray(tau_syn, dtype=np.float64)

    def w_in_from_gain(self, g: Any, tau_syn: Any) -> np.ndarray:
        """The ``w_in`` whose per-step synaptic gain is ``g`` (inverse of :meth:`synapse_gain`)."""
        g = np.asarray(g, dtype=np.float64)
        if self.gain == "r":
            return g
        if self.gain == "exp_euler":
            return g / self.decay_factor(tau_syn)
        return g * np.asarray(tau_syn, dtype=np.float64) / self.dt


PRESETS: dict[str, Convention] = {
    "sinabs": Convention(dt=1.0, decay="exp", gain="r", reset="subtract", spike="multi", if_floor=True, name="sinabs"),
    "snntorch": Convention(
        dt=1e-4, decay="euler", gain="euler", reset="to_v_reset", spike="single", if_floor=False, name="snntorch"
    ),
    "rockpool": Convention(
        dt=1e-3, decay="exp", gain="exp_euler", reset="subtract", spike="multi", if_floor=False, name="rockpool"
    ),
    "norse": Convention(
        dt=1e-3,
        decay="euler",
        gain="euler",
        integrator_gain="r",
        reset="to_v_reset",
        spike="single",
        if_floor=False,
        name="norse",
    ),
}


def resolve_convention(convention: str | Convention | None, dt: float | None = None) -> Convention:
    """A :class:`Convention` from a preset name, an instance or None (``"sinabs"``); ``dt`` overrides its dt."""
    if convention is None:
        convention = "sinabs"
    if isinstance(convention, str):
        resolved = Convention.named(convention)
    elif isinstance(convention, Convention):
        resolved = convention
    else:
        raise TypeError(f"convention must be a preset name or a Convention, got {type(convention).__name__}")
    if dt is not None:
        resolved = dataclasses.replace(resolved, dt=float(dt))
    return resolved
