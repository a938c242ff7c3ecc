"""Checks of the built documentation site (``nox -s docs`` runs them after the build).

They read the HTML that Sphinx wrote, so they see what a reader sees: links that lead nowhere, assets fetched from
the network at view time, LaTeX or Markdown that was not rendered, a page placed twice in the navigation, a class
documented without its signature. Without a built site (``docs/_build/html``, or the folder named by
``SPIKEKIT_DOCS_HTML``) every test here is skipped.
"""

from __future__ import annotations

import os
import pickle
import re
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

DOCS = Path(__file__).resolve().parents[2] / "docs"
SITE = Path(os.environ.get("SPIKEKIT_DOCS_HTML", DOCS / "_build" / "html"))

pytestmark = pytest.mark.skipif(
    not (SITE / "index.html").is_file(), reason=f"no built site in {SITE.name}/ (build it with `nox -s docs`)"
)

#: Elements whose text is code or math source, where LaTeX and Markdown characters are expected.
VERBATIM = {"pre", "code", "script", "style", "kbd", "samp", "tt", "textarea", "math"}
VERBATIM_CLASSES = {"math", "highlight", "sig", "sig-object", "literal", "pre", "doctest", "mjx-container"}
#: Attributes that load something when the page is shown (an external one is fetched at view time).
ASSET_ATTRS = {("script", "src"), ("img", "src"), ("link", "href"), ("iframe", "src"), ("source", "src"),
               ("video", "src"), ("audio", "src"), ("embed", "src"), ("object", "data")}  # fmt: skip
LINK_RELS_THAT_LOAD = {"stylesheet", "icon", "preload", "prefetch", "modulepreload", "manifest", "shortcut"}


class Page(HTMLParser):
    """What the checks need from one HTML page: ids, links, assets, and the text outside code and math."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.assets: list[tuple[str, str]] = []
        self.prose: list[str] = []
        self._stack: list[bool] = []  # per open element: is it (inside) code or math?

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for key in ("id", "name") if tag == "a" else ("id",):
            if a.get(key):
                self.ids.add(a[key])
        if tag == "a" and "href" in a:
            self.links.append(a["href"])
        for t, attr in ASSET_ATTRS:
            if tag == t and attr in a:
                rel = set(a.get("rel", "").split())
                if tag == "link" and not rel & LINK_RELS_THAT_LOAD:
                    self.links.append(a[attr])  # e.g. <link rel="next">: a link, not an asset
                else:
                    self.assets.append((tag, a[attr]))
        if tag in {"img", "source"} and a.get("srcset"):
            self.assets += [(tag, part.split()[0]) for part in a["srcset"].split(",") if part.strip()]
        if tag in {"br", "img", "meta", "link", "input", "hr", "source", "wbr", "col", "area", "base", "embed"}:
            return  # void elements never close
        classes = set(a.get("class", "").split())
        inside = bool(self._stack and self._stack[-1])
        self._stack.append(inside or tag in VERBATIM or bool(classes & VERBATIM_CLASSES))

    def handle_endtag(self, tag: str) -> None:
        if self._stack:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if not (self._stack and self._stack[-1]):
            self.prose.append(data)


def _parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if "_sources" not in p.parts)


def parse_site(site: Path) -> dict[Path, Page]:
    return {p.resolve(): _parse(p) for p in pages(site)}


def _is_external(url: str) -> bool:
    return bool(re.match(r"^(https?:)?//", url, re.I))


# ------------------------------------------------------------------------------------------------- the checks
# Each takes the site folder and its parsed pages and returns what is wrong, one line per finding.
def broken_links(site: Path, parsed: dict[Path, Page]) -> list[str]:
    broken = []
    for path, page in parsed.items():
        for href in page.links:
            if not href or _is_external(href) or re.match(r"^[a-z][a-z0-9+.-]*:", href, re.I):
                continue  # mailto:, javascript:, data: and external links are not local
            parts = urlsplit(href)
            target = (path.parent / unquote(parts.path)).resolve() if parts.path else path
            if target.is_dir():
                target = target / "index.html"
            rel = path.relative_to(site.resolve())
            if not target.exists():
                broken.append(f"{rel}: {href} (no such file)")
            elif parts.fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else _parse(target).ids
                if unquote(parts.fragment) not in ids:
                    broken.append(f"{rel}: {href} (no anchor #{parts.fragment})")
    return broken


def external_assets(site: Path, parsed: dict[Path, Page]) -> list[str]:
    root = site.resolve()
    found = [
        f"{p.relative_to(root)}: <{t}> {u}" for p, page in parsed.items() for t, u in page.assets if _is_external(u)
    ]
    for css in root.rglob("*.css"):
        for url in re.findall(r"(?:url\(\s*['\"]?|@import\s+['\"])((?:https?:)?//[^'\")\s]+)", css.read_text("utf-8")):
            found.append(f"{css.relative_to(root)}: {url}")
    return sorted(set(found))


def missing_assets(site: Path, parsed: dict[Path, Page]) -> list[str]:
    missing = []
    for path, page in parsed.items():
        for tag, url in page.assets:
            if _is_external(url) or url.startswith("data:"):
                continue
            target = (path.parent / unquote(urlsplit(url).path)).resolve()
            if not target.is_file():
                missing.append(f"{path.relative_to(site.resolve())}: <{tag}> {url}")
    return missing


RAW_LATEX = re.compile(r"\\(?:frac|mathbb|mathrm|operatorname|begin|end|alpha|beta|tau|theta|sum|cdot|left|right)\b"
                       r"|\$\$|\\\(|\\\[")  # fmt: skip
RAW_MARKDOWN = re.compile(
    r"\*\*[^*\s][^*]*\*\*"  # **bold**
    r"|(?<![\w`])`[^`\s][^`]*`(?!`)"  # `code`
    r"|\]\((?:[^)\s]+)\)"  # [text](link)
    r"|^\s{0,3}#{1,6} \S"  # # heading
    r"|^\s*(?:```|:::)"  # fences
    r"|\{(?:doc|ref|class|func|meth|mod|obj|attr|data|math|eq|term|download)\}`",  # unrendered roles
    re.MULTILINE,
)
NOT_PROSE = {"_modules", "genindex.html", "search.html", "py-modindex.html"}  # highlighted source, indexes


def unrendered(site: Path, parsed: dict[Path, Page]) -> list[str]:
    found = []
    for path, page in parsed.items():
        rel = path.relative_to(site.resolve())
        if rel.parts[0] in NOT_PROSE:
            continue
        text = "".join(page.prose)
        for kind, pattern in (("LaTeX", RAW_LATEX), ("Markdown", RAW_MARKDOWN)):
            for m in pattern.finditer(text):
                line = text[max(0, m.start() - 40) : m.end() + 40].replace("\n", " ")
                found.append(f"{rel}: raw {kind}: ...{line}...")
    return found


def takes_arguments(full_name: str) -> bool:
    """Whether the class of that name is constructed with arguments (Sphinx shows no brackets for a class whose
    constructor takes none); ``True`` when it cannot be imported, so that such a class is reported."""
    import importlib
    import inspect

    parts = full_name.split(".")
    for i in range(len(parts) - 1, 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except (ImportError, AttributeError):
            continue
        try:
            return bool(inspect.signature(obj).parameters)
        except (TypeError, ValueError):
            return True
    return True


_CLASS_DT = re.compile(r'<dl class="py (?:class|exception)">\s*<dt(?=[^>]*\bid="([^"]+)")?[^>]*>(.*?)</dt>', re.S)


def unsigned_classes(site: Path, takes_arguments=takes_arguments) -> list[str]:
    """Classes shown without their constructor's signature (other than those constructed without arguments)."""
    unsigned = []
    for path in pages(site):
        for anchor, dt in _CLASS_DT.findall(path.read_text(encoding="utf-8")):
            if 'class="sig-paren"' not in dt and (not anchor or takes_arguments(anchor)):
                name = re.sub(r"<[^>]+>", "", dt).split("¶")[0].replace("[source]", "").strip()
                unsigned.append(f"{path.relative_to(site)}: {name}")
    return unsigned


