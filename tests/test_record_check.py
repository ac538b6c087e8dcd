"""The case record's verification (domain.md §4: events are append-only): an edited, a deleted (in the middle
and at the end) and an inserted event are each found, on DuckDB and PostgreSQL, by the service, the command
and the supervisor's page."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import record, record_check
from app import schema as s
from pipelines import verify_record
from tests.factories import REVIEWED, advance, applicant_of, file_case

PAGE = str(Path(__file__).resolve().parents[1] / "pages" / "record_check.py")


def _case_with_history(db):  # noqa: ANN001, ANN202
    a = db.actors
    case = file_case(db, a["applicant"], applicant=applicant_of(db, a["applicant"]))
    return advance(db, a, case, [("accept", "officer"), ("start_review", "officer"), *REVIEWED])


def _problems(db, case):  # noqa: ANN001, ANN202
    return {(p.seq, p.problem) for p in record_check.verify(db, case_ids=[case["case_id"]])[2]}


def _exec(db, statement, **params):  # noqa: ANN001, ANN202
    db.write(lambda conn: conn.execute(sa.text(statement), params))


def test_an_intact_record_verifies(seeded_db):
    case = _case_with_history(seeded_db)
    n_cases, n_events, problems = record_check.verify(seeded_db, case_ids=[case["case_id"]])
    assert (n_cases, n_events, problems) == (1, case["version"], [])


def test_an_edited_event_is_found(seeded_db):
    case = _case_with_history(seeded_db)
    _exec(seeded_db, "UPDATE case_events SET comment = :c WHERE case_id = :i AND seq = 4", c="材料不齐", i=case["case_id"])
    assert (4, "changed") in _problems(seeded_db, case)


def test_a_deleted_event_is_found_in_the_middle_and_at_the_end(seeded_db):
    case = _case_with_history(seeded_db)
    _exec(seeded_db, "DELETE FROM case_events WHERE case_id = :i AND seq = 3", i=case["case_id"])
    found = _problems(seeded_db, case)
    assert (4, "missing") in found and (4, "broken_link") in found
    other = _case_with_history(seeded_db)
    _exec(seeded_db, "DELETE FROM case_events WHERE case_id = :i AND seq = :n", i=other["case_id"], n=other["version"])
    assert _problems(seeded_db, other) == {(other["version"], "missing_tail")}


def test_an_inserted_event_is_found_even_when_well_forged(seeded_db):
    case = _case_with_history(seeded_db)
    # A forger who knows the algorithm appends an event with a correct link and hash: the chain alone is
    # intact, but the case never made that move (its version did not grow).
    def forge(conn):  # noqa: ANN001, ANN202
        record.append_event(conn, case_id=case["case_id"], occurred_at=datetime(2026, 11, 20, 9, 0),
                            actor_user_id=None, actor_role="head", actor_unit_id="U-4207-SCJG", action="approve",
                            from_state="under_review", to_state="approved", comment="伪造")

    seeded_db.write(forge)
    assert _problems(seeded_db, case) == {(case["version"] + 1, "inserted")}
    # And one slipped into the middle with a repeated number breaks the order.
    other = _case_with_history(seeded_db)
    with seeded_db.read() as conn:
        row = conn.execute(sa.select(s.case_events).where(s.case_events.c.case_id == other["case_id"],
                                                          s.case_events.c.seq == 2)).fetchone()
    values = {k: v for k, v in row._mapping.items() if k != "event_id"}
    seeded_db.write(lambda conn: conn.execute(s.case_events.insert().values(**{**values, "comment": "插入"})))
    assert {p for _, p in _problems(seeded_db, other)} >= {"out_of_order"}


def test_the_command_reports_and_fails(seeded_db, capsys, monkeypatch):
    case = _case_with_history(seeded_db)
    if seeded_db.schema:
        monkeypatch.setenv("EZZ_DATABASE_SCHEMA", seeded_db.schema)
    assert verify_record.main(["--database-url", seeded_db.url, "--case", case["case_no"]]) == 0
    assert "intact" in capsys.readouterr().out
    _exec(seeded_db, "UPDATE case_events SET actor_unit_id = 'U-4207-ZRGH' WHERE case_id = :i AND seq = 2",
          i=case["case_id"])
    assert verify_record.main(["--database-url", seeded_db.url, "--case", case["case_no"]]) == 1
    assert f"{case['case_no']}\tseq 2\tchanged" in capsys.readouterr().out


@pytest.mark.parametrize("seeded_db", ["duckdb"], indirect=True)
def test_the_supervisor_page_shows_the_problem(seeded_db, monkeypatch):
    monkeypatch.setenv("EZZ_DATABASE_URL", seeded_db.url)
    monkeypatch.setenv("EZZ_BACKGROUND_JOBS", "0")
    st.cache_resource.clear()
    case = _case_with_history(seeded_db)
    _exec(seeded_db, "UPDATE case_events SET comment = '改过' WHERE case_id = :i AND seq = 3", i=case["case_id"])
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["ezz_actor"] = seeded_db.actors["supervisor"]
    at.run()
    at.text_input(key="rc-case").input(case["case_no"]).run()
    at.button(key="rc-run").click().run()
    assert not at.exception
    assert any("发现1处问题" in e.value for e in at.error), [e.value for e in at.error]
    at = AppTest.from_file(PAGE, default_timeout=60)
    at.session_state["ezz_actor"] = seeded_db.actors["officer"]   # not a supervisor's screen
    at.run()
    assert not any(b.key == "rc-run" for b in at.button)
    st.cache_resource.clear()
