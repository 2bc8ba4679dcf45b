"""The registry: unique identities and the name table."""

from __future__ import annotations

from actors import _registry


def test_pids_and_monitor_ids_are_never_reused() -> None:
    pids = {_registry.next_pid() for _ in range(100)}
    monitor_ids = {_registry.next_monitor_id() for _ in range(100)}
    assert len(pids) == len(monitor_ids) == 100


def test_whereis_and_lookup_of_an_unregistered_name_give_none() -> None:
    assert _registry.lookup("never-registered") is None
    assert _registry.whereis("never-registered") is None
