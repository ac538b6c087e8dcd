"""The working-day calendar as stored in the database (loaded from the official notices by the seed step).

Built once per process and kept for a few minutes: every deadline computation needs it, and it changes
only when an administrator loads a new year's notice (which calls `invalidate`).
"""
from __future__ import annotations

import threading
import time

import sqlalchemy as sa

from app import schema as s
from app.clock import WorkCalendar
from app.db import Database

_TTL_SECONDS = 300
_cache: dict[str, tuple[float, WorkCalendar]] = {}
_lock = threading.Lock()


def load_calendar(db: Database) -> WorkCalendar:
    key = f"{db.url}|{db.schema}"
    with _lock:
        hit = _cache.get(key)
        if hit and time.monotonic() - hit[0] < _TTL_SECONDS:
            return hit[1]
    with db.read() as conn:
        rows = [(r.day, bool(r.is_off_day)) for r in conn.execute(sa.select(s.holidays.c.day, s.holidays.c.is_off_day))]
        official = [r.year for r in conn.execute(sa.select(s.calendar_years.c.year).where(s.calendar_years.c.official))]
    calendar = WorkCalendar.from_rows(rows, official)
    with _lock:
        _cache[key] = (time.monotonic(), calendar)
    return calendar


def invalidate() -> None:
    with _lock:
        _cache.clear()
