"""Fixtures of the interop sessions."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest


@pytest.fixture(scope="session")
def nir_reference() -> ModuleType:
    """The independent NIR stepper of ``nir_reference.py`` (loaded by path: pytest runs with importlib mode)."""
    spec = importlib.util.spec_from_file_location(
        "spikekit_interop_nir_reference", Path(__file__).with_name("nir_reference.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