def math_without_local_renderer(site: Path) -> list[str]:
    """Pages with math that load no MathJax / KaTeX script, or load it from the network."""
    found = []
    for path in pages(site):
        if 'class="math' not in path.read_text(encoding="utf-8"):
            continue
        renderers = [u for t, u in _parse(path).assets if t == "script" and re.search(r"mathjax|katex", u, re.I)]
        if not renderers or any(_is_external(u) for u in renderers):
            found.append(f"{path.relative_to(site)}: math rendered by {renderers or 'nothing'}")
    return found


# ------------------------------------------------------------------------------------------------- the tests
@pytest.fixture(scope="module")
def site() -> dict[Path, Page]:
    return parse_site(SITE)


def test_local_links_and_anchors_resolve(site):
    broken = broken_links(SITE, site)
    assert not broken, f"{len(broken)} broken local links:\n" + "\n".join(broken[:50])


def test_no_asset_is_fetched_from_the_network(site):
    external = external_assets(SITE, site)
    assert not external, "assets loaded from the network at view time:\n" + "\n".join(external[:50])


def test_local_assets_exist(site):
    missing = missing_assets(SITE, site)
    assert not missing, "assets that are not in the site:\n" + "\n".join(missing[:50])


def test_math_is_rendered_from_the_site_itself():
    assert any('class="math' in p.read_text(encoding="utf-8") for p in pages(SITE)), "no page has math"
    found = math_without_local_renderer(SITE)
    assert not found, "\n".join(found)


def test_no_raw_latex_or_markdown_in_prose(site):
    found = unrendered(SITE, site)
    assert not found, f"{len(found)} unrendered fragments:\n" + "\n".join(found[:50])


def test_every_documented_class_shows_its_signature():
    unsigned = unsigned_classes(SITE)
    assert not unsigned, "classes documented without a signature:\n" + "\n".join(unsigned[:50])


def placement_problems(
    toctree_includes: dict[str, list[str]], docs: set[str], root: str, orphans: set[str]
) -> list[str]:
    """Documents listed by more than one toctree, and documents listed by none (other than the root and those
    marked ``orphan``)."""
    counts = Counter(child for children in toctree_includes.values() for child in set(children))
    found = [
        f"{child}: in the toctrees of {', '.join(sorted(p for p, ch in toctree_includes.items() if child in ch))}"
        for child, n in sorted(counts.items())
        if n > 1
    ]
    found += [f"{doc}: in no toctree" for doc in sorted(docs - set(counts) - {root} - orphans)]
    return found


def test_every_page_has_one_place_in_the_navigation():
    """Every document is listed by exactly one toctree (read from Sphinx's saved environment)."""
    pytest.importorskip("sphinx")
    candidates = [SITE / ".doctrees" / "environment.pickle", SITE.parent / "doctrees" / "environment.pickle"]
    env_file = next((c for c in candidates if c.is_file()), None)
    if env_file is None:
        pytest.skip("no Sphinx environment next to the built site")
    with env_file.open("rb") as fh:
        env = pickle.load(fh)
    marked_orphan = {d for d, meta in env.metadata.items() if "orphan" in meta}
    found = placement_problems(env.toctree_includes, set(env.found_docs), env.config.root_doc, marked_orphan)
    assert not found, "pages without exactly one place in the navigation:\n" + "\n".join(found)
