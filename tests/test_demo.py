"""The demo data generator: counts, legal workflow paths, intact hash chains, clock fields, accounts, the rules of
app/rules.py over every case (review steps, the accepting unit, notices, parallel tasks, documents, fees), work on
the demo officers' desks, and — the strongest check — sample cases replayed through app/cases.create_case and
perform (and app/fees.assess and reconcile, app/alarms.handle_followup) give the same rows: the case, its events
and their payloads, clock stops, rating, complaints, locker, parallel tasks, documents, payment notices,
reconciliation runs and the follow-up of a bad rating (with their audit entries)."""
from __future__ import annotations

import hashlib
import json
import re
from collections import Counter, defaultdict
from datetime import date, datetime, time

import pytest
import sqlalchemy as sa

from app import alarms, applications, auth, calendar_store, clock, fees, issuing, rules, supervision, timeutil, workbench
from app import cases as case_service
from app import schema as s
from app import workflow as wf
from app.db import Database
from app.record import verify_chain
from app.validators import validate_credit_code, validate_resident_id
from pipelines import demo

END = date(2026, 11, 26)
CASES = 3000
PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    db = Database(f"duckdb:///{tmp_path_factory.mktemp('demo') / 'demo.duckdb'}")
    lines = []
    counts = demo.generate(db, cases=CASES, years=2, seed=7, end=END, chunk=1000, progress=lines.append)
    yield db, counts, lines
    db.dispose()


@pytest.fixture(scope="module")
def tables(generated):
    db = generated[0]
    with db.read() as conn:
        cases = {r.case_id: r for r in conn.execute(sa.select(s.cases))}
        events = defaultdict(list)
        for r in conn.execute(sa.select(s.case_events).order_by(s.case_events.c.case_id, s.case_events.c.seq)):
            events[r.case_id].append(r)
        stops = defaultdict(list)
        for r in conn.execute(sa.select(s.clock_stops).order_by(s.clock_stops.c.case_id, s.clock_stops.c.seq)):
            stops[r.case_id].append(r)
        ratings = conn.execute(sa.select(s.ratings)).fetchall()
        complaints = conn.execute(sa.select(s.complaints)).fetchall()
        locker = conn.execute(sa.select(s.locker_items)).fetchall()
    return cases, events, stops, ratings, complaints, locker


@pytest.fixture(scope="module")
def followups(generated):
    """case_id -> the review_followups row, with the audit entry of its handling (or None)."""
    db = generated[0]
    with db.read() as conn:
        rows = {r.case_id: r for r in conn.execute(sa.select(s.review_followups))}
        audits = {json.loads(a.detail)["case_id"]: a for a in conn.execute(
            sa.select(s.audit_log).where(s.audit_log.c.action == "followup_handled"))}
    return {cid: (r, audits.get(cid)) for cid, r in rows.items()}


@pytest.fixture(scope="module")
def workbench_rows(generated):
    """The rows the officer workbench's moves leave beyond the case and its events (migration 0004)."""
    db = generated[0]
    with db.read() as conn:
        items = {r.item_code: r for r in conn.execute(sa.select(s.items).where(s.items.c.is_current))}
        tasks = defaultdict(list)
        for r in conn.execute(sa.select(s.parallel_tasks).order_by(s.parallel_tasks.c.task_id)):
            tasks[r.case_id].append(r)
        documents = {r.doc_no: r for r in conn.execute(sa.select(s.case_documents))}
        notices = {r.notice_no: r for r in conn.execute(sa.select(s.fee_notices))}
        runs = {r.sha256: r for r in conn.execute(sa.select(s.fee_reconciliations))}
        audits = conn.execute(sa.select(s.audit_log).where(s.audit_log.c.action == "fee_reconciliation")).fetchall()
        users = {r.user_id: r for r in conn.execute(sa.select(s.users).where(s.users.c.role != wf.APPLICANT))}
        units = {r.unit_id: r for r in conn.execute(sa.select(s.org_units))}
        materials = {(r.item_code, r.seq) for r in conn.execute(sa.select(s.item_materials.c.item_code,
                                                                          s.item_materials.c.seq))}
        standards = {r[0] for r in conn.execute(sa.select(s.fee_standards.c.item_code))}
    return {"items": items, "tasks": tasks, "documents": documents, "notices": notices, "runs": runs,
            "audits": audits, "users": users, "units": units, "materials": materials, "standards": standards}


def _fast_hash(monkeypatch):
    """bcrypt at its lowest cost, for the runs whose sign-in is not under test."""
    import bcrypt

    monkeypatch.setattr(demo, "hash_password",
                        lambda pw: bcrypt.hashpw(pw.encode(), bcrypt.gensalt(rounds=4)).decode())


def _replay_path(case, evs) -> list[str]:
    """Every problem with one case's events as a workflow path (empty: a legal path ending in case.state)."""
    problems = []
    first = evs[0]
    if (first.action, first.from_state, first.to_state) != ("create", None, wf.DRAFT):
        problems.append("does not start with create")
    state = wf.DRAFT
    for ev in evs[1:]:
        try:
            transition = wf.check_transition(ev.action, state, ev.actor_role, ev.comment)
        except wf.WorkflowError as exc:
            problems.append(f"seq {ev.seq}: {exc}")
            break
        if ev.from_state != state or ev.to_state != wf.target_state(transition, state):
            problems.append(f"seq {ev.seq}: from/to {ev.from_state}->{ev.to_state} after {state}")
        state = ev.to_state
    if state != case.state:
        problems.append(f"ends in {state}, case says {case.state}")
    if case.version != len(evs):
        problems.append(f"version {case.version} != {len(evs)} events")
    return problems


# -- counts and shape ------------------------------------------------------------------------------------------
def test_counts_match_the_database(generated):
    db, counts, lines = generated
    assert counts["cases"] == CASES
    with db.read() as conn:
        for key, table in (("cases", "cases"), ("events", "case_events"), ("clock_stops", "clock_stops"),
                           ("ratings", "ratings"), ("complaints", "complaints"), ("locker_items", "locker_items")):
            assert conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar() == counts[key], key
        users = conn.execute(sa.text("SELECT COUNT(*) FROM users")).scalar()
    assert users == counts["users"]
    assert counts["events"] > 5 * CASES and counts["ratings"] > CASES // 2 and counts["complaints"] > 0
    with db.read() as conn:
        for key, table in (("parallel_tasks", "parallel_tasks"), ("documents", "case_documents"),
                           ("fee_notices", "fee_notices"), ("reconciliations", "fee_reconciliations")):
            assert conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar() == counts[key] > 0, key
        assert conn.execute(sa.text("SELECT COUNT(*) FROM review_followups")).scalar() == counts["followups"] > 0
    assert [p["chunk"] for p in lines] == [1, 2, 3] and lines[-1]["cases"] == CASES


