"""Case services: create a case, move it through the declared workflow, read it within one's permissions.

Every change goes through `perform`: the workflow table decides whether the move is legal, the legal clock
recomputes the due dates, the case row is updated under a version check (a stale screen cannot overwrite
newer state) and an event is appended to the case record, all in one transaction.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app import calendar_store, clock, issuing, record, rules, timeutil
from app import schema as s
from app import workflow as wf
from app.config import warning_rule
from app.db import Database, StaleVersionError, update_versioned
from app.permissions import Actor, NO_CODE, PermissionDenied, can_act, can_view, case_scope, holds_task
from app.rules import INTAKE_LIMIT_DAYS, item_version  # noqa: F401 - re-exported: documents, pages, demo use them
from app.validators import validate_credit_code, validate_resident_id

CITY_PREFIX = "420700"
EXTENSION_MAX_SINGLE = 10   # law art. 42: 20 working days, extendable by 10
EXTENSION_MAX_JOINT = 15    # joint or centralised handling: 45, extendable by 15


class CaseError(ValueError):
    """A refused request about a case; `key` names the i18n message."""

    def __init__(self, key: str, **params: Any):
        super().__init__(f"{key} {params}")
        self.key = key
        self.params = params


@dataclass(frozen=True)
class Applicant:
    name: str
    id_kind: str          # "resident_id" | "credit_code"
    id_number: str
    user_id: int | None = None

    def validate(self) -> None:
        if not self.name or not self.name.strip():
            raise CaseError("case.applicant_name_required")
        if self.id_kind == "resident_id":
            err = validate_resident_id(self.id_number)
        elif self.id_kind == "credit_code":
            err = validate_credit_code(self.id_number)
        else:
            err = "id.kind"
        if err:
            raise CaseError(err)


def format_case_no(serial: int, on: date) -> str:
    return f"{CITY_PREFIX}-{on:%Y%m%d}-{serial:06d}"


def next_case_no(conn: Connection, on: date) -> str:
    serial = conn.execute(sa.text("SELECT nextval('case_no_seq')")).scalar_one()
    return format_case_no(int(serial), on)


def current_item(conn: Connection, item_code: str) -> Any:
    row = conn.execute(
        sa.select(s.items).where(s.items.c.item_code == item_code, s.items.c.is_current)
    ).fetchone()
    if row is None or row.status != "published":
        raise CaseError("case.item_unknown", item=item_code)
    return row



def unit_candidates(item: Any, region_code: str) -> list[str]:
    """The units that could handle an item for an applicant in `region_code`, the lowest level first."""
    levels = item.handling_levels
    candidates: list[str] = []
    if "村社区" in levels and len(region_code) >= 12:
        candidates.append(f"U-{region_code[:12]}-BMFW")
    if "乡镇街道" in levels and len(region_code) >= 9:
        candidates.append(f"U-{region_code[:9]}-BMFW")
    if "区" in levels and len(region_code) >= 6:
        candidates.append(f"U-{region_code[:6]}-{item.dept_code}")
    candidates.append(f"U-4207-{item.dept_code}")
    return candidates


def handling_unit(conn: Connection, item: Any, region_code: str, units: Mapping[str, Any] | None = None) -> str:
    """The unit that handles an item for an applicant in `region_code` (纵贯乡村: the lowest level the item
    is handled at that exists above the applicant's place). `units`: the org_units by id, when the caller
    holds them (a bulk import asks this for thousands of cases)."""
    candidates = unit_candidates(item, region_code)
    if units is not None:
        found = {u for u in candidates if u in units}
    else:
        found = {r[0] for r in conn.execute(sa.select(s.org_units.c.unit_id).where(s.org_units.c.unit_id.in_(candidates)))}
    for unit in candidates:
        if unit in found:
            return unit
    raise CaseError("case.no_unit", item=item.item_code)


def _stops(conn: Connection, case_id: int) -> list[clock.Stop]:
    rows = conn.execute(
        sa.select(s.clock_stops.c.started_on, s.clock_stops.c.ended_on)
        .where(s.clock_stops.c.case_id == case_id).order_by(s.clock_stops.c.seq)
    ).fetchall()
    return [clock.Stop(r.started_on, r.ended_on) for r in rows]


def clock_fields(cal: clock.WorkCalendar, case: dict[str, Any], stops: list[clock.Stop], today: date) -> dict[str, Any]:
    """Due dates and warning level for a case's current phase.

    Before acceptance the intake window (art. 32, 5 working days from receipt) is the clock; from acceptance
    the promised limit (the city's target, supervised) and the statutory limit (the legal maximum) run, both
    lengthened by an approved extension. Final and decided cases carry no warning.
    """
    state = case["state"]
    start = case.get("clock_start")
    if state in wf.FINAL_STATES or state in (wf.APPROVED, wf.REFUSED) or start is None:
        return {"warning_level": None}
    relevant = [st for st in stops if st.end is None or st.end > start]
    yellow_days, yellow_ratio = warning_rule()   # configurable (EZZ_YELLOW_DAYS / EZZ_YELLOW_RATIO)
    if state in (wf.SUBMITTED, wf.AWAITING_SUPPLEMENT, wf.TRANSFERRED):
        status = clock.clock_status(cal, start, INTAKE_LIMIT_DAYS, today, "working", relevant,
                                    yellow_days=yellow_days, yellow_ratio=yellow_ratio)
        return {"promised_due": status.due, "statutory_due": status.due, "warning_level": status.level}
    ext = case.get("extension_days") or 0
    promised = clock.clock_status(cal, start, case["promised_days"], today, "working", relevant, ext,
                                  yellow_days=yellow_days, yellow_ratio=yellow_ratio)
    statutory_due = clock.due_date(cal, start, case["statutory_limit"], case["statutory_unit"], relevant, ext)
    return {"promised_due": promised.due, "statutory_due": statutory_due, "warning_level": promised.level}


# -- creating ------------------------------------------------------------------------------------------
def create_case(db: Database, actor: Actor, *, item_code: str, applicant: Applicant, region_code: str,
                channel: str, form_data: dict[str, Any] | None = None, window_id: str | None = None,
                submit: bool = False, at: datetime | None = None, request_key: str | None = None) -> dict[str, Any]:
    """Create a draft (and optionally submit it at once). Applicants file for themselves; window clerks
    file for an applicant who is present. A repeated `request_key` (a double click) returns the case the
    first request created instead of filing a second one."""
    check_filer(actor, applicant, channel)
    at = (at or timeutil.now()).replace(microsecond=0)

    def work(conn: Connection) -> dict[str, Any]:
        return _create_in(conn, actor, item_code=item_code, applicant=applicant, region_code=region_code,
                          channel=channel, form_data=form_data, window_id=window_id, at=at,
                          request_key=request_key)[0]

    case = db.write(work)
    if submit and not case.get("repeated"):
        case = perform(db, actor, case["case_id"], "submit", expected_version=case["version"], at=at)
    return case


_INSERT_CASE = s.cases.insert().returning(*s.cases.c)   # built once; the values are its parameters
_CASE_ID_BY_KEY = sa.select(s.cases.c.case_id).where(s.cases.c.request_key == sa.bindparam("key"))
# The items' current versions, with the columns a new case takes from its item (current_item's rule, narrower).
CURRENT_ITEMS = sa.select(
    *(s.items.c[k] for k in ("item_code", "version", "status", "dept_code", "handling_levels", "promised_days",
                             "statutory_limit", "statutory_unit"))
).where(s.items.c.is_current)
_ITEM_FOR_CASE = CURRENT_ITEMS.where(s.items.c.item_code == sa.bindparam("code"))


def check_filer(actor: Actor, applicant: Applicant, channel: str) -> None:
    """Who may open a case for whom, by which channel (create_case's checks before it writes)."""
    if actor.role not in (wf.APPLICANT, wf.WINDOW_CLERK):
        raise PermissionDenied("perm.create_case")
    applicant.validate()
    if actor.role == wf.APPLICANT and applicant.user_id != actor.user_id:
        raise PermissionDenied("perm.create_for_other")
    if channel not in ("online", "window"):
        raise CaseError("case.channel")


def repeated_request(earlier: dict[str, Any], actor: Actor, *, item_code: str, region_code: str,
                     applicant: Applicant) -> dict[str, Any]:
    """The case an earlier request with the same key opened, if this is the same request again (a double click):
    the same actor, applicant, item and place. Anything else reusing a key is refused rather than silently filed
    under old choices."""
    same = (earlier["item_code"] == item_code and earlier["region_code"] == region_code
            and earlier["applicant_id_number"] == applicant.id_number.strip().upper()
            and (earlier["applicant_user_id"] == actor.user_id or earlier["agent_user_id"] == actor.user_id))
    if not same:
        raise CaseError("case.request_key_reused")
    return earlier


def new_case_values(actor: Actor, *, item: Any, applicant: Applicant, region_code: str, channel: str,
                    window_id: str | None, at: datetime, unit_id: str, request_key: str | None,
                    form_data: dict[str, Any] | None = None) -> dict[str, Any]:
    """A new draft's row (but its case number): the item's current version and limits, the applicant as given."""
    return dict(
        item_code=item.item_code, item_version=item.version, dept_code=item.dept_code,
        unit_id=unit_id, region_code=region_code, window_id=window_id, channel=channel,
        applicant_user_id=applicant.user_id, applicant_name=applicant.name.strip(),
        applicant_id_kind=applicant.id_kind, applicant_id_number=applicant.id_number.strip().upper(),
        agent_user_id=actor.user_id if actor.role == wf.WINDOW_CLERK else None, state=wf.DRAFT,
        form_data=form_data or {}, promised_days=item.promised_days, statutory_limit=item.statutory_limit,
        statutory_unit=item.statutory_unit, extension_days=0, clock_stopped=False, supplement_count=0,
        created_at=at, updated_at=at, version=1, warning_level=None, request_key=request_key,
    )


def _create_in(conn: Connection, actor: Actor, *, item_code: str, applicant: Applicant, region_code: str,
               channel: str, form_data: dict[str, Any] | None, window_id: str | None, at: datetime,
               request_key: str | None) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
    """Open a draft in this transaction (create_case's write, after check_filer): returns what create_case returns,
    the new case's row as stored and its create event — both None when the request key names an earlier case."""
    if request_key:
        # the case id first (a narrow read: the key is almost always new), the whole row only when found
        earlier = conn.execute(_CASE_ID_BY_KEY, {"key": request_key}).fetchone()
        if earlier is not None:
            earlier = conn.execute(sa.select(s.cases).where(s.cases.c.case_id == earlier.case_id)).one()
            return {**repeated_request(dict(earlier._mapping), actor, item_code=item_code, region_code=region_code,
                                       applicant=applicant), "repeated": True}, None, None
    item = conn.execute(_ITEM_FOR_CASE, {"code": item_code}).fetchone()   # current_item's rule, the columns used
    if item is None or item.status != "published":
        raise CaseError("case.item_unknown", item=item_code)
    region = conn.execute(sa.select(s.regions.c.code).where(s.regions.c.code == region_code)).scalar()
    if region is None or not region_code.startswith("4207"):
        raise CaseError("case.region_unknown", region=region_code)
    values = new_case_values(actor, item=item, applicant=applicant, region_code=region_code, channel=channel,
                             window_id=window_id, at=at, unit_id=handling_unit(conn, item, region_code),
                             request_key=request_key, form_data=form_data)
    values["case_no"] = next_case_no(conn, at.date())
    # the whole row as stored (RETURNING): what a read of it would give, without reading it again
    row = dict(conn.execute(_INSERT_CASE, values).one()._mapping)
    event = record.append_event(conn, case_id=row["case_id"], occurred_at=at, actor_user_id=actor.user_id,
                                actor_role=actor.role, actor_unit_id=actor.unit_id, action="create",
                                from_state=None, to_state=wf.DRAFT, comment=None,
                                payload={"item_code": item.item_code, "item_version": item.version,
                                         "channel": channel},
                                previous=(0, None))   # a case created in this transaction has no event yet
    return {**values, "case_id": row["case_id"]}, row, event


# -- moving --------------------------------------------------------------------------------------------
def _load_for_update(conn: Connection, case_id: int) -> dict[str, Any]:
    """The case row, locked for this transaction on PostgreSQL: a second move on the case — from another server —
    waits here until the first is committed, then finds the new version and is told the case changed, instead
    of writing numbered documents that collide with the first's (DuckDB: writers are serialised in-process)."""
    query = sa.select(s.cases).where(s.cases.c.case_id == case_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).fetchone()
    if row is None:
        raise CaseError("case.not_found")
    return dict(row._mapping)


def perform(db: Database, actor: Actor, case_id: int, action: str, *, expected_version: int,
            comment: str | None = None, payload: dict[str, Any] | None = None,
            at: datetime | None = None,
            apply: Callable[[Connection, dict[str, Any]], dict[str, Any] | None] | None = None) -> dict[str, Any]:
    """Make one workflow transition on a case, or refuse it with a reason (WorkflowError, CaseError,
    PermissionDenied, StaleVersionError). Nothing is half-saved: one transaction.

    `apply(conn, case)` runs inside that transaction after the checks, for what an action brings with it
    (form answers, materials, a rating); it may return more column changes, and whatever it raises undoes
    everything."""
    at = (at or timeutil.now()).replace(microsecond=0)
    cal = calendar_store.load_calendar(db)

    def work(conn: Connection) -> dict[str, Any]:
        return _transition(conn, actor, _load_for_update(conn, case_id), action, expected_version=expected_version,
                           comment=comment, payload=payload, at=at, cal=cal, apply=apply)

    return db.write(work)


def _transition(conn: Connection, actor: Actor, case: dict[str, Any], action: str, *, expected_version: int,
                comment: str | None, payload: dict[str, Any] | None, at: datetime, cal: clock.WorkCalendar,
                apply: Callable[[Connection, dict[str, Any]], dict[str, Any] | None] | None = None,
                stops: list[clock.Stop] | None = None,
                last_event: tuple[int, str | None] | None = None) -> dict[str, Any]:
    """perform's transaction, on `case` as read for update in it (every check, rule and write of perform).
    `stops` and `last_event` (seq, hash): the case's clock stops and last event when this transaction has just
    created the case — none, and its create event — so they are not read back."""
    case_id = case["case_id"]
    payload = dict(payload or {})
    if action == "co_opinion":
        # A co-department acts on its own task only; it never moves the lead department's case.
        if open_task_of(conn, actor, case_id) is None:
            if can_act(actor, RowView(case)):  # the lead department may hear why (no hint to strangers)
                wf.check_transition(action, case["state"], actor.role, comment)
            raise PermissionDenied("perm.no_task")
    elif not can_act(actor, RowView(case)):
        raise PermissionDenied("perm.case_action")
    if case["version"] != expected_version:
        raise StaleVersionError("case changed since it was read")
    transition = wf.check_transition(action, case["state"], actor.role, comment)
    new_state = wf.target_state(transition, case["state"])
    today = at.date()
    changes: dict[str, Any] = {"state": new_state, "updated_at": at}
    stops = _stops(conn, case_id) if stops is None else list(stops)
    changes.update(rules.check(conn, actor, case, action, comment, payload, at, cal, stops) or {})

    if transition.clock == wf.CLOCK_START_INTAKE:
        changes.update(submitted_at=at, clock_start=today)
    elif transition.clock == wf.CLOCK_STOP:
        kind = "supplement" if action == "request_supplement" else "special"
        conn.execute(s.clock_stops.insert().values(case_id=case_id, seq=len(stops) + 1, kind=kind,
                                                   started_on=today, ended_on=None, reason=comment))
        stops.append(clock.Stop(today, None))
        changes["clock_stopped"] = True
        if kind == "supplement":
            changes["supplement_count"] = case["supplement_count"] + 1
            payload["supplement_number"] = changes["supplement_count"]
    elif transition.clock == wf.CLOCK_RESTART:
        open_seq = len(stops)
        conn.execute(s.clock_stops.update().where(s.clock_stops.c.case_id == case_id,
                                                  s.clock_stops.c.seq == open_seq).values(ended_on=today))
        stops[-1] = clock.Stop(stops[-1].start, today)
        changes["clock_stopped"] = False
    elif transition.clock == wf.CLOCK_START_LIMIT:
        changes.setdefault("clock_start", today)  # rules.check may date it back (art. 32: deemed accepted)
        changes.update(accepted_at=at)
    elif transition.clock == wf.CLOCK_EXTEND:
        days = payload.get("days")
        joint = bool(item_version(conn, case["item_code"], case["item_version"]).co_dept_codes)
        limit = EXTENSION_MAX_JOINT if joint else EXTENSION_MAX_SINGLE
        if not isinstance(days, int) or days <= 0:
            raise CaseError("case.extension_days")
        if case["extension_days"] + days > limit:
            raise CaseError("case.extension_over_limit", limit=limit)
        changes["extension_days"] = case["extension_days"] + days
    elif transition.clock == wf.CLOCK_END:
        if action in ("approve", "refuse"):
            changes["decided_at"] = at
        if case["clock_stopped"]:
            conn.execute(s.clock_stops.update().where(s.clock_stops.c.case_id == case_id,
                                                      s.clock_stops.c.ended_on.is_(None)).values(ended_on=today))
            changes["clock_stopped"] = False

    if apply is not None:
        changes.update(apply(conn, case) or {})
    if action == "complete":
        changes.update(completed_at=at, result_no=f"JG-{case['case_no']}")
        payload["result_no"] = changes["result_no"]
        _issue_certificate(conn, case, changes["result_no"], at)
    if action == "transfer":
        target = payload.get("unit_id")
        unit = conn.execute(sa.select(s.org_units).where(s.org_units.c.unit_id == target)).fetchone() if target else None
        if unit is None or unit.unit_id == case["unit_id"]:
            raise CaseError("case.transfer_target")
        changes["unit_id"] = unit.unit_id
        changes["assigned_user_id"] = None
        if unit.dept_code:
            changes["dept_code"] = unit.dept_code
        if not case["region_code"].startswith(unit.region_code):
            changes["region_code"] = unit.region_code
    if new_state in wf.FINAL_STATES and new_state != case["state"]:
        changes["closed_at"] = at  # closed once; a later rating or complaint does not move it

    merged = {**case, **changes}
    changes.update(clock_fields(cal, merged, stops, today))
    docs = issuing.issue_for(conn, actor, case, {**case, **changes}, action, comment, payload, at)
    if docs:
        payload["documents"] = docs
    new_version = update_versioned(conn, s.cases, {"case_id": case_id}, expected_version, changes)
    record.append_event(conn, case_id=case_id, occurred_at=at, actor_user_id=actor.user_id,
                        actor_role=actor.role, actor_unit_id=actor.unit_id, action=action,
                        from_state=case["state"], to_state=new_state, comment=comment, payload=payload or None,
                        previous=last_event)
    return {**case, **changes, "version": new_version}


def _issue_certificate(conn: Connection, case: dict[str, Any], result_no: str, at: datetime) -> None:
    """An approved case's result enters the applicant's locker, where later applications can reuse it."""
    if case["state"] != wf.APPROVED or case["applicant_user_id"] is None:
        return
    item = item_version(conn, case["item_code"], case["item_version"])
    from app.files import add_to_locker

    add_to_locker(conn, owner_user_id=case["applicant_user_id"], kind="certificate",
                  name=item.result_name or item.name, source_case_id=case["case_id"], item_code=item.item_code,
                  certificate_no=result_no, issued_on=at.date(),
                  expires_on=issuing.years_later(at.date(), issuing.CERTIFICATE_YEARS))



class RowView:
    """Attribute access over a dict, for the permission checks that take rows."""

    def __init__(self, data: dict[str, Any]):
        self.__dict__.update(data)


# -- reading -------------------------------------------------------------------------------------------
def open_task_of(conn: Connection, actor: Actor, case_id: int) -> Any:
    """The actor's department's open parallel-approval task on a case, if any."""
    t = s.parallel_tasks.c
    rows = conn.execute(sa.select(s.parallel_tasks).where(t.case_id == case_id, t.state == "open",
                                                          t.dept_code == (actor.dept_code or NO_CODE))).fetchall()
    return next((r for r in rows if holds_task(actor, r)), None)


def get_case(db: Database, actor: Actor, case_id: int) -> dict[str, Any]:
    with db.read() as conn:
        row = conn.execute(sa.select(s.cases).where(s.cases.c.case_id == case_id)).fetchone()
        visible = row is not None and (can_view(actor, row) or _co_department_of(conn, actor, row))
    if not visible:
        # The same answer as for a missing case: no hint that the number exists.
        raise CaseError("case.not_found")
    return dict(row._mapping)


def _co_department_of(conn: Connection, actor: Actor, case: Any) -> bool:
    if actor.role not in (wf.OFFICER, wf.HEAD) or case.state == wf.DRAFT:
        return False
    t = s.parallel_tasks.c
    rows = conn.execute(sa.select(s.parallel_tasks).where(t.case_id == case.case_id,
                                                          t.dept_code == (actor.dept_code or NO_CODE))).fetchall()
    return any(holds_task(actor, r) for r in rows)


def case_events(db: Database, actor: Actor, case_id: int) -> list[dict[str, Any]]:
    get_case(db, actor, case_id)
    with db.read() as conn:
        rows = conn.execute(sa.select(s.case_events).where(s.case_events.c.case_id == case_id)
                            .order_by(s.case_events.c.seq)).fetchall()
    return [dict(r._mapping) for r in rows]


def count_by_state(db: Database, actor: Actor, states: Sequence[str] | None = None) -> dict[str, int]:
    """Cases in the actor's scope by state (only `states`, when given: the database then counts only those)."""
    q = sa.select(s.cases.c.state, sa.func.count()).where(case_scope(actor))
    if states:
        q = q.where(s.cases.c.state.in_(states))
    with db.read() as conn:
        rows = conn.execute(q.group_by(s.cases.c.state)).fetchall()
    return {r[0]: int(r[1]) for r in rows}


def list_cases(db: Database, actor: Actor, *, states: list[str] | None = None, limit: int = 200) -> list[dict[str, Any]]:
    q = sa.select(s.cases.c.case_id, s.cases.c.case_no, s.cases.c.item_code, s.cases.c.state,
                  s.cases.c.applicant_name, s.cases.c.submitted_at, s.cases.c.promised_due,
                  s.cases.c.warning_level, s.cases.c.version).where(case_scope(actor))
    if states:
        q = q.where(s.cases.c.state.in_(states))
    q = q.order_by(s.cases.c.case_id.desc()).limit(limit)
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]
