"""The marts of a full build (pipelines/models) computed with plain pandas: the baseline bench/marts.py times
the SQL build against. Idiomatic pandas — merges, boolean masks, groupby — over the source tables read into
memory; DuckDB only reads the tables (`load`), the computation is pandas (`build`).

It computes the same thing as the SQL models, column for column (tests/test_marts_baseline.py compares every
frame with its SQL table on a generated history):

    fct_case          a row per case that left the draft: days (the marts take their ISO weeks and months from
                      them), region path, officer, refusal, rating, working days used (differences of the
                      calendar's running index, less the stops begun on or after the acceptance day; open stops
                      run to the build day) and on time (completed cases only)
    mart_received     per (period_kind, period) × department, item, district, town, village, officer and the
    mart_completed    city ('4207'): the measures of the period a case was received / completed in, an alarm
    mart_alarms       raised in (the GROUPING SETS of the SQL: one groupby per dimension; NULL keys dropped)
    mart_measures     the three sides side by side, with the rates (a view in the SQL build)
    mart_dept_week    the weekly department rows of mart_measures
    mart_dept_rating  weekly and monthly department ratings: efficiency, quality, satisfaction (0–100, a
                      missing one counts as 100), weighted score rounded to 0.1 like DuckDB's ROUND, and grade

    sources = load(con, marts._calendar_frame(db, until))
    frames = build(sources, build_day)            # {"fct_case": DataFrame, ...}

`weights` default to the published pipelines.marts.WEIGHTS (0.4 / 0.3 / 0.3), not EZZ_RATING_WEIGHTS: pass
marts.configured_weights() to follow a configured build.

Dates are datetime64 columns (midnight); integer columns that may be NULL are pandas' nullable Int64/Int32.
"""
from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa

from pipelines.marts import CITY, DIMENSIONS, WEIGHTS

HANDLING = ("accepted", "under_review", "special_procedure")   # open states whose clock runs to the build day
NOT_BREACHES = ("overdue", "approaching")                       # clock alarms: not counted against quality
PERIOD_KEYS = ["period_kind", "period"]
KEYS = ["period_kind", "period", "dimension", "key"]

QUERIES = {
    "cases": "SELECT case_id, case_no, item_code, dept_code, unit_id, accepted_unit_id, region_code, channel, state, "
             "warning_level, supplement_count, promised_days, extension_days, clock_start, submitted_at, "
             "accepted_at, decided_at, completed_at, assigned_user_id FROM main.cases",
    "case_events": "SELECT case_id, seq, actor_user_id, action FROM main.case_events "
                   "WHERE action IN ('accept', 'refuse')",
    "clock_stops": "SELECT case_id, started_on, ended_on FROM main.clock_stops",
    "ratings": "SELECT case_id, level FROM main.ratings",
    "alarms": "SELECT rule, case_id, dept_code, officer_user_id, raised_at FROM main.alarms",
}
# Integers and booleans that may hold NULL stay integers and booleans (pandas' nullable types), not floats.
_NULLABLE = {pa.int64(): pd.Int64Dtype(), pa.int32(): pd.Int32Dtype(), pa.bool_(): pd.BooleanDtype()}

DROPPED = ("case_no", "unit_id", "accepted_unit_id", "region_code", "channel", "supplement_count", "promised_days",
           "extension_days", "clock_start", "decided_day", "clock_end_day", "not_accepted")   # as 10_fct_case.sql
FCT_COLUMNS = [c for c in [
    "case_id", "case_no", "item_code", "dept_code", "unit_id", "accepted_unit_id", "region_code", "district_code",
    "town_code", "village_code", "level", "channel", "state", "warning_level", "supplement_count", "promised_days",
    "extension_days", "clock_start", "submitted_day", "accepted_day", "decided_day", "completed_day",
    "accepted_by", "refused", "officer_user_id", "clock_end_day", "days_allowed", "not_accepted", "supplemented",
    "online", "rating_level", "working_days_used", "on_time"] if c not in DROPPED]
