"""Property-based tests (hypothesis) over every neuron layer and every installed CPU backend.

Invariants:

* charge conservation, IAF with subtractive reset and no floor: ``Σ_t S_t · θ + v_T = Σ_t x_t`` per neuron;
* monotonicity in the input: IAF's cumulative spike count and ExpLeak's trace never decrease when the input grows;
* state independence across batch entries: changing one entry's input leaves every other entry's output as it was;
* ``reset_states`` restores the initial behaviour: after any history, a reset layer answers as a fresh one.

Each example that runs is counted per (property, layer, backend); the counts are printed at the end of the run
(``conftest.py``) and listed in ``docs/reliability/index.md``.
"""

from __future__ import annotations

import sys
import warnings

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("spikekit_neurons")

from spikekit.errors import BackendFallbackWarning

L = sys.modules["spikekit_reliability_layers"]  # loaded by conftest.py
SPECS = {s.name: s for s in L.SPECS}
BACKENDS = L.backends()
EXAMPLES = 12  # per (property, layer, backend); see docs/reliability/index.md
COUNTS = L.PROPERTY_COUNTS

SETTINGS = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _count(prop: str, name: str, backend: str) -> None:
    key = (prop, name, backend)
    COUNTS[key] = COUNTS.get(key, 0) + 1


def _inputs(batch: int, steps: int, low: float, high: float):
    return st.lists(
        st.floats(low, high, allow_nan=False, width=32), min_size=batch * steps * L.N, max_size=batch * steps * L.N
    ).map(lambda v: torch.tensor(v, dtype=torch.float64).reshape(batch, steps, L.N))


def _quiet(fn):
    def run(*a, **k):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", BackendFallbackWarning)
            return fn(*a, **k)

    return run


# ------------------------------------------------------------------------------------------ charge conservation
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["IAF", "IAFSqueeze", "IAF-single"])
def test_iaf_subtractive_reset_conserves_charge(name: str, backend: str) -> None:
    sl, act = L.sl(), L.sl_act()

    @SETTINGS
    @given(
        steps=st.integers(1, 10),
        threshold=st.floats(0.25, 2.0),
        data=st.data(),
    )
    @_quiet
    def prop(steps: int, threshold: float, data) -> None:
        batch = L.SQUEEZE_B if name == "IAFSqueeze" else data.draw(st.integers(1, 3))
        x = data.draw(_inputs(batch, steps, -1.0, 3.0))
        kw = dict(spike_threshold=threshold, reset_fn=act.MembraneSubtract(), min_v_mem=None, backend=backend)
        if name == "IAFSqueeze":
            layer, squeeze = sl.IAFSqueeze(batch_size=batch, **kw), True
        else:
            spike_fn = act.SingleSpike if name == "IAF-single" else act.MultiSpike
            layer, squeeze = sl.IAF(spike_fn=spike_fn, **kw), False
        layer = layer.double()
        out = layer(x.flatten(0, 1)).unflatten(0, (batch, steps)) if squeeze else layer(x)
        charge = out.sum(1) * layer.spike_threshold + layer.v_mem  # (B, N)
        torch.testing.assert_close(charge, x.sum(1), rtol=1e-9, atol=1e-9)
        _count("charge conservation", name, backend)

    prop()


# ------------------------------------------------------------------------------------------------ monotonicity
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["IAF", "IAFSqueeze", "ExpLeak", "ExpLeakSqueeze"])
def test_output_is_monotone_in_the_input(name: str, backend: str) -> None:
    spec = SPECS[name]

    @SETTINGS
    @given(steps=st.integers(1, 10), data=st.data())
    @_quiet
    def prop(steps: int, data) -> None:
        batch = L.SQUEEZE_B if spec.squeeze else data.draw(st.integers(1, 3))
        x = data.draw(_inputs(batch, steps, -1.0, 3.0))
        bump = data.draw(_inputs(batch, steps, 0.0, 1.0))
        low = spec.run(spec.make(backend).double(), x)
        high = spec.run(spec.make(backend).double(), x + bump)
        if spec.spiking:  # the cumulative spike count
            assert bool((high.cumsum(1) >= low.cumsum(1) - 1e-9).all())
        else:  # the membrane trace
            assert bool((high >= low - 1e-9).all())
        _count("monotone in input", name, backend)

    prop()


# ---------------------------------------------------------------------------------------- batch independence
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(SPECS))
def test_batch_entries_do_not_influence_each_other(name: str, backend: str) -> None:
    spec = SPECS[name]

    @SETTINGS
    @given(steps=st.integers(1, 8), data=st.data())
    @_quiet
    def prop(steps: int, data) -> None:
        batch = L.SQUEEZE_B if spec.squeeze else data.draw(st.integers(2, 4))
        x = data.draw(_inputs(batch, steps, -1.0, 3.0)).float()
        other = data.draw(st.integers(1, batch - 1))
        changed = x.clone()
        changed[other] = data.draw(_inputs(1, steps, -1.0, 3.0))[0].float()
        torch.manual_seed(0)
        layer = spec.make(backend)
        twin = spec.make(backend)
        twin.load_state_dict(layer.state_dict())  # same parameters (the recurrent weights included)
        out_a = spec.run(layer, x)
        out_b = spec.run(twin, changed)
        torch.testing.assert_close(out_a[0], out_b[0], rtol=0, atol=0)
        for state in layer.state_names:
            torch.testing.assert_close(getattr(layer, state)[0], getattr(twin, state)[0], rtol=0, atol=0)
        _count("batch independence", name, backend)

    prop()


# ------------------------------------------------------------------------------------------------- reset_states
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(SPECS))
def test_reset_states_restores_the_initial_behaviour(name: str, backend: str) -> None:
    spec = SPECS[name]

    @SETTINGS
    @given(history=st.integers(1, 3), steps=st.integers(1, 8), data=st.data())
    @_quiet
    def prop(history: int, steps: int, data) -> None:
        batch = L.SQUEEZE_B if spec.squeeze else data.draw(st.integers(1, 3))
        torch.manual_seed(0)
        layer = spec.make(backend)
        fresh = spec.make(backend)
        fresh.load_state_dict({k: v for k, v in layer.state_dict().items() if k not in layer.state_names},
                              strict=False)  # fmt: skip
        for _ in range(history):
            spec.run(layer, data.draw(_inputs(batch, steps, -1.0, 3.0)).float())
        layer.reset_states()
        for state in layer.state_names:
            assert not getattr(layer, state).any() and getattr(layer, state).grad_fn is None
        x = data.draw(_inputs(batch, steps, -1.0, 3.0)).float()
        torch.testing.assert_close(spec.run(layer, x), spec.run(fresh, x), rtol=0, atol=0)
        _count("reset_states", name, backend)

    prop()
