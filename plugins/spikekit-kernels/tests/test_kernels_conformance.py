"""The core's BackendConformance suite, run against the fused CPU backend (both the compiled and the torch loop)."""

from __future__ import annotations

import pytest

from spikekit_testing import BackendConformance

COVERED = ("iaf", "lif", "lif-norm", "lif-single-spike", "lif-membrane-reset", "lif-floor", "lif-syn", "lif-record",
           "expleak", "alif")  # fmt: skip


class TestFusedCPUConformance(BackendConformance):
    backend_name = "fused-cpu"
    must_support = COVERED


class TestFusedCPUTorchLoopConformance(BackendConformance):
    backend_name = "fused-cpu"
    must_support = COVERED

    @pytest.fixture(autouse=True)
    def _torch_loop(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from spikekit_kernels import c_loops

        monkeypatch.setattr(c_loops, "use_c", lambda x: None)
