"""spikekit-nir: import and export of the Neuromorphic Intermediate Representation (NIR).

``spikekit.to_nir(model, sample_data)`` and ``spikekit.from_nir(graph_or_path, batch_size=..., num_timesteps=...)``
(also in ``spikekit.nir``, with ``save`` / ``load`` for ``.nir`` files and the :class:`Convention` that says how
NIR's continuous-time parameters become per-step ones).

Conversions go through spikekit's ``spikekit_converters`` hook; a plugin adds a mapping with records such as::

    from spikekit.plugins import hookimpl
    from spikekit.plugins.records import ConverterSpec

    @hookimpl
    def spikekit_converters():
        return [
            # export: name = the class's dotted path (f"{cls.__module__}.{cls.__qualname__}")
            ConverterSpec("my_pkg.layers.MyNeuron", "my_pkg.nir:export_my_neuron", format="nir", direction="export"),
            # import: name = the NIR node class name, or the class path written into the node's metadata on export
            ConverterSpec("CubaLI", "my_pkg.nir:import_cubali", format="nir", direction="import"),
            ConverterSpec("my_pkg.layers.MyNeuron", "my_pkg.nir:import_my_neuron", format="nir", direction="import"),
        ]

with ``export_my_neuron(module, ctx: ExportContext) -> nir.NIRNode`` and
``import_cubali(node, ctx: ImportContext) -> torch.nn.Module`` (see :mod:`spikekit_nir.registry`;
``spikekit.nir.ExportContext`` and ``spikekit.nir.ImportContext`` are the public names).
"""

from __future__ import annotations

from spikekit.plugins import lazy_exports
from spikekit_nir.plugin import PUBLIC_NAMES as _PUBLIC_NAMES

# Public name -> where it is defined (from the plugin's one table of names). Imported on first use, so that
# discovering the plugin (which imports this package) does not import nir, h5py and the converters.
_SOURCE = {name: f"spikekit_nir.{module}:{name}" for name, module, _, _ in _PUBLIC_NAMES}
__all__ = list(_SOURCE)

__getattr__, __dir__ = lazy_exports(globals(), _SOURCE)
