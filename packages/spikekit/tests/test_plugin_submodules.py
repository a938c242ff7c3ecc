"""Submodules that plugins export into a namespace package (``spikekit.backend.dynapcnn.<name>``)."""

from __future__ import annotations

import importlib
import subprocess
import sys
import types

import pytest

from spikekit.plugins import Export, hookimpl
from spikekit.testing import isolated_host

NS = "spikekit.backend.dynapcnn"


def _plugin(records):
    mod = types.ModuleType("handmade_submodules")
    mod.spikekit_exports = hookimpl(lambda: records)
    return mod


@pytest.fixture
def host_with_modules():
    import importlib.metadata  # noqa: F401  (the exported package below)
    import json.decoder  # noqa: F401

    records = [
        Export("decoder", "json:decoder", "a module", namespace=NS),
        Export("meta", "importlib:metadata", "a package", namespace=NS),
        Export("Thing", "collections:deque", "not a module", namespace=NS),
    ]
    with isolated_host(autoload=False) as host:
        host.register(_plugin(records), name="handmade-submodules")
        yield host
    for name in [m for m in sys.modules if m.startswith(NS + ".")]:
        del sys.modules[name]


def test_a_plugin_module_is_imported_under_the_namespace(host_with_modules):
    import json.decoder

    module = importlib.import_module(f"{NS}.decoder")
    assert module is json.decoder  # the plugin's module itself, not a copy
    assert module.__spec__.name == "json.decoder"  # its own spec is kept
    from spikekit.backend.dynapcnn.decoder import JSONDecoder

    assert JSONDecoder is json.decoder.JSONDecoder
    import spikekit.backend.dynapcnn as ns

    assert ns.decoder is json.decoder


def test_submodules_of_an_exported_package_are_aliased_too(host_with_modules):
    import importlib.metadata._meta as real

    assert importlib.import_module(f"{NS}.meta._meta") is real


def test_names_that_are_not_modules_or_not_exported_are_not_importable(host_with_modules):
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"{NS}.Thing")
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module(f"{NS}.nothing_here")


def test_importing_the_namespace_imports_no_plugin():
    code = (
        "import sys, spikekit.backend.dynapcnn;"
        "bad = [m for m in sys.modules if m.startswith('spikekit_')]; assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
