"""Links from the names objects are defined under to the names the API reference documents them under.

Type hints and docstrings name objects by the module that defines them (``spikekit_neurons.lif.LIF``,
``spikekit.backends.protocol.NeuronParams``); the API reference documents each object once, where users reach it
(``spikekit.layers.LIF``), as ``docs/api/generate.py`` decides. When Sphinx cannot resolve a Python reference, this
extension looks the target up in that mapping and resolves the documented name instead, so such references link
rather than stay plain text.
"""

from __future__ import annotations

import importlib.util
import sys
import warnings
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

GENERATE = Path(__file__).resolve().parents[1] / "api" / "generate.py"


def documented_names() -> dict[str, str]:
    """``{defining module.qualname: documented full name}`` for every public object of the reference."""
    spec = importlib.util.spec_from_file_location("spikekit_docs_api_generate", GENERATE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated sinabs names warn when resolved
        entries = module.entries()
    out = {}
    for defined_in, documented in module.primaries(entries).items():
        dotted = defined_in.replace(":", ".")
        if dotted != documented:
            out[dotted] = documented
    return out


def _builder_inited(app: Sphinx) -> None:
    app.env.spikekit_api_names = documented_names()  # type: ignore[attr-defined]


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


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("builder-inited", _builder_inited)
    app.connect("missing-reference", _missing_reference)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