RECEIVED_COLUMNS = [*KEYS, "received", "accepted", "received_online", "supplemented"]
COMPLETED_COLUMNS = [*KEYS, "completed", "completed_on_time", "mean_working_days", "refused", "rated",
                     "rating_points", "bad_reviews", "median_working_days", "p90_working_days"]
ALARM_COLUMNS = [*KEYS, "alarms"]
MEASURE_COLUMNS = [*KEYS, "received", "accepted", "completed", "completed_on_time", "on_time_rate",
                   "mean_working_days", "median_working_days", "p90_working_days", "supplement_rate",
                   "refusal_rate", "online_share", "satisfaction", "bad_review_share", "rated", "alarms"]
RATING_COLUMNS = ["period_kind", "period", "dept_code", "received", "completed", "efficiency", "quality",
                  "satisfaction", "scored_on", "score", "grade"]


# -- loading ----------------------------------------------------------------------------------------------------
def _to_pandas(table: pa.Table) -> pd.DataFrame:
    frame = table.to_pandas(types_mapper=_NULLABLE.get, date_as_object=False)
    for col in frame.columns:            # DATE columns arrive as datetime64[ms], timestamps as [us]: one unit
        if pd.api.types.is_datetime64_dtype(frame[col].dtype):
            frame[col] = frame[col].astype("datetime64[us]")
    return frame


def load(con: duckdb.DuckDBPyConnection, calendar: pl.DataFrame) -> dict[str, pd.DataFrame]:
    """The columns the marts need of the operational tables (schema main) and the working-day calendar
    (`pipelines.marts._calendar_frame`), as pandas frames."""
    sources = {name: _to_pandas(con.sql(sql).to_arrow_table()) for name, sql in QUERIES.items()}
    sources["calendar"] = _to_pandas(calendar.select("day", "wd_index").to_arrow())
    return sources


# -- helpers ------------------------------------------------------------------------------------------------------
def _week(ts: pd.Series) -> pd.Series:
    """date_trunc('week', …) as a day: the Monday of the ISO week."""
    day = ts.dt.normalize()
    return day - pd.to_timedelta(day.dt.weekday, unit="D")


def _month(ts: pd.Series) -> pd.Series:
    day = ts.dt.normalize()
    return day - pd.to_timedelta(day.dt.day - 1, unit="D")


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    """num / NULLIF(den, 0) as floats (NULL for a missing side)."""
    den = den.astype("float64")
    return num.astype("float64") / den.where(den != 0)


def _round1(x: pd.Series) -> pd.Series:
    """DuckDB's ROUND(double, 1): std::round(x * 10) / 10, halves away from zero (numpy rounds them to even)."""
    scaled = x.to_numpy(dtype="float64") * 10
    whole = np.trunc(scaled)
    whole += np.where(np.abs(scaled - whole) >= 0.5, np.sign(scaled), 0.0)
    return pd.Series(whole / 10, index=x.index)


def _by_period(frame: pd.DataFrame, week: pd.Series, month: pd.Series) -> pd.DataFrame:
    """The rows once per period kind, with the period they fall in (the SQL's CROSS JOIN with the kinds)."""
    return pd.concat([frame.assign(period_kind="week", period=week), frame.assign(period_kind="month", period=month)],
                     ignore_index=True)


def _grouping_sets(frame: pd.DataFrame, measure) -> pd.DataFrame:  # noqa: ANN001 - groupby -> DataFrame
    """The GROUPING SETS of the SQL: per period and each dimension column (rows whose key is NULL left out, as
    the SQL drops them), and per period for the city; `measure` aggregates one groupby."""
    parts = []
    for dimension, col in DIMENSIONS:
        part = measure(frame.groupby([*PERIOD_KEYS, col], sort=False)).reset_index()
        part = part.rename(columns={col: "key"})
        part["key"] = part["key"].astype(str)
        part.insert(2, "dimension", dimension)
        parts.append(part)
    city = measure(frame.groupby(PERIOD_KEYS, sort=False)).reset_index()
    city.insert(2, "dimension", "city")
    city.insert(3, "key", CITY)
    return pd.concat(parts + [city], ignore_index=True)


