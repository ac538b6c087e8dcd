"""The marts on big histories (the demo generator's 1M and 10M cases), in one run per database file:

* full rebuild — every model and data test (`pipelines.marts.build`), one transaction;
* one-week refresh — the last build's watermark and build day set back 7 days, then
  `pipelines.marts.refresh`: it recomputes every case written or rated in that week, every open case (the
  build day moved) and the periods they touch — the work a refresh does after a week of activity;
* same-day refresh — the watermark set back an hour: what the background job's refresh usually does;
* pandas — the same marts by a straightforward pandas implementation (`bench/marts_pandas.py`, checked
  against the SQL by tests/test_marts_baseline.py): loading the sources, and computing;
* raw DuckDB floor — the scorecard's aggregates (per department and week: received, accepted, completed,
  on-time rate, mean / median / p90 working days, supplement, refusal, online share, satisfaction, bad
  reviews, alarms, score and grade) as a single hand-written query over the operational tables;
* per-case facts alone — the fct_case model by itself (into memory, and written to the file): the part of
  the full rebuild that the explorer's per-case reads need before any measure is computed;
* explorer — every interaction of the supervisor's 指标探索 page (filter, drill-down, path switch), driven
  by Streamlit's AppTest on the same file: server time per rerun.

Printed as tables; nothing is asserted.

    .venv/bin/python -m bench.marts /work/bench-data/ezz_1m.duckdb /work/bench-data/ezz_10m.duckdb
    .venv/bin/python -m bench.marts FILE --no-pandas --no-explorer
"""
from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import machine  # noqa: E402 - after the path is set

FLOOR_SQL = """
WITH c AS (
    SELECT case_id, dept_code, channel, supplement_count, promised_days + extension_days AS allowed, clock_start,
           state, CAST(submitted_at AS DATE) AS sub, CAST(accepted_at AS DATE) AS acc,
           CAST(decided_at AS DATE) AS dec, CAST(completed_at AS DATE) AS done
    FROM main.cases WHERE state <> 'draft' AND submitted_at IS NOT NULL
), st AS (
    SELECT s.case_id, SUM(e.wd_index - b.wd_index) AS stopped
    FROM main.clock_stops AS s JOIN c USING (case_id)
    JOIN marts.calendar_days AS b ON b.day = s.started_on
    JOIN marts.calendar_days AS e ON e.day = COALESCE(s.ended_on, $build_day)
    WHERE c.acc IS NOT NULL AND s.started_on >= c.acc GROUP BY 1
), f AS (
    SELECT c.*, CASE WHEN c.acc IS NOT NULL THEN e.wd_index - b.wd_index - COALESCE(st.stopped, 0) END AS used,
           rf.case_id IS NOT NULL AS refused, r.level
    FROM c LEFT JOIN st USING (case_id)
    LEFT JOIN (SELECT DISTINCT case_id FROM main.case_events WHERE action = 'refuse') AS rf USING (case_id)
    LEFT JOIN main.ratings AS r USING (case_id)
    LEFT JOIN marts.calendar_days AS b ON b.day = c.clock_start
    LEFT JOIN marts.calendar_days AS e ON e.day = COALESCE(c.dec, CASE WHEN c.state IN
              ('accepted', 'under_review', 'special_procedure') THEN $build_day END)
), recv AS (
    SELECT dept_code, date_trunc('week', sub) AS wk, COUNT(*) AS received, COUNT(acc) AS accepted,
           AVG((channel = 'online')::INT) AS online_share, AVG((supplement_count > 0)::INT) AS supplement_rate
    FROM f GROUP BY ALL
), comp AS (
    SELECT dept_code, date_trunc('week', done) AS wk, COUNT(*) AS completed,
           AVG(CASE WHEN used <= allowed THEN 1 ELSE 0 END) AS on_time_rate,
           AVG(used) AS mean_days, MEDIAN(used) AS median_days, QUANTILE_CONT(used, 0.9) AS p90_days,
           AVG(refused::INT) AS refusal_rate, AVG(level) / 5 AS satisfaction,
           AVG(CASE WHEN level IS NOT NULL THEN (level <= 2)::INT END) AS bad_review_share
    FROM f WHERE done IS NOT NULL GROUP BY ALL
), al AS (
    SELECT dept_code, date_trunc('week', raised_at) AS wk, COUNT(*) AS alarms,
           COUNT(*) FILTER (WHERE rule NOT IN ('overdue', 'approaching')) AS breaches
    FROM main.alarms WHERE dept_code IS NOT NULL GROUP BY ALL
), week AS (
    SELECT * FROM recv FULL JOIN comp USING (dept_code, wk) FULL JOIN al USING (dept_code, wk)
), scored AS (
    SELECT *, ROUND(0.4 * COALESCE(100 * on_time_rate, 100)
                    + 0.3 * COALESCE(CASE WHEN received > 0 THEN 100 * GREATEST(0, 1 - COALESCE(breaches, 0)
                                                                                   / received) END, 100)
                    + 0.3 * COALESCE(100 * satisfaction, 100), 1) AS score
    FROM week
)
SELECT *, CASE WHEN score >= 90 THEN '优秀' WHEN score >= 80 THEN '良好' WHEN score >= 60 THEN '合格'
               ELSE '不合格' END AS grade
FROM scored
"""


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _steps(done, at_least: float) -> str:  # noqa: ANN001 - a marts.Build
    return ", ".join(f"{k} {v:.2f}" for k, v in done.seconds.items() if v >= at_least)


