"""Build the analytics marts: plain DuckDB SQL in layers (dbt-style) — `models/staging/*.sql` over the
operational tables, then `models/marts/*.sql` over staging — each build followed by the data tests.

Each model file is one SELECT with a first line that says how it is kept (dbt's materialisations):
    -- ephemeral              a temporary view for the models after it (staging)
    -- key: case_id           a table, a row per case; a refresh recomputes the changed cases
    -- key: period <side>     a table per (period_kind, period) on one side — received, completed, raised;
                              a refresh recomputes the periods whose cases changed on that side
    -- key: period | week     a table per period over all sides
    -- view                   a view over other models (nothing to refresh)
The SQL is a Jinja template, like dbt's: `changed(col)`, `affected(...)` and `affected_facts(...)` expand to
filters on the changed cases or the affected periods in a refresh, and to nothing in a full build.

A refresh (`refresh`) recomputes only what changed since the last build — cases written or rated since its
watermark (less a margin), new cases, and the open cases whose clock runs to the build day — and the periods
they fall in; of the changed cases' fact rows only those that came out different are rewritten, and the
data tests read the rows written. It trusts the timestamps: a move written with a much earlier time than the
last build (a backdated import) needs a full build, as does a change of the calendar; new weights or models
(the SQL of models/) make one by themselves. A full build (`build`) recomputes everything (on demand, after a
calendar change, or when there is nothing yet).
Either runs in one transaction and keeps the old marts if a data test fails.

In DuckDB mode the marts live in schema `marts` of the same file, built by the process that owns it (the app
or this command), through its own connection: no second process opens the file. In PostgreSQL mode the
operational tables are copied (a refresh: only the changed cases) into a DuckDB warehouse and the same SQL
runs there — with several app servers, published atomically so that no reader sees half a refresh:

* EZZ_WAREHOUSE (default data/warehouse/warehouse.duckdb) names the warehouse; its directory holds
  `warehouse.work.duckdb` (the builder's private file, refreshed incrementally), the published builds
  `warehouse.v000042.duckdb`, and the pointer `warehouse.current` (the name of the current build).
* One build at a time across the servers (a PostgreSQL advisory lock per schema; the background job runs on
  the job leader only, and a supervisor's rebuild on another server waits for it). A build that passes its
  data tests is checkpointed and copied to a new version under a temporary name, fsynced, renamed into place,
  and the pointer replaced the same way (os.replace is atomic). A failed build publishes nothing.
* Each read takes a read-only cursor on the build the pointer names at that moment (a process keeps that
  build open between reads: opening a DuckDB file costs more than a mart query), so every server reads a
  complete build and never blocks the builder; a reader that opened the previous build finishes on it, and
  that build is closed when no read uses it. Superseded builds are deleted KEEP_SECONDS after their successor
  appeared.
* The directory must be shared by every server — the same machine, or a shared filesystem (NFS, CephFS …)
  mounted at the same path in production. Deleting a build only after a grace period is what makes that safe
  on a network filesystem, where a file removed under an open reader of another machine would vanish for it.

    python -m pipelines.marts            # refresh (a full build the first time)
    python -m pipelines.marts --full     # full rebuild
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import jinja2
import polars as pl
import sqlalchemy as sa

from app import calendar_store, timeutil
from app import workflow as wf
from app.config import Settings, load_settings, path_setting
from app.db import Database, get_database
from app.files import fsync_path

MODELS = Path(__file__).resolve().parent / "models"
SOURCES = ("cases", "case_events", "clock_stops", "ratings", "alarms", "items", "departments", "regions",
           "org_units")
CASE_SOURCES = ("cases", "case_events", "clock_stops", "ratings")    # copied per changed case in a refresh
SOURCE_COLUMNS = {"case_events": "case_id, seq, occurred_at, actor_user_id, actor_role, actor_unit_id, action, "
                                 "from_state, to_state"}


def as_variables(percent: tuple[int, ...]) -> dict[str, float]:
    """Rating weights in percent (efficiency, quality, satisfaction) as the models' variables."""
    e, q, s = percent
    return {"w_efficiency": e / 100, "w_quality": q / 100, "w_satisfaction": s / 100}


WEIGHTS = as_variables(Settings.rating_weights)   # the defaults of domain.md §6, as app/config declares them


def configured_weights() -> dict[str, float]:
    """The published weights (EZZ_RATING_WEIGHTS, default 40/30/30) as the models' variables."""
    return as_variables(load_settings().rating_weights)


def published_weights(db: Database) -> dict[str, float]:
    """The weights the current ratings were computed with (the last build's), else the configured ones."""
    try:
        frame = read(db, "SELECT weights FROM marts.build_log ORDER BY built_at DESC, rowid DESC LIMIT 1")
        if frame.height and frame[0, 0]:
            return json.loads(frame[0, 0])
    except Exception:  # noqa: BLE001 - no marts yet
        pass
    return configured_weights()
CALENDAR_FROM = date(2012, 1, 1)
CITY = "4207"
# Open cases are recomputed when the build day moves on: their clock runs to the build day. (A warning level
# the background job moves touches the row's updated_at, so it is picked up like any other change.)
CLOCK_STATES = tuple(sorted(wf.OPEN_STATES))
# A refresh looks back this far before the watermark, so a write committed late (its updated_at taken before
# the last build read the table) is still picked up; recomputing a case twice is harmless.
OVERLAP = timedelta(minutes=10)
DIMENSIONS = (("department", "dept_code"), ("item", "item_code"), ("district", "district_code"),
              ("town", "town_code"), ("village", "village_code"), ("officer", "officer_user_id"))
