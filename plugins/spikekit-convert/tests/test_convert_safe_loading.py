"""Safe loading of pickled models: the allow-list of ``load_sinabs_model(weights_only=True)`` (the default).

Each hostile file here would write a file (``marker``) if any code in it ran; the tests check that it never does.
"""

from __future__ import annotations

import builtins
import io
import os
import pickle

import pytest
import torch
from torch import nn

import spikekit as sk
import spikekit.layers as sl
import spikekit.utils as su
from spikekit_convert import sinabs_pickle
from spikekit_convert.safe_unpickler import UnsafePickleError


class _WritesFile:
    """Unpickling this calls ``builtins.exec`` with code that creates ``path``."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (builtins.exec, (f"open({self.path!r}, 'w').write('pwned')",))


class _RunsCommand:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def _hostile_payloads(marker):
    model = nn.Sequential(nn.Linear(2, 2))
    model.extra = _WritesFile(str(marker))  # an attribute of an ordinary model
    yield "plain pickle, exec", pickle.dumps(model), "builtins.exec"
    yield "plain pickle, os.system", pickle.dumps(_RunsCommand(str(marker))), "system"
    buf = io.BytesIO()
    torch.save(model, buf)
    yield "torch.save archive", buf.getvalue(), r"(__builtin__|builtins)\.exec"
    buf = io.BytesIO()
    torch.save(model, buf, _use_new_zipfile_serialization=False)
    yield "legacy torch.save", buf.getvalue(), r"(__builtin__|builtins)\.exec"


@pytest.mark.parametrize("index", range(4))
@pytest.mark.parametrize("kwargs", [{}, {"weights_only": True}])
def test_code_in_a_pickle_never_runs(tmp_path, index, kwargs):
    marker = tmp_path / "marker"
    what, data, named = list(_hostile_payloads(marker))[index]
    path = tmp_path / "model.pth"
    path.write_bytes(data)
    with pytest.raises(UnsafePickleError, match=named) as info:
        su.load_sinabs_model(path, **kwargs)
    assert str(path) in str(info.value), what
    assert not marker.exists(), f"{what}: code in the pickle ran"


def test_nested_storage_bytes_are_loaded_safely_too(tmp_path):
    """``pickle.dumps(tensor)`` stores the storage as a torch.save archive in bytes; those bytes are not trusted."""
    marker = tmp_path / "marker"
    inner = io.BytesIO()
    torch.save(_WritesFile(str(marker)), inner)

    class Smuggler:
        def __reduce__(self):
            return (torch.storage._load_from_bytes, (inner.getvalue(),))

    with pytest.raises(pickle.UnpicklingError):
        su.load_sinabs_model(io.BytesIO(pickle.dumps(Smuggler())))
    assert not marker.exists()


def test_torch_load_with_the_pickle_module_applies_the_allow_list(tmp_path):
    marker = tmp_path / "marker"
    buf = io.BytesIO()
    torch.save(_WritesFile(str(marker)), buf)
    buf.seek(0)
    with pytest.raises(UnsafePickleError, match=r"(__builtin__|builtins)\.exec"):
        torch.load(buf, pickle_module=su.sinabs_pickle, weights_only=False)
    assert not marker.exists()


def test_a_spikekit_function_outside_the_allow_list_is_refused():
    class CallsNormalize:
        def __reduce__(self):
            return (su.get_new_index, ([0, 1],))

    with pytest.raises(UnsafePickleError, match="get_new_index"):
        sinabs_pickle.loads(pickle.dumps(CallsNormalize()))


def test_weights_only_false_is_the_trusting_load(tmp_path):
    marker = tmp_path / "marker"
    model = nn.Sequential(nn.Linear(2, 2))
    model.extra = _WritesFile(str(marker))
    su.load_sinabs_model(io.BytesIO(pickle.dumps(model)), weights_only=False)
    assert marker.read_text() == "pwned"  # the documented danger of weights_only=False


def _spikekit_models():
    ann = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2), nn.ReLU())
    yield sk.from_model(ann, input_shape=(1, 4, 4), batch_size=2, synops=True)
    yield nn.Sequential(nn.Linear(3, 3), sl.LIF(tau_mem=3.0, tau_syn=2.0, train_alphas=True), sl.ExpLeak(tau_mem=4.0))
    yield nn.Sequential(nn.Linear(3, 3), sl.IAF(spike_threshold=torch.tensor(0.5)), sl.SumPool2d(1))


@pytest.mark.parametrize("how", ["pickle", "torch.save", "legacy"])
@pytest.mark.parametrize("index", range(3))
def test_spikekit_models_load_safely_and_compute_the_same(how, index):
    model = list(_spikekit_models())[index]
    x = torch.rand(4, 1, 4, 4) if index == 0 else torch.rand(2, 5, 3)
    model(x)  # states exist and travel with the model
    if how == "pickle":
        data = pickle.dumps(model)
    else:
        buf = io.BytesIO()
        torch.save(model, buf, _use_new_zipfile_serialization=how == "torch.save")
        data = buf.getvalue()
    loaded = su.load_sinabs_model(io.BytesIO(data))
    assert type(loaded) is type(model)
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), name
    assert torch.equal(model(x), loaded(x))


@pytest.mark.parametrize("cut", [0.0, 0.5, 0.9])
@pytest.mark.parametrize("zipped", [True, False])
def test_truncated_files_name_the_file(tmp_path, cut, zipped):
    model = nn.Sequential(nn.Linear(4, 4), sl.IAF())
    buf = io.BytesIO()
    if zipped:
        torch.save(model, buf)
    else:
        pickle.dump(model, buf)
    data = buf.getvalue()
    path = tmp_path / "broken.pth"
    path.write_bytes(data[: int(len(data) * cut)])
    with pytest.raises(pickle.UnpicklingError) as info:
        su.load_sinabs_model(path)
    assert "broken.pth" in str(info.value)


def test_garbage_file_names_the_file(tmp_path):
    path = tmp_path / "noise.pth"
    path.write_bytes(os.urandom(64) + b"PK")
    with pytest.raises(pickle.UnpicklingError, match="noise.pth"):
        su.load_sinabs_model(path)


_SURROGATES = ["Heaviside", "SingleExponential", "PeriodicExponential", "Gaussian", "MultiGaussian", "ATan", "Erf",
               "FastSigmoid", "PiecewiseLinear", "Rectangular", "Sigmoid", "StraightThrough", "Triangle"]  # fmt: skip
_NEURONS = {
    "IAF": lambda **kw: sl.IAF(**kw),
    "IAFSqueeze": lambda **kw: sl.IAFSqueeze(batch_size=2, **kw),
    "IAFRecurrent": lambda **kw: sl.IAFRecurrent(rec_connect=nn.Linear(3, 3), **kw),
    "LIF": lambda **kw: sl.LIF(tau_mem=3.0, tau_syn=2.0, **kw),
    "LIFSqueeze": lambda **kw: sl.LIFSqueeze(tau_mem=3.0, batch_size=2, **kw),
    "LIFRecurrent": lambda **kw: sl.LIFRecurrent(tau_mem=3.0, rec_connect=nn.Linear(3, 3), **kw),
    "ALIF": lambda **kw: sl.ALIF(tau_mem=3.0, tau_adapt=4.0, **kw),
    "ALIFSqueeze": lambda **kw: sl.ALIFSqueeze(tau_mem=3.0, tau_adapt=4.0, batch_size=2, **kw),
    "ALIFRecurrent": lambda **kw: sl.ALIFRecurrent(tau_mem=3.0, tau_adapt=4.0, rec_connect=nn.Linear(3, 3), **kw),
}


@pytest.mark.parametrize("neuron", sorted(_NEURONS))
def test_every_spikekit_neuron_and_activation_loads_safely(neuron):
    """Every neuron layer with every spike function, reset and surrogate spikekit has, in three formats."""
    import spikekit.activation as act

    squeeze = neuron.endswith("Squeeze")
    for i, surrogate in enumerate(_SURROGATES):
        spike = [act.SingleSpike, act.MultiSpike, act.MaxSpike(2)][i % 3]
        reset = [act.MembraneSubtract(), act.MembraneReset()][i % 2]
        layer = _NEURONS[neuron](spike_fn=spike, reset_fn=reset, surrogate_grad_fn=getattr(act, surrogate)())
        model = nn.Sequential(nn.Linear(3, 3), layer)
        x = torch.rand(2, 4, 3) * 2
        model(x.flatten(0, 1) if squeeze else x)
        for how in ("pickle", "torch.save", "legacy"):
            if how == "pickle":
                data = pickle.dumps(model)
            else:
                buf = io.BytesIO()
                torch.save(model, buf, _use_new_zipfile_serialization=how == "torch.save")
                data = buf.getvalue()
            loaded = su.load_sinabs_model(io.BytesIO(data))
            assert type(loaded[1].surrogate_grad_fn) is type(layer.surrogate_grad_fn), (surrogate, how)
            for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
                assert torch.equal(a, b), (name, surrogate, how)
            y = torch.rand(2, 4, 3) * 2
            y = y.flatten(0, 1) if squeeze else y
            assert torch.equal(model(y), loaded(y)), (surrogate, how)


def test_safe_loading_still_works_after_torch_compile_wrapped_module_setstate():
    """torch.compile replaces nn.Module.__setstate__ by a wrapper of its own, once per process: a model saved before
    or after must still load safely (the wrapper is torch's, not the file's)."""
    import subprocess
    import sys

    code = (
        "import io, torch, spikekit.layers as sl\n"
        "from torch._dynamo.mutation_guard import install_generation_tagging_init\n"
        "from spikekit_convert.sinabs_pickle import load_sinabs_model\n"
        "install_generation_tagging_init()\n"
        "assert torch.nn.Module.__setstate__.__module__ == 'torch._dynamo.mutation_guard'\n"
        "m = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Identity(), sl.LIF(tau_mem=10.0))\n"
        "b = io.BytesIO(); torch.save(m, b); b.seek(0)\n"
        "back = load_sinabs_model(b, weights_only=True)\n"
        "assert torch.equal(back[0].weight, m[0].weight) and type(back[2]) is type(m[2])\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=300)
