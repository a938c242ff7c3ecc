"""The monorepo's own rules: lockstep versions, compatible core ranges, siblings installed from this checkout."""

from __future__ import annotations

import importlib.metadata as md
import json
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = sorted(p.parent for p in [*ROOT.glob("packages/*/pyproject.toml"), *ROOT.glob("plugins/*/pyproject.toml")])


def _project(pkg: Path) -> dict:
    return tomllib.loads((pkg / "pyproject.toml").read_text())["project"]


CORE_VERSION = Version((ROOT / "VERSION").read_text().strip())


@pytest.mark.parametrize("pkg", PACKAGES, ids=lambda p: p.name)
def test_package_layout(pkg):
    project = _project(pkg)
    assert project["name"] == pkg.name, "directory name must equal the distribution name"
    module = pkg.name.replace("-", "_")
    assert (pkg / "src" / module / "__init__.py").is_file()
    assert (pkg / "src" / module / "py.typed").is_file()
    assert (pkg / "tests").is_dir() and list((pkg / "tests").glob("test_*.py")), f"{pkg.name} has no tests"
    assert (pkg / "README.md").is_file()


@pytest.mark.parametrize("pkg", PACKAGES, ids=lambda p: p.name)
def test_versions_move_in_lockstep(pkg):
    # One version for all: each package reads its version from VERSION, a link to the repository's VERSION file.
    project = _project(pkg)
    assert "version" not in project and "version" in project.get("dynamic", []), f"{pkg.name} types its own version"
    dynamic = tomllib.loads((pkg / "pyproject.toml").read_text())["tool"]["setuptools"]["dynamic"]
    assert dynamic["version"] == {"file": "VERSION"}
    link = pkg / "VERSION"
    assert link.is_symlink() and link.resolve() == (ROOT / "VERSION").resolve(), (
        f"{pkg.name}/VERSION is not the shared file"
    )
    assert md.version(pkg.name) == str(CORE_VERSION)


@pytest.mark.parametrize("pkg", PACKAGES, ids=lambda p: p.name)
def test_license_and_metadata(pkg):
    project = _project(pkg)
    assert project["license"] == "Apache-2.0", "an SPDX license expression, not a legacy table"
    assert project["license-files"] == ["LICENSE"]
    assert (pkg / "LICENSE").resolve() == (ROOT / "LICENSE").resolve()
    assert any(c.startswith("Programming Language :: Python :: 3.") for c in project["classifiers"])


@pytest.mark.parametrize("pkg", [p for p in PACKAGES if p.parent.name == "plugins"], ids=lambda p: p.name)
def test_plugins_require_a_compatible_core_and_declare_an_entry_point(pkg):
    project = _project(pkg)
    reqs = {Requirement(r).name: Requirement(r) for r in project.get("dependencies", [])}
    assert "spikekit" in reqs, f"{pkg.name} must depend on the core"
    assert reqs["spikekit"].specifier.contains(CORE_VERSION), f"{pkg.name}: {reqs['spikekit']} excludes {CORE_VERSION}"
    for sibling, req in reqs.items():
        if sibling.startswith("spikekit"):
            assert req.specifier.contains(CORE_VERSION), f"{pkg.name}: {req} excludes the lockstep version"
    assert "spikekit" in project.get("entry-points", {}), f"{pkg.name} declares no 'spikekit' entry point"
    assert "torch" not in {r.split("=")[0].split(">")[0].strip() for r in project.get("dependencies", []) if "==" in r}


@pytest.mark.parametrize("pkg", PACKAGES, ids=lambda p: p.name)
def test_installed_from_this_checkout_not_a_registry(pkg):
    # dagster's rule: a sibling that came from a registry would test the wrong code.
    try:
        dist = md.distribution(pkg.name)
    except md.PackageNotFoundError:
        pytest.fail(f"{pkg.name} is not installed in this environment")
    direct = dist.read_text("direct_url.json")
    assert direct, f"{pkg.name} was not installed from a local path"
    url = json.loads(direct)["url"]
    assert url.startswith("file://") and str(ROOT) in url, f"{pkg.name} came from {url}"
    assert dist.version == str(CORE_VERSION)