# The dimensions in two branches, each a few columns whose combinations are few per day: the service
# (department, item, officer) and the place (district, town, village).
BRANCHES = (("dept_code", "item_code", "officer_user_id"), ("district_code", "town_code", "village_code"))
_LOCK = threading.Lock()   # one build at a time per process: two would conflict on the same rows
BUILD_LOCK = 0x455A5A57    # 'EZZW': the advisory lock of warehouse builds across servers (PostgreSQL mode)
KEEP_SECONDS = 600         # a superseded published build is deleted this long after its successor appeared

# Data tests: (model, what, SQL returning the number of offending rows), rendered like the models, so a
# refresh tests the rows it wrote (`written`: the refresh's new rows of a model, else the whole table) and the
# periods it recomputed: the per-row tests of the facts read the rows written, not the 10M-row table.
_MEASURE_SIDES = ("mart_received", "mart_completed", "mart_alarms")
# The ids are counted once each in a bitmap over their range where the range is small enough (case ids come from
# a sequence: 10M cases, a 1.25 MB bitmap): measured 0.03 s at 10M where COUNT(DISTINCT) hashed them in 0.4 s.
# (bitstring_agg refuses a range too large, and an error would abort the build: the range is read first.)
DENSE_IDS = 2**30
TESTS: list[tuple[str, str, str]] = [
    ("fct_case", "case_id unique",
     "SELECT COUNT(*) - {% if ids_span is not none and ids_span < dense_ids %}bit_count(bitstring_agg(case_id))"
     "{% else %}COUNT(DISTINCT case_id){% endif %} FROM {{ written('fct_case') }}"),
    ("fct_case", "no null keys", "SELECT COUNT(*) FROM {{ written('fct_case') }} WHERE dept_code IS NULL "
     "OR submitted_day IS NULL"),
    ("fct_case", "one row per case that left the draft",
     "SELECT ABS((SELECT COUNT(*) FROM marts.fct_case) - "
     "(SELECT COUNT(*) FROM src_cases WHERE state <> 'draft' AND submitted_at IS NOT NULL))"),
    ("fct_case", "working days never negative",
     "SELECT COUNT(*) FROM {{ written('fct_case') }} WHERE working_days_used < 0"),
    ("fct_case", "completed cases are on time or not",
     "SELECT COUNT(*) FROM {{ written('fct_case') }} WHERE completed_day IS NOT NULL AND on_time IS NULL "
     "AND working_days_used IS NOT NULL"),
    # mart_measures is a FULL JOIN of the three sides on the key: unique when each side is (and cheaper to
    # test on the tables than through the view).
    ("mart_measures", "(period, dimension, key) unique",
     "SELECT " + " + ".join(
         f"(SELECT COUNT(*) - COUNT(DISTINCT (period_kind, period, dimension, key)) FROM marts.{side} "
         "WHERE TRUE {{ affected('period', 'period_kind') }})" for side in _MEASURE_SIDES)),
    # received comes from mart_received alone; a partition missing from it would sum to 0 (4 partitions).
    ("mart_measures", "each partition's received sums to the city's",
     "SELECT COUNT(*) FROM (SELECT period_kind, period FROM (SELECT period_kind, period, dimension, "
     "SUM(received) AS n FROM marts.mart_received WHERE dimension IN ('department', 'item', 'district', 'city') "
     "{{ affected('period', 'period_kind') }} GROUP BY ALL) GROUP BY ALL HAVING MIN(n) <> MAX(n) OR COUNT(*) <> 4)"),
    ("mart_dept_week", "(dept, week) unique",
     "SELECT COUNT(*) - COUNT(DISTINCT (dept_code, week)) FROM marts.mart_dept_week"),
    ("mart_dept_week", "received sums to the staged cases",
     "SELECT ABS((SELECT SUM(received) FROM marts.mart_dept_week) - (SELECT COUNT(*) FROM marts.fct_case))"),
    ("mart_dept_week", "completed sums to the completed facts",
     "SELECT ABS((SELECT SUM(completed) FROM marts.mart_dept_week) - "
     "(SELECT COUNT(*) FROM marts.fct_case WHERE completed_day IS NOT NULL))"),
    ("mart_dept_week", "rates within 0..1",
     "SELECT COUNT(*) FROM marts.mart_dept_week WHERE (on_time_rate NOT BETWEEN 0 AND 1 "
     "OR online_share NOT BETWEEN 0 AND 1 OR satisfaction NOT BETWEEN 0 AND 1) {{ affected('week', \"'week'\") }}"),
    ("mart_dept_rating", "one rating per department and period",
     "SELECT ABS((SELECT COUNT(*) FROM marts.mart_dept_rating) - (SELECT COUNT(*) FROM (" + " UNION ".join(
         f"SELECT period_kind, period, key FROM marts.{side} WHERE dimension = 'department'"
         for side in _MEASURE_SIDES) + ")))"),
    ("mart_dept_rating", "score within 0..100 and graded",
     "SELECT COUNT(*) FROM marts.mart_dept_rating WHERE (score NOT BETWEEN 0 AND 100 OR grade IS NULL) "
     "{{ affected('period', 'period_kind') }}"),
]


class MartTestFailed(AssertionError):
    pass


SIDES = ("received", "completed", "raised")
FACTS = "fct_case"
# The day of the case facts whose week and month a side's measures fall in.
SIDE_DAYS = {"received": "submitted_day", "completed": "completed_day"}
# The columns of the case facts each side's measures depend on: a case whose values here changed touches
# the side's periods (before and after); a case that changed only elsewhere does not.
SIDE_COLUMNS = {
    "received": ("submitted_day", "accepted_day IS NOT NULL", "online", "supplemented"),
    "completed": ("completed_day", "on_time", "working_days_used", "refused", "rating_level"),
}
DIMENSION_COLUMNS = ("dept_code", "item_code", "district_code", "town_code", "village_code", "officer_user_id")


