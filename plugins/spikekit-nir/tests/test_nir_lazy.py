"""Discovering the plugin stays cheap: the hook module imports neither nir nor the converters."""

from __future__ import annotations

import subprocess
import sys


def test_plugin_discovery_imports_no_nir():
    code = (
        "import sys, spikekit.plugins as p; p.host().exports('spikekit.nir');"
        "heavy = [m for m in sys.modules if m.split('.')[0] in ('nir', 'h5py') or m.startswith('spikekit_nir.')"
        " and m != 'spikekit_nir.plugin'];"
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