# -- staging and facts --------------------------------------------------------------------------------------------
def _stg_cases(cases: pd.DataFrame, events: pd.DataFrame) -> pd.DataFrame:
    c = cases[(cases["state"] != "draft") & cases["state"].notna() & cases["submitted_at"].notna()]
    # The officer who accepted the case: the actor of its last accept event by seq (arg_max skips NULL actors).
    accepts = events[(events["action"] == "accept") & events["actor_user_id"].notna() & events["seq"].notna()]
    accepted_by = (accepts.sort_values("seq").drop_duplicates("case_id", keep="last")
                   [["case_id", "actor_user_id"]].rename(columns={"actor_user_id": "accepted_by"}))
    refused = events.loc[events["action"] == "refuse", "case_id"].unique()

    region = c["region_code"]
    unit_part = c["unit_id"].str.extract(r"^[^-]*-([^-]*)", expand=False)   # split_part(unit_id, '-', 2)
    out = c[["case_id", "case_no", "item_code", "dept_code", "unit_id", "accepted_unit_id", "region_code"]].copy()
    out["district_code"] = region.str[:6]
    out["town_code"] = region.str[:9].where(region.str.len() >= 9)
    out["village_code"] = region.str[:12].where(region.str.len() >= 12)
    out["level"] = unit_part.str.len().map({4: "市", 6: "区", 9: "乡镇街道"}).fillna("村社区").astype(str)
    for col in ("channel", "state", "warning_level", "supplement_count", "promised_days", "extension_days",
                "clock_start"):
        out[col] = c[col]
    for side in ("submitted", "accepted", "decided", "completed"):
        out[f"{side}_day"] = c[f"{side}_at"].dt.normalize()
    out["assigned_user_id"] = c["assigned_user_id"]
    out = out.merge(accepted_by, on="case_id", how="left")
    out["refused"] = out["case_id"].isin(refused)
    out["officer_user_id"] = out["assigned_user_id"].fillna(out["accepted_by"])
    return out.drop(columns="assigned_user_id")


def _stg_stops(stops: pd.DataFrame, calendar: pd.DataFrame, build_day: pd.Timestamp) -> pd.DataFrame:
    """Clock stops with the working days they held (an open stop runs to the build day); a stop whose days
    are outside the calendar drops out (the SQL's inner joins)."""
    s = stops.assign(ended_on=stops["ended_on"].fillna(build_day))
    s = s.merge(calendar.rename(columns={"day": "started_on", "wd_index": "b"}), on="started_on")
    s = s.merge(calendar.rename(columns={"day": "ended_on", "wd_index": "e"}), on="ended_on")
    return s.assign(working_days=s["e"] - s["b"])


