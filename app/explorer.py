"""指标探索 (supervisors): any measure of the case facts (marts.fct_case), filtered by period, department, item,
handling level and region, grouped along a drill path — city → district → town → village → case, or
department → officer → case — and compared with the period before of the same length.

The grouping column comes from a fixed list and every value is a bound parameter: nothing typed reaches the SQL.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import polars as pl
import sqlalchemy as sa

from app import audit
from app import schema as s
from app import workflow as wf
from app.db import Database
from app.permissions import Actor, PermissionDenied

# Drill paths: each step groups by a column of fct_case; the last step lists cases.
PATHS = {
    "region": ("district_code", "town_code", "village_code", "case_no"),
    "department": ("dept_code", "officer_user_id", "case_no"),
}
MEASURES = ("received", "completed", "on_time_rate", "mean_working_days", "supplement_rate", "refusal_rate",
            "online_share", "satisfaction")   # the keys of _MEASURE_SQL, in the order the page offers them
# Each measure as an aggregate over fct_case; {f} takes an optional FILTER.
_MEASURE_SQL = {
    "received": "COUNT(*) {f}",
    "completed": "COUNT(completed_day) {f}",
    "on_time_rate": "AVG(CASE WHEN completed_day IS NOT NULL THEN on_time::INT END) {f}",
    "mean_working_days": "AVG(CASE WHEN completed_day IS NOT NULL THEN working_days_used END) {f}",
    "supplement_rate": "AVG(supplemented::INT) {f}",
    "refusal_rate": "AVG(CASE WHEN completed_day IS NOT NULL THEN refused::INT END) {f}",
    "online_share": "AVG(online::INT) {f}",
    "satisfaction": "AVG(rating_level) {f} / 5.0",
}


def _measures(condition: str, prefix: str = "") -> list[str]:
    where = "" if condition == "TRUE" else f"FILTER (WHERE {condition})"
    return [f"{sql.format(f=where)} AS {prefix}{name}" for name, sql in _MEASURE_SQL.items()]


@dataclass
class Query:
    start: date
    end: date                                   # inclusive
    path: str = "region"
    drill: list[tuple[str, str]] = field(default_factory=list)   # (column, value) chosen so far
    dept_codes: list[str] = field(default_factory=list)
    item_code: str | None = None
    level: str | None = None

    @property
    def group_column(self) -> str:
        return PATHS[self.path][min(len(self.drill), len(PATHS[self.path]) - 1)]


_INTEGER_COLUMNS = {"officer_user_id"}   # the drill columns of fct_case that are not text


def _where(q: Query, start: date, end: date) -> tuple[str, list]:
    conds, params = ["submitted_day BETWEEN ? AND ?"], [start, end]
    if q.dept_codes:
        conds.append(f"dept_code IN ({', '.join('?' for _ in q.dept_codes)})")
        params += q.dept_codes
    if q.item_code:
        conds.append("item_code = ?")
        params.append(q.item_code)
    if q.level:
        conds.append("level = ?")
        params.append(q.level)
    allowed = {c for cols in PATHS.values() for c in cols}
    for column, value in q.drill:
        if column not in allowed:
            raise ValueError(column)
        if column in _INTEGER_COLUMNS:
            # Compared as the number, not as text: casting every row's id to text to compare it cost a scan
            # of the whole table (the filter could not reach the storage). A value that is not an id's text
            # (the groups' keys are CAST(id AS VARCHAR)) matches nothing, as the text comparison did.
            text = str(value)
            number = int(text) if text.lstrip("-").isdigit() and str(int(text)) == text else None
            conds.append(f"{column} = ?" if number is not None else "FALSE")
            params += [number] if number is not None else []
        else:
            conds.append(f"{column} = ?")
            params.append(str(value))
    return " AND ".join(conds), params


def explore(db: Database, q: Query) -> pl.DataFrame:
    """The measures per group of the current drill step, with the previous period's values beside them."""
    from pipelines import marts

    group = q.group_column
    span = q.end - q.start
    prev_end = q.start - timedelta(days=1)      # the period before, of the same length
    prev_start = prev_end - span
    where, params = _where(q, q.start, q.end)
    if group == "case_no":
        # Red cases first, then yellow: the ones a supervisor drills down to look at.
        sql = f"""SELECT n.case_no AS key, state, warning_level, item_code, submitted_day, completed_day,
                         working_days_used, days_allowed, on_time, rating_level
                  FROM marts.fct_case JOIN marts.case_numbers AS n USING (case_id) WHERE {where}
                  ORDER BY CASE warning_level WHEN 'red' THEN 0 WHEN 'yellow' THEN 1 ELSE 2 END,
                           submitted_day DESC, case_no LIMIT 500"""
        return marts.read(db, sql, params)
    # The two periods as two aggregates in one statement (DuckDB runs them side by side): measured faster than
    # one scan with a FILTER per measure.
    where_prev, params_prev = _where(q, prev_start, prev_end)
    # Grouped by the column itself and cast to text per group, not per row.
    sql = f"""
        WITH now AS (SELECT CAST({group} AS VARCHAR) AS key, {", ".join(_measures("TRUE"))}
                     FROM marts.fct_case WHERE {where} GROUP BY {group}),
             before AS (SELECT CAST({group} AS VARCHAR) AS key, {", ".join(_measures("TRUE", "prev_"))}
                        FROM marts.fct_case WHERE {where_prev} GROUP BY {group})
        SELECT * FROM now LEFT JOIN before USING (key) WHERE now.key IS NOT NULL ORDER BY now.received DESC"""
    frame = marts.read(db, sql, params + params_prev)
    names = _names(db, group, frame["key"].to_list())
    return frame.with_columns(pl.col("key").replace_strict(names, default=pl.col("key")).alias("name")).select(
        "key", "name", *[c for c in frame.columns if c != "key"])


