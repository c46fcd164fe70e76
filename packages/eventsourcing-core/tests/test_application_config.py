"""Application configuration: where settings come from, which wins, and the
errors for bad values. Every test runs on every installed backend."""

from __future__ import annotations

from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.utils import ConfigurationError


class Ledgers(Application[Any]):
    pass


class LedgersSnapshotting(Ledgers):
    is_snapshotting_enabled = True


class Entry(Aggregate):
    pass


class LedgersWithIntervals(Ledgers):
    snapshotting_intervals = {Entry: 5}


class LedgersWithClassEnv(Ledgers):
    env = {"IS_SNAPSHOTTING_ENABLED": "y"}


OpenApp = Callable[..., Any]


@pytest.fixture
def open_app(store_env: Dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[OpenApp]:
    # Start from an operating system environment without snapshot settings.
    for key in ("IS_SNAPSHOTTING_ENABLED", "LEDGERS_IS_SNAPSHOTTING_ENABLED"):
        monkeypatch.delenv(key, raising=False)
    apps: List[Application[Any]] = []

    def open_(cls: type = Ledgers, env: Optional[Dict[str, str]] = None) -> Any:
        app = cls(env={**store_env, **(env or {})})
        apps.append(app)
        return app

    yield open_
    for app in reversed(apps):
        app.close()


def is_snapshotting(app: Application[Any]) -> bool:
    return app.snapshots is not None


# -- the four means of enabling snapshotting --------------------------------


def test_snapshotting_enabled_by_constructor_env(open_app: OpenApp) -> None:
    assert is_snapshotting(open_app(env={"IS_SNAPSHOTTING_ENABLED": "y"}))
    assert not is_snapshotting(open_app(env={"IS_SNAPSHOTTING_ENABLED": "no"}))
    assert not is_snapshotting(open_app())


def test_snapshotting_enabled_by_operating_system_environment(
    open_app: OpenApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IS_SNAPSHOTTING_ENABLED", "true")
    assert is_snapshotting(open_app())


def test_snapshotting_enabled_by_class_attribute(open_app: OpenApp) -> None:
    assert is_snapshotting(open_app(LedgersSnapshotting))
    assert is_snapshotting(open_app(LedgersWithClassEnv))


def test_snapshotting_enabled_by_snapshotting_intervals(open_app: OpenApp) -> None:
    assert is_snapshotting(open_app(LedgersWithIntervals))


# -- precedence: constructor env > os.environ > class attributes -------------


def test_constructor_env_overrides_operating_system_environment(
    open_app: OpenApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IS_SNAPSHOTTING_ENABLED", "y")
    assert not is_snapshotting(open_app(env={"IS_SNAPSHOTTING_ENABLED": "n"}))
    monkeypatch.setenv("IS_SNAPSHOTTING_ENABLED", "n")
    assert is_snapshotting(open_app(env={"IS_SNAPSHOTTING_ENABLED": "y"}))


@pytest.mark.parametrize("cls", [LedgersSnapshotting, LedgersWithIntervals, LedgersWithClassEnv])
def test_constructor_env_and_os_environ_override_class_attributes(
    cls: type, open_app: OpenApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not is_snapshotting(open_app(cls, env={"IS_SNAPSHOTTING_ENABLED": "off"}))
    monkeypatch.setenv("IS_SNAPSHOTTING_ENABLED", "0")
    assert not is_snapshotting(open_app(cls))
    assert is_snapshotting(open_app(cls, env={"IS_SNAPSHOTTING_ENABLED": "on"}))


def test_application_name_prefixed_key_wins_over_plain_key(
    open_app: OpenApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert is_snapshotting(
        open_app(env={"IS_SNAPSHOTTING_ENABLED": "n", "LEDGERS_IS_SNAPSHOTTING_ENABLED": "y"})
    )
    # A prefixed key in os.environ wins over a plain key in the constructor env.
    monkeypatch.setenv("LEDGERS_IS_SNAPSHOTTING_ENABLED", "n")
    assert not is_snapshotting(open_app(env={"IS_SNAPSHOTTING_ENABLED": "y"}))
    # The prefix is this application's name only.
    assert is_snapshotting(
        open_app(LedgersSnapshotting, env={"OTHER_IS_SNAPSHOTTING_ENABLED": "n"})
    )


def test_effective_settings_are_visible_on_the_instance(
    open_app: OpenApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGERS_SOMETHING", "from-os")
    app = open_app(LedgersWithClassEnv, env={"ANOTHER": "from-arg"})
    assert app.env["IS_SNAPSHOTTING_ENABLED"] == "y"
    assert app.env["LEDGERS_SOMETHING"] == "from-os"
    assert app.env["ANOTHER"] == "from-arg"
    assert LedgersWithClassEnv.env == {"IS_SNAPSHOTTING_ENABLED": "y"}


# -- bad configuration fails at construction, naming variable and accepted values


def test_unknown_persistence_module_names_variable_and_installed_modules(
    open_app: OpenApp,
) -> None:
    with pytest.raises(ConfigurationError) as info:
        open_app(env={"PERSISTENCE_MODULE": "postgress"})
    message = str(info.value)
    assert "PERSISTENCE_MODULE='postgress'" in message
    assert "popo" in message


def test_prefixed_persistence_module_is_named_in_the_error(open_app: OpenApp) -> None:
    with pytest.raises(ConfigurationError, match="LEDGERS_PERSISTENCE_MODULE='nope'"):
        open_app(env={"LEDGERS_PERSISTENCE_MODULE": "nope"})


@pytest.mark.parametrize("variable", ["IS_SNAPSHOTTING_ENABLED", "LEDGERS_IS_SNAPSHOTTING_ENABLED"])
def test_invalid_boolean_names_variable_and_accepted_values(
    variable: str, open_app: OpenApp
) -> None:
    with pytest.raises(ConfigurationError) as info:
        open_app(env={variable: "maybe"})
    message = str(info.value)
    assert f"{variable}='maybe'" in message
    assert "'yes'" in message and "'no'" in message


@pytest.mark.parametrize("value", ["lots", "-1", "2.5"])
def test_invalid_cache_size_names_variable_and_accepted_values(
    value: str, open_app: OpenApp
) -> None:
    with pytest.raises(ConfigurationError) as info:
        open_app(env={"AGGREGATE_CACHE_MAXSIZE": value})
    message = str(info.value)
    assert f"AGGREGATE_CACHE_MAXSIZE={value!r}" in message
    assert "integer >= 0" in message


def test_invalid_cache_fastforward_names_variable(open_app: OpenApp) -> None:
    with pytest.raises(ConfigurationError, match="AGGREGATE_CACHE_FASTFORWARD='sometimes'"):
        open_app(env={"AGGREGATE_CACHE_MAXSIZE": "10", "AGGREGATE_CACHE_FASTFORWARD": "sometimes"})


def test_invalid_snapshotting_interval_names_the_class_attribute(
    open_app: OpenApp,
) -> None:
    class Bad(Ledgers):
        snapshotting_intervals = {Entry: 0}

    with pytest.raises(
        ConfigurationError, match=r"snapshotting_intervals.*expected an integer >= 1"
    ):
        open_app(Bad)


def test_unknown_compressor_names_variable(open_app: OpenApp) -> None:
    with pytest.raises(ConfigurationError, match="COMPRESSOR_TOPIC='nope'"):
        open_app(env={"COMPRESSOR_TOPIC": "nope"})


def test_configured_entirely_by_os_environ_with_a_factory_topic(
    backend: str, store_env: Dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The older INFRASTRUCTURE_FACTORY variable, given a topic, selects the backend."""
    for key, value in store_env.items():
        if key != "PERSISTENCE_MODULE":
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("PERSISTENCE_MODULE", raising=False)
    monkeypatch.setenv("INFRASTRUCTURE_FACTORY", f"eventsourcing.{backend}:Factory")

    with Ledgers() as app:
        assert type(app.factory).__module__.startswith(f"eventsourcing.{backend}")
        entry = Entry()
        app.save(entry)
        if backend != "popo":
            with Ledgers() as reopened:
                assert reopened.repository.get(entry.id).id == entry.id
