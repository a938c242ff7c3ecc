"""The bad-input table: one list of cases that both ``test_bad_inputs.py`` and the docs table are made from.

Each case builds a layer, feeds it one or more inputs (the last one is the one under test) and says what the user
gets: an exception of a given type whose message contains given fragments (the layer's name, what it expected,
what came), or an output that passes a check. ``pending`` holds the exact fix still needed where the layer does
not yet behave as the row says; the test marks such rows ``xfail(strict=True)``, so a fix turns them red until the
mark is removed.

``docs/reliability/make_table.py`` renders :data:`CASES` into ``docs/reliability/bad-inputs.md``; a test checks
that the page holds exactly that rendering, so the page and the tests cannot drift apart.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn


def _sl() -> Any:
    import spikekit.layers as sl

    return sl


def _ones(v: torch.Tensor, thr: Any) -> torch.Tensor:  # a plain surrogate, so no other plugin is needed
    return torch.ones_like(v)


@dataclasses.dataclass(frozen=True)
class Case:
    """One row of the table.

    Attributes:
        id: short test id.
        layer: what is built, as shown in the table.
        bad: the input under test, as shown in the table.
        make: builds the layer.
        inputs: returns the inputs to feed, in order (earlier ones prime the state).
        raises: the exception type the user gets, or None when the input is accepted.
        fragments: substrings the message must contain (for accepted inputs: unused).
        gets: what the user gets, in words (the table's last column).
        check: for accepted inputs, a function ``(layer, output) -> None`` that asserts the documented result.
        pending: None when the behaviour holds today; else the exact fix needed (file:function).
    """

    id: str
    layer: str
    bad: str
    make: Callable[[], Any]
    inputs: Callable[[], Sequence[Any]]
    raises: type[BaseException] | None
    fragments: tuple[str, ...] = ()
    gets: str = ""
    check: Callable[[Any, Any], None] | None = None
    pending: str | None = None


def _check_shape_dtype(shape: tuple[int, ...], dtype: torch.dtype) -> Callable[[Any, Any], None]:
    def check(layer: Any, out: Any) -> None:
        assert tuple(out.shape) == shape, (tuple(out.shape), shape)
        assert out.dtype == dtype, (out.dtype, dtype)

    return check


def _check_state_recreated(layer: Any, out: Any) -> None:
    assert tuple(out.shape) == (2, 4, 5)
    assert tuple(layer.v_mem.shape) == (2, 5)


def _check_state_on_meta_refused(layer: Any, out: Any) -> None:  # never reached: the row expects a refusal
    raise AssertionError("unreachable")


def _state_on_meta(layer: Any) -> Any:
    layer(torch.rand(2, 4, 3))
    layer.v_mem = layer.v_mem.to("meta")  # a state on another device than the next input
    return layer


CASES: list[Case] = [
    Case("0d", "IAF()", "0-d tensor", lambda: _sl().IAF(surrogate_grad_fn=_ones), lambda: [torch.tensor(1.0)],
         ValueError, ("IAF", "(batch, time, ...)", "got shape ()"), "ValueError: needs (batch, time, ...)"),
    Case("no-time", "LIF(tau_mem=10)", "(5,): no time dimension", lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones),
         lambda: [torch.rand(5)], ValueError, ("LIF", "time dimension", "(5,)"),
         "ValueError naming the missing time dimension"),
    Case("no-time-alif", "ALIF(tau_mem=10, tau_adapt=20)", "(5,): no time dimension",
         lambda: _sl().ALIF(tau_mem=10.0, tau_adapt=20.0, surrogate_grad_fn=_ones), lambda: [torch.rand(5)],
         ValueError, ("ALIF", "time dimension", "(5,)"), "ValueError naming the missing time dimension"),
    Case("no-time-expleak", "ExpLeak(tau_mem=10)", "(5,): no time dimension", lambda: _sl().ExpLeak(tau_mem=10.0),
         lambda: [torch.rand(5)], ValueError, ("ExpLeak", "time dimension", "(5,)"),
         "ValueError naming the missing time dimension"),
    Case("list", "LIF(tau_mem=10)", "a Python list", lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones),
         lambda: [[[1.0, 2.0]]], TypeError, ("LIF", "torch.Tensor", "list"), "TypeError: expects a torch.Tensor"),
    Case("squeeze-list", "IAFSqueeze(batch_size=2)", "a Python list",
         lambda: _sl().IAFSqueeze(batch_size=2, surrogate_grad_fn=_ones), lambda: [[[1.0, 2.0]]], TypeError,
         ("IAFSqueeze", "torch.Tensor", "list"), "TypeError: expects a torch.Tensor"),
    Case("squeeze-rows", "IAFSqueeze(batch_size=2)", "(5, 3): 5 rows, not a multiple of 2",
         lambda: _sl().IAFSqueeze(batch_size=2, surrogate_grad_fn=_ones), lambda: [torch.rand(5, 3)], ValueError,
         ("IAFSqueeze", "(batch*time, ...)", "batch_size=2", "(5, 3)"), "ValueError naming batch_size and the shape"),
    Case("squeeze-both", "LIFSqueeze(batch_size=2, num_timesteps=3)", "(8, 3): 8 rows, not 2*3",
         lambda: _sl().LIFSqueeze(tau_mem=10.0, batch_size=2, num_timesteps=3, surrogate_grad_fn=_ones),
         lambda: [torch.rand(8, 3)], ValueError, ("LIFSqueeze", "num_timesteps=3", "(8, 3)"),
         "ValueError naming batch_size, num_timesteps and the shape"),
    Case("threshold-shape", "LIF(tau_mem=10, spike_threshold=ones(4))", "(2, 3, 5): 5 neurons, 4 thresholds",
         lambda: _sl().LIF(10.0, spike_threshold=torch.ones(4), surrogate_grad_fn=_ones),
         lambda: [torch.rand(2, 3, 5)], ValueError, ("LIF", "spike_threshold of shape (4,)", "(5,)"),
         "ValueError: the per-neuron threshold does not broadcast"),
    Case("trailing-change", "LIF(tau_mem=10)", "(2, 4, 3) then (2, 4, 5): trailing dims change",
         lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones), lambda: [torch.rand(2, 4, 3), torch.rand(2, 4, 5)], None,
         gets="accepted: the state is re-created as zeros of the new shape (sinabs behaviour)",
         check=_check_state_recreated),
    Case("complex", "LIF(tau_mem=10)", "complex64", lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones),
         lambda: [torch.rand(2, 4, 3, dtype=torch.complex64)], TypeError, ("LIF", "floating-point", "complex64"),
         "TypeError: real-valued state needs a floating-point input"),
    Case("int64", "IAF()", "int64 spike counts", lambda: _sl().IAF(surrogate_grad_fn=_ones),
         lambda: [torch.randint(0, 3, (2, 4, 3))], None,
         gets="accepted: converted to the state dtype (float32); output float32",
         check=_check_shape_dtype((2, 4, 3), torch.float32)),
    Case("bool", "IAF()", "bool spikes", lambda: _sl().IAF(surrogate_grad_fn=_ones),
         lambda: [torch.rand(2, 4, 3) > 0.5], None, gets="accepted: converted to float32; output float32",
         check=_check_shape_dtype((2, 4, 3), torch.float32)),
    Case("half-into-float", "LIF(tau_mem=10)", "float16 input, float32 layer",
         lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones), lambda: [torch.rand(2, 4, 3).half()], None,
         gets="accepted: computed in float32 (type promotion with the float32 parameters); output float32",
         check=_check_shape_dtype((2, 4, 3), torch.float32)),
    Case("half-layer", "LIF(tau_mem=10).half()", "float16 input, float16 layer",
         lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones).half(), lambda: [torch.rand(2, 4, 3).half()], None,
         gets="accepted: computed in float16; output and state float16",
         check=_check_shape_dtype((2, 4, 3), torch.float16)),
    Case("double", "LIF(tau_mem=10)", "float64 input, float32 layer",
         lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones), lambda: [torch.rand(2, 4, 3).double()], None,
         gets="accepted: computed in float64 (promotion); output and state float64",
         check=_check_shape_dtype((2, 4, 3), torch.float64)),
    Case("rec-double", "IAFRecurrent(rec_connect=Linear(3, 3))", "float64 input, float32 rec_connect",
         lambda: _sl().IAFRecurrent(rec_connect=nn.Sequential(nn.Flatten(), nn.Linear(3, 3)), surrogate_grad_fn=_ones),
         lambda: [torch.rand(2, 4, 3).double()], TypeError, ("IAFRecurrent", "rec_connect", "float64"),
         "TypeError naming the layer and the dtype mismatch with rec_connect"),
    Case("empty-batch", "LIF(tau_mem=10)", "(0, 4, 3): empty batch", lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones),
         lambda: [torch.rand(0, 4, 3)], None, gets="accepted: output (0, 4, 3)",
         check=_check_shape_dtype((0, 4, 3), torch.float32)),
    Case("t0", "LIF(tau_mem=10)", "(2, 0, 3): T = 0", lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones),
         lambda: [torch.rand(2, 0, 3)], ValueError, ("LIF", "at least one time step", "(2, 0, 3)"),
         "ValueError: at least one time step"),
    Case("squeeze-empty", "IAFSqueeze(batch_size=2)", "(0, 3): no rows (T = 0)",
         lambda: _sl().IAFSqueeze(batch_size=2, surrogate_grad_fn=_ones), lambda: [torch.rand(0, 3)], ValueError,
         ("IAFSqueeze", "at least one time step"), "ValueError: at least one time step"),
    Case("t1", "LIF(tau_mem=10)", "(2, 1, 3): T = 1", lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones),
         lambda: [torch.rand(2, 1, 3)], None, gets="accepted: output (2, 1, 3)",
         check=_check_shape_dtype((2, 1, 3), torch.float32)),
    Case("state-device", "LIF(tau_mem=10), state moved to 'meta'", "(2, 4, 3) on cpu, v_mem on meta",
         lambda: _state_on_meta(_sl().LIF(10.0, surrogate_grad_fn=_ones)), lambda: [torch.rand(2, 4, 3)],
         RuntimeError, ("LIF", "v_mem", "meta", "cpu"), "RuntimeError naming the layer, the state and both devices"),
    Case("sumpool-rank", "SumPool2d(2)", "(4, 4): no channel dim", lambda: _sl().SumPool2d(2),
         lambda: [torch.rand(4, 4)], ValueError, ("SumPool2d", "(N, C, H, W)", "(4, 4)"),
         "ValueError: expects (N, C, H, W)"),
    Case("maxpool-rank", "SpikingMaxPooling2dLayer(2)", "(4, 4): no channel dim",
         lambda: _sl().SpikingMaxPooling2dLayer(2), lambda: [torch.rand(4, 4)], ValueError,
         ("SpikingMaxPooling2dLayer", "(T, C, H, W)", "(4, 4)"), "ValueError: expects (T, C, H, W)"),
    Case("crop-rank", "Cropping2dLayer(((1, 1), (1, 1)))", "(4, 4): no channel dim",
         lambda: _sl().Cropping2dLayer(((1, 1), (1, 1))), lambda: [torch.rand(4, 4)], ValueError,
         ("Cropping2dLayer", "(N, C, H, W)", "(4, 4)"), "ValueError: expects (N, C, H, W)"),
    Case("shift-rank", "ChannelShift(2)", "(4, 4): no channel dim", lambda: _sl().ChannelShift(2),
         lambda: [torch.rand(4, 4)], ValueError, ("ChannelShift", "(4, 4)"), "ValueError naming the layer"),
    Case("sig2spike-rank", "Sig2SpikeLayer(channels_in=2, tw=3)", "(2, 1, 4, 4)",
         lambda: _sl().Sig2SpikeLayer(channels_in=2, tw=3), lambda: [torch.rand(2, 1, 4, 4)], ValueError,
         ("Sig2SpikeLayer", "(channels, time)", "(2, 1, 4, 4)"), "ValueError: expects (channels, time)"),
    Case("unflatten-rows", "UnflattenTime(batch_size=2)", "(5,): 5 rows", lambda: _sl().UnflattenTime(batch_size=2),
         lambda: [torch.rand(5)], ValueError, ("UnflattenTime", "batch_size=2", "(5,)"),
         "ValueError naming batch_size and the shape"),
    Case("flatten-rank", "FlattenTime()", "(5,): one dim", lambda: _sl().FlattenTime(), lambda: [torch.rand(5)],
         ValueError, ("FlattenTime", "(batch, time, ...)", "(5,)"), "ValueError: expects (batch, time, ...)"),
    Case("nan", "LIF(tau_mem=10)", "NaN in one batch entry", lambda: _sl().LIF(10.0, surrogate_grad_fn=_ones),
         lambda: [torch.where(torch.arange(2).view(2, 1, 1) == 0, float("nan"), torch.rand(2, 4, 3))], None,
         gets="accepted (policy: propagate, like torch layers): NaN stays in the affected batch entry",
         check=lambda layer, out: (
             _assert(bool(torch.isnan(out[0]).all()) or bool(torch.isnan(layer.v_mem[0]).all())),
             _assert(bool(torch.isfinite(out[1]).all())),
         )),
]  # fmt: skip


def _assert(cond: bool) -> None:
    assert cond


def render_table(cases: Sequence[Case] = CASES) -> str:
    """The markdown table of the docs page (one row per case)."""
    rows = [
        "| # | layer | bad input | what the user gets | status |",
        "|---|---|---|---|---|",
    ]
    for i, c in enumerate(cases, 1):
        if c.raises is not None:
            got = f"`{c.raises.__name__}`: {c.gets}; message contains " + ", ".join(f"`{f}`" for f in c.fragments)
        else:
            got = c.gets
        status = "holds (tested)" if c.pending is None else f"**pending fix** ({c.pending})"
        cells = [str(i), f"`{c.layer}`", c.bad, got, status]
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(rows) + "\n"