@dataclass(frozen=True)
class Build:
    """What a build did: `mode` full or incremental, the cases it recomputed (a refresh), seconds per step."""
    mode: str
    changed_cases: int | None
    seconds: dict[str, float]
    published: Path | None = None   # PostgreSQL mode: the published build readers now open

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


@dataclass(frozen=True)
class Model:
    name: str
    kind: str         # ephemeral | view | case_id | period | week
    side: str         # for period tables: received | completed | raised | any
    sql: str          # the Jinja template


def models() -> list[Model]:
    out = []
    for path in sorted((MODELS / "staging").glob("*.sql")) + sorted((MODELS / "marts").glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        first = text.splitlines()[0].removeprefix("--").strip()
        words = first.removeprefix("key:").split()
        kind, side = words[0], (words[1] if len(words) > 1 else "any")
        if kind not in ("ephemeral", "view", "case_id", "period", "week") or side not in (*SIDES, "any"):
            raise ValueError(f"{path.name}: first line must say how the model is kept (see pipelines/marts.py)")
        out.append(Model(path.stem.split("_", 1)[1], kind, side, text))
    return out


def render(template: str, incremental: bool, enum_types: dict[str, str] | None = None, **variables: Any) -> str:
    """A model or test with its Jinja macros expanded (only fixed SQL: nothing a user typed). `enum_types`:
    the ENUM type of each coded column of the facts (`as_enum`), else they stay text."""
    def as_enum(column: str) -> str:
        kind = (enum_types or {}).get(column)
        return f"CAST({column} AS {kind}) AS {column}" if kind else f"{column} AS {column}"

    def changed(column: str) -> str:
        return f"AND {column} IN (SELECT case_id FROM _changed_cases)" if incremental else ""

    def written(model: str) -> str:
        return f"_new_{model}" if incremental else f"marts.{model}"

    def _side(side: str) -> str:
        return "" if side == "any" else f" AND a.a_side = '{side}'"

    def affected(column: str, kind: str, side: str = "any") -> str:
        return (f"AND EXISTS (SELECT 1 FROM _affected AS a WHERE a.a_kind = {kind} AND a.a_period = {column}"
                f"{_side(side)})" if incremental else "")

    def affected_facts(alias: str, side: str) -> str:
        """A first cut on the facts' own day column, before they are paired with the period kinds: the days of
        the affected weeks and months, picked from the calendar (a filter on the column itself, which the
        scan can use, rather than on its week and month computed per fact)."""
        if not incremental:
            return ""
        return (f"AND {alias}.{SIDE_DAYS[side]} IN (SELECT c.day FROM marts.calendar_days AS c "
                f"WHERE CAST(date_trunc('week', c.day) AS DATE) IN (SELECT a_period FROM _affected AS a "
                f"WHERE a.a_kind = 'week'{_side(side)}) "
                f"OR CAST(date_trunc('month', c.day) AS DATE) IN (SELECT a_period FROM _affected AS a "
                f"WHERE a.a_kind = 'month'{_side(side)}))")

    def dimension_columns() -> str:
        names = " ".join(f"WHEN GROUPING({col}) = 0 THEN '{dim}'" for dim, col in DIMENSIONS)
        keys = " ".join(f"WHEN GROUPING({col}) = 0 THEN CAST({col} AS VARCHAR)" for _, col in DIMENSIONS)
        return f"CASE {names} ELSE 'city' END AS dimension, CASE {keys} ELSE '{CITY}' END AS key"

    def grouping_sets(period: str, *extra: str) -> str:
        keys = ", ".join(("period_kind", period, *extra))
        sets = [f"({keys}, {col})" for _, col in DIMENSIONS] + [f"({keys})"]
        return f"GROUPING SETS ({', '.join(sets)})"

    # A side's facts counted first per day (or per value as well) along the two branches of the dimensions —
    # each row carries one branch's columns, the other's NULL, and `by_place` says which — then rolled up
    # with grouping_sets(..., "by_place"): each dimension's groups from the other branch have a NULL key and
    # are dropped with the NULL keys of the facts, and the city is kept once (from the service branch).
    def branch_columns() -> str:
        return f"GROUPING({BRANCHES[0][0]}) AS by_place, {', '.join(c for branch in BRANCHES for c in branch)}"

    def branches(*keys: str) -> str:
        return f"GROUPING SETS ({', '.join('(' + ', '.join((*keys, *branch)) + ')' for branch in BRANCHES)})"

    def branch_kept() -> str:
        return "key IS NOT NULL AND NOT (dimension = 'city' AND by_place = 1)"

    def day_periods(days: str) -> str:
        """The per-day counts `days`, each row twice: with its week and with its month (period_kind, period)."""
        return (f"(SELECT d.*, p.period_kind, CAST(date_trunc(p.period_kind, d.day) AS DATE) AS period "
                f"FROM {days} AS d CROSS JOIN (VALUES ('week'), ('month')) AS p(period_kind))")

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - SQL, not HTML
    env.globals.update(as_enum=as_enum, changed=changed, written=written, affected=affected, affected_facts=affected_facts,
                       dimension_columns=dimension_columns, grouping_sets=grouping_sets, branch_columns=branch_columns,
                       branches=branches, branch_kept=branch_kept, day_periods=day_periods,
                       is_incremental=incremental)
    body = "\n".join(line for line in template.splitlines() if not line.strip().startswith("--"))
    return env.from_string(body).render(**variables).strip().rstrip(";")


def warehouse_path() -> Path:
    return path_setting("EZZ_WAREHOUSE", Path(__file__).resolve().parents[1] / "data" / "warehouse" / "warehouse.duckdb")


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


def _load(wh: duckdb.DuckDBPyConnection, db: Database, name: str, where: str = "",
          params: dict[str, Any] | None = None) -> pl.DataFrame:
    cols = SOURCE_COLUMNS.get(name, "*")
    with db.read() as conn:
        frame = pl.read_database(sa.text(f"SELECT {cols} FROM {name} {where}"),  # noqa: S608 - fixed names
                                 conn, execute_options={"parameters": params or {}}, infer_schema_length=None)
    return frame.cast(_declared_types(name, frame.columns), strict=False)


def _copy_sources(wh: duckdb.DuckDBPyConnection, db: Database, changed: list[int] | None) -> None:
    """PostgreSQL mode: the operational tables into the warehouse — all of them, or in a refresh only the
    changed cases' rows (and the small tables whole)."""
    for name in SOURCES:
        if changed is not None and name in CASE_SOURCES:
            frame = _load(wh, db, name, "WHERE case_id = ANY(:ids)", {"ids": changed})
            wh.register("_load", frame.to_arrow())
            wh.execute(f"DELETE FROM src_{name} WHERE case_id IN (SELECT case_id FROM _changed_cases)")
            wh.execute(f"INSERT INTO src_{name} BY NAME SELECT * FROM _load")
        else:
            wh.register("_load", _load(wh, db, name).to_arrow())
            wh.execute(f"CREATE OR REPLACE TABLE src_{name} AS SELECT * FROM _load")
        wh.unregister("_load")


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


# -- the warehouse files (PostgreSQL mode) ------------------------------------------------------------------
def work_path() -> Path:
    """The builder's private file: only the build holding the build lock opens it."""
    p = warehouse_path()
    return p.with_name(f"{p.stem}.work{p.suffix}")


def _pointer_path() -> Path:
    p = warehouse_path()
    return p.with_name(f"{p.stem}.current")


def _version_path(n: int) -> Path:
    p = warehouse_path()
    return p.with_name(f"{p.stem}.v{n:06d}{p.suffix}")


def published_versions() -> list[tuple[int, Path]]:
    """The published builds on disk, oldest first."""
    p = warehouse_path()
    pattern = re.compile(rf"{re.escape(p.stem)}\.v(\d+){re.escape(p.suffix)}")
    if not p.parent.is_dir():
        return []
    found = [(int(m.group(1)), f) for f in p.parent.iterdir() if (m := pattern.fullmatch(f.name))]
    return sorted(found)


def published_path() -> Path | None:
    """The current published build, or None before the first one."""
    try:
        name = _pointer_path().read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    return warehouse_path().with_name(name) if name else None


def _write_atomically(target: Path, write: Callable[[Path], None]) -> None:
    """Write under a temporary name in the same directory, fsync it, rename it onto `target`, fsync the
    directory: a reader finds the old file or the whole new one, also after a crash."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        write(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_path(target.parent)


def _publish() -> Path:
    """Copy the (checkpointed, closed) work file to a new published version and point readers at it."""
    work = work_path()
    versions = published_versions()
    target = _version_path((versions[-1][0] if versions else 0) + 1)
    _write_atomically(target, lambda tmp: shutil.copyfile(work, tmp))
    _write_atomically(_pointer_path(), lambda tmp: tmp.write_text(target.name + "\n", encoding="utf-8"))
    _prune(target)
    return target


def _prune(current: Path, now: float | None = None) -> list[Path]:
    """Delete the builds superseded more than KEEP_SECONDS ago (and temporary files a crash left behind): a
    reader that opened one has had that long to finish."""
    now = time.time() if now is None else now
    removed = []
    versions = [f for _, f in published_versions()]
    for older, newer in zip(versions, versions[1:]):
        if older == current:
            continue
        try:
            if now - newer.stat().st_mtime > KEEP_SECONDS:
                older.unlink()
                removed.append(older)
        except FileNotFoundError:   # another server pruned it first
            pass
    for tmp in current.parent.glob(f".{warehouse_path().stem}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            if now - tmp.stat().st_mtime > KEEP_SECONDS:
                tmp.unlink()
    return removed


def _build_lock_keys(db: Database) -> dict[str, int]:
    crc = zlib.crc32((db.schema or "public").encode())
    return {"k1": BUILD_LOCK, "k2": crc - 2**32 if crc >= 2**31 else crc}


@contextlib.contextmanager
def _build_lock(db: Database) -> Iterator[None]:
    """One build at a time: in this process, and with PostgreSQL across every server of the installation
    (a session advisory lock on a connection held for the build; it goes with the connection if we die)."""
    with _LOCK:
        if db.is_duckdb:
            yield
            return
        with db.engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:k1, :k2)"), _build_lock_keys(db))
            conn.commit()
            try:
                yield
            finally:
                with contextlib.suppress(Exception):   # a lost connection has released it anyway
                    conn.execute(sa.text("SELECT pg_advisory_unlock(:k1, :k2)"), _build_lock_keys(db))
                    conn.commit()


def _open(db: Database) -> tuple[Any, duckdb.DuckDBPyConnection]:
    """The file a build writes: the app's own in DuckDB mode, the private work file in PostgreSQL mode."""
    if db.is_duckdb:
        # The app's own connection (checked out of its pool for this build): never a second process on the file.
        raw, con = db.raw_duckdb()
        return raw, con
    work = work_path()
    work.parent.mkdir(parents=True, exist_ok=True)
    old = warehouse_path()
    if not work.exists() and old.is_file():
        # A warehouse of the layout before publication: it becomes the work file, so the next refresh stays
        # incremental.
        os.replace(old, work)
        if old.with_name(old.name + ".wal").exists():
            os.replace(old.with_name(old.name + ".wal"), work.with_name(work.name + ".wal"))
    con = duckdb.connect(str(work))
    return con, con


# The published builds this process has open: path → [read-only connection, reads in progress]. Opening a
# DuckDB database costs 50–100 ms (measured), many times a typical mart query, so each read takes a cursor on
# the open build the pointer names; a superseded build is closed as soon as no read uses it any more.
_published: dict[Path, list[Any]] = {}
_published_lock = threading.Lock()


def _connect_published(path: Path) -> duckdb.DuckDBPyConnection:
    for attempt in range(3):
        try:
            return duckdb.connect(str(path), read_only=True)
        except duckdb.IOException:
            # Pruned between reading the pointer and opening it (a reader that slept through KEEP_SECONDS):
            # the pointer names a newer build now.
            if attempt == 2:
                raise
            time.sleep(0.05)
            path = published_path() or path
    raise AssertionError("unreachable")


@contextlib.contextmanager
def _published_cursor() -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only cursor on the build published now; before the first one an empty database (a read then
    fails as on marts not built yet: duckdb.CatalogException)."""
    path = published_path()
    if path is None:
        con = duckdb.connect()
        try:
            yield con
        finally:
            con.close()
        return
    with _published_lock:
        entry = _published.get(path)
        if entry is None:
            entry = _published[path] = [_connect_published(path), 0]
        entry[1] += 1
        cursor = entry[0].cursor()
    try:
        yield cursor
    finally:
        cursor.close()
        current = published_path()
        with _published_lock:
            entry[1] -= 1
            for old, (con, reads) in list(_published.items()):
                if old != current and reads == 0:
                    con.close()
                    del _published[old]


@contextlib.contextmanager
def reader(db: Database) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection on the marts for several queries that must see one build (PostgreSQL mode: the published
    build current when it opened, read-only, whatever is published meanwhile)."""
    if db.is_duckdb:
        holder, wh = _open(db)
        try:
            yield wh
        finally:
            holder.close()
        return
    with _published_cursor() as wh:
        yield wh


def _close(db: Database, holder: Any, wh: duckdb.DuckDBPyConnection) -> None:
    if db.is_duckdb:
        holder.close()
    else:
        wh.close()


def models_version() -> str:
    """A digest of the models' SQL: the marts built by other models (a column no longer stored, a measure
    computed otherwise) are not refreshed, they are rebuilt."""
    return f"{zlib.crc32(''.join(m.sql for m in models()).encode()):08x}"


def _last_build(wh: duckdb.DuckDBPyConnection) -> tuple[datetime | None, date | None, str | None, str | None]:
    """The watermark, build day, weights and models version of the last build, or Nones when there are no
    marts to refresh."""
    found = wh.execute("SELECT COUNT(*) FROM duckdb_tables() WHERE schema_name = 'marts' "
                       "AND table_name IN ('build_log', 'fct_case')").fetchall()[0][0]
    if found < 2:
        return None, None, None, None
    wh.execute("ALTER TABLE marts.build_log ADD COLUMN IF NOT EXISTS weights VARCHAR")
    wh.execute("ALTER TABLE marts.build_log ADD COLUMN IF NOT EXISTS models VARCHAR")
    rows = wh.execute("SELECT watermark, build_day, weights, models FROM marts.build_log "
                      "ORDER BY built_at DESC, rowid DESC LIMIT 1").fetchall()
    return rows[0] if rows else (None, None, None, None)


def _changed_ids(db: Database, wh: duckdb.DuckDBPyConnection, since: datetime, newest: int,
                 clock_moved: bool) -> list[int] | None:
    """The cases to recompute: written or rated since `since`, newer than any staged case (a case written with
    an earlier timestamp — an import, a test's clock — is still found), and the open ones if the build day
    moved on."""
    clock = list(CLOCK_STATES) if clock_moved else ["-"]
    sql = ("SELECT case_id FROM cases WHERE updated_at >= :since OR state IN :clock OR case_id > :newest "
           "UNION SELECT case_id FROM ratings WHERE rated_at >= :since")
    if db.is_duckdb:
        # A UNION of one condition each rather than one OR: each scan reads one column, and the row groups
        # whose min/max rule a condition out (old updated_at, lower case_id) are skipped (measured 1.5×).
        wh.execute("CREATE OR REPLACE TEMP TABLE _changed_cases AS "
                   "SELECT case_id FROM main.cases WHERE updated_at >= ? "
                   "UNION SELECT case_id FROM main.cases WHERE state IN (SELECT UNNEST(?)) "
                   "UNION SELECT case_id FROM main.cases WHERE case_id > ? "
                   "UNION SELECT case_id FROM main.ratings WHERE rated_at >= ?",
                   [since, clock, newest, since])
        return None
    stmt = sa.text(sql).bindparams(sa.bindparam("clock", expanding=True))
    with db.read() as conn:
        ids = [r[0] for r in conn.execute(stmt, {"since": since, "clock": clock, "newest": newest})]
    wh.register("_ids", pl.DataFrame({"case_id": ids}, schema={"case_id": pl.Int64}).to_arrow())
    wh.execute("CREATE OR REPLACE TEMP TABLE _changed_cases AS SELECT case_id FROM _ids")
    wh.unregister("_ids")
    return ids


def _watermark(db: Database) -> datetime | None:
    with db.read() as conn:
        return conn.execute(sa.text("SELECT MAX(updated_at) FROM cases")).scalar()


def _source_views(wh: duckdb.DuckDBPyConnection) -> None:
    for name in SOURCES:
        wh.execute(f"CREATE OR REPLACE TEMP VIEW src_{name} AS SELECT {SOURCE_COLUMNS.get(name, '*')} "
                   f"FROM main.{name}")


# The facts' coded columns, stored as ENUMs (each value a small integer into the type's list): measured at
# 10M, the explorer's grouped queries by themselves took about half the time they took on the text (193 against
# 373 ms), its drills on the page 20-25 % less, and the full rebuild 25 s against 32 s (text costs the most of
# any column to write). The lists come from the reference tables and the cases
# themselves in a full build; a refresh keeps the table's types, and a changed case with a code outside them
# (a new item, say) makes it a full build (`refresh`).
LEVELS = ("市", "区", "乡镇街道", "村社区")
WARNING_LEVELS = ("green", "yellow", "red")


def _enum(values: set[str]) -> str | None:
    """The ENUM type of these codes (None for no codes: the column stays text, as an empty ENUM cannot be)."""
    return "ENUM(" + ", ".join("'" + v.replace("'", "''") + "'" for v in sorted(values)) + ")" if values else None


def _enum_types(wh: duckdb.DuckDBPyConnection, incremental: bool) -> dict[str, str]:
    """The ENUM type of each coded column of the facts: in a refresh, the table's own; in a full build, every
    code the reference tables and the cases hold (one read of the cases)."""
    if incremental:
        return {name: kind for name, kind in wh.execute(
            "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'marts' "
            f"AND table_name = '{FACTS}' AND data_type LIKE 'ENUM(%'").fetchall()}
    # (a list over no cases is NULL: none yet, or a warehouse copied before the first case)
    items, depts, regions, warnings = ({v for v in found or () if v is not None} for found in wh.execute(
        "SELECT list(DISTINCT item_code), list(DISTINCT dept_code), list(DISTINCT region_code), "
        "list(DISTINCT warning_level) FROM src_cases").fetchall()[0])
    items = {*items, *(r[0] for r in wh.execute("SELECT DISTINCT item_code FROM src_items").fetchall())}
    depts = {*depts, *(r[0] for r in wh.execute("SELECT dept_code FROM src_departments").fetchall())}
    regions = {*regions, *(r[0] for r in wh.execute("SELECT code FROM src_regions").fetchall())}
    # the region path as staging cuts it from the case's region code
    types = {"item_code": _enum(items), "dept_code": _enum(depts),
             "district_code": _enum({r[:6] for r in regions}),
             "town_code": _enum({r[:9] for r in regions if len(r) >= 9}),
             "village_code": _enum({r[:12] for r in regions if len(r) >= 12}),
             "level": _enum(set(LEVELS)), "state": _enum(set(wf.STATES)),
             "warning_level": _enum({*warnings, *WARNING_LEVELS})}
    return {column: kind for column, kind in types.items() if kind}


def _failures(wh: duckdb.DuckDBPyConnection, incremental: bool) -> list[str]:
    span = wh.execute(render("SELECT MAX(case_id) - MIN(case_id) FROM {{ written('fct_case') }}",
                             incremental)).fetchall()[0][0]
    return [f"{model}: {what} ({bad} rows)" for model, what, sql in TESTS
            if (bad := wh.execute(render(sql, incremental, ids_span=span, dense_ids=DENSE_IDS)).fetchall()[0][0] or 0)]


def check(db: Database) -> list[str]:
    """Run the data tests on the marts as they stand (PostgreSQL mode: the published build); the failures."""
    with reader(db) as wh:
        if db.is_duckdb:
            _source_views(wh)
        return _failures(wh, incremental=False)


def _set_up(wh: duckdb.DuckDBPyConnection, db: Database, build_day: date, weights: dict[str, float],
            changed: list[int] | None, incremental: bool) -> None:
    wh.execute("CREATE SCHEMA IF NOT EXISTS marts")
    wh.execute("CREATE TABLE IF NOT EXISTS marts.build_log (built_at TIMESTAMP, build_day DATE, mode VARCHAR, "
               "watermark TIMESTAMP, changed_cases BIGINT, seconds DOUBLE, weights VARCHAR, models VARCHAR)")
    if db.is_duckdb:
        _source_views(wh)
    else:
        _copy_sources(wh, db, changed if incremental else None)
    # Case numbers for the explorer's case lists, read where they are kept rather than copied into the facts.
    wh.execute(f"CREATE OR REPLACE VIEW marts.case_numbers AS SELECT case_id, case_no FROM "
               f"{'main.cases' if db.is_duckdb else 'src_cases'}")
    if not incremental:   # the calendar is rebuilt with every full build (a calendar change needs one)
        calendar = _calendar_frame(db, build_day + timedelta(days=366))
        wh.register("_calendar", calendar.to_arrow())
        wh.execute("CREATE OR REPLACE TABLE marts.calendar_days AS SELECT * FROM _calendar")
        wh.unregister("_calendar")
    wh.execute("SET VARIABLE build_day = ?::DATE", [build_day])
    for key, value in weights.items():
        wh.execute(f"SET VARIABLE {key} = ?::DOUBLE", [value])


def _side_changes(wh: duckdb.DuckDBPyConnection) -> None:
    """The periods a refresh must recompute, side by side: those of the changed cases whose side columns
    differ between the old facts (`_old`) and the new (`_new_fct_case`), before and after."""
    # As the set differences (old EXCEPT new) and (new EXCEPT old) of each side's rows, computed by one join
    # on case_id (unique on both sides) and a column-by-column comparison: an EXCEPT hashes every column of
    # both sets, twice per side (measured 3× slower at 325k changed cases).
    def on(alias: str, expr: str) -> str:
        column, _, rest = expr.partition(" ")
        return f"{alias}.{column} {rest}".strip()

    ins = []
    for side, columns in SIDE_COLUMNS.items():
        cols = (*DIMENSION_COLUMNS, *columns)
        same = " AND ".join(f"({on('o', c)}) IS NOT DISTINCT FROM ({on('n', c)})" for c in cols)
        old_in = "o.case_id IS NOT NULL" + (" AND o.completed_day IS NOT NULL" if side == "completed" else "")
        new_in = "n.case_id IS NOT NULL" + (" AND n.completed_day IS NOT NULL" if side == "completed" else "")
        periods = ", ".join(f"CAST(date_trunc('{kind}', {alias}.{SIDE_DAYS[side]}) AS DATE) AS {side}_{age}_{kind}"
                            for alias, age in (("o", "old"), ("n", "new")) for kind in ("week", "month"))
        ins.append(f"({old_in}) AS {side}_old_in, ({new_in}) AS {side}_new_in, "
                   f"COALESCE({old_in} AND {new_in} AND {same}, FALSE) AS {side}_same, {periods}")
    # And the cases whose facts came out exactly as they were (a case rated or moved on without a change to
    # its facts, an open case whose clock is stopped): their rows are left where they are, not rewritten.
    every = [r[0] for r in wh.execute(f"SELECT column_name FROM (DESCRIBE _new_{FACTS})").fetchall()]
    unchanged = " AND ".join(f"o.{c} IS NOT DISTINCT FROM n.{c}" for c in every if c != "case_id")
    wh.execute(f"CREATE OR REPLACE TEMP TABLE _diff AS SELECT case_id, "
               f"COALESCE(o.case_id IS NOT NULL AND n.case_id IS NOT NULL AND {unchanged}, FALSE) AS unchanged, "
               f"{', '.join(ins)} FROM _old AS o FULL JOIN _new_{FACTS} AS n USING (case_id)")
    for side in SIDE_COLUMNS:
        wh.execute(f"""INSERT INTO _affected
            SELECT DISTINCT '{side}', k.kind, k.period
            FROM _diff AS d,
                 LATERAL (VALUES ('week', d.{side}_old_week, d.{side}_old_in),
                                 ('month', d.{side}_old_month, d.{side}_old_in),
                                 ('week', d.{side}_new_week, d.{side}_new_in),
                                 ('month', d.{side}_new_month, d.{side}_new_in)) AS k(kind, period, present)
            WHERE NOT d.{side}_same AND k.present AND k.period IS NOT NULL""")


def _drop_if_other_kind(wh: duckdb.DuckDBPyConnection, name: str, kind: str) -> None:
    """A model that changed from table to view (or back) since the last build: drop the old object."""
    other = "table" if kind == "view" else "view"
    catalog = "duckdb_tables()" if other == "table" else "duckdb_views()"
    name_col = "table_name" if other == "table" else "view_name"
    if wh.execute(f"SELECT COUNT(*) FROM {catalog} WHERE schema_name = 'marts' AND {name_col} = ?",
                  [name]).fetchall()[0][0]:
        wh.execute(f"DROP {other.upper()} marts.{name}")


def _run(db: Database, *, build_day: date, weights: dict[str, float], incremental: bool,
         progress: Callable[[str, int, int], None] | None) -> Build:
    holder, wh = _open(db)
    timings: dict[str, float] = {}
    started_all = time.perf_counter()
    try:
        wh.execute("BEGIN TRANSACTION")
        started = time.perf_counter()
        last, last_day, last_weights, last_models = _last_build(wh)
        published = json.dumps(weights, sort_keys=True)
        version = models_version()
        if (last is None or last_day is None or build_day < last_day or last_weights != published
                or last_models != version):
            # nothing to refresh from, the clock went back, new weights or new models: build it all
            incremental = False
        watermark = _watermark(db)
        since = last - OVERLAP if incremental else None
        newest = wh.execute("SELECT COALESCE(MAX(case_id), 0) FROM marts.fct_case").fetchall()[0][0] \
            if incremental else 0
        changed = _changed_ids(db, wh, since, newest, build_day > last_day) if incremental else None
        _set_up(wh, db, build_day, weights, changed, incremental)
        if incremental:
            # The changed cases' facts as they were, read once before anything is written: staging keeps the
            # accepting officer and the refusal of cases whose events it does not read again, and the side
            # changes compare old and new — one scan of the 10M-row table instead of five.
            wh.execute(f"CREATE OR REPLACE TEMP TABLE _old AS SELECT * FROM marts.{FACTS} "
                       "WHERE case_id IN (SELECT case_id FROM _changed_cases)")
            # Only these moves change the accepting officer or the refusal: the others keep what was staged.
            wh.execute("""CREATE OR REPLACE TEMP TABLE _needs_events AS
                          SELECT case_id FROM src_cases WHERE case_id IN (SELECT case_id FROM _changed_cases)
                          AND (submitted_at >= ? OR accepted_at >= ? OR decided_at >= ? OR case_id > ?)""",
                       [since, since, since, newest])
            wh.execute("CREATE OR REPLACE TEMP TABLE _affected (a_side VARCHAR, a_kind VARCHAR, a_period DATE)")
            wh.execute("""INSERT INTO _affected SELECT DISTINCT 'raised', p.kind,
                                 CAST(date_trunc(p.kind, raised_at) AS DATE)
                          FROM src_alarms, (VALUES ('week'), ('month')) AS p(kind) WHERE raised_at >= ?""",
                       [since])
        enum_types = _enum_types(wh, incremental)
        timings["sources"] = time.perf_counter() - started
        steps = models()
        for n, model in enumerate(steps, start=1):
            started = time.perf_counter()
            sql = render(model.sql, incremental, enum_types)
            table = f"marts.{model.name}"
            if not incremental:
                _drop_if_other_kind(wh, model.name, "view" if model.kind == "view" else "table")
            if model.kind == "ephemeral":
                wh.execute(f"CREATE OR REPLACE TEMP VIEW {model.name} AS {sql}")
            elif model.kind == "view":
                wh.execute(f"CREATE OR REPLACE VIEW {table} AS {sql}")
            elif not incremental:
                wh.execute(f"CREATE OR REPLACE TABLE {table} AS {sql}")
            else:
                # Each model's new rows stay until the end of the build: the data tests read them (`written`).
                wh.execute(f"CREATE OR REPLACE TEMP TABLE _new_{model.name} AS {sql}")
                if model.name == FACTS:
                    _side_changes(wh)
                side = "" if model.side == "any" else f" AND a.a_side = '{model.side}'"
                if model.kind == "case_id":   # the facts: only the cases whose row changed are rewritten
                    wh.execute("CREATE OR REPLACE TEMP TABLE _rewritten AS SELECT case_id FROM _diff "
                               "WHERE NOT unchanged")
                wh.execute(f"DELETE FROM {table} WHERE " + {
                    "case_id": "case_id IN (SELECT case_id FROM _rewritten)",
                    "week": f"week IN (SELECT a_period FROM _affected AS a WHERE a.a_kind = 'week'{side})",
                    "period": f"EXISTS (SELECT 1 FROM _affected AS a WHERE a.a_kind = {table}.period_kind "
                              f"AND a.a_period = {table}.period{side})"}[model.kind])
                keep = " WHERE case_id IN (SELECT case_id FROM _rewritten)" if model.kind == "case_id" else ""
                wh.execute(f"INSERT INTO {table} BY NAME SELECT * FROM _new_{model.name}{keep}")
            timings[model.name] = time.perf_counter() - started
            if progress:
                progress(model.name, n, len(steps))
        started = time.perf_counter()
        failures = _failures(wh, incremental)
        timings["tests"] = time.perf_counter() - started
        if failures:
            raise MartTestFailed("; ".join(failures))
        n_changed = wh.execute("SELECT COUNT(*) FROM _changed_cases").fetchall()[0][0] if incremental else None
        wh.execute("INSERT INTO marts.build_log (built_at, build_day, mode, watermark, changed_cases, seconds, "
                   "weights, models) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   [timeutil.now(), build_day, "incremental" if incremental else "full",
                    watermark or datetime(2000, 1, 1), n_changed, time.perf_counter() - started_all, published,
                    version])
        wh.execute("COMMIT")
        if not db.is_duckdb:
            wh.execute("CHECKPOINT")   # everything in the file itself (no WAL beside it) before it is copied
    except BaseException:
        wh.execute("ROLLBACK")
        raise
    finally:
        _close(db, holder, wh)
    target = None
    if not db.is_duckdb:
        started = time.perf_counter()
        target = _publish()
        timings["publish"] = time.perf_counter() - started
    return Build("incremental" if incremental else "full", n_changed, timings, target)


