"""The owner-balances projection of the bank, run by ProjectionRunner on every backend."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Dict, Sequence, Tuple

import pytest

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.projection import ProjectionRunner
from examples.bank.application import BankAccounts
from examples.bank.projection import VIEWS, Change, OwnerBalances, OwnerBalancesView

Runner = ProjectionRunner[BankAccounts, OwnerBalances, OwnerBalancesView]


def runner(backend: str, env: Dict[str, str], projection: type = OwnerBalances) -> Runner:
    return ProjectionRunner(
        application_class=BankAccounts,
        projection_class=projection,
        view_class=VIEWS[backend],
        env=env,
    )


def last_id(app: BankAccounts) -> int:
    return app.recorder.max_notification_id()


def test_balances_by_owner_are_read_after_writing(backend: str, store_env: Dict[str, str]) -> None:
    with runner(backend, store_env) as r:
        app = r.app
        ann1 = app.open_account("Ann", "ann@example.com")
        ann2 = app.open_account("Ann", "ann@example.com")
        bob = app.open_account("Bob", "bob@example.com")
        app.deposit(ann1, Decimal("100.00"))
        app.deposit(ann2, Decimal("0.50"))
        app.transfer(ann1, bob, Decimal("30.25"))
        r.wait(last_id(app), timeout=30)
        assert r.view.balance_of("Ann") == Decimal("70.25")
        assert r.view.balance_of("Bob") == Decimal("30.25")
        assert r.view.balance_of("Cat") == Decimal("0")
        assert r.view.max_tracking_id(app.name) == last_id(app)


def test_wait_times_out_for_a_notification_not_yet_recorded(
    backend: str, store_env: Dict[str, str]
) -> None:
    with runner(backend, store_env) as r:
        r.app.open_account("Ann", "ann@example.com")
        with pytest.raises(TimeoutError):
            r.wait(last_id(r.app) + 1, timeout=0.1)


def test_a_restarted_runner_resumes_after_its_last_tracking_record(
    backend: str, store_env: Dict[str, str]
) -> None:
    if backend == "popo":
        pytest.skip("an in-memory application and view do not outlive their runner")
    with runner(backend, store_env) as r:
        ann = r.app.open_account("Ann", "ann@example.com")
        r.app.deposit(ann, Decimal("10.00"))
        r.wait(last_id(r.app), timeout=30)
    with BankAccounts(env=store_env) as app:
        app.deposit(ann, Decimal("5.00"))  # while no runner runs
    with runner(backend, store_env) as r:
        r.app.deposit(ann, Decimal("1.00"))
        r.wait(last_id(r.app), timeout=30)
        assert r.view.balance_of("Ann") == Decimal("16.00")


def test_a_tracked_page_is_applied_once(backend: str, store_env: Dict[str, str]) -> None:
    with runner(backend, store_env) as r:
        ann = r.app.open_account("Ann", "ann@example.com")
        r.app.deposit(ann, Decimal("10.00"))
        r.wait(last_id(r.app), timeout=30)
        again = [Change(ann, cents=1000)]
        tracking = [Tracking(r.app.name, last_id(r.app))]
        with pytest.raises(IntegrityError):
            r.view.apply(again, tracking)
        # A page is all or nothing: a new record next to a repeated one changes nothing.
        with pytest.raises(IntegrityError):
            r.view.apply(again, [Tracking(r.app.name, 10_000), *tracking])
        assert r.view.balance_of("Ann") == Decimal("10.00")
        assert r.view.max_tracking_id(r.app.name) == last_id(r.app)


class Failing(OwnerBalances):
    """Fails on every deposit of 13.00 (a bug in a projection, say)."""

    name = "ownerbalances"

    def process_events(self, events: Sequence[Tuple[Any, Tracking]]) -> None:
        for domain_event, _ in events:
            if getattr(domain_event, "amount", None) == Decimal("13.00"):
                raise ValueError("unlucky amount")
        super().process_events(events)


def test_an_error_stops_the_runner_and_the_event_is_processed_after_a_restart(
    backend: str, store_env: Dict[str, str]
) -> None:
    if backend == "popo":
        pytest.skip("an in-memory application and view do not outlive their runner")
    r = runner(backend, store_env, projection=Failing)
    ann = r.app.open_account("Ann", "ann@example.com")
    r.app.deposit(ann, Decimal("13.00"))
    with pytest.raises(ValueError, match="unlucky amount"):
        r.wait(last_id(r.app), timeout=30)
    with pytest.raises(ValueError, match="unlucky amount"):
        r.run_forever(timeout=30)
    with pytest.raises(ValueError, match="unlucky amount"):
        r.__exit__(None, None, None)
    # The failed page was not recorded, so a fixed projection processes it.
    with runner(backend, store_env) as fixed:
        fixed.wait(last_id(fixed.app), timeout=30)
        assert fixed.view.balance_of("Ann") == Decimal("13.00")


def test_the_error_is_raised_by_exit(backend: str, store_env: Dict[str, str]) -> None:
    with pytest.raises(ValueError, match="unlucky amount"):
        with runner(backend, store_env, projection=Failing) as r:
            ann = r.app.open_account("Ann", "ann@example.com")
            r.app.deposit(ann, Decimal("13.00"))
            assert r.is_interrupted.wait(30)


def test_a_view_class_of_another_backend_is_refused(
    backend: str, store_env: Dict[str, str]
) -> None:
    other = "sqlite" if backend != "sqlite" else "popo"
    with pytest.raises(TypeError, match="view class of this backend subclasses"):
        ProjectionRunner(
            application_class=BankAccounts,
            projection_class=OwnerBalances,
            view_class=VIEWS[other],
            env=store_env,
        )
