"""The officer queue (待办) and the supervisor explorer (指标探索) server times on PostgreSQL at scale (default
1M demo cases): each service call a script run of the screen makes, run repeatedly, median and p95. Printed as a
table; nothing is asserted.

    .venv/bin/python -m bench.queue_pg                               # schema ezz_bench1m: generated if empty
    .venv/bin/python -m bench.queue_pg --cases 200000 --schema ezz_bench200k --runs 20

The schema is generated once with pipelines.demo (through EZZ_DATABASE_URL / EZZ_DATABASE_SCHEMA) and kept; the
explorer reads the analytics warehouse (a DuckDB file built from PostgreSQL by pipelines.marts; --warehouse,
built with --full when absent). The machine (load average, a reference loop: bench/machine.py) is printed beside the table.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import machine  # noqa: E402 - after the path is set

PG_URL = os.environ.get("EZZ_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _timed(fn, runs: int) -> tuple[float, float, float]:  # noqa: ANN001
    fn()   # the first call warms the connection pool and the caches: not counted
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))], times[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", default=PG_URL)
    parser.add_argument("--schema", default="ezz_bench1m", help="kept between runs; generated when empty")
    parser.add_argument("--cases", type=int, default=1_000_000, help="demo cases to generate into an empty schema")
    parser.add_argument("--warehouse", default=str(ROOT / "bench" / ".data" / "warehouse-1m.duckdb"))
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 11, 26),
                        help="the demo's end date (the explorer's periods end here)")
    args = parser.parse_args(argv)
    env = dict(os.environ, EZZ_DATABASE_URL=args.pg_url, EZZ_DATABASE_SCHEMA=args.schema,
               EZZ_WAREHOUSE=args.warehouse, EZZ_BACKGROUND_JOBS="0")
    os.environ.update(env)
    import logging

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    import sqlalchemy as sa

    from app import auth, explorer, stats, workbench
    from app import schema as s
    from app.db import get_database

    db = get_database(args.pg_url, schema=args.schema)
    db.migrate()
    with db.read() as conn:
        have = conn.execute(sa.select(sa.func.count()).select_from(s.cases)).scalar_one()
    if have == 0:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pipelines.demo", "--cases", str(args.cases), "--end",
                        args.end.isoformat()], check=True, env=env, cwd=ROOT)
        print(f"demo: {args.cases:,} cases generated in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    from pipelines import marts

    if marts.published_path() is None:   # no published build of this warehouse yet
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "pipelines.marts", "--full"], check=True, env=env, cwd=ROOT)
        print(f"warehouse built in {time.perf_counter() - started:.0f} s", file=sys.stderr)

    def actor_named(username: str):  # noqa: ANN202
        with db.read() as conn:
            uid = conn.execute(sa.select(s.users.c.user_id).where(s.users.c.username == username)).scalar_one()
        return auth.actor_for(db, uid)

    with db.read() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(s.cases)).scalar_one()
    rows: list[tuple[str, str, float, float, float]] = []
    for who, label in (("scjg_officer", "city officer"), ("ec_scjg_officer", "district officer")):
        actor = actor_named(who)
        _, total = workbench.queue(db, actor)
        busiest = workbench.queue(db, actor)[0]["case_no"][0]
        desk = [
            ("queue figures (4 metrics)", lambda a=actor: stats.queue_figures(db, a)),
            ("queue counts by state", lambda a=actor: workbench.queue_counts(db, a)),
            ("queue filter choices", lambda a=actor: workbench.queue_choices(db, a)),
            ("queue page 1 (most urgent)", lambda a=actor: workbench.queue(db, a)),
            ("queue, red only", lambda a=actor: workbench.queue(db, a, workbench.QueueFilter(warning="red"))),
            ("queue, search a case no", lambda a=actor, b=busiest: workbench.queue(
                db, a, workbench.QueueFilter(search=b))),
        ]
        whole = [fn for name, fn in desk[:4]]
        desk.append(("desk script run (the 4 above)", lambda fns=whole: [f() for f in fns]))
        for name, fn in desk:
            med, p95, worst = _timed(fn, args.runs)
            rows.append((f"待办 {label} ({total:,} open)", name, med, p95, worst))

    month = explorer.Query(start=args.end.replace(day=1), end=args.end)
    year = explorer.Query(start=args.end - timedelta(days=364), end=args.end)
    top = explorer.explore(db, year)
    district = top["key"][0]
    town = explorer.explore(db, explorer.Query(start=year.start, end=year.end,
                                               drill=[("district_code", district)]))["key"][0]
    dept = explorer.explore(db, explorer.Query(start=year.start, end=year.end, path="department"))["key"][0]
    officer = next(k for k in explorer.explore(db, explorer.Query(
        start=month.start, end=month.end, path="department", drill=[("dept_code", dept)]))["key"] if k)
    interactions = [
        ("city → districts, this month", lambda: explorer.explore(db, month)),
        ("city → districts, 12 months", lambda: explorer.explore(db, year)),
        ("drill: district → towns, 12 months", lambda: explorer.explore(db, explorer.Query(
            start=year.start, end=year.end, drill=[("district_code", district)]))),
        ("drill: town → villages, 12 months", lambda: explorer.explore(db, explorer.Query(
            start=year.start, end=year.end, drill=[("district_code", district), ("town_code", town)]))),
        ("departments, 12 months", lambda: explorer.explore(db, explorer.Query(
            start=year.start, end=year.end, path="department"))),
        ("drill: department → officers", lambda: explorer.explore(db, explorer.Query(
            start=year.start, end=year.end, path="department", drill=[("dept_code", dept)]))),
        ("drill: officer → cases (list)", lambda: explorer.explore(db, explorer.Query(
            start=month.start, end=month.end, path="department", drill=[("dept_code", dept), ("officer_user_id", officer)]))),
        ("last builds (page header)", lambda: explorer.last_builds(db)),
    ]
    for name, fn in interactions:
        med, p95, worst = _timed(fn, args.runs)
        rows.append(("指标探索 supervisor", name, med, p95, worst))

    wh = marts.published_path()
    print(f"\nPostgreSQL schema {args.schema}: {n:,} cases; warehouse {wh.name} "
          f"({wh.stat().st_size / 1e6:.0f} MB); {args.runs} runs each after one warm-up; "
          f"{machine.describe()}\n")
    print(f"| {'screen':34} | {'call':34} | median ms | p95 ms | max ms |")
    print(f"|{'-' * 36}|{'-' * 36}|----------:|-------:|-------:|")
    for screen, name, med, p95, worst in rows:
        print(f"| {screen:34} | {name:34} | {med * 1000:9.1f} | {p95 * 1000:6.1f} | {worst * 1000:6.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
