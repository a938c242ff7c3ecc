"""The README's quickstart runs as written (so the README stays true to the code)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import torch

from spikekit.errors import BackendFallbackWarning

README = Path(__file__).resolve().parents[1] / "README.md"


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_quickstart_runs_and_the_fused_backend_agrees():
    blocks = [b for b in _python_blocks() if "reset_states" in b]
    assert blocks, "README has no quickstart block"
    namespace: dict = {}
    torch.manual_seed(0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(compile(blocks[0], str(README), "exec"), namespace)
    fallbacks = [w for w in caught if issubclass(w.category, BackendFallbackWarning)]
    assert not fallbacks, f"the quickstart fell back to the reference backend: {fallbacks[0].message}"
    spikes = namespace["spikes"]
    assert spikes.shape == (8, 50, 4)
    model, x = namespace["model"], namespace["x"]
    import spikekit as sk

    sk.reset_states(model)
    with sk.use_backend("torch"):
        reference = model(x)
    assert torch.equal(spikes, reference)  # the fused run equals the reference run, spike for spike
