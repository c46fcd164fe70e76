"""Topics, retries and boolean parsing."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

import pytest

from eventsourcing import utils
from eventsourcing.utils import (
    TopicError,
    clear_topic_cache,
    get_topic,
    register_topic,
    resolve_topic,
    retry,
    strtobool,
)


class Outer:
    class Inner:
        pass


def test_get_topic_is_module_and_qualified_name() -> None:
    assert get_topic(UUID) == "uuid:UUID"
    assert get_topic(Outer.Inner) == f"{__name__}:Outer.Inner"
    # Cached: the same string object is returned.
    assert get_topic(Outer.Inner) is get_topic(Outer.Inner)


def test_resolve_topic_round_trips_and_resolves_modules() -> None:
    assert resolve_topic(get_topic(Decimal)) is Decimal
    assert resolve_topic(get_topic(Outer.Inner)) is Outer.Inner
    assert resolve_topic("eventsourcing.utils") is utils


def test_resolve_topic_errors_name_the_topic_and_the_reason() -> None:
    with pytest.raises(TopicError) as exc_info:
        resolve_topic("no_such_module_xyz:Thing")
    # 9.1's wording: the topic, then Python's reason.
    assert str(exc_info.value) == (
        "Failed to resolve topic 'no_such_module_xyz:Thing': No module named 'no_such_module_xyz'"
    )
    with pytest.raises(TopicError) as exc_info:
        resolve_topic(f"{__name__}:Outer.Missing")
    assert str(exc_info.value) == (
        f"Failed to resolve topic '{__name__}:Outer.Missing': "
        "type object 'Outer' has no attribute 'Missing'"
    )
    with pytest.raises(TopicError, match="a topic is a non-empty string"):
        resolve_topic("")


def test_register_topic_keeps_old_topics_resolving() -> None:
    try:
        register_topic("oldpackage.oldmodule:OldName", Outer.Inner)
        assert resolve_topic("oldpackage.oldmodule:OldName") is Outer.Inner
        # A renamed module: every class in it resolves under the old module name.
        register_topic("oldpackage.oldutils", utils)
        assert resolve_topic("oldpackage.oldutils:strtobool") is strtobool
        with pytest.raises(TopicError, match="is already registered for topic"):
            register_topic("oldpackage.oldmodule:OldName", Outer)
    finally:
        clear_topic_cache()
    with pytest.raises(TopicError):
        resolve_topic("oldpackage.oldmodule:OldName")


@pytest.mark.parametrize("value", ["y", "yes", "t", "true", "on", "1", "YES", "True"])
def test_strtobool_true_values(value: str) -> None:
    assert strtobool(value) is True


@pytest.mark.parametrize("value", ["n", "no", "f", "false", "off", "0", "No", "FALSE"])
def test_strtobool_false_values(value: str) -> None:
    assert strtobool(value) is False


@pytest.mark.parametrize("value", ["", "2", "maybe", "enabled", "yess"])
def test_strtobool_rejects_anything_else(value: str) -> None:
    with pytest.raises(ValueError, match=f"invalid truth value {value!r}"):
        strtobool(value)


def test_retry_retries_the_given_exceptions_up_to_max_attempts() -> None:
    calls = []

    @retry(ValueError, max_attempts=3)
    def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise ValueError("not yet")
        return "done"

    assert flaky() == "done"
    assert len(calls) == 3


def test_retry_gives_up_after_max_attempts_and_reraises() -> None:
    calls = []

    @retry([KeyError, ValueError], max_attempts=2)
    def always_fails() -> None:
        calls.append(1)
        raise KeyError("gone")

    with pytest.raises(KeyError):
        always_fails()
    assert len(calls) == 2


def test_retry_does_not_retry_other_exceptions() -> None:
    calls = []

    @retry(ValueError, max_attempts=5)
    def fails() -> None:
        calls.append(1)
        raise TypeError("different")

    with pytest.raises(TypeError):
        fails()
    assert len(calls) == 1


def test_retry_used_bare_calls_once() -> None:
    calls = []

    @retry
    def fails() -> None:
        calls.append(1)
        raise ValueError

    with pytest.raises(ValueError):
        fails()
    assert len(calls) == 1


def test_retry_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="expected exception classes"):
        retry(["not an exception"])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="max_attempts must be an int >= 1"):
        retry(ValueError, max_attempts=0)


# Names eventsourcing 9.1 exported from this module, with their 9.1 meaning.


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_attempts": 2.0}, "'max_attempts' must be an int: 2.0"),
        ({"max_attempts": "3"}, "'max_attempts' must be an int: '3'"),
        ({"wait": "1"}, "'wait' must be a float: '1'"),
        ({"stall": None}, "'stall' must be a float: None"),
    ],
)
def test_retry_rejects_arguments_of_the_wrong_type_with_type_error_as_in_91(
    kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(TypeError, match=f"^{message}$"):
        retry(ValueError, **kwargs)  # type: ignore[arg-type]


def test_retry_accepts_int_and_float_waits() -> None:
    retry(ValueError, max_attempts=2, wait=0, stall=0.0)


def test_get_module_imports_by_name() -> None:
    import decimal

    assert utils.get_module("decimal") is decimal
    with pytest.raises(ModuleNotFoundError):
        utils.get_module("no_such_module_here")


def test_resolve_attr_follows_a_dotted_path() -> None:
    import sys

    module = sys.modules[__name__]
    assert utils.resolve_attr(module, "") is module
    assert utils.resolve_attr(module, "Outer.Inner") is Outer.Inner
    with pytest.raises(AttributeError, match="Missing"):
        utils.resolve_attr(module, "Outer.Missing")


def test_is_py310_and_get_method_name_as_in_919() -> None:
    import sys

    class Ship:
        def sail(self) -> None:
            pass

    assert utils.is_py310() is (sys.version_info[:2] == (3, 10))
    expected = Ship.sail.__qualname__ if sys.version_info[:2] == (3, 10) else "sail"
    assert utils.get_method_name(Ship.sail) == expected


def test_configuration_errors_are_environment_errors_as_in_91() -> None:
    from eventsourcing.persistence import InfrastructureFactory

    with pytest.raises(EnvironmentError, match="PERSISTENCE_MODULE='no-such-module'"):
        InfrastructureFactory.construct(env={"PERSISTENCE_MODULE": "no-such-module"})
    assert issubclass(utils.ConfigurationError, ValueError)
