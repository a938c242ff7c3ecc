"""sinabs's chip modules as an oracle, loaded for one test module and unloaded after it.

Used by tests/parity/test_dynapcnn_io_*.py: ``oracle = load(request)`` in a module-scoped fixture. The samna
stand-in must be the ``samna`` on the path (the parity session puts this folder there); it is found without being
imported, so that a real samna is never imported. At teardown every module imported meanwhile under ``samna``,
``samnagui`` and ``sinabs.backend.dynapcnn`` is dropped from ``sys.modules``, so that later test modules see the
same interpreter state as without these tests (some check that samna was never imported).
"""

import importlib
import importlib.util
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

MODULES = ("chip_factory", "io", "specksim", "dynapcnn_visualizer", "mapping")
_PREFIXES = ("samna", "samnagui", "sinabs.backend.dynapcnn")


def stand_in_present() -> bool:
    spec = importlib.util.find_spec("samna")
    return spec is not None and spec.origin is not None and Path(spec.origin).parents[1].name == "_samna_stub"


def load() -> SimpleNamespace:
    if not stand_in_present():
        pytest.skip("needs the samna stand-in tests/parity/_samna_stub on PYTHONPATH (nox -s parity)")
    pytest.importorskip("sinabs")
    return SimpleNamespace(**{m: importlib.import_module(f"sinabs.backend.dynapcnn.{m}") for m in MODULES})


def unload(before: set) -> None:
    for name in set(sys.modules) - before:
        if any(name == p or name.startswith(p + ".") for p in _PREFIXES):
            del sys.modules[name]
    backend = sys.modules.get("sinabs.backend")
    if backend is not None and "sinabs.backend.dynapcnn" not in sys.modules:
        backend.__dict__.pop("dynapcnn", None)


@pytest.fixture(scope="module")
def theirs():
    before = set(sys.modules)
    try:
        yield load()
    finally:
        unload(before)
