"""Consultations (咨询) and complaints (投诉), 信息公开: anyone asks or complains, gets a tracking number, and
follows the answer by it; the responsible department's staff answer within the limit on the legal clock.

This module owns the rules: who is responsible (a case's department, an item's lead department, or the chosen
department), that a complaint about a case needs the case look-up pair (app/lookup.py's check, its rate limit
and its one message for a wrong number or a wrong pair), the answer limit in working days
(`applications.complaint_days`, EZZ_COMPLAINT_DAYS), that only the responsible department's staff answer, and
once, and that only an answered consultation is published as Q&A — without the submitter's contact, and with
identifiers and phone numbers in the texts masked. Both kinds live in the `complaints` table (the applicant's
complaint from 我的办件 too), so the supervision rule `complaint_unanswered` (app/alarms.py) covers them all.
"""
from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app import audit, calendar_store, cases, lookup, timeutil
from app import schema as s
from app import workflow as wf
from app.db import Database
from app.forms import PHONE
from app.permissions import NO_CODE, Actor, PermissionDenied
from app.reference import CITY_CODE

KINDS = ("consultation", "complaint")
PREFIX = {"consultation": "ZX", "complaint": "TS"}
# No 0/O or 1/I: a number read out on the phone is typed back right. 32^8 ≈ 10^12 numbers per day and kind.
_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
RANDOM_LENGTH = 8
MIN_TITLE, MAX_TITLE = 2, 50
MIN_CONTENT, MAX_CONTENT = 5, 2000     # as a complaint from 我的办件 (app/applications.complain)
MAX_NAME = 30
_ID_LIKE = re.compile(r"[0-9A-Za-z]{15,18}")
_PHONE_LIKE = re.compile(r"1[3-9]\d{9}|0\d{2,3}-?\d{7,8}")


class InquiryError(ValueError):
    def __init__(self, key: str, **params: Any):
        super().__init__(key)
        self.key = key
        self.params = params


def answer_days() -> int:
    """Working days the responsible department has to answer (EZZ_COMPLAINT_DAYS, default 5)."""
    from app.applications import complaint_days  # applications imports this module

    return complaint_days()


def new_tracking_no(kind: str, day: date | None = None, pick: Callable[[str], str] = secrets.choice) -> str:
    """ZX-20261126-7KQ4M9XP: kind, day (today unless given), and a random part, so a number cannot be guessed from
    another (`pick` draws one character; the demo generator passes its own reproducible source)."""
    tail = "".join(pick(_ALPHABET) for _ in range(RANDOM_LENGTH))
    return f"{PREFIX[kind]}-{day or timeutil.today():%Y%m%d}-{tail}"


def case_complaint_fields(conn: Connection, case_id: int) -> dict[str, Any]:
    """The columns a complaint about a case gets besides its text (the applicant's from 我的办件 too)."""
    case = conn.execute(sa.select(s.cases.c.dept_code, s.cases.c.item_code)
                        .where(s.cases.c.case_id == case_id)).fetchone()
    return {"kind": "complaint", "tracking_no": new_tracking_no("complaint"), "dept_code": case.dept_code,
            "item_code": case.item_code, "published": False}


def redact(text: str) -> str:
    """Identifiers (15–18 letters and digits) and phone numbers in a published text, masked."""
    def mask(m: re.Match[str]) -> str:
        v = m.group(0)
        return v[:3] + "*" * (len(v) - 5) + v[-2:]
    return _PHONE_LIKE.sub(mask, _ID_LIKE.sub(mask, text or ""))


def mask_name(name: str) -> str:
    name = (name or "").strip()
    return name[:1] + "*" * max(1, len(name) - 1) if name else ""


# -- submitting -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Submitted:
    tracking_no: str
    kind: str
    dept_name: str
    due_on: Any


