"""Background jobs in the server process that owns the database (started by server.py's lifespan).

A daemon thread runs each job every `job_interval_seconds`; a failing job is logged and tried again at
the next interval, never taking the server down.
"""
from __future__ import annotations

import logging
import threading

from app import alarms
from app.config import Settings
from app.db import Database
from app.supervision import recompute_warning_levels

log = logging.getLogger(__name__)


class JobRunner:
    def __init__(self, db: Database, interval: float):
        self.db = db
        self.interval = interval
        self.last_result: dict | None = None
        self.runs = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ezz-jobs", daemon=True)

    def start(self) -> "JobRunner":
        self._thread.start()
        return self

    def run_once(self) -> dict:
        self.last_result = {"warning_levels": recompute_warning_levels(self.db), "alarms": alarms.recompute(self.db)}
        # The marts are refreshed in this process (the one that owns the DuckDB file): only what changed since
        # the last run (the first run, with no marts yet, builds them all).
        from pipelines import marts

        timings = marts.refresh(self.db)
        self.last_result["marts"] = "incremental" if timings.pop("mode") else "full"
        self.last_result["marts_seconds"] = round(sum(timings.values()), 2)
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


def start(db: Database, settings: Settings) -> JobRunner:
    return JobRunner(db, settings.job_interval_seconds).start()
