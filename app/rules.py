"""The law's rules that go with a workflow move, beyond "which role, from which state" (app/workflow.py).

`check` runs inside `cases.perform`'s transaction, after the permission, version and transition checks and
before anything is written: it refuses a move the rules forbid (CaseError / PermissionDenied) and returns the
column changes the move brings. It may add facts to the event's payload (the materials a notice lists, a flag
for supervision) so that the case record says why.

- Intake (art. 32): a supplement notice lists every missing or faulty material, chosen from the item's list; a
  second notice on the same case is allowed but flagged (domain.md §6), so is one sent after the 5-working-day
  window; an acceptance after that window counts from the day of receipt.
- Acceptance opens a task for every co-department (并联审批), each with its own limit.
- Review opinions follow the item's steps in order; only the unit that accepted a case decides it, extends its
  limit or issues its result (nobody decides a case their own unit did not accept); a decision waits for every
  co-department's opinion unless a head overrides with a reason.
- A result is not issued while a payment notice is unpaid (domain.md §9).
- Claim and assign: who holds the case.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app import clock
from app import schema as s
from app import workflow as wf
from app.permissions import Actor, NO_CODE, PermissionDenied

INTAKE_LIMIT_DAYS = 5          # law art. 32
PARALLEL_TASK_DAYS = 5         # a co-department's own limit (working days), never past the lead's promised limit
VERDICTS = ("agree", "disagree")
DECIDING_ACTIONS = ("approve", "refuse", "extend", "complete")


def _case_error(key: str, **params: Any) -> Exception:
    from app.cases import CaseError  # cases imports this module

    return CaseError(key, **params)


def check(conn: Connection, actor: Actor, case: dict[str, Any], action: str, comment: str | None,
          payload: dict[str, Any], at: datetime, cal: clock.WorkCalendar,
          stops: list[clock.Stop]) -> dict[str, Any] | None:
    handler = _RULES.get(action)
    if action in DECIDING_ACTIONS and actor.role in (wf.OFFICER, wf.HEAD):
        if not case.get("accepted_unit_id") or actor.unit_id != case["accepted_unit_id"]:
            raise PermissionDenied("perm.not_accepting_unit")
    if handler is None:
        return None
    return handler(conn, actor, case, comment, payload, at, cal, stops)


# -- helpers ---------------------------------------------------------------------------------------------------
def item_version(conn: Connection, item_code: str, version: int) -> Any:
    return conn.execute(
        sa.select(s.items).where(s.items.c.item_code == item_code, s.items.c.version == version)
    ).fetchone()


def item_of(conn: Connection, case: dict[str, Any]) -> Any:
    """The item version a case was filed under (its steps, co-departments, limits)."""
    return item_version(conn, case["item_code"], case["item_version"])


def review_steps(item: Any) -> list[str]:
    steps = list(item.review_steps or [])
    return steps or ["审查"]


def _events_since_acceptance(conn: Connection, case_id: int) -> list[Any]:
    ev = s.case_events.c
    rows = conn.execute(sa.select(ev.seq, ev.action, ev.payload).where(ev.case_id == case_id)
                        .order_by(ev.seq)).fetchall()
    last_accept = max((r.seq for r in rows if r.action == "accept"), default=0)
    return [r for r in rows if r.seq > last_accept]


def steps_done(conn: Connection, case_id: int) -> list[str]:
    """The review steps that have an opinion since the case was (last) accepted, in order."""
    done: list[str] = []
    for r in _events_since_acceptance(conn, case_id):
        if r.action == "review_opinion" and (r.payload or {}).get("step") and r.payload["step"] not in done:
            done.append(r.payload["step"])
    return done


def next_step(conn: Connection, case: dict[str, Any], item: Any | None = None) -> str | None:
    item = item or item_of(conn, case)
    done = steps_done(conn, case["case_id"])
    return next((st for st in review_steps(item) if st not in done), None)


def open_tasks(conn: Connection, case_id: int) -> list[Any]:
    t = s.parallel_tasks.c
    return conn.execute(sa.select(s.parallel_tasks).where(t.case_id == case_id, t.state == "open")
                        .order_by(t.task_id)).fetchall()


def co_unit(conn: Connection, lead_unit_id: str, dept_code: str) -> Any:
    """The co-department's unit at the lead unit's level, else the city's (a district may lack the bureau)."""
    lead = conn.execute(sa.select(s.org_units).where(s.org_units.c.unit_id == lead_unit_id)).fetchone()
    region = lead.region_code if lead is not None else "4207"
    candidates = [f"U-{region[:6]}-{dept_code}"] if len(region) >= 6 else []
    candidates.append(f"U-4207-{dept_code}")
    for unit_id in candidates:
        row = conn.execute(sa.select(s.org_units).where(s.org_units.c.unit_id == unit_id)).fetchone()
        if row is not None:
            return row
    return None


