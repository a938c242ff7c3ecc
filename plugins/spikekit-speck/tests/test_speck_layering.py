"""The plugin's layering, read from its source with ``ast``: the engine (``spikekit_speck.*``) never imports the
façade (``spikekit_speck.dynapcnn.*``, sinabs's chip API), the façade uses only the engine's public names, and no
module of the plugin imports itself back through others (no import circle). Every import counts, those inside
functions and under ``TYPE_CHECKING`` included."""

from __future__ import annotations

import ast
import pathlib

import spikekit_speck

ROOT = pathlib.Path(spikekit_speck.__file__).parent
PACKAGE = "spikekit_speck"
FACADE = f"{PACKAGE}.dynapcnn"
# Old import paths kept for users (``from spikekit_speck.network import DynapcnnNetwork``): they name the façade's
# classes and nothing imports them.
ALIASES = {f"{PACKAGE}.network"}


def _modules() -> dict[str, ast.Module]:
    found = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join((PACKAGE, *parts))
        found[name.removesuffix(".__init__")] = ast.parse(path.read_text(encoding="utf-8"))
    return found


MODULES = _modules()


def _imports(tree: ast.Module) -> list[tuple[str, list[str]]]:
    """``(module, names imported from it)`` for every import statement in ``tree`` (absolute imports only)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "the plugin uses absolute imports"
            found.append((node.module or "", [alias.name for alias in node.names]))
    return found


def _graph() -> dict[str, set[str]]:
    """Module -> the plugin modules it imports (``from pkg import submodule`` counts as importing the submodule)."""
    graph = {}
    for name, tree in MODULES.items():
        targets = set()
        for module, names in _imports(tree):
            if module in MODULES:
                targets.add(module)
            targets |= {f"{module}.{n}" for n in names if f"{module}.{n}" in MODULES}
        graph[name] = targets - {name}
    return graph


def _is_facade(name: str) -> bool:
    return name == FACADE or name.startswith(f"{FACADE}.") or name in ALIASES


def test_the_engine_never_imports_the_facade():
    bad = {
        name: sorted(t for t in targets if _is_facade(t))
        for name, targets in _graph().items()
        if not _is_facade(name) and any(_is_facade(t) for t in targets)
    }
    assert bad == {}


def test_the_facade_uses_only_public_engine_names():
    bad = []
    for name, tree in MODULES.items():
        if not _is_facade(name):
            continue
        for module, names in _imports(tree):
            if module.startswith(PACKAGE) and not _is_facade(module):
                bad += [f"{name}: {module}.{n}" for n in names if n.startswith("_")]
                bad += [f"{name}: {module}" for part in module.split(".") if part.startswith("_")]
    assert bad == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in graph:
        if v not in index:
            visit(v)
    return found


def test_no_import_circle():
    assert _cycles(_graph()) == []


def test_the_checks_see_a_circle_and_a_facade_import():
    """The helpers above find what they look for (so that the tests above can fail)."""
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    graph = _graph()
    assert f"{PACKAGE}.graph" in graph[f"{FACADE}.nir_graph_extractor"]  # the façade builds on the engine
    assert len(MODULES) > 30 and all(_is_facade(m) for m in graph[f"{PACKAGE}.network"])