def _refresh_as_if(db, build_day: date, watermark: str, last_day: str):  # noqa: ANN001, ANN202
    """Move the last build's watermark and build day back (fixed SQL expressions), then time a refresh."""
    from pipelines import marts

    raw, con = db.raw_duckdb()
    con.execute(f"UPDATE marts.build_log SET watermark = {watermark}, build_day = {last_day} "
                "WHERE built_at = (SELECT MAX(built_at) FROM marts.build_log)")
    raw.close()
    started = time.perf_counter()
    done = marts.refresh(db, build_day=build_day)
    assert done.mode == "incremental", "the refresh should have been incremental"
    return time.perf_counter() - started, done


def _pandas(db, path: Path, build_day: date) -> tuple[str, float, str]:  # noqa: ANN001
    import duckdb

    from bench import marts_pandas
    from pipelines import marts

    calendar = marts._calendar_frame(db, build_day + timedelta(days=366))
    db.dispose()
    con = duckdb.connect(str(path), read_only=True)
    gc.collect()
    started = time.perf_counter()
    sources = marts_pandas.load(con, calendar)
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    marts_pandas.build(sources, build_day, marts.WEIGHTS)
    computed = time.perf_counter() - started
    con.close()
    del sources
    gc.collect()
    row = ("pandas (load + compute)", loaded + computed,
           f"load {loaded:.1f} s, compute {computed:.1f} s; peak RSS {_peak_mb():,.0f} MB")
    print(f"| {row[0]} | {row[1]:,.2f} | | {row[2]} |", flush=True)
    return row


