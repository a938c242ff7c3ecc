"""Every check of every suite passes for a correct implementation and fails for one broken in the way it checks.

For each suite: a small correct implementation (a leaky integrator layer, a triangular surrogate, a backend that
hands its work to the reference backend), and per check a variant with exactly one flaw. A test below makes sure
the table names every check of every suite, so a new check cannot be added without a variant that it catches.
"""

from __future__ import annotations

import dataclasses
import math
import types

import pytest
import torch
from torch import nn

from spikekit.compute import StepModel, get_backend
from spikekit.plugins import BackendSpec, hookimpl
from spikekit.state import StatefulLayer, check_time_input
from spikekit.testing import registered_plugin
from spikekit_testing import BackendConformance, NeuronConformance, SurrogateConformance


# ================================================================================================== neuron layers
class Leaky(StatefulLayer):
    """``v_t = alpha · v_{t-1} + x_t``, output ``v``: the smallest layer that passes NeuronConformance."""

    def __init__(self, alpha: float = 0.9):
        super().__init__(state_names=["v_mem"])
        self.alpha = alpha

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = check_time_input(self, x)
        if not self.is_state_initialised() or not self.state_has_shape(x[:, 0].shape):
            self.init_state_with_shape(x[:, 0].shape)
        v, outs = self.v_mem, []
        for t in range(x.shape[1]):
            v = self.alpha * v + x[:, t]
            outs.append(v)
        self.v_mem = v
        return torch.stack(outs, 1)

    def constructor_args(self):
        return {"alpha": self.alpha}


class NotStateful(nn.Module):
    def forward(self, x):
        return x


class WrongStateShape(Leaky):
    def forward(self, x):
        out = super().forward(x)
        self.v_mem = self.v_mem.sum(-1)
        return out


class NotFinite(Leaky):
    def forward(self, x):
        return super().forward(x) * math.nan


class NoReset(Leaky):
    def reset_states(self, randomize=False, value_ranges=None):
        pass


class Detached(Leaky):
    def forward(self, x):
        return super().forward(x).detach()


class MixesBatch(Leaky):
    def forward(self, x):
        return super().forward(x) + x.mean(0, keepdim=True)


class ForgetsArgs(Leaky):
    def constructor_args(self):
        return {}


class SharedCopy(Leaky):
    def __deepcopy__(self, memo=None):
        return self


class IgnoresStateDict(Leaky):
    def _load_from_state_dict(self, *args, **kwargs):
        pass


class Unpicklable(Leaky):
    def __init__(self, alpha: float = 0.9):
        super().__init__(alpha)
        self.hook = lambda v: v


class KeepsGraph(Leaky):
    def zero_grad(self, set_to_none=False):
        nn.Module.zero_grad(self, set_to_none)


class AcceptsScalars(Leaky):
    def forward(self, x):
        return x if x.ndim == 0 else super().forward(x)


class Anonymous(Leaky):
    def __repr__(self):
        return "Layer()"


NEURON_FLAWS = {
    "test_is_stateful_layer": NotStateful,
    "test_states_start_empty_and_follow_input": WrongStateShape,
    "test_output_is_finite": NotFinite,
    "test_reset_states_restores_initial_behaviour": NoReset,
    "test_gradient_reaches_input": Detached,
    "test_batch_entries_are_independent": MixesBatch,
    "test_arg_dict_rebuilds_an_equivalent_layer": ForgetsArgs,
    "test_deepcopy_is_independent_and_equivalent": SharedCopy,
    "test_state_dict_round_trip": IgnoresStateDict,
    "test_pickles": Unpicklable,
    "test_zero_grad_detaches_states": KeepsGraph,
    "test_rejects_a_zero_dimensional_input": AcceptsScalars,
    "test_repr_names_the_class": Anonymous,
}


def _neuron_suite(cls: type) -> NeuronConformance:
    suite = NeuronConformance()
    suite.make_layer = lambda: cls(alpha=0.5)  # type: ignore[method-assign]
    return suite


