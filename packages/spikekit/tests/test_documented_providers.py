"""Every public name the API reference documents as coming from a plugin has a provider record from that plugin.

The reference (``docs/api/*.rst``) names, for each public name, the distribution that provides it; the plugins
declare what they provide in their records. This test fails when the two disagree for an installed distribution
(a documented name that no record provides, or one provided by another distribution). Distributions that are not
installed are skipped, so the core alone passes.
"""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest

from spikekit.plugins import PluginHost

API = Path(__file__).resolve().parents[3] / "docs" / "api"
ROW = re.compile(r"^\s+\* - :py:obj:`~(?P<qualified>[\w.]+)`\n\s+- ``(?P<dist>[\w-]+)``", re.M)


def _documented(api: Path = API) -> list[tuple[str, str, str]]:
    """(namespace, name, distribution) of every row whose provider is a plugin (not the core itself)."""
    rows = []
    for page in sorted(api.glob("spikekit*.rst")):
        namespace = page.stem
        for match in ROW.finditer(page.read_text()):
            name = match["qualified"][len(namespace) + 1 :]
            if match["dist"] != "spikekit" and "." not in name:
                rows.append((namespace, name, match["dist"]))
    return rows


def _installed(dist: str) -> bool:
    try:
        metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.skipif(not API.is_dir(), reason="the documentation is not part of this installation")
def test_every_documented_plugin_name_has_a_provider_record():
    rows = _documented()
    assert len(rows) > 50, "the API reference pages could not be read"
    checkable = [r for r in rows if _installed(r[2])]
    if not checkable:
        pytest.skip("none of the documented plugin distributions is installed")
    host = PluginHost()
    problems = []
    for namespace, name, dist in checkable:
        owned = host.exports(namespace).get(name)
        if owned is None:
            problems.append(f"{namespace}.{name}: documented as provided by {dist}, but no plugin record provides it")
        elif owned.distribution != dist:
            problems.append(f"{namespace}.{name}: documented as {dist}, provided by {owned.distribution}")
    assert not problems, "\n".join(problems)


def test_the_check_sees_a_missing_record(tmp_path):
    page = tmp_path / "spikekit.layers.rst"
    page.write_text("   * - :py:obj:`~spikekit.layers.Imaginary`\n     - ``spikekit-neurons``\n")
    rows = _documented(tmp_path)
    assert rows[0] == ("spikekit.layers", "Imaginary", "spikekit-neurons")
    host = PluginHost(autoload=False)
    assert host.exports("spikekit.layers").get("Imaginary") is None
