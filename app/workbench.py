"""The officer workbench (内网审批) as plain services: the queue, one case's screen, and what this officer may do
now. Pages draw what these return; the moves themselves go through cases.perform (rules in app/rules.py).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl
import sqlalchemy as sa

from app import applications, calendar_store, cases, clock, fees, issuing, rules, timeutil
from app import schema as s
from app import workflow as wf
from app.config import warning_rule
from app.db import Database
from app.permissions import Actor, NO_CODE, can_act, case_scope, shown_identifier
from app.validators import mask_id

# The queue shows what still needs someone: not drafts, not closed cases.
QUEUE_STATES = (wf.SUBMITTED, wf.AWAITING_SUPPLEMENT, wf.ACCEPTED, wf.UNDER_REVIEW, wf.SPECIAL_PROCEDURE,
                wf.APPROVED, wf.REFUSED, wf.TRANSFERRED)
PAGE_SIZE = 50


@dataclass
class QueueFilter:
    states: list[str] = field(default_factory=list)      # empty: every open state
    item_code: str | None = None
    region_prefix: str | None = None
    channel: str | None = None
    warning: str | None = None                            # green | yellow | red
    due_by: date | None = None
    holder: str = "all"                                   # all | mine | unassigned
    co_tasks: str = "all"                                 # all | own | co (parallel tasks from other departments)
    search: str = ""                                      # case number or applicant name (part)


def _queue_where(actor: Actor, f: QueueFilter) -> sa.ColumnElement[bool]:
    c = s.cases.c
    conds = [case_scope(actor), c.state.in_(f.states or QUEUE_STATES)]
    if f.item_code:
        conds.append(c.item_code == f.item_code)
    if f.region_prefix:
        conds.append(c.region_code.startswith(f.region_prefix))
    if f.channel:
        conds.append(c.channel == f.channel)
    if f.warning:
        conds.append(c.warning_level == f.warning)
    if f.due_by:
        conds.append(c.promised_due <= f.due_by)
    if f.holder == "mine":
        conds.append(c.assigned_user_id == actor.user_id)
    elif f.holder == "unassigned":
        conds.append(c.assigned_user_id.is_(None))
    if f.co_tasks == "own":
        conds.append(c.dept_code == (actor.dept_code or NO_CODE))
    elif f.co_tasks == "co":
        conds.append(c.dept_code != (actor.dept_code or NO_CODE))
    if f.search.strip():
        like = f"%{f.search.strip()}%"
        conds.append(sa.or_(c.case_no.like(like), c.applicant_name.like(like)))
    return sa.and_(*conds)


def queue(db: Database, actor: Actor, f: QueueFilter | None = None, page: int = 0,
          page_size: int = PAGE_SIZE) -> tuple[pl.DataFrame, int]:
    """One page of the queue, most urgent first (red, yellow, then the nearest due date), and the total.

    A parallel task from another department shows as 协办 with the task's own due date."""
    f = f or QueueFilter()
    c, i, t, u = s.cases.c, s.items.c, s.parallel_tasks.c, s.users.c
    rank = sa.case((c.warning_level == "red", 0), (c.warning_level == "yellow", 1), else_=2)
    task = (sa.select(t.case_id, sa.func.min(t.due_on).label("task_due"),
                      sa.func.max(sa.case((t.state == "open", 1), else_=0)).label("task_open"))
            .where(t.dept_code == (actor.dept_code or NO_CODE)).group_by(t.case_id).subquery())
    where = _queue_where(actor, f)
    q = (sa.select(c.case_id, c.case_no, i.name.label("item"), c.state, c.applicant_name, c.region_code, c.channel,
                   c.submitted_at, c.promised_due, c.warning_level, u.display_name.label("holder"),
                   (c.dept_code != (actor.dept_code or NO_CODE)).label("co_task"), task.c.task_due, task.c.task_open,
                   c.version)
         .select_from(s.cases.join(s.items, sa.and_(i.item_code == c.item_code, i.version == c.item_version))
                      .outerjoin(s.users, u.user_id == c.assigned_user_id)
                      .outerjoin(task, task.c.case_id == c.case_id))
         .where(where).order_by(rank, c.promised_due.asc().nulls_last(), c.case_id)
         .limit(page_size).offset(page * page_size))
    with db.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
        total = conn.execute(sa.select(sa.func.count()).select_from(s.cases).where(where)).scalar_one()
    schema = {"case_id": pl.Int64, "case_no": pl.Utf8, "item": pl.Utf8, "state": pl.Utf8, "applicant_name": pl.Utf8,
              "region_code": pl.Utf8, "channel": pl.Utf8, "submitted_at": pl.Datetime, "promised_due": pl.Date,
              "warning_level": pl.Utf8, "holder": pl.Utf8, "co_task": pl.Boolean, "task_due": pl.Date,
              "task_open": pl.Int64, "version": pl.Int64}
    return pl.DataFrame(rows, schema=schema, orient="row"), int(total)


