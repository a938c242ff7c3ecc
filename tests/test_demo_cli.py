"""End to end: ``spikekit demo --quick`` in a subprocess; its report, and every file it writes."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("spikekit_demo")
pytest.importorskip("matplotlib")
torch = pytest.importorskip("torch")

PNGS = ("raster.png", "membrane.png", "accuracy_vs_timesteps.png", "training_curves.png", "firing_rates.png")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = tmp_path_factory.mktemp("demo") / "out"
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, "-m", "spikekit", "demo", "--quick", "--seed", "0", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc, out


def _percent(line: str) -> float:
    return float(re.findall(r"(\d+\.\d)%", line)[0]) / 100


@pytest.mark.slow
def test_the_report_table(demo):
    proc, out = demo
    text = proc.stdout
    results = json.loads((out / "results.json").read_text())
    assert "Traceback" not in proc.stderr
    # the progress bar: one finished line per epoch with loss and accuracy
    assert len(re.findall(r"SNN \(BPTT\) epoch \d/3 \[=+\] \d+/\d+  loss \d\.\d{3}  acc +\d", proc.stderr)) == 3
    assert len(re.findall(r"ANN +epoch \d/3 .* loss \d\.\d{3}", proc.stderr)) == 3
    lines = text.splitlines()
    bptt = next(line for line in lines if line.startswith("SNN, trained by BPTT"))
    ann = next(line for line in lines if line.startswith("ANN (same architecture"))
    conv = next(line for line in lines if line.startswith("SNN, converted from the ANN"))
    assert _percent(bptt) == pytest.approx(results["snn_accuracy"], abs=5e-4)
    assert _percent(ann) == pytest.approx(results["ann_accuracy"], abs=5e-4)
    assert _percent(conv) == pytest.approx(results["converted_accuracy"], abs=5e-4)
    assert results["snn_accuracy"] > 0.6 and results["converted_accuracy"] > 0.6  # 3 epochs: well above 10% chance
    assert re.search(r"time / epoch", text) and re.search(r"\d+\.\d\d s", bptt)
    # per-layer rates and synops: one row per neuron layer and per weighted layer, plus a total
    per_layer = text[text.index("Per layer") : text.index("Test accuracy against")]
    rows = {m.group(1): m.group(0) for m in re.finditer(r"^([0-7]) +(\w+).*$", per_layer, re.M)}
    assert [rows[k].split()[1] for k in ("0", "1", "3", "4", "7")] == [
        "Conv2d", "IAFSqueeze", "Conv2d", "IAFSqueeze", "Linear"
    ]  # fmt: skip
    assert rows["1"].split()[2] == "1024" and rows["4"].split()[2] == "512"
    rate = float(rows["1"].split()[3])
    stats = {r["name"]: r for r in results["layers"]["SNN (BPTT)"]}
    assert rate == pytest.approx(stats["1"]["firing_rate"], abs=5e-4) and 0 < rate
    assert re.search(r"^total\s+[\d.]+[kM]", text, re.M)
    assert "Test accuracy against time steps T" in text
    # the fastest installed backend by default, with its measured speed-up over the reference
    backend = results["backend"]
    assert backend["requested"] == "auto" and backend["name"] == min(backend["step_ms"], key=backend["step_ms"].get)
    assert f"Backend {backend['name']!r} (the fastest installed" in text


@pytest.mark.slow
def test_pngs_open(demo):
    from PIL import Image

    _, out = demo
    for name in PNGS:
        with Image.open(out / name) as image:
            image.verify()
            assert image.format == "PNG"
        with Image.open(out / name) as image:
            width, height = image.size
            assert width > 300 and height > 200
            low, high = image.convert("L").getextrema()
            assert high - low > 100  # not a blank canvas


@pytest.mark.slow
def test_state_dict_loads_and_reproduces_the_reported_accuracy(demo):
    from spikekit_demo.data import encode, load_digits
    from spikekit_demo.model import load_snn
    from spikekit_demo.training import evaluate_snn

    import spikekit.encoders

    _, out = demo
    results = json.loads((out / "results.json").read_text())
    timesteps, seed = results["config"]["timesteps"], results["config"]["seed"]
    state = torch.load(out / "snn_bptt.pt", weights_only=True)
    assert {"0.weight", "3.weight", "7.weight"} <= set(state)
    model = load_snn(str(out / "snn_bptt.pt"), timesteps=timesteps)
    data = load_digits(seed)
    spikes = encode(spikekit.encoders.get("rate"), data.x_test, timesteps, seed + 2)  # as the demo encodes them
    assert evaluate_snn(model, spikes, data.y_test) == pytest.approx(results["snn_accuracy"])
    converted = load_snn(str(out / "snn_converted.pt"), timesteps=timesteps)
    assert evaluate_snn(converted, spikes, data.y_test) == pytest.approx(results["converted_accuracy"])


@pytest.mark.slow
def test_nir_file_reimports_and_computes_the_same(demo):
    import nir
    from spikekit_demo.data import encode, load_digits
    from spikekit_demo.model import load_snn

    import spikekit
    import spikekit.encoders

    _, out = demo
    results = json.loads((out / "results.json").read_text())
    timesteps, seed = results["config"]["timesteps"], results["config"]["seed"]
    graph = nir.read(str(out / "snn_bptt.nir"))
    assert {"input", "output", "0", "1", "3", "4", "7"} <= set(graph.nodes)
    assert type(graph.nodes["1"]).__name__ == "IF" and type(graph.nodes["0"]).__name__ == "Conv2d"
    imported = spikekit.from_nir(graph, num_timesteps=timesteps)
    original = load_snn(str(out / "snn_bptt.pt"), timesteps=timesteps)
    data = load_digits(seed)
    spikes = encode(spikekit.encoders.get("rate"), data.x_test[:64], timesteps, seed + 2).flatten(0, 1)
    with torch.no_grad():
        spikekit.reset_states(original)
        spikekit.reset_states(imported)
        torch.testing.assert_close(imported(spikes), original(spikes))