def _checked_texts(kind: str, title: str, content: str, contact_name: str, contact_phone: str) -> tuple[str, ...]:
    if kind not in KINDS:
        raise InquiryError("inquiry.kind_unknown")
    title, content = (title or "").strip(), (content or "").strip()
    name, phone = (contact_name or "").strip(), (contact_phone or "").strip()
    if len(title) < MIN_TITLE:
        raise InquiryError("inquiry.title_short", n=MIN_TITLE)
    if len(title) > MAX_TITLE:
        raise InquiryError("inquiry.title_long", n=MAX_TITLE)
    if len(content) < MIN_CONTENT:
        raise InquiryError("inquiry.content_short", n=MIN_CONTENT)
    if len(content) > MAX_CONTENT:
        raise InquiryError("inquiry.content_long", n=MAX_CONTENT)
    if not name:
        raise InquiryError("inquiry.name_missing")
    if len(name) > MAX_NAME:
        raise InquiryError("inquiry.name_long", n=MAX_NAME)
    if not PHONE.fullmatch(phone):
        raise InquiryError("inquiry.phone_invalid")
    return title, content, name, phone


def submit(db: Database, *, kind: str, title: str, content: str, contact_name: str, contact_phone: str,
           item_code: str | None = None, dept_code: str | None = None, case_no: str | None = None,
           id_tail: str | None = None, client: str = "") -> Submitted:
    """File a consultation or complaint (no sign-in needed); returns its tracking number and due day.

    The responsible department: for a complaint about a case (case_no + id_tail: the look-up pair, refused
    as app/lookup.py refuses it) the case's, else the item's lead department, else the chosen one."""
    title, content, name, phone = _checked_texts(kind, title, content, contact_name, contact_phone)
    case_no = (case_no or "").strip()
    if case_no and kind != "complaint":
        raise InquiryError("inquiry.case_only_complaint")
    if case_no:
        lookup.progress(db, case_no, id_tail or "", client=client)   # LookupRefused: same message, rate-limited
    due = calendar_store.load_calendar(db).add_working_days(timeutil.today(), answer_days())

    def work(conn: Connection) -> Submitted:
        case_id = item = None
        if case_no:
            case = conn.execute(sa.select(s.cases.c.case_id).where(s.cases.c.case_no == case_no)).fetchone()
            fields = case_complaint_fields(conn, case.case_id)
            case_id, item, dept = case.case_id, fields["item_code"], fields["dept_code"]
        elif item_code:
            try:
                row = cases.current_item(conn, item_code)
            except cases.CaseError:
                raise InquiryError("inquiry.item_unknown") from None
            item, dept = row.item_code, row.dept_code
        elif dept_code:
            dept = dept_code
        else:
            raise InquiryError("inquiry.target_missing")
        dept_name = conn.execute(sa.select(s.departments.c.name).where(s.departments.c.dept_code == dept)).scalar()
        if dept_name is None:
            raise InquiryError("inquiry.dept_unknown")
        tracking_no = new_tracking_no(kind)
        conn.execute(s.complaints.insert().values(
            case_id=case_id, user_id=None, content=content, created_at=timeutil.now(), due_on=due, kind=kind,
            tracking_no=tracking_no, dept_code=dept, item_code=item, title=title, contact_name=name,
            contact_phone=phone, published=False))
        audit.record(conn, "inquiry_submitted", detail={"tracking_no": tracking_no, "kind": kind, "dept_code": dept,
                                                        "case_no": case_no or None, "item_code": item})
        return Submitted(tracking_no, kind, dept_name, due)

    return db.write(work)


# -- following by the tracking number --------------------------------------------------------------------------

def _public_columns() -> list[Any]:
    cp, d, c, it = s.complaints.c, s.departments.c, s.cases.c, s.items.c
    return [cp.complaint_id, cp.tracking_no, sa.func.coalesce(cp.kind, "complaint").label("kind"), cp.title,
            cp.content, cp.created_at, cp.due_on, cp.answered_at, cp.answer,
            sa.func.coalesce(cp.published, False).label("published"), cp.published_at, cp.item_code,
            it.name.label("item_name"), d.name.label("dept_name"), c.case_no]


