"""The pandas baseline of the marts (bench/marts_pandas.py, what bench/marts.py times the SQL build against)
computes what the SQL models compute: every frame equals its table of a full build on a small generated
history — same columns in the same order, same rows, same values (floats within 1e-9, NULL where NULL).

The demo history has no alarms, so the alarm rules run over it once (alarms.recompute) and some more alarms
are written over the whole history: every rule, a few without department, case or officer, some on a
draft case (no facts) — so mart_alarms and the ratings' quality are checked on data, not on nothing.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from app import alarms, calendar_store
from app.db import get_database
from bench import marts_pandas
from pipelines import demo, marts

BUILD_DAY = date(2026, 11, 26)
TABLES = {"fct_case": ("case_id",),
          "mart_received": ("period_kind", "period", "dimension", "key"),
          "mart_completed": ("period_kind", "period", "dimension", "key"),
          "mart_alarms": ("period_kind", "period", "dimension", "key"),
          "mart_measures": ("period_kind", "period", "dimension", "key"),
          "mart_dept_week": ("dept_code", "week"),
          "mart_dept_rating": ("period_kind", "period", "dept_code")}
OTHER_WEIGHTS = {"w_efficiency": 0.5, "w_quality": 0.25, "w_satisfaction": 0.25}


def _more_alarms(con) -> None:  # noqa: ANN001 - a DuckDB connection
    """Alarms raised over the whole history, on cases that left the draft and on drafts, by every rule; some
    without department, case or officer."""
    rng = np.random.default_rng(3)
    cases = con.sql("SELECT case_id, dept_code, assigned_user_id, submitted_at, created_at FROM main.cases "
                    "ORDER BY case_id").fetchall()
    depts = sorted({c[1] for c in cases})
    rows = []
    for n, i in enumerate(rng.choice(len(cases), 400)):
        case_id, dept, officer, submitted, created = cases[i]
        raised = (submitted or created) + timedelta(days=int(rng.integers(0, 60)), hours=int(rng.integers(0, 24)))
        rule = alarms.RULES[n % len(alarms.RULES)]
        kind = n % 20
        rows.append((rule, f"bench:{n}", None if kind == 0 else case_id,
                     None if kind == 1 else depts[n % len(depts)] if kind == 2 else dept,
                     None if kind in (3, 4) or officer is None else officer, min(raised, datetime(2026, 11, 26, 8))))
    con.executemany("INSERT INTO main.alarms (rule, subject_key, case_id, dept_code, officer_user_id, raised_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)", rows)


def _more_events(con) -> None:  # noqa: ANN001 - a DuckDB connection
    """Cases accepted again by another officer (the last accept by seq names the officer; an accept without
    actor does not), and refusals on completed cases — the demo accepts each case once."""
    officers = [r[0] for r in con.sql("SELECT DISTINCT actor_user_id FROM main.case_events "
                                      "WHERE action = 'accept' ORDER BY 1").fetchall()]
    cases = con.sql("SELECT c.case_id, MAX(e.seq) FROM main.cases AS c JOIN main.case_events AS e USING (case_id) "
                    "WHERE c.assigned_user_id IS NULL AND c.case_id IN (SELECT case_id FROM main.case_events "
                    "WHERE action = 'accept') GROUP BY 1 ORDER BY 1").fetchall()
    rows = []
    for n, (case_id, seq) in enumerate(cases[::10]):
        rows.append((case_id, seq + 1, officers[n % len(officers)], "accept", "accepted"))
        if n % 2:
            rows.append((case_id, seq + 2, None, "accept", "accepted"))
        if n % 4 == 0:
            rows.append((case_id, seq + 3, officers[-1 - n % len(officers)], "refuse", "refused"))
    con.executemany("INSERT INTO main.case_events (case_id, seq, occurred_at, actor_user_id, actor_role, action, "
                    "to_state, hash) VALUES (?, ?, TIMESTAMP '2026-11-20 10:00', ?, 'officer', ?, ?, 'test')", rows)


@pytest.fixture(scope="module")
def built(tmp_path_factory):  # noqa: ANN001, ANN201
    """(the pandas sources, the SQL tables of a full build with the default weights, db)."""
    calendar_store.invalidate()
    db = get_database(f"duckdb:///{tmp_path_factory.mktemp('baseline')}/x.duckdb")
    db.migrate()
    demo.generate(db, cases=1500, seed=5, end=BUILD_DAY)
    calendar_store.invalidate()
    alarms.recompute(db, today=BUILD_DAY, at=datetime(2026, 11, 26, 9, 0))
    raw, con = db.raw_duckdb()
    try:
        _more_alarms(con)
        _more_events(con)
    finally:
        raw.close()
    marts.build(db, build_day=BUILD_DAY, weights=marts.WEIGHTS)   # the defaults, whatever EZZ_RATING_WEIGHTS says
    raw, con = db.raw_duckdb()
    try:
        sources = marts_pandas.load(con, marts._calendar_frame(db, date(2027, 12, 31)))
        tables = {name: _sql_frame(con, name) for name in TABLES}
    finally:
        raw.close()
    yield sources, tables, db
    db.dispose()
    calendar_store.invalidate()


def _sql_frame(con, name: str) -> pd.DataFrame:  # noqa: ANN001
    table = con.sql(f"SELECT * FROM marts.{name}").to_arrow_table()   # noqa: S608 - fixed names
    # HUGEINT sums arrive as decimal(38, 0): as integers
    table = table.cast(pa.schema([pa.field(f.name, pa.int64()) if pa.types.is_decimal(f.type) else f
                                  for f in table.schema]))
    return table.to_pandas(date_as_object=False)


def _kind(s: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(s.dtype) or (s.dtype == object and s.dropna().map(type).eq(bool).all()):
        return "bool"      # (a BOOLEAN column with NULLs arrives from arrow as objects)
    if pd.api.types.is_datetime64_dtype(s.dtype):
        return "date"
    if pd.api.types.is_numeric_dtype(s.dtype):
        return "number"
    return "text"


def _assert_same(got: pd.DataFrame, expected: pd.DataFrame, keys: tuple[str, ...], name: str) -> None:
    assert list(got.columns) == list(expected.columns), f"{name}: {list(got.columns)} != {list(expected.columns)}"
    assert len(got) == len(expected), name
    got = got.sort_values(list(keys)).reset_index(drop=True)
    expected = expected.sort_values(list(keys)).reset_index(drop=True)
    assert not expected.duplicated(list(keys)).any(), name
    for col in expected.columns:
        g, e = got[col], expected[col]
        if e.notna().any():
            assert _kind(g) == _kind(e), (name, col, _kind(g), _kind(e))
        assert (g.isna() == e.isna()).all(), (name, col, "NULLs differ",
                                               expected.loc[g.isna() != e.isna(), list(keys)].head())
        present = e.notna()
        kind = _kind(e)
        if kind in ("number", "bool"):
            a = g[present].astype("float64").to_numpy()
            b = e[present].astype("float64").to_numpy()
            wrong = ~np.isclose(a, b, rtol=1e-9, atol=1e-9)
        elif kind == "date":
            wrong = (g[present].astype("datetime64[us]") != e[present].astype("datetime64[us]")).to_numpy()
        else:
            wrong = (g[present].astype(object) != e[present].astype(object)).to_numpy()
        assert not wrong.any(), (name, col, pd.DataFrame({"got": g[present][wrong], "sql": e[present][wrong]}).head())


@pytest.fixture(scope="module")
def frames(built):  # noqa: ANN001, ANN201
    sources, _, _ = built
    return marts_pandas.build(sources, BUILD_DAY)


def test_the_baseline_builds_every_mart(frames):  # noqa: ANN001
    assert set(frames) == set(TABLES)


@pytest.mark.parametrize("name", list(TABLES))
def test_pandas_baseline_equals_the_sql_build(built, frames, name):  # noqa: ANN001
    _assert_same(frames[name], built[1][name], TABLES[name], name)


def test_the_history_is_not_vacuous(built):  # noqa: ANN001
    _, tables, _ = built
    fct, al, rating = tables["fct_case"], tables["mart_alarms"], tables["mart_dept_rating"]
    assert fct["working_days_used"].notna().sum() > 1000
    assert fct["on_time"].eq(False).sum() > 0 and fct["refused"].sum() > 0 and fct["rating_level"].le(2).sum() > 0
    assert fct["town_code"].notna().all() and fct["village_code"].isna().sum() > 0
    assert set(al["dimension"]) == {"department", "item", "district", "town", "village", "officer", "city"}
    assert al["period"].nunique() > 20
    assert (rating["quality"] < 100).sum() > 20 and rating["quality"].isna().sum() > 0
    assert rating["grade"].nunique() >= 3
    assert (tables["mart_completed"]["median_working_days"] % 1).gt(0).any()   # interpolated medians


def test_other_weights(built):  # noqa: ANN001
    sources, _, db = built
    marts.build(db, build_day=BUILD_DAY, weights=OTHER_WEIGHTS)
    raw, con = db.raw_duckdb()
    try:
        expected = _sql_frame(con, "mart_dept_rating")
    finally:
        raw.close()
    got = marts_pandas.build(sources, BUILD_DAY, weights=OTHER_WEIGHTS)["mart_dept_rating"]
    _assert_same(got, expected, TABLES["mart_dept_rating"], "mart_dept_rating")
    default = marts_pandas.build(sources, BUILD_DAY)["mart_dept_rating"]
    assert not np.allclose(default["score"], got["score"])
