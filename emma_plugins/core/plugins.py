"""The plugin manager: built-ins plus guarded, de-duplicated, lazily loaded entry points.

pluggy's own ``load_setuptools_entrypoints`` stops at the first broken plugin and cannot say
which distribution provided a kind, so loading is done here: each entry point is imported
on its own, failures are recorded (or raised in strict mode), and each hook implementation
is called with a ``register`` bound to its provider's name.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

import pluggy

from emma_plugins.core import hookspecs
from emma_plugins.core.errors import DuplicateKindError, PluginLoadError, UnknownKindError
from emma_plugins.core.registry import Registration, Registry

ENTRY_POINT_GROUP = "emma_plugins"
STRICT_ENV = "EMMA_PLUGINS_STRICT"
NO_AUTOLOAD_ENV = "EMMA_PLUGINS_DISABLE_AUTOLOAD"
BUILTIN_PROVIDER = "emma-plugins"

#: family -> (hook name, label used in messages)
FAMILIES: dict[str, tuple[str, str]] = {
    "estimator": ("register_estimators", "estimator"),
    "correction": ("register_corrections", "correction"),
    "modal_energy": ("register_modal_energies", "modal energy"),
    "importance": ("register_importances", "importance"),
    "gate": ("register_gates", "gate"),
    "endogenous": ("register_endogenous", "endogenous attention"),
    "cross_modal": ("register_cross_modal", "cross-modal attention"),
    "network": ("register_networks", "network"),
    "corruption": ("register_corruptions", "corruption"),
    "dataset": ("register_datasets", "dataset"),
}

#: Families that extend the library itself rather than a model: spec sections and commands.
EXTENSIONS: dict[str, tuple[str, str]] = {
    "spec_section": ("register_spec_sections", "spec section"),
    "command": ("register_commands", "command"),
}

#: Every family a plugin can register into.
ALL_FAMILIES: dict[str, tuple[str, str]] = {**FAMILIES, **EXTENSIONS}

#: Modules of this package that register the built-in kinds.
BUILTIN_MODULES: tuple[str, ...] = (
    "emma_plugins.estimators._plugin",
    "emma_plugins.attention._plugin",
    "emma_plugins.sources._plugin",
    "emma_plugins.corruptions._plugin",
    "emma_plugins.networks._plugin",
    "emma_plugins.commands._plugin",
)


class EmmaPluginWarning(UserWarning):
    """A plugin failed to load and was skipped."""


@dataclass(frozen=True)
class LoadFailure:
    """A plugin that could not be loaded, with the distribution that shipped it."""

    name: str
    provider: str
    error: str


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


class PluginHost:
    """Owns the pluggy manager, the registries it fills and the record of failed plugins."""

    def __init__(self, *, autoload: bool | None = None) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self._autoload = autoload
        self._loaded = False
        self._providers: dict[str, str] = {}
        self._registries: dict[str, Registry] = {}
        self.failures: list[LoadFailure] = []

    # -- loading ---------------------------------------------------------------------------
    def load(self) -> None:
        """Load built-ins and, unless disabled, entry points. Idempotent."""
        if self._loaded:
            return
        self._loaded = True
        for module_name in BUILTIN_MODULES:
            self.register(importlib.import_module(module_name), BUILTIN_PROVIDER, module_name)
        autoload = self._autoload if self._autoload is not None else not _flag(NO_AUTOLOAD_ENV)
        if autoload:
            self._load_entry_points()

    def _load_entry_points(self) -> None:
        seen: set[tuple[str, str]] = set()
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if (ep.name, ep.value) in seen:
                continue  # the same distribution can be on sys.path twice
            seen.add((ep.name, ep.value))
            provider = getattr(ep.dist, "name", None) or ep.value
            # Two distributions may pick the same entry-point name; keep both plugins.
            name = f"{provider}:{ep.name}" if self.pm.has_plugin(ep.name) else ep.name
            try:
                plugin = ep.load()
            except KeyboardInterrupt:
                raise
            except BaseException as exc:  # SystemExit too: a plugin must not end the host
                self._fail(name, provider, f"import failed: {type(exc).__name__}: {exc}", exc)
                continue
            self.register(plugin, provider, name)

    def register(self, plugin: ModuleType | object, provider: str, name: str | None = None) -> None:
        """Register a plugin object in-process (what entry points do, for notebooks and tests)."""
        name = name or getattr(plugin, "__name__", None) or repr(plugin)
        try:
            self.pm.register(plugin, name=name)
            self._check_hook_names(plugin, name)
        except Exception as exc:
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            self._fail(name, provider, str(exc), exc, origin=_source_of(plugin))
            return
        self._providers[name] = provider
        self._registries.clear()  # rebuilt on next use, now including this plugin

    def _check_hook_names(self, plugin: object, name: str) -> None:
        known = [hook for hook, _ in ALL_FAMILIES.values()]
        for impl_name in dir(plugin):
            opts = self.pm.parse_hookimpl_opts(plugin, impl_name)
            if opts is None or impl_name in known:
                continue
            close = difflib.get_close_matches(impl_name, known, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise PluginLoadError(
                f"plugin {name!r} implements unknown hook {impl_name!r}.{hint} "
                f"Known hooks: {', '.join(known)}."
            )

    def _fail(
        self,
        name: str,
        provider: str,
        message: str,
        exc: BaseException,
        *,
        origin: tuple[str, int] | None = None,
        fallback: tuple[str, int] | None = None,
        outcome: str = "failed to load and was skipped",
    ) -> None:
        message = " ".join(message.split())  # one line, for warnings and `emma plugins`
        if _flag(STRICT_ENV):
            raise PluginLoadError(
                f"Plugin {name!r} from {provider!r} failed to load: {message} "
                f"(strict mode: unset {STRICT_ENV} to skip broken plugins)"
            ) from exc
        failure = LoadFailure(name, provider, message)
        if failure in self.failures:
            return  # a registry rebuilt after a new plugin arrived meets the same failure
        self.failures.append(failure)
        # The warning points at the plugin's own code, not at this module.
        filename, lineno = origin or _raised_at(exc, fallback)
        warnings.warn_explicit(
            f"emma_plugins: plugin {name!r} from {provider!r} {outcome}: {message}",
            EmmaPluginWarning,
            filename,
            lineno,
            module=name,
        )

    # -- registries ------------------------------------------------------------------------
    def registry(self, family: str) -> Registry:
        """The registry of one family, filled by every plugin's hook on first use."""
        if family not in ALL_FAMILIES:
            close = difflib.get_close_matches(family, ALL_FAMILIES, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise UnknownKindError(
                f"Unknown component family {family!r}.{hint} Families: {', '.join(ALL_FAMILIES)}."
            )
        self.load()
        if family not in self._registries:
            hook_name, label = ALL_FAMILIES[family]
            registry = _HostRegistry(family, label, self)
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                provider = self._providers.get(impl.plugin_name, impl.plugin_name)
                for entry in self._collect(impl, family, provider):
                    try:
                        registry.add(entry.kind, entry.factory, entry.params, provider=provider)
                    except DuplicateKindError as exc:
                        first = registry.get(entry.kind).provider
                        self._fail(
                            impl.plugin_name,
                            provider,
                            f"{exc} Kept the one from {first!r}.",
                            exc,
                            origin=_source_of(impl.function),
                            outcome="registers a kind that already exists",
                        )
            self._registries[family] = registry
        return self._registries[family]

    def _collect(self, impl: pluggy.HookImpl, family: str, provider: str) -> list[Registration]:
        """Run one plugin's registrar hook into a scratch registry, all or nothing.

        A hook that raises (or registers something malformed) is a broken plugin: it is
        reported like an import failure and none of its kinds of this family are kept.
        """
        hook_name, label = ALL_FAMILIES[family]
        scratch = Registry(family, label)

        def register(kind: str, factory: Callable[..., Any], params: Any = None) -> None:
            scratch.add(kind, factory, params, provider=provider)

        try:
            impl.function(register=register)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            message = f"{hook_name} raised {type(exc).__name__}: {exc}"
            self._fail(impl.plugin_name, provider, message, exc, fallback=_source_of(impl.function))
            return []
        return list(scratch)

    def notes(self) -> list[str]:
        """Why a kind may be missing: autoloading is off, or some plugins failed to load."""
        self.load()
        notes = []
        autoload = self._autoload if self._autoload is not None else not _flag(NO_AUTOLOAD_ENV)
        if not autoload:
            notes.append(
                f"installed plugins were not loaded ({NO_AUTOLOAD_ENV} is set or autoload is off)"
            )
        if self.failures:
            names = ", ".join(sorted({f"{f.name} ({f.provider})" for f in self.failures}))
            notes.append(f"some plugins failed to load: {names}; see `emma plugins`")
        return notes

    def providers(self) -> dict[str, str]:
        """Plugin name -> distribution that provides it."""
        self.load()
        return dict(self._providers)


class _HostRegistry(Registry):
    """A registry whose unknown-kind message says when plugins were not (all) loaded."""

    def __init__(self, family: str, label: str, host: PluginHost) -> None:
        super().__init__(family, label)
        self._host = host

    def unknown_message(self, kind: object) -> str:
        message = super().unknown_message(kind)
        notes = self._host.notes()
        return f"{message} Note: {'; '.join(notes)}." if notes else message


#: This package's folder: warnings about plugins point outside it, at the plugin's code.
_PACKAGE_DIR = str(Path(__file__).resolve().parents[1])


def _raised_at(exc: BaseException, fallback: tuple[str, int] | None = None) -> tuple[str, int]:
    """Where ``exc`` was raised: the innermost frame of its traceback outside this package."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not str(Path(f.filename).resolve()).startswith(_PACKAGE_DIR)
    ]
    if frames:
        return frames[-1].filename, frames[-1].lineno or 1
    return fallback or (__file__, 1)


def _source_of(obj: object) -> tuple[str, int]:
    """The file and first line of a plugin object (a module, a class instance, a function)."""
    target = obj if inspect.ismodule(obj) or inspect.isfunction(obj) else type(obj)
    try:
        filename = inspect.getsourcefile(target)
        _, lineno = inspect.getsourcelines(target)
    except (OSError, TypeError):
        return __file__, 1
    return filename or __file__, max(lineno, 1)


_host: PluginHost | None = None


def plugin_host() -> PluginHost:
    """The process-wide plugin host, created on first use."""
    global _host
    if _host is None:
        _host = PluginHost()
    return _host


def reset_plugins() -> None:
    """Forget loaded plugins; the next registry access loads everything again."""
    global _host
    _host = None


def get_registry(family: str) -> Registry:
    """The registry of a component family, e.g. ``get_registry("estimator").get("dae")``."""
    return plugin_host().registry(family)


def load_failures() -> list[LoadFailure]:
    """Plugins that failed to load (after loading them if not done yet)."""
    host = plugin_host()
    host.load()
    return list(host.failures)
