"""End to end, in a fresh interpreter: the real first-party plugins plus broken fake distributions.

The plugin host's unit tests (``packages/spikekit/tests/test_plugin_host.py``) cover each fault alone; here the
installed plugins and four broken ones (import raises, hook raises, clashing name, malformed record, missing
dependency) load together: each broken one is warned about by distribution name, spiking layers still train, and
strict mode raises naming a broken distribution.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("spikekit_neurons")

BROKEN = {
    "spikekit-rel-import-raises": "raise RuntimeError('reliability: boom at import')\n",
    "spikekit-rel-missing-dep": "import a_package_that_is_not_installed_rel\n",
    "spikekit-rel-hook-raises": """
        from spikekit.plugins import hookimpl

        @hookimpl
        def spikekit_exports():
            raise ValueError("reliability: hook exploded")
        """,
    "spikekit-rel-clash": """
        from spikekit.plugins import hookimpl
        from spikekit.plugins.records import Export

        @hookimpl
        def spikekit_exports():
            return [Export("LIF", "collections:OrderedDict", namespace="spikekit.layers")]
        """,
    "spikekit-rel-malformed": """
        from spikekit.plugins import hookimpl

        @hookimpl
        def spikekit_exports():
            return ["not a record"]
        """,
}

CHECK = """
import warnings, torch
warnings.simplefilter("always")
with warnings.catch_warnings(record=True) as caught:
    import spikekit.layers as sl
    layer = sl.LIF(tau_mem=5.0, norm_input=False)
x = (torch.rand(2, 6, 3) * 3).requires_grad_(True)
out = layer(x)
out.sum().backward()
assert type(layer).__module__.startswith("spikekit_neurons"), type(layer)
assert x.grad is not None and out.shape == (2, 6, 3)
for w in caught:
    print("WARNING:", w.category.__name__, str(w.message).replace(chr(10), " "))
print("LAYERS-OK")
"""


def _write_dist(root: Path, dist: str, source: str) -> None:
    module = dist.replace("-", "_")
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    info = root / f"{module}-0.0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text(f"[spikekit]\n{module} = {module}\n")


def _run(tmp_path: Path, code: str, **env_extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""), **env_extra}
    if "SPIKEKIT_STRICT_PLUGINS" not in env_extra:
        env.pop("SPIKEKIT_STRICT_PLUGINS", None)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("broken_plugins")
    for dist, source in BROKEN.items():
        _write_dist(root, dist, source)
    return root


def test_broken_plugins_are_named_and_the_first_party_layers_keep_working(broken_site: Path) -> None:
    proc = _run(broken_site, CHECK)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "LAYERS-OK" in proc.stdout
    warned = "\n".join(line for line in proc.stdout.splitlines() if line.startswith("WARNING:"))
    for dist in BROKEN:
        assert dist in warned, f"no warning names {dist}:\n{warned}"
    assert "boom at import" in warned and "a_package_that_is_not_installed_rel" in warned
    assert "hook exploded" in warned


def test_strict_mode_raises_naming_a_broken_distribution(broken_site: Path) -> None:
    proc = _run(broken_site, "import spikekit.layers as sl; sl.LIF", SPIKEKIT_STRICT_PLUGINS="1")
    assert proc.returncode != 0
    assert any(dist in proc.stderr for dist in BROKEN), proc.stderr[-2000:]
    assert "PluginError" in proc.stderr


def test_the_plugins_command_lists_every_failure(broken_site: Path) -> None:
    proc = _run(broken_site, "import sys; from spikekit.__main__ import main; sys.exit(main(['plugins']))")
    text = proc.stdout + proc.stderr
    assert "spikekit-neurons" in text
    for dist in ("spikekit-rel-import-raises", "spikekit-rel-missing-dep", "spikekit-rel-hook-raises"):
        assert dist in text, text[-3000:]