def test_every_path_is_legal_and_ends_in_the_case_state(tables):
    cases, events, *_ = tables
    assert set(events) == set(cases)
    problems = {cid: p for cid, case in cases.items() if (p := _replay_path(case, events[cid]))}
    assert problems == {}


def test_hash_chains_verify(tables):
    cases, events, *_ = tables
    broken = {cid: verify_chain(evs) for cid, evs in events.items() if verify_chain(evs)}
    assert broken == {}


def test_case_numbers_unique_and_formatted(tables):
    cases, events, *_ = tables
    numbers = [c.case_no for c in cases.values()]
    assert len(set(numbers)) == len(numbers)
    for c in cases.values():
        assert re.fullmatch(r"420700-\d{8}-\d{6,}", c.case_no)
        assert c.case_no[7:15] == c.created_at.strftime("%Y%m%d")
        assert c.result_no in (None, f"JG-{c.case_no}")
        assert (c.result_no is not None) == (c.completed_at is not None)
    # serials grow with creation time
    ordered = sorted(cases.values(), key=lambda c: int(c.case_no.rsplit("-", 1)[1]))
    assert all(a.created_at <= b.created_at for a, b in zip(ordered, ordered[1:]))


def test_every_state_occurs(tables):
    states = Counter(c.state for c in tables[0].values())
    assert set(wf.STATES) <= set(states), set(wf.STATES) - set(states)


def test_shares_are_believable(tables):
    cases, events, stops, ratings, complaints, locker = tables
    n = len(cases)
    with_action = lambda a: sum(any(e.action == a for e in evs) for evs in events.values()) / n  # noqa: E731
    assert 0.11 < sum(c.supplement_count > 0 for c in cases.values()) / n < 0.19
    assert any(c.supplement_count > 1 for c in cases.values())
    assert 0.015 < with_action("refuse_intake") < 0.05
    assert 0.015 < with_action("suspend") < 0.05
    assert 0.008 < with_action("extend") < 0.04
    assert 0.025 < with_action("refuse") < 0.06
    assert 0.01 < with_action("withdraw") < 0.04
    assert with_action("transfer") > 0
    online = [c.channel == "online" for c in cases.values()]
    assert 0.55 < sum(online) / n < 0.8
    assert len({c.item_code for c in cases.values()}) > 120
    assert len({c.region_code[:6] for c in cases.values()}) == 3
    completed = [c for c in cases.values() if c.state == wf.COMPLETED]
    late = [c for c in completed if c.decided_at.date() > c.promised_due]
    assert 0.02 < len(late) / len(completed) < 0.09, "overdue completed cases"
    open_levels = Counter(c.warning_level for c in cases.values() if c.state in wf.OPEN_STATES)
    assert open_levels["yellow"] > 0 and open_levels["red"] > 0 and open_levels["green"] > 0


def test_times_fall_on_working_days_in_office_hours(generated, tables):
    cal = calendar_store.load_calendar(generated[0])
    cases, events, stops, ratings, complaints, locker = tables
    stamps = [e.occurred_at for evs in events.values() for e in evs] + [r.rated_at for r in ratings]
    stamps += [c.created_at for c in complaints] + [c.answered_at for c in complaints if c.answered_at]
    for ts in stamps:
        assert cal.is_working_day(ts.date()), ts
        assert time(8, 30) <= ts.time() < time(12) or time(14) <= ts.time() < time(17, 30), ts
        assert ts.date() <= END
    for evs in events.values():
        assert all(a.occurred_at <= b.occurred_at for a, b in zip(evs, evs[1:]))


def test_ratings_only_on_completed_cases_each_with_its_event(tables):
    cases, events, stops, ratings, complaints, locker = tables
    assert len({r.case_id for r in ratings}) == len(ratings)
    rate_events = {cid: [e for e in evs if e.action == "rate"] for cid, evs in events.items()}
    assert sum(len(v) for v in rate_events.values()) == len(ratings)
    for r in ratings:
        (ev,) = rate_events[r.case_id]
        assert (ev.payload, ev.occurred_at, ev.actor_user_id, ev.comment) == ({"level": r.level}, r.rated_at,
                                                                             r.user_id, None)
    completed = sum(c.state == wf.COMPLETED for c in cases.values())
    assert 0.6 < len(ratings) / completed < 0.8
    for r in ratings:
        case = cases[r.case_id]
        assert case.state == wf.COMPLETED and r.rated_at >= case.completed_at
        assert r.user_id == case.applicant_user_id and 1 <= r.level <= 5
    levels = Counter(r.level for r in ratings)
    assert levels[5] > levels[4] > levels[3] and 0.01 < (levels[1] + levels[2]) / len(ratings) < 0.06
    assert all(r.comment for r in ratings if r.level <= 2)


def test_complaints_each_with_its_event(generated, tables):
    cal = calendar_store.load_calendar(generated[0])
    cases, events, stops, ratings, complaints, locker = tables
    complain_events = sorted((e.case_id, e.occurred_at, e.comment) for evs in events.values() for e in evs
                             if e.action == "complain")
    assert complain_events == sorted((c.case_id, c.created_at, c.content) for c in complaints)
    for c in complaints:
        case = cases[c.case_id]
        assert c.user_id == case.applicant_user_id and c.created_at >= case.submitted_at
        assert c.due_on == cal.add_working_days(c.created_at.date(), applications.complaint_days())
        assert (c.answer is None) == (c.answered_at is None)
    assert any(c.answered_at is None for c in complaints)
    assert any(c.answered_at and c.answered_at.date() > c.due_on for c in complaints)


def test_every_bad_rating_has_its_follow_up_and_the_backfill_finds_nothing(generated, tables, followups, workbench_rows):
    """As app/alarms opens (with the rating) and handles them: due followup_days() working days after the rating, most
    handled within it, the last weeks' still open; so the job's backfill opens none and bad_review_late lists only
    the very few left open past their limit."""
    db = generated[0]
    cal = calendar_store.load_calendar(db)
    cases, events, stops, ratings, complaints, locker = tables
    bad = {r.case_id: r for r in ratings if r.level in alarms.BAD_LEVELS}
    assert bad and set(followups) == set(bad)
    users, units = workbench_rows["users"], workbench_rows["units"]
    outcomes = Counter()
    for cid, (f, audit_entry) in followups.items():
        case, rating = cases[cid], bad[cid]
        assert (f.dept_code, f.unit_id, f.region_code, f.level, f.opened_at) == (
            case.dept_code, case.accepted_unit_id or case.unit_id, case.region_code, rating.level, rating.rated_at)
        assert f.due_on == clock.due_date(cal, rating.rated_at.date(), alarms.followup_days(), clock.WORKING)
        if f.state == "open":
            assert (f.verification, f.rectification, f.answer, f.handled_at, f.handled_by, f.published,
                    audit_entry) == (None, None, None, None, None, False, None)
            outcomes["open, not yet due" if f.due_on >= END else "open, overdue"] += 1
            continue
        assert f.state == "handled" and all(len(x) >= 2 for x in (f.verification, f.rectification, f.answer))
        assert f.opened_at < f.handled_at and f.handled_at.date() <= END
        assert cal.is_working_day(f.handled_at.date())
        assert time(8, 30) <= f.handled_at.time() < time(12) or time(14) <= f.handled_at.time() < time(17, 30)
        handler = users[f.handled_by]   # one who may handle it (alarms.handle_followup's check)
        unit = units[handler.unit_id]
        assert handler.role in (wf.OFFICER, wf.HEAD) and unit.dept_code == f.dept_code
        assert f.region_code.startswith(unit.region_code)
        assert (audit_entry.occurred_at, audit_entry.user_id, audit_entry.username, json.loads(audit_entry.detail)) \
            == (f.handled_at, f.handled_by, handler.username, {"case_id": cid, "published": f.published})
        outcomes["in time" if f.handled_at.date() <= f.due_on else "late"] += 1
    assert outcomes["in time"] / len(followups) > 0.85 and outcomes["open, not yet due"] > 0, outcomes
    assert any(f.published for f, _ in followups.values()) and not all(f.published for f, _ in followups.values())
    assert alarms.open_followups_for_bad_reviews(db, datetime.combine(END, time(17, 30))) == 0
    with db.read() as conn:
        late = {x.case_id for x in alarms.current_subjects(conn, END) if x.rule == "bad_review_late"}
    assert late == {cid for cid, (f, _) in followups.items() if f.state == "open" and f.due_on < END}
    assert len(late) <= 0.05 * len(followups)


