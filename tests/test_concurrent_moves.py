"""Two moves on one case at the same moment, from two processes' worth of connections on PostgreSQL (several
servers share it; issue 8): the first wins, the second is told the case changed (StaleVersionError, the screen's
"该办件已被他人更新") — never a database error from what the loser had begun to write.

Found by tests/test_multi_server.py: two officers on two servers pressing 受理 at once; the loser's transaction had
already inserted the acceptance notice, whose number comes from the case number, and failed on its unique key
before reaching the version check. DuckDB needs no such test: one process owns the file and serialises writes.
"""
from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from app import cases, issuing
from app import schema as s
from app.db import StaleVersionError
from tests.factories import file_case


@pytest.mark.parametrize("seeded_db", ["postgresql"], indirect=True)
def test_the_second_of_two_simultaneous_accepts_is_told_the_case_changed(seeded_db, monkeypatch):
    db, actors = seeded_db, seeded_db.actors
    case = file_case(db, actors["applicant"])
    inside, go = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}
    issue_for = issuing.issue_for

    def issue_and_hold(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        """The first move stops after writing its acceptance notice, its transaction open: the moment at which
        the other server's move arrives."""
        issued = issue_for(*args, **kwargs)
        if threading.current_thread().name == "first":
            inside.set()
            go.wait(timeout=30)
        return issued

    monkeypatch.setattr(issuing, "issue_for", issue_and_hold)

    def first() -> None:
        try:
            outcome["first"] = cases.perform(db, actors["officer"], case["case_id"], "accept",
                                             expected_version=case["version"])["state"]
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test compares
            outcome["first"] = exc

    def second() -> None:
        try:
            outcome["second"] = cases.perform(db, actors["head"], case["case_id"], "accept",
                                              expected_version=case["version"])["state"]
        except Exception as exc:  # noqa: BLE001
            outcome["second"] = exc

    one = threading.Thread(target=first, name="first")
    one.start()
    assert inside.wait(timeout=30)                 # the first move is under way, its transaction open
    two = threading.Thread(target=second, name="second")
    two.start()
    deadline = time.monotonic() + 10
    while two.is_alive() and not _someone_waits_for_a_lock(db) and time.monotonic() < deadline:
        time.sleep(0.02)                           # until the second move waits for the first (or is done)
    go.set()
    one.join(timeout=30)
    two.join(timeout=30)

    assert outcome["first"] == "accepted", outcome
    assert isinstance(outcome["second"], StaleVersionError), outcome
    with db.read() as conn:
        accepts = conn.execute(sa.select(sa.func.count()).select_from(s.case_events).where(
            s.case_events.c.case_id == case["case_id"], s.case_events.c.action == "accept")).scalar_one()
        notices = conn.execute(sa.select(sa.func.count()).select_from(s.case_documents).where(
            s.case_documents.c.case_id == case["case_id"], s.case_documents.c.kind == "acceptance")).scalar_one()
    assert (accepts, notices) == (1, 1)


def _someone_waits_for_a_lock(db) -> bool:  # noqa: ANN001
    with db.read() as conn:
        return bool(conn.execute(sa.text("SELECT COUNT(*) FROM pg_locks WHERE NOT granted "
                                         "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")
                                 ).scalar())
