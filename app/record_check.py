"""Verification of the case record (电子监察: 办件记录核验): every event of every case is re-hashed and its link
to the event before it checked (app/record.py), and each case's event count is compared with the case's
version — every move adds one event and one version, so an event removed from the end of a chain, which no
successor's link would reveal, still shows.

Streams the events in case order in chunks (memory stays flat on millions of events) and reports progress.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from app import record
from app import schema as s
from app.db import Database

CHUNK_CASES = 20_000


@dataclass(frozen=True)
class Problem:
    case_id: int
    case_no: str
    seq: int | None
    problem: str   # changed | missing | out_of_order | broken_link | missing_tail | inserted | no_events


def _events_of(db: Database, lo: int, hi: int) -> Iterator[tuple[int, list[Any]]]:
    ev = s.case_events.c
    with db.read() as conn:
        rows = conn.execute(sa.select(s.case_events).where(ev.case_id >= lo, ev.case_id < hi)
                            .order_by(ev.case_id, ev.seq)).fetchall()
    current: list[Any] = []
    for row in rows:
        if current and current[0].case_id != row.case_id:
            yield current[0].case_id, current
            current = []
        current.append(row)
    if current:
        yield current[0].case_id, current


def verify(db: Database, *, case_ids: list[int] | None = None,
           progress: Callable[[int, int], None] | None = None) -> tuple[int, int, list[Problem]]:
    """Check the record of the given cases (default: all). Returns (cases checked, events checked, problems)."""
    c = s.cases.c
    with db.read() as conn:
        q = sa.select(c.case_id, c.case_no, c.version).order_by(c.case_id)
        if case_ids is not None:
            q = q.where(c.case_id.in_(case_ids))
        cases = conn.execute(q).fetchall()
    problems: list[Problem] = []
    n_events = 0
    for start in range(0, len(cases), CHUNK_CASES):
        chunk = cases[start:start + CHUNK_CASES]
        info = {r.case_id: r for r in chunk}
        seen: set[int] = set()
        for case_id, events in _events_of(db, chunk[0].case_id, chunk[-1].case_id + 1):
            if case_id not in info:
                continue
            seen.add(case_id)
            n_events += len(events)
            row = info[case_id]
            for p in record.verify_chain(events):
                problems.append(Problem(case_id, row.case_no, p.seq, p.problem))
            if events[-1].seq < row.version:
                problems.append(Problem(case_id, row.case_no, events[-1].seq + 1, "missing_tail"))
            elif len(events) > row.version:
                # more events than moves: one was slipped in (even a well-forged one at the end of the chain)
                problems.append(Problem(case_id, row.case_no, row.version + 1, "inserted"))
        for case_id in info.keys() - seen:
            problems.append(Problem(case_id, info[case_id].case_no, None, "no_events"))
        if progress:
            progress(min(start + CHUNK_CASES, len(cases)), len(cases))
    return len(cases), n_events, problems