def test_certificates_of_approved_cases_are_in_the_applicants_lockers(tables):
    cases, events, stops, ratings, complaints, locker = tables
    approved = {cid for cid, evs in events.items()
                if any(e.action == "complete" and e.from_state == wf.APPROVED for e in evs)}
    assert {x.source_case_id for x in locker} == approved and len(locker) == len(approved)
    for x in locker:
        case = cases[x.source_case_id]
        assert (x.kind, x.owner_user_id, x.item_code, x.certificate_no, x.issued_on) == (
            "certificate", case.applicant_user_id, case.item_code, case.result_no, case.completed_at.date())
        assert x.expires_on.year == x.issued_on.year + issuing.CERTIFICATE_YEARS


def test_open_cases_clock_fields_as_of_the_end(generated, tables):
    cal = calendar_store.load_calendar(generated[0])
    cases, events, stops, *_ = tables
    checked = 0
    for cid, case in cases.items():
        if case.state not in wf.OPEN_STATES:
            assert case.warning_level is None
            continue
        got = case_service.clock_fields(cal, dict(case._mapping), [clock.Stop(x.started_on, x.ended_on)
                                                                  for x in stops[cid]], END)
        assert case.warning_level == got["warning_level"], case.case_no
        if "promised_due" in got:
            assert (case.promised_due, case.statutory_due) == (got["promised_due"], got["statutory_due"])
        checked += 1
    assert checked > 20
    # and the app's own recomputation job, run as of the end date, finds nothing to change
    assert supervision.recompute_warning_levels(generated[0], END)["changed"] == 0


def test_clock_stops_follow_the_events(tables):
    cases, events, stops, *_ = tables
    for cid, evs in events.items():
        stopping = [e for e in evs if e.action in ("request_supplement", "suspend")]
        assert [x.kind for x in stops[cid]] == ["supplement" if e.action == "request_supplement" else "special"
                                                 for e in stopping]
        assert [x.started_on for x in stops[cid]] == [e.occurred_at.date() for e in stopping]
        assert [x.reason for x in stops[cid]] == [e.comment for e in stopping]
        assert cases[cid].clock_stopped == any(x.ended_on is None for x in stops[cid])
        assert cases[cid].supplement_count == sum(x.kind == "supplement" for x in stops[cid])


def test_handling_unit_agrees_with_the_app(generated):
    db = generated[0]
    with db.read() as conn:
        items = conn.execute(sa.select(s.items).where(s.items.c.is_current)).fetchall()
        units = {r[0]: r for r in conn.execute(sa.select(s.org_units.c.unit_id))}
        regions = [r[0] for r in conn.execute(sa.select(s.regions.c.code).where(s.regions.c.level >= 4)
                                               .order_by(s.regions.c.code))]
        sample = regions[::80] + ["420704001", "420703400", "420702100"]
        for item in items:
            for region in sample:
                assert demo.handling_unit(units, item.handling_levels, item.dept_code, region) == \
                    case_service.handling_unit(conn, item, region), (item.item_code, region)


def test_co_unit_agrees_with_the_app(generated):
    db = generated[0]
    with db.read() as conn:
        units = {r.unit_id: (r.kind, r.dept_code, r.region_code, r.name) for r in conn.execute(sa.select(s.org_units))}
        depts = [r[0] for r in conn.execute(sa.select(s.departments.c.dept_code))]
        for unit in list(units)[::7] + ["U-4207-SCJG", "U-420704-SCJG", "U-420704001-BMFW", "U-nowhere"]:
            for dept in depts:
                app_unit = rules.co_unit(conn, unit, dept)
                assert demo.co_unit(units, unit, dept) == (app_unit.unit_id if app_unit else None), (unit, dept)


# -- the rules of app/rules.py, over every generated case ---------------------------------------------------------
def test_decisions_follow_the_review_steps_and_the_accepting_unit(tables, workbench_rows):
    cases, events, *_ = tables
    items, users = workbench_rows["items"], workbench_rows["users"]
    seen = Counter()
    for cid, evs in events.items():
        case = cases[cid]
        steps = rules.review_steps(items[case.item_code])
        accepted_unit, done = None, []
        for e in evs:
            if e.action == "accept":
                accepted_unit = case.unit_id if e.actor_role == wf.WINDOW_CLERK else e.actor_unit_id
                done = []
                assert e.actor_role == wf.WINDOW_CLERK or users[e.actor_user_id].unit_id == e.actor_unit_id
            elif e.action == "review_opinion":
                expected = next((st for st in steps if st not in done), steps[-1])
                assert (e.payload["step"], e.comment.strip() != "") == (expected, True), case.case_no
                assert e.payload["verdict"] in rules.VERDICTS
                done.append(expected)
            elif e.action in ("approve", "refuse"):
                assert set(done) == set(steps), case.case_no
                seen[(e.action, len(steps))] += 1
            if e.action in rules.DECIDING_ACTIONS and e.actor_role in (wf.OFFICER, wf.HEAD):
                assert e.actor_unit_id == accepted_unit, (case.case_no, e.action)
        assert case.accepted_unit_id == accepted_unit, case.case_no
        # only department units decide: a case accepted in the name of a unit without officers is stuck
        assert accepted_unit is None or workbench_rows["units"][accepted_unit].kind == "department", case.case_no
    assert {k for k, _ in seen} == {"approve", "refuse"} and {n for _, n in seen} == {1, 2}


