"""Safe loading against real sinabs 3.1.3 files: every layer, spike function, reset and surrogate of sinabs,
saved by sinabs's own classes in every format, loads under ``weights_only=True`` into spikekit's classes with the
same parameters and states, and computes what sinabs computes.

The files are made here, at test time, by the installed sinabs; the globals they name are exactly what the table
of safe loading (``spikekit_convert.safe_table``) has to hold.
"""

from __future__ import annotations

import io
import pickle
import warnings

import pytest
import torch
from torch import nn

sinabs = pytest.importorskip("sinabs")
import sinabs.activation as sa  # noqa: E402
import sinabs.layers as sl  # noqa: E402

import spikekit.utils as su  # noqa: E402
from spikekit_convert.safe_table import TABLE  # noqa: E402

SPIKES = [sa.SingleSpike, sa.MultiSpike, sa.MaxSpike(3)]
RESETS = [sa.MembraneReset(), sa.MembraneSubtract()]
SURROGATES = [sa.Heaviside(), sa.SingleExponential(), sa.PeriodicExponential(), sa.MultiGaussian(), sa.Gaussian()]

NEURONS = {
    "IAF": lambda **kw: sl.IAF(**kw),
    "IAFSqueeze": lambda **kw: sl.IAFSqueeze(batch_size=2, **kw),
    "IAFRecurrent": lambda **kw: sl.IAFRecurrent(rec_connect=nn.Linear(4, 4), **kw),
    "LIF": lambda **kw: sl.LIF(tau_mem=3.0, tau_syn=2.0, train_alphas=True, **kw),
    "LIFSqueeze": lambda **kw: sl.LIFSqueeze(tau_mem=3.0, batch_size=2, **kw),
    "LIFRecurrent": lambda **kw: sl.LIFRecurrent(tau_mem=3.0, rec_connect=nn.Linear(4, 4), **kw),
    "ALIF": lambda **kw: sl.ALIF(tau_mem=3.0, tau_adapt=4.0, **kw),
    "ALIFRecurrent": lambda **kw: sl.ALIFRecurrent(tau_mem=3.0, tau_adapt=4.0, rec_connect=nn.Linear(4, 4), **kw),
    "ExpLeak": lambda **kw: sl.ExpLeak(tau_mem=3.0, **{k: v for k, v in kw.items() if k == "record_states"}),
    "ExpLeakSqueeze": lambda **kw: sl.ExpLeakSqueeze(tau_mem=3.0, batch_size=2),
}
OTHERS = {
    "SumPool2d": lambda: sl.SumPool2d(2),
    "SpikingMaxPooling2dLayer": lambda: sl.SpikingMaxPooling2dLayer(2),
    "Cropping2dLayer": lambda: sl.Cropping2dLayer(((1, 1), (1, 1))),
    "FlattenTime": lambda: sl.FlattenTime(),
    "UnflattenTime": lambda: sl.UnflattenTime(batch_size=2),
    "Repeat": lambda: sl.Repeat(nn.Linear(2, 2)),
    "ChannelShift": lambda: sl.ChannelShift(1),
    "Merge": lambda: sl.Merge(),
    "NeuromorphicReLU": lambda: sl.NeuromorphicReLU(),
    "QuantizeLayer": lambda: sl.QuantizeLayer(),
    "Img2SpikeLayer": lambda: sl.Img2SpikeLayer((1, 2, 2), 3),
    "Sig2SpikeLayer": lambda: sl.Sig2SpikeLayer(2),
}
FORMATS = ["torch.save", "legacy", "pickle2", "pickle5"]


def _saved(model: object, how: str) -> bytes:
    if how.startswith("pickle"):
        return pickle.dumps(model, protocol=int(how[-1]))
    buf = io.BytesIO()
    torch.save(model, buf, _use_new_zipfile_serialization=how == "torch.save")
    return buf.getvalue()


def _same_state(a: nn.Module, b: nn.Module) -> None:
    sa_, sb = a.state_dict(), b.state_dict()
    assert list(sa_) == list(sb)
    for key in sa_:
        assert torch.equal(sa_[key], sb[key]), key


def _no_sinabs_left(model: nn.Module) -> None:
    for name, module in model.named_modules():
        assert not type(module).__module__.startswith("sinabs"), name
        for value in vars(module).values():
            assert not getattr(value, "__module__", "").startswith("sinabs"), (name, value)


@pytest.mark.parametrize("how", FORMATS)
@pytest.mark.parametrize("neuron", sorted(NEURONS))
def test_every_sinabs_neuron_loads_safely_and_computes_the_same(neuron, how):
    torch.manual_seed(0)
    x = torch.rand(2, 5, 4) * 3
    for spike in SPIKES:
        for reset in RESETS:
            for surrogate in SURROGATES[:2] if spike is not sa.SingleSpike else SURROGATES:
                kwargs = dict(spike_fn=spike, reset_fn=reset, surrogate_grad_fn=surrogate, record_states=True)
                if neuron.startswith("ExpLeak"):
                    kwargs = dict(record_states=True)
                model = nn.Sequential(nn.Linear(4, 4), NEURONS[neuron](**kwargs))
                squeeze = neuron.endswith("Squeeze")
                model(x.flatten(0, 1) if squeeze else x)  # states exist and travel with the file
                loaded = su.load_sinabs_model(io.BytesIO(_saved(model, how)))
                _no_sinabs_left(loaded)
                _same_state(model, loaded)
                x2 = torch.rand(2, 5, 4) * 3
                x2 = x2.flatten(0, 1) if squeeze else x2
                assert torch.allclose(model(x2), loaded(x2)), (neuron, spike, reset, surrogate)
                if neuron.startswith("ExpLeak"):
                    break


@pytest.mark.parametrize("how", FORMATS)
@pytest.mark.parametrize("layer", sorted(OTHERS))
def test_every_other_sinabs_layer_loads_safely(layer, how):
    model = OTHERS[layer]()
    loaded = su.load_sinabs_model(io.BytesIO(_saved(model, how)))
    assert type(loaded).__name__ == layer and type(loaded).__module__.startswith("spikekit")
    _same_state(model, loaded)


def test_a_converted_network_with_its_analyser_loads_safely():
    ann = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8, 2), nn.ReLU())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = sinabs.from_model(ann, input_shape=(1, 6, 6), batch_size=2, synops=True)
    x = torch.rand(4, 1, 6, 6)
    for how in FORMATS:
        loaded = su.load_sinabs_model(io.BytesIO(_saved(net, how)))
        assert type(loaded).__module__.startswith("spikekit")
        assert torch.allclose(net(x), loaded(x)), how


def test_the_table_holds_every_global_sinabs_files_name(monkeypatch):
    """Every (module, name) a sinabs file names is one pair of the table (no pattern stands in for one)."""
    from spikekit_convert import safe_globals

    named: set[tuple[str, str]] = set()
    resolve = safe_globals.resolve

    def recording(module: str, name: str):
        named.add((module, name))
        return resolve(module, name)

    monkeypatch.setattr(safe_globals, "resolve", recording)
    model = nn.Sequential(nn.Linear(4, 4), sl.IAFSqueeze(batch_size=2, spike_fn=sa.MultiSpike))
    model(torch.rand(4, 4))
    for how in FORMATS:
        su.load_sinabs_model(io.BytesIO(_saved(model, how)))
    assert {("sinabs.layers.iaf", "IAFSqueeze"), ("torch._utils", "_rebuild_tensor_v2")} <= named
    assert named <= set(TABLE), sorted(named - set(TABLE))
