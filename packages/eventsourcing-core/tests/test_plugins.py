"""Selecting persistence modules, ciphers and compressors through the plugin manager."""

from __future__ import annotations

import importlib.metadata
from typing import Any, Iterator, Mapping

import pytest

from eventsourcing import plugins
from eventsourcing.compressor import ZlibCompressor
from eventsourcing.hookspecs import hookimpl
from eventsourcing.persistence import InfrastructureFactory
from eventsourcing.plugins import (
    PluginError,
    get_plugin_manager,
    persistence_modules,
    resolve_compressor,
    resolve_persistence_module,
)
from eventsourcing.popo import Factory as POPOFactory
from eventsourcing.utils import ConfigurationError, TopicError

SHIPPED = {
    "popo": "eventsourcing.popo",
    "sqlite": "eventsourcing.sqlite",
    "postgres": "eventsourcing.postgres",
}


def test_entry_points_list_core_and_every_backend() -> None:
    names = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="eventsourcing")}
    assert names["core"] == "eventsourcing.builtin"  # provides popo and zlib
    assert names["sqlite"] == "eventsourcing.sqlite.plugin"
    assert names["postgres"] == "eventsourcing.postgres.plugin"
    assert names["aes"] == "eventsourcing.cipher.plugin"


def test_plugin_manager_is_created_once_and_loads_entry_points_once() -> None:
    manager = get_plugin_manager()
    assert get_plugin_manager() is manager
    registered = {name for name, _ in manager.list_name_plugin()}
    assert {"core", "sqlite", "postgres", "aes"} <= registered


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_select_backend_by_name(name: str) -> None:
    factory_cls = resolve_persistence_module(name)
    assert factory_cls.__module__.split(".")[:2] == SHIPPED[name].split(".")
    assert issubclass(factory_cls, InfrastructureFactory)


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_select_backend_by_topic_and_by_module(name: str) -> None:
    by_name = resolve_persistence_module(name)
    module = SHIPPED[name]
    assert resolve_persistence_module(f"{module}:Factory") is by_name
    assert resolve_persistence_module(module) is by_name


def test_construct_uses_persistence_module_and_the_older_variable() -> None:
    for variable in ("PERSISTENCE_MODULE", "INFRASTRUCTURE_FACTORY"):
        factory = InfrastructureFactory.construct(env={variable: "eventsourcing.popo:Factory"})
        assert type(factory) is POPOFactory
    # The default is the in-memory backend.
    assert type(InfrastructureFactory.construct(env={})) is POPOFactory


def test_application_prefixed_variable_takes_precedence() -> None:
    env = {"WORLDS_PERSISTENCE_MODULE": "popo", "PERSISTENCE_MODULE": "no-such-backend"}
    factory = InfrastructureFactory.construct(application_name="Worlds", env=env)
    assert type(factory) is POPOFactory
    # Another application reads the unprefixed value, and fails on it.
    with pytest.raises(ConfigurationError, match="PERSISTENCE_MODULE='no-such-backend'"):
        InfrastructureFactory.construct(application_name="Other", env=env)


def test_unknown_name_error_names_variable_value_installed_and_distribution() -> None:
    with pytest.raises(ConfigurationError) as exc_info:
        InfrastructureFactory.construct(env={"PERSISTENCE_MODULE": "postgress"})
    installed = ", ".join(sorted(persistence_modules()))
    assert str(exc_info.value) == (
        f"PERSISTENCE_MODULE='postgress' is not an installed persistence module; "
        f"installed: {installed}."
    )


def test_unknown_name_error_uses_the_variable_that_was_set() -> None:
    with pytest.raises(ConfigurationError, match=r"^WORLDS_PERSISTENCE_MODULE='nope' is not"):
        InfrastructureFactory.construct("Worlds", env={"WORLDS_PERSISTENCE_MODULE": "nope"})


@pytest.mark.parametrize(
    "value, hint",
    [
        (
            "postgres",
            "To use 'postgres', install it: pip install eventsourcing-postgres "
            "(from a clone of the repository: pip install ./packages/eventsourcing-postgres)",
        ),
        (
            "postgress",
            "Also available: 'sqlite' (eventsourcing-sqlite), 'postgres' "
            "(eventsourcing-postgres); install one with pip install <distribution> "
            "(from a clone of the repository: pip install ./packages/<distribution>).",
        ),
    ],
)
def test_uninstalled_name_says_which_distribution_to_install_and_how(
    monkeypatch: pytest.MonkeyPatch, value: str, hint: str
) -> None:
    installed = {"popo": POPOFactory}
    monkeypatch.setattr(plugins, "persistence_modules", lambda: installed)
    with pytest.raises(ConfigurationError) as exc_info:
        resolve_persistence_module(value)
    assert str(exc_info.value) == (
        f"PERSISTENCE_MODULE={value!r} is not an installed persistence module; "
        f"installed: popo. {hint}"
    )


