"""评价公示 (public, no sign-in): the published department ratings and grades by week, 好差评 counts and rates,
the published handling of bad reviews, and the GOV.UK-style service measures (satisfaction, completion rate,
digital take-up). Nothing here names or identifies an applicant: only departments, items, counts, rates, and
the texts the departments wrote for publication.
"""
from __future__ import annotations

from datetime import date, timedelta

import duckdb
import polars as pl
import sqlalchemy as sa

from app import schema as s
from app import timeutil
from app.catalogue import department_names
from app.db import Database
from app.i18n import DEFAULT_LANGUAGE, t

GOOD_LEVELS = (4, 5)
BAD_LEVELS = (1, 2)
GRADES = {"优秀": "excellent", "良好": "good", "合格": "pass", "不合格": "fail"}   # the marts' grades -> grade_<key>
# A grade's colour wherever grades are drawn (the scorecard's chart on the page and in the PDF)
GRADE_COLORS = {"优秀": "#2e7d32", "良好": "#1565c0", "合格": "#f9a825", "不合格": "#c62828"}


def grade_label(grade: str | None, lang: str = DEFAULT_LANGUAGE) -> str:
    """A grade of the marts (优秀 良好 合格 不合格) in the reader's language."""
    key = GRADES.get(grade or "")
    return t(f"scorecard.grade_{key}", lang) if key else (grade or "")


def weights_in_percent(weights: dict[str, float]) -> dict[str, int]:
    """The rating weights as the published text shows them: {e, q, s} in whole percent."""
    return {"e": round(100 * weights["w_efficiency"]), "q": round(100 * weights["w_quality"]),
            "s": round(100 * weights["w_satisfaction"])}


def published_weights(db: Database) -> dict[str, int]:
    """The weights the published ratings were computed with, in percent ({e, q, s})."""
    from pipelines import marts

    return weights_in_percent(marts.published_weights(db))


def _marts(db: Database, sql: str, params: list | None = None) -> pl.DataFrame | None:
    from pipelines import marts

    try:
        return marts.read(db, sql, params)
    except duckdb.CatalogException:   # the marts are not built yet (a new installation): nothing to publish
        return None


PERIOD_KINDS = ("week", "month")


def rating_periods(db: Database, kind: str = "week", today: date | None = None) -> list[date]:
    """The weeks (Mondays) or months (first days) with a published rating: complete periods only (the current
    one is still running)."""
    if kind not in PERIOD_KINDS:
        raise ValueError(kind)
    today = today or timeutil.today()
    current = today - timedelta(days=today.weekday()) if kind == "week" else today.replace(day=1)
    frame = _marts(db, "SELECT DISTINCT period FROM marts.mart_dept_rating WHERE period_kind = ? AND period < ? "
                       "ORDER BY period DESC", [kind, current])
    return [] if frame is None else frame["period"].to_list()


def rating_weeks(db: Database, today: date | None = None) -> list[date]:
    return rating_periods(db, "week", today)


def department_ratings(db: Database, period: date, kind: str = "week", lang: str = DEFAULT_LANGUAGE) -> pl.DataFrame:
    frame = _marts(db, "SELECT dept_code, score, grade, efficiency, quality, satisfaction, received, completed "
                       "FROM marts.mart_dept_rating WHERE period_kind = ? AND period = ? "
                       "ORDER BY score DESC, dept_code", [kind, period])
    if frame is None or frame.is_empty():
        return pl.DataFrame()
    names = department_names(db)
    return frame.with_columns(pl.col("dept_code").replace_strict(names, default=pl.col("dept_code"))
                              .alias("department")).select(
        "department", "score", pl.col("grade").map_elements(lambda g: grade_label(g, lang), return_dtype=pl.String),
        pl.col("efficiency").round(1), pl.col("quality").round(1),
        pl.col("satisfaction").round(1), "received", "completed")


def review_counts(db: Database, since: date | None = None) -> pl.DataFrame:
    """好差评 per department: ratings, good, bad, their rates (since a day, default: all)."""
    r, c = s.ratings.c, s.cases.c
    q = (sa.select(c.dept_code, sa.func.count().label("ratings"),
                   sa.func.sum(sa.case((r.level.in_(GOOD_LEVELS), 1), else_=0)).label("good"),
                   sa.func.sum(sa.case((r.level.in_(BAD_LEVELS), 1), else_=0)).label("bad"))
         .select_from(s.ratings.join(s.cases, c.case_id == r.case_id)).group_by(c.dept_code))
    if since:
        q = q.where(r.rated_at >= since)
    with db.read() as conn:
        rows = [dict(x._mapping) for x in conn.execute(q)]
    if not rows:
        return pl.DataFrame()
    names = department_names(db)
    frame = pl.DataFrame(rows).with_columns(pl.col("good").cast(pl.Int64), pl.col("bad").cast(pl.Int64))
    return frame.with_columns(
        pl.col("dept_code").replace_strict(names, default=pl.col("dept_code")).alias("department"),
        (pl.col("good") / pl.col("ratings")).round(4).alias("good_rate"),
        (pl.col("bad") / pl.col("ratings")).round(4).alias("bad_rate"),
    ).select("department", "ratings", "good", "bad", "good_rate", "bad_rate").sort("ratings", descending=True)


def followup_disclosures(db: Database, limit: int = 200) -> pl.DataFrame:
    """The handled bad reviews a department chose to publish: department, item, when, what was done."""
    f, c, i = s.review_followups.c, s.cases.c, s.items.c
    q = (sa.select(f.dept_code, i.name.label("item"), f.handled_at, f.rectification, f.answer)
         .select_from(s.review_followups.join(s.cases, c.case_id == f.case_id)
                      .join(s.items, sa.and_(i.item_code == c.item_code, i.version == c.item_version)))
         .where(f.published, f.state == "handled").order_by(f.handled_at.desc()).limit(limit))
    with db.read() as conn:
        rows = [dict(x._mapping) for x in conn.execute(q)]
    if not rows:
        return pl.DataFrame()
    names = department_names(db)
    return pl.DataFrame(rows).with_columns(
        pl.col("dept_code").replace_strict(names, default=pl.col("dept_code")).alias("department"),
        pl.col("handled_at").dt.date().alias("handled_on")).select("department", "item", "handled_on",
                                                                   "rectification", "answer")


def service_measures(db: Database, weeks: int = 12, today: date | None = None) -> dict[str, float | None]:
    """GOV.UK-style measures over the last weeks: user satisfaction, completion rate (cases decided and
    completed of those that reached an end), digital take-up (applications made online)."""
    today = today or timeutil.today()
    since = today - timedelta(weeks=weeks)
    frame = _marts(db, """
        SELECT AVG(rating_level) / 5.0 AS satisfaction,
               SUM(CASE WHEN completed_day IS NOT NULL THEN 1 ELSE 0 END)
                 / NULLIF(SUM(CASE WHEN state IN ('completed', 'not_accepted', 'withdrawn') THEN 1 ELSE 0 END), 0)
                 AS completion_rate,
               AVG(CASE WHEN online THEN 1.0 ELSE 0.0 END) AS digital_take_up
        FROM marts.fct_case WHERE submitted_day >= ?""", [since])
    if frame is None or frame.is_empty():
        return {"satisfaction": None, "completion_rate": None, "digital_take_up": None}
    row = frame.row(0, named=True)
    return {k: (None if v is None else float(v)) for k, v in row.items()}
