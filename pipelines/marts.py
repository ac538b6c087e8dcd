"""Build the analytics marts: plain DuckDB SQL in layers (dbt-style) — `models/staging/*.sql` over the
operational tables, then `models/marts/*.sql` over staging — each model followed by its data tests.

In DuckDB mode the marts live in schema `marts` of the same file, built by the process that owns it (the app
or this command), through a cursor of its own connection: no second process opens the file. In PostgreSQL mode
the operational tables are copied into a DuckDB warehouse file (EZZ_WAREHOUSE, default
data/warehouse/warehouse.duckdb) and the same SQL runs there.

    python -m pipelines.marts            # full rebuild of the database in EZZ_DATABASE_URL
"""
from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
import sqlalchemy as sa

from app import calendar_store, timeutil
from app.db import Database, get_database

MODELS = Path(__file__).resolve().parent / "models"
SOURCES = ("cases", "case_events", "clock_stops", "ratings", "alarms", "items", "departments", "regions",
           "org_units")
SOURCE_COLUMNS = {"case_events": "case_id, seq, occurred_at, actor_user_id, actor_role, actor_unit_id, action, "
                                 "from_state, to_state"}
WEIGHTS = {"w_efficiency": 0.4, "w_quality": 0.3, "w_satisfaction": 0.3}   # published defaults (domain.md §6)
CALENDAR_FROM = date(2012, 1, 1)

# Data tests: (model, what, SQL returning the number of offending rows).
TESTS: list[tuple[str, str, str]] = [
    ("stg_cases", "case_id unique", "SELECT COUNT(*) - COUNT(DISTINCT case_id) FROM marts.stg_cases"),
    ("stg_cases", "no null keys", "SELECT COUNT(*) FROM marts.stg_cases WHERE dept_code IS NULL OR submitted_day IS NULL"),
    ("stg_stops", "no negative stop", "SELECT COUNT(*) FROM marts.stg_stops WHERE working_days < 0"),
    ("fct_case", "one row per staged case",
     "SELECT ABS((SELECT COUNT(*) FROM marts.fct_case) - (SELECT COUNT(*) FROM marts.stg_cases))"),
    ("fct_case", "working days never negative", "SELECT COUNT(*) FROM marts.fct_case WHERE working_days_used < 0"),
    ("fct_case", "completed cases are on time or not",
     "SELECT COUNT(*) FROM marts.fct_case WHERE completed_day IS NOT NULL AND on_time IS NULL "
     "AND working_days_used IS NOT NULL"),
    ("mart_dept_week", "(dept, week) unique",
     "SELECT COUNT(*) - COUNT(DISTINCT (dept_code, week)) FROM marts.mart_dept_week"),
    ("mart_dept_week", "received sums to the staged cases",
     "SELECT ABS((SELECT SUM(received) FROM marts.mart_dept_week) - (SELECT COUNT(*) FROM marts.stg_cases))"),
    ("mart_dept_week", "completed sums to the completed facts",
     "SELECT ABS((SELECT SUM(completed) FROM marts.mart_dept_week) - "
     "(SELECT COUNT(*) FROM marts.fct_case WHERE completed_day IS NOT NULL))"),
    ("mart_dept_week", "rates within 0..1",
     "SELECT COUNT(*) FROM marts.mart_dept_week WHERE on_time_rate NOT BETWEEN 0 AND 1 "
     "OR online_share NOT BETWEEN 0 AND 1 OR satisfaction NOT BETWEEN 0 AND 1"),
    ("mart_dept_rating_week", "one rating per (dept, week)",
     "SELECT ABS((SELECT COUNT(*) FROM marts.mart_dept_rating_week) - (SELECT COUNT(*) FROM marts.mart_dept_week))"),
    ("mart_dept_rating_week", "score within 0..100 and graded",
     "SELECT COUNT(*) FROM marts.mart_dept_rating_week WHERE score NOT BETWEEN 0 AND 100 OR grade IS NULL"),
]


class MartTestFailed(AssertionError):
    pass


def _model_files() -> list[Path]:
    return sorted((MODELS / "staging").glob("*.sql")) + sorted((MODELS / "marts").glob("*.sql"))


def _statements(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if not line.strip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]


def warehouse_path() -> Path:
    return Path(os.environ.get("EZZ_WAREHOUSE", Path(__file__).resolve().parents[1] / "data" / "warehouse"
                               / "warehouse.duckdb"))


def _calendar_frame(db: Database, until: date) -> pl.DataFrame:
    cal = calendar_store.load_calendar(db)
    days, working = [], []
    d = CALENDAR_FROM
    while d <= until:
        days.append(d)
        working.append(cal.is_working_day(d))
        d += timedelta(days=1)
    frame = pl.DataFrame({"day": days, "is_working": working})
    return frame.with_columns(pl.col("is_working").cast(pl.Int32).cum_sum().alias("wd_index"))


