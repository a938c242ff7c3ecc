from spikekit.plugins import Export, hookimpl


@hookimpl
def spikekit_exports():
    return [Export("TanhSurrogate", "spikekit_example_plugin.tanh:TanhSurrogate", namespace="spikekit.activation")]
