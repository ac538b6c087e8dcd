"""Public progress look-up (查询): a case's progress by its number plus the last four characters of the
applicant's ID or credit code — state, dates and due date, nothing personal.

A wrong number and a wrong pair get the same answer (no hint which was wrong), and failed attempts are
counted in the database per case number and per client, so guessing is slowed on every server alike.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from app import audit, timeutil
from app import schema as s
from app.db import Database

MAX_FAILURES_PER_HOUR = 10


class LookupRefused(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


@dataclass(frozen=True)
class Progress:
    case_no: str
    item_name: str
    unit_name: str
    state: str
    submitted_at: Any
    accepted_at: Any
    decided_at: Any
    completed_at: Any
    promised_due: Any
    steps: list[dict[str, Any]]


def recent_failures(conn: sa.Connection, action: str, field: str, value: str, client: str) -> int:
    """Failed attempts of the last hour recorded as `action` in the audit log, on the same subject (detail's
    `field` equal to `value`) or from the same client. Also counts the failed follow-ups of app/inquiries.py."""
    since = timeutil.now() - timedelta(hours=1)
    rows = conn.execute(sa.select(s.audit_log.c.detail).where(s.audit_log.c.action == action,
                                                              s.audit_log.c.occurred_at >= since)).fetchall()
    count = 0
    for (detail,) in rows:
        d = json.loads(detail or "{}")
        if d.get(field) == value or (client and d.get("client") == client):
            count += 1
    return count


def _recent_failures(conn: sa.Connection, case_no: str, client: str) -> int:
    return recent_failures(conn, "lookup_failed", "case_no", case_no, client)


def progress(db: Database, case_no: str, id_tail: str, client: str = "") -> Progress:
    case_no = (case_no or "").strip()
    id_tail = (id_tail or "").strip().upper()
    with db.read() as conn:
        if _recent_failures(conn, case_no, client) >= MAX_FAILURES_PER_HOUR:
            raise LookupRefused("lookup.too_many")
        row = conn.execute(
            sa.select(s.cases, s.items.c.name.label("item_name"), s.org_units.c.name.label("unit_name"))
            .select_from(s.cases.join(s.items, sa.and_(s.items.c.item_code == s.cases.c.item_code,
                                                       s.items.c.version == s.cases.c.item_version))
                         .outerjoin(s.org_units, s.org_units.c.unit_id == s.cases.c.unit_id))
            .where(s.cases.c.case_no == case_no)).fetchone()
    if row is None or len(id_tail) != 4 or not row.applicant_id_number.upper().endswith(id_tail) or row.state == "draft":
        db.write(lambda conn: audit.record(conn, "lookup_failed", detail={"case_no": case_no, "client": client}))
        raise LookupRefused("lookup.no_match")
    with db.read() as conn:
        events = conn.execute(sa.select(s.case_events.c.occurred_at, s.case_events.c.action, s.case_events.c.to_state)
                              .where(s.case_events.c.case_id == row.case_id).order_by(s.case_events.c.seq)).fetchall()
    public_actions = {"submit", "accept", "request_supplement", "supplement", "refuse_intake", "start_review",
                      "suspend", "resume", "extend", "approve", "refuse", "complete", "withdraw", "transfer",
                      "receive_transfer"}
    steps = [{"occurred_at": e.occurred_at, "action": e.action, "state": e.to_state}
             for e in events if e.action in public_actions]
    return Progress(case_no=row.case_no, item_name=row.item_name, unit_name=row.unit_name or "", state=row.state,
                    submitted_at=row.submitted_at, accepted_at=row.accepted_at, decided_at=row.decided_at,
                    completed_at=row.completed_at, promised_due=row.promised_due, steps=steps)
