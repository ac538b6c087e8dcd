"""The working-day calendar as stored in the database (loaded from the official notices by the seed step and
by the administrator's 工作日历 screen).

Built once per process and kept while the calendar stays the same: every deadline computation needs it, and it
changes only when an official notice is loaded. Several app servers may share one PostgreSQL database, and
only the server that loads a notice runs `invalidate`; so each read first asks the database for the calendar's
stamp — how many years are listed, how many are official, when the last was loaded (one row from a table of a
few dozen) — and rebuilds the calendar when the stamp differs from the cached one.
"""
from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app import schema as s
from app.clock import WorkCalendar
from app.db import Database

_cache: dict[str, tuple[Any, WorkCalendar]] = {}
_lock = threading.Lock()


def stamp_columns() -> list[Any]:
    """What changes whenever a year's notice is loaded (loaded_at moves) or a year is added or removed: the
    years, the latest load (as text) and the official years, as three columns of one row (a caller may read
    them with other facts in one statement: `stamp_of`)."""
    cy = s.calendar_years.c
    return [sa.func.count(), sa.cast(sa.func.max(cy.loaded_at), sa.String),
            sa.func.sum(sa.case((cy.official, 1), else_=0))]


def stamp_of(years: Any, latest: Any, official: Any) -> tuple[Any, ...]:
    return (int(years or 0), latest, int(official or 0))


def stamp(conn: Connection) -> tuple[Any, ...]:
    return stamp_of(*conn.execute(sa.select(*stamp_columns())).one())


def calendar_from(conn: Connection) -> WorkCalendar:
    """The calendar as this connection sees it (inside a transaction: including its own changes)."""
    rows = [(r.day, bool(r.is_off_day)) for r in conn.execute(sa.select(s.holidays.c.day, s.holidays.c.is_off_day))]
    official = [r.year for r in conn.execute(sa.select(s.calendar_years.c.year).where(s.calendar_years.c.official))]
    return WorkCalendar.from_rows(rows, official)


def load_calendar(db: Database) -> WorkCalendar:
    with db.read() as conn:
        return calendar_on(conn, db)


def calendar_on(conn: Connection, db: Database, current: tuple[Any, ...] | None = None) -> WorkCalendar:
    """load_calendar on a connection the caller holds (a batch writer's own transaction): the cached calendar
    while the stamp is unchanged (`current`: the stamp as the caller read it in this transaction)."""
    key = f"{db.url}|{db.schema}"
    if current is None:
        current = stamp(conn)
    with _lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] == current:
        return hit[1]
    calendar = calendar_from(conn)
    with _lock:
        _cache[key] = (current, calendar)
    return calendar


def invalidate() -> None:
    with _lock:
        _cache.clear()
