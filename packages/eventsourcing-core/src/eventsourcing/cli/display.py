"""How ``log`` and ``show`` print a stored event: one line of text, or JSON."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

from eventsourcing.cli.settings import Store
from eventsourcing.persistence import Notification, StoredEvent

__all__ = ["event_json", "event_text"]


def _state(store: Store, stored: StoredEvent) -> tuple[Any, Optional[str]]:
    """(decoded state, None), or (None, why it cannot be decoded with these settings)."""
    try:
        return store.decode_state(stored), None
    except Exception as e:
        hint = "" if store.cipher is not None else " (encrypted? set CIPHER_KEY)"
        return None, f"{len(stored.state)} bytes, not decodable{hint}: {type(e).__name__}"


def event_json(store: Store, stored: StoredEvent) -> Dict[str, Any]:
    row: Dict[str, Any] = {}
    if isinstance(stored, Notification):
        row["id"] = stored.id
    row["originator_id"] = str(stored.originator_id)
    row["originator_version"] = stored.originator_version
    row["topic"] = stored.topic
    state, error = _state(store, stored)
    row["state"] = state
    if error is not None:
        row["error"] = error
    return row


def event_text(store: Store, stored: StoredEvent) -> str:
    state, error = _state(store, stored)
    shown = f"<{error}>" if error is not None else json.dumps(state)
    prefix = f"{stored.id}  " if isinstance(stored, Notification) else ""
    return f"{prefix}{stored.originator_id}  v{stored.originator_version}  {stored.topic}  {shown}"
