"""The core's side of sinabs's module paths: the namespaces made from the one table, the paths the core serves
itself, the submodule finder joining the import system only when first needed, and no import circle in the core.

(The 55 paths with every plugin installed: tests/test_sinabs_module_paths.py.)"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import spikekit
from spikekit.plugins.records import NAMESPACES

SRC = Path(spikekit.__file__).parent


@pytest.mark.parametrize("namespace", NAMESPACES)
def test_every_namespace_of_the_table_imports_and_is_an_attribute(namespace):
    module = importlib.import_module(namespace)
    parent, _, name = namespace.rpartition(".")
    if parent:
        assert getattr(sys.modules[parent], name) is module


def test_a_made_namespace_says_what_it_mirrors_and_resolves_through_the_registry():
    import spikekit.nir

    assert spikekit.nir.__spec__.name == "spikekit.nir"
    assert "sinabs.nir" in spikekit.nir.__doc__
    with pytest.raises(AttributeError):
        spikekit.nir._private


def test_the_core_serves_the_paths_of_its_own_classes():
    import spikekit.layers.reshape
    import spikekit.layers.stateful_layer
    from spikekit.state import SqueezeMixin, StatefulLayer
    from spikekit.time import FlattenTime, Repeat, UnflattenTime

    assert spikekit.layers.stateful_layer.StatefulLayer is StatefulLayer
    reshape = spikekit.layers.reshape
    assert (reshape.FlattenTime, reshape.UnflattenTime, reshape.Repeat) == (FlattenTime, UnflattenTime, Repeat)
    assert reshape.SqueezeMixin is SqueezeMixin


def _run(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.strip()


def test_the_finder_joins_the_import_system_only_when_a_submodule_is_imported():
    code = (
        "import sys, spikekit, spikekit.nir, spikekit.backend.dynapcnn; from spikekit._submodules import _FINDER;"
        "print(_FINDER in sys.meta_path, end=' '); import spikekit.layers.stateful_layer;"
        "print(_FINDER in sys.meta_path)"
    )
    assert _run(code) == "False True"


def _core_imports(path: Path, modules: set[str]) -> set[str]:
    """The core modules that ``path`` imports, at module level or inside functions (``from a import b``: ``a.b``
    where that is a module, else ``a``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found |= {
                f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in modules else node.module for a in node.names
            }
        elif isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
    return found & modules


def _parents(module: str) -> set[str]:
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))}


def test_no_import_circle_in_the_core():
    modules = {}
    for path in SRC.rglob("*.py"):
        parts = ("spikekit", *path.relative_to(SRC).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    # a module's parent packages are imported before it in any case: an import of one is not an edge of the graph
    graph = {m: _core_imports(p, set(modules)) - {m, *_parents(m)} for m, p in modules.items()}
    circles = []

    def walk(start: str, node: str, path: list[str]) -> None:
        for dep in graph[node]:
            if dep == start:
                circles.append(path)
            elif dep not in path and dep > start:
                walk(start, dep, [*path, dep])

    for module in graph:
        walk(module, module, [module])
    assert not circles, f"import circles in the core: {circles}"
