"""The plugin host: a typed facade over pluggy's plugin manager.

Nothing else in spikekit calls ``pm.hook`` directly. The host

* discovers plugins lazily, on the first lookup (never on ``import spikekit``), from the entry-point group
  ``spikekit``;
* isolates faults: a plugin whose import raises (``sys.exit()`` included, never ``KeyboardInterrupt``), whose
  entry point is malformed, whose hook raises or returns something that raises while iterated, which returns a
  malformed record, or which takes a name another plugin already has, is reported as a
  :class:`~spikekit.errors.PluginWarning` naming its distribution (and the file and line where it failed) and
  skipped, while everything else keeps working; in strict mode the same raises :class:`~spikekit.errors.PluginError`;
* keeps the merged, validated records of every hook, and resolves names to objects (importing lazy references on
  first use). Which distribution provides a name is known from the records alone (each names its plugin and
  distribution); the core keeps no table of plugin names.

**Order and clashes.** Entry-point plugins register in a fixed order that does not depend on how or when they
were installed: distributions that more spikekit plugin distributions build on (through their ``Requires-Dist``,
directly or through others) register first, and distributions with as many register in alphabetical order of their
names (then entry-point names). So a distribution registers after every one it depends on, and a plugin that nothing
builds on cannot take a name from one that others build on. Plugins registered by hand come after all of them, in call order. When two plugins
provide the same name, the one registered *first* keeps it and the other's record is reported as a ``clash``
failure (raised in strict mode). So a plugin can never shadow the names of a plugin it depends on.

**Hook names.** A hook implementation (a function marked with :data:`spikekit.plugins.hookimpl`) whose name is not
one of the hooks in :mod:`spikekit.plugins.hookspecs` (a typo such as ``spikekit_export``) is reported as a failure
of its plugin (stage ``"hook name"``) instead of being ignored; the plugin's other hooks still count.

Switches (environment variables, read when the host is created; :func:`spikekit.plugins.configure` sets them
in code): ``SPIKEKIT_DISABLE_PLUGIN_AUTOLOAD=1`` (load no entry point, only plugins registered by hand),
``SPIKEKIT_BLOCK_PLUGINS=name,name`` (entry-point or distribution names to skip), ``SPIKEKIT_STRICT_PLUGINS=1``.
"""

from __future__ import annotations

import dataclasses
import difflib
import dis
import importlib.metadata as md
import os
import re
import sys
import threading
import traceback
from collections.abc import Iterable, Sequence
from typing import Any

import pluggy

from spikekit.errors import MissingNameError, MissingPluginImportError, PluginError, PluginWarning, warn_at_caller
from spikekit.plugins import hookspecs
from spikekit.plugins.records import (
    BackendSpec,
    CommandSpec,
    ConverterSpec,
    EncoderSpec,
    Export,
    Record,
    TargetSpec,
    install_hint,
)

