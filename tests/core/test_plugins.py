"""Plugin loading: built-ins plus real and fake entry points, guarded, lazy and de-duplicated."""

from __future__ import annotations

import importlib.metadata
import inspect
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest

from emma_plugins import hookimpl
from emma_plugins.core import hookspecs
from emma_plugins.core import plugins as plugins_module
from emma_plugins.core.errors import PluginLoadError, UnknownKindError
from emma_plugins.core.hookspecs import Register
from emma_plugins.core.plugins import (
    ALL_FAMILIES,
    BUILTIN_PROVIDER,
    ENTRY_POINT_GROUP,
    NO_AUTOLOAD_ENV,
    STRICT_ENV,
    EmmaPluginWarning,
    PluginHost,
    get_registry,
    load_failures,
    plugin_host,
    reset_plugins,
)

pytestmark = pytest.mark.usefixtures("clean_plugins")

FakeDist = Callable[..., Path]  # the `fake_dist` fixture of conftest.py


def estimator_plugin(*kinds: str, then: str = "") -> str:
    """Source of a plugin module registering ``kinds`` as tied DAEs, then running ``then``."""
    calls = "".join(f"    register({kind!r}, TiedDAE, TiedDAEParams)\n" for kind in kinds)
    return (
        "from emma_plugins import hookimpl\n"
        "from emma_plugins.estimators import TiedDAE, TiedDAEParams\n\n"
        "@hookimpl\n"
        "def register_estimators(register):\n" + calls + (f"    {then}\n" if then else "")
    )


BROKEN_ON_IMPORT = "raise RuntimeError('boom: a dependency is missing')\n"


def test_the_installed_distribution_registers_gaussian() -> None:
    registry = get_registry("estimator")
    assert registry.get("gaussian").provider == "emma-gaussian"
    assert registry.get("dae").provider == BUILTIN_PROVIDER
    assert plugin_host().providers()["gaussian"] == "emma-gaussian"
    assert load_failures() == []


def test_every_hookspec_has_a_family_and_back() -> None:
    specs = {
        name
        for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(function, f"{hookspecs.PROJECT}_spec")
    }
    assert specs == {hook for hook, _ in ALL_FAMILIES.values()}


def test_loading_is_lazy(fake_dist: FakeDist) -> None:
    fake_dist("emma-lazy", {"lazy": "emma_lazy"}, {"emma_lazy": estimator_plugin("lazy")})
    host = PluginHost()
    assert host.pm.get_plugins() == set()
    assert "emma_lazy" not in sys.modules  # nothing imported before a registry is used
    assert "lazy" in host.registry("estimator")
    assert "emma_lazy" in sys.modules


def test_loading_is_idempotent_and_registries_are_built_once() -> None:
    calls: list[str] = []

    class Counting:
        @hookimpl
        def register_estimators(self, register: Register) -> None:
            calls.append("called")

    host = PluginHost()
    host.register(Counting(), "emma-counting", "counting")
    host.load()
    plugins = set(host.pm.get_plugins())
    host.load()
    assert set(host.pm.get_plugins()) == plugins
    assert host.registry("estimator") is host.registry("estimator")
    assert calls == ["called"]


def test_reset_plugins_gives_a_fresh_host() -> None:
    first = get_registry("estimator")
    reset_plugins()
    assert get_registry("estimator") is not first
    assert get_registry("estimator").kinds() == first.kinds()


def test_plugin_broken_on_import_is_reported_and_skipped(fake_dist: FakeDist) -> None:
    fake_dist("emma-broken", {"broken": "emma_broken"}, {"emma_broken": BROKEN_ON_IMPORT})
    expected = (
        "emma_plugins: plugin 'broken' from 'emma-broken' failed to load and was skipped: "
        "import failed: RuntimeError: boom: a dependency is missing"
    )
    with pytest.warns(EmmaPluginWarning) as record:
        registry = get_registry("estimator")
    assert [str(w.message) for w in record] == [expected]
    assert {"dae", "gaussian"} <= set(registry.kinds())  # the others still load
    [failure] = load_failures()
    assert (failure.name, failure.provider) == ("broken", "emma-broken")
    assert failure.error == "import failed: RuntimeError: boom: a dependency is missing"


