"""Warning levels of open cases, recomputed by the background job from the legal clock (domain.md §5)."""
from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from app import cases
from app.jobs import JobRunner
from app.supervision import recompute_warning_levels
from tests.factories import REVIEWED, advance, file_case


def _accepted(db, on: datetime):  # noqa: ANN001, ANN202
    a = db.actors
    case = file_case(db, a["applicant"], item_code="4207-SCJG-003", at=on)  # promised 3 working days
    return cases.perform(db, a["officer"], case["case_id"], "accept", expected_version=case["version"], at=on)


def test_levels_follow_the_clock(seeded_db):
    # Accepted Thursday 2026-09-17 with a 3-working-day promise. Counted: Fri 18, Sun 20 (a make-up
    # working day of the 2026 National Day notice), Mon 21 → due Monday 2026-09-21.
    case = _accepted(seeded_db, datetime(2026, 9, 17, 10, 0))
    assert case["promised_due"] == date(2026, 9, 21)
    officer = seeded_db.actors["officer"]

    recompute_warning_levels(seeded_db, today=date(2026, 9, 17))
    assert cases.get_case(seeded_db, officer, case["case_id"])["warning_level"] == "green"
    # After Fri 18 one day is used and 2 remain (≤ 2) → yellow; Saturday 19 is a rest day, still yellow.
    recompute_warning_levels(seeded_db, today=date(2026, 9, 19))
    assert cases.get_case(seeded_db, officer, case["case_id"])["warning_level"] == "yellow"
    recompute_warning_levels(seeded_db, today=date(2026, 9, 22))
    after = cases.get_case(seeded_db, officer, case["case_id"])
    assert after["warning_level"] == "red"
    # Derived data, not a user's change: the version stays, so no officer's screen becomes stale.
    assert after["version"] == case["version"]


def test_completed_cases_carry_no_warning(seeded_db):
    a = seeded_db.actors
    case = _accepted(seeded_db, datetime(2026, 9, 17, 10, 0))
    case = advance(seeded_db, a, case, [("start_review", "officer"), *REVIEWED, ("approve", "head"),
                                        ("complete", "officer")], at=datetime(2026, 9, 18, 15, 0))
    assert case["state"] == "completed" and case["warning_level"] is None and case["result_no"]
    recompute_warning_levels(seeded_db, today=date(2026, 12, 1))
    assert cases.get_case(seeded_db, a["head"], case["case_id"])["warning_level"] is None


def test_job_runner_runs_the_recomputation(seeded_db):
    import os
    import tempfile

    os.environ.setdefault("EZZ_WAREHOUSE", os.path.join(tempfile.mkdtemp(prefix="ezz-wh-"), "warehouse.duckdb"))
    file_case(seeded_db, seeded_db.actors["applicant"])   # at least one open case, whatever ran before
    result = JobRunner(seeded_db, interval=3600).run_once()
    assert result["warning_levels"]["checked"] >= 1
    assert "raised" in result["alarms"]
    # The first run rebuilds the marts in this process; the weekly measures count every received case.
    from pipelines import marts

    received = marts.read(seeded_db, "SELECT SUM(received) AS n FROM marts.mart_dept_week")["n"][0]
    with seeded_db.read() as conn:
        expected = conn.execute(sa.text("SELECT COUNT(*) FROM cases WHERE state <> 'draft' "
                                        "AND submitted_at IS NOT NULL")).scalar_one()
    assert received == expected


def test_warning_thresholds_are_configurable(seeded_db, monkeypatch):
    """domain.md §5: yellow at ≤ 2 working days left or 80 % used, by default — and configurable."""
    from app.config import ConfigError, load_settings, warning_rule

    case = _accepted(seeded_db, datetime(2026, 9, 17, 10, 0))     # 3 working days promised, none used yet
    try:
        recompute_warning_levels(seeded_db, today=date(2026, 9, 17))
        assert cases.get_case(seeded_db, seeded_db.actors["head"], case["case_id"])["warning_level"] == "green"
        monkeypatch.setenv("EZZ_YELLOW_DAYS", "3")
        warning_rule.cache_clear()
        recompute_warning_levels(seeded_db, today=date(2026, 9, 17))
        assert cases.get_case(seeded_db, seeded_db.actors["head"], case["case_id"])["warning_level"] == "yellow"
    finally:
        monkeypatch.delenv("EZZ_YELLOW_DAYS")
        warning_rule.cache_clear()
    with pytest.raises(ConfigError):
        load_settings({"EZZ_YELLOW_RATIO": "1.5"}).check()
