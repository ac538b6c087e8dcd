"""The storage owner on a DuckDB file and on PostgreSQL: migrations, upgrade, version checks, concurrency."""
from __future__ import annotations

import threading
from datetime import datetime

import pytest
import sqlalchemy as sa

from app import cases, record, schema as s
from app import workflow as wf
from app.db import StaleVersionError, migrations
from tests.factories import file_case


def test_migrations_create_the_described_schema(empty_db):
    applied = empty_db.migrate()
    assert applied == [v for v, _, _ in migrations()]
    assert empty_db.schema_version() == max(applied)
    for table in s.metadata.sorted_tables:
        assert empty_db.table_columns(table.name) == [c.name for c in table.columns], table.name
    # Running again applies nothing (start-up runs it every time).
    assert empty_db.migrate() == []


def test_upgrade_from_previous_version_keeps_data(empty_db):
    empty_db.migrate(target=1)
    assert empty_db.schema_version() == 1
    assert "warning_level" not in empty_db.table_columns("cases")

    def old_rows(conn):  # written with the version-1 columns only
        conn.execute(sa.text(
            "INSERT INTO users (username, password_hash, display_name, role, created_at) "
            "VALUES ('old_user', '$2b$12$x', '旧用户', 'applicant', :t)"), {"t": datetime(2025, 1, 2, 9)})
        conn.execute(sa.text(
            "INSERT INTO cases (case_no, item_code, item_version, dept_code, unit_id, region_code, channel, "
            "applicant_name, applicant_id_kind, applicant_id_number, state, promised_days, statutory_limit, "
            "statutory_unit, created_at, updated_at) VALUES ('420700-20250102-000001', '4207-SCJG-003', 1, "
            "'SCJG', 'U-4207-SCJG', '4207', 'online', '张三', 'resident_id', '11010519491231002X', 'submitted', "
            "3, 10, 'working', :t, :t)"), {"t": datetime(2025, 1, 2, 9)})

    empty_db.write(old_rows)
    applied = empty_db.migrate()
    assert applied and applied[0] == 2
    assert "warning_level" in empty_db.table_columns("cases")
    with empty_db.read() as conn:
        user = conn.execute(sa.text("SELECT display_name FROM users WHERE username = 'old_user'")).scalar()
        case = conn.execute(sa.text("SELECT case_no, state, version, warning_level FROM cases")).fetchone()
        audit_rows = conn.execute(sa.text("SELECT COUNT(*) FROM audit_log")).scalar()
    assert user == "旧用户"
    assert tuple(case) == ("420700-20250102-000001", "submitted", 1, "green")
    assert audit_rows == 0


def test_stale_screen_cannot_overwrite_newer_state(seeded_db):
    officer = seeded_db.actors["officer"]
    case = file_case(seeded_db, seeded_db.actors["applicant"])
    read_version = case["version"]
    cases.perform(seeded_db, officer, case["case_id"], "accept", expected_version=read_version)
    # A second screen still showing the old version tries to refuse intake: refused, nothing written.
    with pytest.raises(StaleVersionError):
        cases.perform(seeded_db, officer, case["case_id"], "refuse_intake", expected_version=read_version,
                      comment="材料不全")
    current = cases.get_case(seeded_db, officer, case["case_id"])
    assert current["state"] == wf.ACCEPTED
    events = cases.case_events(seeded_db, officer, case["case_id"])
    assert [e["action"] for e in events] == ["create", "submit", "accept"]


def test_eight_concurrent_writers_on_one_case_lose_no_update(seeded_db):
    """8 threads add review opinions to one case, each re-reading and retrying on a stale version."""
    head = seeded_db.actors["head"]
    case = file_case(seeded_db, seeded_db.actors["applicant"])
    cid = case["case_id"]
    v = cases.perform(seeded_db, head, cid, "accept", expected_version=case["version"])["version"]
    cases.perform(seeded_db, head, cid, "start_review", expected_version=v)
    per_thread, errors, stale_retries = 5, [], []

    def writer(n: int) -> None:
        done = 0
        while done < per_thread:
            current = cases.get_case(seeded_db, head, cid)
            try:
                cases.perform(seeded_db, head, cid, "review_opinion", expected_version=current["version"],
                              comment=f"线程{n}意见{done}")
                done += 1
            except StaleVersionError:
                stale_retries.append(n)
            except Exception as exc:  # noqa: BLE001 - any other error fails the test
                errors.append(repr(exc))
                return

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    events = cases.case_events(seeded_db, head, cid)
    opinions = [e for e in events if e["action"] == "review_opinion"]
    assert len(opinions) == 8 * per_thread
    assert len({e["comment"] for e in opinions}) == 8 * per_thread
    final = cases.get_case(seeded_db, head, cid)
    assert final["version"] == len(events)  # one version per event: none lost, none doubled
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert record.verify_chain([_Ev(e) for e in events]) == []


def test_case_numbers_unique_under_concurrent_filing(seeded_db):
    applicant = seeded_db.actors["applicant"]
    numbers, errors = [], []

    def filer() -> None:
        try:
            for _ in range(5):
                numbers.append(file_case(seeded_db, applicant, submit=False)["case_no"])
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc))

    threads = [threading.Thread(target=filer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert len(numbers) == 40 and len(set(numbers)) == 40
    assert all(n.startswith("420700-") and len(n.split("-")[2]) >= 6 for n in numbers)


def test_failed_transition_leaves_nothing_half_saved(seeded_db):
    officer = seeded_db.actors["officer"]
    case = file_case(seeded_db, seeded_db.actors["applicant"])
    with seeded_db.read() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(s.clock_stops)
                              .where(s.clock_stops.c.case_id == case["case_id"])).scalar()
    # The transfer target does not exist: the clock stop and event of a half-done move must not remain.
    with pytest.raises(cases.CaseError):
        cases.perform(seeded_db, officer, case["case_id"], "transfer", expected_version=case["version"],
                      comment="转区级办理", payload={"unit_id": "U-NOWHERE"})
    after = cases.get_case(seeded_db, officer, case["case_id"])
    assert after["version"] == case["version"] and after["state"] == wf.SUBMITTED
    assert len(cases.case_events(seeded_db, officer, case["case_id"])) == 2
    with seeded_db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.clock_stops)
                            .where(s.clock_stops.c.case_id == case["case_id"])).scalar() == before


class _Ev:
    def __init__(self, d: dict):
        self.__dict__.update(d)
