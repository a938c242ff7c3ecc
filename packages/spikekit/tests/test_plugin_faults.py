"""What a plugin cannot do to the process or to other plugins, and how its failures are reported.

A plugin's ``sys.exit()`` (at import or in a hook) is a failure of that plugin, not the end of the user's process; a
hook result that raises while being iterated is that plugin's failure, not every lookup's; a malformed entry point is
named with its distribution; failures carry the file and line where they happened; ``spikekit plugins --strict``
imports every exported reference.
"""

from __future__ import annotations

import collections.abc
import types

import pytest

import spikekit
import spikekit.compute
from spikekit.cli import main
from spikekit.errors import (
    MissingNameError,
    MissingPluginImportError,
    PluginError,
    PluginNotInstalledError,
    PluginWarning,
)
from spikekit.plugins import BackendSpec, Export, PluginHost, hookimpl
from spikekit.plugins.records import NAMESPACE_DISTRIBUTIONS, NAMESPACES
from spikekit.testing import isolated_host

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


class _ExplodingList(collections.abc.Sequence):
    """A list-like hook result that raises while it is iterated."""

    def __len__(self):
        return 2

    def __getitem__(self, i):
        raise RuntimeError("exploded while iterated")


def test_sys_exit_at_plugin_import_is_a_failure_of_that_plugin(fake_distribution):
    fake_distribution("spikekit-quitter", "import sys\nsys.exit(3)")
    fake_distribution("spikekit-widgets", GOOD)
    h = PluginHost()
    with pytest.warns(PluginWarning, match=r"spikekit-quitter.*SystemExit: 3"):
        assert h.resolve_export("spikekit.layers", "Widget").__name__ == "OrderedDict"
    assert [(f.distribution, f.stage) for f in h.failures] == [("spikekit-quitter", "import")]


def test_sys_exit_in_a_hook_is_a_failure_of_that_plugin():
    def quits():
        raise SystemExit("bye")

    h = PluginHost(autoload=False)
    h.register(_plugin(spikekit_exports=quits), name="quitter", distribution="dist-quitter")
    h.register(_plugin(spikekit_exports=lambda: [Export("Fine", "collections:deque")]), name="fine")
    with pytest.warns(PluginWarning, match=r"dist-quitter.*hook spikekit_exports.*SystemExit: bye"):
        assert h.resolve_export("spikekit.layers", "Fine").__name__ == "deque"


def test_keyboard_interrupt_is_not_swallowed():
    def interrupted():
        raise KeyboardInterrupt

    h = PluginHost(autoload=False)
    h.register(_plugin(spikekit_exports=interrupted), name="ctrl-c")
    with pytest.raises(KeyboardInterrupt):
        h.exports("spikekit.layers")


def test_a_result_that_raises_while_iterated_breaks_no_other_plugin():
    h = PluginHost(autoload=False)
    h.register(_plugin(spikekit_exports=lambda: _ExplodingList()), name="bad", distribution="dist-bad")
    h.register(_plugin(spikekit_exports=lambda: [Export("Fine", "collections:deque")]), name="fine")
    with pytest.warns(PluginWarning, match=r"dist-bad.*exploded while iterated"):
        assert h.resolve_export("spikekit.layers", "Fine").__name__ == "deque"


def test_a_malformed_entry_point_is_named_with_its_distribution(fake_distribution):
    fake_distribution("spikekit-typo", GOOD, value="spikekit_typo:::hooks")
    h = PluginHost()
    with pytest.warns(PluginWarning, match=r"spikekit-typo.*malformed entry-point value 'spikekit_typo:::hooks'"):
        h.exports("spikekit.layers")
    assert "NoneType" not in h.failures[0].message


def test_a_failure_reports_the_file_and_line_where_it_happened(fake_distribution):
    module = fake_distribution("spikekit-broken", "x = 1\nraise RuntimeError('boom at import')\n")
    h = PluginHost()
    with pytest.warns(PluginWarning, match=rf"boom at import \(at .*{module}\.py:2\)"):
        h.exports("spikekit.layers")
    assert h.failures[0].where.endswith(f"{module}.py:2")
    assert "Traceback" in h.failures[0].traceback and "boom at import" in h.failures[0].traceback


