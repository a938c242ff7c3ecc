"""Recurrent layers (IAFRecurrent, LIFRecurrent, ALIFRecurrent) on fused-cpu against the reference backend:
spikes, final states and recordings bitwise; gradients to the input, the recurrent weights and tau within 1e-5."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn

sl = pytest.importorskip("spikekit.layers")
from spikekit.compute import get_backend  # noqa: E402
from spikekit_kernels import build_cache as _cc  # noqa: E402

pytestmark = pytest.mark.skipif(not _cc.available(), reason="no C compiler")


class Scaled(nn.Module):
    """A recurrent connection that is not an nn.Linear (takes the general path): flatten, linear, scale."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.lin = nn.Linear(n, n)
        self.scale = nn.Parameter(torch.tensor(0.7))

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return self.lin(s.flatten(1)) * self.scale


def _layer(kind: str, rec: nn.Module, backend: str, **kw):
    if kind == "iaf":
        return sl.IAFRecurrent(rec_connect=rec, backend=backend, **kw)
    if kind == "lif":
        return sl.LIFRecurrent(tau_mem=torch.tensor(8.0), rec_connect=rec, train_alphas=False, backend=backend, **kw)
    if kind == "lif-syn":
        return sl.LIFRecurrent(tau_mem=torch.tensor(8.0), tau_syn=torch.tensor(4.0), rec_connect=rec,
                               backend=backend, **kw)  # fmt: skip
    return sl.ALIFRecurrent(tau_mem=8.0, tau_adapt=12.0, rec_connect=rec, backend=backend, **kw)


def _run(layer: nn.Module, x: torch.Tensor, w: torch.Tensor):
    x = x.clone().requires_grad_(True)
    out = layer(x)
    (out * w).sum().backward()
    params = {n: p.grad for n, p in layer.named_parameters() if p.grad is not None}
    return out.detach(), x.grad, params, {k: v.detach() for k, v in layer.named_buffers()}


