"""The core's public API, module by module and name by name, against a snapshot kept beside this file.

Public names are a contract: a name that is renamed or moved keeps working for a release with a DeprecationWarning
naming its replacement, and a removal is deliberate. So any change to the list fails here until the snapshot is
regenerated, which makes it part of the change under review (and a removal something the release notes mention).

Regenerate after a deliberate change (from the repository root)::

    python packages/spikekit/tests/test_api_snapshot.py --write

The list is read from the source files, without importing them: every module of the ``spikekit`` package whose
dotted path has no private part (``_name``), and its ``__all__`` (or, without one, its public top-level names),
plus the namespaces that the core makes at import time from its one table of namespaces
(``spikekit.plugins.records.NAMESPACE_DISTRIBUTIONS``, read from the source too), such as
``spikekit.backend.dynapcnn`` and its parent ``spikekit.backend``. Names that plugins add to the namespaces at run
time are theirs, not the core's, and are not listed.
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from pathlib import Path

SNAPSHOT = Path(__file__).with_name("api_snapshot.txt")


def _package_dir() -> Path:
    spec = importlib.util.find_spec("spikekit")
    assert spec is not None and spec.submodule_search_locations, "spikekit is not installed"
    return Path(next(iter(spec.submodule_search_locations)))


def _module_name(root: Path, path: Path) -> str:
    parts = ["spikekit", *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _public_names(tree: ast.Module) -> list[str]:
    """The module's ``__all__`` if it spells one out, else its public top-level names."""
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets):
            return sorted(ast.literal_eval(node.value))
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [t.id for t in targets if isinstance(t, ast.Name)]
    return sorted(n for n in names if not n.startswith("_"))


def generated_namespaces(root: Path) -> list[str]:
    """The namespaces of the table the core makes its namespace modules from, with their parents."""
    tree = ast.parse((root / "plugins" / "records.py").read_text(encoding="utf-8"))
    table = next(
        node.value
        for node in tree.body
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and node.target.id == "NAMESPACE_DISTRIBUTIONS"
    )
    names: set[str] = set()
    for namespace in ast.literal_eval(table):
        parts = namespace.split(".")
        names.update(".".join(parts[:depth]) for depth in range(1, len(parts) + 1))
    return sorted(names)


def current_api() -> list[str]:
    """One line per public module (``spikekit.compute``) and per public name (``spikekit.compute.use_backend``)."""
    root = _package_dir()
    lines: list[str] = generated_namespaces(root)
    for path in sorted(root.rglob("*.py")):
        module = _module_name(root, path)
        if any(part.startswith("_") for part in module.split(".")):
            continue
        lines.append(module)
        lines += [f"{module}.{name}" for name in _public_names(ast.parse(path.read_text(encoding="utf-8")))]
    return sorted(set(lines))


def test_the_public_api_matches_the_snapshot():
    expected = SNAPSHOT.read_text(encoding="utf-8").split()
    now = current_api()
    removed = sorted(set(expected) - set(now))
    added = sorted(set(now) - set(expected))
    assert not removed and not added, (
        "the core's public API changed.\n"
        f"removed ({len(removed)}; keep each for a release with a DeprecationWarning, then list it in "
        f"docs/project/changelog.md): {removed}\nadded ({len(added)}): {added}\n"
        "if deliberate, regenerate: python packages/spikekit/tests/test_api_snapshot.py --write"
    )


def test_the_snapshot_lists_what_the_contract_promises():
    lines = set(SNAPSHOT.read_text(encoding="utf-8").split())
    promised = ("spikekit.compute.use_backend", "spikekit.backends", "spikekit.plugins.hookimpl", "spikekit.errors")
    for name in (*promised, "spikekit.backend.dynapcnn", "spikekit.nir", "spikekit.from_torch"):
        assert name in lines, name


def test_the_reader_sees_all_and_public_names():
    tree = ast.parse("__all__ = ['b', 'a']\ndef c(): pass\n")
    assert _public_names(tree) == ["a", "b"]
    tree = ast.parse("import os\nX = 1\n_y = 2\nclass K: pass\ndef _f(): pass\n")
    assert _public_names(tree) == ["K", "X"]


if __name__ == "__main__":
    if sys.argv[1:] != ["--write"]:
        sys.exit("usage: python packages/spikekit/tests/test_api_snapshot.py --write")
    SNAPSHOT.write_text("\n".join(current_api()) + "\n", encoding="utf-8")
    print(f"wrote {SNAPSHOT} ({len(current_api())} lines)")
