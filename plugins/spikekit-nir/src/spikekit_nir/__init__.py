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
            # import: name = the NIR node class name
            ConverterSpec("CubaLI", "my_pkg.nir:import_cubali", format="nir", direction="import"),
        ]

with ``export_my_neuron(module, ctx: ExportContext) -> nir.NIRNode`` and
``import_cubali(node, ctx: ImportContext) -> torch.nn.Module`` (see :mod:`spikekit_nir.registry`).
"""

from __future__ import annotations

from spikekit_nir.conventions import PRESETS, Convention, ConversionError
from spikekit_nir.export import to_nir
from spikekit_nir.importer import NIRGraphModule, from_nir
from spikekit_nir.io import load, save
from spikekit_nir.registry import PASSTHROUGH, ExportContext, ImportContext

__all__ = [
    "to_nir",
    "from_nir",
    "save",
    "load",
    "Convention",
    "PRESETS",
    "ConversionError",
    "NIRGraphModule",
    "ExportContext",
    "ImportContext",
    "PASSTHROUGH",
]