def _fct_case(sources: dict[str, pd.DataFrame], build_day: pd.Timestamp) -> pd.DataFrame:
    calendar = sources["calendar"]
    f = _stg_cases(sources["cases"], sources["case_events"])
    stops = _stg_stops(sources["clock_stops"], calendar, build_day)
    # Only the stops begun on or after the acceptance day count against the clock.
    stops = stops.merge(f[["case_id", "accepted_day"]], on="case_id")
    stops = stops[stops["accepted_day"].notna() & (stops["started_on"] >= stops["accepted_day"])]
    stopped = stops.groupby("case_id", as_index=False)["working_days"].sum().rename(
        columns={"working_days": "stopped_days"})

    open_clock = f["decided_day"].isna() & f["state"].isin(HANDLING)
    f["clock_end_day"] = f["decided_day"].mask(open_clock, build_day)
    f["days_allowed"] = f["promised_days"] + f["extension_days"]
    f["not_accepted"] = f["state"] == "not_accepted"
    f["supplemented"] = f["supplement_count"] > 0
    f["online"] = f["channel"] == "online"
    ratings = sources["ratings"][["case_id", "level"]].rename(columns={"level": "rating_level"})
    f = f.merge(ratings, on="case_id", how="left")
    f = f.merge(stopped, on="case_id", how="left")
    f["stopped_days"] = f["stopped_days"].fillna(0)

    wd_index = calendar.set_index("day")["wd_index"]
    start = f["clock_start"].map(wd_index)        # NaN: no clock start, or a day outside the calendar
    end = f["clock_end_day"].map(wd_index)
    used = (end - start - f["stopped_days"]).where(f["accepted_day"].notna())
    f["working_days_used"] = used.astype("Int64")
    f["on_time"] = (f["working_days_used"] <= f["days_allowed"]).mask(f["completed_day"].isna())
    return f[FCT_COLUMNS]


# -- the three sides ----------------------------------------------------------------------------------------------
def _mart_received(fct: pd.DataFrame) -> pd.DataFrame:
    cols = ["case_id", "accepted_day", "online", "supplemented", *[col for _, col in DIMENSIONS]]
    facts = _by_period(fct[cols], _week(fct["submitted_day"]), _month(fct["submitted_day"]))
    facts = facts[facts["period"].notna()]
    out = _grouping_sets(facts, lambda g: g.agg(received=("case_id", "size"), accepted=("accepted_day", "count"),
                                                 received_online=("online", "sum"),
                                                 supplemented=("supplemented", "sum")))
    return out[RECEIVED_COLUMNS]


def _completed_measures(g) -> pd.DataFrame:  # noqa: ANN001 - a DataFrameGroupBy
    out = g.agg(completed=("case_id", "size"), completed_on_time=("on_time", "sum"),
                mean_working_days=("used", "mean"), median_working_days=("used", "median"),
                refused=("refused", "sum"), rated=("rating_level", "count"), bad_reviews=("bad_review", "sum"))
    out["rating_points"] = g["rating_level"].sum(min_count=1)          # NULL when nothing was rated
    out["p90_working_days"] = g["used"].quantile(0.9)                  # linear, like QUANTILE_CONT
    return out


def _mart_completed(fct: pd.DataFrame) -> pd.DataFrame:
    done = fct[fct["completed_day"].notna()]
    cols = ["case_id", "on_time", "refused", "rating_level", *[col for _, col in DIMENSIONS]]
    facts = _by_period(done[cols].assign(used=done["working_days_used"].astype("float64"),
                                         bad_review=done["rating_level"] <= 2),
                       _week(done["completed_day"]), _month(done["completed_day"]))
    return _grouping_sets(facts, _completed_measures)[COMPLETED_COLUMNS]


def _mart_alarms(alarms: pd.DataFrame, fct: pd.DataFrame) -> pd.DataFrame:
    """Alarms by the period raised in: the alarm's own department and officer, the case's item and place."""
    a = alarms.loc[alarms["dept_code"].notna(), ["case_id", "dept_code", "officer_user_id", "raised_at"]]
    place = fct[["case_id", "item_code", "district_code", "town_code", "village_code"]]
    a = a.merge(place, on="case_id", how="left")
    facts = _by_period(a.drop(columns="raised_at"), _week(a["raised_at"]), _month(a["raised_at"]))
    return _grouping_sets(facts, lambda g: g.size().rename("alarms"))[ALARM_COLUMNS]