def queue_counts(db: Database, actor: Actor) -> dict[str, int]:
    """Open cases in the actor's scope by state (the queue's tabs)."""
    return cases.count_by_state(db, actor, states=QUEUE_STATES)


def queue_choices(db: Database, actor: Actor) -> dict[str, list[tuple[str, str]]]:
    """What the queue's filters offer: the items and the regions (district, town) that occur in my queue."""
    c, i = s.cases.c, s.items.c
    with db.read() as conn:
        items = conn.execute(sa.select(c.item_code, sa.func.min(i.name))
                             .select_from(s.cases.join(s.items, sa.and_(i.item_code == c.item_code,
                                                                        i.version == c.item_version)))
                             .where(case_scope(actor), c.state.in_(QUEUE_STATES))
                             .group_by(c.item_code).order_by(c.item_code)).fetchall()
        prefix_len = 9 if len(actor.region_code or "") >= 6 else 6
        regions = conn.execute(sa.select(sa.func.substr(c.region_code, 1, prefix_len).label("p")).distinct()
                               .where(case_scope(actor), c.state.in_(QUEUE_STATES))).fetchall()
        codes = sorted({r.p for r in regions if r.p and len(r.p) == prefix_len})
        names = dict(conn.execute(sa.select(s.regions.c.code, s.regions.c.name)
                                  .where(s.regions.c.code.in_(codes))).all()) if codes else {}
    return {"items": [(r[0], r[1]) for r in items], "regions": [(code, names.get(code, code)) for code in codes]}


def find_case(db: Database, actor: Actor, case_no: str) -> int | None:
    """The case with this number, if the actor may see it (else None, as for a number that does not exist)."""
    with db.read() as conn:
        case_id = conn.execute(sa.select(s.cases.c.case_id).where(s.cases.c.case_no == case_no.strip())).scalar()
    if case_id is None:
        return None
    try:
        cases.get_case(db, actor, int(case_id))
    except cases.CaseError:
        return None
    return int(case_id)


# -- one case --------------------------------------------------------------------------------------------------
def _is_lead(actor: Actor, case: dict[str, Any]) -> bool:
    """The actor's department handles the case (a co-department only gives its opinion)."""
    return can_act(actor, cases.RowView(case))


