"""Write the API reference pages (``docs/api/*.rst``) from what spikekit and its installed plugins export.

Run it after a plugin adds, renames or removes a public name::

    python docs/api/generate.py          # rewrite docs/api/*.rst
    python docs/api/generate.py --check  # exit 1 and list the names missing from docs/api/ (what tests do)

Every namespace gets one page. Its names are the core module's own ``__all__`` and every name the plugins export
to it (``spikekit.plugins.host().exports(namespace)``); each is documented where users reach it
(``spikekit.layers.LIF``, resolved through the namespace's module ``__getattr__``), with the distribution that
provides it and the module that defines it.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import sys
import types
import warnings
from dataclasses import dataclass
from pathlib import Path

from spikekit.plugins.records import NAMESPACES as RECORD_NAMESPACES

API_DIR = Path(__file__).resolve().parent

#: Namespace -> one line saying what it holds. The order is that of sinabs's API reference.
NAMESPACES: dict[str, str] = {
    "spikekit": "The top level: a sinabs-compatible entry point plus backends and targets.",
    "spikekit.layers": "Spiking layers: the core's stateful base classes and time helpers, the plugins' neurons.",
    "spikekit.activation": "Activation protocols, spike functions, reset functions and surrogate gradients.",
    "spikekit.from_torch": "Conversion of a PyTorch model to a spiking one (``from_model``).",
    "spikekit.network": "The ``Network`` wrapper of converted models.",
    "spikekit.conversion": "Module replacement helpers.",
    "spikekit.synopcounter": "Synaptic-operation and firing-rate counters.",
    "spikekit.utils": "State helpers (reset, detach, batch size) and conversion utilities.",
    "spikekit.cnnutils": "Shape arithmetic for convolutional networks.",
    "spikekit.hooks": "Forward hooks that record firing rates and synaptic operations.",
    "spikekit.nir": "Import from and export to the Neuromorphic Intermediate Representation (NIR).",
    "spikekit.backend.dynapcnn": "DYNAP-CNN / Speck chip support under sinabs's path (``DynapcnnNetwork``, ``DVSLayer``).",
    "spikekit.validate_memory_speck": "The single-layer Speck memory check under sinabs's path (``ValidateMapping``).",
    "spikekit.compute": "Compute backends: the protocol, the parameters they get, and how to choose one.",
    "spikekit.targets": "Hardware targets: the protocol, ``deploy`` and the deployment it returns.",
    "spikekit.encoders": "Spike encoders registered by plugins.",
    "spikekit.plugins": "The plugin system: hook markers, records, the plugin host and its switches.",
    "spikekit.testing": "Plugin-host helpers for tests (the conformance suites moved to spikekit-testing).",
    "spikekit.errors": "Exceptions and warnings.",
    "spikekit.plot": "Plotting helpers for spike trains and membrane traces.",
}

#: Namespaces whose attributes also resolve through the plugin registry (module ``__getattr__``): the core's list.
REGISTRY_NAMESPACES = RECORD_NAMESPACES

#: Distributions of the monorepo that are examples, not part of spikekit: what they export is not in the reference
#: (the plugin guide shows them as what they are).
NOT_SHIPPED = {"spikekit-example-plugin"}

#: What module-level values mean (a value's own docstring is its type's, e.g. ``str``'s).
DATA_DOCS = {
    "__version__": "The version of the installed ``spikekit`` core distribution (each plugin has its own).",
}


@dataclass(frozen=True)
class Entry:
    namespace: str
    name: str
    kind: str  # "class", "function", "module", "data"
    provider: str  # distribution
    defined_in: str  # "module:attr" or module name


def _kind(obj: object) -> str:
    if isinstance(obj, types.ModuleType):
        return "module"
    if inspect.isclass(obj):
        return "class"
    if inspect.isroutine(obj):
        return "function"
    return "data"


def _defined_in(obj: object, fallback: str) -> str:
    if isinstance(obj, types.ModuleType):
        return obj.__name__
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if module and qualname:
        # a class may show another qualname in tracebacks (PluginNotInstalledError's flavours): name its binding
        name = getattr(obj, "__name__", qualname)
        bound = getattr(sys.modules.get(module), name, None) is obj and "." not in qualname
        return f"{module}:{name if bound else qualname}"
    return fallback


def expected_names() -> dict[str, set[str]]:
    """Every public name of every namespace: the core modules' ``__all__`` and the plugins' exports."""
    from spikekit.plugins import host

    names: dict[str, set[str]] = {}
    for namespace in NAMESPACES:
        module = importlib.import_module(namespace)
        own = set(getattr(module, "__all__", []))
        if namespace == "spikekit":  # the sub-namespaces have their own pages
            own = {n for n in own if not isinstance(getattr(module, n), types.ModuleType)}
        names[namespace] = own
    for namespace in REGISTRY_NAMESPACES:
        shipped = {n for n, owned in host().exports(namespace).items() if owned.distribution not in NOT_SHIPPED}
        names.setdefault(namespace, set()).update(shipped)
    return names


def entries() -> list[Entry]:
    """What each page documents, resolved (importing every plugin module that provides a public name)."""
    from spikekit.plugins import host

    out: list[Entry] = []
    for namespace, names in expected_names().items():
        module = importlib.import_module(namespace)
        exports = host().exports(namespace) if namespace in REGISTRY_NAMESPACES else {}
        for name in sorted(names, key=lambda n: (n.startswith("_"), n.lower(), n)):
            if name in exports and name not in getattr(module, "__all__", []):
                owned = exports[name]
                obj = host().resolve_export(namespace, name)
                provider, target = owned.distribution, str(owned.record.ref)
            else:
                obj = getattr(module, name)
                provider, target = "spikekit", f"{namespace}:{name}"
            out.append(Entry(namespace, name, _kind(obj), provider, _defined_in(obj, target)))
    return out


def primaries(all_entries: list[Entry]) -> dict[str, str]:
    """``{defined_in: full name}``: where each object is documented in full (the first namespace that has it,
    the top level ``spikekit`` last); its other names are documented as aliases pointing there."""
    order = [ns for ns in NAMESPACES if ns != "spikekit"] + ["spikekit"]
    ranked = sorted(all_entries, key=lambda e: (order.index(e.namespace), e.name != e.defined_in.rsplit(":", 1)[-1]))
    out: dict[str, str] = {}
    for e in ranked:
        if e.kind in ("class", "function", "module"):
            out.setdefault(e.defined_in, f"{e.namespace}.{e.name}")
    return out


def _page(namespace: str, items: list[Entry], primary: dict[str, str]) -> str:
    title = f"``{namespace}``"
    lines = [
        ".. This page is written by docs/api/generate.py from the plugin registry; do not edit it by hand.",
        "",
        title,
        "=" * len(title),
        "",
        NAMESPACES[namespace],
        "",
    ]
    if namespace in REGISTRY_NAMESPACES:
        lines += [
            "Names marked with a distribution other than ``spikekit`` come from that plugin and resolve through "
            "the registry on first use; without the plugin, using them raises an error that names the "
            "distribution to install.",
            "",
        ]
    if not items:
        lines += ["No public name is installed in this namespace yet.", ""]
        return "\n".join(lines)
    lines += [".. list-table::", "   :header-rows: 1", "   :widths: 30 20 50", "", "   * - name", "     - provided by",
              "     - defined in"]  # fmt: skip
    for e in items:
        lines += [f"   * - :py:obj:`~{e.namespace}.{e.name}`", f"     - ``{e.provider}``", f"     - ``{e.defined_in}``"]
    lines.append("")
    lines += [f".. py:module:: {namespace}", ""]
    for e in items:
        lines += _entry(e, primary)
    return "\n".join(lines)


def _resolve(e: Entry) -> object:
    return getattr(importlib.import_module(e.namespace), e.name)


def _default(value: object) -> str:
    """A parameter default as it reads in source: the repr when it is short and meaningful, else ``...``."""
    text = repr(value)
    if " at 0x" in text or len(text) > 40 or "\n" in text:
        return getattr(value, "__name__", "...")
    return text


def _signature(obj: object) -> str:
    """``(a, b=1, *, c=None)`` of a class's constructor or a function, without annotations (types are on the
    page that documents the object in full)."""
    try:
        sig = inspect.signature(obj)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "(*args, **kwargs)"
    params = [p.replace(annotation=inspect.Parameter.empty) for p in sig.parameters.values()]
    params = [p.replace(default=_Raw(_default(p.default))) if p.default is not p.empty else p for p in params]
    return str(sig.replace(parameters=params, return_annotation=inspect.Signature.empty))


class _Raw:
    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _explicit_signature(cls: type) -> str:
    """A signature for autodoc where it would show none: ``()`` for a class constructed without arguments,
    ``(*args)`` for an exception (its message); empty (autodoc's own) otherwise."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return "(*args)" if issubclass(cls, BaseException) else ""
    return "" if params else "()"


def _entry(e: Entry, primary: dict[str, str]) -> list[str]:
    """The directive that documents one name: in full where it is primary, else an alias that links there."""
    full = f"{e.namespace}.{e.name}"
    main = primary.get(e.defined_in, full)
    if main != full:
        if e.kind == "module":
            return [f".. py:data:: {e.name}", "", f"   The module :py:mod:`{main}`.", ""]
        directive = {"class": "py:class", "function": "py:function"}[e.kind]
        role = {"class": "class", "function": "func"}[e.kind]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sig = _signature(_resolve(e))
        return [f".. {directive}:: {e.name}{sig}", "", f"   The same object as :py:{role}:`{main}`.", ""]
    if e.kind == "class":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            obj = _resolve(e)
        # records: show every field, unless the docstring describes them (an "Attributes:" section)
        record = dataclasses.is_dataclass(obj) or hasattr(obj, "_fields")
        fields = record and "Attributes:" not in (inspect.getdoc(obj) or "")
        if obj.__qualname__ != e.name:  # autodoc would file it under the qualname it shows in tracebacks
            doc = [f"   {line}".rstrip() for line in (inspect.getdoc(obj) or "").splitlines()]
            shown = f"   Shown as ``{obj.__qualname__}`` in tracebacks."
            return [f".. py:class:: {e.name}{_signature(obj)}", "", *doc, "", shown, ""]
        return [f".. autoclass:: {full}{_explicit_signature(obj)}", *(["   :undoc-members:"] if fields else []), ""]
    if e.kind == "function":
        return [f".. autofunction:: {full}", ""]
    if e.kind == "module":
        return [f".. py:data:: {e.name}", "", f"   The module ``{e.defined_in}`` (provided by ``{e.provider}``).",
                "", f"   .. automodule:: {e.defined_in}", "      :no-members:", "      :no-index:", ""]  # fmt: skip
    value = _resolve(e)
    if e.name in DATA_DOCS or getattr(value, "__doc__", None) == getattr(type(value), "__doc__", None):
        shown = [f"   :value: {value!r}"] if isinstance(value, (str, int, float, bool)) else []
        return [f".. py:data:: {e.name}", f"   :type: {type(value).__name__}", *shown, "",
                f"   {DATA_DOCS.get(e.name, '')}", ""]  # fmt: skip
    return [f".. autodata:: {full}", "   :no-value:", ""]


def render() -> dict[str, str]:
    """``{file name: text}`` of every API page, plus the index."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated sinabs names warn when resolved
        all_entries = entries()
    pages: dict[str, str] = {}
    primary = primaries(all_entries)
    toc = []
    for namespace in NAMESPACES:
        items = [e for e in all_entries if e.namespace == namespace]
        pages[f"{namespace}.rst"] = _page(namespace, items, primary)
        toc.append(f"   {namespace}")
    pages["index.rst"] = "\n".join(
        [
            ".. This page is written by docs/api/generate.py; do not edit it by hand.",
            "",
            "API reference",
            "=============",
            "",
            "Every public name of every spikekit namespace, whichever distribution provides it, generated from the "
            "docstrings. The names a plugin contributes are listed in the namespace where users reach them "
            "(``spikekit.layers.LIF``), with the distribution that provides them.",
            "",
            ".. toctree::",
            "   :maxdepth: 1",
            "",
            *toc,
            "",
        ]
    )
    return pages


def documented_names(api_dir: Path = API_DIR) -> set[str]:
    """Fully qualified names that the committed API pages document (short names under the page's module)."""
    import re

    found: set[str] = set()
    pattern = re.compile(
        r"^\.\. (?:auto(?:class|function|data|module|exception)|py:(?:data|class|function))::\s+([\w.]+)", re.MULTILINE
    )
    for page in api_dir.glob("*.rst"):
        text = page.read_text()
        module = re.search(r"^\.\. py:module:: (\S+)", text, re.MULTILINE)
        for name in pattern.findall(text):
            found.add(name if "." in name or module is None else f"{module.group(1)}.{name}")
    return found


def missing_names() -> list[str]:
    documented = documented_names()
    return sorted(f"{ns}.{n}" for ns, names in expected_names().items() for n in names if f"{ns}.{n}" not in documented)


def main(argv: list[str]) -> int:
    if "--check" in argv:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            missing = missing_names()
        for name in missing:
            print(f"not in docs/api/: {name}")
        return 1 if missing else 0
    for old in API_DIR.glob("*.rst"):
        old.unlink()
    for filename, text in render().items():
        (API_DIR / filename).write_text(text)
    print(f"wrote {len(list(API_DIR.glob('*.rst')))} pages to {API_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