def test_a_skipped_name_is_reported_as_that_name_not_the_whole_plugin():
    h = PluginHost(autoload=False)
    h.register(_plugin(spikekit_exports=lambda: [Export("Shared", "collections:deque")]), name="first")
    both = [Export("Shared", "collections:Counter"), Export("Own", "collections:OrderedDict")]
    h.register(_plugin(spikekit_exports=lambda: both), name="second", distribution="dist-second")
    expected = r"name 'Shared' \(export to spikekit.layers\) of plugin 'second' .*skipped \(clash: already provided"
    with pytest.warns(PluginWarning, match=expected + r".*'first'.*\); its other names registered"):
        assert h.resolve_export("spikekit.layers", "Own").__name__ == "OrderedDict"


def test_hasattr_and_getattr_default_work_after_a_plugin_failed(fake_distribution):
    fake_distribution("spikekit-broken", "raise RuntimeError('boom')")
    with isolated_host(blocked=[]):
        with pytest.warns(PluginWarning, match="boom"):
            assert not hasattr(spikekit.layers, "UnknownThing")
        assert getattr(spikekit.layers, "UnknownThing", "default") == "default"
        with pytest.raises(MissingNameError, match="spikekit-broken.*boom") as info:
            spikekit.layers.UnknownThing
        assert isinstance(info.value, (AttributeError, PluginNotInstalledError))
        with pytest.raises(MissingPluginImportError, match="spikekit-broken.*boom"):
            from spikekit.layers import UnknownThing  # noqa: F401


def test_a_missing_name_names_the_distribution_that_fills_its_namespace():
    with isolated_host(autoload=False):
        with pytest.raises(MissingPluginImportError, match="spikekit.layers is filled by the spikekit-neurons"):
            from spikekit.layers import LIF  # noqa: F401
        with pytest.raises(MissingNameError, match="pip install spikekit-nir"):
            spikekit.nir.to_nir
    assert set(NAMESPACE_DISTRIBUTIONS) == set(NAMESPACES)


def test_plugin_not_installed_error_made_directly_is_still_an_import_error():
    assert isinstance(PluginNotInstalledError("x"), ImportError)


def test_a_backend_whose_required_module_is_missing_is_listed_unavailable_with_the_reason():
    spec = BackendSpec("gpu-x", "collections:OrderedDict", "a GPU backend", requires=("no_such_gpu_library_xyz",))
    with isolated_host(autoload=False) as h:
        h.register(_plugin(spikekit_backends=lambda: [spec]), name="gpu", distribution="dist-gpu")
        assert "gpu-x" not in spikekit.compute.available_backends()
        assert spikekit.compute.unavailable_backends() == {"gpu-x": "needs no_such_gpu_library_xyz, not installed"}
        with pytest.raises(MissingPluginImportError, match="gpu-x.*dist-gpu.*no_such_gpu_library_xyz"):
            spikekit.compute.get_backend("gpu-x")
        assert main(["plugins", "--strict"]) == 0  # an unavailable backend is no failure


def test_strict_listing_fails_on_a_dangling_reference(capsys):
    dangling = [Export("Ghost", "collections:NoSuchThing"), Export("Real", "collections:deque")]
    with isolated_host(autoload=False) as h:
        h.register(_plugin(spikekit_exports=lambda: dangling), name="ghosts", distribution="dist-ghosts")
        assert main(["plugins"]) == 0  # listing only: the reference is not imported
        with pytest.warns(PluginWarning, match=r"name 'Ghost'.*dist-ghosts.*skipped \(load: AttributeError"):
            assert main(["plugins", "--strict", "--traceback"]) == 1
    out = capsys.readouterr().out
    assert "Ghost" in out and "NoSuchThing" in out
    assert "Traceback (most recent call last)" in out and "records.py" in out  # where the lookup failed


def test_strict_host_raises_on_sys_exit_in_a_hook():
    h = PluginHost(autoload=False, strict=True)
    h.register(_plugin(spikekit_exports=lambda: (_ for _ in ()).throw(SystemExit(2))), name="q", distribution="dq")
    with pytest.raises(PluginError, match="dq.*SystemExit"):
        h.exports("spikekit.layers")


@pytest.mark.parametrize("flavour, base", [(MissingNameError, AttributeError), (MissingPluginImportError, ImportError)])
def test_both_flavours_show_as_plugin_not_installed_error_and_pickle_as_themselves(flavour, base):
    import pickle
    import traceback

    error = flavour("spikekit.layers.LIF: pip install spikekit-neurons")
    shown = traceback.format_exception_only(type(error), error)[-1]
    assert shown.startswith("spikekit.errors.PluginNotInstalledError: spikekit.layers.LIF")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is flavour and isinstance(again, base) and again.args == error.args
