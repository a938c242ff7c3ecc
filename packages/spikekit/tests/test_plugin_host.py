"""The plugin host: discovery, validation, clashes, failure policy and switches."""

from __future__ import annotations

import os
import subprocess
import sys
import types

import pytest

import spikekit
import spikekit.compute
from spikekit.errors import PluginError, PluginNotInstalledError, PluginWarning
from spikekit.plugins import BackendSpec, Export, PluginHost, hookimpl
from spikekit.testing import isolated_host, registered_plugin

GOOD = """
from spikekit.plugins import hookimpl, Export
@hookimpl
def spikekit_exports():
    return [Export("Widget", "collections:OrderedDict", namespace="spikekit.layers", description="a widget")]
"""


def _plugin(**hooks):
    mod = types.ModuleType("handmade")
    for name, fn in hooks.items():
        setattr(mod, name, hookimpl(fn))
    return mod


def test_import_spikekit_imports_no_plugin_and_no_gpu_library():
    code = (
        "import sys, spikekit, spikekit.layers, spikekit.activation;"
        "bad = [m for m in sys.modules if m.startswith('spikekit_') or m.split('.')[0] in ('triton', 'samna', 'nir')];"
        "print(bad); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_entry_point_plugin_is_discovered_lazily(fake_distribution):
    module = fake_distribution("spikekit-widgets", GOOD)
    h = PluginHost()
    assert module not in sys.modules  # nothing loaded before the first lookup
    assert h.resolve_export("spikekit.layers", "Widget").__name__ == "OrderedDict"
    info = [p for p in h.plugins() if p.distribution == "spikekit-widgets"]
    assert info and info[0].version == "1.2.3" and "spikekit.layers.Widget" in info[0].provides


def test_plugin_whose_import_raises_is_reported_by_distribution(fake_distribution):
    fake_distribution("spikekit-broken", "raise RuntimeError('boom at import')")
    fake_distribution("spikekit-widgets", GOOD)
    h = PluginHost()
    with pytest.warns(PluginWarning, match=r"spikekit-broken.*boom at import"):
        widget = h.resolve_export("spikekit.layers", "Widget")
    assert widget is not None  # the other plugin keeps working
    assert [f.distribution for f in h.failures] == ["spikekit-broken"]


def test_strict_mode_raises_on_a_broken_plugin(fake_distribution):
    fake_distribution("spikekit-broken", "raise RuntimeError('boom')")
    with pytest.raises(PluginError, match="spikekit-broken"):
        PluginHost(strict=True).exports("spikekit.layers")


def test_plugin_depending_on_a_missing_package_is_skipped(fake_distribution):
    fake_distribution("spikekit-needs-dep", "import a_package_that_is_not_installed_xyz")
    h = PluginHost()
    with pytest.warns(PluginWarning, match="a_package_that_is_not_installed_xyz"):
        h.exports("spikekit.layers")


def test_clashing_name_keeps_the_first_and_names_both(fake_distribution):
    fake_distribution("spikekit-aaa", GOOD)
    fake_distribution("spikekit-bbb", GOOD.replace("collections:OrderedDict", "collections:Counter"))
    h = PluginHost()
    with pytest.warns(PluginWarning, match=r"spikekit-bbb.*already provided by.*spikekit-aaa"):
        assert h.resolve_export("spikekit.layers", "Widget").__name__ == "OrderedDict"


def test_blocked_plugin_is_not_loaded(fake_distribution):
    module = fake_distribution("spikekit-widgets", GOOD)
    h = PluginHost(blocked=["spikekit-widgets"])
    assert "Widget" not in h.exports("spikekit.layers")
    assert module not in sys.modules


def test_block_by_environment_variable(fake_distribution, monkeypatch):
    fake_distribution("spikekit-widgets", GOOD, entry_name="widgets")
    monkeypatch.setenv("SPIKEKIT_BLOCK_PLUGINS", "other, widgets")
    assert "Widget" not in PluginHost().exports("spikekit.layers")


def test_autoload_can_be_disabled(fake_distribution, monkeypatch):
    fake_distribution("spikekit-widgets", GOOD)
    monkeypatch.setenv("SPIKEKIT_DISABLE_PLUGIN_AUTOLOAD", "1")
    h = PluginHost()
    assert h.exports("spikekit.layers") == {}
    h.register(_plugin(spikekit_exports=lambda: [Export("Hand", "collections:deque")]), name="hand")
    assert h.resolve_export("spikekit.layers", "Hand").__name__ == "deque"


def test_hook_that_raises_is_isolated():
    def broken():
        raise ValueError("hook exploded")

    h = PluginHost(autoload=False)
    h.register(_plugin(spikekit_exports=broken), name="broken", distribution="dist-broken")
    h.register(_plugin(spikekit_exports=lambda: [Export("Fine", "collections:deque")]), name="fine")
    with pytest.warns(PluginWarning, match=r"dist-broken.*hook spikekit_exports.*hook exploded"):
        assert h.resolve_export("spikekit.layers", "Fine").__name__ == "deque"


@pytest.mark.parametrize(
    "bad, message",
    [
        (lambda: [BackendSpec("fast", "collections:deque")], "must return Export records"),
        (lambda: [Export("Bad Name", "collections:deque")], "identifier"),
        (lambda: [Export("Thing", "not a path")], "package.module:attribute"),
        (lambda: [Export("Thing", "collections:deque", namespace="spikekit.nowhere")], "unknown namespace"),
        (lambda: Export("Thing", "collections:deque"), "must return a list"),
    ],
)
def test_malformed_records_are_rejected_with_a_reason(bad, message):
    h = PluginHost(autoload=False)
    h.register(_plugin(spikekit_exports=bad), name="bad", distribution="dist-bad")
    with pytest.warns(PluginWarning, match=message):
        assert h.exports("spikekit.layers") == {}


def test_lazy_target_that_fails_to_import_names_the_distribution():
    h = PluginHost(autoload=False)
    h.register(_plugin(spikekit_exports=lambda: [Export("Ghost", "no_such_module_abc:Ghost")]), "ghost", "dist-ghost")
    with pytest.raises(PluginError, match=r"Ghost.*dist-ghost.*no_such_module_abc"):
        h.resolve_export("spikekit.layers", "Ghost")


def test_missing_name_without_plugins_says_that_no_plugin_provides_it():
    # The core keeps no table of plugin names: with no plugin loaded, a missing name says that no installed plugin
    # provides it (an installed plugin that failed or is blocked is named instead, below).
    with isolated_host(autoload=False):
        with pytest.raises(PluginNotInstalledError, match="no installed spikekit plugin provides spikekit.layers.LIF"):
            from spikekit.layers import LIF  # noqa: F401
        with pytest.raises(PluginNotInstalledError, match="spikekit.from_model.*autoload is disabled"):
            spikekit.from_model


def test_failed_first_party_plugin_is_named_in_the_missing_name_error(fake_distribution):
    # A broken build of spikekit-neurons (the real one, entry point "neurons", is blocked for this test).
    fake_distribution("spikekit-neurons", "raise ImportError('compiled part missing')", entry_name="neurons_broken")
    h = PluginHost(blocked=["neurons"])
    with pytest.warns(PluginWarning, match="compiled part missing"):
        with pytest.raises(PluginNotInstalledError, match="spikekit-neurons.*failed at import.*compiled part"):
            h.resolve_export("spikekit.layers", "IAFRecurrent")


def test_registered_plugin_context_adds_and_removes_names():
    plugin = _plugin(
        spikekit_exports=lambda: [Export("Temporary", "collections:deque", namespace="spikekit.activation")]
    )
    with registered_plugin(plugin, name="temp"):
        assert spikekit.activation.Temporary.__name__ == "deque"
        assert "Temporary" in dir(spikekit.activation)
    assert "Temporary" not in dir(spikekit.activation)


def test_register_plugin_fixture(register_plugin):
    register_plugin(_plugin(spikekit_exports=lambda: [Export("Fixture", "collections:deque")]), name="fx")
    assert spikekit.layers.Fixture.__name__ == "deque"


@pytest.mark.skipif(
    "spikekit-neurons" not in os.environ.get("SPIKEKIT_ISOLATION_ABSENT", ""),
    reason="meaningful only when the core is installed alone (nox -s isolation-spikekit)",
)
def test_core_alone_points_users_to_the_plugins():
    with isolated_host() as h:
        assert h.failures == [] and h.exports("spikekit.layers") == {}
        with pytest.raises(PluginNotInstalledError, match="no installed spikekit plugin provides spikekit.layers.LIF"):
            spikekit.layers.LIF
        assert not hasattr(spikekit.layers, "LIF")
        with pytest.raises(ImportError, match="pip install spikekit-neurons"):
            from spikekit.layers import LIF  # noqa: F401
        with pytest.raises(PluginNotInstalledError, match="no backend named 'fused-cpu'"):
            spikekit.compute.get_backend("fused-cpu")
