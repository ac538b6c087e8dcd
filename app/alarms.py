"""Electronic supervision (domain.md §6): alarms from rules, yellow/red cards, and the follow-up of bad reviews.

Each rule is a query that lists the subjects it holds for now (a case, a case's event, a fee notice …) under a
stable key. `recompute` compares them with the open alarms: a new subject raises an alarm (raised_at), one no
longer listed clears its alarm (cleared_at). A breach that stays a fact (a second supplement notice, a fee
above the standard) keeps its alarm open; a clock alarm (approaching, overdue) clears when the case moves on.
Nothing is deleted: the alarms are the supervision record.
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app import audit, calendar_store, clock, timeutil
from app import schema as s
from app import workflow as wf
from app.db import Database
from app.permissions import Actor, NO_CODE, PermissionDenied
from app.reference import CITY_CODE

RULES = ("overdue", "approaching", "late_supplement", "repeat_supplement", "fee_over_standard", "fee_free_item",
         "decision_without_acceptance", "result_without_decision", "complaint_unanswered", "bad_review_late")
BAD_LEVELS = (1, 2)         # 非常不满意, 不满意
CARD_COLORS = ("yellow", "red")
OPEN_STATES = tuple(wf.OPEN_STATES)


def followup_days() -> int:
    """Working days a department has to follow up a bad review (EZZ_FOLLOWUP_DAYS, default 15: domain.md §7)."""
    from app.config import response_limits

    return response_limits()[0]


@dataclass(frozen=True)
class Subject:
    rule: str
    key: str
    case_id: int | None
    dept_code: str | None
    unit_id: str | None
    region_code: str | None
    officer_user_id: int | None
    detail: str = ""


def _case_subjects(conn: Connection, rule: str, where: sa.ColumnElement[bool], detail: str = "") -> Iterator[Subject]:
    c = s.cases.c
    for r in conn.execute(sa.select(c.case_id, c.case_no, c.dept_code, c.unit_id, c.region_code, c.assigned_user_id)
                          .where(where)):
        yield Subject(rule, f"{rule}:{r.case_id}", r.case_id, r.dept_code, r.unit_id, r.region_code,
                      r.assigned_user_id, detail or r.case_no)


def current_subjects(conn: Connection, today: date) -> list[Subject]:
    """Every subject every rule lists today."""
    c, ev = s.cases.c, s.case_events.c
    out: list[Subject] = []
    out += _case_subjects(conn, "overdue", sa.and_(c.state.in_(OPEN_STATES), c.warning_level == "red"))
    out += _case_subjects(conn, "approaching", sa.and_(c.state.in_(OPEN_STATES), c.warning_level == "yellow"))
    out += _case_subjects(conn, "repeat_supplement", c.supplement_count > 1)
    out += _case_subjects(conn, "decision_without_acceptance",
                          sa.and_(c.decided_at.is_not(None), c.accepted_at.is_(None)))
    out += _case_subjects(conn, "result_without_decision",
                          sa.and_(c.result_no.is_not(None), c.decided_at.is_(None)))
    # A supplement notice sent after the 5-working-day intake window (the event says so).
    late = conn.execute(sa.select(ev.case_id, ev.seq, ev.actor_user_id, c.dept_code, c.unit_id, c.region_code,
                                  c.case_no)
                        .select_from(s.case_events.join(s.cases, c.case_id == ev.case_id))
                        .where(ev.action == "request_supplement", sa.cast(ev.payload, sa.Text).like("%late_notice%")))
    for r in late:
        out.append(Subject("late_supplement", f"late_supplement:{r.case_id}:{r.seq}", r.case_id, r.dept_code,
                           r.unit_id, r.region_code, r.actor_user_id, r.case_no))
    out += _fee_subjects(conn)
    # A complaint or consultation (app/inquiries.py) not answered by its due day: the row's department (a
    # consultation's has no case), else its case's; a row without a case belongs to the city level.
    cp = s.complaints.c
    for r in conn.execute(sa.select(cp.complaint_id, cp.case_id, sa.func.coalesce(cp.dept_code, c.dept_code)
                                    .label("dept_code"), c.unit_id,
                                    sa.func.coalesce(c.region_code, CITY_CODE).label("region_code"),
                                    c.assigned_user_id, sa.func.coalesce(c.case_no, cp.tracking_no).label("subject"))
                          .select_from(s.complaints.outerjoin(s.cases, c.case_id == cp.case_id))
                          .where(cp.answered_at.is_(None), cp.due_on < today)):
        out.append(Subject("complaint_unanswered", f"complaint_unanswered:{r.complaint_id}", r.case_id, r.dept_code,
                           r.unit_id, r.region_code, r.assigned_user_id, r.subject or ""))
    # A bad review whose follow-up is not handled by its due day.
    f = s.review_followups.c
    for r in conn.execute(sa.select(f.case_id, f.dept_code, f.unit_id, f.region_code, c.assigned_user_id, c.case_no)
                          .select_from(s.review_followups.join(s.cases, c.case_id == f.case_id))
                          .where(f.state == "open", f.due_on < today)):
        out.append(Subject("bad_review_late", f"bad_review_late:{r.case_id}", r.case_id, r.dept_code, r.unit_id,
                           r.region_code, r.assigned_user_id, r.case_no))
    return out


def _fee_subjects(conn: Connection) -> Iterator[Subject]:
    """A payment notice on a free item, or one charging more than the item's standard for its lines."""
    n, c, i = s.fee_notices.c, s.cases.c, s.items.c
    standards: dict[tuple[str, str], int] = {}
    for r in conn.execute(sa.select(s.fee_standards)):
        standards[(r.item_code, r.name)] = int(r.unit_amount_fen)
    rows = conn.execute(sa.select(n.notice_no, n.lines, n.amount_fen, c.case_id, c.item_code, c.dept_code, c.unit_id,
                                  c.region_code, n.issued_by, i.charges_fee)
                        .select_from(s.fee_notices.join(s.cases, c.case_id == n.case_id)
                                     .join(s.items, sa.and_(i.item_code == c.item_code, i.version == c.item_version)))
                        .where(n.state != "cancelled"))
    for r in rows:
        if not r.charges_fee:
            yield Subject("fee_free_item", f"fee_free_item:{r.notice_no}", r.case_id, r.dept_code, r.unit_id,
                          r.region_code, r.issued_by, r.notice_no)
            continue
        allowed = 0
        for line in r.lines or []:
            unit = standards.get((r.item_code, line.get("name")))
            allowed += (unit or 0) * int(line.get("quantity") or 0)
        if int(r.amount_fen) > allowed:
            yield Subject("fee_over_standard", f"fee_over_standard:{r.notice_no}", r.case_id, r.dept_code, r.unit_id,
                          r.region_code, r.issued_by, r.notice_no)


