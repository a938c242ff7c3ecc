"""
Writing a neuron layer
======================

This tutorial builds a neuron model that spikekit does not have, from nothing, with the public layer-authoring API
of the core (:mod:`spikekit.state`), and checks it with the conformance suite every first-party neuron layer passes
(``spikekit_testing.NeuronConformance``, from the ``spikekit-testing`` distribution). It imports only public modules (``spikekit.state``,
``spikekit.activation``, ``spikekit_testing``), so a third-party plugin can do exactly the same.

The model is a leaky integrate-and-fire neuron with an **absolute refractory period**: after a spike, the neuron
ignores its input for ``refractory_steps`` steps. Per time step, with :math:`\\alpha = e^{-1/\\tau_{mem}}`:

.. math::
    v_t &= \\alpha v_{t-1} + (1 - \\alpha)\\, x_t \\, \\mathbb{1}[r_{t-1} = 0] \\\\
    S_t &= \\mathbb{1}[v_t \\ge \\theta], \\qquad v_t \\leftarrow v_t - \\theta S_t \\\\
    r_t &= \\begin{cases} R & S_t = 1 \\\\ \\max(r_{t-1} - 1, 0) & \\text{otherwise} \\end{cases}

The states are the membrane potential :math:`v` (``v_mem``) and the remaining refractory steps :math:`r`
(``refractory``).
"""

# %%
# The step: a pure function
# -------------------------
# The maths lives in a function of one time step, ``(x_t, state, params) -> (spikes, state)``, that knows nothing
# about modules. The spike itself comes from a *spike function*: :class:`~spikekit.activation.SingleSpike` gives
# :math:`\mathbb{1}[v \ge \theta]` forward and the surrogate gradient backward, so the layer can be trained.
import copy
import html
import io
import itertools
import math

import torch
from torch import nn

import spikekit.activation as sa
from spikekit.state import (
    StatefulLayer,
    check_broadcast,
    check_state_device,
    check_state_dtype,
    check_time_input,
)


def refractory_step(x_t, state, alpha, threshold, refractory_steps, surrogate):
    """One step of the refractory LIF; ``x_t`` and every state are ``(B, *neurons)``."""
    open_ = (state["refractory"] == 0).to(x_t.dtype)  # 1 where the neuron listens
    v = alpha * state["v_mem"] + (1 - alpha) * x_t * open_
    spikes = sa.SingleSpike.apply(v, threshold, surrogate)
    v = v - threshold * spikes
    refractory = torch.where(spikes > 0, torch.full_like(v, refractory_steps), (state["refractory"] - 1).clamp_min(0))
    return spikes, {"v_mem": v, "refractory": refractory}


# %%
# The layer
# ---------
# A neuron layer is a :class:`~spikekit.layers.StatefulLayer`. What it must do, in order:
#
# * **declare its states** by name (``state_names``); they start empty (shape ``(0,)``) and are created from the
#   first input. A buffer that is *not* a state (a fixed kernel, a lookup table) is registered with
#   :meth:`~spikekit.layers.StatefulLayer.register_constant`, so that resets and shape changes leave it alone;
# * **refuse nonsense at construction**, naming the class, the argument, what was expected and what came (checks
#   in ``__init__`` cost nothing per call and add nothing to a ``torch.compile`` graph);
# * **check its input** with the core's checks (:func:`~spikekit.state.check_time_input` and friends): the same
#   messages as the first-party layers give;
# * **say how to rebuild itself**: :meth:`~spikekit.layers.StatefulLayer.constructor_args` returns the keyword
#   arguments of an equivalent layer with the *current* values (``arg_dict``, ``copy.deepcopy`` and conversions use
#   it; ``_param_dict``, sinabs's name for it, keeps working).