def test_claims_give_the_case_its_holder(tables):
    cases, events, *_ = tables
    for cid, evs in events.items():
        holder = None
        for e in evs:
            if e.action == "claim":
                assert holder is None and e.actor_role in (wf.OFFICER, wf.HEAD)
                holder = e.actor_user_id
            elif e.action == "transfer":
                holder = None
        assert cases[cid].assigned_user_id == holder, cases[cid].case_no
    assert sum(c.assigned_user_id is not None for c in cases.values()) > CASES // 10


def test_supplement_notices_list_materials_and_flag_breaches(generated, tables, workbench_rows):
    cal = calendar_store.load_calendar(generated[0])
    cases, events, stops, *_ = tables
    flags = Counter()
    for cid, evs in events.items():
        case = cases[cid]
        notices = 0
        for k, e in enumerate(evs):
            if e.action == "accept" and e.payload.get("deemed_accepted_on"):
                # art. 32: more than 5 working days after receipt without a notice: accepted on receipt
                flags["deemed"] += 1
                assert case.supplement_count == 0
                assert e.payload["deemed_accepted_on"] == case.submitted_at.date().isoformat() == \
                    case.clock_start.isoformat()
                assert clock.days_used(cal, case.clock_start, e.occurred_at.date()) > rules.INTAKE_LIMIT_DAYS
            if e.action != "request_supplement":
                continue
            notices += 1
            p = e.payload
            assert p["materials"] == sorted(set(p["materials"])) and p["materials"], case.case_no
            assert all((case.item_code, m) in workbench_rows["materials"] for m in p["materials"])
            assert (p["notes"], p["supplement_number"], p.get("repeat_notice", False)) == ({}, notices, notices > 1)
            earlier = [clock.Stop(x.started_on, x.ended_on) for x in stops[cid][:notices - 1]]
            late = rules.intake_days_used(cal, {"clock_start": case.submitted_at.date()}, earlier,
                                          e.occurred_at.date()) > rules.INTAKE_LIMIT_DAYS
            assert p.get("late_notice", False) == late, case.case_no
            flags["late"] += late
            answer = next((x for x in evs[k + 1:] if x.action in ("supplement", "withdraw")), None)
            assert answer is None or answer.action == "withdraw" or answer.payload["materials"] == p["materials"]
    assert flags["deemed"] > 0 and flags["late"] > 0


def test_parallel_tasks_follow_the_events(generated, tables, workbench_rows):
    cases, events, *_ = tables
    tasks, users, items = workbench_rows["tasks"], workbench_rows["users"], workbench_rows["items"]
    assert set(tasks) <= set(cases)
    states = Counter()
    for cid, evs in events.items():
        case, mine = cases[cid], tasks.get(cid, [])
        opened = [t for e in evs if e.action == "accept" for t in e.payload.get("parallel_tasks", [])]
        assert [(t.dept_code, t.unit_id, t.due_on.isoformat()) for t in mine] == \
            [(t["dept_code"], t["unit_id"], t["due_on"]) for t in opened], case.case_no
        assert bool(mine) == (bool(items[case.item_code].co_dept_codes) and case.accepted_at is not None)
        by_id = {t.task_id: t for t in mine}
        answers = {e.payload["task_id"]: e for e in evs if e.action == "co_opinion"}
        decided = any(e.action in ("approve", "refuse") for e in evs)
        for t in mine:
            accept = next(e for e in evs if e.action == "accept")
            assert (t.opened_at, t.region_code) == (accept.occurred_at, workbench_rows["units"][t.unit_id].region_code)
            with generated[0].read() as conn:
                assert t.unit_id == rules.co_unit(conn, case.accepted_unit_id, t.dept_code).unit_id, case.case_no
            states[t.state] += 1
            if t.state == "open":
                assert t.task_id not in answers and not decided, case.case_no
                continue
            if t.state == "cancelled":   # the case was withdrawn or transferred before the opinion came
                assert t.task_id not in answers and any(e.action in ("withdraw", "transfer") for e in evs)
                continue
            e = answers[t.task_id]
            assert t.state == "answered" and (t.verdict, t.opinion, t.answered_at, t.answered_by) == (
                e.payload["verdict"], e.comment, e.occurred_at, e.actor_user_id), case.case_no
            assert e.payload == {"task_id": t.task_id, "dept_code": t.dept_code, "verdict": t.verdict,
                                 "late": e.occurred_at.date() > t.due_on}
            assert users[e.actor_user_id].unit_id == t.unit_id and e.actor_role == wf.OFFICER
        assert set(answers) <= set(by_id)
    assert states["answered"] > 0 and states["open"] > 0


def test_documents_follow_the_events(tables, workbench_rows):
    cases, events, *_ = tables
    items, documents = workbench_rows["items"], workbench_rows["documents"]
    kinds = {"accept": ["acceptance"], "request_supplement": ["supplement"], "refuse_intake": ["refuse_intake"],
             "assess_fee": ["payment"]}
    referenced = set()
    for cid, evs in events.items():
        case = cases[cid]
        for e in evs:
            listed = (e.payload or {}).get("documents", [])
            if e.action == "complete":
                permit = e.from_state == wf.APPROVED and items[case.item_code].kind == "行政许可"
                expected = ["approval" if e.from_state == wf.APPROVED else "refusal"] + (["certificate"] if permit
                                                                                          else [])
                if permit:
                    assert listed[1] == case.result_no
            else:
                expected = kinds.get(e.action, [])
            assert [documents[d].kind for d in listed] == expected, (case.case_no, e.action)
            for d in listed:
                doc = documents[d]
                assert (doc.case_id, doc.issued_at, doc.issued_by, doc.revoked) == (cid, e.occurred_at,
                                                                                    e.actor_user_id, False)
                assert (doc.facts["doc_no"], doc.facts["case_no"], doc.facts["kind"]) == (d, case.case_no, doc.kind)
                assert doc.facts["issued_on"] == e.occurred_at.date().isoformat()
                referenced.add(d)
    assert referenced == set(documents)
    assert {d.kind for d in documents.values()} == {"acceptance", "supplement", "refuse_intake", "approval",
                                                     "refusal", "certificate", "payment"}