def deciding_unit(conn: Connection, case: dict[str, Any], units: Mapping[str, Any] | None = None) -> str:
    """The department unit that decides a case a window accepted (前台综合受理、后台审批): the handling unit when
    it is a department's, else — a town's 便民服务中心 or a village's 便民服务站, which have windows but no one who
    decides — the item's department in the case's district, or the city's. `units`: the org_units by id, when the
    caller holds them (a bulk import)."""
    if units is not None:
        unit = units.get(case["unit_id"])
    else:
        unit = conn.execute(sa.select(s.org_units).where(s.org_units.c.unit_id == case["unit_id"])).fetchone()
    if unit is not None and unit.dept_code:
        return unit.unit_id
    candidates = [f"U-{case['region_code'][:6]}-{case['dept_code']}"] if len(case["region_code"]) >= 6 else []
    candidates.append(f"U-4207-{case['dept_code']}")
    if units is not None:
        found = {u for u in candidates if u in units}
    else:
        found = {r[0] for r in conn.execute(sa.select(s.org_units.c.unit_id).where(s.org_units.c.unit_id.in_(candidates)))}
    return next((u for u in candidates if u in found), case["unit_id"])


def intake_days_used(cal: clock.WorkCalendar, case: dict[str, Any], stops: list[clock.Stop], today: date) -> int:
    start = case.get("clock_start") or today
    relevant = [st for st in stops if st.end is None or st.end > start]
    return clock.days_used(cal, start, today, clock.WORKING, relevant)


# -- intake ----------------------------------------------------------------------------------------------------
def _accept(conn, actor, case, comment, payload, at, cal, stops):
    # The unit that accepts is the unit that decides: an officer accepts for their own unit; a window
    # (综合受理) accepts in the name of the unit that handles the item.
    accepting = deciding_unit(conn, case) if actor.role == wf.WINDOW_CLERK else actor.unit_id
    changes: dict[str, Any] = {"accepted_unit_id": accepting}
    today = at.date()
    if intake_days_used(cal, case, stops, today) > INTAKE_LIMIT_DAYS and case["supplement_count"] == 0:
        # Art. 32: an office that lets the 5 working days pass without a notice has accepted on receipt.
        changes["clock_start"] = case["clock_start"]
        payload["deemed_accepted_on"] = case["clock_start"].isoformat()
    item = item_of(conn, case)
    tasks = []
    for dept in item.co_dept_codes or []:
        unit = co_unit(conn, accepting, dept)   # at the level of the unit that leads (accepted) the case
        if unit is None:
            continue
        days = min(PARALLEL_TASK_DAYS, max(1, case["promised_days"] or PARALLEL_TASK_DAYS))
        due = clock.due_date(cal, today, days, clock.WORKING)
        conn.execute(s.parallel_tasks.insert().values(
            case_id=case["case_id"], dept_code=dept, unit_id=unit.unit_id, region_code=unit.region_code,
            opened_at=at, due_on=due, state="open"))
        tasks.append({"dept_code": dept, "unit_id": unit.unit_id, "due_on": due.isoformat()})
    if tasks:
        payload["parallel_tasks"] = tasks
    return changes


def _request_supplement(conn, actor, case, comment, payload, at, cal, stops):
    item = item_of(conn, case)
    known = {r.seq: r.name for r in conn.execute(
        sa.select(s.item_materials.c.seq, s.item_materials.c.name)
        .where(s.item_materials.c.item_code == item.item_code, s.item_materials.c.version == item.version))}
    chosen = payload.get("materials")
    if not isinstance(chosen, list) or not chosen:
        raise _case_error("case.supplement_materials_required")
    if any(not isinstance(m, int) or m not in known for m in chosen):
        raise _case_error("case.supplement_material_unknown")
    payload["materials"] = sorted(set(chosen))
    notes = payload.get("notes") or {}
    payload["notes"] = {str(k): str(v).strip() for k, v in notes.items() if str(v).strip() and int(k) in known}
    if case["supplement_count"] >= 1:
        payload["repeat_notice"] = True      # breach of 一次性告知: allowed, but supervision sees it
    if intake_days_used(cal, case, stops, at.date()) > INTAKE_LIMIT_DAYS:
        payload["late_notice"] = True
    return None


# -- review and decision ---------------------------------------------------------------------------------------
def _review_opinion(conn, actor, case, comment, payload, at, cal, stops):
    # Steps are taken in order (no step skipped); a step already given may get a further opinion (after a
    # co-department's answer, say), and once all are in, a further opinion goes to the last step.
    item = item_of(conn, case)
    steps = review_steps(item)
    done = steps_done(conn, case["case_id"])
    following = next((st for st in steps if st not in done), None)
    asked = payload.get("step") or following or steps[-1]
    if asked not in steps or (asked not in done and asked != following):
        raise _case_error("case.review_step_order", step=following or steps[-1])
    step = asked
    verdict = payload.get("verdict", "agree")
    if verdict not in VERDICTS:
        raise _case_error("case.verdict")
    payload.update(step=step, verdict=verdict)
    return None