class RefractoryLIF(StatefulLayer):
    """Leaky integrate-and-fire neurons with an absolute refractory period.

    Args:
        tau_mem: membrane time constant in steps (> 0), a trainable Parameter.
        refractory_steps: steps during which a neuron ignores its input after a spike (>= 0).
        spike_threshold: the threshold (> 0, scalar or per neuron).
        surrogate_grad_fn: the surrogate gradient of the spike.

    Shape:
        input ``(B, T, ...)``; output the same; states ``(B, ...)``.
    """

    def __init__(self, tau_mem, refractory_steps=2, spike_threshold=1.0, surrogate_grad_fn=None):
        super().__init__(state_names=["v_mem", "refractory"])
        name = type(self).__name__
        if not isinstance(refractory_steps, int) or isinstance(refractory_steps, bool) or refractory_steps < 0:
            raise ValueError(f"{name}: refractory_steps must be an int >= 0, got {refractory_steps!r}")
        tau = torch.as_tensor(tau_mem, dtype=torch.float32)
        if not bool((tau > 0).all()):
            raise ValueError(f"{name}: tau_mem must be positive (a time constant in steps), got {tau_mem!r}")
        threshold = torch.as_tensor(spike_threshold, dtype=torch.float32)
        if not bool((threshold > 0).all()):
            raise ValueError(f"{name}: spike_threshold must be positive, got {spike_threshold!r}")
        self.tau_mem = nn.Parameter(tau.clone())
        self.spike_threshold = nn.Parameter(threshold.clone(), requires_grad=False)
        self.refractory_steps = refractory_steps
        self.surrogate_grad_fn = surrogate_grad_fn if surrogate_grad_fn is not None else sa.SingleExponential()

    def forward(self, x):
        x = check_time_input(self, x)  # (B, T, ...): refuses 0-d, no time axis, T = 0, complex; casts ints
        batch, _, *neurons = x.shape
        shape = (batch, *neurons)
        if not self.is_state_initialised() or not self.has_trailing_dimension(neurons):
            self.init_state_with_shape(shape)  # first call, or new neuron dims: zeros
        elif not self.state_has_shape(shape):
            self.handle_state_batch_size_mismatch(batch)  # new batch size: resample, as the sinabs layers do
        check_state_dtype(self)
        check_state_device(self, x)
        check_broadcast(self, shape, spike_threshold=self.spike_threshold, tau_mem=self.tau_mem)
        alpha = torch.exp(-1.0 / self.tau_mem)
        state = {"v_mem": self.v_mem, "refractory": self.refractory}
        outputs = []
        for x_t in torch.unbind(x, 1):  # (B, ...)
            spikes, state = refractory_step(
                x_t, state, alpha, self.spike_threshold, self.refractory_steps, self.surrogate_grad_fn
            )
            outputs.append(spikes)
        self.v_mem, self.refractory = state["v_mem"], state["refractory"]
        return torch.stack(outputs, 1)  # (B, T, ...)

    def constructor_args(self):
        return {
            "tau_mem": self.tau_mem.detach().clone(),
            "refractory_steps": self.refractory_steps,
            "spike_threshold": self.spike_threshold.detach().clone(),
            "surrogate_grad_fn": self.surrogate_grad_fn,
        }


# %%
# Using it
# --------
# A constant drive makes a LIF neuron fire regularly; the refractory period lengthens the interval between
# spikes: the neuron ignores its input for ``refractory_steps`` steps, and its potential keeps leaking meanwhile.


class Say(str):
    """A sentence built from this run's numbers; the documentation shows it as text under the cell."""

    def _repr_html_(self) -> str:
        return f"<p>{html.escape(self)}</p>"


drive = torch.full((1, 30, 1), 3.0)  # (batch, time, neurons)
intervals = {}
for steps in (0, 3):
    layer = RefractoryLIF(tau_mem=4.0, refractory_steps=steps)
    with torch.no_grad():
        spikes = layer(drive)
    times = spikes[0, :, 0].nonzero().flatten().tolist()
    intervals[steps] = sorted({b - a for a, b in itertools.pairwise(times)})
    print(f"refractory_steps={steps}: spikes at steps {times}")
Say(f"Steps between spikes: {intervals[0]} without a refractory period, {intervals[3]} with refractory_steps=3.")

# %%
# It trains like any spikekit layer: the surrogate gradient reaches the input and the time constant.
layer = RefractoryLIF(tau_mem=4.0, refractory_steps=2)
x = (torch.rand(8, 20, 5) * 2).requires_grad_(True)
layer(x).sum().backward()
print(
    "d loss / d tau_mem:",
    round(layer.tau_mem.grad.item(), 4),
    "| input gradient finite:",
    bool(x.grad.isfinite().all()),
)

# %%
# Errors name the layer, what it expected and what came; construction checks run once, the input checks at each
# call:
for bad in (lambda: RefractoryLIF(tau_mem=0.0), lambda: RefractoryLIF(4.0, refractory_steps=-1)):
    try:
        bad()
    except ValueError as error:
        print("ValueError:", error)
for bad_input in (torch.tensor(1.0), torch.ones(4)):
    try:
        RefractoryLIF(4.0)(bad_input)
    except ValueError as error:
        print("ValueError:", error)

# %%
# States and constants
# --------------------
# ``reset_states()`` zeroes the states, ``zero_grad()`` cuts them from the autograd graph, a new batch size
# resamples them. None of this touches a buffer registered as a constant. Here a variant of the layer scales its
# input by a fixed per-neuron gain kept in a constant buffer:


class GainedRefractoryLIF(RefractoryLIF):
    def __init__(self, gain, **kwargs):
        super().__init__(**kwargs)
        self.register_constant("gain", torch.as_tensor(gain, dtype=torch.float32).clone())

    def forward(self, x):
        return super().forward(check_time_input(self, x) * self.gain)

    def constructor_args(self):
        return {"gain": self.gain.clone(), **super().constructor_args()}


