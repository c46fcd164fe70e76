"""Application and recorder subscriptions, on every backend (``store_env``)."""

from __future__ import annotations

import itertools
import threading
from typing import Any, Dict, List, Tuple

import pytest

from eventsourcing.application import Application, ApplicationSubscription
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import Tracking
from eventsourcing.subscription import Subscription
from eventsourcing.utils import get_topic


class Dog(Aggregate):
    def __init__(self, name: str) -> None:
        self.name = name
        self.tricks: List[str] = []

    @event("TrickAdded")
    def add_trick(self, trick: str) -> None:
        self.tricks.append(trick)


class Dogs(Application[Dog]):
    pass


def collect(subscription: ApplicationSubscription, count: int) -> List[Tuple[Any, Tracking]]:
    got: List[Tuple[Any, Tracking]] = []
    for item in subscription:
        got.append(item)
        if len(got) == count:
            break
    return got


def test_catch_up_then_live_events_with_tracking(store_env: Dict[str, str]) -> None:
    with Dogs(env=store_env) as app:
        dog = Dog("Fido")
        dog.add_trick("roll")
        recorded = app.save(dog)
        with app.subscribe() as subscription:
            first = collect(subscription, 2)
            assert [type(e).__name__ for e, _ in first] == ["Created", "TrickAdded"]
            assert [t for _, t in first] == [
                Tracking("Dogs", r.notification.id) for r in recorded if r.notification
            ]
            got: List[Tuple[Any, Tracking]] = []
            reader = threading.Thread(target=lambda: got.extend(collect(subscription, 1)))
            reader.start()
            dog.add_trick("sit")
            (live,) = app.save(dog)
            reader.join()
        assert got[0][0].trick == "sit"
        assert live.notification is not None
        assert got[0][1] == Tracking("Dogs", live.notification.id)


def test_gt_and_topics_select_events(store_env: Dict[str, str]) -> None:
    with Dogs(env=store_env) as app:
        dogs = [Dog(n) for n in ("a", "b", "c")]
        for dog in dogs:
            dog.add_trick("roll")
        recordings = app.save(*dogs)
        ids = [r.notification.id for r in recordings if r.notification]
        topic = get_topic(Dog.TrickAdded)
        with app.subscribe(gt=ids[2], topics=[topic]) as subscription:
            got = collect(subscription, 2)
        assert [t.notification_id for _, t in got] == [ids[3], ids[5]]
        assert {e.originator_id for e, _ in got} == {dogs[1].id, dogs[2].id}


def test_stop_from_another_thread_ends_a_blocked_iteration(store_env: Dict[str, str]) -> None:
    with Dogs(env=store_env) as app:
        subscription = app.subscribe()
        waiting = threading.Event()
        ended = threading.Event()

        def iterate() -> None:
            waiting.set()
            for _ in subscription:
                pass
            ended.set()

        thread = threading.Thread(target=iterate, daemon=True)
        thread.start()
        waiting.wait()
        subscription.stop()
        thread.join(timeout=30)
        assert ended.is_set()
        with subscription:
            pass  # closing a stopped subscription is fine
        assert list(subscription) == []


def test_subscription_ends_with_its_with_block(store_env: Dict[str, str]) -> None:
    with Dogs(env=store_env) as app:
        app.save(Dog("a"))
        with app.subscribe() as subscription:
            assert len(collect(subscription, 1)) == 1
        assert subscription.next_page() == []


@pytest.mark.parametrize(
    ("gt", "topics", "error", "words"),
    [
        (-1, (), ValueError, "gt must not be negative"),
        ("1", (), TypeError, "gt must be an int or None, got str"),
        (True, (), TypeError, "gt must be an int or None, got bool"),
        (1.0, (), TypeError, "gt must be an int or None, got float"),
        (None, "a:B", TypeError, "not a single str"),
        (None, [b"a:B"], TypeError, "topics must be str, got bytes"),
        (None, 3, TypeError, "topics must be a sequence of str, got int"),
    ],
)
def test_bad_arguments_are_refused_clearly(
    store_env: Dict[str, str], gt: Any, topics: Any, error: type, words: str
) -> None:
    with Dogs(env=store_env) as app:
        with pytest.raises(error, match=words):
            app.subscribe(gt=gt, topics=topics)
        with pytest.raises(error, match=words):
            app.recorder.subscribe(gt=gt, topics=topics)


def test_unknown_topics_are_accepted_and_select_nothing(store_env: Dict[str, str]) -> None:
    with Dogs(env=store_env) as app:
        app.save(Dog("a"))
        with app.recorder.subscribe(topics=["no.such:Topic"]) as subscription:
            assert isinstance(subscription, Subscription)
            timer = threading.Timer(0.2, subscription.stop)
            timer.start()
            assert list(subscription) == []
            timer.join()


def test_default_subscription_of_a_third_party_recorder_polls(store_env: Dict[str, str]) -> None:
    """The ApplicationRecorder default works with nothing but select_notifications."""
    with Dogs(env=store_env) as app:
        (first,) = app.save(Dog("a"))
        subscription = Subscription(app.recorder, poll_interval=0.01)
        got: List[int] = []

        def read_two() -> None:
            got.extend(n.id for n in itertools.islice(subscription, 2))

        reader = threading.Thread(target=read_two)
        reader.start()
        (second,) = app.save(Dog("b"))
        reader.join(timeout=30)
        subscription.close()
        assert first.notification and second.notification
        assert got == [first.notification.id, second.notification.id]