def actions_for(db: Database, actor: Actor, case: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """The actions this officer may take on this case now, and for the ones the workflow allows but a rule
    holds back, the reason (an i18n key) — so the screen can say why a button is missing."""
    if actor.role not in (wf.OFFICER, wf.HEAD, wf.WINDOW_CLERK):
        return [], {}
    held: dict[str, str] = {}
    with db.read() as conn:
        if not _is_lead(actor, case):
            task = cases.open_task_of(conn, actor, case["case_id"])
            ok = task is not None and case["state"] in wf.BY_ACTION["co_opinion"].sources
            return (["co_opinion"] if ok else []), {}
        item = rules.item_of(conn, case)
        pending = rules.open_tasks(conn, case["case_id"])
        step = rules.next_step(conn, case, item) if case["state"] == wf.UNDER_REVIEW else None
        unpaid = conn.execute(sa.select(sa.func.count()).select_from(s.fee_notices).where(
            s.fee_notices.c.case_id == case["case_id"], s.fee_notices.c.state == "unpaid")).scalar_one()
        has_standard = conn.execute(sa.select(sa.func.count()).select_from(s.fee_standards).where(
            s.fee_standards.c.item_code == case["item_code"])).scalar_one() > 0
    out = []
    for action in wf.allowed_actions(case["state"], actor.role):
        if action in ("co_opinion", "record_payment", "edit_draft", "submit", "supplement", "withdraw", "rate",
                      "complain"):
            continue
        if action in rules.DECIDING_ACTIONS and actor.unit_id != case.get("accepted_unit_id") \
                and actor.role != wf.WINDOW_CLERK:
            held[action] = "hold.not_accepting_unit"
            continue
        if action in ("approve", "refuse"):
            if step is not None:
                held[action] = "hold.review_incomplete"
                continue
            if pending and actor.role != wf.HEAD:
                held[action] = "hold.parallel_pending"
                continue
        if action == "receive_transfer" and actor.unit_id != case["unit_id"]:
            held[action] = "hold.not_receiving_unit"
            continue
        if action == "claim" and case.get("assigned_user_id") is not None:
            continue
        if action == "assess_fee" and (not item.charges_fee or not has_standard or unpaid):
            continue
        if action == "complete" and unpaid:
            held[action] = "hold.fee_unpaid"
            continue
        out.append(action)
    return out, held


def case_view(db: Database, actor: Actor, case_id: int, today: date | None = None) -> dict[str, Any]:
    """Everything the case screen shows, within the actor's permissions."""
    today = today or timeutil.today()
    case = cases.get_case(db, actor, case_id)
    row = cases.RowView(case)
    lead = _is_lead(actor, case)
    with db.read() as conn:
        item = rules.item_of(conn, case)
        unit_names = dict(conn.execute(sa.select(s.org_units.c.unit_id, s.org_units.c.name)).all())
        region = conn.execute(sa.select(s.regions.c.name).where(s.regions.c.code == case["region_code"])).scalar()
        stops = conn.execute(sa.select(s.clock_stops).where(s.clock_stops.c.case_id == case_id)
                             .order_by(s.clock_stops.c.seq)).fetchall()
        tasks = conn.execute(sa.select(s.parallel_tasks).where(s.parallel_tasks.c.case_id == case_id)
                             .order_by(s.parallel_tasks.c.task_id)).fetchall()
        holder = conn.execute(sa.select(s.users.c.display_name)
                              .where(s.users.c.user_id == case["assigned_user_id"])).scalar() \
            if case.get("assigned_user_id") else None
        steps_done = rules.steps_done(conn, case_id)
        fields = conn.execute(sa.select(s.item_form_fields).where(
            s.item_form_fields.c.item_code == case["item_code"], s.item_form_fields.c.version == case["item_version"])
            .order_by(s.item_form_fields.c.seq)).fetchall()
    events = cases.case_events(db, actor, case_id)
    names = _user_names(db, {e["actor_user_id"] for e in events if e["actor_user_id"]}
                        | {t.answered_by for t in tasks if t.answered_by})
    answers = _answers(fields, case.get("form_data") or {})
    mats = applications.item_materials(db, case["item_code"], case["item_version"])
    provided = applications.provided_materials(db, actor, case_id)
    cal = calendar_store.load_calendar(db)
    return {
        "case": case, "lead": lead, "item": dict(item._mapping), "region_name": region or case["region_code"],
        "unit_name": unit_names.get(case["unit_id"], case["unit_id"]),
        "accepted_unit_name": unit_names.get(case.get("accepted_unit_id") or "", ""),
        "applicant_id": shown_identifier(actor, row) if lead else mask_id(case["applicant_id_number"]),
        "holder": holder, "answers": answers,
        "materials": [{"seq": m.seq, "name": m.name, "required": m.required, **(provided.get(m.seq) or {})}
                      for m in mats],
        "clock": clock_summary(cal, case, stops, today),
        "stops": [{"kind": st.kind, "started_on": st.started_on, "ended_on": st.ended_on, "reason": st.reason}
                  for st in stops],
        "timeline": [{**e, "actor_name": names.get(e["actor_user_id"], ""),
                      "unit_name": unit_names.get(e["actor_unit_id"] or "", e["actor_unit_id"] or "")}
                     for e in events],
        "tasks": [{**dict(t._mapping), "unit_name": unit_names.get(t.unit_id, t.unit_id),
                   "answered_by_name": names.get(t.answered_by, "")} for t in tasks],
        "review_steps": rules.review_steps(item), "steps_done": steps_done,
        "documents": issuing.documents_of(db, actor, case_id),
        "fee_notices": fees.notices_of(db, actor, case_id),
        "fee_standards": fees.standards_for(db, case["item_code"]) if item.charges_fee else [],
        "related": related_cases(db, actor, case),
        "actions": actions_for(db, actor, case),
    }


def _user_names(db: Database, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    with db.read() as conn:
        return dict(conn.execute(sa.select(s.users.c.user_id, s.users.c.display_name)
                                 .where(s.users.c.user_id.in_(sorted(ids)))).all())


def _answers(fields: list[Any], data: dict[str, Any]) -> list[tuple[str, str]]:
    out = []
    for f in fields:
        if f.field_key in data and data[f.field_key] not in (None, "", []):
            value = data[f.field_key]
            out.append((f.label, "、".join(map(str, value)) if isinstance(value, list) else str(value)))
    known = {f.field_key for f in fields}
    out.extend((key, str(value)) for key, value in data.items() if key not in known and value not in (None, ""))
    return out


def clock_summary(cal: clock.WorkCalendar, case: dict[str, Any], stops: list[Any], today: date) -> dict[str, Any]:
    """The legal clock as the case screen shows it: which limit runs, used, remaining, due, stopped."""
    start = case.get("clock_start")
    if start is None or case["state"] in wf.FINAL_STATES:
        return {"phase": "closed" if case["state"] in wf.FINAL_STATES else "none"}
    st = [clock.Stop(x.started_on, x.ended_on) for x in stops]
    st = [x for x in st if x.end is None or x.end > start]
    end = today
    if case["state"] in (wf.APPROVED, wf.REFUSED) and case.get("decided_at"):
        end = case["decided_at"].date()
    yellow_days, yellow_ratio = warning_rule()
    if case["state"] in (wf.SUBMITTED, wf.AWAITING_SUPPLEMENT, wf.TRANSFERRED):
        status = clock.clock_status(cal, start, rules.INTAKE_LIMIT_DAYS, end, "working", st,
                                    yellow_days=yellow_days, yellow_ratio=yellow_ratio)
        phase = "intake"
    else:
        status = clock.clock_status(cal, start, case["promised_days"], end, "working", st,
                                    case.get("extension_days") or 0, yellow_days=yellow_days,
                                    yellow_ratio=yellow_ratio)
        phase = "handling"
    return {"phase": phase, "used": status.used, "limit": status.limit, "remaining": status.remaining,
            "due": status.due, "stopped": status.stopped, "level": status.level, "provisional": status.provisional,
            "statutory_due": case.get("statutory_due"), "extension_days": case.get("extension_days") or 0,
            "decided": end != today}


def related_cases(db: Database, actor: Actor, case: dict[str, Any], limit: int = 20) -> list[dict[str, Any]]:
    """Other cases of the same applicant that the actor may see."""
    c, i = s.cases.c, s.items.c
    q = (sa.select(c.case_id, c.case_no, i.name.label("item"), c.state, c.submitted_at)
         .select_from(s.cases.join(s.items, sa.and_(i.item_code == c.item_code, i.version == c.item_version)))
         .where(case_scope(actor), c.applicant_id_number == case["applicant_id_number"], c.case_id != case["case_id"])
         .order_by(c.case_id.desc()).limit(limit))
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def transfer_targets(db: Database, actor: Actor, case: dict[str, Any]) -> list[tuple[str, str]]:
    """Where a case can be transferred (纵贯乡村): the district's and the city's bureau of the case's department,
    other than the unit holding it."""
    # Up to a unit with someone who receives and decides: the item's department at the district or the city
    # (a town's 便民服务中心 has windows only, so a case sent there could never be received).
    region = case["region_code"]
    candidates = []
    if len(region) >= 6:
        candidates.append(f"U-{region[:6]}-{case['dept_code']}")
    candidates.append(f"U-4207-{case['dept_code']}")
    with db.read() as conn:
        rows = dict(conn.execute(sa.select(s.org_units.c.unit_id, s.org_units.c.name)
                                 .where(s.org_units.c.unit_id.in_(candidates))).all())
    return [(u, rows[u]) for u in candidates if u in rows and u != case["unit_id"]]


def assignable_officers(db: Database, actor: Actor, case: dict[str, Any]) -> list[tuple[int, str]]:
    """The officers and heads a head may give the case to: the case's department, units in the head's subtree
    that cover the case's place."""
    u, o = s.users.c, s.org_units.c
    with db.read() as conn:
        rows = conn.execute(sa.select(u.user_id, u.display_name, o.name, o.region_code)
                            .select_from(s.users.join(s.org_units, o.unit_id == u.unit_id))
                            .where(u.active, u.role.in_((wf.OFFICER, wf.HEAD)), o.dept_code == case["dept_code"],
                                   o.region_code.startswith(actor.region_code or NO_CODE))
                            .order_by(o.region_code, u.display_name)).fetchall()
    return [(int(r.user_id), f"{r.display_name}（{r.name}）") for r in rows
            if case["region_code"].startswith(r.region_code)]

