"""spikekit-demo: spikekit's main job end to end, as the ``spikekit demo`` command.

Loads scikit-learn's digits, encodes them as spike trains, trains a spiking CNN by backpropagation through time
with a surrogate gradient, trains the same architecture as an ANN and converts it, then reports accuracies, firing
rates, synaptic operations and timings, and writes plots, the trained model and its NIR export.

Run it with ``spikekit demo`` (``--help`` for the options) or call :func:`spikekit_demo.pipeline.run_demo`.
"""

from __future__ import annotations

from spikekit.plugins import lazy_exports

__all__ = ["DemoConfig", "run_demo"]

# lazy: importing the package must stay cheap (the CLI imports it to build --help)
__getattr__, __dir__ = lazy_exports(globals(), {name: f"spikekit_demo.pipeline:{name}" for name in __all__})
