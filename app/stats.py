"""Figures for the role home pages, read from the operational tables within the actor's permissions.

Full analytics (marts, scorecards) come from the pipelines; these are the live counts a home page needs.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import polars as pl
import sqlalchemy as sa

from app import schema as s
from app import timeutil
from app import workflow as wf
from app.db import Database
from app.permissions import Actor, case_scope

OPEN_FOR_QUEUE = (wf.SUBMITTED, wf.AWAITING_SUPPLEMENT, wf.ACCEPTED, wf.UNDER_REVIEW, wf.SPECIAL_PROCEDURE,
                  wf.APPROVED, wf.REFUSED, wf.TRANSFERRED)


def catalogue_figures(db: Database) -> dict[str, int]:
    c = s.cases.c
    with db.read() as conn:
        by_cat = dict(conn.execute(sa.select(s.items.c.category, sa.func.count())
                                   .where(s.items.c.is_current, s.items.c.status == "published")
                                   .group_by(s.items.c.category)).fetchall())
        depts = conn.execute(sa.select(sa.func.count()).select_from(s.departments)).scalar()
        villages = conn.execute(sa.select(sa.func.count()).select_from(s.regions).where(s.regions.c.level == 5)).scalar()
        total = conn.execute(sa.select(sa.func.count()).select_from(s.cases)).scalar()
        completed = conn.execute(sa.select(sa.func.count()).select_from(s.cases).where(c.state == wf.COMPLETED)).scalar()
    return {"approval": by_cat.get("approval", 0), "public": by_cat.get("public", 0),
            "convenience": by_cat.get("convenience", 0), "departments": int(depts), "villages": int(villages),
            "cases_total": int(total), "cases_completed": int(completed)}


def state_counts(db: Database, actor: Actor) -> dict[str, int]:
    with db.read() as conn:
        rows = conn.execute(sa.select(s.cases.c.state, sa.func.count()).where(case_scope(actor))
                            .group_by(s.cases.c.state)).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def queue_figures(db: Database, actor: Actor, today: date | None = None) -> dict[str, int]:
    """Open cases in the actor's scope, with yellow/red warnings and those due within 3 days."""
    today = today or timeutil.today()
    c = s.cases.c
    scope = sa.and_(case_scope(actor), c.state.in_(OPEN_FOR_QUEUE))
    with db.read() as conn:
        row = conn.execute(sa.select(
            sa.func.count(),
            sa.func.sum(sa.case((c.warning_level == "yellow", 1), else_=0)),
            sa.func.sum(sa.case((c.warning_level == "red", 1), else_=0)),
            sa.func.sum(sa.case((sa.and_(c.promised_due >= today, c.promised_due <= today + timedelta(days=3)), 1),
                                else_=0)),
        ).where(scope)).fetchone()
    return {"open": int(row[0] or 0), "yellow": int(row[1] or 0), "red": int(row[2] or 0), "due_soon": int(row[3] or 0)}


def urgent_cases(db: Database, actor: Actor, limit: int = 20) -> pl.DataFrame:
    """The actor's open cases by urgency: red, then yellow, then the nearest due date."""
    c = s.cases.c
    rank = sa.case((c.warning_level == "red", 0), (c.warning_level == "yellow", 1), else_=2)
    q = (sa.select(c.case_no, s.items.c.name.label("item"), c.state, c.applicant_name, c.submitted_at,
                   c.promised_due, c.warning_level)
         .select_from(s.cases.join(s.items, sa.and_(s.items.c.item_code == c.item_code,
                                                    s.items.c.version == c.item_version)))
         .where(case_scope(actor), c.state.in_(OPEN_FOR_QUEUE))
         .order_by(rank, c.promised_due.asc().nulls_last(), c.case_id).limit(limit))
    return _frame(db, q)


def recent_cases(db: Database, actor: Actor, limit: int = 20) -> pl.DataFrame:
    c = s.cases.c
    q = (sa.select(c.case_no, s.items.c.name.label("item"), c.state, c.submitted_at, c.promised_due,
                   c.warning_level)
         .select_from(s.cases.join(s.items, sa.and_(s.items.c.item_code == c.item_code,
                                                    s.items.c.version == c.item_version)))
         .where(case_scope(actor)).order_by(c.case_id.desc()).limit(limit))
    return _frame(db, q)


