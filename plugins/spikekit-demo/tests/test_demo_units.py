"""Unit tests of the demo's parts: options, data, progress bar, report tables, the model's shapes."""

from __future__ import annotations

import argparse
import io

import pytest
import torch
from spikekit_demo import cli
from spikekit_demo.data import load_digits
from spikekit_demo.pipeline import DemoConfig
from spikekit_demo.progress import ProgressBar
from spikekit_demo.report import human, table


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args(argv)


def test_options_and_their_defaults():
    args = _parse()
    config = DemoConfig.from_options(epochs=args.epochs, timesteps=args.timesteps, quick=args.quick)
    assert (config.epochs, config.timesteps, config.quick) == (12, 16, False)
    args = _parse("--quick", "--epochs", "5", "--backend", "fused-cpu", "--out", "o", "--seed", "7")
    config = DemoConfig.from_options(
        epochs=args.epochs, timesteps=args.timesteps, backend=args.backend, out=args.out, seed=args.seed, quick=True
    )
    assert (config.epochs, config.timesteps, config.backend, config.out, config.seed) == (5, 8, "fused-cpu", "o", 7)


@pytest.mark.parametrize("bad", ["0", "-2", "two"])
def test_epochs_must_be_a_positive_integer(bad, capsys):
    with pytest.raises(SystemExit):
        _parse("--epochs", bad)
    assert "expected a positive integer" in capsys.readouterr().err


def test_demo_is_a_spikekit_subcommand(monkeypatch):
    from spikekit.cli import build_parser

    ran = []
    monkeypatch.setattr(cli.COMMAND, "run", lambda args: ran.append(args) or 0)
    parser = build_parser(load="demo")  # the command line loads the plugin command it is asked to run
    args = parser.parse_args(["demo", "--quick", "--timesteps", "4"])
    assert args.quick and args.timesteps == 4
    assert args.run(args) == 0 and ran == [args]  # dispatched to the demo's own run


def test_digits_split_is_stratified_scaled_and_seeded():
    a, b, c = load_digits(0), load_digits(0), load_digits(1)
    assert len(a.y_train) + len(a.y_test) == 1797
    assert a.x_train.shape[1:] == (1, 8, 8) and a.x_train.dtype == torch.float32
    assert float(a.x_train.min()) == 0.0 and float(a.x_train.max()) == 1.0
    counts = torch.bincount(a.y_test, minlength=10)
    assert int(counts.min()) >= 44 and int(counts.max()) <= 46  # 25% of each class (174..183 per class)
    assert torch.equal(a.x_test, b.x_test) and torch.equal(a.y_train, b.y_train)
    assert not torch.equal(a.y_test, c.y_test)
    # train and test are disjoint: no test image appears in the train set
    train_rows = {tuple(r) for r in a.x_train.flatten(1).tolist()}
    overlap = sum(tuple(r) in train_rows for r in a.x_test.flatten(1).tolist())
    assert overlap <= 2  # the digits set itself holds a few duplicate images


def test_progress_bar_writes_one_line_when_not_a_terminal():
    stream = io.StringIO()
    bar = ProgressBar(4, "epoch 1/2", stream=stream)
    for _ in range(4):
        bar.update(loss=0.5, acc=0.25)
    assert stream.getvalue() == ""
    bar.close(test_acc=0.75)
    line = stream.getvalue()
    assert line.count("\n") == 1 and "\r" not in line
    assert line.startswith("epoch 1/2 [====================] 4/4  loss 0.500  acc  25.0%  test  75.0%")


def test_progress_bar_redraws_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Tty()
    bar = ProgressBar(2, "x", stream=stream, width=4)
    bar.update(loss=1.0)
    assert stream.getvalue().startswith("\rx [==> ] 1/2  loss 1.000")
    bar.update()
    bar.close()
    assert stream.getvalue().count("\r") == 3 and stream.getvalue().endswith("\n")


def test_human_and_table():
    assert [human(v) for v in (12.3, 12345, 1234567, 2.5e9)] == ["12.3", "12.3k", "1.23M", "2.5G"]
    text = table(["name", "value"], [["a", "1"], ["long name", "22"]])
    assert text.splitlines() == ["name       value", "---------  -----", "a              1", "long name     22"]


def test_snn_and_ann_share_the_architecture_and_readout_averages_time():
    from spikekit_demo.model import build_ann, build_snn, readout

    ann, snn = build_ann(), build_snn(4)
    assert [type(m).__name__ for m in ann] == [
        "Conv2d", "ReLU", "SumPool2d", "Conv2d", "ReLU", "SumPool2d", "Flatten", "Linear"
    ]  # fmt: skip
    assert [type(m).__name__ for m in snn] == [
        "Conv2d", "IAFSqueeze", "SumPool2d", "Conv2d", "IAFSqueeze", "SumPool2d", "Flatten", "Linear"
    ]  # fmt: skip
    assert {k for k in ann.state_dict()} <= {k for k in snn.state_dict()}
    out = snn(torch.zeros(2 * 4, 1, 8, 8))  # (B*T, 1, 8, 8) -> (B*T, 10)
    assert out.shape == (8, 10)
    x = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(8, 3)
    torch.testing.assert_close(readout(x, 4), x.reshape(2, 4, 3).mean(1))