def test_fees_are_assessed_and_paid_before_the_result(tables, workbench_rows):
    cases, events, *_ = tables
    items, notices, runs, audits = (workbench_rows[k] for k in ("items", "notices", "runs", "audits"))
    charged = {code for code, it in items.items() if it.charges_fee} & workbench_rows["standards"]
    paid_cases = 0
    for cid, evs in events.items():
        case = cases[cid]
        actions = [e.action for e in evs]
        mine = [e.payload["notice_no"] for e in evs if e.action == "assess_fee"]
        assert sorted(mine) == sorted(n for n, x in notices.items() if x.case_id == cid)
        if case.item_code in charged and "complete" in actions and evs[actions.index("complete")].from_state \
                == wf.APPROVED:
            k = actions.index("complete")
            assert actions.index("assess_fee") < actions.index("record_payment") < k, case.case_no
            paid_cases += 1
        if not mine:
            continue
        assert items[case.item_code].charges_fee
        (assess,) = [e for e in evs if e.action == "assess_fee"]
        notice = notices[assess.payload["notice_no"]]
        assert re.fullmatch(r"JK-\d{4}-\d{6,}", notice.notice_no) and notice.notice_no[3:7] == str(
            assess.occurred_at.year)
        assert ([{k: v for k, v in line.items() if k != "fee_code"} for line in notice.lines], notice.amount_fen,
                notice.issued_at, notice.issued_by, notice.due_on.isoformat()) == (
            assess.payload["lines"], assess.payload["amount_fen"], assess.occurred_at, assess.actor_user_id,
            assess.payload["due_on"])
        pays = [e for e in evs if e.action == "record_payment"]
        if notice.state == "unpaid":
            assert not pays and case.state == wf.APPROVED, case.case_no
            continue
        (pay,) = pays
        assert (notice.state, notice.paid_amount_fen, notice.receipt_no, str(notice.paid_at)) == (
            "paid", notice.amount_fen, pay.payload["receipt_no"], pay.payload["paid_at"])
        assert assess.occurred_at <= notice.paid_at <= pay.occurred_at
        run = runs[pay.payload["file_sha256"]]
        data = demo.reconciliation_file(notice.notice_no, pay.payload["amount"], pay.payload["paid_at"],
                                        notice.receipt_no)
        assert hashlib.sha256(data).hexdigest() == run.sha256
        assert [(r["line"], r["notice_no"], r["amount_fen"], r["receipt_no"], r.get("problem"))
                for r in fees.parse_reconciliation(data)] == [(2, notice.notice_no, notice.amount_fen,
                                                               notice.receipt_no, None)]
        assert (run.uploaded_at, run.uploaded_by, run.rows_total, run.rows_paid) == (pay.occurred_at,
                                                                                     pay.actor_user_id, 1, 1)
        assert run.report["paid"][0]["case_no"] == case.case_no
    assert paid_cases > 0 and len(audits) == len(runs) == sum(n.state == "paid" for n in notices.values())


def test_the_sequences_are_past_everything_generated(generated):
    db = generated[0]
    with db.read() as conn:
        def top(sql):
            return conn.execute(sa.text(sql)).scalar() or 0
        tops = {"task_id_seq": top("SELECT MAX(task_id) FROM parallel_tasks"),
                "fee_notice_seq": top("SELECT MAX(CAST(split_part(notice_no, '-', 3) AS BIGINT)) FROM fee_notices"),
                "reconciliation_id_seq": top("SELECT MAX(reconciliation_id) FROM fee_reconciliations"),
                "case_id_seq": top("SELECT MAX(case_id) FROM cases"),
                "event_id_seq": top("SELECT MAX(event_id) FROM case_events"),
                "locker_id_seq": top("SELECT MAX(locker_id) FROM locker_items")}
    for seq, highest in tops.items():
        assert highest > 0
        assert db.write(lambda conn, seq=seq: conn.execute(sa.text(f"SELECT nextval('{seq}')")).scalar()) > highest


def test_the_demo_officers_have_work_on_their_desks(generated):
    """scjg_officer / scjg_head find cases their unit accepted in their queue and can move them; the officers of
    co-departments find their open parallel tasks."""
    db = generated[0]
    with db.read() as conn:
        ids = {r.username: r.user_id for r in conn.execute(sa.select(s.users.c.username, s.users.c.user_id))}
        open_tasks = conn.execute(sa.select(s.parallel_tasks).join(s.cases, s.cases.c.case_id ==
                                                                   s.parallel_tasks.c.case_id)
                                  .where(s.parallel_tasks.c.state == "open",
                                         s.cases.c.state.in_(workbench.QUEUE_STATES))).fetchall()
        officers = {r.unit_id: r.user_id for r in conn.execute(sa.select(s.users.c.unit_id, s.users.c.user_id)
                                                               .where(s.users.c.role == wf.OFFICER))}
    can = Counter()
    for username in ("scjg_officer", "scjg_head", "ec_scjg_officer"):
        actor = auth.actor_for(db, ids[username])
        rows, _ = workbench.queue(db, actor, page_size=500)
        for case_id in rows["case_id"].to_list():
            case = case_service.get_case(db, actor, case_id)
            if case["accepted_unit_id"] == actor.unit_id or case["state"] == wf.SUBMITTED:
                can.update(f"{username} {a}" for a in workbench.actions_for(db, actor, case)[0])
    assert {"scjg_head approve", "scjg_head refuse", "scjg_officer accept", "scjg_officer review_opinion",
            "scjg_officer complete", "ec_scjg_officer review_opinion", "ec_scjg_officer complete"} <= set(can), can
    assert open_tasks
    for task in open_tasks:
        actor = auth.actor_for(db, officers[task.unit_id])
        case = case_service.get_case(db, actor, task.case_id)
        assert workbench.actions_for(db, actor, case)[0] == ["co_opinion"]


# -- accounts ----------------------------------------------------------------------------------------------------
def test_demo_accounts_sign_in_and_generated_applicants_cannot(generated, tables):
    db = generated[0]
    assert auth.password_problem(demo.DEMO_PASSWORD) is None
    assert {a.role for a in demo.DEMO_ACCOUNTS} == set(wf.ROLES)
    for username in ("zhangsan", "scjg_head"):
        result = auth.sign_in(db, username, demo.DEMO_PASSWORD)
        assert result.ok and result.user["username"] == username
    with db.read() as conn:
        pool_user = conn.execute(sa.select(s.users).where(s.users.c.password_hash == demo.NO_LOGIN_HASH)
                                 .limit(1)).fetchone()
        demo_rows = conn.execute(sa.select(s.users).where(
            s.users.c.username.in_([a.username for a in demo.DEMO_ACCOUNTS]))).fetchall()
    assert not auth.sign_in(db, pool_user.username, demo.DEMO_PASSWORD).ok
    assert len(demo_rows) == len(demo.DEMO_ACCOUNTS) and all(r.password_hash.startswith("$2") for r in demo_rows)
    # The demo applicants have cases of their own.
    owners = Counter(c.applicant_user_id for c in tables[0].values())
    assert all(owners[r.user_id] >= 5 for r in demo_rows if r.role == wf.APPLICANT)


