"""Background jobs in the server process that owns the database (started by server.py's lifespan).

A daemon thread runs each job every `job_interval_seconds`; a failing job is logged and tried again at
the next interval, never taking the server down.

With PostgreSQL several servers may run at once, and the jobs must run exactly once among them: each run
first makes sure this server holds the jobs' lock — a PostgreSQL session advisory lock on a connection kept
for it. The lock goes with the connection, so when the server holding it dies another server takes the jobs
over at its next interval. With DuckDB one process owns the file, and so the jobs.
"""
from __future__ import annotations

import logging
import threading
from typing import Any

import sqlalchemy as sa

from app import alarms
from app.config import Settings
from app.db import Database
from app.supervision import recompute_warning_levels

log = logging.getLogger(__name__)
JOBS_LOCK = 0x455A5A4A   # 'EZZJ': the advisory lock key of the background jobs (with the schema's, below)


def _lock_keys(db: Database) -> dict[str, int]:
    """The jobs' lock is per schema: the servers of one installation share it, other installations (or test
    schemas) on the same PostgreSQL do not."""
    import zlib

    crc = zlib.crc32((db.schema or "public").encode())
    return {"k1": JOBS_LOCK, "k2": crc - 2**32 if crc >= 2**31 else crc}


class Leadership:
    """Whether this server runs the background jobs: always with DuckDB; with PostgreSQL while it holds the
    jobs' advisory lock on a connection of its own."""

    def __init__(self, db: Database):
        self.db = db
        self._conn: Any = None

    def hold(self) -> bool:
        if self.db.is_duckdb:
            return True
        if self._conn is not None:
            try:
                self._conn.execute(sa.text("SELECT 1"))
                return True
            except Exception:  # noqa: BLE001 - the connection (and with it the lock) is gone: try again
                self._drop()
        conn = self.db.engine.connect()
        try:
            got = bool(conn.execute(sa.text("SELECT pg_try_advisory_lock(:k1, :k2)"), _lock_keys(self.db)).scalar())
            conn.commit()   # a session lock outlives the transaction; the connection is kept, idle
        except Exception:
            conn.close()
            raise
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(sa.text("SELECT pg_advisory_unlock(:k1, :k2)"), _lock_keys(self.db))
                self._conn.commit()
            except Exception:  # noqa: BLE001 - closing the connection releases it anyway
                pass
            self._drop()

    def _drop(self) -> None:
        try:
            self._conn.close()
        except Exception:  # noqa: BLE001
            pass
        self._conn = None


class JobRunner:
    def __init__(self, db: Database, interval: float):
        self.db = db
        self.interval = interval
        self.last_result: dict | None = None
        self.runs = 0
        self.leadership = Leadership(db)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ezz-jobs", daemon=True)

    def start(self) -> "JobRunner":
        self._thread.start()
        return self

    def run_once(self) -> dict:
        if not self.leadership.hold():
            self.last_result = {"leader": False}   # another server runs the jobs
            return self.last_result
        self.last_result = {"leader": True, "warning_levels": recompute_warning_levels(self.db),
                            "alarms": alarms.recompute(self.db)}
        # The marts are refreshed in this process (the one that owns the DuckDB file): only what changed since
        # the last run (the first run, with no marts yet, builds them all).
        from pipelines import marts

        done = marts.refresh(self.db)
        self.last_result["marts"] = done.mode
        self.last_result["marts_seconds"] = round(done.total, 2)
        self.runs += 1
        return self.last_result

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
                log.info("background jobs: %s", self.last_result)
            except Exception:  # noqa: BLE001 - logged; retried at the next interval
                log.exception("background job failed")
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.leadership.release()


def start(db: Database, settings: Settings) -> JobRunner:
    return JobRunner(db, settings.job_interval_seconds).start()