def _explorer(url: str, runs: int) -> list[tuple[str, float, float]]:
    """Each interaction of the explorer page, timed as the server runs it (AppTest: one script run)."""
    os.environ.update(EZZ_DATABASE_URL=url, EZZ_BACKGROUND_JOBS="0")
    import sqlalchemy as sa
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from app import auth, timeutil
    from app import schema as s
    from app import workflow as wf
    from app.db import get_database

    db = get_database(url)
    with db.read() as conn:
        uid = conn.execute(sa.select(s.users.c.user_id).where(s.users.c.role == wf.SUPERVISOR).limit(1)).scalar_one()
        end = conn.execute(sa.text("SELECT MAX(CAST(submitted_at AS DATE)) FROM cases")).scalar_one()
    supervisor = auth.actor_for(db, uid)
    timeutil.freeze(None)
    times: dict[str, list[float]] = {}

    def step(at, name: str, act) -> None:  # noqa: ANN001
        act(at)
        started = time.perf_counter()
        at.run()
        times.setdefault(name, []).append(time.perf_counter() - started)
        if at.exception:
            raise RuntimeError(f"{name}: {at.exception}")

    def drill(at) -> None:  # noqa: ANN001 - into the first (largest) group the page offers
        at.button(key="ex-drill-go").click()

    # A server scans the installed packages for Streamlit components once, when it starts; AppTest scans them
    # in each instance's first run (0.3-0.4 s here, by cProfile), which is not the page's time: the scan is
    # done once for the bench, as the server does, and handed to every instance.
    from streamlit.components.v2.component_manager import BidiComponentManager

    components = BidiComponentManager()
    components.discover_and_register_components(start_file_watching=False)
    for _ in range(runs):
        st.cache_resource.clear()
        at = AppTest.from_file(str(ROOT / "pages" / "explorer.py"), default_timeout=300)
        at._bidi_component_manager = components  # noqa: SLF001 - the server's once-per-start scan, above
        at.session_state["ezz_actor"] = supervisor
        step(at, "open (last 90 days, whole city)", lambda at: None)
        step(at, "period: one year", lambda at: at.date_input(key="ex-period").set_value(
            (end - timedelta(days=365), end)))
        step(at, "measure: on-time rate", lambda at: at.selectbox(key="ex-measure").set_value("on_time_rate"))
        step(at, "drill: district", drill)
        step(at, "drill: town", drill)
        step(at, "drill: village (case list)", drill)
        step(at, "up one level", lambda at: at.button(key="ex-up").click())
        step(at, "filter: level 乡镇街道", lambda at: at.selectbox(key="ex-level").set_value("乡镇街道"))
        step(at, "path: department", lambda at: at.radio(key="ex-path").set_value("department"))
        step(at, "drill: department", drill)
        step(at, "drill: officer (case list)", drill)
        step(at, "filter: item", lambda at: at.text_input(key="ex-item").set_value("4207-SCJG-003"))
    db.dispose()
    return [(name, statistics.median(ts), max(ts)) for name, ts in times.items()]


def _facts_alone(db, build_day: date) -> list[tuple[str, float, str]]:  # noqa: ANN001 - app.db.Database
    """The per-case facts by themselves (the fct_case model's SELECT over staging, no marts after it, no data
    tests), into memory and written to the file, best of 2 each, in a transaction rolled back: what the full
    rebuild spends before its first measure, against the floor, which writes 3,000 rows."""
    from pipelines import marts

    raw, con = db.raw_duckdb()
    out = []
    try:
        con.execute("BEGIN TRANSACTION")
        marts._source_views(con)  # noqa: SLF001 - the build's own set-up, without its tables
        con.execute("SET VARIABLE build_day = ?::DATE", [build_day])
        steps = {m.name: m for m in marts.models()}
        for m in steps.values():
            if m.kind == "ephemeral":
                con.execute(f"CREATE OR REPLACE TEMP VIEW {m.name} AS {marts.render(m.sql, False)}")
        sql = marts.render(steps[marts.FACTS].sql, False, marts._enum_types(con, False))  # noqa: SLF001 - as built
        for what, target in (("into memory (a temporary table)", "TEMP TABLE _facts_alone"),
                             ("written to the file", "TABLE marts._facts_alone")):
            best = float("inf")
            for _ in range(2):
                started = time.perf_counter()
                con.execute(f"CREATE OR REPLACE {target} AS {sql}")
                best = min(best, time.perf_counter() - started)
            out.append((f"per-case facts alone, {what}", best, "fct_case's SELECT, no marts, best of 2"))
        con.execute("ROLLBACK")
    finally:
        raw.close()
    return out


