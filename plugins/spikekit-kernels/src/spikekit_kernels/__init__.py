"""spikekit-kernels: fused compute backends for spikekit's neuron layers.

* ``"fused-cpu"``: the whole time loop as one ``torch.library`` custom op (compiled C when a C compiler is
  present, else a torch loop) with an explicit reverse-time backward pass; exact BPTT gradients.
* ``"triton"``: the same loop as Triton kernels for CUDA GPUs (Triton is imported only when the backend is used).

Select them per layer (``backend="fused-cpu"``) or for a block (``with spikekit.use_backend("fused-cpu"): ...``).
Importing this package is cheap: it imports neither the kernels nor Triton.
"""

from importlib.metadata import version as _distribution_version

__version__ = _distribution_version("spikekit-kernels")  # the repository's one VERSION file, via metadata