def _names(db: Database, column: str, keys: list[str]) -> dict[str, str]:
    """Names for the codes a drill step shows (regions, departments, officers): only those codes are read."""
    if column in ("district_code", "town_code", "village_code"):
        code, name = s.regions.c.code, s.regions.c.name
    elif column == "dept_code":
        code, name = s.departments.c.dept_code, s.departments.c.name
    elif column == "officer_user_id":
        code, name = sa.cast(s.users.c.user_id, sa.String), s.users.c.display_name
    else:
        return {}
    wanted = [str(k) for k in keys if k is not None]
    if not wanted:
        return {}
    with db.read() as conn:
        return {str(k): v for k, v in conn.execute(sa.select(code, name).where(code.in_(wanted)))}


def label_of(db: Database, column: str, value: str) -> str:
    return _names(db, column, [value]).get(str(value), str(value))


def last_builds(db: Database, limit: int = 5) -> pl.DataFrame:
    """The latest builds of the marts: when, for which day, incremental or full, how long."""
    from pipelines import marts

    try:
        return marts.read(db, "SELECT built_at, build_day, mode, changed_cases, seconds FROM marts.build_log "
                              "ORDER BY built_at DESC, rowid DESC LIMIT ?", [limit])
    except Exception:  # noqa: BLE001 - no marts yet (duckdb raises CatalogException)
        return pl.DataFrame()


def rebuild(db: Database, actor: Actor, *, full: bool, progress=None):  # noqa: ANN001, ANN201 - marts.Build
    """Refresh the marts now (or rebuild them all, e.g. after a calendar change); supervisors and admins."""
    from pipelines import marts

    if actor.role not in (wf.SUPERVISOR, wf.ADMIN):
        raise PermissionDenied("perm.denied")
    done = (marts.build if full else marts.refresh)(db, progress=progress)
    db.write(lambda conn: audit.record(conn, "marts_full_build" if full else "marts_refresh",
                                       user_id=actor.user_id, username=actor.username,
                                       detail={"mode": done.mode, "seconds": round(done.total, 2)}))
    return done