def _rec(kind: str, n: int, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    if kind == "linear":
        rec = nn.Linear(n, n, bias=True)
    elif kind == "linear-nobias":
        rec = nn.Linear(n, n, bias=False)
    else:
        rec = Scaled(n)
    with torch.no_grad():
        for p in rec.parameters():
            p.mul_(2.0)
    return rec


@pytest.mark.parametrize("model", ["iaf", "lif", "lif-syn", "alif"])
@pytest.mark.parametrize("rec_kind", ["linear", "linear-nobias", "general"])
@pytest.mark.parametrize("record", [False, True])
def test_matches_the_reference_backend(model: str, rec_kind: str, record: bool) -> None:
    B, T, N = 3, 17, 24
    g = torch.Generator().manual_seed(5)
    x = (torch.rand(B, T, N, generator=g) * 1.5 - 0.2) * (1.0 if model == "iaf" else 6.0)  # norm_input scales
    w = torch.randn(B, T, N, generator=g)
    rec = _rec(rec_kind, N, 1)
    ref = _layer(model, copy.deepcopy(rec), "torch", record_states=record)
    fused = _layer(model, copy.deepcopy(rec), "fused-cpu", record_states=record)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback to the reference backend
        got = _run(fused, x, w)
    want = _run(ref, x, w)
    assert want[0].sum() > 0, "the test input should make the layer spike"
    assert torch.equal(got[0], want[0]), "spikes"
    for name, val in want[3].items():
        assert torch.equal(got[3][name], val), f"state/recording {name}"
    torch.testing.assert_close(got[1], want[1], rtol=1e-5, atol=1e-6, msg="dx")
    assert set(got[2]) == set(want[2])
    for name, val in want[2].items():
        scale = max(1.0, val.abs().max().item())  # sums over all steps: absolute error relative to the largest
        torch.testing.assert_close(got[2][name], val, rtol=1e-5, atol=1e-6 * scale, msg=f"d {name}")


@pytest.mark.parametrize("scale", [0.2, 4.0], ids=["few-spikes", "many-spikes"])
def test_weight_gradient_from_sparse_and_dense_spikes(scale: float) -> None:
    """The recurrent weight's gradient is built from the spikes when at most three in eight are nonzero and as one
    dense product otherwise: both agree with the reference backend."""
    B, T, N = 4, 30, 40
    g = torch.Generator().manual_seed(9)
    x = torch.rand(B, T, N, generator=g) * scale
    w = torch.randn(B, T, N, generator=g)
    torch.manual_seed(2)
    rec = nn.Linear(N, N, bias=False)
    results = [_run(_layer("iaf", copy.deepcopy(rec), backend), x, w) for backend in ("fused-cpu", "torch")]
    got, want = results
    rate = (want[0] != 0).float().mean().item()
    assert (rate <= 3 / 8) == (scale < 1), f"the case should have {'few' if scale < 1 else 'many'} spikes: {rate}"
    assert rate > 0 and torch.equal(got[0], want[0])
    val = want[2]["rec_connect.weight"]
    torch.testing.assert_close(got[2]["rec_connect.weight"], val, rtol=1e-5, atol=1e-6 * max(1.0, val.abs().max()))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("rate", [0.03, 0.3], ids=["row-adds", "register-blocks"])
@pytest.mark.parametrize(("T", "N", "stride"), [(7, 20, 64), (30, 150, 512)], ids=["narrow", "wide-with-tail"])
def test_spike_weight_grad_kernel(dtype: torch.dtype, rate: float, T: int, N: int, stride: int) -> None:
    """The compiled spike product on padded time-major buffers: Σ_m S[m, j] G[m, i] as a dense product gives it,
    multi-spike counts included, under one spike in 16 (one row of G added per spike) and above (blocks of rows
    summed in registers; several blocks, outputs beyond a whole number of register spans); it declines (writing
    nothing) above its spike budget."""
    from spikekit_kernels import c_loops

    B = 3  # each step's B * N values padded to `stride`
    g = torch.Generator().manual_seed(4)
    G = torch.randn(T, stride, generator=g, dtype=dtype)
    S = (torch.rand(T, stride, generator=g) < rate).to(dtype) * torch.randint(1, 3, (T, stride), generator=g)
    lib = c_loops.lib_for(G, 16, 0, 1)
    assert lib is not None
    wt = torch.full((N, N), float("nan"), dtype=dtype)
    nnz = int(S[: T - 1, : B * N].count_nonzero())
    args = (G.data_ptr() + stride * G.element_size(), S.data_ptr(), T - 1, B, stride, N, N)
    assert lib.spike_weight_grad(*args, nnz - 1, wt.data_ptr(), 2) == 1
    assert wt.isnan().all(), "declining writes nothing"
    assert lib.spike_weight_grad(*args, nnz, wt.data_ptr(), 2) == 0
    dense = G[1:T, : B * N].reshape(-1, N).t() @ S[: T - 1, : B * N].reshape(-1, N)
    torch.testing.assert_close(wt.t(), dense)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_packed_weight_gives_the_backward_product(dtype: torch.dtype) -> None:
    """W packed once (MKL's packing functions, where torch's BLAS has them) gives gr W as torch.mm does."""
    import ctypes

    from spikekit_kernels import torch_blas

    B, N = 5, 96
    g = torch.Generator().manual_seed(6)
    w, gr = torch.randn(N, N, generator=g, dtype=dtype), torch.randn(B, N, generator=g, dtype=dtype)
    assert torch_blas.packed_weight(w.to(torch.int32), B) is None
    packed = torch_blas.packed_weight(w, B)
    if packed is None:
        pytest.skip("torch's BLAS has no packing functions here: each step's ?gemm_ packs W")
    real = ctypes.c_float if dtype == torch.float32 else ctypes.c_double
    i, p = ctypes.c_int, ctypes.c_void_p
    compute = ctypes.CFUNCTYPE(None, i, i, i, i, i, i, p, i, p, i, real, p, i)(packed[0])
    out = torch.full((B, N), float("nan"), dtype=dtype)
    compute(102, 151, 111, N, B, N, packed[1].data_ptr(), N, gr.data_ptr(), N, 0.0, out.data_ptr(), N)
    torch.testing.assert_close(out, gr @ w)


def test_is_supported_and_declines_a_surrogate_callable() -> None:
    backend = get_backend("fused-cpu")
    layer = sl.LIFRecurrent(tau_mem=8.0, rec_connect=nn.Linear(4, 4), backend="fused-cpu")
    x = torch.rand(2, 3, 4)
    layer.init_state_with_shape((2, 4))
    params = layer._neuron_params(layer.rec_connect)
    assert backend.unsupported_reason(x, dict(layer.named_buffers()), params) is None
    layer2 = sl.LIFRecurrent(tau_mem=8.0, rec_connect=nn.Linear(4, 4), surrogate_grad_fn=lambda v, t: v * 0 + 1.0)
    params2 = layer2._neuron_params(layer2.rec_connect)
    reason = backend.unsupported_reason(x, {"v_mem": torch.zeros(2, 4)}, params2)
    assert reason is not None and "surrogate" in reason


def test_stochastic_rec_connect_draws_the_same_numbers() -> None:
    """A dropout in rec_connect: both backends call it once per step (after the last one too), in the same order."""
    B, T, N = 2, 9, 16
    x = torch.rand(B, T, N) * 8.0
    w = torch.randn(B, T, N)
    rec = nn.Sequential(nn.Linear(N, N), nn.Dropout(0.3))
    outs = []
    for backend in ("torch", "fused-cpu"):
        torch.manual_seed(3)
        layer = _layer("lif", copy.deepcopy(rec), backend)
        outs.append(_run(layer, x, w))
    assert torch.equal(outs[0][0], outs[1][0])
    torch.testing.assert_close(outs[1][1], outs[0][1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("backend", ["torch", "fused-cpu"])
def test_empty_batch_runs_like_the_reference(backend: str) -> None:
    for layer in (sl.LIF(tau_mem=10.0, backend=backend), sl.ALIF(tau_mem=10.0, tau_adapt=20.0, backend=backend),
                  sl.LIFRecurrent(tau_mem=10.0, rec_connect=nn.Linear(5, 5), backend=backend)):  # fmt: skip
        x = torch.rand(0, 4, 5, requires_grad=True)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            out = layer(x)
        out.sum().backward()
        assert out.shape == (0, 4, 5) and x.grad is not None and x.grad.shape == (0, 4, 5)


def test_multi_dimensional_neurons_with_a_general_connection() -> None:
    B, T = 2, 11
    g = torch.Generator().manual_seed(2)
    x = torch.rand(B, T, 2, 6, generator=g) * 6.0
    w = torch.randn(B, T, 2, 6, generator=g)
    rec = _rec("general", 12, 4)
    got = _run(_layer("alif", copy.deepcopy(rec), "fused-cpu"), x, w)
    want = _run(_layer("alif", copy.deepcopy(rec), "torch"), x, w)
    assert torch.equal(got[0], want[0]) and want[0].sum() > 0
    for name, val in want[3].items():
        assert torch.equal(got[3][name], val), name
    torch.testing.assert_close(got[1], want[1], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("model", ["lif", "alif"])
@pytest.mark.parametrize("rec_kind", ["linear", "linear-nobias"])
def test_inference_at_a_larger_size_matches_bitwise(model: str, rec_kind: str) -> None:
    """Without autograd the loop keeps only what it returns; at a size where the product is blocked the same way as
    the benchmark's, spikes, recordings and final states stay bitwise equal."""
    B, T, N = 8, 12, 256
    g = torch.Generator().manual_seed(11)
    x = torch.rand(B, T, N, generator=g) * 5.0
    rec = _rec(rec_kind, N, 2)
    with torch.no_grad():
        rec.weight.mul_(0.2)
    ref = _layer(model, copy.deepcopy(rec), "torch", record_states=True)
    fused = _layer(model, copy.deepcopy(rec), "fused-cpu", record_states=True)
    with torch.no_grad():
        want = ref(x)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            got = fused(x)
    assert want.sum() > 0 and (want == 0).any()
    assert torch.equal(got, want)
    for name, val in dict(ref.named_buffers()).items():
        assert torch.equal(dict(fused.named_buffers())[name], val), name


def test_a_hooked_linear_is_called_as_a_module() -> None:
    """A forward hook on the nn.Linear sees every call, as with the reference (T calls, the last one included)."""
    B, T, N = 2, 6, 8
    calls = {"torch": 0, "fused-cpu": 0}
    outs = {}
    for backend in calls:
        rec = _rec("linear", N, 3)

        def hook(_m, _i, _o, backend=backend):
            calls[backend] += 1

        rec.register_forward_hook(hook)
        layer = _layer("lif", rec, backend)
        outs[backend] = layer(torch.rand(B, T, N, generator=torch.Generator().manual_seed(0)) * 6.0)
    assert calls["torch"] == T and calls["fused-cpu"] == T
    assert torch.equal(outs["torch"], outs["fused-cpu"])


@pytest.mark.parametrize("model", ["iaf", "lif-syn", "alif"])
@pytest.mark.parametrize("rec_kind", ["linear", "linear-nobias"])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_compiled_time_loop_with_torchs_blas(model, rec_kind, threads, dtype, monkeypatch) -> None:
    """A plain nn.Linear's whole time loop, forward and backward, runs as one compiled call whose products come
    from the BLAS function torch calls: spikes and states bitwise equal to the reference backend, gradients equal
    to it and to the per-step loop in Python (which runs when the BLAS function is not available)."""
    from spikekit_kernels import recurrent, torch_blas

    B, T, N = 5, 23, 64
    g = torch.Generator().manual_seed(8)
    x = ((torch.rand(B, T, N, generator=g) * 1.5 - 0.2) * (1.0 if model == "iaf" else 6.0)).to(dtype)
    w = torch.randn(B, T, N, generator=g).to(dtype)
    rec = _rec(rec_kind, N, 3).to(dtype)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        probe = torch_blas.gemm_for(rec.weight.detach(), rec.bias.detach() if rec.bias is not None else None, B)
        if probe is None:
            pytest.skip("torch's BLAS does not give torch.mm's bits here: the per-step loop runs instead")
        calls = []
        real = recurrent._compiled_forward
        monkeypatch.setattr(recurrent, "_compiled_forward", lambda *a: calls.append(1) or real(*a))
        got = _run(_layer(model, copy.deepcopy(rec), "fused-cpu").to(dtype), x, w)
        assert calls == [1]
        want = _run(_layer(model, copy.deepcopy(rec), "torch").to(dtype), x, w)
        monkeypatch.setattr(recurrent, "_gemm", lambda linear, B: None)  # the per-step loop in Python
        stepped = _run(_layer(model, copy.deepcopy(rec), "fused-cpu").to(dtype), x, w)
    finally:
        torch.set_num_threads(old)
    assert want[0].sum() > 0
    assert torch.equal(got[0], want[0]) and torch.equal(stepped[0], want[0]), "spikes"
    for name, val in want[3].items():
        assert torch.equal(got[3][name], val), f"state {name}"
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    scale = max(1.0, want[1].abs().max().item())  # sums over steps: absolute error relative to the largest
    torch.testing.assert_close(got[1], want[1], rtol=tol["rtol"], atol=tol["atol"] * 10 * scale)
    torch.testing.assert_close(got[1], stepped[1], rtol=0, atol=0)  # the same products in the same order
    for name, val in want[2].items():
        torch.testing.assert_close(got[2][name], val, rtol=tol["rtol"], atol=tol["atol"] * max(1.0, val.abs().max()))
        torch.testing.assert_close(got[2][name], stepped[2][name], rtol=0, atol=0)


def test_the_blas_probe_refuses_a_product_with_other_bits(monkeypatch) -> None:
    from spikekit_kernels import torch_blas

    w = torch.randn(16, 16)
    monkeypatch.setattr(torch_blas, "_probed", {})
    assert torch_blas.gemm_for(w, None, 3) is not None or torch_blas._function(torch.float32) is None
    monkeypatch.setattr(torch_blas, "_probed", {})
    real_mm = torch.mm
    monkeypatch.setattr(torch, "mm", lambda a, b: real_mm(a, b) + 1e-3)  # a reference whose bits differ
    assert torch_blas.gemm_for(w, None, 3) is None


@pytest.mark.parametrize("model", ["lif", "alif"])
@pytest.mark.parametrize("rec_kind", ["linear", "linear-nobias"])
@pytest.mark.parametrize("threads", [1, 2])
def test_products_from_the_spikes_in_the_blas_order(model, rec_kind, threads) -> None:
    """At the benchmark's width the compiled loop takes each step's product from the spikes, in the order the BLAS
    sums (found by the probe): spikes and states stay bitwise equal to the reference backend."""
    from spikekit_kernels import c_loops, torch_blas

    B, T, N = 32, 12, 512
    g = torch.Generator().manual_seed(12)
    x = torch.rand(B, T, N, generator=g) * 2.4
    w = torch.randn(B, T, N, generator=g)
    rec = _rec(rec_kind, N, 4)
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        lib = c_loops.lib_for(x, 16, 0, 1)
        weight, bias = rec.weight.detach(), rec.bias.detach() if rec.bias is not None else None
        if torch_blas.sparse_block(lib, weight, weight.t().contiguous(), bias, B) == 0:
            pytest.skip("no summation order of this BLAS was recognised: the BLAS takes every product")
        got = _run(_layer(model, copy.deepcopy(rec), "fused-cpu"), x, w)
        want = _run(_layer(model, copy.deepcopy(rec), "torch"), x, w)
    finally:
        torch.set_num_threads(old)
    rate = (want[0] != 0).float().mean().item()
    assert 0 < rate < 1 / 2, rate  # the steps take the product from the spikes
    assert torch.equal(got[0], want[0])
    for name, val in want[3].items():
        assert torch.equal(got[3][name], val), name
    scale = max(1.0, want[1].abs().max().item())
    torch.testing.assert_close(got[1], want[1], rtol=1e-5, atol=1e-5 * scale)