def _joined() -> Any:
    cp, d, c, it = s.complaints.c, s.departments.c, s.cases.c, s.items.c
    return (s.complaints.outerjoin(s.cases, c.case_id == cp.case_id)
            .outerjoin(s.departments, d.dept_code == sa.func.coalesce(cp.dept_code, c.dept_code))
            .outerjoin(s.items, sa.and_(it.item_code == cp.item_code, it.is_current)))


def follow(db: Database, tracking_no: str, client: str = "") -> dict[str, Any]:
    """The state and answer of one consultation or complaint, by its tracking number. An unknown number is
    refused with one message and counted: after 10 failures in an hour (per number or client), every
    follow-up from there waits, as the case look-up does."""
    number = (tracking_no or "").strip().upper()
    with db.read() as conn:
        if lookup.recent_failures(conn, "inquiry_follow_failed", "tracking_no", number, client) \
                >= lookup.MAX_FAILURES_PER_HOUR:
            raise InquiryError("inquiry.too_many")
        row = conn.execute(sa.select(*_public_columns()).select_from(_joined())
                           .where(s.complaints.c.tracking_no == number)).fetchone() if number else None
    if row is None:
        db.write(lambda conn: audit.record(conn, "inquiry_follow_failed",
                                           detail={"tracking_no": number, "client": client}))
        raise InquiryError("inquiry.no_match")
    out = dict(row._mapping)
    out["state"] = "answered" if row.answered_at else ("overdue" if row.due_on < timeutil.today() else "open")
    return out


# -- the responsible department ----------------------------------------------------------------------------------

def _responsible(actor: Actor) -> sa.ColumnElement[bool]:
    """Rows of the actor's department in the actor's part of the region tree (a case's region, else the city's):
    the scope of app/permissions.case_scope, for officers and heads only."""
    if actor.role not in (wf.OFFICER, wf.HEAD) or not actor.dept_code:
        raise PermissionDenied("inquiry.perm")
    cp, c = s.complaints.c, s.cases.c
    return sa.and_(sa.func.coalesce(cp.dept_code, c.dept_code) == actor.dept_code,
                   sa.func.coalesce(c.region_code, CITY_CODE).startswith(actor.region_code or NO_CODE))


LIST_COLUMNS = {"complaint_id": pl.Int64, "tracking_no": pl.String, "kind": pl.String, "title": pl.String,
                "item_name": pl.String, "case_no": pl.String, "created_at": pl.Datetime, "due_on": pl.Date,
                "answered_at": pl.Datetime, "published": pl.Boolean, "overdue": pl.Boolean}


def for_department(db: Database, actor: Actor, *, open_only: bool = False) -> pl.DataFrame:
    """The actor's department's consultations and complaints: open ones first, by due day."""
    cp = s.complaints.c
    cols = _public_columns()
    q = (sa.select(*cols).select_from(_joined()).where(_responsible(actor))
         .order_by(sa.case((cp.answered_at.is_(None), 0), else_=1), cp.due_on, cp.complaint_id))
    if open_only:
        q = q.where(cp.answered_at.is_(None))
    today = timeutil.today()
    with db.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    for r in rows:
        r["title"] = r["title"] or (r["content"] or "")[:MAX_TITLE]
        r["overdue"] = r["answered_at"] is None and r["due_on"] < today
    return pl.DataFrame([{k: r[k] for k in LIST_COLUMNS} for r in rows], schema=LIST_COLUMNS, orient="row")


def detail(db: Database, actor: Actor, complaint_id: int) -> dict[str, Any]:
    """One row with the submitter's contact, for the responsible department's staff only."""
    cp = s.complaints.c
    with db.read() as conn:
        row = _own_row(conn, actor, complaint_id)
        contact = conn.execute(sa.select(cp.contact_name, cp.contact_phone, s.users.c.display_name,
                                         s.users.c.phone)
                               .select_from(s.complaints.outerjoin(s.users, s.users.c.user_id == cp.user_id))
                               .where(cp.complaint_id == complaint_id)).one()
    out = dict(row._mapping)
    out["contact_name"] = contact.contact_name or contact.display_name or ""
    out["contact_phone"] = contact.contact_phone or contact.phone or ""
    return out