def bench_file(path: Path, *, with_pandas: bool, with_explorer: bool, runs: int, only_pandas: bool = False) -> None:

    from app import calendar_store
    from app.db import get_database
    from pipelines import marts

    url = f"duckdb:///{path}"
    calendar_store.invalidate()
    db = get_database(url)
    db.migrate()
    with db.read() as conn:
        import sqlalchemy as sa

        n_cases = conn.execute(sa.text("SELECT COUNT(*) FROM cases")).scalar_one()
        n_events = conn.execute(sa.text("SELECT COUNT(*) FROM case_events")).scalar_one()
        build_day = conn.execute(sa.text("SELECT MAX(CAST(updated_at AS DATE)) FROM cases")).scalar_one()
    rows: list[tuple[str, float, str]] = []
    print(f"\n## {path.name}: {n_cases:,} cases, {n_events:,} events, {path.stat().st_size / 1e9:.1f} GB; "
          f"build day {build_day}; {os.cpu_count()} cores", flush=True)

    if only_pandas:
        _pandas(db, path, build_day)
        return
    started = time.perf_counter()
    done = marts.build(db, build_day=build_day)
    full = time.perf_counter() - started
    rows.append(("full rebuild (all models + data tests)", full, _steps(done, 0.05)))

    # As if the last build ran a week ago (its watermark and build day a week back) ...
    seconds, done = _refresh_as_if(db, build_day, "watermark - INTERVAL 7 DAY", "build_day - 7")
    rows.append((f"one-week refresh ({done.changed_cases:,} cases recomputed)", seconds, _steps(done, 0.01)))
    # ... and the background job's usual refresh: the same build day, an hour of activity since the last one.
    seconds, done = _refresh_as_if(db, build_day, "watermark - INTERVAL 1 HOUR", "build_day")
    rows.append((f"same-day refresh, last hour ({done.changed_cases:,} cases recomputed)", seconds,
                 _steps(done, 0.01)))

    raw, con = db.raw_duckdb()
    try:
        sql = FLOOR_SQL.replace("$build_day", f"DATE '{build_day.isoformat()}'")
        floors = []
        for _ in range(2):
            started = time.perf_counter()
            con.execute(f"CREATE OR REPLACE TEMP TABLE _floor AS {sql}")
            floors.append(time.perf_counter() - started)
        n_rows = con.execute("SELECT COUNT(*) FROM _floor").fetchall()[0][0]
    finally:
        raw.close()
    floor = min(floors)
    rows.append(("raw DuckDB floor (scorecard aggregates, one query)", floor, f"{n_rows:,} dept-weeks, best of 2"))
    rows.extend(_facts_alone(db, build_day))

    if with_pandas:
        rows.append(_pandas(db, path, build_day))
        db = get_database(url)
    db.dispose()

    print("\n| what | seconds | × floor | detail |\n|---|---:|---:|---|")
    for name, seconds, detail in rows:
        print(f"| {name} | {seconds:,.2f} | {seconds / floor:,.1f} | {detail} |")
    if with_pandas:
        pandas_s = rows[-1][1]
        print(f"\nfull rebuild vs pandas: {pandas_s / full:.1f}× faster; vs floor: {full / floor:.2f}×", flush=True)

    if with_explorer:
        steps = _explorer(url, runs)
        print(f"\n### explorer interactions ({runs} runs each, server time per rerun)\n")
        print("| interaction | median ms | worst ms |\n|---|---:|---:|")
        for name, med, worst in steps:
            print(f"| {name} | {med * 1000:,.0f} | {worst * 1000:,.0f} |")
        print(f"\nslowest: {max(steps, key=lambda r: r[1])[0]}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--no-pandas", action="store_true")
    parser.add_argument("--no-explorer", action="store_true")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--only-pandas", action="store_true", help="only the pandas baseline (its own process: "
                        "at 10M it needs most of the memory)")
    args = parser.parse_args(argv)
    import duckdb

    before = machine.reference_loop()
    print(f"DuckDB {duckdb.__version__}; {os.cpu_count()} cores; started {date.today()}")
    for path in args.files:
        bench_file(path, with_pandas=not args.no_pandas, with_explorer=not args.no_explorer, runs=args.runs,
                   only_pandas=args.only_pandas)
    print(f"\n{machine.describe(before)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
