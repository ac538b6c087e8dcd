"""Electronic supervision rules that run over many cases: the warning level of every open case.

Levels are derived from the legal clock (domain.md §5) and stored on the case so that queues sort by
urgency cheaply; recomputing does not bump the case version (it is not a user's change), and a case that
moved meanwhile is skipped and caught by the next run.
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app import calendar_store, clock, timeutil
from app import schema as s
from app import workflow as wf
from app.cases import clock_fields
from app.db import Database

CLOCK_STATES = (wf.SUBMITTED, wf.AWAITING_SUPPLEMENT, wf.ACCEPTED, wf.UNDER_REVIEW, wf.SPECIAL_PROCEDURE,
                wf.TRANSFERRED)


def recompute_warning_levels(db: Database, today: date | None = None) -> dict[str, int]:
    today = today or timeutil.today()
    cal = calendar_store.load_calendar(db)
    c = s.cases.c
    with db.read() as conn:
        rows = conn.execute(sa.select(c.case_id, c.version, c.state, c.clock_start, c.promised_days,
                                      c.statutory_limit, c.statutory_unit, c.extension_days, c.promised_due,
                                      c.statutory_due, c.warning_level)
                            .where(c.state.in_(CLOCK_STATES))).fetchall()
        stops: dict[int, list[clock.Stop]] = defaultdict(list)
        stop_rows = conn.execute(
            sa.select(s.clock_stops.c.case_id, s.clock_stops.c.started_on, s.clock_stops.c.ended_on)
            .select_from(s.clock_stops.join(s.cases, s.cases.c.case_id == s.clock_stops.c.case_id))
            .where(c.state.in_(CLOCK_STATES)).order_by(s.clock_stops.c.case_id, s.clock_stops.c.seq))
        for r in stop_rows:
            stops[r.case_id].append(clock.Stop(r.started_on, r.ended_on))
    changes: list[dict[str, Any]] = []
    for row in rows:
        fields = clock_fields(cal, dict(row._mapping), stops.get(row.case_id, []), today)
        new = {"promised_due": fields.get("promised_due", row.promised_due),
               "statutory_due": fields.get("statutory_due", row.statutory_due),
               "warning_level": fields.get("warning_level")}
        if (new["promised_due"], new["statutory_due"], new["warning_level"]) != (
                row.promised_due, row.statutory_due, row.warning_level):
            changes.append({"cid": row.case_id, "ver": row.version, **new})

    def work(conn: Connection) -> None:
        if changes:
            conn.execute(
                s.cases.update()
                .where(c.case_id == sa.bindparam("cid"), c.version == sa.bindparam("ver"))
                .values(promised_due=sa.bindparam("promised_due"), statutory_due=sa.bindparam("statutory_due"),
                        warning_level=sa.bindparam("warning_level"),
                        updated_at=timeutil.now()),   # the row changed: the marts' refresh picks it up
                changes,
            )

    db.write(work)
    return {"checked": len(rows), "changed": len(changes)}