def recompute(db: Database, today: date | None = None, at: datetime | None = None) -> dict[str, int]:
    """Raise the alarms of new subjects and clear those no rule lists any more; returns counts."""
    today = today or timeutil.today()
    at = (at or timeutil.now()).replace(microsecond=0)
    open_followups_for_bad_reviews(db, at)

    def work(conn: Connection) -> dict[str, int]:
        subjects = {x.key: x for x in current_subjects(conn, today)}
        a = s.alarms.c
        open_keys = {r.subject_key: r.alarm_id for r in conn.execute(
            sa.select(a.subject_key, a.alarm_id).where(a.cleared_at.is_(None)))}
        new = [x for k, x in subjects.items() if k not in open_keys]
        gone = [alarm_id for k, alarm_id in open_keys.items() if k not in subjects]
        if new:
            conn.execute(s.alarms.insert(), [{
                "rule": x.rule, "subject_key": x.key, "case_id": x.case_id, "dept_code": x.dept_code,
                "unit_id": x.unit_id, "region_code": x.region_code, "officer_user_id": x.officer_user_id,
                "detail": x.detail, "raised_at": at, "cleared_at": None} for x in new])
        if gone:
            conn.execute(s.alarms.update().where(a.alarm_id.in_(gone)).values(cleared_at=at))
        return {"raised": len(new), "cleared": len(gone), "open": len(subjects)}

    return db.write(work)


# -- reading ---------------------------------------------------------------------------------------------------
def _dept_scope(actor: Actor, table: sa.Table) -> sa.ColumnElement[bool]:
    """Supervisors, leaders and admins see every department; a head or officer only their own."""
    if actor.role in (wf.SUPERVISOR, wf.LEADER, wf.ADMIN):
        return sa.true()
    if actor.role in (wf.OFFICER, wf.HEAD) and actor.dept_code:
        cond = table.c.dept_code == actor.dept_code
        if "region_code" in table.c:
            cond = sa.and_(cond, sa.func.coalesce(table.c.region_code, "").startswith(actor.region_code or NO_CODE))
        return cond
    raise PermissionDenied("perm.supervision")


