"""The public names and call signatures of sinabs 3.1.3's chip_factory, io, specksim and dynapcnn_visualizer
modules exist in spikekit-speck's with the same parameter names, kinds and defaults (parity session)."""

import importlib
import inspect

import pytest

oracle = pytest.importorskip("sinabs_dynapcnn_oracle", reason="needs the samna stand-in on PYTHONPATH (nox -s parity)")
pytestmark = pytest.mark.parity
theirs = oracle.theirs

MODULES = ["chip_factory", "io", "specksim", "dynapcnn_visualizer"]
# Names sinabs's modules import for their own use and that are not part of what they offer.
IMPORTED = {"np", "torch", "nn", "sl", "samna", "samnagui", "socket", "warnings", "math", "os", "time", "groupby",
            "Process", "warn", "ConvFilter", "IAFFilter", "SumPoolFilter", "DynapcnnLayer", "DynapcnnNetwork",
            "DynapcnnCompatibleNetwork", "List", "Dict", "Tuple", "Optional", "Union", "Callable"}  # fmt: skip


def public(module):
    return {
        name: value
        for name, value in vars(module).items()
        if not name.startswith("_") and name not in IMPORTED and not inspect.ismodule(value)
    }


def shape(fn):
    sig = inspect.signature(fn)
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


@pytest.mark.parametrize("name", MODULES)
def test_same_public_names_and_signatures(theirs, name):
    ref_module = getattr(theirs, name)
    mine_module = importlib.import_module(f"spikekit_speck.dynapcnn.{name}")
    ref, mine = public(ref_module), public(mine_module)
    missing = sorted(set(ref) - set(mine))
    assert not missing, f"{name}: sinabs names missing: {missing}"
    for attr, value in ref.items():
        if inspect.isfunction(value):
            assert shape(getattr(mine_module, attr)) == shape(value), f"{name}.{attr}"
        elif inspect.isclass(value):
            ours_cls = getattr(mine_module, attr)
            for member, fn in vars(value).items():
                if member.startswith("_") and member != "__init__":
                    continue
                assert hasattr(ours_cls, member), f"{name}.{attr}.{member} missing"
                if inspect.isfunction(fn) or isinstance(fn, (staticmethod, classmethod)):
                    ref_fn = getattr(value, member)
                    assert shape(getattr(ours_cls, member)) == shape(ref_fn), f"{name}.{attr}.{member}"
