"""The plugin contract as a third party meets it: hook names, blocked and failed providers, clash order, warnings
at the caller's line, namespace probes, the command line's fault policy, opt-in pytest fixtures."""

from __future__ import annotations

import sys
import types
import warnings
from pathlib import Path

import pytest

import spikekit
from spikekit import cli
from spikekit.errors import PluginError, PluginNotInstalledError, PluginWarning
from spikekit.plugins import CommandSpec, Export, PluginHost, hookimpl
from spikekit.testing import isolated_host

WIDGET = """
from spikekit.plugins import hookimpl, Export
@hookimpl
def spikekit_exports():
    return [Export("Widget", "collections:{target}", namespace="spikekit.layers")]
"""


def _plugin(**hooks):
    mod = types.ModuleType("handmade")
    for name, fn in hooks.items():
        setattr(mod, name, hookimpl(fn))
    return mod


# ------------------------------------------------------------------------------------------------ hook names
def test_a_misspelled_hook_is_a_plugin_failure_with_a_suggestion():
    h = PluginHost(autoload=False)
    with pytest.warns(PluginWarning, match=r"dist-typo.*'spikekit_export' is not a spikekit hook.*spikekit_exports"):
        h.register(_plugin(spikekit_export=lambda: []), name="typo", distribution="dist-typo")
    assert [(f.distribution, f.stage) for f in h.failures] == [("dist-typo", "hook name")]


def test_a_misspelled_hook_raises_in_strict_mode():
    h = PluginHost(autoload=False, strict=True)
    with pytest.raises(PluginError, match="spikekit_backend'"):
        h.register(_plugin(spikekit_backend=lambda: []), name="typo", distribution="dist-typo")