def test_every_unit_has_its_staff_and_every_identifier_is_valid(generated, tables):
    db = generated[0]
    with db.read() as conn:
        users = conn.execute(sa.select(s.users)).fetchall()
        dept_units = [r[0] for r in conn.execute(
            sa.select(s.org_units.c.unit_id).where(s.org_units.c.kind == "department"))]
        window_units = [r[0] for r in conn.execute(sa.select(s.service_windows.c.unit_id))]
    have = {(u.role, u.unit_id) for u in users}
    assert all((wf.OFFICER, u) in have and (wf.HEAD, u) in have for u in dept_units)
    assert all((wf.WINDOW_CLERK, u) in have for u in window_units)
    assert len({u.username for u in users}) == len(users)
    for u in users:
        if u.role == wf.APPLICANT:
            check = validate_resident_id if u.id_kind == "resident_id" else validate_credit_code
            assert check(u.id_number) is None, u.id_number
    applicants = [u for u in users if u.role == wf.APPLICANT]
    assert len({u.id_number for u in applicants}) == len(applicants)
    if "region_code" in users[0]._mapping:  # migration 0003: an applicant's home village
        assert all(u.region_code and len(u.region_code) == 12 and u.region_code.startswith("4207")
                   for u in applicants), "applicants without a home village"
    assert {u.id_kind for u in applicants} == {"resident_id", "credit_code"}
    by_id = {u.user_id: u for u in users}
    for case in tables[0].values():
        owner = by_id[case.applicant_user_id]
        assert (owner.display_name, owner.id_kind, owner.id_number) == \
            (case.applicant_name, case.applicant_id_kind, case.applicant_id_number)


# -- through the services ----------------------------------------------------------------------------------------
_COMPARED = ("item_code", "item_version", "dept_code", "unit_id", "region_code", "window_id", "channel",
             "applicant_user_id", "applicant_name", "applicant_id_kind", "applicant_id_number", "agent_user_id",
             "state", "form_data", "promised_days", "statutory_limit", "statutory_unit", "extension_days",
             "clock_start", "promised_due", "statutory_due", "clock_stopped", "supplement_count", "created_at",
             "submitted_at", "accepted_at", "decided_at", "completed_at", "closed_at", "version", "updated_at",
             "accepted_unit_id", "assigned_user_id")
# What an officer chooses on a move's form (the services fill in the rest of the payload).
_CHOSEN = ("days", "unit_id", "materials", "verdict")


def _replay_through_services(db: Database, case, evs, rating_comment: str | None) -> tuple[int, dict[str, str]]:
    """Make the same case with app/cases.create_case and perform (fees through app/fees: assess, and reconcile
    of the same reconciliation file), by the same actors at the same times. Returns the new case id and the
    payment notice numbers the replay drew for the generated ones."""
    first = evs[0]
    applicant = case_service.Applicant(case.applicant_name, case.applicant_id_kind, case.applicant_id_number,
                                       case.applicant_user_id)
    window = case.channel == "window"
    made = case_service.create_case(db, auth.actor_for(db, first.actor_user_id), item_code=case.item_code,
                                    applicant=applicant, region_code=case.region_code, channel=case.channel,
                                    window_id=case.window_id, submit=window, at=first.occurred_at)
    version = made["version"]
    notices: dict[str, str] = {}
    try:
        for ev in evs[2 if window else 1:]:
            actor = auth.actor_for(db, ev.actor_user_id)
            timeutil.freeze(ev.occurred_at)  # what the services stamp with now(): ratings, complaints, lockers
            if ev.action == "rate":
                got = applications.rate(db, actor, made["case_id"], expected_version=version,
                                        level=ev.payload["level"], comment=rating_comment)
            elif ev.action == "complain":
                got = applications.complain(db, actor, made["case_id"], expected_version=version, content=ev.comment)
            elif ev.action == "assess_fee":
                codes = {r["name"]: r["fee_code"] for r in fees.standards_for(db, case.item_code)}
                notice = fees.assess(db, actor, made["case_id"], expected_version=version, at=ev.occurred_at,
                                     quantities={codes[line["name"]]: line["quantity"] for line in ev.payload["lines"]})
                notices[ev.payload["notice_no"]] = notice["notice_no"]
                got = case_service.get_case(db, actor, made["case_id"])
            elif ev.action == "record_payment":
                p = ev.payload
                mine = notices[p["notice_no"]]
                data = demo.reconciliation_file(mine, p["amount"], p["paid_at"], p["receipt_no"])
                name = demo.reconciliation_file_name(mine, ev.occurred_at.strftime("%Y%m%d"))
                report = fees.reconcile(db, actor, name, data)
                assert len(report.paid) == 1, report.refused
                got = case_service.get_case(db, actor, made["case_id"])
            else:
                payload = {k: v for k, v in (ev.payload or {}).items() if k in _CHOSEN}
                got = case_service.perform(db, actor, made["case_id"], ev.action, expected_version=version,
                                           comment=ev.comment, payload=payload or None, at=ev.occurred_at)
            version = got["version"]
    finally:
        timeutil.freeze(None)
    return made["case_id"], notices


def _renumbered(value, names: dict[str, str], ids: dict[int, int]):
    """`value` with every string's replayed numbers (case, payment notice) put back to the generated ones, and
    replayed task ids mapped back, through lists and dicts."""
    if isinstance(value, str):
        for mine, theirs in names.items():
            value = value.replace(mine, theirs)
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_renumbered(v, names, ids) for v in value)
    if isinstance(value, dict):
        return {k: (ids.get(v, v) if k == "task_id" else _renumbered(v, names, ids)) for k, v in value.items()}
    return value


def _file_hashes_checked(payload, case_no: str | None = None):
    """A record_payment payload with its file hash checked against the reconciliation file it names (then
    blanked: the replay's file names the replay's notice)."""
    if not payload or "file_sha256" not in payload:
        return payload
    data = demo.reconciliation_file(payload["notice_no"], payload["amount"], payload["paid_at"], payload["receipt_no"])
    assert payload["file_sha256"] == hashlib.sha256(data).hexdigest(), case_no
    return {**payload, "file_sha256": "checked"}


