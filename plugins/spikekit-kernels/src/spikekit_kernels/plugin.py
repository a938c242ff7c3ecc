"""Hook implementations of spikekit-kernels: lazy paths only, nothing heavy is imported here."""

from spikekit.plugins import hookimpl
from spikekit.plugins.records import BackendSpec


@hookimpl
def spikekit_backends() -> list[BackendSpec]:
    return [
        BackendSpec(
            "fused-cpu",
            "spikekit_kernels.cpu_backend:FusedCPUBackend",
            description="fused CPU time loop (one custom op, hand-written BPTT backward)",
        ),
        BackendSpec(
            "compiled",
            "spikekit_kernels.compiled:CompiledBackend",
            description="any StepModel neuron model: its step compiled with torch.compile, the reference time loop",
        ),
        BackendSpec(
            "triton",
            "spikekit_kernels.triton_backend:TritonBackend",
            description="Triton GPU kernels (CUDA), one program per block of neurons looping over time",
            requires=("triton",),
        ),
    ]
