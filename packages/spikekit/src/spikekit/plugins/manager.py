"""The plugin host: a typed facade over pluggy's plugin manager.

Nothing else in spikekit calls ``pm.hook`` directly. The host

* discovers plugins lazily, on the first lookup (never on ``import spikekit``), from the entry-point group
  ``spikekit``;
* isolates faults: a plugin whose import raises, whose hook raises, which returns a malformed record, or which
  takes a name another plugin already has, is reported as a :class:`~spikekit.errors.PluginWarning` naming its
  distribution and skipped, while everything else keeps working; in strict mode the same raises
  :class:`~spikekit.errors.PluginError`;
* keeps the merged, validated records of every hook, and resolves names to objects (importing lazy targets on
  first use).

Switches (environment variables, read when the host is created; :func:`spikekit.plugins.configure` sets them
in code): ``SPIKEKIT_DISABLE_PLUGIN_AUTOLOAD=1`` (load no entry point, only plugins registered by hand),
``SPIKEKIT_BLOCK_PLUGINS=name,name`` (entry-point or distribution names to skip), ``SPIKEKIT_STRICT_PLUGINS=1``.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata as md
import os
import threading
import warnings
from collections.abc import Iterable, Sequence
from typing import Any

import pluggy

from spikekit.errors import PluginError, PluginNotInstalledError, PluginWarning
from spikekit.plugins import hookspecs
from spikekit.plugins.records import (
    BackendSpec,
    CommandSpec,
    ConverterSpec,
    EncoderSpec,
    Export,
    Record,
    TargetSpec,
)

__all__ = ["PluginHost", "PluginInfo", "PluginFailure", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "spikekit"
_TRUE = {"1", "true", "yes", "on"}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


@dataclasses.dataclass
class PluginFailure:
    """Why a plugin (or one of its records) was skipped."""

    plugin: str
    distribution: str
    stage: str  # "import", "register", "hook <name>", "record", "clash"
    message: str


@dataclasses.dataclass
class PluginInfo:
    """One registered plugin, as listed by ``spikekit plugins``."""

    name: str
    distribution: str
    version: str
    provides: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Owned:
    """A validated record and the plugin that contributed it."""

    record: Record
    plugin: str
    distribution: str


class PluginHost:
    """Discovers plugins, validates what they contribute and answers lookups. Build one with :func:`host`."""

    def __init__(
        self,
        *,
        autoload: bool | None = None,
        blocked: Iterable[str] | None = None,
        strict: bool | None = None,
    ) -> None:
        self.autoload = (not _env_flag("SPIKEKIT_DISABLE_PLUGIN_AUTOLOAD")) if autoload is None else autoload
        env_block = os.environ.get("SPIKEKIT_BLOCK_PLUGINS", "")
        self.blocked = set(blocked) if blocked is not None else {b.strip() for b in env_block.split(",") if b.strip()}
        self.strict = _env_flag("SPIKEKIT_STRICT_PLUGINS") if strict is None else strict
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.failures: list[PluginFailure] = []
        self.generation = 0
        self._lock = threading.RLock()
        self._discovered = False
        self._dist_of: dict[str, tuple[str, str]] = {}  # plugin name -> (distribution, version)
        self._records: dict[str, dict[tuple[str, ...], Owned]] | None = None
        self._objects: dict[tuple[str, ...], Any] = {}

    # --------------------------------------------------------------------------------------------- registration
    def register(self, plugin: object, name: str | None = None, distribution: str | None = None) -> str:
        """Register a plugin object by hand (a module or an instance with hook implementations)."""
        with self._lock:
            self._ensure_discovered()
            registered = self._register(plugin, name, distribution or name or "<unknown>", "")
            if registered is None:
                raise PluginError(f"plugin {name!r} could not be registered: {self.failures[-1].message}")
            return registered

    def unregister(self, name: str) -> None:
        """Remove a plugin registered under ``name`` (an entry-point plugin too: discovery runs first, so it does
        not come back on the next lookup)."""
        with self._lock:
            self._ensure_discovered()
            self.pm.unregister(name=name)
            self._dist_of.pop(name, None)
            self._invalidate()

    def _register(self, plugin: object, name: str | None, distribution: str, version: str) -> str | None:
        try:
            registered = self.pm.register(plugin, name=name)
        except Exception as exc:  # pluggy's validation errors, duplicate names
            self._fail(name or repr(plugin), distribution, "register", f"{type(exc).__name__}: {exc}")
            return None
        if registered is None:  # blocked in pluggy
            return None
        self._dist_of[registered] = (distribution, version)
        self._invalidate()
        return registered

    def _invalidate(self) -> None:
        self._records = None
        self._objects.clear()
        self.generation += 1

    def _ensure_discovered(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        if not self.autoload:
            return
        eps = sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=_entry_point_order)
        for ep in eps:
            dist_name, dist_version = _dist_of(ep)
            if ep.name in self.blocked or dist_name in self.blocked:
                continue
            try:
                plugin = ep.load()
            except Exception as exc:
                self._fail(ep.name, dist_name, "import", f"{type(exc).__name__}: {exc}")
                continue
            self._register(plugin, ep.name, dist_name, dist_version)

    def _fail(self, plugin: str, distribution: str, stage: str, message: str) -> None:
        failure = PluginFailure(plugin, distribution, stage, message)
        self.failures.append(failure)
        text = f"spikekit plugin {plugin!r} from distribution {distribution!r} was skipped ({stage}): {message}"
        if self.strict:
            raise PluginError(text)
        warnings.warn(text, PluginWarning, stacklevel=4)

    # ------------------------------------------------------------------------------------------ hooks -> records
    def _all_records(self) -> dict[str, dict[tuple[str, ...], Owned]]:
        with self._lock:
            self._ensure_discovered()
            if self._records is None:
                self._records = {h: self._collect(h, t) for h, t in hookspecs.HOOK_RECORDS.items()}
            return self._records

    def _collect(self, hook_name: str, record_type: type[Record]) -> dict[tuple[str, ...], Owned]:
        merged: dict[tuple[str, ...], Owned] = {}
        hook = getattr(self.pm.hook, hook_name)
        for impl in hook.get_hookimpls():  # registration order: first-party plugins first
            plugin_name = impl.plugin_name
            dist, _ = self._dist_of.get(plugin_name, (plugin_name, ""))
            try:
                result = impl.function()
            except Exception as exc:
                self._fail(plugin_name, dist, f"hook {hook_name}", f"{type(exc).__name__}: {exc}")
                continue
            if result is None:
                continue
            if not isinstance(result, Sequence) or isinstance(result, (str, bytes)):
                self._fail(plugin_name, dist, "record", f"{hook_name} must return a list, got {type(result).__name__}")
                continue
            for record in result:
                if not isinstance(record, record_type):  # also narrows the type for mypy
                    self._fail(
                        plugin_name,
                        dist,
                        "record",
                        f"{hook_name} must return {record_type.__name__} records, got {type(record).__name__}",
                    )
                    continue
                try:
                    record.validate()
                except ValueError as exc:
                    self._fail(plugin_name, dist, "record", str(exc))
                    continue
                key = record.key()
                if key in merged:
                    first = merged[key]
                    self._fail(
                        plugin_name,
                        dist,
                        "clash",
                        f"{record.kind} {'/'.join(key[1:])!r} is already provided by plugin {first.plugin!r} "
                        f"(distribution {first.distribution!r}); keeping that one",
                    )
                    continue
                merged[key] = Owned(record, plugin_name, dist)
        return merged

    # --------------------------------------------------------------------------------------------- typed lookups
    def exports(self, namespace: str) -> dict[str, Owned]:
        """``{name: Owned(Export)}`` for one namespace."""
        return {k[2]: o for k, o in self._all_records()["spikekit_exports"].items() if k[1] == namespace}

    def _by_name(self, hook: str) -> dict[str, Any]:
        return {o.record.name: o.record for o in self._all_records()[hook].values()}

    def backends(self) -> dict[str, BackendSpec]:
        return self._by_name("spikekit_backends")

    def targets(self) -> dict[str, TargetSpec]:
        return self._by_name("spikekit_targets")

    def encoders(self) -> dict[str, EncoderSpec]:
        return self._by_name("spikekit_encoders")

    def commands(self) -> dict[str, CommandSpec]:
        return self._by_name("spikekit_commands")

    def converters(self, format: str, direction: str) -> dict[str, ConverterSpec]:
        """``{name: ConverterSpec}`` of one format and direction (see :class:`ConverterSpec`)."""
        return {
            k[3]: o.record  # type: ignore[misc]
            for k, o in self._all_records()["spikekit_converters"].items()
            if k[1] == format and k[2] == direction
        }

    def owner(self, record: Record) -> Owned | None:
        for table in self._all_records().values():
            owned = table.get(record.key())
            if owned is not None and owned.record is record:
                return owned
        return None

    # --------------------------------------------------------------------------------------------- resolution
    def resolve_export(self, namespace: str, name: str) -> Any:
        """The object exported as ``namespace.name``; :class:`PluginNotInstalledError` if nobody provides it."""
        key = ("export", namespace, name)
        try:
            return self._objects[key]
        except KeyError:
            pass
        records, generation = self._snapshot()
        owned = records["spikekit_exports"].get(key)
        if owned is None:
            message = self._missing_message(namespace, name)
            if _provider_of(namespace, name) is None:
                raise AttributeError(message)
            raise PluginNotInstalledError(message)
        return self._remember(key, generation, self._load(owned))

    def _snapshot(self) -> tuple[dict[str, dict[tuple[str, ...], Owned]], int]:
        """The merged records and the generation they belong to, read together."""
        with self._lock:
            return self._all_records(), self.generation

    def _remember(self, key: tuple[str, ...], generation: int, obj: Any) -> Any:
        """Cache ``obj`` (loaded outside the lock) unless plugins changed since ``generation``; first one wins."""
        with self._lock:
            if self.generation != generation:
                return obj
            return self._objects.setdefault(key, obj)

    def _load(self, owned: Owned) -> Any:
        try:
            return owned.record.load()
        except Exception as exc:
            raise PluginError(
                f"{owned.record.kind} {owned.record.name!r} of plugin {owned.plugin!r} (distribution "
                f"{owned.distribution!r}) could not be loaded from {owned.record.target!r}: {type(exc).__name__}: {exc}"
            ) from exc

    def _load_named(self, hook: str, what: str, name: str) -> Any:
        key = (what, name)
        try:
            return self._objects[key]
        except KeyError:
            pass
        records, generation = self._snapshot()
        table = {o.record.name: o for o in records[hook].values()}
        owned = table.get(name)
        if owned is None:
            known = ", ".join(sorted(table)) or "none"
            hint = _hint_for(what, name)
            raise PluginNotInstalledError(f"no {what} named {name!r} is installed (installed: {known}).{hint}")
        obj = self._load(owned)
        if isinstance(obj, type):  # a class was registered: make its one instance
            obj = obj()
        return self._remember(key, generation, obj)

    def load_backend(self, name: str) -> Any:
        """The backend instance registered as ``name``."""
        return self._load_named("spikekit_backends", "backend", name)

    def load_target(self, name: str) -> Any:
        """The hardware-target instance registered as ``name``."""
        return self._load_named("spikekit_targets", "target", name)

    def _missing_message(self, namespace: str, name: str) -> str:
        provider = _provider_of(namespace, name)
        for failure in self.failures:
            if failure.stage in ("import", "register") and provider in (failure.distribution, failure.plugin):
                return (
                    f"{namespace}.{name} is provided by {failure.distribution}, which failed to load: {failure.message}"
                )
        if provider:
            return f"{namespace}.{name} is provided by a plugin that is not installed: pip install {provider}"
        return f"module {namespace!r} has no attribute {name!r}, and no installed spikekit plugin provides it"

    # --------------------------------------------------------------------------------------------- reporting
    def plugins(self) -> list[PluginInfo]:
        """Every registered plugin with its distribution, version and the names it provides."""
        records = self._all_records()
        infos: dict[str, PluginInfo] = {}
        for plugin_name, _plugin in self.pm.list_name_plugin():
            dist, version = self._dist_of.get(plugin_name, (plugin_name, ""))
            infos[plugin_name] = PluginInfo(plugin_name, dist, version)
        for table in records.values():
            for owned in table.values():
                info = infos.get(owned.plugin)
                if info is not None:
                    rec = owned.record
                    label = f"{rec.namespace}.{rec.name}" if isinstance(rec, Export) else f"{rec.kind}:{rec.name}"
                    info.provides.append(label)
        return list(infos.values())


def _dist_of(ep: md.EntryPoint) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)
    if dist is None:
        return ep.value.split(":")[0].split(".")[0], ""
    return dist.metadata["Name"], dist.version


def _entry_point_order(ep: md.EntryPoint) -> tuple[int, str, str]:
    dist_name, _ = _dist_of(ep)
    return (0 if dist_name in FIRST_PARTY else 1, dist_name, ep.name)


#: Distributions built in this repository; they load first, so a third party cannot shadow their names.
FIRST_PARTY = (
    "spikekit-neurons",
    "spikekit-surrogates",
    "spikekit-convert",
    "spikekit-nir",
    "spikekit-kernels",
    "spikekit-speck",
    "spikekit-demo",
)


# Where each public name of the sinabs API comes from, for "pip install ..." hints.
def _names(text: str) -> set[str]:
    return set(text.split())


_NEURONS, _SURROGATES, _CONVERT, _NIR, _SPECK = (
    "spikekit-neurons", "spikekit-surrogates", "spikekit-convert", "spikekit-nir", "spikekit-speck",
)  # fmt: skip
_KNOWN_PROVIDERS: dict[str, list[tuple[set[str], str]]] = {
    "spikekit.layers": [
        (
            _names(
                "IAF IAFSqueeze IAFRecurrent LIF LIFSqueeze LIFRecurrent ALIF ALIFSqueeze ALIFRecurrent ExpLeak "
                "ExpLeakSqueeze SpikingMaxPooling2dLayer SumPool2d Img2SpikeLayer Sig2SpikeLayer Cropping2dLayer "
                "NeuromorphicReLU QuantizeLayer Merge ChannelShift functional"
            ),
            _NEURONS,
        )
    ],
    "spikekit.activation": [
        (
            _names("MultiSpike SingleSpike MaxSpike MembraneReset MembraneSubtract Quantize StochasticRounding"),
            _NEURONS,
        ),
        (
            _names(
                "Heaviside Gaussian MultiGaussian SingleExponential PeriodicExponential FastSigmoid SuperSpike ATan "
                "Sigmoid Triangle Rectangular Erf PiecewiseLinear StraightThrough"
            ),
            _SURROGATES,
        ),
    ],
    "spikekit.from_torch": [(_names("from_model"), _CONVERT)],
    "spikekit.network": [(_names("Network"), _CONVERT)],
    "spikekit.conversion": [(_names("replace_module replace_module_"), _CONVERT)],
    "spikekit.synopcounter": [(_names("SNNAnalyzer SynOpCounter"), _CONVERT)],
    "spikekit.utils": [
        (
            _names(
                "normalize_weights get_activations get_network_activations get_new_index expand_to_pair "
                "collapse_pair load_sinabs_model sinabs_pickle"
            ),
            _CONVERT,
        ),
        (_names("validate_memory_mapping_speck ValidateMapping"), _SPECK),
    ],
    "spikekit.validate_memory_speck": [(_names("ValidateMapping"), _SPECK)],
    "spikekit.backend.dynapcnn": [(_names("DynapcnnNetwork DVSLayer DynapcnnCompatibleNetwork"), _SPECK)],
    "spikekit.cnnutils": [
        (_names("conv_output_size compute_same_padding_size compute_padding infer_output_shape"), _CONVERT)
    ],
    "spikekit.hooks": [
        (
            _names(
                "conv_connection_map input_diff_hook firing_rate_hook firing_rate_per_neuron_hook "
                "conv_layer_synops_hook linear_layer_synops_hook ModelSynopsHook register_synops_hooks"
            ),
            _CONVERT,
        )
    ],
    "spikekit.nir": [(_names("to_nir from_nir"), _NIR)],
    "spikekit": [
        (_names("from_model Network SNNAnalyzer SynOpCounter load_sinabs_model"), _CONVERT),
        (_names("to_nir from_nir"), _NIR),
        (_names("validate_memory_mapping_speck ValidateMapping"), _SPECK),
    ],
}


def _provider_of(namespace: str, name: str) -> str | None:
    for names, distribution in _KNOWN_PROVIDERS.get(namespace, []):
        if name in names:
            return distribution
    return None


def _hint_for(what: str, name: str) -> str:
    if what == "backend" and name in ("fused-cpu", "triton"):
        return " pip install spikekit-kernels"
    if what == "backend" and name == "torch":
        return " pip install spikekit-neurons"
    if what == "target" and name.startswith(("speck", "dynapcnn")):
        return " pip install spikekit-speck"
    return ""