def build(db: Database, *, build_day: date | None = None, weights: dict[str, float] | None = None,
          progress: Callable[[str, int, int], None] | None = None) -> Build:
    """Rebuild every model and run the data tests. Raises MartTestFailed (and keeps the marts as they were,
    publishing nothing)."""
    with _build_lock(db):
        return _run(db, build_day=build_day or timeutil.today(),
                    weights={**configured_weights(), **(weights or {})}, incremental=False, progress=progress)


def refresh(db: Database, *, build_day: date | None = None, weights: dict[str, float] | None = None,
            progress: Callable[[str, int, int], None] | None = None) -> Build:
    """Recompute what changed since the last build; a full build when there is none, the build day went back
    or the weights or the models changed (the result's `mode` says which)."""
    with _build_lock(db):
        day, weights = build_day or timeutil.today(), {**configured_weights(), **(weights or {})}
        try:
            return _run(db, build_day=day, weights=weights, incremental=True, progress=progress)
        except duckdb.ConversionException:
            # a changed case holds a code the facts' ENUM types do not list (a new item, department or
            # region): the refresh was rolled back, and a full build makes the types anew
            return _run(db, build_day=day, weights=weights, incremental=False, progress=progress)


def read(db: Database, sql: str, params: list[Any] | None = None) -> pl.DataFrame:
    """Read from the marts (DuckDB mode: the same file; PostgreSQL mode: the current published build, opened
    read-only for this read)."""
    with reader(db) as wh:
        return pl.from_arrow(wh.sql(sql, params=params or None).to_arrow_table())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--build-day", type=date.fromisoformat, default=None)
    parser.add_argument("--full", action="store_true", help="rebuild everything (default: refresh what changed)")
    args = parser.parse_args(argv)
    settings = load_settings()
    db = get_database(args.database_url or settings.database_url, schema=settings.database_schema)
    db.migrate()
    run = build if args.full else refresh
    done = run(db, build_day=args.build_day,
               progress=lambda name, n, total: print(f"[{n}/{total}] {name}", flush=True))
    print("mode:", done.mode, "" if done.changed_cases is None else f"({done.changed_cases:,} cases recomputed)")
    for name, seconds in done.seconds.items():
        print(f"{name:28} {seconds * 1000:8.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
