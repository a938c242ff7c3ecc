"""The fused op as restructured: its argument lists declared once, no import circle in the package, and the same
op (schema, fake, autograd) giving the reference backend's spikes bitwise and its gradients with each device
implementation behind it: the compiled C loop, the torch loop and the Triton kernels (through Triton's interpreter)."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from spikekit.compute import get_backend

sys.path.insert(0, str(Path(__file__).parent))
from _kernels_testcfg import alphas, make_config, random_input

PACKAGE = Path(__file__).parents[1] / "src" / "spikekit_kernels"
CONFIGS = [
    dict(model="lif", syn=True, norm=True, record=True),
    dict(model="alif", reset="reset", surrogate="Gaussian"),
    dict(model="iaf", spike="single", floor=True, surrogate="callable"),
]


def _imports(path: Path) -> set[str]:
    """The package's own modules that ``path`` imports (at any depth of the file: lazy imports count too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("spikekit_kernels"):
            if node.module == "spikekit_kernels":
                found |= {f"spikekit_kernels.{a.name}" for a in node.names}
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("spikekit_kernels.")}
    return {m for m in found if (PACKAGE / (m.split(".", 1)[1].replace(".", "/") + ".py")).exists()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        path.append(m)
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                return [*path[path.index(n) :], n]
            if n not in state and (found := visit(n)):
                return found
        state[m] = 2
        path.pop()
        return None

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_no_import_circle_in_the_package() -> None:
    graph = {f"spikekit_kernels.{p.stem}": _imports(p) for p in PACKAGE.glob("*.py")}
    assert graph["spikekit_kernels.cpu_backend"]  # the parse sees the package's imports
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_the_schemas_follow_the_declared_argument_lists() -> None:
    from spikekit_kernels import op
    from spikekit_kernels.op_spec import BackwardArgs, BackwardOut, ForwardArgs, ForwardOut

    for opdef, args, outs in ((op.lif_forward, ForwardArgs, ForwardOut), (op.lif_backward, BackwardArgs, BackwardOut)):
        schema = opdef._opoverload._schema
        assert [a.name for a in schema.arguments] == list(args._fields)
        assert len(schema.returns) == len(outs._fields)


def _layer(cfg: dict, backend: str) -> tuple[torch.Tensor, list[torch.Tensor | None]]:
    params, state = make_config(**cfg)
    for v in state.values():
        v.requires_grad_(True)
    x = (random_input(3, 9, (5,), 4) * 4).requires_grad_(True)
    out, final, rec = get_backend(backend).run(x, state, params)
    g = torch.Generator().manual_seed(5)
    loss = (out * torch.randn(out.shape, generator=g)).sum() + sum((v * 0.7).sum() for v in final.values())
    loss = loss + sum((r * 0.3).sum() for r in rec.values())
    grads = torch.autograd.grad(loss, [x, *state.values(), *alphas(params)], allow_unused=True)
    return out.detach(), list(grads)


def _compare(cfg: dict) -> None:
    (out, grads), (r_out, r_grads) = _layer(cfg, "fused-cpu"), _layer(cfg, "torch")
    assert out.sum() > 0
    assert torch.equal(out, r_out), cfg
    for g, rg in zip(grads, r_grads):
        if rg is None:
            assert g is None or not g.any()
        else:
            torch.testing.assert_close(g, rg, rtol=1e-4, atol=1e-5, msg=str(cfg))


@pytest.mark.parametrize("cfg", CONFIGS, ids=lambda c: c["model"])
@pytest.mark.parametrize("impl", ["compiled-c", "torch-loop"])
def test_the_op_with_each_cpu_implementation_matches_the_reference(cfg, impl, monkeypatch) -> None:
    from spikekit_kernels import c_loops, op

    get_backend("fused-cpu")  # registers the C loops on the op
    if impl == "compiled-c":
        if not c_loops.use_c(torch.ones(1)):
            pytest.skip("no C compiler")
        calls = []
        real = c_loops.forward
        monkeypatch.setattr(c_loops, "forward", lambda *a: calls.append(1) or real(*a))
        _compare(cfg)
        assert calls  # the compiled loop ran behind the op
    else:
        monkeypatch.setitem(op._devices, "cpu", (op.torch_loop.run_forward, op.torch_loop.run_backward))
        _compare(cfg)


TRITON_SCRIPT = textwrap.dedent(
    """
    import sys, torch
    sys.path.insert(0, {tests!r})
    import test_kernels_op as t
    from spikekit_kernels import op, triton_backend as tb
    assert torch._C._dispatch_has_kernel_for_dispatch_key("spikekit_kernels::lif_forward", "CUDA")
    assert torch._C._dispatch_has_kernel_for_dispatch_key("spikekit_kernels::lif_backward", "CUDA")
    assert op._devices["cuda"] == (tb.forward_launch, tb.backward_launch)
    t.get_backend("fused-cpu")
    op._devices["cpu"] = op._devices["cuda"]  # the (interpreted) Triton kernels behind the op, on CPU tensors
    for cfg in t.CONFIGS:
        t._compare(cfg)
    print("compared", len(t.CONFIGS))
    """
)


@pytest.mark.slow
def test_the_op_with_the_triton_kernels_matches_the_reference() -> None:
    """The Triton kernels are registered on the op for CUDA (nothing patched); run through the op's autograd in the
    interpreter they give the reference's spikes bitwise and its gradients."""
    pytest.importorskip("triton")
    env = dict(os.environ, TRITON_INTERPRET="1")
    code = TRITON_SCRIPT.format(tests=str(Path(__file__).parent))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert "compared 3" in res.stdout


@pytest.mark.parametrize(
    "name,home",
    [("FusedCPUBackend", "cpu_backend"), ("run_plan", "layout"), ("lif_forward", "op"), ("lif_backward", "op")],
)
def test_the_old_module_keeps_its_names_with_a_deprecation_warning(name, home) -> None:
    import importlib

    from spikekit_kernels import fused

    with pytest.warns(DeprecationWarning, match=rf"spikekit_kernels\.fused\.{name} is deprecated; use "
                      rf"spikekit_kernels\.{home}\.{name}"):  # fmt: skip
        old = getattr(fused, name)
    assert old is getattr(importlib.import_module(f"spikekit_kernels.{home}"), name)
    with pytest.raises(AttributeError):
        fused.no_such_name
