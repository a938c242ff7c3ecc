"""End to end on real data (scikit-learn's digits): train a small CNN as an ANN, convert it with
``spikekit.from_model``, normalise its weights with ``spikekit.utils.normalize_weights``, and check that the spiking
network, run for 20 time steps, is within 2 accuracy points of the ANN.

Needs spikekit, spikekit-neurons, spikekit-surrogates, spikekit-convert and scikit-learn. About 5-10 s on one
core (measured: ANN 97.7 %, SNN 97.2 % at T = 20 on the 397 held-out digits).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

datasets = pytest.importorskip("sklearn.datasets")

import spikekit as sk  # noqa: E402

NUM_TIMESTEPS = 20


@pytest.fixture
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: threads only add contention on a shared machine
    yield
    torch.set_num_threads(before)


def digits():
    x, y = datasets.load_digits(return_X_y=True)
    x = torch.tensor(x, dtype=torch.float32).reshape(-1, 1, 8, 8) / 16.0  # pixel values 0..16 -> 0..1
    y = torch.tensor(y)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    return x[perm[:1400]], y[perm[:1400]], x[perm[1400:]], y[perm[1400:]]


def train_ann(x, y):
    torch.manual_seed(0)
    ann = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(128, 64),
        nn.ReLU(),
        nn.Linear(64, 10),
    )
    opt = torch.optim.Adam(ann.parameters(), lr=1e-2)
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), 100):
            idx = order[i : i + 100]
            loss = nn.functional.cross_entropy(ann(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return ann.eval()


def accuracy(logits, y):
    return (logits.argmax(1) == y).float().mean().item()


@pytest.mark.slow
def test_digits_ann_to_snn_within_two_points(one_thread):
    x_train, y_train, x_test, y_test = digits()
    ann = train_ann(x_train, y_train)
    with torch.no_grad():
        ann_acc = accuracy(ann(x_test), y_test)
    assert ann_acc > 0.95, f"the ANN itself did not learn the digits ({ann_acc:.3f})"

    sk.utils.normalize_weights(ann, x_train[:500], output_layers=["1", "5"], param_layers=["0", "4"], percentile=99.9)
    batch = len(x_test)
    net = sk.from_model(ann, input_shape=(1, 8, 8), batch_size=batch)
    assert isinstance(net.spiking_model[1], sk.layers.IAFSqueeze)

    # constant input current for T steps, (B, T, 1, 8, 8) -> (B*T, 1, 8, 8); read out the summed last layer
    frames = x_test.unsqueeze(1).expand(batch, NUM_TIMESTEPS, 1, 8, 8).reshape(batch * NUM_TIMESTEPS, 1, 8, 8)
    net.reset_states()
    net.spiking_model[1].register_forward_hook(sk.hooks.firing_rate_hook)
    with torch.no_grad():
        out = net(frames).reshape(batch, NUM_TIMESTEPS, 10).sum(1)
    snn_acc = accuracy(out, y_test)
    print(f"ANN {ann_acc:.4f}  SNN(T={NUM_TIMESTEPS}) {snn_acc:.4f}")
    assert snn_acc >= ann_acc - 0.02, f"SNN {snn_acc:.3f} vs ANN {ann_acc:.3f} at T={NUM_TIMESTEPS}"

    # the first spiking layer really spikes, sparsely (well under one spike per neuron and step once normalised)
    assert 0 < net.spiking_model[1].hook_data["firing_rate"].item() < 0.5
