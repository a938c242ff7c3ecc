"""Outputs equal the reference backend's (spikes bitwise) and gradients agree, over the whole covered grid."""

from __future__ import annotations

import re
import sys
import warnings
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spikekit.compute import get_backend

sys.path.insert(0, str(Path(__file__).parent))
from _kernels_testcfg import MODELS, RESETS, SPIKES, SURROGATES, alphas, make_config, random_input


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    """(..., C, H, W) with the same values, stored as (..., H, W, C) (a conv's channels_last output, unfolded)."""
    return t.movedim(-3, -1).contiguous().movedim(-1, -3)


def _run_both(
    backend: str, cfg: dict, T: int, seed: int, use_c: bool, monkeypatch: pytest.MonkeyPatch, last: bool = False
):
    from spikekit_kernels import c_loops

    if not use_c:
        monkeypatch.setattr(c_loops, "use_c", lambda x: None)
    results = []
    for name in (backend, "torch"):
        params, state = make_config(**cfg)
        for v in state.values():
            v.requires_grad_(True)
        x = random_input(state["v_mem"].shape[0], T, cfg.get("trail", (5,)), seed, cfg.get("dtype", torch.float32))
        if last and name != "torch":  # the layout under test; the reference gets the usual one
            x = _channels_last(x)
            state = {k: _channels_last(v.detach()).requires_grad_(True) for k, v in state.items()}
        x.requires_grad_(True)
        b = get_backend(name)
        if name != "torch":
            assert b.unsupported_reason(x, state, params) is None, b.unsupported_reason(x, state, params)
        out, final, rec = b.run(x, state, params)
        g = torch.Generator().manual_seed(seed + 1)
        loss = (out * torch.randn(out.shape, generator=g, dtype=out.dtype)).sum()
        for v in final.values():
            loss = loss + (v * torch.randn(v.shape, generator=g, dtype=v.dtype)).sum()
        for k in sorted(rec):
            loss = loss + (rec[k] * torch.randn(rec[k].shape, generator=g, dtype=rec[k].dtype)).sum()
        leaves = [x, *state.values(), *alphas(params)]
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
        results.append((out, final, rec, grads))
    return results


def _check(results, exact_spikes: bool = True) -> None:
    (out, final, rec, grads), (r_out, r_final, r_rec, r_grads) = results
    if exact_spikes:
        assert torch.equal(out, r_out), (out - r_out).abs().max()
    else:
        torch.testing.assert_close(out, r_out, atol=1e-6, rtol=0)
    assert list(final) == list(r_final)
    for k in r_final:
        torch.testing.assert_close(final[k], r_final[k], atol=1e-6, rtol=1e-6, msg=k)
    assert set(rec) == set(r_rec)
    for k in r_rec:
        torch.testing.assert_close(rec[k], r_rec[k], atol=1e-6, rtol=1e-6, msg=k)
    state_numel = out.numel() // max(1, out.shape[1])
    for g, rg in zip(grads, r_grads):
        if rg is None:
            assert g is None or torch.count_nonzero(g) == 0
            continue
        # a decay factor's gradient is a float32 sum over batch, time (and neurons, for a scalar α) that the two
        # backends add in different orders: its rounding error grows like the square root of the number of terms
        n_terms = out.numel() // g.numel() if g.numel() < state_numel else 1
        torch.testing.assert_close(g, rg, rtol=1e-5, atol=1e-5 * max(1.0, n_terms**0.5))


configs = st.fixed_dictionaries(
    {
        "model": st.sampled_from(MODELS),
        "syn": st.booleans(),
        "norm": st.booleans(),
        "spike": st.sampled_from(SPIKES),
        "reset": st.sampled_from(RESETS),
        "surrogate": st.sampled_from(SURROGATES),
        "floor": st.booleans(),
        "record": st.booleans(),
        "per_neuron": st.booleans(),
        "trail": st.sampled_from([(5,), (2, 3), (1,), (600,)]),
        "B": st.integers(1, 3),
    }
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cfg=configs, T=st.integers(1, 12), seed=st.integers(0, 10_000), use_c=st.booleans())
def test_matches_the_reference_on_random_configurations(cfg, T, seed, use_c, monkeypatch) -> None:
    with monkeypatch.context() as m:
        _check(_run_both("fused-cpu", cfg, T, seed, use_c, m))