__all__ = ["PluginHost", "PluginInfo", "PluginFailure", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "spikekit"
_TRUE = {"1", "true", "yes", "on"}
#: What a plugin's code may raise without ending the user's process: ``sys.exit()`` included, Ctrl-C not.
_GUARDED = (Exception, SystemExit)
_MISSING = object()
#: An entry point's value: ``package.module`` or ``package.module:attribute`` (dots allowed after the colon).
_EP_VALUE = re.compile(r"^\s*[A-Za-z_][\w.]*\s*(:\s*[A-Za-z_][\w.]*\s*)?(\[.*\])?\s*$")


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


@dataclasses.dataclass
class PluginFailure:
    """Why a plugin (or one of its records) was skipped."""

    plugin: str
    distribution: str
    stage: str  # "import", "register", "hook name", "hook <name>", "record", "clash", "blocked", "load"
    message: str
    #: ``file:line`` of the innermost frame of the exception, if one was raised.
    where: str = ""
    #: The formatted traceback, if an exception was raised (``spikekit plugins --traceback`` prints it).
    traceback: str = ""

    def describe(self) -> str:
        """``distribution (plugin plugin-name), stage: message`` in words."""
        if self.stage == "blocked":
            return f"{self.distribution} (plugin {self.plugin!r}) is blocked: {self.message}"
        at = f" (at {self.where})" if self.where else ""
        return f"{self.distribution} (plugin {self.plugin!r}) failed at {self.stage}: {self.message}{at}"


def _explain(exc: BaseException) -> tuple[str, str, str]:
    """``(Type: message, file:line of the innermost frame, formatted traceback)`` of a caught exception."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    return f"{type(exc).__name__}: {exc}", where, text


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
        self, *, autoload: bool | None = None, blocked: Iterable[str] | None = None, strict: bool | None = None
    ) -> None:
        self.autoload = (not _env_flag("SPIKEKIT_DISABLE_PLUGIN_AUTOLOAD")) if autoload is None else autoload
        env_block = os.environ.get("SPIKEKIT_BLOCK_PLUGINS", "")
        self.blocked = set(blocked) if blocked is not None else {b.strip() for b in env_block.split(",") if b.strip()}
        self.strict = _env_flag("SPIKEKIT_STRICT_PLUGINS") if strict is None else strict
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.failures: list[PluginFailure] = []
        #: Entry-point plugins that were not loaded because they are blocked (``stage == "blocked"``).
        self.blocked_plugins: list[PluginFailure] = []
        self._lock = threading.RLock()
        self._discovered = False
        self._distributions: dict[str, tuple[str, str]] = {}  # plugin name -> (distribution, version)
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
            self._distributions.pop(name, None)
            self._invalidate()

    def _register(self, plugin: object, name: str | None, distribution: str, version: str) -> str | None:
        try:
            registered = self.pm.register(plugin, name=name)
        except _GUARDED as exc:  # pluggy's validation errors, duplicate names
            self._fail(name or repr(plugin), distribution, "register", exc)
            return None
        if registered is None:  # blocked in pluggy
            return None
        self._distributions[registered] = (distribution, version)
        self._check_hook_names(plugin, registered, distribution)
        self._invalidate()
        return registered

    def _check_hook_names(self, plugin: object, name: str, distribution: str) -> None:
        """Report every hook implementation of ``plugin`` that matches no hook specification."""
        for attr in sorted(dir(plugin)):
            if attr in hookspecs.HOOK_RECORDS or attr.startswith("__"):
                continue
            try:
                marked = self.pm.parse_hookimpl_opts(plugin, attr) is not None
            except Exception:  # an attribute whose access raises is no hook implementation
                marked = False
            if not marked:
                continue
            close = difflib.get_close_matches(attr, list(hookspecs.HOOK_RECORDS), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            self._fail(name, distribution, "hook name", f"{attr!r} is not a spikekit hook{hint}")

    def _invalidate(self) -> None:
        self._records = None  # rebuilt on the next lookup, as a new table: see _remember
        self._objects.clear()

    def _ensure_discovered(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        if not self.autoload:
            return
        for ep, dist_name, dist_version in _registration_order(md.entry_points(group=ENTRY_POINT_GROUP)):
            if ep.name in self.blocked or dist_name in self.blocked:
                self.blocked_plugins.append(
                    PluginFailure(ep.name, dist_name, "blocked", "SPIKEKIT_BLOCK_PLUGINS or configure(blocked=...)")
                )
                continue
            if not _EP_VALUE.match(ep.value):
                message = f"malformed entry-point value {ep.value!r}; expected 'package.module:attribute'"
                self._fail(ep.name, dist_name, "import", message)
                continue
            try:
                plugin = ep.load()
            except _GUARDED as exc:
                self._fail(ep.name, dist_name, "import", exc)
                continue
            self._register(plugin, ep.name, dist_name, dist_version)

    def _fail(self, plugin: str, distribution: str, stage: str, problem: str | BaseException, what: str = "") -> None:
        """Record and report a failure; ``what`` (a record's kind and name) when only that record was skipped."""
        message, where, tb = _explain(problem) if isinstance(problem, BaseException) else (problem, "", "")
        self.failures.append(PluginFailure(plugin, distribution, stage, message, where, tb))
        at = f" (at {where})" if where else ""
        if what:
            why = message if message.startswith(stage) else f"{stage}: {message}{at}"
            text = f"{what} of plugin {plugin!r} (distribution {distribution!r}) skipped ({why}); its other names registered"
        else:
            text = f"spikekit plugin {plugin!r} from distribution {distribution!r} was skipped ({stage}): {message}{at}"
        if self.strict:
            raise PluginError(text)
        warn_at_caller(text, PluginWarning)

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
            dist, _ = self._distributions.get(plugin_name, (plugin_name, ""))
            for record in self._call_hook(impl.function, plugin_name, dist, hook_name):
                if not isinstance(record, record_type):  # also narrows the type for mypy
                    bad = f"{hook_name} must return {record_type.__name__} records, got {type(record).__name__}"
                    self._fail(plugin_name, dist, "record", bad)
                    continue
                try:
                    record.validate()
                except _GUARDED as exc:
                    self._fail(plugin_name, dist, "record", str(exc), _label(record))
                    continue
                first = merged.get(record.key())
                if first is not None:
                    clash = f"clash: already provided by plugin {first.plugin!r} of distribution {first.distribution!r}"
                    self._fail(plugin_name, dist, "clash", clash, _label(record))
                    continue
                merged[record.key()] = Owned(record, plugin_name, dist)
        return merged

    def _call_hook(self, function: Any, plugin: str, dist: str, hook_name: str) -> list[Any]:
        """The records one plugin's hook returns, as a list: the call *and* the iteration of what it returned are
        guarded, so a plugin whose result raises while being iterated breaks no other plugin's lookups."""
        try:
            result = function()
            if result is None:
                return []
            if not isinstance(result, Sequence) or isinstance(result, (str, bytes)):
                self._fail(plugin, dist, "record", f"{hook_name} must return a list, got {type(result).__name__}")
                return []
            return list(result)
        except _GUARDED as exc:
            self._fail(plugin, dist, f"hook {hook_name}", exc)
            return []

    # --------------------------------------------------------------------------------------------- typed lookups
    def exports(self, namespace: str) -> dict[str, Owned]:
        """``{name: Owned(Export)}`` for one namespace."""
        return {k[2]: o for k, o in self._all_records()["spikekit_exports"].items() if k[1] == namespace}

    def owned(self, kind: str) -> dict[str, Owned]:
        """``{name: Owned}`` of one kind of named record (``"backend"``, ``"target"``, ``"encoder"``,
        ``"command"``): each record with the plugin and distribution that provide it."""
        return {o.record.name: o for o in self._all_records()[f"spikekit_{kind}s"].values()}

    def _by_name(self, kind: str) -> dict[str, Any]:
        return {name: o.record for name, o in self.owned(kind).items()}

    def backends(self) -> dict[str, BackendSpec]:
        return self._by_name("backend")

    def targets(self) -> dict[str, TargetSpec]:
        return self._by_name("target")

    def encoders(self) -> dict[str, EncoderSpec]:
        return self._by_name("encoder")

    def commands(self) -> dict[str, CommandSpec]:
        return self._by_name("command")

    def load_command(self, name: str) -> Any:
        """The command object registered as ``name`` (imported on first use); :class:`PluginError` names its
        distribution when it cannot be imported."""
        return self._load_named("command", name, instantiate=False)

    def report_failure(self, owned: Owned, stage: str, message: str, exc: BaseException | None = None) -> None:
        """Report a failure of a plugin's contribution found outside the host (the command line uses it): a
        :class:`~spikekit.errors.PluginWarning` naming the distribution, or :class:`PluginError` in strict mode.
        Each (plugin, stage, message) is reported once."""
        with self._lock:
            if exc is not None:
                message = _explain(exc)[0]
            if any((f.plugin, f.stage, f.message) == (owned.plugin, stage, message) for f in self.failures):
                return
            self._fail(owned.plugin, owned.distribution, stage, exc or message, _label(owned.record))

    def converters(self, format: str, direction: str) -> dict[str, ConverterSpec]:
        """``{name: ConverterSpec}`` of one format and direction (see :class:`ConverterSpec`)."""
        return {
            k[3]: o.record  # type: ignore[misc]
            for k, o in self._all_records()["spikekit_converters"].items()
            if k[1] == format and k[2] == direction
        }

    # --------------------------------------------------------------------------------------------- resolution
    def resolve_export(self, namespace: str, name: str) -> Any:
        """The object exported as ``namespace.name``; :class:`PluginNotInstalledError` if nobody provides it."""
        key = ("export", namespace, name)
        cached = self._objects.get(key, _MISSING)  # one lookup: a registration may clear the cache meanwhile
        if cached is not _MISSING:
            return cached
        records = self._all_records()
        owned = records["spikekit_exports"].get(key)
        if owned is None:
            message = self._missing_message(f"{namespace}.{name}", namespace)
            # An ImportError under `from namespace import name` (Python would replace an AttributeError by a bare
            # "cannot import name"), an AttributeError otherwise (hasattr and getattr with a default work).
            if not (self._did_not_load() or not self.autoload or not self.exports(namespace)):
                # every plugin loaded and some fill this namespace: a name none provides is a plain AttributeError
                raise AttributeError(f"module {namespace!r} has no attribute {name!r}: {message}")
            if _importing_from():
                raise MissingPluginImportError(message)
            raise MissingNameError(f"module {namespace!r} has no attribute {name!r}: {message}")
        return self._remember(key, records, self._load(owned))

    def _remember(self, key: tuple[str, ...], records: dict[str, dict[tuple[str, ...], Owned]], obj: Any) -> Any:
        """Cache ``obj`` (loaded outside the lock, from ``records``) unless the plugins changed meanwhile (a
        registration replaces the record table); the first object cached wins."""
        with self._lock:
            if self._records is not records:
                return obj
            return self._objects.setdefault(key, obj)

    def _load(self, owned: Owned, instantiate: bool = False) -> Any:
        try:
            obj = owned.record.load()
            return obj() if instantiate and isinstance(obj, type) else obj  # a class: make its one instance
        except _GUARDED as exc:
            message, where, _ = _explain(exc)
            raise PluginError(
                f"{owned.record.kind} {owned.record.name!r} of plugin {owned.plugin!r} (distribution "
                f"{owned.distribution!r}) could not be loaded from {owned.record.ref!r}: {message} (at {where})"
            ) from exc

    def check_all(self) -> list[PluginFailure]:
        """Load every record's reference (what ``spikekit plugins --strict`` does); the new failures, each also
        reported as usual. Backends that declare a missing required module are left out (not usable here)."""
        before = len(self.failures)
        for table in self._all_records().values():
            for owned in table.values():
                if isinstance(owned.record, BackendSpec) and owned.record.missing_requirements():
                    continue
                try:
                    self._load(owned)
                except PluginError as exc:
                    self.report_failure(owned, "load", "", exc.__cause__ or exc)
        return self.failures[before:]

    def _load_named(self, kind: str, name: str, instantiate: bool = True) -> Any:
        key = (kind, name)
        cached = self._objects.get(key, _MISSING)  # one lookup: a registration may clear the cache meanwhile
        if cached is not _MISSING:
            return cached
        records = self._all_records()
        table = {o.record.name: o for o in records[f"spikekit_{kind}s"].values()}
        owned = table.get(name)
        if owned is None:
            known = ", ".join(sorted(table)) or "none"
            raise MissingPluginImportError(
                f"no {kind} named {name!r} is installed (installed: {known}). "
                + self._missing_message(f"{kind} {name!r}")
            )
        missing = owned.record.missing_requirements() if isinstance(owned.record, BackendSpec) else []
        if missing:
            raise MissingPluginImportError(
                f"{kind} {name!r} of distribution {owned.distribution!r} needs {', '.join(missing)}, not installed"
            )
        return self._remember(key, records, self._load(owned, instantiate))

    def load_backend(self, name: str) -> Any:
        """The backend instance registered as ``name``."""
        return self._load_named("backend", name)

    def load_target(self, name: str) -> Any:
        """The hardware-target instance registered as ``name``."""
        return self._load_named("target", name)

    def _did_not_load(self) -> list[PluginFailure]:
        """Installed plugins that provide nothing now: blocked, or failed to import, register or export."""
        self._ensure_discovered()
        gone = [f for f in self.failures if f.stage in ("import", "register") or f.stage.startswith("hook spikekit")]
        return [*gone, *self.blocked_plugins]

    def _missing_message(self, what: str, namespace: str = "") -> str:
        """Why ``what`` is not available, naming the installed distributions that did not load and why."""
        gone = self._did_not_load()
        if gone:
            reasons = "; ".join(f.describe() for f in gone)
            return f"{what} is provided by no loaded plugin; installed spikekit plugins that did not load: {reasons}"
        loaded = sorted({d for d, _ in self._distributions.values()})
        autoload = "" if self.autoload else " (plugin autoload is disabled: SPIKEKIT_DISABLE_PLUGIN_AUTOLOAD)"
        return (
            f"no installed spikekit plugin provides {what} (loaded: {', '.join(loaded) or 'none'}){autoload}; "
            + install_hint(namespace)
        )

    # --------------------------------------------------------------------------------------------- reporting
    def plugins(self) -> list[PluginInfo]:
        """Every registered plugin with its distribution, version and the names it provides."""
        records = self._all_records()
        infos: dict[str, PluginInfo] = {}
        for plugin_name, _plugin in self.pm.list_name_plugin():
            dist, version = self._distributions.get(plugin_name, (plugin_name, ""))
            infos[plugin_name] = PluginInfo(plugin_name, dist, version)
        for table in records.values():
            for owned in table.values():
                info = infos.get(owned.plugin)
                if info is not None:
                    rec = owned.record
                    label = f"{rec.namespace}.{rec.name}" if isinstance(rec, Export) else f"{rec.kind}:{rec.name}"
                    info.provides.append(label)
        return list(infos.values())


def _label(record: Record) -> str:
    """``name 'LIF' (export to spikekit.layers)``: a record in words, for failure reports."""
    where = f" to {record.namespace}" if isinstance(record, Export) else ""
    return f"name {record.name!r} ({record.kind}{where})"


def _importing_from() -> bool:
    """True when the nearest caller outside the core is executing ``from module import name``."""
    frame = sys._getframe(1)
    while frame is not None and frame.f_globals.get("__name__", "").partition(".")[0] == "spikekit":
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None or frame.f_lasti < 0:
        return False
    return frame.f_code.co_code[frame.f_lasti] == dis.opmap["IMPORT_FROM"]


_NORMALISE = re.compile(r"[-_.]+")


def _normalised(name: str) -> str:
    return _NORMALISE.sub("-", name).lower()


def _describe_dist(ep: md.EntryPoint) -> tuple[str, str, set[str]]:
    """(distribution name, version, normalised names it requires) of ``ep``'s distribution, from one metadata read."""
    dist = getattr(ep, "dist", None)
    if dist is None:  # an entry point not from an installed distribution: named after its top-level package
        return ep.value.split(":")[0].split(".")[0], "", set()
    meta = dist.metadata
    names: set[str] = set()
    for req in meta.get_all("Requires-Dist") or []:
        match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req)
        if match and "extra ==" not in req.replace("'", '"').replace('"', ""):
            names.add(_normalised(match.group(1)))
    return meta["Name"], meta["Version"] or "", names


def _registration_order(eps: Iterable[md.EntryPoint]) -> list[tuple[md.EntryPoint, str, str]]:
    """``(entry point, distribution, version)`` in registration order: distributions that more plugin distributions
    build on (directly or through others) first, then alphabetical. A distribution therefore always registers after
    the ones it depends on, and a plugin nothing builds on cannot take the names of one that others build on. Each
    distribution's metadata is read once."""
    infos = []
    for ep in eps:
        name, version, requires = _describe_dist(ep)
        infos.append((ep, name, version, _normalised(name), requires))
    plugin_dists = {i[3] for i in infos}
    needs: dict[str, set[str]] = {}
    for i in infos:
        needs.setdefault(i[3], set()).update((i[4] & plugin_dists) - {i[3]})
    dependents: dict[str, set[str]] = {d: set() for d in plugin_dists}
    for dist in plugin_dists:  # every distribution that ``dist`` builds on, transitively, counts ``dist``
        todo, seen = list(needs[dist]), set()
        while todo:
            base = todo.pop()
            if base not in seen:
                seen.add(base)
                dependents[base].add(dist)
                todo.extend(needs[base])
    ordered = sorted(infos, key=lambda i: (-len(dependents[i[3]] - {i[3]}), i[3], i[0].name))
    return [i[:3] for i in ordered]
