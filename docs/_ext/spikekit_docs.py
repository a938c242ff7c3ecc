"""Small Sphinx extension of the spikekit site: the navigation over folders that other engineers fill, and the
migration page's per-area "differences from sinabs" sections.

Everything works on the MyST source before parsing (``source-read``), so the result is plain MyST that Sphinx checks
as usual (a missing page or a broken include is still a warning, i.e. an error under ``-W``).

``<!-- spikekit:toctree PATTERN [PATTERN...] [caption=Words_with_underscores] [maxdepth=N] -->``
    becomes a ``{toctree}`` of the documents matching the glob patterns (relative to the page's folder) that exist
    and are not excluded; nothing when none exists yet (a plain glob toctree would warn on an empty folder).

``<!-- spikekit:areas [only=a,b] [exclude=a,b] [first=doc,doc] [caption=Words] -->``
    becomes one toctree (the documents of ``first``, then) with one entry per area folder (``docs/<area>/``): the area's entry page (``index``, else
    ``guide``, else its first page). The area's other pages are nested under that entry page by a hidden toctree
    appended to it, unless its own toctree already lists them, so that every page has exactly one place in the
    navigation. An area's ``differences.md`` is not a page of its own unless the area's entry page lists it: the
    migration page includes it.

``<!-- spikekit:differences -->``
    becomes, for each area folder with a ``differences.md``, a section that includes it (headings shifted one
    level down), so the text lives once, in the area's folder; where the area lists that file as a page of its
    own, the section links to it instead of repeating it.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from sphinx.application import Sphinx

#: Area folders of docs/ in the order of the navigation, with the title of their "differences" section.
AREAS = {
    "neurons": "Neuron layers, spike and reset functions",
    "surrogates": "Surrogate gradients",
    "convert": "Conversion, Network, statistics, sinabs pickles",
    "backends": "Compute backends",
    "nir": "NIR import and export",
    "speck": "Chip target (Speck)",
    "demo": "The demo",
}
#: Top-level folders of docs/ that are not areas (they have their own place in the site).
NOT_AREAS = {"_build", "_ext", "_static", "_templates", "api", "getting-started", "tutorials", "auto_tutorials",
             "how-to", "plugins", "gallery", "project"}  # fmt: skip

_TOC = re.compile(r"^<!--\s*spikekit:toctree\s+(?P<args>.*?)\s*-->\s*$", re.MULTILINE)
_AREAS = re.compile(r"^<!--\s*spikekit:areas(?P<args>.*?)\s*-->\s*$", re.MULTILINE)
_DIFF = re.compile(r"^<!--\s*spikekit:differences\s*-->\s*$", re.MULTILINE)
_TOCTREE_BLOCK = re.compile(r"^(`{3,}|:{3,})\s*\{toctree\}.*?^\1\s*$", re.MULTILINE | re.DOTALL)
_RST_TOCTREE = re.compile(r"^\.\. toctree::.*?(?=^\S)", re.MULTILINE | re.DOTALL)


def _excluded(app: Sphinx, docname: str) -> bool:
    rel = docname + ".md"
    return any(fnmatch.fnmatch(rel, pat) for pat in app.config.exclude_patterns)


def _docs_matching(app: Sphinx, here: str, patterns: list[str]) -> list[str]:
    src = Path(app.srcdir)
    base = (src / here).parent
    found: list[str] = []
    for pattern in patterns:
        for path in sorted(base.glob(pattern)):
            if path.suffix not in (".md", ".rst") or not path.is_file():
                continue
            docname = path.relative_to(src).with_suffix("").as_posix()
            if path.name.upper().startswith(("GALLERY_HEADER", "README")) or _excluded(app, docname):
                continue
            rel = path.relative_to(base).with_suffix("").as_posix()
            if rel not in found and docname != here:
                found.append(rel)
    # an area's index (or guide) first, the rest in name order
    found.sort(key=lambda r: (Path(r).parent.as_posix(), Path(r).name not in ("index", "guide"), r))
    return found


def _toctree_block(entries: list[str], options: dict[str, str]) -> str:
    head = "\n".join(f":{k}: {v}" if v else f":{k}:" for k, v in options.items())
    return "```{toctree}\n" + head + "\n\n" + "\n".join(entries) + "\n```\n"


def _args(args: str) -> tuple[dict[str, str], list[str]]:
    options: dict[str, str] = {}
    positional = []
    for token in args.split():
        if "=" in token:
            key, value = token.split("=", 1)
            options[key] = value.replace("_", " ")
        else:
            positional.append(token)
    return options, positional


def _toctree(app: Sphinx, docname: str, args: str) -> str:
    options, patterns = _args(args)
    options.setdefault("maxdepth", "2")
    entries = _docs_matching(app, docname, patterns)
    return _toctree_block(entries, options) if entries else ""


# ------------------------------------------------------------------------------------------------- areas
def area_folders(srcdir: Path) -> list[str]:
    """Every area folder of the site (one with pages): the known ones first, then the others by name."""
    others = sorted(
        p.name
        for p in srcdir.iterdir()
        if p.is_dir() and p.name not in AREAS and p.name not in NOT_AREAS and not p.name.startswith((".", "_"))
    )
    return [a for a in [*AREAS, *others] if (srcdir / a).is_dir() and any((srcdir / a).glob("*.md"))]


def _listed_in_toctrees(text: str) -> set[str]:
    """Entries (as written) of the toctrees of a MyST or reST source."""
    listed: set[str] = set()
    for match in [*_TOCTREE_BLOCK.finditer(text), *_RST_TOCTREE.finditer(text)]:
        for line in match.group(0).splitlines()[1:]:
            entry = line.strip()
            if not entry or entry.startswith((":", "`", "..")):
                continue
            entry = re.sub(r"^.*<(.+)>$", r"\1", entry)  # "Title <doc>"
            listed.add(entry.removesuffix(".md").removesuffix(".rst").lstrip("/"))
    return listed


def area_layout(app: Sphinx, area: str) -> tuple[str, list[str]]:
    """``(entry page, pages nested under it by this extension)`` of an area, as docnames relative to the area."""
    folder = Path(app.srcdir) / area
    pages = [
        p.stem
        for p in sorted(folder.glob("*.md"))
        if not p.name.upper().startswith("README") and not _excluded(app, f"{area}/{p.stem}")
    ]
    entry = next((n for n in ("index", "guide") if n in pages), pages[0])
    listed = _listed_in_toctrees((folder / f"{entry}.md").read_text(encoding="utf-8"))
    nested = [p for p in pages if p != entry and p not in listed and p != "differences"]
    if "differences" in pages and "differences" not in listed and differences_is_a_page(app, area):
        nested.append("differences")
    return entry, nested


_LINKS_TO_DIFFERENCES = re.compile(r"\{doc\}`(?:[^`<]*<)?(?:\./)?differences>?`|\]\((?:\./)?differences\.md")


def differences_is_a_page(app: Sphinx, area: str) -> bool:
    """Whether the area's differences.md is a page of its own: its entry page lists it in a toctree, or a page of
    the area links to it."""
    folder = Path(app.srcdir) / area
    if not (folder / "differences.md").is_file():
        return False
    for page in folder.glob("*.md"):
        if page.name == "differences.md":
            continue
        text = page.read_text(encoding="utf-8")
        if "differences" in _listed_in_toctrees(text) or _LINKS_TO_DIFFERENCES.search(text):
            return True
    return False


def _areas(app: Sphinx, args: str) -> str:
    options, _ = _args(args)
    only = set(filter(None, options.pop("only", "").replace(" ", ",").split(",")))
    skip = set(filter(None, options.pop("exclude", "").replace(" ", ",").split(",")))
    options.setdefault("maxdepth", "2")
    chosen = [a for a in area_folders(Path(app.srcdir)) if (not only or a in only) and a not in skip]
    first = list(filter(None, options.pop("first", "").replace(" ", ",").split(",")))
    entries = first + [f"{a}/{area_layout(app, a)[0]}" for a in chosen]
    return _toctree_block(entries, options) if entries else ""


def _nest_area_pages(app: Sphinx, docname: str) -> str:
    """A hidden toctree of the area's pages that nothing else lists, appended to the area's entry page."""
    area, _, name = docname.partition("/")
    if "/" in name or area not in area_folders(Path(app.srcdir)):
        return ""
    entry, nested = area_layout(app, area)
    if name != entry or not nested:
        return ""
    return "\n\n" + _toctree_block(nested, {"hidden": "", "maxdepth": "1"})


def _include_options(folder: Path) -> str:
    """Include the differences themselves: from a "Differences from sinabs" heading on where the page has one
    (what comes before it is migration advice, which the migration page gives once), else after the page title."""
    text = (folder / "differences.md").read_text(encoding="utf-8")
    options = [":heading-offset: 3", ":relative-images:"]
    heading = re.search(r"^#{2,3} Differences from sinabs\s*$", text, re.MULTILINE)
    if heading and heading.start() > 0:
        options.append(f":start-line: {text.count(chr(10), 0, heading.start()) + 1}")
    elif text.startswith("# "):
        options.append(":start-line: 1")
    return "".join(o + "\n" for o in options)


def _differences(app: Sphinx) -> str:
    src = Path(app.srcdir)
    parts = []
    for area in area_folders(src):
        if not (src / area / "differences.md").is_file():
            continue
        title = AREAS.get(area, area.replace("-", " ").capitalize())
        if differences_is_a_page(app, area):
            parts.append(f"### {title}\n\nSee {{doc}}`{area}/differences`.\n")
        else:
            parts.append(f"### {title}\n\n```{{include}} {area}/differences.md\n{_include_options(src / area)}```\n")
    if not parts:
        return "_No area has documented a difference yet._\n"
    return "\n".join(parts)


def _source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    text = source[0]
    if "spikekit:" in text:
        text = _TOC.sub(lambda m: _toctree(app, docname, m.group("args")), text)
        text = _DIFF.sub(lambda m: _differences(app), text)
        text = _AREAS.sub(lambda m: _areas(app, m.group("args")), text)
    source[0] = text + _nest_area_pages(app, docname)


def _exclude_included_differences(app: Sphinx, config: object) -> None:
    """An area's differences.md that the migration page includes is not a page of its own as well."""
    src = Path(app.srcdir)
    for area in area_folders(src):
        if (src / area / "differences.md").is_file() and not differences_is_a_page(app, area):
            app.config.exclude_patterns.append(f"{area}/differences.md")


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("config-inited", _exclude_included_differences)
    app.connect("source-read", _source_read)
    return {"version": "0.2", "parallel_read_safe": True, "parallel_write_safe": True}