def _prepare(wh: duckdb.DuckDBPyConnection, db: Database, build_day: date, weights: dict[str, float]) -> None:
    wh.execute("CREATE SCHEMA IF NOT EXISTS marts")
    if db.is_duckdb:
        for name in SOURCES:
            cols = SOURCE_COLUMNS.get(name, "*")
            wh.execute(f"CREATE OR REPLACE TEMP VIEW src_{name} AS SELECT {cols} FROM main.{name}")
    else:
        with db.read() as conn:
            for name in SOURCES:
                cols = SOURCE_COLUMNS.get(name, "*")
                frame = pl.read_database(sa.text(f"SELECT {cols} FROM {name}"), conn,  # noqa: S608 - fixed names
                                         infer_schema_length=None)
                frame = frame.cast(_declared_types(name, frame.columns), strict=False)
                wh.register(f"_load_{name}", frame.to_arrow())
                wh.execute(f"CREATE OR REPLACE TABLE src_{name} AS SELECT * FROM _load_{name}")
                wh.unregister(f"_load_{name}")
    calendar = _calendar_frame(db, build_day + timedelta(days=366))
    wh.register("_calendar", calendar.to_arrow())
    wh.execute("CREATE OR REPLACE TABLE marts.calendar_days AS SELECT * FROM _calendar")
    wh.unregister("_calendar")
    wh.execute("SET VARIABLE build_day = ?::DATE", [build_day])
    for key, value in weights.items():
        wh.execute(f"SET VARIABLE {key} = ?::DOUBLE", [value])


def _declared_types(table: str, columns: list[str]) -> dict[str, Any]:
    """The polars types of a table's columns as app/schema.py declares them (an empty or all-null column
    would otherwise arrive without a type)."""
    from app import schema as s

    kinds = {sa.Date: pl.Date, sa.DateTime: pl.Datetime, sa.Boolean: pl.Boolean, sa.Integer: pl.Int64,
             sa.BigInteger: pl.Int64, sa.String: pl.Utf8, sa.Text: pl.Utf8}
    out = {}
    for col in s.metadata.tables[table].columns:
        if col.name not in columns:
            continue
        impl = getattr(col.type, "impl", col.type)
        impl = impl if isinstance(impl, sa.types.TypeEngine) else impl()
        for kind, pl_type in kinds.items():
            if isinstance(impl, kind):
                out[col.name] = pl_type
                break
        else:
            out[col.name] = pl.Utf8   # JSON text and anything else: as text
    return out


def _open(db: Database) -> tuple[Any, duckdb.DuckDBPyConnection]:
    if db.is_duckdb:
        # The app's own connection (checked out of its pool for this build): never a second process on the file.
        raw, con = db.raw_duckdb()
        return raw, con
    path = warehouse_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    return con, con


def build(db: Database, *, build_day: date | None = None, weights: dict[str, float] | None = None,
          progress: Callable[[str, int, int], None] | None = None) -> dict[str, float]:
    """Rebuild every model and run its data tests; returns seconds per model. Raises MartTestFailed."""
    build_day = build_day or timeutil.today()
    weights = {**WEIGHTS, **(weights or {})}
    holder, wh = _open(db)
    timings: dict[str, float] = {}
    try:
        started = time.perf_counter()
        _prepare(wh, db, build_day, weights)
        timings["sources"] = time.perf_counter() - started
        files = _model_files()
        for n, path in enumerate(files, start=1):
            started = time.perf_counter()
            for stmt in _statements(path.read_text(encoding="utf-8")):
                wh.execute(stmt)
            timings[path.stem.split("_", 1)[1]] = time.perf_counter() - started
            if progress:
                progress(path.stem.split("_", 1)[1], n, len(files))
        failures = [f"{model}: {what} ({bad} rows)" for model, what, sql in TESTS
                    if (bad := wh.execute(sql).fetchone()[0] or 0)]
        if failures:
            raise MartTestFailed("; ".join(failures))
    finally:
        if not db.is_duckdb:
            wh.close()
        else:
            holder.close()
    return timings


def read(db: Database, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
    """Read from the marts (DuckDB mode: the same file; PostgreSQL mode: the warehouse)."""
    holder, wh = _open(db)
    try:
        return pl.from_arrow(wh.execute(sql, params or []).to_arrow_table())
    finally:
        if not db.is_duckdb:
            wh.close()
        else:
            holder.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--build-day", type=date.fromisoformat, default=None)
    args = parser.parse_args(argv)
    from app.config import load_settings

    settings = load_settings()
    db = get_database(args.database_url or settings.database_url, schema=settings.database_schema)
    db.migrate()
    timings = build(db, build_day=args.build_day,
                    progress=lambda name, n, total: print(f"[{n}/{total}] {name}", flush=True))
    for name, seconds in timings.items():
        print(f"{name:28} {seconds * 1000:8.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
