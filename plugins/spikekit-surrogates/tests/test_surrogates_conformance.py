"""Every surrogate of this plugin passes the core's SurrogateConformance suite (one test class per surrogate)."""

from __future__ import annotations

import spikekit_surrogates as sks
from spikekit_surrogates.plugin import SURROGATES
from spikekit_testing import SurrogateConformance

NEGATIVE_LOBES = {"MultiGaussian"}


def _conformance_class(name: str) -> type:
    cls = getattr(sks, name)

    def make_surrogate(self):
        return cls()

    return type(
        f"TestConformance{name}",
        (SurrogateConformance,),
        {"make_surrogate": make_surrogate, "nonnegative": name not in NEGATIVE_LOBES},
    )


for _name, _module, _text in SURROGATES:
    globals()[f"TestConformance{_name}"] = _conformance_class(_name)


class TestConformanceNonDefault(SurrogateConformance):
    """A non-default configuration, with parameters that matter (widths, scales, a shifted centre)."""

    nonnegative = False

    def make_surrogate(self):
        return sks.MultiGaussian(mu=0.1, sigma=0.3, h=0.3, s=4, grad_scale=2.0)
