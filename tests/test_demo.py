"""The demo data generator: counts, legal workflow paths, intact hash chains, clock fields, accounts, and — the
strongest check — sample cases replayed through app/cases.create_case and perform give the same rows."""
from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import date, time

import pytest
import sqlalchemy as sa

from app import applications, auth, calendar_store, clock, supervision, timeutil
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
        assert c.due_on == cal.add_working_days(c.created_at.date(), applications.COMPLAINT_ANSWER_DAYS)
        assert (c.answer is None) == (c.answered_at is None)
    assert any(c.answered_at is None for c in complaints)
    assert any(c.answered_at and c.answered_at.date() > c.due_on for c in complaints)


def test_certificates_of_approved_cases_are_in_the_applicants_lockers(tables):
    cases, events, stops, ratings, complaints, locker = tables
    approved = {cid for cid, evs in events.items()
                if any(e.action == "complete" and e.from_state == wf.APPROVED for e in evs)}
    assert {x.source_case_id for x in locker} == approved and len(locker) == len(approved)
    for x in locker:
        case = cases[x.source_case_id]
        assert (x.kind, x.owner_user_id, x.item_code, x.certificate_no, x.issued_on) == (
            "certificate", case.applicant_user_id, case.item_code, case.result_no, case.completed_at.date())
        assert x.expires_on.year == x.issued_on.year + case_service.CERTIFICATE_YEARS


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
             "submitted_at", "accepted_at", "decided_at", "completed_at", "closed_at", "version", "updated_at")


def _replay_through_services(db: Database, case, evs, rating_comment: str | None) -> int:
    """Make the same case with app/cases.create_case and perform, by the same actors at the same times."""
    first = evs[0]
    applicant = case_service.Applicant(case.applicant_name, case.applicant_id_kind, case.applicant_id_number,
                                       case.applicant_user_id)
    window = case.channel == "window"
    made = case_service.create_case(db, auth.actor_for(db, first.actor_user_id), item_code=case.item_code,
                                    applicant=applicant, region_code=case.region_code, channel=case.channel,
                                    window_id=case.window_id, submit=window, at=first.occurred_at)
    version = made["version"]
    try:
        for ev in evs[2 if window else 1:]:
            actor = auth.actor_for(db, ev.actor_user_id)
            timeutil.freeze(ev.occurred_at)  # what the services stamp with now(): ratings, complaints, lockers
            if ev.action == "rate":
                got = applications.rate(db, actor, made["case_id"], expected_version=version,
                                        level=ev.payload["level"], comment=rating_comment)
            elif ev.action == "complain":
                got = applications.complain(db, actor, made["case_id"], expected_version=version, content=ev.comment)
            else:
                payload = {k: v for k, v in (ev.payload or {}).items() if k in ("days", "unit_id", "materials")}
                got = case_service.perform(db, actor, made["case_id"], ev.action, expected_version=version,
                                           comment=ev.comment, payload=payload or None, at=ev.occurred_at)
            version = got["version"]
    finally:
        timeutil.freeze(None)
    return made["case_id"]


def test_sample_cases_replayed_through_the_services_give_the_same_record(generated, tables):
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
        new_id = _replay_through_services(db, case, evs, rating.comment if rating else None)
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
        renumber = lambda p, case=case: {k: (v.replace(case.case_no, "N") if isinstance(v, str) else v)  # noqa: E731
                              for k, v in (p or {}).items()}
        assert [renumber(e.payload) for e in evs] == [
            renumber({k: (v.replace(again.case_no, case.case_no) if isinstance(v, str) else v)
                      for k, v in (e.payload or {}).items()}) for e in again_events]
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
            for key, table in (("cases", "cases"), ("events", "case_events"), ("ratings", "ratings"),
                               ("complaints", "complaints"), ("clock_stops", "clock_stops")):
                assert conn.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar() == counts[key], key
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
