"""Must-show: a trained digits CNN, converted to an SNN, deployed and simulated on the chip model.

Measured (seed 0, T=32, 360 test digits): see the printed line; docs/speck/guide.md records the figures.
"""

import pytest
import torch
from torch import nn

import spikekit
import spikekit.layers as sl

pytestmark = pytest.mark.slow
T = 32


def data():
    datasets = pytest.importorskip("sklearn.datasets")
    digits = datasets.load_digits()
    x = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0  # (N, 1, 8, 8) in [0, 1]
    y = torch.tensor(digits.target)
    g = torch.Generator().manual_seed(0)
    perm = torch.randperm(len(x), generator=g)
    return x[perm[360:]], y[perm[360:]], x[perm[:360]], y[perm[:360]]


def ann():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1, bias=False), nn.ReLU(), nn.AvgPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1, bias=False), nn.ReLU(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(16 * 2 * 2, 10, bias=False),
    )  # fmt: skip


def to_snn(model, batch_size):
    layers = []
    for m in model:
        layers.append(sl.IAFSqueeze(batch_size=batch_size, min_v_mem=-1.0) if isinstance(m, nn.ReLU) else m)
    layers.append(sl.IAFSqueeze(batch_size=batch_size, min_v_mem=-1.0))
    return nn.Sequential(*layers)


def test_digits_snn_on_chip_simulator():
    torch.manual_seed(0)
    xtr, ytr, xte, yte = data()
    model = ann()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(30):
        for i in range(0, len(xtr), 128):
            opt.zero_grad()
            nn.functional.cross_entropy(model(xtr[i : i + 128]), ytr[i : i + 128]).backward()
            opt.step()
    with torch.no_grad():
        ann_acc = (model(xte).argmax(1) == yte).float().mean().item()
    # Normalise each layer so that its 99.9th-percentile activation is 1 (the SNN threshold).
    with torch.no_grad():
        act, previous = xtr, 1.0
        for m in model:
            act = m(act)
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                top = torch.quantile(act.flatten()[act.flatten() > 0], 0.999).item()
                m.weight.mul_(previous / top)
                act = act / top * previous
                previous = 1.0
    n = len(xte)
    snn = to_snn(model, n)
    events = (torch.rand(n, T, 1, 8, 8) < xte.unsqueeze(1)).float()  # rate-coded input (B, T, 1, 8, 8)
    with torch.no_grad():
        float_counts = snn(events.reshape(n * T, 1, 8, 8)).reshape(n, T, 10).sum(1)
    dep = spikekit.deploy(snn, "speck2f", input_shape=(1, 8, 8))
    chip_counts = dep.simulate(events).reshape(n, T, 10).sum(1).float()

    float_acc = (float_counts.argmax(1) == yte).float().mean().item()
    chip_acc = (chip_counts.argmax(1) == yte).float().mean().item()
    rel_l1 = ((chip_counts - float_counts).abs().sum() / float_counts.sum()).item()
    same = (chip_counts == float_counts).float().mean().item()

    # The discretisation alone explains the difference: a float model with the chip's integer parameters
    # (weights, thresholds, rescaled AvgPool as SumPool) gives exactly the simulator's counts.
    layers = dep.config["layers"]
    disc = []
    for layer in layers:
        w = torch.tensor(layer["weights"], dtype=torch.float32).transpose(2, 3)
        conv = nn.Conv2d(w.shape[1], w.shape[0], w.shape[2], padding=layer["dimensions"]["padding"]["y"], bias=False)
        conv.weight.data = w
        disc += [conv, sl.IAFSqueeze(batch_size=n, spike_threshold=float(layer["threshold_high"]),
                                     min_v_mem=float(layer["threshold_low"]))]  # fmt: skip
        for d in layer["destinations"]:
            disc.append(sl.SumPool2d(d["pooling"]))
    disc_model = nn.Sequential(*disc)
    with torch.no_grad():
        disc_counts = disc_model(events.reshape(n * T, 1, 8, 8)).reshape(n, T, 10).sum(1)
    assert torch.equal(disc_counts, chip_counts)

    print(
        f"\ndigits: ANN acc {ann_acc:.4f}, float SNN acc {float_acc:.4f}, chip acc {chip_acc:.4f}; "
        f"output counts: rel. L1 diff {rel_l1:.4f}, identical {same:.4f}; scales "
        f"{[round(layer['scale'], 2) for layer in layers]}"
    )
    assert ann_acc > 0.9
    assert float_acc - chip_acc < 0.02
    assert rel_l1 < 0.1