def test_sample_cases_replayed_through_the_services_give_the_same_record(generated, tables, followups):
    db = generated[0]
    cases, events, stops, ratings, complaints, locker = tables
    ratings = {r.case_id: r for r in ratings}
    locker = {x.source_case_id: x for x in locker}
    max_id = max(cases)
    sample: dict[int, None] = {}
    by_action = defaultdict(list)
    for cid, evs in sorted(events.items()):
        for action in {e.action for e in evs}:
            by_action[action].append(cid)
        if cases[cid].supplement_count > 1:
            by_action["second notice"].append(cid)
        for e in evs:  # and every flag the rules put in a payload, every kind of document
            for key in ("deemed_accepted_on", "late_notice", "parallel_tasks", "overridden_tasks"):
                if key in (e.payload or {}):
                    by_action[key].append(cid)
            if e.action == "accept" and "parallel_tasks" in e.payload:  # co-departments at every level
                by_action[f"tasks {len(e.actor_unit_id or '')} {cases[cid].unit_id == e.actor_unit_id}"].append(cid)
            if e.action in ("co_opinion", "review_opinion"):
                by_action[f"{e.action} {e.payload['verdict']}"].append(cid)
            if e.action == "co_opinion" and e.payload["late"]:
                by_action["late co_opinion"].append(cid)
            if e.action == "complete":
                by_action[f"complete {e.from_state} {len(e.payload['documents'])}"].append(cid)
            if e.action == "record_payment" and e.actor_role == wf.HEAD:
                by_action["payment by a head"].append(cid)
    for cid, (f, _) in sorted(followups.items()):  # a bad rating's follow-up: open, handled (published or not)
        by_action[f"followup {f.state} {f.published}"].append(cid)
    assert {"followup open False", "followup handled True", "followup handled False"} <= set(by_action)
    for _action, ids in sorted(by_action.items()):  # every action at least once
        sample[ids[0]] = None
    by_state = defaultdict(list)
    for cid, case in cases.items():
        by_state[case.state].append(cid)
    for ids in by_state.values():
        sample[ids[-1]] = None
    assert len(sample) >= 15

    for cid in sample:
        case, evs = cases[cid], events[cid]
        rating = ratings.get(cid)
        new_id, notices = _replay_through_services(db, case, evs, rating.comment if rating else None)
        assert new_id > max_id  # the app's sequences are past everything generated
        with db.read() as conn:
            again = conn.execute(sa.select(s.cases).where(s.cases.c.case_id == new_id)).fetchone()
            again_rating = conn.execute(sa.select(s.ratings).where(s.ratings.c.case_id == new_id)).fetchone()
            again_complaints = conn.execute(sa.select(s.complaints.c.created_at, s.complaints.c.due_on,
                                                      s.complaints.c.content, s.complaints.c.user_id)
                                            .where(s.complaints.c.case_id == new_id)).fetchall()
            again_locker = conn.execute(sa.select(s.locker_items)
                                        .where(s.locker_items.c.source_case_id == new_id)).fetchall()
            again_events = conn.execute(sa.select(s.case_events).where(s.case_events.c.case_id == new_id)
                                        .order_by(s.case_events.c.seq)).fetchall()
            again_stops = conn.execute(sa.select(s.clock_stops).where(s.clock_stops.c.case_id == new_id)
                                       .order_by(s.clock_stops.c.seq)).fetchall()
        assert again.case_no not in {c.case_no for c in cases.values()}
        for col in _COMPARED:
            assert getattr(again, col) == getattr(case, col), (case.case_no, col)
        if case.state not in wf.OPEN_STATES:
            assert again.warning_level == case.warning_level
        assert (again.result_no is None) == (case.result_no is None)
        fields = ("seq", "occurred_at", "actor_user_id", "actor_role", "actor_unit_id", "action", "from_state",
                  "to_state", "comment")
        assert [tuple(getattr(e, f) for f in fields) for e in again_events] == \
            [tuple(getattr(e, f) for f in fields) for e in evs], case.case_no
        with db.read() as conn:
            task_rows = {n: conn.execute(sa.select(s.parallel_tasks).where(s.parallel_tasks.c.case_id == n)
                                         .order_by(s.parallel_tasks.c.task_id)).fetchall() for n in (cid, new_id)}
            doc_rows = {n: conn.execute(sa.select(s.case_documents).where(s.case_documents.c.case_id == n)
                                        .order_by(s.case_documents.c.issued_at, s.case_documents.c.kind))
                        .fetchall() for n in (cid, new_id)}
            notice_rows = {n: conn.execute(sa.select(s.fee_notices).where(s.fee_notices.c.case_id == n)
                                           .order_by(s.fee_notices.c.issued_at)).fetchall() for n in (cid, new_id)}
            runs = {n: [conn.execute(sa.select(s.fee_reconciliations).where(
                s.fee_reconciliations.c.sha256 == e.payload["file_sha256"])).fetchone()
                for e in (evs if n == cid else again_events) if e.action == "record_payment"] for n in (cid, new_id)}
            a = s.audit_log.c
            audits = {n: [conn.execute(sa.select(a.occurred_at, a.user_id, a.username, a.action, a.detail).where(
                a.action == "fee_reconciliation", a.detail.like(f'%"reconciliation_id": {r.reconciliation_id},%')))
                .fetchall() for r in runs[n]] for n in (cid, new_id)}
        names = {again.case_no: case.case_no, **{theirs: mine for mine, theirs in notices.items()}}
        ids = {int(b.task_id): int(a.task_id) for a, b in zip(task_rows[cid], task_rows[new_id])}
        back = lambda value, names=names, ids=ids: _renumbered(value, names, ids)  # noqa: E731
        assert [_file_hashes_checked(e.payload, case.case_no) for e in evs] == \
            [back(_file_hashes_checked(e.payload)) for e in again_events], case.case_no
        # the rows the moves left beyond the case's own: parallel tasks, documents, payment notices and the
        # reconciliation runs that paid them (with their audit entries)
        fields = ("dept_code", "unit_id", "region_code", "opened_at", "due_on", "state", "verdict", "opinion",
                  "answered_at", "answered_by")
        assert [tuple(getattr(x, f) for f in fields) for x in task_rows[new_id]] == \
            [tuple(getattr(x, f) for f in fields) for x in task_rows[cid]], case.case_no
        fields = ("doc_no", "kind", "issued_at", "issued_by", "facts", "revoked")
        assert [back(tuple(getattr(x, f) for f in fields)) for x in doc_rows[new_id]] == \
            [tuple(getattr(x, f) for f in fields) for x in doc_rows[cid]], case.case_no
        fields = ("notice_no", "lines", "amount_fen", "issued_at", "issued_by", "due_on", "state", "paid_at",
                  "paid_amount_fen", "receipt_no")
        assert [back(tuple(getattr(x, f) for f in fields)) for x in notice_rows[new_id]] == \
            [tuple(getattr(x, f) for f in fields) for x in notice_rows[cid]], case.case_no
        fields = ("file_name", "uploaded_at", "uploaded_by", "dept_code", "rows_total", "rows_paid", "rows_already",
                  "rows_refused", "report")
        assert [back(tuple(getattr(x, f) for f in fields)) for x in runs[new_id]] == \
            [tuple(getattr(x, f) for f in fields) for x in runs[cid]], case.case_no
        assert [[(*a[:4], back(json.loads(a.detail)) | {"reconciliation_id": 0}) for a in rows]
                for rows in audits[new_id]] \
            == [[(*a[:4], json.loads(a.detail) | {"reconciliation_id": 0}) for a in rows] for rows in audits[cid]] \
            and all(len(rows) == 1 for rows in audits[cid]), case.case_no
        assert [(x.seq, x.kind, x.started_on, x.ended_on, x.reason) for x in again_stops] == \
            [(x.seq, x.kind, x.started_on, x.ended_on, x.reason) for x in stops[cid]]
        assert verify_chain(again_events) == []
        fields = ("level", "comment", "rated_at", "user_id")
        assert (None if again_rating is None else tuple(getattr(again_rating, f) for f in fields)) == \
            (None if rating is None else tuple(getattr(rating, f) for f in fields))
        assert sorted(tuple(r) for r in again_complaints) == sorted(
            (c.created_at, c.due_on, c.content, c.user_id) for c in complaints if c.case_id == cid)
        fields = ("owner_user_id", "kind", "name", "item_code", "issued_on", "expires_on", "created_at")
        mine = locker.get(cid)
        assert [tuple(getattr(x, f) for f in fields) for x in again_locker] == \
            ([] if mine is None else [tuple(getattr(mine, f) for f in fields)])
        # a bad rating's follow-up: opened by applications.rate, then handled by alarms.handle_followup (the same
        # officer or head at the same time, the same texts), with its audit entry
        follow, follow_audit = followups.get(cid, (None, None))
        if follow is not None and follow.state == "handled":
            timeutil.freeze(follow.handled_at)
            try:
                alarms.handle_followup(db, auth.actor_for(db, follow.handled_by), new_id,
                                       verification=follow.verification, rectification=follow.rectification,
                                       answer=follow.answer, publish=follow.published)
            finally:
                timeutil.freeze(None)
        with db.read() as conn:
            again_follow = conn.execute(sa.select(s.review_followups)
                                        .where(s.review_followups.c.case_id == new_id)).fetchone()
            a = s.audit_log.c
            again_audit = conn.execute(sa.select(a.occurred_at, a.user_id, a.username, a.detail).where(
                a.action == "followup_handled", a.detail.like(f'%"case_id": {new_id},%'))).fetchall()
        fields = ("dept_code", "unit_id", "region_code", "level", "opened_at", "due_on", "state", "verification",
                  "rectification", "answer", "handled_at", "handled_by", "published")
        assert (None if again_follow is None else tuple(getattr(again_follow, f) for f in fields)) == \
            (None if follow is None else tuple(getattr(follow, f) for f in fields)), case.case_no
        assert [(*x[:3], json.loads(x.detail) | {"case_id": cid}) for x in again_audit] == \
            ([] if follow_audit is None else [(follow_audit.occurred_at, follow_audit.user_id, follow_audit.username,
                                               json.loads(follow_audit.detail))]), case.case_no


