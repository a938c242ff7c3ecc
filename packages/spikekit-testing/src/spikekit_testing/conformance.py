"""Conformance suites: subclass one in a plugin's tests, fill in one or two methods, inherit every check.

* :class:`NeuronConformance` for a stateful neuron layer;
* :class:`SurrogateConformance` for a surrogate-gradient function;
* :class:`BackendConformance` for a compute backend (checked against the reference backend ``"torch"``).

The suites are plain pytest classes (their names do not start with ``Test``, so they are collected only
through a subclass).
"""

from __future__ import annotations

import copy
import dataclasses
import io
import math
import pickle
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest
import torch
from torch import nn

from spikekit.compute import NeuronParams, StepModel, get_backend, run_step_loop
from spikekit.protocols import SurrogateSpikeFunction
from spikekit.state import SqueezeMixin, StatefulLayer

__all__ = ["NeuronConformance", "SurrogateConformance", "BackendConformance"]


def _seeded_input(shape: Sequence[int], scale: float = 1.5, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g) * scale


_PARAM_FIELDS = ("alpha_mem", "alpha_syn", "spike_threshold", "min_v_mem", "alpha_adapt", "adapt_scale")


def _leaves(values: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """A fresh leaf tensor (``requires_grad``), made here, for every tensor in ``values`` that requires grad.

    Derived (non-leaf) parameters get a leaf too, so their gradient is compared instead of two ``None``s.
    """
    return {
        k: v.detach().clone().requires_grad_(True)
        for k, v in values.items()
        if isinstance(v, torch.Tensor) and v.requires_grad
    }


def with_leaf_params(params: Any) -> tuple[Any, dict[str, torch.Tensor]]:
    """``params`` (:class:`NeuronParams` or :class:`StepModel`) with each tensor that requires grad replaced by a
    fresh leaf, and those leaves by name."""
    if isinstance(params, StepModel):
        leaves = _leaves(params.params)
        return dataclasses.replace(params, params={**params.params, **leaves}), leaves
    leaves = _leaves({f: getattr(params, f) for f in _PARAM_FIELDS})
    return dataclasses.replace(params, **leaves), leaves


def _require_compared(backend: str, what: str, ran: int, compared: int) -> None:
    """End of a gradient check: skip if the backend declined every case, fail if it ran some and no parameter
    gradient was compared in any of them (the check would otherwise pass without checking parameters)."""
    if not ran:
        pytest.skip(f"{backend} declines every {what}")
    if not compared:
        raise AssertionError(
            f"{backend}: nothing to compare: no tensor of any {what} it ran requires grad, so the parameter "
            "gradients were never compared (give a parameter requires_grad=True)"
        )


def assert_grads_match(
    label: str, got: Mapping[str, torch.Tensor], ref: Mapping[str, torch.Tensor], rtol: float, atol: float
) -> None:
    """Compare the gradients of two sets of leaves by name; fail when there is nothing to compare or a gradient
    did not arrive (a check never passes by comparing ``None`` with ``None``)."""
    if not got:
        raise AssertionError(f"{label}: nothing to compare: no tensor requires grad")
    for name, leaf in got.items():
        for side, tensor in (("the backend", leaf), ("the reference", ref[name])):
            if tensor.grad is None:
                raise AssertionError(f"{label}: no gradient reached {name!r} through {side}")
        torch.testing.assert_close(leaf.grad, ref[name].grad, rtol=rtol, atol=atol, msg=f"{label}: d{name}")


def _assert_runs_match(
    label: str,
    got: tuple[Any, Any, Any],
    ref: tuple[Any, Any, Any],
    inputs: tuple[torch.Tensor, torch.Tensor],
    atol: float,
    grad_rtol: float,
) -> None:
    """Outputs, final states and recordings of a backend's run against the reference's, then the input gradients
    after one backward pass through both with the same random weights."""
    (out, final, rec), (ref_out, ref_final, ref_rec) = got, ref
    torch.testing.assert_close(out, ref_out, atol=atol, rtol=0, msg=f"{label}: outputs")
    for n in ref_final:
        torch.testing.assert_close(final[n], ref_final[n], atol=atol, rtol=1e-6, msg=f"{label}: {n}")
    assert set(rec) == set(ref_rec), f"{label}: recordings {sorted(rec)} vs {sorted(ref_rec)}"
    for n in ref_rec:
        torch.testing.assert_close(rec[n], ref_rec[n], atol=atol, rtol=1e-6, msg=f"{label}: rec {n}")
    weights = torch.randn_like(ref_out)
    (out * weights).sum().backward()
    (ref_out * weights).sum().backward()
    assert_grads_match(label, {"input": inputs[0]}, {"input": inputs[1]}, grad_rtol, 1e-6)


# ======================================================================================================== neurons
class NeuronConformance:
    """Checks every stateful neuron layer must pass.

    Subclasses implement :meth:`make_layer` (a fresh layer, the same configuration each call) and may change
    ``input_shape`` (``(B, T, ...)``; for a Squeeze layer give the unsqueezed shape, the suite folds it).
    """

    input_shape: tuple[int, ...] = (3, 6, 4)

    def make_layer(self) -> StatefulLayer:
        raise NotImplementedError

    # helpers
    def _is_squeeze(self, layer: nn.Module) -> bool:
        return isinstance(layer, SqueezeMixin)

    def _input(self, layer: nn.Module, seed: int = 0, batch: int | None = None) -> torch.Tensor:
        shape = list(self.input_shape)
        if batch is not None:
            shape[0] = batch
        x = _seeded_input(shape, seed=seed)
        return x.flatten(0, 1) if self._is_squeeze(layer) else x

    def _fresh_squeezable(self, batch: int) -> StatefulLayer:
        layer = self.make_layer()
        if isinstance(layer, SqueezeMixin) and layer.batch_size > 0:
            layer.batch_size = batch
        return layer

    # checks
    def test_is_stateful_layer(self) -> None:
        assert isinstance(self.make_layer(), StatefulLayer)

    def test_states_start_empty_and_follow_input(self) -> None:
        layer = self.make_layer()
        assert not layer.is_state_initialised() or any(b.numel() for b in layer.buffers())
        out = layer(self._input(layer))
        assert layer.is_state_initialised()
        neuron_shape = tuple(self.input_shape[2:])
        for name, buf in layer.named_buffers(recurse=False):
            assert tuple(buf.shape[1:]) == neuron_shape, f"state {name} has shape {tuple(buf.shape)}"
        assert out.shape == self._input(layer).shape

    def test_output_is_finite(self) -> None:
        layer = self.make_layer()
        assert torch.isfinite(layer(self._input(layer))).all()

    def test_reset_states_restores_initial_behaviour(self) -> None:
        layer = self.make_layer()
        x = self._input(layer)
        first = layer(x).detach().clone()
        layer.reset_states()
        assert torch.equal(layer(x).detach(), first)

    def test_gradient_reaches_input(self) -> None:
        layer = self.make_layer()
        x = self._input(layer).requires_grad_(True)
        out = layer(x)
        out.sum().backward()
        assert x.grad is not None and torch.isfinite(x.grad).all()

    def test_batch_entries_are_independent(self) -> None:
        full = self._fresh_squeezable(self.input_shape[0])
        x = _seeded_input(self.input_shape, seed=1)
        xin = x.flatten(0, 1) if self._is_squeeze(full) else x
        out_full = full(xin)
        if self._is_squeeze(full):
            out_full = out_full.unflatten(0, tuple(self.input_shape[:2]))
        single = self._fresh_squeezable(1)
        x0 = x[:1].flatten(0, 1) if self._is_squeeze(single) else x[:1]
        out_single = single(x0)
        if self._is_squeeze(single):
            out_single = out_single.unflatten(0, (1, self.input_shape[1]))
        torch.testing.assert_close(out_full[:1], out_single, rtol=1e-5, atol=1e-6)

    def test_arg_dict_rebuilds_an_equivalent_layer(self) -> None:
        layer = self.make_layer()
        twin = type(layer)(**layer.arg_dict)
        x = self._input(layer)
        torch.testing.assert_close(layer(x), twin(x))

    def test_deepcopy_is_independent_and_equivalent(self) -> None:
        layer = self.make_layer()
        x = self._input(layer)
        layer(x)
        twin = copy.deepcopy(layer)
        for (n1, b1), (n2, b2) in zip(layer.named_buffers(), twin.named_buffers(), strict=True):
            assert n1 == n2 and torch.equal(b1, b2)
            assert b1.data_ptr() != b2.data_ptr() or b1.numel() == 0
        torch.testing.assert_close(layer(x), twin(x))

    def test_state_dict_round_trip(self) -> None:
        layer = self.make_layer()
        x = self._input(layer)
        layer(x)
        twin = self.make_layer()
        twin(self._input(twin, seed=1))  # other states than ``layer``'s, until the load replaces them
        twin.load_state_dict(layer.state_dict())
        torch.testing.assert_close(layer(x), twin(x))

    def test_pickles(self) -> None:
        layer = self.make_layer()
        x = self._input(layer)
        layer(x)
        buffer = io.BytesIO()
        torch.save(layer, buffer)
        buffer.seek(0)
        twin = torch.load(buffer, weights_only=False)
        torch.testing.assert_close(layer(x), twin(x))
        assert pickle.loads(pickle.dumps(layer)) is not None

    def test_zero_grad_detaches_states(self) -> None:
        layer = self.make_layer()
        x = self._input(layer).requires_grad_(True)
        layer(x).sum().backward(retain_graph=True)
        layer.zero_grad()
        for buf in layer.buffers():
            assert buf.grad_fn is None

    def test_rejects_a_zero_dimensional_input(self) -> None:
        layer = self.make_layer()
        with pytest.raises((ValueError, TypeError, RuntimeError)) as info:
            layer(torch.tensor(1.0))
        assert type(layer).__name__ in str(info.value)

    def test_repr_names_the_class(self) -> None:
        layer = self.make_layer()
        assert repr(layer).startswith(type(layer).__name__)


# ===================================================================================================== surrogates
class _ThresholdSpike(SurrogateSpikeFunction):
    @staticmethod
    def spike_rule(v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor:
        return (v_mem >= spike_threshold).to(v_mem.dtype)


def _conformance_surrogate(v_mem: torch.Tensor, spike_threshold: torch.Tensor) -> torch.Tensor:
    return 1.0 / (1.0 + 4.0 * (v_mem - spike_threshold).abs()) ** 2


def _two_compartment_step(
    x: torch.Tensor, state: dict[str, torch.Tensor], params: Any
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """A dendrite ``d`` low-pass filters the input and drives the soma ``v_mem``, which spikes and subtracts."""
    d = params["alpha"] * state["d"] + x
    v = params["beta"] * state["v_mem"] + (1 - params["beta"]) * d
    spikes = _ThresholdSpike.apply(v, params["threshold"], _conformance_surrogate)
    return spikes, {"v_mem": v - spikes * params["threshold"], "d": d}


class SurrogateConformance:
    """Checks every surrogate gradient must pass. Subclasses implement :meth:`make_surrogate`.

    ``nonnegative`` can be set to False for surrogates with negative lobes (MultiGaussian).
    """

    nonnegative: bool = True

    def make_surrogate(self) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
        raise NotImplementedError

    def test_shape_dtype_and_finiteness(self) -> None:
        sg = self.make_surrogate()
        for dtype in (torch.float32, torch.float64):
            v = torch.linspace(-3, 3, 61, dtype=dtype).reshape(61, 1).expand(61, 2)
            out = sg(v, torch.tensor(1.0, dtype=dtype))
            assert out.shape == v.shape and out.dtype == dtype
            assert torch.isfinite(out).all()
            if self.nonnegative:
                assert (out >= 0).all()

    def test_per_neuron_threshold_broadcasts(self) -> None:
        sg = self.make_surrogate()
        v = torch.linspace(-2, 2, 12).reshape(3, 4)
        thr = torch.tensor([0.5, 1.0, 1.5, 2.0])
        out = sg(v, thr)
        for j in range(4):
            torch.testing.assert_close(out[:, j], sg(v[:, j], thr[j]))

    def test_is_largest_near_threshold(self) -> None:
        sg = self.make_surrogate()
        thr = torch.tensor(1.0)
        near = sg(torch.tensor([1.0]), thr)
        far = sg(torch.tensor([-10.0, 12.0]), thr)
        assert (near >= far.abs()).all()

    def test_copies_pickles_and_compares_by_value(self) -> None:
        sg = self.make_surrogate()
        v = torch.linspace(-2, 3, 11)
        for twin in (copy.deepcopy(sg), pickle.loads(pickle.dumps(sg))):
            assert twin == sg
            torch.testing.assert_close(twin(v, torch.tensor(1.0)), sg(v, torch.tensor(1.0)))
        assert repr(sg).startswith(type(sg).__name__)

    def test_drives_a_spike_function_backward(self) -> None:
        sg = self.make_surrogate()
        v = torch.linspace(-1, 3, 9, requires_grad=True)
        _ThresholdSpike.apply(v, torch.tensor(1.0), sg).sum().backward()
        torch.testing.assert_close(v.grad, sg(v.detach(), torch.tensor(1.0)))

    def test_no_autograd_graph_needed(self) -> None:
        sg = self.make_surrogate()
        with torch.no_grad():
            out = sg(torch.zeros(3), torch.tensor(1.0))
        assert not out.requires_grad


# ======================================================================================================= backends
class BackendConformance:
    """Checks a compute backend against the reference backend ``"torch"`` on a grid of configurations.

    Subclasses set ``backend_name`` and may override :meth:`configurations` (``(label, NeuronParams factory,
    state names)`` triples) and the tolerances. Configurations the backend declines (``unsupported_reason``)
    are skipped; ``must_support`` lists labels that it may not decline.

    Models a backend was not written for come as :class:`~spikekit.compute.StepModel`: :meth:`step_models` lists
    some (override it to add a plugin's own) and :meth:`test_step_models_match_the_reference_loop` compares the
    backend with :func:`~spikekit.compute.run_step_loop` on those it accepts (``must_support`` applies to them too).
    """

    backend_name: str = ""
    must_support: tuple[str, ...] = ()
    atol: float = 1e-6
    grad_rtol: float = 1e-5
    shape: tuple[int, ...] = (2, 7, 5)

    def configurations(self) -> list[tuple[str, Callable[[], NeuronParams], tuple[str, ...]]]:
        act = pytest.importorskip("spikekit.activation")
        try:
            multi, single = act.MultiSpike, act.SingleSpike
            subtract, reset = act.MembraneSubtract, act.MembraneReset
            sg = act.SingleExponential
        except AttributeError as exc:
            pytest.skip(f"the reference activations are not installed: {exc}")

        def make(**kw: Any) -> Callable[[], NeuronParams]:
            def build() -> NeuronParams:
                base: dict[str, Any] = dict(
                    alpha_mem=torch.tensor(math.exp(-1 / 8.0), requires_grad=True),
                    alpha_syn=None,
                    spike_threshold=torch.tensor(1.0),
                    spike_fn=multi,
                    reset_fn=subtract(),
                    surrogate_grad_fn=sg(),
                    min_v_mem=None,
                    norm_input=False,
                    record_states=False,
                    layer_name="Conformance",
                )
                base.update(
                    {k: (v() if callable(v) and k in ("alpha_syn", "alpha_adapt") else v) for k, v in kw.items()}
                )
                return NeuronParams(**base)

            return build

        syn = lambda: torch.tensor(math.exp(-1 / 4.0), requires_grad=True)  # noqa: E731
        adapt = lambda: torch.tensor(math.exp(-1 / 10.0))  # noqa: E731
        return [
            ("iaf", make(alpha_mem=torch.tensor(1.0)), ("v_mem",)),
            ("lif", make(), ("v_mem",)),
            ("lif-norm", make(norm_input=True), ("v_mem",)),
            ("lif-single-spike", make(spike_fn=single), ("v_mem",)),
            ("lif-membrane-reset", make(reset_fn=reset()), ("v_mem",)),
            ("lif-floor", make(min_v_mem=torch.tensor(-0.5)), ("v_mem",)),
            ("lif-syn", make(alpha_syn=syn), ("v_mem", "i_syn")),
            ("lif-record", make(record_states=True), ("v_mem",)),
            ("expleak", make(spike_threshold=None, spike_fn=None, reset_fn=None, surrogate_grad_fn=None), ("v_mem",)),
            (
                "alif",
                make(spike_fn=single, alpha_adapt=adapt, adapt_scale=1.8, norm_input=True),
                ("v_mem", "b", "spike_threshold"),
            ),
        ]

    def step_models(self) -> list[tuple[str, Callable[[], StepModel], tuple[str, ...]]]:
        """``(label, StepModel factory, state names)``: a two-compartment spiking model with a trainable decay."""

        def build() -> StepModel:
            params = {"alpha": torch.tensor(0.85, requires_grad=True), "beta": 0.6, "threshold": torch.tensor(1.0)}
            return StepModel(
                _two_compartment_step, params, kind="conformance.two_compartment", layer_name="Conformance"
            )

        def build_recording() -> StepModel:
            model = build()
            model.record_states = True
            return model

        return [("step-two-compartment", build, ("v_mem", "d")), ("step-record", build_recording, ("v_mem", "d"))]

    def test_step_models_match_the_reference_loop(self) -> None:
        backend = get_backend(self.backend_name)
        ran = compared = 0
        for label, build, names in self.step_models():
            model, leaves = with_leaf_params(build())
            x = (_seeded_input(self.shape, scale=2.0, seed=5) - 0.3).requires_grad_(True)
            state = {
                n: torch.rand(self.shape[0], *self.shape[2:], generator=torch.Generator().manual_seed(4)) * 0.5
                for n in names
            }
            reason = backend.unsupported_reason(x, state, model)
            if reason is not None:
                assert label not in self.must_support, f"{self.backend_name} declined {label}: {reason}"
                assert isinstance(reason, str) and reason
                continue
            out, final, rec = backend.run(x, state, model)
            ref_model, ref_leaves = with_leaf_params(build())
            x_ref = x.detach().clone().requires_grad_(True)
            ref = run_step_loop(x_ref, {k: v.clone() for k, v in state.items()}, ref_model)
            assert set(final) == set(ref[1]), f"{label}: state keys {sorted(final)} vs {sorted(ref[1])}"
            _assert_runs_match(label, (out, final, rec), ref, (x, x_ref), self.atol, self.grad_rtol)
            ran += 1
            if leaves:
                assert_grads_match(label, leaves, ref_leaves, self.grad_rtol, 1e-5)
                compared += 1
        _require_compared(self.backend_name, "step model", ran, compared)

    def _state(self, names: Sequence[str], params: NeuronParams) -> dict[str, torch.Tensor]:
        g = torch.Generator().manual_seed(3)
        state = {}
        for n in names:
            if n == "spike_threshold":
                state[n] = torch.ones(self.shape[0], *self.shape[2:])
            elif n == "b":
                state[n] = torch.zeros(self.shape[0], *self.shape[2:])
            else:
                state[n] = torch.rand(self.shape[0], *self.shape[2:], generator=g) * 0.5
        return state

    def test_matches_the_reference_backend(self) -> None:
        backend = get_backend(self.backend_name)
        reference = get_backend("torch")
        ran = compared = 0
        for label, build, names in self.configurations():
            params, leaves = with_leaf_params(build())
            x = (_seeded_input(self.shape, scale=2.0, seed=7) - 0.3).requires_grad_(True)
            state = self._state(names, params)
            reason = backend.unsupported_reason(x, state, params)
            if reason is not None:
                assert label not in self.must_support, f"{self.backend_name} declined {label}: {reason}"
                continue
            out, final, rec = backend.run(x, state, params)
            ref_params, ref_leaves = with_leaf_params(build())
            x_ref = x.detach().clone().requires_grad_(True)
            ref = reference.run(x_ref, self._state(names, ref_params), ref_params)
            _assert_runs_match(label, (out, final, rec), ref, (x, x_ref), self.atol, self.grad_rtol)
            ran += 1
            if leaves:
                assert_grads_match(label, leaves, ref_leaves, self.grad_rtol, 1e-5)
                compared += 1
        _require_compared(self.backend_name, "configuration", ran, compared)

    def test_does_not_modify_inputs_in_place(self) -> None:
        backend = get_backend(self.backend_name)
        for _label, build, names in self.configurations():
            params = build()
            x = _seeded_input(self.shape, seed=2)
            state = self._state(names, params)
            if backend.unsupported_reason(x, state, params) is not None:
                continue
            x0 = x.clone()
            s0 = {k: v.clone() for k, v in state.items()}
            backend.run(x, state, params)
            assert torch.equal(x, x0)
            for k in s0:
                assert torch.equal(state[k], s0[k])

    def test_declines_with_a_reason_string(self) -> None:
        backend = get_backend(self.backend_name)
        for _label, build, names in self.configurations():
            params = build()
            reason = backend.unsupported_reason(_seeded_input(self.shape), self._state(names, params), params)
            assert reason is None or (isinstance(reason, str) and reason)
