"""Every hook: documented, exercised through the host, and visible on the command line."""

from __future__ import annotations

import inspect
import subprocess
import sys
import types
from pathlib import Path

import pytest

import spikekit
import spikekit.compute
from spikekit import encoders, targets
from spikekit.cli import main
from spikekit.plugins import (
    BackendSpec,
    CommandSpec,
    ConverterSpec,
    EncoderSpec,
    Export,
    PluginHost,
    TargetSpec,
    hookimpl,
    hookspecs,
)
from spikekit.testing import isolated_host

HOOKS = sorted(hookspecs.HOOK_RECORDS)
REPO = Path(__file__).resolve().parents[3]


def test_every_hookspec_is_listed_and_prefixed():
    declared = sorted(n for n, f in vars(hookspecs).items() if inspect.isfunction(f) and hasattr(f, "spikekit_spec"))
    assert declared == HOOKS
    assert all(name.startswith("spikekit_") for name in declared)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hookspec_has_a_docstring_with_returns_and_example(hook):
    doc = inspect.getdoc(getattr(hookspecs, hook))
    assert doc and "Returns:" in doc and "Example" in doc and "@hookimpl" in doc


class _Target:
    name = "toy-chip"

    def check(self, model, input_shape):
        return [] if len(input_shape) == 3 else [f"toy-chip needs (C, H, W) input, got {input_shape}"]

    def compile(self, model, input_shape, **options):
        problems = self.check(model, input_shape)
        if problems:
            raise ValueError("; ".join(problems))
        return types.SimpleNamespace(
            config={"shape": list(input_shape), **options}, simulate=model, memory_summary=lambda: {}
        )


def _everything_plugin(hello_command):
    mod = types.ModuleType("everything")
    mod.spikekit_targets = hookimpl(lambda: [TargetSpec("toy-chip", _Target, description="a toy chip")])
    mod.spikekit_encoders = hookimpl(lambda: [EncoderSpec("twice", lambda x: 2 * x, description="doubles")])
    mod.spikekit_commands = hookimpl(lambda: [CommandSpec("hello", hello_command, description="greets")])
    mod.spikekit_converters = hookimpl(
        lambda: [
            ConverterSpec("torch.nn.Linear", "collections:deque", format="toyfmt", direction="export"),
            ConverterSpec("Affine", "collections:deque", format="toyfmt", direction="import"),
        ]
    )
    mod.spikekit_backends = hookimpl(lambda: [BackendSpec("toy", "collections:deque")])
    mod.spikekit_exports = hookimpl(lambda: [Export("helper", "os.path:join", namespace="spikekit.utils")])
    return mod


@pytest.fixture
def everything(hello_command):
    with isolated_host(autoload=False) as h:
        h.register(_everything_plugin(hello_command), name="everything", distribution="spikekit-everything")
        yield h


def _check_targets(h, capsys):
    assert targets.available_targets() == {"toy-chip": "a toy chip"}
    deployment = spikekit.deploy(lambda x: x, "toy-chip", input_shape=[2, 8, 8], clock=5)
    assert deployment.config == {"shape": [2, 8, 8], "clock": 5}
    with pytest.raises(ValueError, match=r"toy-chip needs \(C, H, W\)"):
        spikekit.deploy(lambda x: x, "toy-chip", input_shape=[8])


def _check_encoders(h, capsys):
    assert encoders.get("twice")(3) == 6 and encoders.available_encoders() == {"twice": "doubles"}
    with pytest.raises(ImportError, match="no spike encoder named 'poisson'.*installed: twice"):
        encoders.get("poisson")


def _check_converters(h, capsys):
    assert list(h.converters("toyfmt", "export")) == ["torch.nn.Linear"]
    assert list(h.converters("toyfmt", "import")) == ["Affine"]
    assert h.converters("nir", "export") == {}


def _check_exports(h, capsys):
    assert spikekit.utils.helper("a", "b").endswith("b")
    assert "helper" in dir(spikekit.utils)


def _check_backends(h, capsys):
    assert type(spikekit.compute.get_backend("toy")).__name__ == "deque"


def _check_commands(h, capsys):
    assert main(["hello", "--who", "spikes"]) == 0
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "hello spikes" in out
    assert "everything (spikekit-everything)" in out
    assert "spikekit.utils.helper" in out and "target:toy-chip" in out and "command:hello" in out


# One end-to-end check per hook; the test below fails when a new hook has none.
HOOK_CHECKS = {
    "spikekit_exports": _check_exports,
    "spikekit_backends": _check_backends,
    "spikekit_targets": _check_targets,
    "spikekit_converters": _check_converters,
    "spikekit_encoders": _check_encoders,
    "spikekit_commands": _check_commands,
}


def test_every_hook_has_an_end_to_end_check():
    assert sorted(HOOK_CHECKS) == HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_end_to_end(hook, everything, capsys):
    HOOK_CHECKS[hook](everything, capsys)


def test_plugins_command_lists_failures_and_strict_exit_code(fake_distribution, capsys):
    fake_distribution("spikekit-broken", "raise RuntimeError('kaput')")
    with isolated_host() as h:
        with pytest.warns(UserWarning, match="kaput"):
            code = main(["plugins", "--strict"])
        assert code == 1 and h.failures
    assert "spikekit_broken (spikekit-broken), import: RuntimeError: kaput" in capsys.readouterr().out


def test_info_command(capsys):
    with isolated_host(autoload=False):
        assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert f"spikekit {spikekit.__version__}" in out and "torch" in out and "devices  cpu" in out


def test_python_dash_m_spikekit_runs():
    result = subprocess.run([sys.executable, "-m", "spikekit", "plugins"], capture_output=True, text=True, check=True)
    # a fresh interpreter lists every plugin this environment has (which ones depends on the session)
    from spikekit.plugins import host

    expected = [f"{i.name} ({i.distribution}" for i in host().plugins()] or ["No spikekit plugins are registered."]
    assert all(line in result.stdout for line in expected), result.stdout


def test_no_command_prints_help_and_returns_2(capsys):
    assert main([]) == 2
    assert "usage: spikekit" in capsys.readouterr().out


def test_record_keys_are_what_must_be_unique():
    assert Export("A", "m:a", namespace="spikekit.utils").key() == ("export", "spikekit.utils", "A")
    assert ConverterSpec("X", "m:x", format="nir", direction="import").key() == ("converter", "nir", "import", "X")
    assert BackendSpec("fused-cpu", "m:b").key() == ("backend", "fused-cpu")
    with pytest.raises(ValueError, match="direction"):
        ConverterSpec("X", "m:x", direction="sideways").validate()
    assert PluginHost(autoload=False).plugins() == []