def test_topic_that_does_not_resolve() -> None:
    with pytest.raises(TopicError) as exc_info:
        resolve_persistence_module("eventsourcing.sqlit:Factory")
    message = str(exc_info.value)
    assert message.startswith("PERSISTENCE_MODULE='eventsourcing.sqlit:Factory' cannot be used:")
    assert "No module named 'eventsourcing.sqlit'" in message

    with pytest.raises(TopicError) as exc_info:
        resolve_persistence_module("eventsourcing.popo:Factroy")
    assert "module 'eventsourcing.popo' has no attribute 'Factroy'" in str(exc_info.value)


def test_topic_of_something_that_is_not_a_factory() -> None:
    with pytest.raises(ConfigurationError, match="is not a InfrastructureFactory subclass"):
        resolve_persistence_module("eventsourcing.compressor:ZlibCompressor")


def test_empty_value_is_rejected_with_what_is_accepted() -> None:
    with pytest.raises(ConfigurationError, match="expected the name of an installed"):
        resolve_persistence_module("  ")


def test_compressor_by_name_and_topic() -> None:
    assert resolve_compressor("zlib") is ZlibCompressor
    assert resolve_compressor("eventsourcing.compressor:ZlibCompressor") is ZlibCompressor
    factory = InfrastructureFactory.construct(env={"COMPRESSOR_TOPIC": "zlib"})
    assert isinstance(factory.compressor(), ZlibCompressor)
    with pytest.raises(ConfigurationError, match="COMPRESSOR_TOPIC='lz4' is not an installed"):
        InfrastructureFactory.construct(env={"COMPRESSOR_TOPIC": "lz4"}).compressor()


class _Claimer:
    """A plugin claiming names that other plugins already claim."""

    def __init__(self, modules: Mapping[str, Any]) -> None:
        self.modules = modules

    @hookimpl
    def eventsourcing_persistence_modules(self) -> Mapping[str, Any]:
        return self.modules

    @hookimpl
    def eventsourcing_compressors(self) -> Mapping[str, Any]:
        return {"zlib": ZlibCompressor}


@pytest.fixture
def claimer() -> Iterator[_Claimer]:
    plugin = _Claimer({"sqlite": POPOFactory})
    manager = get_plugin_manager()
    manager.register(plugin, name="third-party-claimer")
    try:
        yield plugin
    finally:
        manager.unregister(plugin)


def test_two_plugins_claiming_one_name_is_an_error_naming_both(claimer: _Claimer) -> None:
    with pytest.raises(PluginError) as exc_info:
        persistence_modules()
    assert str(exc_info.value) == (
        "Persistence module name 'sqlite' is claimed by two plugins: "
        "'sqlite' and 'third-party-claimer'"
    )
    with pytest.raises(PluginError, match="'core' and 'third-party-claimer'"):
        resolve_compressor("zlib")


def test_selection_works_again_once_the_conflict_is_gone(claimer: _Claimer) -> None:
    get_plugin_manager().unregister(claimer)
    try:
        assert resolve_persistence_module("sqlite").__module__.startswith("eventsourcing.sqlite")
    finally:
        get_plugin_manager().register(claimer, name="third-party-claimer")


def test_a_plugin_that_fails_is_named() -> None:
    class Broken:
        @hookimpl
        def eventsourcing_persistence_modules(self) -> Mapping[str, Any]:
            raise ImportError("No module named 'somedriver'")

    manager = get_plugin_manager()
    broken = Broken()
    manager.register(broken, name="broken-backend")
    try:
        with pytest.raises(PluginError, match="plugin 'broken-backend' failed"):
            persistence_modules()
    finally:
        manager.unregister(broken)


def test_a_third_party_backend_is_selected_by_its_name() -> None:
    class MyFactory(POPOFactory):
        pass

    plugin = _Claimer({"mybackend": MyFactory})
    manager = get_plugin_manager()
    manager.register(plugin, name="mybackend-plugin")
    try:
        factory = InfrastructureFactory.construct(env={"PERSISTENCE_MODULE": "mybackend"})
        assert type(factory) is MyFactory
    finally:
        manager.unregister(plugin)


def test_plugin_transcodings_include_the_defaults() -> None:
    names = {t.name for t in plugins.transcodings()}
    assert {"uuid_hex", "decimal_str", "datetime_iso"} <= names
