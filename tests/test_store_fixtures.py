"""The shared store fixtures select the right backend with an isolated store."""

from eventsourcing.persistence import InfrastructureFactory


def test_store_env_selects_backend(backend: str, store_env: dict[str, str]) -> None:
    assert store_env["PERSISTENCE_MODULE"] == backend
    factory = InfrastructureFactory.construct(env=store_env)
    assert type(factory).__module__.split(".")[:2] == ["eventsourcing", backend]