gained = GainedRefractoryLIF(gain=[0.5, 1.0, 2.0], tau_mem=4.0)
gained(torch.rand(2, 10, 3))
print("states:", gained.state_names, "| constants:", gained.constant_names)
gained.reset_states()
print("after reset_states(): v_mem =", gained.v_mem.tolist(), "| gain =", gained.gain.tolist())
print("state_dict keys:", list(gained.state_dict()))

# %%
# Passing the conformance suite
# -----------------------------
# ``spikekit_testing.NeuronConformance`` holds the checks every neuron layer must pass. In a plugin's tests,
# subclass it and implement ``make_layer``; pytest collects the subclass (its name starts with ``Test``) and runs
# every inherited check:
#
# .. code-block:: python
#
#     from spikekit_testing import NeuronConformance
#
#     class TestRefractoryLIF(NeuronConformance):
#         input_shape = (3, 6, 4)  # (B, T, *neurons); for a Squeeze layer the unsqueezed shape
#
#         def make_layer(self):
#             return RefractoryLIF(tau_mem=4.0, refractory_steps=2)
#
# Here the same checks run in this page, one by one (a check that fails raises, and the page would not build):
from spikekit_testing import NeuronConformance  # noqa: E402  (imported where the page introduces it)


class TestRefractoryLIF(NeuronConformance):
    def make_layer(self):
        return RefractoryLIF(tau_mem=4.0, refractory_steps=2)


suite = TestRefractoryLIF()
checks = sorted(name for name in dir(suite) if name.startswith("test_"))
for name in checks:
    getattr(suite, name)()
    print("passed:", name)
print(f"{len(checks)} conformance checks passed")

# %%
# What the checks require
# -----------------------
# Each line is one check of ``spikekit_testing.NeuronConformance``, with what it asks of the layer:
#
# * ``test_is_stateful_layer`` — the layer is a :class:`~spikekit.layers.StatefulLayer`.
# * ``test_states_start_empty_and_follow_input`` — before the first call the states are empty (or were made with a
#   given ``shape``); after it every state is initialised with shape ``(B, *neurons)``, and the output has the
#   input's shape. (The suite checks every buffer of the layer here, constants included, so a layer with a
#   constant buffer of another shape does not pass this check yet.)
# * ``test_output_is_finite`` — no NaN or inf for an ordinary input (``rand * 1.5``).
# * ``test_reset_states_restores_initial_behaviour`` — after ``reset_states()`` the same input gives bit-identical
#   output: all memory lives in the declared states, and the forward pass draws no random numbers.
# * ``test_gradient_reaches_input`` — ``backward`` gives the input a finite gradient (a surrogate gradient on the
#   spike).
# * ``test_batch_entries_are_independent`` — the first batch entry's output equals that of a batch of one
#   (rtol 1e-5): nothing mixes batch entries.
# * ``test_arg_dict_rebuilds_an_equivalent_layer`` — ``type(layer)(**layer.arg_dict)`` computes the same:
#   ``constructor_args`` (or ``_param_dict``) names every constructor argument with its current value.
# * ``test_deepcopy_is_independent_and_equivalent`` — ``copy.deepcopy`` gives equal buffers in new storage and the
#   same output.
# * ``test_state_dict_round_trip`` — a twin that loads the layer's ``state_dict`` continues identically.
# * ``test_pickles`` — ``torch.save`` / ``torch.load(weights_only=False)`` and ``pickle`` work: no lambdas or local
#   functions as attributes (a surrogate must be a module-level class or function).
# * ``test_zero_grad_detaches_states`` — after ``zero_grad()`` no buffer has a ``grad_fn``.
# * ``test_rejects_a_zero_dimensional_input`` — a 0-d input raises ``ValueError``, ``TypeError`` or
#   ``RuntimeError`` whose message contains the **class name** (``check_time_input`` does this).
# * ``test_repr_names_the_class`` — ``repr(layer)`` starts with the class name.
#
# Beyond the suite, a first-party layer also keeps to these rules: the maths in a pure step function; no registry or
# string look-ups in ``forward`` (they cost every step and break ``torch.compile`` graphs); states replaced by new
# tensors rather than written in place (an autograd graph may still hold the old ones); and stateful layers are not
# thread-safe: :class:`~spikekit.layers.StatefulLayer` refuses a call from a second thread while another thread is
# inside the layer (:class:`~spikekit.state.ConcurrentUseError`), so each thread needs its own copy.

# %%
# A copy per thread
# -----------------
twin = copy.deepcopy(layer)
buffer = io.BytesIO()
torch.save(twin, buffer)
print("deep copy and torch.save work; copy shares no storage:", twin.v_mem.data_ptr() != layer.v_mem.data_ptr())
print("tau_mem of the copy:", round(twin.tau_mem.item(), 3), "| alpha:", round(math.exp(-1 / twin.tau_mem.item()), 4))
