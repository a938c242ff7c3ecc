"""Discovering the plugin stays cheap: the hook module imports neither nir nor the converters."""

from __future__ import annotations

import json
import subprocess
import sys


def test_plugin_discovery_imports_no_nir():
    code = (
        "import json, sys, spikekit.plugins as p; names = sorted(p.host().exports('spikekit.nir'));"
        "loaded = [m for m in sys.modules if m.split('.')[0] in ('nir', 'h5py') or m.startswith('spikekit_nir')];"
        "print(json.dumps({'names': names, 'loaded': sorted(loaded)}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    seen = json.loads(out.splitlines()[-1])
    assert {"to_nir", "from_nir", "save", "load", "Convention"} <= set(seen["names"])  # the plugin was discovered
    assert seen["loaded"] == ["spikekit_nir", "spikekit_nir.plugin"]  # and only its hook module was imported


def test_the_converter_api_is_public_in_spikekit_nir():
    import spikekit.nir
    import spikekit_nir.converters_neurons as neurons
    import spikekit_nir.registry as registry

    assert spikekit.nir.ExportContext is registry.ExportContext
    assert spikekit.nir.ImportContext is registry.ImportContext
    assert spikekit.nir.PASSTHROUGH is registry.PASSTHROUGH
    assert spikekit.nir.NIRConventionWarning is neurons.NIRConventionWarning