def _decide(conn, actor, case, comment, payload, at, cal, stops):
    item = item_of(conn, case)
    step = next_step(conn, case, item)
    if step is not None:
        raise _case_error("case.review_incomplete", step=step)
    pending = open_tasks(conn, case["case_id"])
    if pending:
        if not payload.get("override"):
            names = dict(conn.execute(sa.select(s.org_units.c.unit_id, s.org_units.c.name).where(
                s.org_units.c.unit_id.in_([t.unit_id for t in pending]))).all())
            raise _case_error("case.parallel_pending", depts="、".join(names.get(t.unit_id, t.unit_id) for t in pending))
        if actor.role != wf.HEAD:
            raise PermissionDenied("perm.override_head")
        if not (comment and comment.strip()):
            raise _case_error("case.override_reason")
        conn.execute(s.parallel_tasks.update().where(s.parallel_tasks.c.case_id == case["case_id"],
                                                     s.parallel_tasks.c.state == "open").values(state="overridden"))
        payload["overridden_tasks"] = [t.dept_code for t in pending]
    return None


def _co_opinion(conn, actor, case, comment, payload, at, cal, stops):
    from app.cases import open_task_of

    task = open_task_of(conn, actor, case["case_id"])
    verdict = payload.get("verdict", "agree")
    if verdict not in VERDICTS:
        raise _case_error("case.verdict")
    done = conn.execute(
        s.parallel_tasks.update().where(s.parallel_tasks.c.task_id == task.task_id,
                                        s.parallel_tasks.c.state == "open")
        .values(state="answered", verdict=verdict, opinion=comment.strip(), answered_at=at,
                answered_by=actor.user_id).returning(s.parallel_tasks.c.task_id)).fetchall()
    if not done:
        raise _case_error("case.task_answered")
    payload.update(task_id=int(task.task_id), dept_code=task.dept_code, verdict=verdict,
                   late=at.date() > task.due_on)
    return None


def _withdraw(conn, actor, case, comment, payload, at, cal, stops):
    # A withdrawn case needs no more opinions: its open tasks end with it.
    conn.execute(s.parallel_tasks.update().where(s.parallel_tasks.c.case_id == case["case_id"],
                                                 s.parallel_tasks.c.state == "open").values(state="cancelled"))
    return None


def _transfer(conn, actor, case, comment, payload, at, cal, stops):
    # The receiving unit accepts afresh: the tasks the old acceptance opened no longer stand.
    conn.execute(s.parallel_tasks.update().where(s.parallel_tasks.c.case_id == case["case_id"],
                                                 s.parallel_tasks.c.state == "open").values(state="cancelled"))
    return None


def _receive_transfer(conn, actor, case, comment, payload, at, cal, stops):
    # Only the unit the case was sent to takes it in; the sender cannot take it back by receiving it.
    if actor.unit_id != case["unit_id"]:
        raise PermissionDenied("perm.not_receiving_unit")
    return None


def _complete(conn, actor, case, comment, payload, at, cal, stops):
    unpaid = conn.execute(sa.select(sa.func.count()).select_from(s.fee_notices).where(
        s.fee_notices.c.case_id == case["case_id"], s.fee_notices.c.state == "unpaid")).scalar_one()
    if unpaid:
        raise _case_error("case.fee_unpaid")
    return None


# -- who holds the case ----------------------------------------------------------------------------------------
def _claim(conn, actor, case, comment, payload, at, cal, stops):
    holder = case.get("assigned_user_id")
    if holder == actor.user_id:
        raise _case_error("case.already_yours")
    if holder is not None:
        raise _case_error("case.claimed_by_other")
    return {"assigned_user_id": actor.user_id}


def _assign(conn, actor, case, comment, payload, at, cal, stops):
    target = payload.get("user_id")
    row = conn.execute(sa.select(s.users).where(s.users.c.user_id == target)).fetchone() if target else None
    unit = None
    if row is not None and row.unit_id:
        unit = conn.execute(sa.select(s.org_units).where(s.org_units.c.unit_id == row.unit_id)).fetchone()
    if (row is None or not row.active or row.role not in (wf.OFFICER, wf.HEAD) or unit is None
            or unit.dept_code != case["dept_code"] or not case["region_code"].startswith(unit.region_code)
            or not unit.region_code.startswith(actor.region_code or NO_CODE)):
        raise _case_error("case.assign_target")
    payload["assignee"] = row.display_name
    return {"assigned_user_id": int(row.user_id)}


def _fee_move(conn, actor, case, comment, payload, at, cal, stops):
    # The fee moves carry a payment notice: they come through app/fees.py, never bare.
    if not payload.get("notice_no"):
        raise _case_error("fee.use_fee_service")
    return None


_RULES = {
    "assess_fee": _fee_move, "record_payment": _fee_move,
    "accept": _accept, "request_supplement": _request_supplement,
    "review_opinion": _review_opinion, "approve": _decide, "refuse": _decide, "co_opinion": _co_opinion,
    "transfer": _transfer, "receive_transfer": _receive_transfer, "withdraw": _withdraw, "complete": _complete, "claim": _claim, "assign": _assign,
}
