"""The documentation site stays complete and true.

* every hook of ``spikekit.plugins.hookspecs`` is documented on the hooks page;
* every public name of every namespace (the core modules' ``__all__`` and every name an installed plugin exports)
  is documented in the API reference (``docs/api/*.rst``; regenerate with ``python docs/api/generate.py``);
* the gallery has a section for every area folder with scripts, and every tutorial listed in the issue exists;
* the Python examples of the hand-written pages run (the tutorials and gallery run in ``nox -s docs``).
"""

from __future__ import annotations

import importlib.util
import re
import sys
import types
import warnings
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _generator():
    spec = importlib.util.spec_from_file_location("spikekit_docs_api_generate", DOCS / "api" / "generate.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _sources() -> str:
    return "\n".join(
        p.read_text() for p in DOCS.rglob("*") if p.suffix in (".md", ".rst", ".py") and "_build" not in p.parts
    )


def test_every_hook_is_documented():
    from spikekit.plugins.hookspecs import HOOK_RECORDS

    hooks_page = (DOCS / "plugins" / "hooks.md").read_text()
    members = re.search(r"automodule:: spikekit\.plugins\.hookspecs\s*\n\s*:members:([^\n]*)", hooks_page)
    assert members, "docs/plugins/hooks.md must document spikekit.plugins.hookspecs with an explicit :members: list"
    listed = {m.strip() for m in members.group(1).split(",")}
    missing = sorted(set(HOOK_RECORDS) - listed)
    assert not missing, f"hooks missing from docs/plugins/hooks.md: {missing}"
    for record_type in HOOK_RECORDS.values():
        assert record_type.__name__ in hooks_page, f"record {record_type.__name__} is not documented on the hooks page"


def test_every_public_name_is_in_the_api_reference():
    generate = _generator()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = generate.expected_names()
        missing = generate.missing_names()
    assert sum(len(v) for v in expected.values()) > 50, "the plugin registry looks empty: are the plugins installed?"
    assert not missing, f"public names missing from docs/api/ (run `python docs/api/generate.py` and commit): {missing}"


def test_the_check_sees_a_missing_name(tmp_path):
    """The completeness check itself can fail: an API folder without one page reports that page's names."""
    generate = _generator()
    for page in (DOCS / "api").glob("*.rst"):
        if page.name != "spikekit.layers.rst":
            (tmp_path / page.name).write_text(page.read_text())
    documented = generate.documented_names(tmp_path)
    assert "spikekit.layers.StatefulLayer" not in documented
    assert "spikekit.utils.reset_states" in documented


def test_api_reference_covers_every_namespace_of_the_issue():
    generate = _generator()
    required = {
        "spikekit", "spikekit.layers", "spikekit.activation", "spikekit.utils", "spikekit.from_torch",
        "spikekit.network", "spikekit.conversion", "spikekit.synopcounter", "spikekit.hooks", "spikekit.nir",
        "spikekit.cnnutils", "spikekit.compute", "spikekit.targets", "spikekit.encoders", "spikekit.plugins",
        "spikekit.testing",
    }  # fmt: skip
    assert required <= set(generate.NAMESPACES)
    for namespace in required:
        assert (DOCS / "api" / f"{namespace}.rst").is_file(), f"docs/api/{namespace}.rst is missing"


def test_tutorials_of_the_issue_exist():
    names = {p.stem for p in (DOCS / "tutorials").glob("plot_*.py")}
    for topic in ("bptt", "convert", "scaling", "synops", "activations", "backends", "deploy", "nir"):
        assert any(topic in n for n in names), f"no tutorial script about {topic!r} in docs/tutorials/"


def test_every_gallery_area_with_scripts_has_a_header():
    for area in (DOCS / "gallery").iterdir():
        if area.is_dir() and area.name != "auto" and list(area.glob("plot_*.py")):
            assert (area / "GALLERY_HEADER.rst").is_file() or (area / "README.rst").is_file(), (
                f"docs/gallery/{area.name}/ has scripts but no GALLERY_HEADER.rst: it would not be built"
            )


def test_migration_page_assembles_every_areas_differences():
    migration = (DOCS / "migration.md").read_text()
    assert "<!-- spikekit:differences -->" in migration
    sys_path_ext = DOCS / "_ext" / "spikekit_docs.py"
    text = sys_path_ext.read_text()
    for area_page in DOCS.glob("*/differences.md"):
        assert f'"{area_page.parent.name}"' in text, f"{area_page} is not assembled into docs/migration.md"


PAGES_WITH_CODE = [
    "getting-started/fundamentals.md",
    "getting-started/quickstart.md",
    "plugins/guide.md",
    "plugins/writing-a-plugin.md",
    "plugins/conformance.md",
    "how-to/recipes.md",
]


@pytest.mark.parametrize("page", PAGES_WITH_CODE)
def test_page_examples_run(page, capsys):
    """Every ```python block of the page, run in order in one namespace (blocks that are file listings use
    ``{code-block}`` and are not run)."""
    text = (DOCS / page).read_text()
    blocks = re.findall(r"^```python\n(.*?)^```", text, re.S | re.M)
    assert blocks, f"{page} has no python example"
    module = types.ModuleType("spikekit_docs_example")
    sys.modules[module.__name__] = module  # the examples define dataclasses, which look their module up
    namespace = module.__dict__
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            for block in blocks:
                exec(compile(block, f"docs/{page}", "exec"), namespace)
        finally:
            import spikekit.plugins

            spikekit.plugins.configure()  # the guide reconfigures the host; leave a default one
            sys.modules.pop(module.__name__, None)
