"""Several servers on one PostgreSQL run the background jobs exactly once: the server holding the jobs' lock
runs them, the others skip; when that server dies, another takes them over at its next interval."""
from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.jobs import JobRunner, Leadership
from tests.conftest import drop_database, make_database

ROOT = Path(__file__).resolve().parents[1]
HOLDER = """
import sys, time
from app.db import Database
from app.jobs import Leadership
db = Database(sys.argv[1], schema=sys.argv[2])
assert Leadership(db).hold()
print("held", flush=True)
time.sleep(120)
"""


@pytest.fixture
def pg(tmp_path):  # noqa: ANN001, ANN201
    db = make_database("postgresql", tmp_path)
    db.migrate()
    yield db
    drop_database(db)


def test_only_the_lock_holder_runs_the_jobs_and_another_takes_over_when_it_dies(pg):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, pg.url, pg.schema], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        other = JobRunner(pg, interval=3600)
        assert other.run_once() == {"leader": False}          # the other server holds the jobs: skip
        holder.send_signal(signal.SIGKILL)                     # that server dies without a word
        holder.wait(timeout=10)
        deadline = time.monotonic() + 30
        result = other.run_once()
        while not result.get("leader") and time.monotonic() < deadline:
            time.sleep(0.5)
            result = other.run_once()
        assert result["leader"] is True and "alarms" in result    # taken over, and the jobs ran
        assert Leadership(pg).hold() is False                  # now this one holds it
        other.leadership.release()
        assert Leadership(pg).hold() is True
    finally:
        if holder.poll() is None:
            holder.kill()


def test_another_installation_on_the_same_server_has_its_own_lock(pg, tmp_path):
    neighbour = make_database("postgresql", tmp_path)
    try:
        mine, theirs = Leadership(pg), Leadership(neighbour)
        assert mine.hold() and theirs.hold()
        mine.release()
        theirs.release()
    finally:
        drop_database(neighbour)