def test_correct_hooks_and_unmarked_helpers_are_not_reported():
    plugin = _plugin(spikekit_exports=lambda: [Export("Fine", "collections:deque")])
    plugin.spikekit_helper = lambda: None  # not marked as a hook implementation: not a hook
    h = PluginHost(autoload=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        h.register(plugin, name="fine", distribution="dist-fine")
    assert h.failures == []


# ----------------------------------------------------------------------------------- missing, failed, blocked
def test_missing_name_of_a_failed_distribution_names_it_and_why(fake_distribution):
    fake_distribution("spikekit-gizmos", "raise ImportError('gizmo extension not built')")
    h = PluginHost()
    with pytest.warns(PluginWarning):
        with pytest.raises(PluginNotInstalledError, match=r"spikekit-gizmos.*failed at import.*gizmo extension"):
            h.resolve_export("spikekit.layers", "Gizmo")


def test_a_failing_export_hook_is_named_too():
    h = PluginHost(autoload=False)
    h.register(_plugin(spikekit_exports=lambda: 1 / 0), name="raiser", distribution="dist-raiser")
    with pytest.warns(PluginWarning):
        with pytest.raises(PluginNotInstalledError, match=r"dist-raiser.*hook spikekit_exports.*ZeroDivisionError"):
            h.resolve_export("spikekit.layers", "Anything")


def test_blocked_distribution_is_shown_as_blocked(fake_distribution, capsys):
    fake_distribution("spikekit-widgets", WIDGET.format(target="OrderedDict"))
    with isolated_host(blocked=["spikekit-widgets"]) as h:
        with pytest.raises(PluginNotInstalledError, match=r"spikekit-widgets.*is blocked"):
            h.resolve_export("spikekit.layers", "Widget")
        assert cli.main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "Blocked:" in out and "spikekit-widgets" in out.split("Blocked:")[1]


def test_unknown_name_with_everything_loaded_is_an_attribute_error(fake_distribution):
    fake_distribution("spikekit-widgets", WIDGET.format(target="OrderedDict"))
    with isolated_host():
        with pytest.raises(AttributeError, match=r"no attribute 'NoSuchThing'.*loaded: spikekit-widgets"):
            spikekit.layers.NoSuchThing
        assert not hasattr(spikekit.layers, "NoSuchThing")


def test_a_namespace_one_distribution_fills_names_it_when_missing():
    import spikekit.plot

    with isolated_host(autoload=False):
        with pytest.raises(PluginNotInstalledError, match=r"spikekit\.plot\.raster comes from the spikekit-plot distri"
                           r"bution: pip install spikekit-plot \(.*autoload is disabled"):  # fmt: skip
            spikekit.plot.raster
        with pytest.raises(ImportError, match="pip install spikekit-plot"):
            from spikekit.plot import raster  # noqa: F401


def test_lazy_exports_imports_each_name_on_first_access_only():
    from spikekit.plugins import lazy_exports

    package = types.ModuleType("lazy_package")
    getattr_, dir_ = lazy_exports(
        package.__dict__, {"Alias": "collections:OrderedDict", "dotted": "os:path.join", "mod": "json.decoder"}
    )
    package.__getattr__, package.__dir__ = getattr_, dir_
    assert {"Alias", "dotted", "mod"} <= set(dir(package)) and "Alias" not in package.__dict__
    import collections
    import json.decoder
    import os.path

    assert package.Alias is collections.OrderedDict and package.__dict__["Alias"] is collections.OrderedDict
    assert package.dotted is os.path.join and package.mod is json.decoder
    with pytest.raises(AttributeError, match="module 'lazy_package' has no attribute 'Missing'"):
        package.Missing


def test_the_core_has_no_table_of_plugin_names():
    from spikekit.plugins import manager

    source = Path(manager.__file__).read_text()
    for first_party in ("spikekit-neurons", "spikekit-nir", "spikekit-convert", "spikekit-speck", "spikekit-kernels"):
        assert first_party not in source


# ------------------------------------------------------------------------------------------------ clash order
def test_clash_winner_is_alphabetical_whatever_the_install_order(fake_distribution):
    fake_distribution("spikekit-zzz", WIDGET.format(target="Counter"))
    fake_distribution("spikekit-aaa", WIDGET.format(target="OrderedDict"))
    with pytest.warns(PluginWarning, match=r"spikekit-zzz.*already provided by.*spikekit-aaa"):
        assert PluginHost().resolve_export("spikekit.layers", "Widget").__name__ == "OrderedDict"


def test_a_dependent_distribution_registers_after_what_it_depends_on(fake_distribution, tmp_path):
    fake_distribution("spikekit-base", WIDGET.format(target="OrderedDict"))
    fake_distribution("aaa-extension", WIDGET.format(target="Counter"))
    metadata = tmp_path / "aaa_extension-1.2.3.dist-info" / "METADATA"
    metadata.write_text(
        metadata.read_text() + "Requires-Dist: spikekit-base>=1\nRequires-Dist: pytest; extra == 'test'\n"
    )
    with pytest.warns(PluginWarning, match=r"aaa-extension.*already provided by.*spikekit-base"):
        assert PluginHost().resolve_export("spikekit.layers", "Widget").__name__ == "OrderedDict"


# ------------------------------------------------------------------------------------- warnings and probes
def test_plugin_warnings_point_at_the_callers_line(fake_distribution):
    fake_distribution("spikekit-broken", "raise RuntimeError('boom')")
    with isolated_host():
        with pytest.warns(PluginWarning) as caught:
            spikekit.layers.Anything if False else dir(spikekit.layers)
    assert all(Path(w.filename).resolve() == Path(__file__).resolve() for w in caught), [w.filename for w in caught]


@pytest.mark.parametrize(
    "name", ["__wrapped__", "_ipython_canary_method_should_not_exist_", "_repr_html_", "__signature__"]
)
def test_dunder_and_private_probes_never_start_discovery(name, monkeypatch):
    from spikekit.plugins import manager

    def fail(*a, **k):
        raise AssertionError("discovery started")

    monkeypatch.setattr(manager.PluginHost, "_ensure_discovered", fail)
    with isolated_host():
        for namespace in (spikekit, spikekit.layers, spikekit.activation, spikekit.nir):
            with pytest.raises(AttributeError):
                getattr(namespace, name)
            assert not hasattr(namespace, name)


# ---------------------------------------------------------------------------------------------- command line
class _Raises:
    @staticmethod
    def add_arguments(parser):
        pass

    @staticmethod
    def run(args):
        raise RuntimeError("the command broke")


def _commands(*specs):
    return _plugin(spikekit_commands=lambda: list(specs))


@pytest.fixture
def cli_host(hello_command):
    with isolated_host(autoload=False) as h:
        h.register(_commands(CommandSpec("hello", hello_command, description="greets")), "good", "dist-good")
        h.register(
            _commands(
                CommandSpec("broken", "no_such_module_for_cli:Command", description="cannot import"),
                CommandSpec("raises", _Raises, description="raises"),
                CommandSpec("info", hello_command, description="clashes with the built-in"),
            ),
            "bad",
            "dist-bad",
        )
        yield h


def test_a_command_that_cannot_import_is_named_and_others_keep_working(cli_host, capsys):
    with pytest.warns(PluginWarning, match=r"dist-bad.*'broken' could not be loaded.*no_such_module_for_cli"):
        assert cli.main(["broken"]) == 1
    assert "distribution 'dist-bad'" in capsys.readouterr().err
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        assert cli.main(["hello", "--who", "you"]) == 0
    assert "hello you" in capsys.readouterr().out


def test_help_lists_every_command_without_importing_them(cli_host, capsys):
    with pytest.warns(PluginWarning, match="built-in"):  # the clash is reported, the import is not attempted
        with pytest.raises(SystemExit) as exit_:
            cli.main(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "broken" in out and "hello" in out and "no_such_module_for_cli" not in out
    assert "no_such_module_for_cli" not in sys.modules


def test_a_command_that_raises_is_reported_with_its_distribution(cli_host, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        assert cli.main(["raises"]) == 1
    assert "dist-bad" in capsys.readouterr().err


def test_a_command_named_like_a_builtin_is_a_clash_and_the_builtin_stays(cli_host, capsys):
    with pytest.warns(PluginWarning, match=r"dist-bad.*clash.*'info' is a built-in"):
        assert cli.main(["info"]) == 0
    assert "spikekit " in capsys.readouterr().out


def test_plugins_command_reports_broken_commands(cli_host, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)
        assert cli.main(["plugins", "--strict"]) == 1
    out = capsys.readouterr().out
    assert "dist-bad" in out and "could not be loaded" in out


def test_strict_mode_raises_for_a_broken_command():
    with isolated_host(autoload=False, strict=True) as h:
        h.register(_commands(CommandSpec("broken", "no_such_module_for_cli:Command")), "bad", "dist-bad")
        with pytest.raises(PluginError, match="dist-bad"):
            cli.main(["broken"])


# --------------------------------------------------------------------------------------------- pytest plugin
def test_no_pytest11_entry_point_is_registered():
    from importlib import metadata

    assert not [ep for ep in metadata.entry_points(group="pytest11") if ep.value.startswith("spikekit")]


def test_the_fixtures_are_opt_in_through_conftest(spikekit_host, register_plugin):
    register_plugin(_plugin(spikekit_exports=lambda: [Export("OptIn", "collections:deque")]), name="opt")
    assert spikekit.layers.OptIn.__name__ == "deque"


def test_import_spikekit_does_not_import_the_compiler_stack():
    import subprocess

    code = (
        "import sys, spikekit; bad = [m for m in ('torch._dynamo', 'torch._inductor') if m in sys.modules]; print(bad)"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )
