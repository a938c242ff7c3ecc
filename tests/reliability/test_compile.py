"""torch.compile of spiking layers: same outputs and gradients as eager; no graph break inside a layer's forward.

Few and small on purpose (compilation is slow on 2 cores). ``backend="aot_eager"`` traces forward and backward
through AOTAutograd (what inductor sees) without generating code; one inductor run is marked slow.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

pytest.importorskip("spikekit_neurons")

import spikekit

sl = pytest.importorskip("spikekit.layers")
BACKENDS = [b for b in ("torch", "fused-cpu") if b in spikekit.available_backends()]


def _model(backend: str) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(4, 6),
        sl.LIF(tau_mem=5.0, norm_input=False, backend=backend),
        nn.Linear(6, 3),
        sl.IAF(backend=backend),
    )


def _eager_and_compiled(backend: str, compile_backend: str, fullgraph: bool):
    x = torch.rand(2, 5, 4) * 3
    eager = _model(backend)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = eager(x)
        out.sum().backward()
        compiled_model = _model(backend)
        compiled_model(x)  # the first call loads the backend from the registry (outside the compiled region)
        for m in compiled_model.modules():
            if hasattr(m, "reset_states"):
                m.reset_states()
        fn = torch.compile(compiled_model, backend=compile_backend, fullgraph=fullgraph)
        out_c = fn(x)
        out_c.sum().backward()
    return eager, out, compiled_model, out_c


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.slow
@pytest.mark.parametrize("backend", BACKENDS)
def test_compiled_model_matches_eager_outputs_and_gradients(backend: str) -> None:
    eager, out, compiled_model, out_c = _eager_and_compiled(backend, "aot_eager", fullgraph=False)
    assert out.sum() > 0, "no spike: the comparison would be vacuous"
    torch.testing.assert_close(out_c, out, rtol=0, atol=0)
    for (name, p), q in zip(eager.named_parameters(), compiled_model.parameters()):
        if p.grad is not None:
            torch.testing.assert_close(q.grad, p.grad, rtol=1e-6, atol=1e-7, msg=name)


@pytest.mark.slow
@pytest.mark.parametrize(
    "backend",
    BACKENDS,
)  # fmt: skip
def test_layer_forward_compiles_without_graph_break(backend: str) -> None:
    _, out, _, out_c = _eager_and_compiled(backend, "eager", fullgraph=True)
    torch.testing.assert_close(out_c, out, rtol=0, atol=0)


@pytest.mark.slow
def test_inductor_compiled_model_matches_eager() -> None:
    eager, out, compiled_model, out_c = _eager_and_compiled(BACKENDS[-1], "inductor", fullgraph=False)
    torch.testing.assert_close(out_c, out, rtol=0, atol=0)
    for p, q in zip(eager.parameters(), compiled_model.parameters()):
        if p.grad is not None:
            torch.testing.assert_close(q.grad, p.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_checked_layers_compile_without_graph_break() -> None:
    """The concurrent-use check (``StatefulLayer.__call__``), the Squeeze row check and the recurrent-size check
    stay out of the graph: a model of a Squeeze, a recurrent and an adaptive layer compiles with fullgraph=True."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Linear(4, 3),
        sl.IAFSqueeze(batch_size=2),
        nn.Unflatten(0, (2, 5)),
        sl.LIFRecurrent(tau_mem=5.0, rec_connect=nn.Sequential(nn.Flatten(), nn.Linear(3, 3))),
        sl.ALIF(tau_mem=5.0, tau_adapt=10.0),
    )
    x = torch.rand(10, 4) * 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eager = model(x)
        for m in model.modules():
            if hasattr(m, "reset_states"):
                m.reset_states()
        explanation = torch._dynamo.explain(model)(x)
        assert explanation.graph_break_count == 0, explanation.break_reasons
        for m in model.modules():
            if hasattr(m, "reset_states"):
                m.reset_states()
        compiled = torch.compile(model, backend="eager", fullgraph=True)(x)
    torch.testing.assert_close(compiled, eager, rtol=0, atol=0)