def test_strict_mode_turns_a_broken_plugin_into_an_error(
    fake_dist: FakeDist, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dist("emma-broken", {"broken": "emma_broken"}, {"emma_broken": BROKEN_ON_IMPORT})
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(PluginLoadError) as info:
        get_registry("estimator")
    assert str(info.value) == (
        "Plugin 'broken' from 'emma-broken' failed to load: import failed: RuntimeError: boom: "
        "a dependency is missing (strict mode: unset EMMA_PLUGINS_STRICT to skip broken plugins)"
    )
    assert isinstance(info.value.__cause__, RuntimeError)


@pytest.mark.parametrize("value", ["1", "true", "yes"])
def test_disable_autoload_loads_only_builtins(
    value: str, fake_dist: FakeDist, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dist("emma-broken", {"broken": "emma_broken"}, {"emma_broken": BROKEN_ON_IMPORT})
    monkeypatch.setenv(NO_AUTOLOAD_ENV, value)
    registry = get_registry("estimator")
    assert "dae" in registry and "gaussian" not in registry
    assert {entry.provider for entry in registry} == {BUILTIN_PROVIDER}
    assert load_failures() == []
    assert set(plugin_host().providers().values()) == {BUILTIN_PROVIDER}


@pytest.mark.parametrize("value", ["", "0", "false", "off"])
def test_autoload_stays_on_for_false_values(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NO_AUTOLOAD_ENV, value)
    assert "gaussian" in get_registry("estimator")


def test_autoload_argument_overrides_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NO_AUTOLOAD_ENV, "1")
    assert "gaussian" in PluginHost(autoload=True).registry("estimator")
    monkeypatch.delenv(NO_AUTOLOAD_ENV)
    assert "gaussian" not in PluginHost(autoload=False).registry("estimator")


def test_an_entry_point_seen_twice_is_loaded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    installed = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
    assert [ep.name for ep in installed].count("gaussian") == 1
    monkeypatch.setattr(plugins_module, "entry_points", lambda group: installed + installed)
    host = PluginHost()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        registry = host.registry("estimator")
    assert registry.get("gaussian").provider == "emma-gaussian"
    assert host.failures == []
    assert [name for name in host.providers() if name.endswith("gaussian")] == ["gaussian"]


def test_the_same_entry_point_name_from_two_distributions_loads_both(
    fake_dist: FakeDist,
) -> None:
    fake_dist("emma-other", {"gaussian": "emma_other"}, {"emma_other": estimator_plugin("other")})
    registry = get_registry("estimator")
    assert registry.get("gaussian").provider == "emma-gaussian"
    assert registry.get("other").provider == "emma-other"
    assert load_failures() == []


def test_duplicate_kind_keeps_the_first_and_warns_at_the_plugin(fake_dist: FakeDist) -> None:
    root = fake_dist(
        "emma-copycat", {"copycat": "emma_copycat"}, {"emma_copycat": estimator_plugin("dae")}
    )
    with pytest.warns(EmmaPluginWarning) as record:
        registry = get_registry("estimator")
    assert registry.get("dae").provider == "emma-plugins"
    (warning,) = [w for w in record if "copycat" in str(w.message)]
    assert str(warning.message).endswith(
        "Duplicate estimator kind 'dae': registered by 'emma-plugins' and again by "
        "'emma-copycat'. Rename one of them or uninstall one provider. Kept the one from "
        "'emma-plugins'."
    )
    assert warning.filename == str(root / "emma_copycat.py")  # the plugin's file, not ours
    assert [f.name for f in load_failures()] == ["copycat"]


def test_duplicate_kind_is_fatal_in_strict_mode(
    fake_dist: FakeDist, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dist(
        "emma-copycat", {"copycat": "emma_copycat"}, {"emma_copycat": estimator_plugin("dae")}
    )
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(PluginLoadError, match="Duplicate estimator kind 'dae'"):
        get_registry("estimator")


def test_a_plugin_raising_system_exit_at_import_is_a_failed_plugin(fake_dist: FakeDist) -> None:
    fake_dist("emma-exit", {"exit": "emma_exit"}, {"emma_exit": "raise SystemExit(0)\n"})
    with pytest.warns(EmmaPluginWarning, match="import failed: SystemExit") as record:
        assert "dae" in get_registry("estimator")
    assert record[0].filename.endswith("emma_exit.py") and record[0].lineno == 1
    assert [f.name for f in load_failures()] == ["exit"]


def test_unknown_kind_says_when_plugins_were_not_loaded(
    fake_dist: FakeDist, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(NO_AUTOLOAD_ENV, "1")
    with pytest.raises(UnknownKindError, match=f"were not loaded \\({NO_AUTOLOAD_ENV} is set"):
        get_registry("estimator").get("gaussian")
    reset_plugins()
    monkeypatch.delenv(NO_AUTOLOAD_ENV)
    fake_dist("emma-broken", {"broken": "emma_broken"}, {"emma_broken": "raise ImportError('x')"})
    with pytest.warns(EmmaPluginWarning):
        registry = get_registry("estimator")
    with pytest.raises(UnknownKindError, match=r"failed to load: broken \(emma-broken\)"):
        registry.get("nope")


def test_misspelled_hook_is_reported_with_a_suggestion(fake_dist: FakeDist) -> None:
    source = estimator_plugin("typo").replace("def register_estimators", "def register_estimator")
    fake_dist("emma-typo", {"typo": "emma_typo"}, {"emma_typo": source})
    with pytest.warns(EmmaPluginWarning) as record:
        registry = get_registry("estimator")
    message = str(record[0].message)
    assert message.startswith("emma_plugins: plugin 'typo' from 'emma-typo' failed to load")
    assert "implements unknown hook 'register_estimator'. Did you mean 'register_estimators'?" in (
        message
    )
    assert "typo" not in registry and "gaussian" in registry
    assert "typo" not in plugin_host().providers()


def test_hookimpl_with_a_wrong_argument_name_is_reported(fake_dist: FakeDist) -> None:
    source = estimator_plugin("x").replace("(register):", "(regsiter):")
    fake_dist("emma-args", {"args": "emma_args"}, {"emma_args": source})
    with pytest.warns(
        EmmaPluginWarning,
        match=r"plugin 'args' from 'emma-args'.* register_estimators\(regsiter\) Argument",
    ):
        get_registry("estimator")
    [failure] = load_failures()
    assert failure.name == "args"


def test_a_raising_hook_is_reported_and_none_of_its_kinds_are_kept(fake_dist: FakeDist) -> None:
    source = estimator_plugin("half", then="raise ImportError('needs scipy>=9')")
    fake_dist("emma-half", {"half": "emma_half"}, {"emma_half": source})
    with pytest.warns(EmmaPluginWarning, match="register_estimators raised ImportError: needs"):
        registry = get_registry("estimator")
    assert "half" not in registry
    assert {"dae", "gaussian"} <= set(registry.kinds())
    [failure] = load_failures()
    assert (failure.name, failure.provider) == ("half", "emma-half")
    # the failure is recorded once, even when the registry is rebuilt
    plugin_host().registry("estimator")
    assert len(load_failures()) == 1


def test_a_malformed_registration_is_a_broken_plugin(fake_dist: FakeDist) -> None:
    source = estimator_plugin() + "    register('bad', TiedDAE, dict)\n"
    fake_dist("emma-bad", {"bad": "emma_bad"}, {"emma_bad": source})
    with pytest.warns(EmmaPluginWarning, match="must be a pydantic BaseModel subclass"):
        assert "bad" not in get_registry("estimator")


def test_a_raising_hook_fails_in_strict_mode(
    fake_dist: FakeDist, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = estimator_plugin("half", then="raise ImportError('needs scipy>=9')")
    fake_dist("emma-half", {"half": "emma_half"}, {"emma_half": source})
    monkeypatch.setenv(STRICT_ENV, "1")
    with pytest.raises(PluginLoadError, match="'half' from 'emma-half' failed to load"):
        get_registry("estimator")


def test_in_process_plugin_registered_after_use_rebuilds_the_registry() -> None:
    class Notebook:
        @hookimpl
        def register_estimators(self, register: Register) -> None:
            from emma_plugins.estimators import TiedDAE

            register("notebook", TiedDAE)

    host = plugin_host()
    assert "notebook" not in get_registry("estimator")
    host.register(Notebook(), "my-notebook")
    registry = get_registry("estimator")
    assert registry.get("notebook").provider == "my-notebook"
    assert "dae" in registry


def test_unknown_family_suggests_the_closest() -> None:
    with pytest.raises(UnknownKindError) as info:
        get_registry("estimators")
    assert str(info.value).startswith(
        "Unknown component family 'estimators'. Did you mean 'estimator'? Families: estimator, "
    )


def test_unknown_kind_through_the_plugin_registry() -> None:
    registry = get_registry("estimator")
    with pytest.raises(UnknownKindError) as info:
        registry.get("dea")
    assert str(info.value) == (
        f"Unknown estimator 'dea'. Did you mean 'dae'? Available: {', '.join(registry.kinds())}."
    )
    assert "gaussian" in registry.kinds()