def test_if_empty_adds_nothing_and_later_cases_get_fresh_numbers(generated):
    db = generated[0]

    def snapshot():
        with db.read() as conn:
            return {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar()
                    for t in ("cases", "case_events", "users", "ratings", "complaints", "clock_stops")}

    before = snapshot()
    counts = demo.generate(db, cases=CASES, seed=7, end=END, chunk=1000, if_empty=True)
    assert counts["skipped"] and counts["cases"] == 0
    assert snapshot() == before

    with db.read() as conn:
        top_id, numbers = conn.execute(sa.text("SELECT MAX(case_id), COUNT(*) FROM cases")).fetchone()
        zhangsan = conn.execute(sa.select(s.users).where(s.users.c.username == "zhangsan")).fetchone()
        serial = conn.execute(sa.text("SELECT MAX(CAST(split_part(case_no, '-', 3) AS BIGINT)) FROM cases")).scalar()
    made = case_service.create_case(
        db, auth.actor_for(db, zhangsan.user_id), item_code="4207-BM-GJJ-001",
        applicant=case_service.Applicant(zhangsan.display_name, zhangsan.id_kind, zhangsan.id_number,
                                         zhangsan.user_id),
        region_code="420704001", channel="online", submit=True)
    assert made["case_id"] > top_id and int(made["case_no"].rsplit("-", 1)[1]) > serial
    with db.read() as conn:
        assert conn.execute(sa.text("SELECT COUNT(DISTINCT case_no) FROM cases")).scalar() == numbers + 1


def test_the_same_seed_gives_the_same_history_with_or_without_worker_processes(tmp_path, monkeypatch):
    _fast_hash(monkeypatch)
    rows = []
    for workers in (0, 2):
        db = Database(f"duckdb:///{tmp_path / f'w{workers}.duckdb'}")
        demo.generate(db, cases=600, years=1, seed=3, end=END, chunk=200, workers=workers)
        with db.read() as conn:
            rows.append([
                conn.execute(sa.text("SELECT * EXCLUDE (updated_at) FROM cases ORDER BY case_id")).fetchall(),
                conn.execute(sa.text("SELECT case_id, seq, hash FROM case_events ORDER BY event_id")).fetchall(),
                conn.execute(sa.text("SELECT * FROM ratings ORDER BY case_id")).fetchall(),
                conn.execute(sa.text("SELECT * FROM complaints ORDER BY complaint_id")).fetchall(),
                conn.execute(sa.text("SELECT * FROM parallel_tasks ORDER BY task_id")).fetchall(),
                conn.execute(sa.text("SELECT * FROM case_documents ORDER BY doc_no")).fetchall(),
                conn.execute(sa.text("SELECT * FROM fee_notices ORDER BY notice_no")).fetchall(),
                conn.execute(sa.text("SELECT * FROM fee_reconciliations ORDER BY reconciliation_id")).fetchall(),
                conn.execute(sa.text("SELECT * FROM review_followups ORDER BY case_id")).fetchall(),
            ])
        db.dispose()
    assert rows[0] == rows[1]


def test_postgresql(monkeypatch):
    try:
        import psycopg

        psycopg.connect(PG_URL, connect_timeout=3).close()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"PostgreSQL not reachable: {exc}")
    _fast_hash(monkeypatch)
    db = Database(PG_URL, schema="ezz_demo_test")
    db.drop_everything()
    db = Database(PG_URL, schema="ezz_demo_test")
    try:
        counts = demo.generate(db, cases=500, years=1, seed=11, end=END, chunk=200)
        with db.read() as conn:
            for key, table in demo._COUNTED:
                assert conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar() == counts[key], key
            facts = conn.execute(sa.select(s.case_documents.c.facts).limit(50)).fetchall()
            assert facts and all(f[0]["doc_no"] and f[0]["case_no"] for f in facts)
            cases = {r.case_id: r for r in conn.execute(sa.select(s.cases))}
            events = defaultdict(list)
            for r in conn.execute(sa.select(s.case_events).order_by(s.case_events.c.case_id, s.case_events.c.seq)):
                events[r.case_id].append(r)
        assert counts["cases"] == 500 == len(cases)
        assert {cid: p for cid, c in cases.items() if (p := _replay_path(c, events[cid]))} == {}
        assert {cid: verify_chain(evs) for cid, evs in events.items() if verify_chain(evs)} == {}
        assert auth.sign_in(db, "zhangsan", demo.DEMO_PASSWORD).ok
        # the app's own insert after the bulk load
        with db.read() as conn:
            zhangsan = conn.execute(sa.select(s.users).where(s.users.c.username == "zhangsan")).fetchone()
        made = case_service.create_case(
            db, auth.actor_for(db, zhangsan.user_id), item_code="4207-BM-GJJ-001",
            applicant=case_service.Applicant(zhangsan.display_name, zhangsan.id_kind, zhangsan.id_number,
                                             zhangsan.user_id), region_code="420704001", channel="online")
        assert made["case_id"] > max(cases)
    finally:
        db.drop_everything()
