"""Sphinx configuration of the spikekit documentation site (`nox -s docs`, warnings are errors).

The site is executed, not just rendered: the gallery (``docs/gallery/<area>/plot_*.py``, one section per area)
and the tutorials (``docs/tutorials/plot_*.py``) are sphinx-gallery scripts run at build time, so their plots and
printed outputs are those of the code as it is. The API reference (``docs/api/*.rst``) is written by
``docs/api/generate.py`` from the plugin registry and checked by ``tests/test_docs.py``.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS / "_ext"))

# Headless plotting for the executed scripts; fewer threads so that the build behaves on shared machines.
os.environ.setdefault("MPLBACKEND", "Agg")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import spikekit  # noqa: E402

project = "spikekit"
author = "the spikekit authors"
copyright = "spikekit authors"
release = spikekit.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static/mathjax: math renders without network access
    "sphinx.ext.viewcode",
    "sphinx_gallery.gen_gallery",
    "spikekit_docs",  # docs/_ext: the navigation over area folders, the migration page's "differences" sections
    "spikekit_api_links",  # docs/_ext: type hints and references by defining module link to the documented name
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
language = "en"

# ------------------------------------------------------------------------------------------------- gallery
# Each area's folder docs/gallery/<area>/ (written by that area's engineers) becomes one section of the gallery;
# a folder counts once it holds a GALLERY_HEADER.rst (or README.rst). Output goes to docs/gallery/auto/<area>/.
GALLERY_AREAS = sorted(
    p.name
    for p in (DOCS / "gallery").iterdir()
    if p.is_dir()
    and p.name != "auto"
    and any((p / h).exists() for h in ("GALLERY_HEADER.rst", "README.rst", "README.txt"))
)
examples_dirs = [f"gallery/{area}" for area in GALLERY_AREAS] + ["tutorials"]
gallery_dirs = [f"gallery/auto/{area}" for area in GALLERY_AREAS] + ["auto_tutorials"]

sphinx_gallery_conf = {
    "examples_dirs": examples_dirs,
    "gallery_dirs": gallery_dirs,
    "filename_pattern": r"/plot_",  # run every plot_*.py script (not only those with images)
    "ignore_pattern": r"(__init__|conftest|_util)\.py",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": False,  # every failing script is reported (as a warning: an error under -W)
    "only_warn_on_example_error": True,
    "show_memory": False,
    "plot_gallery": "True",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib",),
    "capture_repr": ("_repr_html_", "__repr__"),
    "default_thumb_file": None,
    "write_computation_times": False,
    "copyfile_regex": "",
}

# ------------------------------------------------------------------------------------------------- sources
exclude_patterns = [
    "_build",
    "Thumbs.db",
    ".DS_Store",
    "**/GALLERY_HEADER.rst",  # gallery headers are read by sphinx-gallery, not pages of their own
    "gallery/*/README.rst",
    "gallery/README.md",
    "tutorials/README.rst",
    "api/README.md",
    "**/.ipynb_checkpoints",
]

myst_enable_extensions = ["colon_fence", "dollarmath", "amsmath", "deflist", "fieldlist", "substitution"]
myst_heading_anchors = 3
myst_dmath_double_inline = True

# ------------------------------------------------------------------------------------------------- autodoc
autodoc_default_options = {"members": True, "show-inheritance": True, "member-order": "bysource"}
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_member_order = "bysource"
autodoc_class_signature = "mixed"  # "class LIF(tau_mem, ...)": the constructor's signature on the class
autodoc_preserve_defaults = True
# Long signatures list one parameter per line instead of running past the column.
python_maximum_signature_line_length = 100
# Methods without a docstring of their own are not documented with their base class's (torch's autograd
# ``Function.forward`` docstring refers to labels of torch's own documentation).
autodoc_inherit_docstrings = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False
napoleon_attr_annotations = True

# Type hints and cross-references into other projects: never fetched at build time (builds work offline), so
# unresolved references to torch / numpy types stay plain text instead of becoming warnings.
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}
nitpicky = False
# Every object is documented once, under the name users reach it by (docs/api/generate.py); its other names are
# aliases that point there, so no reference is ambiguous and no reference warning is suppressed.
suppress_warnings: list[str] = []

# ------------------------------------------------------------------------------------------------- HTML
html_theme = "furo"
html_title = f"spikekit {release}"
html_static_path = ["_static"]
html_css_files = ["spikekit.css"]  # wide tables, long code lines and display math scroll inside the column
html_theme_options = {"navigation_with_keys": True}
# MathJax and everything else come from the site itself: no script, font or style sheet is fetched at view time.
# textmacros: ``\text{norm\_input}`` in docstrings' equations shows an underscore, not a backslash.
mathjax3_config = {
    "loader": {"load": ["[tex]/textmacros"]},
    "tex": {"packages": {"[+]": ["textmacros"]}},
    "options": {"enableMenu": False},
}
pygments_style = "sphinx"
pygments_dark_style = "monokai"

# Warnings the executed scripts raise on purpose (deprecated sinabs APIs kept for compatibility) are part of
# what they show; Python-level warnings never fail the build, only Sphinx's own do.
warnings.filterwarnings("ignore", category=DeprecationWarning, module="spikekit_convert")
