"""The per-step gain of leak-free nodes (IF, I) under each convention, and its inverse."""

from __future__ import annotations

import numpy as np
import pytest

from spikekit_nir.conventions import Convention


@pytest.mark.parametrize(
    "preset, expected",
    [("sinabs", 2.0), ("snntorch", 2.0 * 1e-4), ("norse", 2.0)],  # norse integrates IF with gain r, not r*dt
)
def test_integrator_gain_per_preset(preset, expected):
    conv = Convention.named(preset)
    assert conv.membrane_gain(2.0, None) == pytest.approx(expected)
    assert conv.r_from_gain(conv.membrane_gain(2.0, None), None) == pytest.approx(2.0)


def test_leaky_nodes_keep_the_euler_gain_under_norse():
    conv = Convention.named("norse")
    assert conv.membrane_gain(1.0, 0.01) == pytest.approx(1e-3 / 0.01)
    np.testing.assert_allclose(conv.r_from_gain(conv.membrane_gain([1.0, 3.0], [0.01, 0.02]), [0.01, 0.02]), [1, 3])


def test_integrator_gain_is_validated():
    with pytest.raises(ValueError, match="integrator_gain must be one of"):
        Convention(integrator_gain="sometimes")