def alarms_for(db: Database, actor: Actor, *, open_only: bool = True, rule: str | None = None,
               dept_code: str | None = None, limit: int = 5000) -> pl.DataFrame:
    a, c, d = s.alarms.c, s.cases.c, s.departments.c
    q = (sa.select(a.alarm_id, a.rule, c.case_no, d.name.label("department"), a.unit_id, a.raised_at, a.cleared_at,
                   a.detail)
         .select_from(s.alarms.outerjoin(s.cases, c.case_id == a.case_id)
                      .outerjoin(s.departments, d.dept_code == a.dept_code))
         .where(_dept_scope(actor, s.alarms)).order_by(a.raised_at.desc(), a.alarm_id.desc()).limit(limit))
    if open_only:
        q = q.where(a.cleared_at.is_(None))
    if rule:
        q = q.where(a.rule == rule)
    if dept_code:
        q = q.where(a.dept_code == dept_code)
    with db.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    schema = {"alarm_id": pl.Int64, "rule": pl.Utf8, "case_no": pl.Utf8, "department": pl.Utf8, "unit_id": pl.Utf8,
              "raised_at": pl.Datetime, "cleared_at": pl.Datetime, "detail": pl.Utf8}
    return pl.DataFrame(rows, schema=schema, orient="row")


def alarm_counts(db: Database, actor: Actor) -> dict[str, int]:
    a = s.alarms.c
    with db.read() as conn:
        rows = conn.execute(sa.select(a.rule, sa.func.count()).where(_dept_scope(actor, s.alarms),
                                                                     a.cleared_at.is_(None)).group_by(a.rule))
        return {r[0]: int(r[1]) for r in rows}


# -- cards -----------------------------------------------------------------------------------------------------
class SupervisionError(ValueError):
    def __init__(self, key: str, **params: Any):
        super().__init__(key)
        self.key = key
        self.params = params


def issue_card(db: Database, actor: Actor, *, color: str, dept_code: str, reason: str,
               officer_user_id: int | None = None, case_no: str | None = None) -> int:
    """A supervisor's yellow or red card to a department (or one of its officers), with a reason; recorded."""
    if actor.role != wf.SUPERVISOR:
        raise PermissionDenied("perm.cards")
    if color not in CARD_COLORS:
        raise SupervisionError("card.color")
    reason = (reason or "").strip()
    if len(reason) < 4:
        raise SupervisionError("card.reason")

    def work(conn: Connection) -> int:
        if conn.execute(sa.select(s.departments.c.dept_code).where(s.departments.c.dept_code == dept_code)).scalar() is None:
            raise SupervisionError("card.dept")
        if officer_user_id is not None:
            unit = conn.execute(sa.select(s.org_units.c.dept_code).select_from(
                s.users.join(s.org_units, s.org_units.c.unit_id == s.users.c.unit_id))
                .where(s.users.c.user_id == officer_user_id)).scalar()
            if unit != dept_code:
                raise SupervisionError("card.officer_wrong")
        case_id = None
        if case_no:
            case_id = conn.execute(sa.select(s.cases.c.case_id).where(s.cases.c.case_no == case_no.strip())).scalar()
            if case_id is None:
                raise SupervisionError("card.case")
        card_id = conn.execute(s.cards.insert().values(
            color=color, dept_code=dept_code, officer_user_id=officer_user_id, case_id=case_id, reason=reason,
            issued_by=actor.user_id, issued_at=timeutil.now()).returning(s.cards.c.card_id)).scalar_one()
        audit.record(conn, "card_issued", user_id=actor.user_id, username=actor.username,
                     detail={"card_id": card_id, "color": color, "dept_code": dept_code, "officer": officer_user_id})
        return int(card_id)

    return db.write(work)


def cards_for(db: Database, actor: Actor) -> pl.DataFrame:
    k, d, u, c = s.cards.c, s.departments.c, s.users.c, s.cases.c
    scope = sa.true() if actor.role in (wf.SUPERVISOR, wf.LEADER, wf.ADMIN) else None
    if scope is None:
        if actor.role not in (wf.OFFICER, wf.HEAD) or not actor.dept_code:
            raise PermissionDenied("perm.supervision")
        scope = k.dept_code == actor.dept_code
    q = (sa.select(k.card_id, k.color, d.name.label("department"), u.display_name.label("officer"),
                   c.case_no, k.reason, k.issued_at)
         .select_from(s.cards.join(s.departments, d.dept_code == k.dept_code)
                      .outerjoin(s.users, u.user_id == k.officer_user_id)
                      .outerjoin(s.cases, c.case_id == k.case_id))
         .where(scope).order_by(k.issued_at.desc(), k.card_id.desc()))
    with db.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    schema = {"card_id": pl.Int64, "color": pl.Utf8, "department": pl.Utf8, "officer": pl.Utf8, "case_no": pl.Utf8,
              "reason": pl.Utf8, "issued_at": pl.Datetime}
    return pl.DataFrame(rows, schema=schema, orient="row")