def supervision_figures(db: Database, today: date | None = None) -> dict[str, Any]:
    """City-wide live figures for supervisors: open, red and yellow cases, on-time rate over the last 30
    days, bad reviews and unanswered complaints."""
    today = today or timeutil.today()
    since = today - timedelta(days=30)
    c = s.cases.c
    with db.read() as conn:
        open_row = conn.execute(sa.select(
            sa.func.count(),
            sa.func.sum(sa.case((c.warning_level == "red", 1), else_=0)),
            sa.func.sum(sa.case((c.warning_level == "yellow", 1), else_=0)),
        ).where(c.state.in_(OPEN_FOR_QUEUE))).fetchone()
        done = conn.execute(sa.select(
            sa.func.count(),
            sa.func.sum(sa.case((sa.cast(c.completed_at, sa.Date) <= c.promised_due, 1), else_=0)),
        ).where(c.state == wf.COMPLETED, c.completed_at >= since)).fetchone()
        bad = conn.execute(sa.select(sa.func.count()).select_from(s.ratings).where(s.ratings.c.level <= 2)).scalar()
        complaints = conn.execute(sa.select(sa.func.count()).select_from(s.complaints)
                                  .where(s.complaints.c.answered_at.is_(None))).scalar()
    completed = int(done[0] or 0)
    return {"open": int(open_row[0] or 0), "red": int(open_row[1] or 0), "yellow": int(open_row[2] or 0),
            "completed_30d": completed,
            "on_time_rate": (int(done[1] or 0) / completed) if completed else None,
            "bad_reviews": int(bad or 0), "complaints_open": int(complaints or 0)}


def red_by_department(db: Database) -> pl.DataFrame:
    c = s.cases.c
    q = (sa.select(s.departments.c.short_name.label("department"), sa.func.count().label("count"))
         .select_from(s.cases.join(s.departments, s.departments.c.dept_code == c.dept_code))
         .where(c.state.in_(OPEN_FOR_QUEUE), c.warning_level == "red")
         .group_by(s.departments.c.short_name).order_by(sa.func.count().desc()))
    return _frame(db, q)


def week_figures(db: Database, today: date | None = None) -> dict[str, Any]:
    """This week (Monday to today) for the leadership: received, completed, on-time rate, satisfaction."""
    today = today or timeutil.today()
    monday = today - timedelta(days=today.weekday())
    c = s.cases.c
    with db.read() as conn:
        received = conn.execute(sa.select(sa.func.count()).select_from(s.cases).where(c.submitted_at >= monday)).scalar()
        done = conn.execute(sa.select(
            sa.func.count(),
            sa.func.sum(sa.case((sa.cast(c.completed_at, sa.Date) <= c.promised_due, 1), else_=0)),
        ).where(c.state == wf.COMPLETED, c.completed_at >= monday)).fetchone()
        rated = conn.execute(sa.select(sa.func.count(), sa.func.sum(sa.case((s.ratings.c.level >= 3, 1), else_=0)))
                             .where(s.ratings.c.rated_at >= monday - timedelta(days=28))).fetchone()
    completed = int(done[0] or 0)
    return {"monday": monday, "received": int(received or 0), "completed": completed,
            "on_time_rate": (int(done[1] or 0) / completed) if completed else None,
            "satisfaction": (int(rated[1] or 0) / int(rated[0])) if rated[0] else None}


def completed_by_department(db: Database, since: date) -> pl.DataFrame:
    c = s.cases.c
    q = (sa.select(s.departments.c.short_name.label("department"), sa.func.count().label("count"))
         .select_from(s.cases.join(s.departments, s.departments.c.dept_code == c.dept_code))
         .where(c.state == wf.COMPLETED, c.completed_at >= since)
         .group_by(s.departments.c.short_name).order_by(sa.func.count().desc()))
    return _frame(db, q)


def admin_figures(db: Database) -> dict[str, Any]:
    with db.read() as conn:
        def count(table: sa.Table) -> int:
            return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)
        years = sorted(r[0] for r in conn.execute(sa.select(s.calendar_years.c.year).where(s.calendar_years.c.official)))
        version = conn.execute(sa.text("SELECT MAX(version) FROM schema_version")).scalar()
        return {"users": count(s.users), "units": count(s.org_units), "windows": count(s.service_windows),
                "items": int(conn.execute(sa.select(sa.func.count()).select_from(s.items).where(s.items.c.is_current)).scalar()),
                "calendar_years": years, "schema_version": int(version or 0)}


def _frame(db: Database, query: sa.Select) -> pl.DataFrame:
    with db.read() as conn:
        result = conn.execute(query)
        cols = list(result.keys())
        rows = result.fetchall()
    return pl.DataFrame([tuple(r) for r in rows], schema=cols, orient="row") if rows else pl.DataFrame(
        {col: [] for col in cols})
