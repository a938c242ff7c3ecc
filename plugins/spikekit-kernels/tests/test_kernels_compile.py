"""torch.compile(fullgraph=True) and torch.export of models whose neuron layers run on the fused op."""

from __future__ import annotations

import pytest
import torch
from torch import nn

sl = pytest.importorskip("spikekit.layers")


def _model(backend: str) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), sl.LIFSqueeze(tau_mem=5.0, batch_size=2, backend=backend), nn.Linear(8, 3))


@pytest.mark.slow
def test_compile_fullgraph_matches_eager_and_keeps_the_op_whole() -> None:
    x = torch.rand(2 * 7, 6) * 2
    eager = _model("fused-cpu")
    ref_out = eager(x)
    ref_out.sum().backward()
    ref_grads = [p.grad.clone() for p in eager.parameters() if p.requires_grad]

    compiled_model = _model("fused-cpu")
    graphs = []

    def backend(gm, example_inputs):
        graphs.append(gm)
        return gm

    fn = torch.compile(compiled_model, fullgraph=True, backend=backend)
    out = fn(x)
    out.sum().backward()
    torch.testing.assert_close(out, ref_out)
    for p, g in zip([p for p in compiled_model.parameters() if p.requires_grad], ref_grads):
        torch.testing.assert_close(p.grad, g)
    ops = [n.target for gm in graphs for n in gm.graph.nodes if n.op == "call_function"]
    assert torch.ops.spikekit_kernels.lif_forward.default in ops or any("lif_forward" in str(o) for o in ops)


def test_export_records_the_fused_op() -> None:
    model = _model("fused-cpu").eval()
    x = torch.rand(2 * 7, 6)
    ep = torch.export.export(model, (x,))
    text = str(ep.graph)
    assert "spikekit_kernels.lif_forward" in text
    torch.testing.assert_close(ep.module()(x), _model("fused-cpu").eval()(x))


def test_fake_tensor_shapes_match_the_real_op() -> None:
    from torch._subclasses.fake_tensor import FakeTensorMode

    from spikekit_kernels.fused import lif_forward

    args = [torch.rand(2, 4, 3)] + [torch.rand(2, 3) for _ in range(10)]
    real = lif_forward(*args, 1 | 16, 0, 0.0, True, 1, [0.5, 1.0, 0, 0, 0], 0)
    with FakeTensorMode() as mode:
        fake = lif_forward(*[mode.from_tensor(a) for a in args], 1 | 16, 0, 0.0, True, 1, [0.5, 1.0, 0, 0, 0], 0)
    assert [tuple(t.shape) for t in fake] == [tuple(t.shape) for t in real]
    torch.library.opcheck(torch.ops.spikekit_kernels.lif_forward.default,
                          (*args, 1 | 16, 0, 0.0, True, 1, [0.5, 1.0, 0.0, 0.0, 0.0], 0))  # fmt: skip
