"""How long the officer's screens take on the demo database (default 100k cases): each screen is run the way a
browser session runs it (Streamlit AppTest over the real page file, the real DuckDB file), several times, and
the services behind it are timed on their own. Printed as a table; nothing is asserted.

    .venv/bin/python -m bench.screens                       # builds bench/.data/demo-100k.duckdb once
    .venv/bin/python -m bench.screens --cases 20000 --runs 3
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _timed(fn, runs: int) -> tuple[float, float]:  # noqa: ANN001
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), max(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    path = ROOT / "bench" / ".data" / f"demo-{args.cases // 1000}k.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    url = f"duckdb:///{path}"
    os.environ.update(EZZ_DATABASE_URL=url, EZZ_BACKGROUND_JOBS="0")

    import sqlalchemy as sa
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from app import auth, fees, workbench
    from app import schema as s
    from app import workflow as wf
    from app.db import get_database
    from pipelines import demo

    db = get_database(url)
    db.migrate()
    with db.read() as conn:
        have = conn.execute(sa.select(sa.func.count()).select_from(s.cases)).scalar_one()
    if have == 0:
        started = time.perf_counter()
        demo.main(["--database-url", url, "--cases", str(args.cases), "--if-empty"])
        print(f"demo database built in {time.perf_counter() - started:.0f} s: {path}")

    def actor_named(username: str):  # noqa: ANN202
        with db.read() as conn:
            uid = conn.execute(sa.select(s.users.c.user_id).where(s.users.c.username == username)).scalar_one()
        return auth.actor_for(db, uid)

    officer, head = actor_named("scjg_officer"), actor_named("scjg_head")
    frame, total = workbench.queue(db, officer)
    busiest = frame["case_no"][0] if frame.height else None
    with db.read() as conn:
        co = conn.execute(sa.select(s.parallel_tasks.c.case_id, s.parallel_tasks.c.dept_code)
                          .where(s.parallel_tasks.c.state == "open").limit(1)).fetchone()
    co_actor = None
    if co is not None:
        with db.read() as conn:
            uname = conn.execute(sa.select(s.users.c.username).select_from(
                s.users.join(s.org_units, s.org_units.c.unit_id == s.users.c.unit_id))
                .where(s.org_units.c.dept_code == co.dept_code, s.users.c.role == wf.OFFICER,
                       s.org_units.c.region_code == "4207")).scalar()
        co_actor = actor_named(uname) if uname else None

    rows: list[tuple[str, str, float, float]] = []
    service_calls = [
        ("queue (default, page 1)", lambda: workbench.queue(db, officer)),
        ("queue (red only)", lambda: workbench.queue(db, officer, workbench.QueueFilter(warning="red"))),
        ("queue (search by case no)", lambda: workbench.queue(db, officer, workbench.QueueFilter(search=busiest or "x"))),
        ("queue counts", lambda: workbench.queue_counts(db, officer)),
        ("queue filter choices", lambda: workbench.queue_choices(db, officer)),
        ("case view", lambda: workbench.case_view(db, officer, workbench.find_case(db, officer, busiest))),
        ("unpaid fee notices", lambda: fees.unpaid_notices(db, officer)),
    ]
    if co_actor is not None:
        service_calls.append(("queue (parallel tasks)", lambda: workbench.queue(
            db, co_actor, workbench.QueueFilter(co_tasks="co"))))
    for name, fn in service_calls:
        med, worst = _timed(fn, args.runs)
        rows.append(("service", name, med, worst))

    def page(file: str, who, **query) -> None:  # noqa: ANN001
        st.cache_resource.clear()
        at = AppTest.from_file(str(ROOT / "pages" / file), default_timeout=120)
        at.session_state["ezz_actor"] = who
        for k, v in query.items():
            at.query_params[k] = v
        at.run()
        if at.exception:
            raise RuntimeError(f"{file}: {at.exception}")

    screens = [("待办 queue (officer)", lambda: page("home_officer.py", officer)),
               ("待办 queue (head)", lambda: page("home_officer.py", head)),
               ("办件详情 case screen", lambda: page("officer_case.py", officer, no=busiest)),
               ("收费对账 fees", lambda: page("fee_reconcile.py", officer))]
    if co_actor is not None:
        screens.append(("协办 parallel tasks", lambda: page("co_tasks.py", co_actor)))
    for name, fn in screens:
        med, worst = _timed(fn, args.runs)
        rows.append(("screen", name, med, worst))

    with db.read() as conn:
        n = conn.execute(sa.select(sa.func.count()).select_from(s.cases)).scalar_one()
    print(f"\n{n:,} cases in {path.name} ({path.stat().st_size / 1e6:.0f} MB); queue of scjg_officer: {total:,}; "
          f"{args.runs} runs each\n")
    print(f"| {'kind':7} | {'what':32} | median ms | worst ms |")
    print(f"|{'-' * 9}|{'-' * 34}|-----------|----------|")
    for kind, name, med, worst in rows:
        print(f"| {kind:7} | {name:32} | {med * 1000:9.0f} | {worst * 1000:8.0f} |")
    slowest = max((r for r in rows if r[0] == "screen"), key=lambda r: r[2])
    print(f"\nslowest screen: {slowest[1]} — median {slowest[2] * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
