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

    from spikekit_kernels.op import lif_forward

    args = [torch.rand(2, 4, 3)] + [torch.rand(2, 3) for _ in range(10)]
    real = lif_forward(*args, 1 | 16, 0, 0.0, True, 1, [0.5, 1.0, 0, 0, 0], 0)
    with FakeTensorMode() as mode:
        fake = lif_forward(*[mode.from_tensor(a) for a in args], 1 | 16, 0, 0.0, True, 1, [0.5, 1.0, 0, 0, 0], 0)
    assert [tuple(t.shape) for t in fake] == [tuple(t.shape) for t in real]
    torch.library.opcheck(torch.ops.spikekit_kernels.lif_forward.default,
                          (*args, 1 | 16, 0, 0.0, True, 1, [0.5, 1.0, 0.0, 0.0, 0.0], 0))  # fmt: skip


def test_eager_calls_and_the_registered_op_agree() -> None:
    """Eager code calls the op's implementation directly (no dispatcher); the registered op, which traced code
    records, gives the same outputs and, through its registered autograd formula, the same gradients."""
    from spikekit_kernels.op import EagerOp

    g = torch.Generator().manual_seed(3)
    base = [torch.rand(3, 9, 5, generator=g) * 2.4, torch.rand(3, 5, generator=g) * 0.5]
    alpha = torch.full((3, 5), 0.9)
    cfg = (1 | 2 | 16, 0, 0.0, True, 1, [0.5, 1.0, 0.0, 0.0, 0.0], 0)  # synapse, norm_input, spiking; recorded
    results = []
    for call in (EagerOp.apply, torch.ops.spikekit_kernels.lif_forward):
        x, v0 = (t.clone().requires_grad_(True) for t in base)
        i0 = torch.zeros(3, 5, requires_grad=True)
        a_mem, a_syn = alpha.clone().requires_grad_(True), (alpha * 0.8).requires_grad_(True)
        outs = call(x, v0, i0, x.new_empty(0), a_mem, a_syn, torch.ones(3, 5), torch.zeros(3, 5),
                    torch.zeros(3, 5), torch.zeros(3, 5), torch.zeros(3, 5), *cfg)  # fmt: skip
        w = torch.linspace(-1, 1, outs[0].numel()).reshape(outs[0].shape)
        loss = (outs[0] * w).sum() + outs[4].sum() + (outs[5] * 0.3).sum() + outs[6].sum()
        grads = torch.autograd.grad(loss, (x, v0, i0, a_mem, a_syn))
        results.append(([o.detach() for o in outs], grads))
    (eager_out, eager_grads), (op_out, op_grads) = results
    assert eager_out[0].max() >= 1
    for a, b in zip(eager_out, op_out):
        assert torch.equal(a, b)
    for a, b in zip(eager_grads, op_grads):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
