"""Mapping of sinabs module paths in pickles to spikekit objects (without sinabs: a stand-in module named
``sinabs.hooks`` produces the pickle; real sinabs pickles are tested in tests/parity)."""

from __future__ import annotations

import dataclasses
import io
import pickle
import sys
import types

import pytest
import torch
from torch import nn

import spikekit.hooks as hooks
import spikekit.utils as su
from spikekit_convert import sinabs_pickle


@pytest.fixture
def fake_sinabs(monkeypatch):
    """Modules ``sinabs`` and ``sinabs.hooks`` with a ModelSynopsHook look-alike, removed after the test."""
    pkg = types.ModuleType("sinabs")
    mod = types.ModuleType("sinabs.hooks")

    @dataclasses.dataclass
    class ModelSynopsHook:
        dt: float | None = None

    def linear_layer_synops_hook(module, inp, out):
        raise AssertionError("the stand-in must never run")

    ModelSynopsHook.__module__ = linear_layer_synops_hook.__module__ = "sinabs.hooks"
    ModelSynopsHook.__qualname__ = "ModelSynopsHook"
    linear_layer_synops_hook.__qualname__ = "linear_layer_synops_hook"
    mod.ModelSynopsHook, mod.linear_layer_synops_hook = ModelSynopsHook, linear_layer_synops_hook
    pkg.hooks = mod
    monkeypatch.setitem(sys.modules, "sinabs", pkg)
    monkeypatch.setitem(sys.modules, "sinabs.hooks", mod)
    return mod


def make_model(fake):
    model = nn.Sequential(nn.Linear(2, 3))
    model[0].register_forward_hook(fake.linear_layer_synops_hook)
    model.register_forward_hook(fake.ModelSynopsHook(dt=0.5))
    return model


def test_hooked_model_pickled_by_sinabs_runs_with_spikekit_hooks(fake_sinabs, monkeypatch, tmp_path):
    model = make_model(fake_sinabs)
    path = tmp_path / "model.pth"
    torch.save(model, path)
    data = pickle.dumps(model)
    monkeypatch.delitem(sys.modules, "sinabs")
    monkeypatch.delitem(sys.modules, "sinabs.hooks")

    for loaded in (su.load_sinabs_model(path), su.load_sinabs_model(io.BytesIO(data)), sinabs_pickle.loads(data)):
        (hook,) = loaded._forward_hooks.values()
        assert type(hook) is hooks.ModelSynopsHook and hook.dt == 0.5
        (layer_hook,) = loaded[0]._forward_hooks.values()
        assert layer_hook is hooks.linear_layer_synops_hook
        loaded(torch.ones(4, 2))
        assert loaded.hook_data["total_synops_per_timestep"].item() == pytest.approx(6.0)
        assert loaded.hook_data["total_synops_per_second"].item() == pytest.approx(12.0)


def test_torch_load_with_pickle_module(fake_sinabs, monkeypatch, tmp_path):
    path = tmp_path / "m.pth"
    torch.save(make_model(fake_sinabs), path)
    monkeypatch.delitem(sys.modules, "sinabs")
    monkeypatch.delitem(sys.modules, "sinabs.hooks")
    loaded = torch.load(path, pickle_module=su.sinabs_pickle, weights_only=False)
    assert type(next(iter(loaded._forward_hooks.values()))) is hooks.ModelSynopsHook


def test_unknown_sinabs_name_is_a_clear_error():
    with pytest.raises(pickle.UnpicklingError, match=r"sinabs\.hooks\.no_such_thing, which spikekit does not provide"):
        sinabs_pickle.map_sinabs_global("sinabs.hooks", "no_such_thing")


def test_non_sinabs_globals_pass_through():
    data = pickle.dumps(nn.Linear(2, 2))
    assert isinstance(sinabs_pickle.loads(data), nn.Linear)
