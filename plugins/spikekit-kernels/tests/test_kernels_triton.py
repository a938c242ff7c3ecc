"""The Triton kernels, run on CPU through Triton's interpreter (TRITON_INTERPRET=1) at small sizes, against the
torch loop (forward bitwise, backward to 1e-5)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("triton")

SCRIPT = textwrap.dedent(
    """
    import os, itertools, torch
    assert os.environ["TRITON_INTERPRET"] == "1"
    from spikekit_kernels import torch_loop, _plan as P
    from spikekit_kernels import triton_backend as tb
    B, T, N = 2, 6, 5
    g = torch.Generator().manual_seed(0)
    checked = 0
    for syn, norm, floor, alif, reset, single, sg in itertools.product(
            (0, 1), (0, 1), (0, 1), (0, 1), (0, 1), (0, 1), (1, 2, 3, 4, 5)):
        if (syn + norm + floor + alif + reset + single) % 2 and sg != 1:
            continue  # a spread of combinations, every surrogate at least once
        flags = P.F_SPIKING | syn * P.F_SYN | norm * P.F_NORM | floor * P.F_FLOOR | alif * P.F_ALIF | reset * P.F_RESET
        x = torch.rand(B, T, N, generator=g) * 2 - 0.3
        st = [torch.rand(B, N, generator=g) * 0.3 for _ in range(3)]
        prm = [torch.full((B, N), 0.9), torch.full((B, N), 0.8), torch.ones(B, N), torch.full((B, N), -0.5),
               torch.full((B, N), 0.95), torch.full((B, N), 1.8), torch.full((B, N), 0.1)]
        kind = int(single)
        f1 = tb.forward_launch(x, *st, *prm, flags, kind, 0.0, True, 1, [0.5, 1.0, 0.0, 0.0, 0.0], 0)
        f2 = torch_loop.forward(x, *st, *prm, flags, kind, 0.0, True)
        for a, b in zip(f1, f2):
            assert torch.equal(a, b), (flags, (a - b).abs().max())
        out, u, isave, bsave, recv, vfin, ifin, bfin = f2
        go = torch.randn(B, T, N, generator=g)
        grv = torch.randn(B, T, N, generator=g)
        gvf = torch.randn(B, N, generator=g)
        sgp = [0.5, 1.0, 0.15, 6.0, 1.0] if sg != 2 else [0.0, 0.5, 1.0, 0.0, 0.0]
        if sg == 4:
            sgp = [1.0, 0, 0, 0, 0]
        b1 = tb.backward_launch(x, u, isave, bsave, *st, *prm, go, grv, None, None, gvf, None, None, None, flags,
                                kind, 0.0, sg, sgp)
        b2 = torch_loop.backward(x, u, isave, bsave, *st, *prm, go, grv, None, None, gvf, None, None, None, flags,
                                 kind, 0.0, sg, sgp)
        for j, (a, b) in enumerate(zip(b1, b2)):
            if j in (2, 5) and not syn or j in (3, 6) and not alif:
                continue
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5, msg=f"flags {flags} sg {sg} grad {j}")
        checked += 1
    print("checked", checked)
    """
)


@pytest.mark.slow
def test_triton_kernels_in_the_interpreter_match_the_torch_loop() -> None:
    env = dict(os.environ, TRITON_INTERPRET="1")
    res = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert int(res.stdout.split("checked")[-1]) > 30


def test_importing_the_plugin_does_not_import_triton() -> None:
    code = "import sys, spikekit_kernels, spikekit_kernels.plugin, spikekit_kernels.cpu_backend, spikekit_kernels.op; print('triton' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.stdout.strip() == "False", res.stderr
