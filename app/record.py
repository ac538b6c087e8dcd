"""The case record: append-only events chained by hash, per case.

Each event's hash covers its content and the previous event's hash, so a changed, removed or re-ordered
event breaks the chain at that point (verified by `verify_chain`). Per-case chains let concurrent cases be
written independently and let one case's record be checked on its own.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app import schema as s

GENESIS = "0" * 64
_INSERT_EVENT = s.case_events.insert()   # built once; an event's fields are its parameters


def event_hash(prev_hash: str | None, *, case_id: int, seq: int, occurred_at: datetime, actor_user_id: int | None,
               actor_role: str, actor_unit_id: str | None, action: str, from_state: str | None, to_state: str,
               comment: str | None, payload: Any) -> str:
    body = json.dumps(
        [prev_hash or GENESIS, case_id, seq, occurred_at.isoformat(sep=" ", timespec="seconds"), actor_user_id,
         actor_role, actor_unit_id, action, from_state, to_state, comment or "", payload],
        ensure_ascii=False, sort_keys=True, separators=(",", ":"), default=str,
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def append_event(conn: Connection, *, case_id: int, occurred_at: datetime, actor_user_id: int | None,
                 actor_role: str, actor_unit_id: str | None, action: str, from_state: str | None, to_state: str,
                 comment: str | None = None, payload: Any = None,
                 previous: tuple[int, str | None] | None = None) -> dict[str, Any]:
    """Append one event to a case's chain. `previous`: the (seq, hash) of the case's last event when the caller
    knows it for certain in this transaction — (0, None) for a case created in it, which has no event yet, or the
    event it has just appended — so the last event need not be read back; otherwise it is read."""
    if previous is None:
        last = conn.execute(
            sa.select(s.case_events.c.seq, s.case_events.c.hash)
            .where(s.case_events.c.case_id == case_id).order_by(s.case_events.c.seq.desc()).limit(1)
        ).fetchone()
        previous = (0, None) if last is None else (last.seq, last.hash)
    fields = event_row(case_id=case_id, seq=previous[0] + 1, prev_hash=previous[1], occurred_at=occurred_at,
                       actor_user_id=actor_user_id, actor_role=actor_role, actor_unit_id=actor_unit_id, action=action,
                       from_state=from_state, to_state=to_state, comment=comment, payload=payload)
    conn.execute(_INSERT_EVENT, fields)
    return fields


def event_row(*, case_id: int, seq: int, prev_hash: str | None, occurred_at: datetime, actor_user_id: int | None,
              actor_role: str, actor_unit_id: str | None, action: str, from_state: str | None, to_state: str,
              comment: str | None = None, payload: Any = None) -> dict[str, Any]:
    """An event as stored, its hash chained to `prev_hash` (the case's previous event's; None for the first) —
    for append_event, and for a writer that inserts many events in one statement."""
    occurred_at = occurred_at.replace(microsecond=0)
    fields = dict(case_id=case_id, seq=seq, occurred_at=occurred_at, actor_user_id=actor_user_id,
                  actor_role=actor_role, actor_unit_id=actor_unit_id, action=action, from_state=from_state,
                  to_state=to_state, comment=comment, payload=payload)
    return {**fields, "prev_hash": prev_hash, "hash": event_hash(prev_hash, **fields)}


@dataclass(frozen=True)
class ChainProblem:
    case_id: int
    seq: int
    problem: str  # "changed" | "missing" | "out_of_order" | "broken_link"


def verify_chain(events: list[Any]) -> list[ChainProblem]:
    """Check one case's events (ordered by seq); returns every problem found (empty = intact)."""
    problems: list[ChainProblem] = []
    prev_hash: str | None = None
    expected_seq = 1
    for ev in events:
        if ev.seq != expected_seq:
            problems.append(ChainProblem(ev.case_id, ev.seq, "missing" if ev.seq > expected_seq else "out_of_order"))
        if (ev.prev_hash or None) != prev_hash:
            problems.append(ChainProblem(ev.case_id, ev.seq, "broken_link"))
        recomputed = event_hash(
            ev.prev_hash, case_id=ev.case_id, seq=ev.seq, occurred_at=ev.occurred_at, actor_user_id=ev.actor_user_id,
            actor_role=ev.actor_role, actor_unit_id=ev.actor_unit_id, action=ev.action, from_state=ev.from_state,
            to_state=ev.to_state, comment=ev.comment, payload=ev.payload,
        )
        if recomputed != ev.hash:
            problems.append(ChainProblem(ev.case_id, ev.seq, "changed"))
        prev_hash = ev.hash
        expected_seq = ev.seq + 1
    return problems
