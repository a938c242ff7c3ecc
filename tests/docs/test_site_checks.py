"""The checks of the built site can fail: each one, run on a small hand-written site with one defect, reports it,
and reports nothing on the same site without the defect. (They run without a built site and without Sphinx.)"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def checks():
    path = Path(__file__).with_name("test_built_site.py")
    spec = importlib.util.spec_from_file_location("spikekit_docs_site_checks", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


GOOD_PAGE = """<html><head><link rel="stylesheet" href="_static/site.css">
<script src="_static/mathjax/tex-chtml.js"></script></head><body>
<h1 id="top">Title</h1><p>Prose with <code>**not markdown**</code> and <span class="math">\\(\\alpha\\)</span>.</p>
<a href="other.html#part">a link</a> <a href="#top">up</a> <a href="https://example.org">elsewhere</a>
<dl class="py class"><dt class="sig sig-object py" id="m.C"><span class="sig-name">C</span>
<span class="sig-paren">(</span><em>x</em><span class="sig-paren">)</span></dt><dd>doc</dd></dl>
</body></html>"""


def _site(tmp_path: Path, page: str) -> Path:
    (tmp_path / "_static" / "mathjax").mkdir(parents=True)
    (tmp_path / "_static" / "site.css").write_text("body { color: black; }")
    (tmp_path / "_static" / "mathjax" / "tex-chtml.js").write_text("")
    (tmp_path / "other.html").write_text('<html><body><h2 id="part">Part</h2></body></html>')
    (tmp_path / "index.html").write_text(page)
    return tmp_path


def _all(checks, site: Path) -> list[str]:
    parsed = checks.parse_site(site)
    return [
        *checks.broken_links(site, parsed),
        *checks.external_assets(site, parsed),
        *checks.missing_assets(site, parsed),
        *checks.unrendered(site, parsed),
        *checks.unsigned_classes(site),
        *checks.math_without_local_renderer(site),
    ]


def test_a_good_site_passes(checks, tmp_path):
    assert _all(checks, _site(tmp_path, GOOD_PAGE)) == []


@pytest.mark.parametrize(
    ("defect", "old", "new"),
    [
        ("no such file", 'href="other.html#part"', 'href="missing.html"'),
        ("no anchor", 'href="other.html#part"', 'href="other.html#nowhere"'),
        ("<script> https://cdn", 'src="_static/mathjax/tex-chtml.js"', 'src="https://cdn.example/mathjax.js"'),
        ("<link> //fonts", 'href="_static/site.css"', 'href="//fonts.example/css"'),
        ("<link> _static/gone.css", 'href="_static/site.css"', 'href="_static/gone.css"'),
        ("raw LaTeX", "<p>Prose", "<p>Where \\frac{a}{b} stays"),
        ("raw Markdown", "<p>Prose", "<p>Some **bold** prose"),
        ("raw Markdown", "<p>Prose", "<p>See {doc}`install` prose"),
        ("raw Markdown", "<p>Prose", "<p>A [link](install.md) prose"),
        ("index.html: C", '<span class="sig-paren">(</span><em>x</em><span class="sig-paren">)</span>', ""),
        ("math rendered by nothing", '<script src="_static/mathjax/tex-chtml.js"></script>', ""),
    ],
)
def test_each_defect_is_reported(checks, tmp_path, defect, old, new):
    assert old in GOOD_PAGE
    found = _all(checks, _site(tmp_path, GOOD_PAGE.replace(old, new)))
    assert any(defect in line for line in found), found


def test_css_that_fetches_a_font_is_reported(checks, tmp_path):
    site = _site(tmp_path, GOOD_PAGE)
    (site / "_static" / "site.css").write_text("@font-face { src: url('https://fonts.example/x.woff2'); }")
    assert any("fonts.example" in line for line in checks.external_assets(site, checks.parse_site(site)))


def test_placement_problems(checks):
    toctrees = {"index": ["a", "b"], "a": ["c"], "b": ["c"]}
    found = checks.placement_problems(toctrees, {"index", "a", "b", "c", "d", "e"}, "index", {"e"})
    assert found == ["c: in the toctrees of a, b", "d: in no toctree"]
    assert checks.placement_problems({"index": ["a"]}, {"index", "a"}, "index", set()) == []


def test_a_class_constructed_without_arguments_needs_no_brackets(checks, tmp_path):
    """Sphinx shows no brackets for a class whose constructor takes no argument; only such a class may lack them."""
    bare = GOOD_PAGE.replace('<span class="sig-paren">(</span><em>x</em><span class="sig-paren">)</span>', "")
    site = _site(tmp_path, bare.replace('id="m.C"', 'id="builtins.object"'))
    assert checks.unsigned_classes(site) == []
    (site / "index.html").write_text(bare.replace('id="m.C"', 'id="fractions.Fraction"'))  # takes arguments
    assert checks.unsigned_classes(site) == ["index.html: C"]
