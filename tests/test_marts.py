"""The marts (pipelines/models) against an independent computation in Python on a small generated history:
per-case working days from app/clock.py (not the SQL calendar index), weekly department measures from plain
Python grouping. DuckDB builds in the same file; PostgreSQL builds into a DuckDB warehouse."""
from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import date, datetime, timedelta

import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa

from app import calendar_store, clock
from app import schema as s
from pipelines import demo, marts

BUILD_DAY = date(2026, 11, 26)
HANDLING = ("accepted", "under_review", "special_procedure")


@pytest.fixture(scope="module", params=["duckdb", "postgresql"])
def history(request, tmp_path_factory):  # noqa: ANN001, ANN201
    from tests.conftest import drop_database, make_database

    db = make_database(request.param, tmp_path_factory.mktemp("marts"))
    db.migrate()
    demo.generate(db, cases=1500 if db.is_duckdb else 600, seed=7, end=BUILD_DAY)
    calendar_store.invalidate()
    import os

    os.environ["EZZ_WAREHOUSE"] = str(tmp_path_factory.mktemp("wh") / "warehouse.duckdb")
    marts.build(db, build_day=BUILD_DAY)
    yield db
    os.environ.pop("EZZ_WAREHOUSE", None)
    drop_database(db)
    calendar_store.invalidate()


def _monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def _expected(db):  # noqa: ANN001, ANN202
    cal = calendar_store.load_calendar(db)
    with db.read() as conn:
        cases = conn.execute(sa.select(s.cases).where(s.cases.c.state != "draft",
                                                      s.cases.c.submitted_at.is_not(None))).fetchall()
        stops = defaultdict(list)
        for r in conn.execute(sa.select(s.clock_stops).order_by(s.clock_stops.c.case_id, s.clock_stops.c.seq)):
            stops[r.case_id].append(r)
        refused = {r[0] for r in conn.execute(sa.select(s.case_events.c.case_id).where(
            s.case_events.c.action == "refuse"))}
        ratings = {r.case_id: r.level for r in conn.execute(sa.select(s.ratings))}
    facts = {}
    for c in cases:
        used = None
        end = c.decided_at.date() if c.decided_at else (BUILD_DAY if c.state in HANDLING else None)
        if c.accepted_at and c.clock_start and end:
            accepted = c.accepted_at.date()
            held = [clock.Stop(x.started_on, x.ended_on or BUILD_DAY) for x in stops[c.case_id]
                    if x.started_on >= accepted]
            used = clock.days_used(cal, c.clock_start, end, clock.WORKING, held)
        done = c.completed_at.date() if c.completed_at else None
        facts[c.case_id] = {"dept": c.dept_code, "week": _monday(c.submitted_at.date()), "used": used,
                            "done_week": _monday(done) if done else None,
                            "on_time": None if done is None or used is None else used <= c.promised_days + c.extension_days,
                            "accepted": c.accepted_at is not None, "online": c.channel == "online",
                            "supplemented": c.supplement_count > 0, "refused": c.case_id in refused,
                            "rating": ratings.get(c.case_id)}
    return facts


def test_case_facts_match_the_legal_clock(history):
    facts = _expected(history)
    got = marts.read(history, "SELECT case_id, working_days_used, on_time FROM marts.fct_case")
    assert got.height == len(facts)
    wrong = [(r["case_id"], r["working_days_used"], facts[r["case_id"]]["used"]) for r in got.iter_rows(named=True)
             if r["working_days_used"] != facts[r["case_id"]]["used"]
             or r["on_time"] != facts[r["case_id"]]["on_time"]]
    assert wrong == [], wrong[:10]
    assert sum(1 for f in facts.values() if f["used"] is not None) > 100   # the check is not vacuous


def test_weekly_department_measures_match_python(history):
    facts = _expected(history)
    rows = {(r["dept_code"], r["week"]): r for r in marts.read(history, "SELECT * FROM marts.mart_dept_week")
            .iter_rows(named=True)}
    by_received, by_done = defaultdict(list), defaultdict(list)
    for f in facts.values():
        by_received[(f["dept"], f["week"])].append(f)
        if f["done_week"]:
            by_done[(f["dept"], f["done_week"])].append(f)
    assert sum(r["received"] for r in rows.values()) == len(facts)
    for key, group in by_received.items():
        r = rows[key]
        assert r["received"] == len(group)
        assert r["accepted"] == sum(f["accepted"] for f in group)
        assert r["online_share"] == pytest.approx(sum(f["online"] for f in group) / len(group))
        assert r["supplement_rate"] == pytest.approx(sum(f["supplemented"] for f in group) / len(group))
    for key, group in by_done.items():
        r = rows[key]
        assert r["completed"] == len(group)
        assert r["completed_on_time"] == sum(1 for f in group if f["on_time"])
        used = [f["used"] for f in group if f["used"] is not None]
        if used:
            assert r["mean_working_days"] == pytest.approx(statistics.mean(used))
            assert r["median_working_days"] == pytest.approx(statistics.median(used))
            assert r["p90_working_days"] == pytest.approx(float(np.percentile(used, 90)))
        assert r["refusal_rate"] == pytest.approx(sum(f["refused"] for f in group) / len(group))
        rated = [f["rating"] for f in group if f["rating"] is not None]
        if rated:
            assert r["satisfaction"] == pytest.approx(sum(rated) / (5 * len(rated)))
            assert r["bad_review_share"] == pytest.approx(sum(1 for x in rated if x <= 2) / len(rated))