# -- bad-review follow-up ----------------------------------------------------------------------------------------
def open_followup(conn: Connection, case_id: int, level: int, at: datetime, cal: clock.WorkCalendar) -> None:
    """Open the follow-up of a bad review (called in the rating's transaction, and by recompute for any missed)."""
    if level not in BAD_LEVELS:
        return
    case = conn.execute(sa.select(s.cases.c.dept_code, s.cases.c.unit_id, s.cases.c.region_code,
                                  s.cases.c.accepted_unit_id).where(s.cases.c.case_id == case_id)).fetchone()
    conn.execute(s.review_followups.insert().values(
        case_id=case_id, dept_code=case.dept_code, unit_id=case.accepted_unit_id or case.unit_id,
        region_code=case.region_code, level=level, opened_at=at,
        due_on=clock.due_date(cal, at.date(), followup_days(), clock.WORKING), state="open", published=False))


def open_followups_for_bad_reviews(db: Database, at: datetime) -> int:
    """Every bad review has its follow-up (real-name bad reviews get a 100% follow-up rate)."""
    cal = calendar_store.load_calendar(db)
    r, f = s.ratings.c, s.review_followups.c

    def work(conn: Connection) -> int:
        missing = conn.execute(sa.select(r.case_id, r.level, r.rated_at).where(
            r.level.in_(BAD_LEVELS), ~r.case_id.in_(sa.select(f.case_id)))).fetchall()
        for m in missing:
            open_followup(conn, m.case_id, m.level, m.rated_at, cal)
        return len(missing)

    return db.write(work)


def followups_for(db: Database, actor: Actor, *, open_only: bool = False) -> pl.DataFrame:
    f, c, i, r = s.review_followups.c, s.cases.c, s.items.c, s.ratings.c
    q = (sa.select(f.case_id, c.case_no, i.name.label("item"), f.level, r.comment.label("review"), f.opened_at,
                   f.due_on, f.state, f.verification, f.rectification, f.answer, f.handled_at, f.published)
         .select_from(s.review_followups.join(s.cases, c.case_id == f.case_id)
                      .join(s.items, sa.and_(i.item_code == c.item_code, i.version == c.item_version))
                      .outerjoin(s.ratings, r.case_id == f.case_id))
         .where(_dept_scope(actor, s.review_followups)).order_by(f.due_on, f.case_id))
    if open_only:
        q = q.where(f.state == "open")
    with db.read() as conn:
        rows = [dict(x._mapping) for x in conn.execute(q)]
    return pl.DataFrame(rows) if rows else pl.DataFrame()


def handle_followup(db: Database, actor: Actor, case_id: int, *, verification: str, rectification: str,
                    answer: str, publish: bool) -> None:
    """The department records its verification (回访核实), the rectification and its answer; done once."""
    if actor.role not in (wf.OFFICER, wf.HEAD):
        raise PermissionDenied("perm.followup")
    texts = [(verification or "").strip(), (rectification or "").strip(), (answer or "").strip()]
    if any(len(t) < 2 for t in texts):
        raise SupervisionError("followup.texts")
    f = s.review_followups.c

    def work(conn: Connection) -> None:
        row = conn.execute(sa.select(s.review_followups).where(f.case_id == case_id)).fetchone()
        if row is None or row.dept_code != actor.dept_code or not row.region_code.startswith(actor.region_code or NO_CODE):
            raise PermissionDenied("perm.followup")
        done = conn.execute(s.review_followups.update().where(f.case_id == case_id, f.state == "open").values(
            state="handled", verification=texts[0], rectification=texts[1], answer=texts[2],
            handled_at=timeutil.now(), handled_by=actor.user_id, published=bool(publish))
            .returning(f.case_id)).fetchall()
        if not done:
            raise SupervisionError("followup.done")
        audit.record(conn, "followup_handled", user_id=actor.user_id, username=actor.username,
                     detail={"case_id": case_id, "published": bool(publish)})

    db.write(work)



def user_id_of(db: Database, username: str) -> int:
    with db.read() as conn:
        uid = conn.execute(sa.select(s.users.c.user_id).where(s.users.c.username == username.strip())).scalar()
    if uid is None:
        raise SupervisionError("card.officer_wrong")
    return int(uid)