def _own_row(conn: Connection, actor: Actor, complaint_id: int) -> Any:
    row = conn.execute(sa.select(*_public_columns()).select_from(_joined())
                       .where(s.complaints.c.complaint_id == complaint_id)).fetchone()
    if row is None:
        raise InquiryError("inquiry.unknown")
    if conn.execute(sa.select(s.complaints.c.complaint_id).select_from(_joined())
                    .where(s.complaints.c.complaint_id == complaint_id, _responsible(actor))).fetchone() is None:
        raise PermissionDenied("inquiry.other_dept")
    return row


def answer(db: Database, actor: Actor, complaint_id: int, text: str) -> None:
    """The department's answer, once; only its own staff answer."""
    text = (text or "").strip()
    if len(text) < MIN_CONTENT:
        raise InquiryError("inquiry.answer_short", n=MIN_CONTENT)
    if len(text) > MAX_CONTENT:
        raise InquiryError("inquiry.answer_long", n=MAX_CONTENT)
    cp = s.complaints.c

    def work(conn: Connection) -> None:
        row = _own_row(conn, actor, complaint_id)
        done = conn.execute(s.complaints.update().where(cp.complaint_id == complaint_id, cp.answered_at.is_(None))
                            .values(answer=text, answered_at=timeutil.now(), answered_by=actor.user_id)
                            .returning(cp.complaint_id)).fetchall()
        if not done:
            raise InquiryError("inquiry.already_answered")
        audit.record(conn, "inquiry_answered", user_id=actor.user_id, username=actor.username,
                     detail={"complaint_id": complaint_id, "tracking_no": row.tracking_no})

    db.write(work)


def set_published(db: Database, actor: Actor, complaint_id: int, published: bool) -> None:
    """Publish an answered consultation as Q&A on its item's guide (or take it back); complaints are not."""
    cp = s.complaints.c

    def work(conn: Connection) -> None:
        row = _own_row(conn, actor, complaint_id)
        if row.kind != "consultation":
            raise InquiryError("inquiry.publish_complaint")
        if row.answered_at is None:
            raise InquiryError("inquiry.publish_unanswered")
        conn.execute(s.complaints.update().where(cp.complaint_id == complaint_id).values(
            published=bool(published), published_at=timeutil.now() if published else None))
        audit.record(conn, "inquiry_published" if published else "inquiry_unpublished", user_id=actor.user_id,
                     username=actor.username, detail={"complaint_id": complaint_id})

    db.write(work)


# -- published Q&A ------------------------------------------------------------------------------------------------

def published_qa(db: Database, *, item_code: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Published answered consultations, newest first: question and answer (masked), department, item and
    days — never the submitter's name or phone."""
    cp = s.complaints.c
    q = (sa.select(*_public_columns()).select_from(_joined())
         .where(cp.kind == "consultation", cp.published.is_(True), cp.answered_at.is_not(None))
         .order_by(cp.published_at.desc(), cp.complaint_id.desc()).limit(limit))
    if item_code:
        q = q.where(cp.item_code == item_code)
    with db.read() as conn:
        rows = conn.execute(q).fetchall()
    return [{"title": redact(r.title or ""), "question": redact(r.content), "answer": redact(r.answer or ""),
             "dept_name": r.dept_name or "", "item_code": r.item_code, "item_name": r.item_name or "",
             "asked_on": r.created_at.date(), "answered_on": r.answered_at.date()} for r in rows]


def departments(db: Database) -> dict[str, str]:
    """Every department a consultation or complaint can be addressed to, by code."""
    with db.read() as conn:
        return dict(conn.execute(sa.select(s.departments.c.dept_code, s.departments.c.name)
                                 .order_by(s.departments.c.dept_code)).all())
