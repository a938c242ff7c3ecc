"""Memory layouts and the NaN/Inf policy, over every neuron layer and CPU backend.

* Non-contiguous and channels-last inputs give bit-for-bit the output of the same values stored contiguously.
* NaN/Inf policy: **propagate, never refuse** (as torch layers do): a NaN or Inf reaches only the batch entries and
  neurons it was fed to; every other entry's output and state stay finite and equal to a clean run.
"""

from __future__ import annotations

import sys
import warnings

import pytest
import torch

pytest.importorskip("spikekit_neurons")


L = sys.modules["spikekit_reliability_layers"]  # loaded by conftest.py
SPECS = {s.name: s for s in L.SPECS}
BACKENDS = L.backends()


def _pair(spec, backend):
    torch.manual_seed(0)
    a = spec.make(backend)
    b = spec.make(backend)
    b.load_state_dict(a.state_dict())
    return a, b


@pytest.fixture(autouse=True)
def _no_fallback_noise():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", list(SPECS))
def test_non_contiguous_input_gives_the_contiguous_result(name: str, backend: str) -> None:
    spec = SPECS[name]
    base = spec.input(2, 5)  # (B, T, N)
    strided = base.transpose(0, 2).contiguous().transpose(0, 2)  # same values, transposed storage
    assert not strided.is_contiguous()
    a, b = _pair(spec, backend)
    torch.testing.assert_close(spec.run(a, strided), spec.run(b, base), rtol=0, atol=0)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", ["IAFSqueeze", "LIFSqueeze", "ALIFSqueeze", "ExpLeakSqueeze"])
def test_channels_last_conv_activations(name: str, backend: str) -> None:
    """(B*T, C, H, W) activations in channels-last memory format, as a Conv2d in channels-last produces them."""
    spec = SPECS[name]
    torch.manual_seed(0)
    x = torch.rand(L.SQUEEZE_B * 4, 3, 5, 6) * 2
    cl = x.contiguous(memory_format=torch.channels_last)
    assert not cl.is_contiguous()
    a, b = _pair(spec, backend)
    torch.testing.assert_close(a(cl), b(x), rtol=0, atol=0)


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("name", [n for n in SPECS if not SPECS[n].recurrent])
def test_nan_and_inf_stay_in_the_neurons_they_were_fed_to(name: str, backend: str, value: float) -> None:
    spec = SPECS[name]
    clean = spec.input(2, 5)
    dirty = clean.clone()
    dirty[0, 1, 0] = value  # batch entry 0, step 1, neuron 0
    a, b = _pair(spec, backend)
    out_clean, out_dirty = spec.run(a, clean), spec.run(b, dirty)
    assert not torch.isfinite(out_dirty[0, 1:, 0]).all() or not torch.isfinite(b.v_mem[0, 0])  # propagated
    hit = torch.zeros_like(out_dirty, dtype=torch.bool)
    hit[0, :, 0] = True
    torch.testing.assert_close(out_dirty[~hit], out_clean[~hit], rtol=0, atol=0)  # confined
    for state in a.state_names:
        sa, sb = getattr(a, state), getattr(b, state)
        if sa.shape == sb.shape and sa.ndim == 2:
            torch.testing.assert_close(sb[1], sa[1], rtol=0, atol=0)
            torch.testing.assert_close(sb[0, 1:], sa[0, 1:], rtol=0, atol=0)


@pytest.mark.parametrize("name", ["IAFRecurrent", "LIFRecurrent", "ALIFRecurrent"])
def test_nan_in_a_recurrent_layer_stays_in_its_batch_entry(name: str) -> None:
    """rec_connect mixes neurons, so a NaN spreads over its batch entry, but never to other entries."""
    spec = SPECS[name]
    clean = spec.input(2, 5)
    dirty = clean.clone()
    dirty[0, 1, 0] = float("nan")
    a, b = _pair(spec, None)
    out_clean, out_dirty = spec.run(a, clean), spec.run(b, dirty)
    torch.testing.assert_close(out_dirty[1], out_clean[1], rtol=0, atol=0)
    torch.testing.assert_close(out_dirty[0, :1], out_clean[0, :1], rtol=0, atol=0)  # before the NaN arrives