@pytest.mark.parametrize("surrogate", SURROGATES)
@pytest.mark.parametrize("spike", SPIKES)
def test_every_spike_function_and_surrogate_with_subtractive_reset(surrogate, spike, monkeypatch) -> None:
    cfg = dict(model="lif", syn=True, norm=True, spike=spike, surrogate=surrogate, floor=True)
    _check(_run_both("fused-cpu", cfg, 20, 3, True, monkeypatch))


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("reset", RESETS)
def test_every_model_and_reset(model, reset, monkeypatch) -> None:
    cfg = dict(
        model=model, syn=model != "iaf", norm=model in ("lif", "alif"), reset=reset, record=True, per_neuron=True
    )
    _check(_run_both("fused-cpu", cfg, 25, 5, True, monkeypatch))


def test_many_spikes_per_step_are_bitwise_equal(monkeypatch) -> None:
    """Large drive gives multi-spike counts where trunc(v/θ) rounding matters (v = 0.9, θ = 0.3 gives 2)."""
    cfg = dict(model="iaf", spike="multi")
    results = _run_both("fused-cpu", cfg, 30, 9, True, monkeypatch)
    assert results[1][0].max() >= 1
    _check(results)


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("use_c", [True, False])
def test_channels_last_input_runs_in_its_storage_order(model, use_c, monkeypatch) -> None:
    """A conv's channels_last output: same results as the reference, given and returned in that layout (no copy)."""
    cfg = dict(model=model, syn=model != "iaf", norm=model == "lif", record=True, per_neuron=True, trail=(3, 4, 5))
    results = _run_both("fused-cpu", cfg, 7, 4, use_c, monkeypatch, last=True)
    _check(results)
    out, final, rec, _ = results[0]
    assert out.movedim(2, -1).is_contiguous() and not out.is_contiguous()
    for t in (*final.values(), *(v for k, v in rec.items() if k != "spike_threshold")):
        assert t.movedim(-3, -1).is_contiguous(), "results keep the input's layout"
    for v in final.values():
        assert v._base is None, "final states own their storage (layers detach_ them in place)"