def _mart_measures(received: pd.DataFrame, completed: pd.DataFrame, alarms: pd.DataFrame) -> pd.DataFrame:
    m = received.merge(completed, on=KEYS, how="outer").merge(alarms, on=KEYS, how="outer")
    out = m[KEYS].copy()
    for col in ("received", "accepted", "completed", "completed_on_time"):
        out[col] = m[col].fillna(0).astype("int64")
    out["on_time_rate"] = _ratio(m["completed_on_time"], m["completed"])
    for col in ("mean_working_days", "median_working_days", "p90_working_days"):
        out[col] = m[col]
    out["supplement_rate"] = _ratio(m["supplemented"], m["received"])
    out["refusal_rate"] = _ratio(m["refused"], m["completed"])
    out["online_share"] = _ratio(m["received_online"], m["received"])
    out["satisfaction"] = _ratio(m["rating_points"], m["rated"].astype("float64") * 5.0)
    out["bad_review_share"] = _ratio(m["bad_reviews"], m["rated"])
    out["rated"] = m["rated"].fillna(0).astype("int64")
    out["alarms"] = m["alarms"].fillna(0).astype("int64")
    return out[MEASURE_COLUMNS]


def _mart_dept_week(measures: pd.DataFrame) -> pd.DataFrame:
    week = measures[(measures["period_kind"] == "week") & (measures["dimension"] == "department")]
    week = week.rename(columns={"key": "dept_code", "period": "week"})
    return week[["dept_code", "week", *MEASURE_COLUMNS[4:]]].reset_index(drop=True)


def _mart_dept_rating(measures: pd.DataFrame, alarms: pd.DataFrame, weights: dict[str, float]) -> pd.DataFrame:
    """Ratings per department and week / month: efficiency = on-time rate, quality = share of the period's
    received cases without a breach alarm, satisfaction = mean rating / 5 (each 0–100; missing → 100)."""
    b = alarms[~alarms["rule"].isin(NOT_BREACHES) & alarms["rule"].notna() & alarms["dept_code"].notna()]
    b = _by_period(b[["dept_code"]], _week(b["raised_at"]), _month(b["raised_at"]))
    breaches = b.groupby([*PERIOD_KEYS, "dept_code"]).size().rename("breaches").reset_index()

    m = measures[measures["dimension"] == "department"].rename(columns={"key": "dept_code"})
    m = m.merge(breaches, on=[*PERIOD_KEYS, "dept_code"], how="left")
    out = m[["period_kind", "period", "dept_code", "received", "completed"]].copy()
    out["efficiency"] = 100 * m["on_time_rate"]
    share = (1 - m["breaches"].fillna(0).astype("float64") / m["received"]).clip(lower=0)
    out["quality"] = (100 * share).where(m["received"] > 0)
    out["satisfaction"] = 100 * m["satisfaction"]
    parts = out[["efficiency", "quality", "satisfaction"]]
    out["scored_on"] = parts.notna().sum(axis=1).astype("int32")
    out["score"] = _round1(weights["w_efficiency"] * out["efficiency"].fillna(100)
                           + weights["w_quality"] * out["quality"].fillna(100)
                           + weights["w_satisfaction"] * out["satisfaction"].fillna(100))
    out["grade"] = np.select([out["score"] >= 90, out["score"] >= 80, out["score"] >= 60],
                             ["优秀", "良好", "合格"], default="不合格")
    return out[RATING_COLUMNS].reset_index(drop=True)


def build(sources: dict[str, pd.DataFrame], build_day: date,
          weights: dict[str, float] | None = None) -> dict[str, pd.DataFrame]:
    """Every mart of a full build, by name (the columns of the SQL tables)."""
    weights = {**WEIGHTS, **(weights or {})}
    day = pd.Timestamp(build_day).as_unit("us")
    fct = _fct_case(sources, day)
    received = _mart_received(fct)
    completed = _mart_completed(fct)
    alarms = _mart_alarms(sources["alarms"], fct)
    measures = _mart_measures(received, completed, alarms)
    return {"fct_case": fct, "mart_received": received, "mart_completed": completed, "mart_alarms": alarms,
            "mart_measures": measures, "mart_dept_week": _mart_dept_week(measures),
            "mart_dept_rating": _mart_dept_rating(measures, sources["alarms"], weights)}
