"""ActivationSpec: how activations describe themselves (no plugin needed)."""

from __future__ import annotations

import pytest
import torch

from spikekit.protocols import RESET_KINDS, SPIKE_KINDS, SURROGATE_KINDS, ActivationSpec, spec_of, with_spec


def test_spec_of_reads_the_spec_attribute_and_checks_the_role():
    class Subtract:
        spec = ActivationSpec("reset", "subtract", {"subtract_value": None})

    assert spec_of(Subtract).kind == "subtract"
    assert spec_of(Subtract(), "reset") is Subtract.spec
    assert spec_of(Subtract, "spike") is None
    assert spec_of(object()) is None
    assert spec_of(type("Liar", (), {"spec": "subtract"})) is None  # only an ActivationSpec counts


def test_with_spec_declares_a_plain_function_its_own_closed_form():
    def box(v, thr):
        return ((v - thr).abs() < 0.5).to(v.dtype)

    sg = with_spec(box, "box", width=1.0)
    spec = spec_of(sg, "surrogate")
    assert spec.kind == "box" and spec.params == {"width": 1.0} and spec.closed_form is box
    assert with_spec(lambda v, t: v, "opaque", closed_form=False).spec.closed_form is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(role="gate", kind="x"), "role"),
        (dict(role="spike", kind=""), "kind"),
        (dict(role="spike", kind="x", closed_form=lambda v, t: v), "only surrogates"),
        (dict(role="surrogate", kind="x", closed_form=3.0), "callable"),
    ],
)
def test_malformed_specs_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        ActivationSpec(**kwargs)


def test_number_gives_plain_floats_and_refuses_what_is_not_fixed():
    spec = ActivationSpec(
        "reset", "reset", {"a": 2, "b": torch.tensor(0.5), "c": None, "d": torch.ones(2), "e": float("nan")}
    )
    assert spec.number("a") == 2.0 and spec.number("b") == 0.5 and spec.number("c") is None
    for name in ("d", "e"):
        with pytest.raises(ValueError, match=name):
            spec.number(name)
    trainable = ActivationSpec("reset", "reset", {"r": torch.tensor(0.1, requires_grad=True)})
    with pytest.raises(ValueError, match="fixed number"):
        trainable.number("r")


def test_the_documented_kind_tables_are_consistent():
    assert set(SPIKE_KINDS) == {"multi_spike", "single_spike", "max_spike"}
    assert set(RESET_KINDS) == {"subtract", "reset"}
    assert all(isinstance(p, tuple) for p in (*SPIKE_KINDS.values(), *RESET_KINDS.values(), *SURROGATE_KINDS.values()))


def test_a_subclass_that_changes_the_behaviour_is_not_taken_for_its_parent():
    from spikekit.protocols import SurrogateSpikeFunction

    class Exact(SurrogateSpikeFunction):
        spec = ActivationSpec("spike", "single_spike")

        @staticmethod
        def spike_rule(v_mem, spike_threshold):
            return (v_mem >= spike_threshold).to(v_mem.dtype)

    class Doubled(Exact):
        @staticmethod
        def spike_rule(v_mem, spike_threshold):
            return 2 * (v_mem >= spike_threshold).to(v_mem.dtype)

    class Subtract:
        spec = ActivationSpec("reset", "subtract", {"subtract_value": None})

        def __call__(self, spikes, state, thr):
            return {"v_mem": state["v_mem"] - spikes * thr}

    class Halving(Subtract):
        def __call__(self, spikes, state, thr):
            return {"v_mem": state["v_mem"] / 2}

    class SameBehaviour(Subtract):
        pass

    assert spec_of(Exact).kind == "single_spike" and spec_of(Doubled) is None
    assert spec_of(Halving()) is None and spec_of(SameBehaviour()).kind == "subtract"