# ===================================================================================================== surrogates
class Triangle:
    """``max(0, 1 - |v - θ|)``: the smallest surrogate that passes SurrogateConformance."""

    def __call__(self, v_mem, spike_threshold):
        return torch.relu(1 - (v_mem - spike_threshold).abs())

    def __eq__(self, other):
        return type(other) is type(self)

    def __hash__(self):
        return hash(type(self))

    def __repr__(self):
        return f"{type(self).__name__}()"


class AlwaysFloat32(Triangle):
    def __call__(self, v, thr):
        return super().__call__(v, thr).float()


class IgnoresPerNeuronThreshold(Triangle):
    def __call__(self, v, thr):
        return super().__call__(v, thr.mean())


class LargestFarAway(Triangle):
    def __call__(self, v, thr):
        return (v - thr).abs()


class NoEquality(Triangle):
    __eq__ = object.__eq__
    __hash__ = object.__hash__


class Noisy(Triangle):
    def __call__(self, v, thr):
        return super().__call__(v, thr) * torch.rand_like(v)


class NeedsGraph(Triangle):
    def __call__(self, v, thr):
        return super().__call__(v, thr).requires_grad_(True)


SURROGATE_FLAWS = {
    "test_shape_dtype_and_finiteness": AlwaysFloat32,
    "test_per_neuron_threshold_broadcasts": IgnoresPerNeuronThreshold,
    "test_is_largest_near_threshold": LargestFarAway,
    "test_copies_pickles_and_compares_by_value": NoEquality,
    "test_drives_a_spike_function_backward": Noisy,
    "test_no_autograd_graph_needed": NeedsGraph,
}


def _surrogate_suite(cls: type) -> SurrogateConformance:
    suite = SurrogateConformance()
    suite.make_surrogate = cls  # type: ignore[method-assign]
    return suite


# ======================================================================================================= backends
class Delegating:
    """Hands every call to the reference backend: the smallest backend that passes BackendConformance."""

    name = "under-test"

    def unsupported_reason(self, x, state, params):
        return None

    def run(self, x, state, params):
        return get_backend("torch").run(x, state, params)


class OffOnSteps(Delegating):
    def run(self, x, state, params):
        out, final, rec = super().run(x, state, params)
        return (out * 1.01 if isinstance(params, StepModel) else out), final, rec


class OffOnNeurons(Delegating):
    def run(self, x, state, params):
        out, final, rec = super().run(x, state, params)
        return (out if isinstance(params, StepModel) else out * 1.01), final, rec


class WritesState(Delegating):
    def run(self, x, state, params):
        result = super().run(x, {k: v.clone() for k, v in state.items()}, params)
        for v in state.values():
            v.zero_()
        return result


class SilentDecline(Delegating):
    def unsupported_reason(self, x, state, params):
        return ""


class DropsParameterGradients(Delegating):
    """Runs the step models with their parameters detached: before the suite made its own leaves, a derived
    (non-leaf) parameter had ``.grad`` None on both sides and this passed."""

    def run(self, x, state, params):
        if isinstance(params, StepModel):
            detached = {k: v.detach() if isinstance(v, torch.Tensor) else v for k, v in params.params.items()}
            params = dataclasses.replace(params, params=detached)
        return super().run(x, state, params)


BACKEND_FLAWS = {
    "test_step_models_match_the_reference_loop": OffOnSteps,
    "test_matches_the_reference_backend": OffOnNeurons,
    "test_does_not_modify_inputs_in_place": WritesState,
    "test_declines_with_a_reason_string": SilentDecline,
}


def _backend_plugin(backend: object) -> types.ModuleType:
    module = types.ModuleType("backend_under_test")
    module.spikekit_backends = hookimpl(lambda: [BackendSpec("under-test", backend)])  # type: ignore[attr-defined]
    return module


class _Suite(BackendConformance):
    backend_name = "under-test"


def _derived_step_models():
    """A step model whose trainable parameter is derived (not a leaf): ``alpha = sigmoid(raw)``."""
    suite = BackendConformance()
    (label, build, names), _ = suite.step_models()

    def derived() -> StepModel:
        model = build()
        raw = torch.tensor(1.7, requires_grad=True)
        return dataclasses.replace(model, params={**model.params, "alpha": torch.sigmoid(raw)})

    return [(label, derived, names)]


