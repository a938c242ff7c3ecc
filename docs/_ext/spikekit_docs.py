"""Small Sphinx extension of the spikekit site: toctrees over folders other engineers fill, and the migration
page's per-area "differences from sinabs" sections.

Both work on the MyST source before parsing (``source-read``), so the result is plain MyST that Sphinx checks as
usual (a missing page or a broken include is still a warning, i.e. an error under ``-W``).

``<!-- spikekit:toctree PATTERN [PATTERN...] [caption=Words_with_underscores] [maxdepth=N] -->``
    becomes a ``{toctree}`` of the documents matching the glob patterns (relative to the page's folder) that exist
    and are not excluded; nothing when none exists yet (a plain glob toctree would warn on an empty folder).

``<!-- spikekit:differences -->``
    becomes, for each area folder with a ``differences.md``, a section that includes it (headings shifted one
    level down), so the text lives once, in the area's folder.
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from sphinx.application import Sphinx

AREAS = {
    "neurons": "Neuron layers, spike and reset functions",
    "surrogates": "Surrogate gradients",
    "convert": "Conversion, Network, statistics, sinabs pickles",
    "backends": "Compute backends",
    "nir": "NIR import and export",
    "speck": "Chip target (Speck)",
    "demo": "The demo",
}

_TOC = re.compile(r"^<!--\s*spikekit:toctree\s+(?P<args>.*?)\s*-->\s*$", re.MULTILINE)
_OTHER = re.compile(r"^<!--\s*spikekit:other-areas\s*-->\s*$", re.MULTILINE)
#: Top-level folders of docs/ that are not areas (they have their own place in the site).
NOT_AREAS = {"_build", "_ext", "_static", "_templates", "api", "getting-started", "tutorials", "auto_tutorials",
             "how-to", "plugins", "gallery"}  # fmt: skip
_DIFF = re.compile(r"^<!--\s*spikekit:differences\s*-->\s*$", re.MULTILINE)


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


def _toctree(app: Sphinx, docname: str, args: str) -> str:
    options = {"maxdepth": "2"}
    patterns = []
    for token in args.split():
        if "=" in token:
            key, value = token.split("=", 1)
            options[key] = value.replace("_", " ")
        else:
            patterns.append(token)
    entries = _docs_matching(app, docname, patterns)
    if not entries:
        return ""
    head = "\n".join(f":{k}: {v}" for k, v in options.items())
    return "```{toctree}\n" + head + "\n\n" + "\n".join(entries) + "\n```\n"


def _other_areas(app: Sphinx, docname: str) -> str:
    """A toctree for every docs/<folder>/ with pages that is neither listed in AREAS nor part of the site itself,
    so that a new area's pages are never left out of the site."""
    src = Path(app.srcdir)
    parts = []
    for folder in sorted(p for p in src.iterdir() if p.is_dir()):
        if folder.name in AREAS or folder.name in NOT_AREAS or folder.name.startswith((".", "_")):
            continue
        title = folder.name.replace("-", " ").replace("_", " ").capitalize()
        parts.append(_toctree(app, docname, f"{folder.name}/*.md caption={title.replace(' ', '_')}"))
    return "\n".join(p for p in parts if p)


def _differences(app: Sphinx) -> str:
    src = Path(app.srcdir)
    parts = []
    for area, title in AREAS.items():
        if (src / area / "differences.md").is_file():
            parts.append(
                f"### {title}\n\n```{{include}} {area}/differences.md\n:heading-offset: 3\n:relative-images:\n```\n"
            )
    if not parts:
        return "_No area has documented a difference yet._\n"
    return "\n".join(parts)


def _source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    text = source[0]
    if "spikekit:" not in text:
        return
    text = _TOC.sub(lambda m: _toctree(app, docname, m.group("args")), text)
    text = _DIFF.sub(lambda m: _differences(app), text)
    text = _OTHER.sub(lambda m: _other_areas(app, docname), text)
    source[0] = text


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("source-read", _source_read)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