def test_ratings_follow_the_published_weights(history):
    rows = marts.read(history, "SELECT * FROM marts.mart_dept_rating_week").iter_rows(named=True)
    checked = 0
    for r in rows:
        parts = [(0.4, r["efficiency"]), (0.3, r["quality"]), (0.3, r["satisfaction"])]
        expected = round(sum(w * (100 if v is None else v) for w, v in parts), 1)
        assert r["score"] == pytest.approx(expected, abs=0.051)
        grade = "优秀" if r["score"] >= 90 else "良好" if r["score"] >= 80 else "合格" if r["score"] >= 60 else "不合格"
        assert r["grade"] == grade
        checked += 1
    assert checked > 10


def _a_row_twice(history, table: str) -> None:  # noqa: ANN001
    """One row of a mart written a second time, behind the build's back (the marts checked clean first)."""
    if not history.is_duckdb:
        pytest.skip("the data tests are the same SQL on the warehouse")
    assert marts.check(history) == []
    raw, con = history.raw_duckdb()
    try:
        con.execute(f"INSERT INTO marts.{table} SELECT * FROM marts.{table} LIMIT 1")
    finally:
        raw.close()


def test_a_broken_mart_fails_its_data_tests(history):
    _a_row_twice(history, "mart_dept_week")
    assert any("(dept, week) unique" in failure for failure in marts.check(history))
    marts.build(history, build_day=BUILD_DAY)   # and a rebuild puts it right


@pytest.mark.parametrize("dense_ids", [marts.DENSE_IDS, 0])
def test_a_case_counted_twice_fails_the_facts_tests(history, monkeypatch, dense_ids):
    """`case_id unique` catches a duplicated fact both ways it counts: the bitmap over a small id range, and
    COUNT(DISTINCT) (a range too large for the bitmap, here forced)."""
    monkeypatch.setattr(marts, "DENSE_IDS", dense_ids)
    _a_row_twice(history, "fct_case")
    try:
        assert any("case_id unique (1 rows)" in failure for failure in marts.check(history))
    finally:
        marts.build(history, build_day=BUILD_DAY)   # the module's history whole again for the tests after


def test_new_models_make_the_next_refresh_a_full_build(history, monkeypatch):
    """Marts built by other SQL (a column no longer stored, a measure computed otherwise) are rebuilt, not
    patched: the refresh after a change of models/ is a full build, the one after that incremental again."""
    assert marts.refresh(history, build_day=BUILD_DAY).mode == "incremental"
    monkeypatch.setattr(marts, "models_version", lambda: "changed!")
    assert marts.refresh(history, build_day=BUILD_DAY).mode == "full"
    assert marts.refresh(history, build_day=BUILD_DAY).mode == "incremental"
    monkeypatch.undo()
    assert marts.refresh(history, build_day=BUILD_DAY).mode == "full"   # back to the real models


@pytest.fixture(params=["duckdb", "postgresql"])
def moving_history(request, tmp_path):  # noqa: ANN001, ANN201
    """A small history built on 19 November, then a week of work through the services."""
    import os

    from app import timeutil
    from tests.conftest import drop_database, make_database
    from tests.factories import create_users

    db = make_database(request.param, tmp_path)
    db.migrate()
    demo.generate(db, cases=400, seed=11, end=date(2026, 11, 19))
    calendar_store.invalidate()
    os.environ["EZZ_WAREHOUSE"] = str(tmp_path / "warehouse.duckdb")
    db.actors = create_users(db)
    yield db
    timeutil.freeze(None)
    os.environ.pop("EZZ_WAREHOUSE", None)
    drop_database(db)
    calendar_store.invalidate()


MART_TABLES = {"fct_case": ("case_id",),
               "mart_received": ("period_kind", "period", "dimension", "key"),
               "mart_completed": ("period_kind", "period", "dimension", "key"),
               "mart_alarms": ("period_kind", "period", "dimension", "key"),
               "mart_dept_week": ("dept_code", "week"),
               "mart_dept_rating": ("period_kind", "period", "dept_code")}


def _snapshot(db):  # noqa: ANN001, ANN202
    return {name: marts.read(db, f"SELECT * FROM marts.{name}").sort(list(keys)) for name, keys in MART_TABLES.items()}


