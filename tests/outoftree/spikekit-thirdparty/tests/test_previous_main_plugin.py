"""This plugin as it was written against the previous release (``tests/outoftree/previous-main``: it imports
``spikekit.backends`` and the suites from ``spikekit.testing``) still loads and passes its own tests, unchanged,
with DeprecationWarnings naming the replacements.

The old copy is installed for one pytest run in a subprocess, in place of this one: its files and a
``.dist-info`` with its entry point go into a ``site-packages`` folder put first on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

OLD = Path(__file__).resolve().parents[2] / "previous-main" / "spikekit-thirdparty"


def _install_old_copy(site: Path) -> None:
    shutil.copytree(OLD / "src" / "spikekit_thirdparty", site / "spikekit_thirdparty")
    info = site / "spikekit_thirdparty-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: spikekit-thirdparty\nVersion: 0.1.0\n"
        "Requires-Dist: spikekit<0.2,>=0.1\nRequires-Dist: spikekit-neurons<0.2,>=0.1\nRequires-Dist: torch>=2.1\n"
    )
    (info / "entry_points.txt").write_text("[spikekit]\nthirdparty = spikekit_thirdparty.plugin\n")


def test_the_plugin_written_against_the_previous_release_passes_its_tests(tmp_path):
    site = tmp_path / "site-packages"
    _install_old_copy(site)
    shutil.copytree(OLD / "tests", tmp_path / "tests")
    (tmp_path / "pytest.ini").write_text("[pytest]\n")  # its own root: nothing of this repository's settings
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-p", "no:cacheprovider", "-q", "-W", "always::DeprecationWarning"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert "spikekit.backends is deprecated: import spikekit.compute instead" in run.stdout, run.stdout[-3000:]
    assert "spikekit.testing.BackendConformance is deprecated: use spikekit_testing" in run.stdout, run.stdout[-3000:]
