"""The hooks a spikekit plugin may implement.

A plugin is any module or object with functions named after these hooks, marked with
:data:`spikekit.plugins.hookimpl`, and announced in the plugin distribution's ``pyproject.toml``::

    [project.entry-points.spikekit]
    my_plugin = "my_package.plugin"

Every hook takes no arguments and returns a list of typed records (:mod:`spikekit.plugins.records`). Records point
at their objects lazily (``"package.module:attribute"``) where importing the object is expensive, so that plugin
discovery stays cheap. The core validates each record; a malformed record, a name another plugin already took, or
a hook that raises is reported as a :class:`spikekit.errors.PluginWarning` naming the distribution and skipped
(raised in strict mode). All hooks are called once per discovery, lazily, on the first lookup.
"""

# mypy: disable-error-code="empty-body"
from __future__ import annotations

from collections.abc import Sequence

import pluggy

from spikekit.plugins.records import BackendSpec, CommandSpec, ConverterSpec, EncoderSpec, Export, Record, TargetSpec

PROJECT_NAME = "spikekit"
hookspec = pluggy.HookspecMarker(PROJECT_NAME)


@hookspec
def spikekit_exports() -> Sequence[Export]:
    """Add public names to spikekit's namespaces: layers, activations, surrogates, converters, utilities.

    Each :class:`~spikekit.plugins.records.Export` puts one name into one namespace (``spikekit.layers``,
    ``spikekit.activation``, ``spikekit.utils``, the top level ``spikekit``, ...). Users then reach it as, say,
    ``spikekit.activation.FastSigmoid``; code inside spikekit resolves names the same way.

    Returns:
        A list of :class:`~spikekit.plugins.records.Export`; all results are merged. A name already exported to
        the same namespace by another plugin is skipped with a warning naming both.

    Example::

        from spikekit.plugins import hookimpl
        from spikekit.plugins.records import Export

        @hookimpl
        def spikekit_exports():
            return [
                Export("FastSigmoid", "my_package.surrogates:FastSigmoid", namespace="spikekit.activation",
                       description="fast sigmoid surrogate (SuperSpike)"),
            ]
    """


@hookspec
def spikekit_backends() -> Sequence[BackendSpec]:
    """Register compute backends that run neuron layers' time loops (see :mod:`spikekit.compute`).

    The ref is a :class:`~spikekit.compute.ComputeBackend` instance or its class; use a lazy
    ``"module:attr"`` path so that GPU libraries are imported only when the backend is first used. Name the modules
    it needs in ``requires``: where one is not installed, the backend is listed as unavailable with that reason.

    Returns:
        A list of :class:`~spikekit.plugins.records.BackendSpec`.

    Example::

        @hookimpl
        def spikekit_backends():
            return [BackendSpec("my-gpu", "my_package.gpu:MyGpuBackend", "CUDA kernels", requires=("triton",))]
    """


@hookspec
def spikekit_targets() -> Sequence[TargetSpec]:
    """Register hardware targets that models can be deployed to (see :mod:`spikekit.targets`).

    Returns:
        A list of :class:`~spikekit.plugins.records.TargetSpec`; the ref is a
        :class:`~spikekit.targets.HardwareTarget` instance or its class.

    Example::

        @hookimpl
        def spikekit_targets():
            return [TargetSpec("my-chip", "my_package.chip:MyChip", description="my neuromorphic chip")]
    """


@hookspec
def spikekit_converters() -> Sequence[ConverterSpec]:
    """Register mappings of an interchange format (NIR) between torch modules and the format's nodes.

    The plugin that owns a format (``spikekit-nir`` for ``"nir"``) documents the function signature it calls;
    others add mappings for their own layers or node types through this hook.

    Returns:
        A list of :class:`~spikekit.plugins.records.ConverterSpec`.

    Example::

        @hookimpl
        def spikekit_converters():
            return [
                ConverterSpec("my_package.layers.MyNeuron", "my_package.nir:export_my_neuron",
                              format="nir", direction="export"),
                ConverterSpec("MyNode", "my_package.nir:import_my_node", format="nir", direction="import"),
            ]
    """


@hookspec
def spikekit_encoders() -> Sequence[EncoderSpec]:
    """Register spike encoders (rate, latency, delta, ...), reachable through :func:`spikekit.encoders.get`.

    Returns:
        A list of :class:`~spikekit.plugins.records.EncoderSpec`; the ref is a callable or module class.

    Example::

        @hookimpl
        def spikekit_encoders():
            return [EncoderSpec("burst", "my_package.encoders:BurstEncoder", description="burst coding")]
    """


@hookspec
def spikekit_commands() -> Sequence[CommandSpec]:
    """Add sub-commands to the ``spikekit`` command line.

    Returns:
        A list of :class:`~spikekit.plugins.records.CommandSpec`; the ref has ``add_arguments(parser)`` and
        ``run(args) -> int``.

    Example::

        @hookimpl
        def spikekit_commands():
            return [CommandSpec("hello", "my_package.cli:HelloCommand", description="say hello")]
    """


#: Hook name -> record type it returns. The facade calls exactly these.
HOOK_RECORDS: dict[str, type[Record]] = {
    "spikekit_exports": Export,
    "spikekit_backends": BackendSpec,
    "spikekit_targets": TargetSpec,
    "spikekit_converters": ConverterSpec,
    "spikekit_encoders": EncoderSpec,
    "spikekit_commands": CommandSpec,
}
