"""Links from the names objects are defined under to the names the API reference documents them under.

Type hints and docstrings name objects by the module that defines them (``spikekit_neurons.lif.LIF``,
``spikekit.compute.protocol.NeuronParams``); the API reference documents each object once, where users reach it
(``spikekit.layers.LIF``), as ``docs/api/generate.py`` decides. When Sphinx cannot resolve a Python reference, this
extension looks the target up in that mapping and resolves the documented name instead, so such references link
rather than stay plain text.

It also tells ``sphinx.ext.viewcode`` where each documented object's source is: for an object documented in full,
the module that defines it; for an alias (``spikekit.reset_states``, the same function as
``spikekit.utils.reset_states``) and for values, nowhere, so that the source pages link back to the one place
where each object is documented.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.transforms.post_transforms import SphinxPostTransform

GENERATE = Path(__file__).resolve().parents[1] / "api" / "generate.py"
#: A module name that does not exist: viewcode finds no source there and adds no link.
NO_SOURCE = "spikekit_docs_no_source"


def _generator():
    spec = importlib.util.spec_from_file_location("spikekit_docs_api_generate", GENERATE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def documented_names() -> tuple[dict[str, str], dict[str, str]]:
    """``({defining module.qualname: documented full name}, {documented full name: defining module})`` for every
    object the reference documents in full; its aliases and values map to :data:`NO_SOURCE`."""
    generate = _generator()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated sinabs names warn when resolved
        entries = generate.entries()
    by_definition, source_of = {}, {}
    for defined_in, documented in generate.primaries(entries).items():
        dotted = defined_in.replace(":", ".")
        if dotted != documented:
            by_definition[dotted] = documented
        source_of[documented] = defined_in.split(":")[0]
    for e in entries:
        source_of.setdefault(f"{e.namespace}.{e.name}", NO_SOURCE)
    return by_definition, source_of


def _builder_inited(app: Sphinx) -> None:
    names, sources = documented_names()
    app.env.spikekit_api_names = names  # type: ignore[attr-defined]
    app.env.spikekit_api_sources = sources  # type: ignore[attr-defined]


def _viewcode_follow_imported(app: Sphinx, modname: str, fullname: str) -> str | None:
    """The module whose source holds the object documented as ``modname.fullname`` (members: their class's);
    ``None`` (viewcode finds it) for objects that the API reference does not document."""
    sources: dict[str, str] = getattr(app.env, "spikekit_api_sources", {})
    elsewhere: dict[str, str] = getattr(app.env, "spikekit_api_names", {})
    if not modname or not fullname:
        return None
    parts = fullname.split(".")
    for i in range(len(parts), 0, -1):
        name = ".".join([modname, *parts[:i]])
        if name in sources:
            return sources[name]
        if name in elsewhere:  # a second description, under the defining module: the reference has the source link
            return NO_SOURCE
    return None


def _missing_reference(
    app: Sphinx, env: BuildEnvironment, node: nodes.Element, contnode: nodes.Element
) -> nodes.Element | None:
    if node.get("refdomain") != "py":
        return None
    names: dict[str, str] = getattr(env, "spikekit_api_names", {})
    target = node.get("reftarget", "")
    documented = names.get(target)
    if documented is None and "." in target:  # a method or attribute of a class documented under another name
        owner, _, member = target.rpartition(".")
        documented = f"{names[owner]}.{member}" if owner in names else None
    if documented is None:
        return None
    domain = env.get_domain("py")
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], documented, node, contnode)


def _backlink_resolves(env: BuildEnvironment, module: str, name: str) -> bool:
    """Whether viewcode's link from the source of ``module.name`` back to its documentation finds its target:
    viewcode links ``<the module's first documented name>.<name>`` on the page that documented it last, which
    misses when a module's objects are documented under several names."""
    entry = getattr(env, "_viewcode_modules", {}).get(module)
    if not entry:
        return False
    _code, _tags, used, refname = entry
    found = env.get_domain("py").objects.get(f"{refname}.{name}")  # type: ignore[attr-defined]
    return found is not None and found.docname == used.get(name)


class DropSourceLinksWithoutWayBack(SphinxPostTransform):
    """Removes the ``[source]`` links of objects whose source page could not link back (see
    :func:`_backlink_resolves`); runs before viewcode turns them into links."""

    default_priority = 90

    def run(self, **kwargs: object) -> None:
        from sphinx.ext.viewcode import OUTPUT_DIRNAME, viewcode_anchor

        for node in list(self.document.findall(viewcode_anchor)):
            module = node["reftarget"].removeprefix(OUTPUT_DIRNAME + "/").replace("/", ".")
            if getattr(self.env, "_viewcode_modules", {}).get(module) and not _backlink_resolves(
                self.env, module, node["refid"]
            ):
                node.parent.remove(node)


def _tidy_viewcode(app: Sphinx) -> list[tuple[str, dict[str, object], str]]:
    """Before viewcode writes its pages: forget the modules it found no source for (an alias's :data:`NO_SOURCE`,
    ``builtins``), which its index would link to pages it never writes, and the objects whose link back to their
    documentation would miss (their ``[source]`` links are gone too)."""
    modules = getattr(app.env, "_viewcode_modules", None)
    if not modules:
        return []
    for module, entry in list(modules.items()):
        if not entry:
            del modules[module]
            continue
        used = entry[2]
        for name in [n for n in used if not _backlink_resolves(app.env, module, n)]:
            del used[name]
    return []


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("builder-inited", _builder_inited)
    app.connect("missing-reference", _missing_reference)
    app.connect("viewcode-follow-imported", _viewcode_follow_imported)
    app.connect("html-collect-pages", _tidy_viewcode, priority=400)  # before viewcode's (500)
    app.add_post_transform(DropSourceLinksWithoutWayBack)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