def test_a_refresh_gives_what_a_full_build_gives(moving_history):
    """Cases received weeks ago and accepted or completed this week, new cases, a rating, new alarms: the
    incremental refresh touches only what changed, and ends where a full rebuild ends."""
    from polars.testing import assert_frame_equal

    from app import alarms, applications, supervision, timeutil
    from tests.factories import REVIEWED, advance, file_case

    db, a = moving_history, moving_history.actors
    timeutil.freeze(datetime(2026, 10, 12, 9, 0))
    waiting = file_case(db, a["applicant"])                           # received in October, accepted now
    timeutil.freeze(datetime(2026, 10, 14, 9, 0))
    reviewed = advance(db, a, file_case(db, a["applicant"]),          # received in October, completed now
                       [("accept", "officer"), ("start_review", "officer"), *REVIEWED])
    timeutil.freeze(datetime(2026, 11, 19, 20, 0))
    first = marts.refresh(db, build_day=date(2026, 11, 19))
    assert first.mode == "full"                                       # nothing to refresh from: a full build
    before = _snapshot(db)

    timeutil.freeze(datetime(2026, 11, 23, 10, 0))
    advance(db, a, waiting, [("accept", "officer")])
    done = advance(db, a, reviewed, [("approve", "head"), ("complete", "officer")])
    applications.rate(db, a["applicant"], done["case_id"], expected_version=done["version"], level=1,
                      comment="太慢")
    fresh = advance(db, a, file_case(db, a["applicant"]), [("accept", "officer"), ("start_review", "officer"),
                                                           *REVIEWED, ("approve", "head"), ("complete", "officer")])
    file_case(db, a["applicant"])
    timeutil.freeze(datetime(2026, 11, 26, 9, 0))
    supervision.recompute_warning_levels(db)
    alarms.recompute(db)

    second = marts.refresh(db, build_day=date(2026, 11, 26))
    assert second.mode == "incremental"
    refreshed = _snapshot(db)
    assert refreshed["fct_case"].filter(pl.col("case_id") == fresh["case_id"])["on_time"].to_list() == [True]
    assert refreshed["fct_case"].height == before["fct_case"].height + 2    # the two cases filed this week
    marts.build(db, build_day=date(2026, 11, 26))
    rebuilt = _snapshot(db)
    for name in MART_TABLES:
        assert_frame_equal(refreshed[name], rebuilt[name], check_exact=False, rel_tol=1e-9, abs_tol=1e-9)
    assert not rebuilt["mart_received"].equals(before["mart_received"])   # the week's work shows


def test_a_code_new_since_the_last_build_makes_the_refresh_a_full_build(moving_history):
    """The facts keep their coded columns as ENUMs of the codes known at the last full build: a case with an
    item code that appeared since (as a newly published item's) is not lost or refused by the refresh, which
    becomes a full build and lists the new code; the refresh after it is incremental again."""
    from app import timeutil
    from tests.factories import file_case

    db, a = moving_history, moving_history.actors
    timeutil.freeze(datetime(2026, 11, 19, 20, 0))
    assert marts.refresh(db, build_day=date(2026, 11, 19)).mode == "full"
    timeutil.freeze(datetime(2026, 11, 20, 9, 0))
    case = file_case(db, a["applicant"])
    new_code = "4207-SCJG-901"
    db.write(lambda conn: conn.execute(sa.text("UPDATE cases SET item_code = :code WHERE case_id = :id"),
                                       {"code": new_code, "id": case["case_id"]}))
    assert marts.refresh(db, build_day=date(2026, 11, 20)).mode == "full"
    fact = marts.read(db, "SELECT CAST(item_code AS VARCHAR) AS item_code FROM marts.fct_case WHERE case_id = ?",
                      [case["case_id"]])
    assert fact["item_code"].to_list() == [new_code]
    file_case(db, a["applicant"])
    assert marts.refresh(db, build_day=date(2026, 11, 20)).mode == "incremental"


def test_configured_weights_rate_and_are_published(history, monkeypatch):
    """EZZ_RATING_WEIGHTS changes the published weights: a refresh with new weights rebuilds every rating
    with them, and the public text says which were used."""
    from app.config import ConfigError, load_settings
    from app.i18n import t
    from app.public_ratings import weights_in_percent

    with pytest.raises(ConfigError):
        load_settings({"EZZ_RATING_WEIGHTS": "50,30,30"}).check()
    monkeypatch.setenv("EZZ_RATING_WEIGHTS", "50,25,25")
    assert marts.refresh(history, build_day=BUILD_DAY).mode == "full"   # new weights: everything is rated again
    rows = list(marts.read(history, "SELECT * FROM marts.mart_dept_rating").iter_rows(named=True))
    for r in rows:
        parts = [(0.5, r["efficiency"]), (0.25, r["quality"]), (0.25, r["satisfaction"])]
        assert r["score"] == pytest.approx(sum(w * (100 if v is None else v) for w, v in parts), abs=0.051)
    shown = weights_in_percent(marts.published_weights(history))
    assert shown == {"e": 50, "q": 25, "s": 25}
    assert "效率50%" in t("ratings.intro", "zh", **shown)
    monkeypatch.delenv("EZZ_RATING_WEIGHTS")
    marts.build(history, build_day=BUILD_DAY)         # the module's other tests expect the defaults
    assert weights_in_percent(marts.published_weights(history)) == {"e": 40, "q": 30, "s": 30}