def _frozen_step_models():
    suite = BackendConformance()
    (label, build, names), _ = suite.step_models()

    def frozen() -> StepModel:
        model = build()
        return dataclasses.replace(model, params={**model.params, "alpha": model.params["alpha"].detach()})

    return [(label, frozen, names)]


# ========================================================================================================== tests
def _checks(suite: type) -> set[str]:
    return {n for n in dir(suite) if n.startswith("test_")}


def test_every_check_of_every_suite_has_a_flawed_variant():
    assert set(NEURON_FLAWS) == _checks(NeuronConformance)
    assert set(SURROGATE_FLAWS) == _checks(SurrogateConformance)
    assert set(BACKEND_FLAWS) == _checks(BackendConformance)


@pytest.mark.parametrize("check", sorted(NEURON_FLAWS))
def test_neuron_checks_pass_for_a_correct_layer_and_fail_for_its_flaw(check):
    getattr(_neuron_suite(Leaky), check)()
    with pytest.raises(BaseException) as info:  # an assertion, pytest.raises' own failure, or a pickling error
        getattr(_neuron_suite(NEURON_FLAWS[check]), check)()
    assert not isinstance(info.value, (pytest.skip.Exception, KeyboardInterrupt))


@pytest.mark.parametrize("check", sorted(SURROGATE_FLAWS))
def test_surrogate_checks_pass_for_a_correct_surrogate_and_fail_for_its_flaw(check):
    getattr(_surrogate_suite(Triangle), check)()
    with pytest.raises(AssertionError):
        getattr(_surrogate_suite(SURROGATE_FLAWS[check]), check)()


@pytest.mark.parametrize("check", sorted(BACKEND_FLAWS))
def test_backend_checks_pass_for_a_correct_backend_and_fail_for_its_flaw(check):
    with registered_plugin(_backend_plugin(Delegating()), name="good"):
        getattr(_Suite(), check)()
    with registered_plugin(_backend_plugin(BACKEND_FLAWS[check]()), name="flawed"):
        with pytest.raises(AssertionError):
            getattr(_Suite(), check)()


def test_a_derived_parameter_whose_gradient_is_dropped_is_caught():
    suite = _Suite()
    suite.step_models = _derived_step_models  # type: ignore[method-assign]
    with registered_plugin(_backend_plugin(Delegating()), name="good"):
        suite.test_step_models_match_the_reference_loop()  # the derived parameter's gradient is compared
    with registered_plugin(_backend_plugin(DropsParameterGradients()), name="flawed"):
        with pytest.raises(AssertionError, match="no gradient reached 'alpha' through the backend"):
            suite.test_step_models_match_the_reference_loop()


def test_a_step_model_with_nothing_trainable_fails_saying_so():
    suite = _Suite()
    suite.step_models = _frozen_step_models  # type: ignore[method-assign]
    with registered_plugin(_backend_plugin(Delegating()), name="good"):
        with pytest.raises(
            AssertionError, match="nothing to compare: no tensor of any step model it ran requires grad"
        ):
            suite.test_step_models_match_the_reference_loop()


def test_a_grid_with_no_trainable_parameter_fails_saying_so():
    suite = _Suite()
    grid = BackendConformance().configurations()

    def frozen():
        return [(label, lambda b=build: _frozen(b()), names) for label, build, names in grid]

    suite.configurations = frozen  # type: ignore[method-assign]
    with registered_plugin(_backend_plugin(Delegating()), name="good"):
        with pytest.raises(AssertionError, match="parameter gradients were never compared"):
            suite.test_matches_the_reference_backend()


def _frozen(params):
    fields = ("alpha_mem", "alpha_syn", "spike_threshold", "min_v_mem", "alpha_adapt", "adapt_scale")
    values = {f: getattr(params, f) for f in fields}
    return dataclasses.replace(
        params, **{f: v.detach() for f, v in values.items() if isinstance(v, torch.Tensor) and v.requires_grad}
    )