@pytest.mark.parametrize("use_c", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_input_gradient_has_no_subnormal_entries(dtype, use_c, monkeypatch) -> None:
    """Far below threshold the surrogate is about the smallest normal number; times a small output gradient it
    would be subnormal (slowing every later backward on the CPU): those entries are zero, the rest as the reference."""
    import spikekit.layers as sl
    from spikekit_kernels import c_loops

    if not use_c:
        monkeypatch.setattr(c_loops, "use_c", lambda x: False)
    tiny = torch.finfo(dtype).tiny
    x = torch.zeros((2, 6, 8), dtype=dtype)
    x[:, 0, 4:] = -45.0  # u = -45 from then on: the surrogate exp(-2 |u - 1|) is about 1e-40 (float32) there
    x[:, :, :4] = torch.linspace(-3, 3, 4 * 6 * 2, dtype=dtype).reshape(2, 6, 4)
    w = torch.full(x.shape, 1e-3, dtype=dtype)
    grads = []
    for backend in ("fused-cpu", "torch"):
        xx = x.clone().requires_grad_(True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the fused backend itself runs (no fallback to the reference)
            out = sl.IAF(backend=backend).to(dtype)(xx)
        (out * w).sum().backward()
        grads.append(xx.grad)
    got, want = grads
    assert not ((got != 0) & (got.abs() < tiny)).any()
    if dtype == torch.float32:  # the float64 reference's exp underflows to zero there anyway
        assert ((want != 0) & (want.abs() < tiny)).any(), "the case should produce subnormals without the flush"
    torch.testing.assert_close(got, want, rtol=1e-6, atol=tiny)


@pytest.mark.parametrize("threshold", [0.75, 0.3, 2.0, 0.5, "mixed"])
@pytest.mark.parametrize(
    "extra",
    [{}, {"floor": True}, {"reset": "reset"}, {"syn": True}, {"spike": "max2"}, {"spike": "single"}],
    ids=["subtract", "floor", "reset", "synapse", "maxspike", "singlespike"],
)
@pytest.mark.parametrize("model", ["lif", "iaf"])
def test_thresholds_other_than_one(model, extra, threshold, monkeypatch) -> None:
    """A power-of-two threshold is applied as a product with its reciprocal (the same bits as the division), any
    other threshold divides; per-neuron thresholds mixing both fall back to dividing for their block."""
    cfg = dict(model=model, threshold=threshold, per_neuron=True, trail=(6, 7), **extra)
    results = _run_both("fused-cpu", cfg, 30, 12, True, monkeypatch)
    assert results[1][0].max() >= 1, "the case should spike"
    _check(results)


def _stream_min_bytes() -> int:
    """The output size from which the compiled loop writes with non-temporal stores (read from its source)."""
    from spikekit_kernels import build_cache as _cc

    m = re.search(r"#define STREAM_MIN_BYTES \((\d+) << (\d+)\)", _cc._SOURCE.read_text())
    assert m, "STREAM_MIN_BYTES not found in lif_kernels.c"
    return int(m.group(1)) << int(m.group(2))


@pytest.mark.parametrize(
    "cfg",
    [
        dict(model="lif", norm=True),
        dict(model="iaf", floor=True),
        dict(model="alif", syn=True, record=True),
        dict(model="lif", norm=True, dtype=torch.float64),
    ],
    ids=["lif", "iaf-floor", "alif-synapse", "lif-float64"],
)
def test_large_outputs_written_with_streaming_stores(cfg, monkeypatch) -> None:
    """Outputs and input gradients past the streaming size take the non-temporal store path: same results."""
    T, B, N = 64, 4, 8 * 1024 + 5  # a row length that is not a multiple of the vector width: unaligned rows
    assert B * T * N * 4 >= _stream_min_bytes()  # float32; float64 is twice as large
    results = _run_both("fused-cpu", dict(cfg, B=B, trail=(N,)), T, 21, True, monkeypatch)
    assert results[1][0].max() >= 1
    _check(results)


def test_concurrent_calls_share_the_scratch_buffers_safely() -> None:
    """Backward passes running at once in several Python threads (each taking recomputation buffers from the
    shared pool) give the results each gives alone."""
    import threading

    import spikekit.layers as sl

    def run(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = random_input(4, 40, (700,), seed).requires_grad_(True)
        layer = sl.LIF(tau_mem=12.0, backend="fused-cpu")
        out = layer(x)
        (out * torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum().backward()
        return out.detach(), x.grad

    alone = [run(s) for s in range(6)]
    together: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
    threads = [threading.Thread(target=lambda s=s: together.__setitem__(s, run(s))) for s in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for s, (out, grad) in enumerate(alone):
        assert torch.equal(together[s][0], out) and torch.equal(together[s][1], grad), s


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("threshold", [0.3, 0.75, 1.5, 0.1, 1.0, 0.25, 4.0])
def test_spike_counts_at_multiples_of_the_threshold(threshold, dtype) -> None:
    """Membranes a few ulps either side of k * θ, where trunc(v / θ) and trunc(v * (1 / θ)) disagree for most
    thresholds: the counts equal the reference's bit for bit (only powers of two may use the reciprocal)."""
    import spikekit.layers as sl

    th = torch.tensor(threshold, dtype=dtype)
    rows = [torch.arange(1, 120, dtype=dtype) * th]
    for direction in (1e9, -1e9):
        cur = rows[0]
        for _ in range(5):
            cur = torch.nextafter(cur, torch.tensor(direction, dtype=dtype))
            rows.append(cur)
    x = torch.stack(rows).reshape(1, 1, -1)  # one step from rest: the membrane is x itself
    outs = []
    for backend in ("fused-cpu", "torch"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the fused backend itself runs (no fallback to the reference)
            outs.append(sl.IAF(spike_threshold=threshold, backend=backend).to(dtype)(x.clone()))
    assert torch.equal(outs[0], outs[1]), (outs[0] != outs[1]).sum()
    assert outs[1].max() >= 100
