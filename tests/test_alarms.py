"""Electronic supervision alarms (domain.md §6), yellow/red cards and bad-review follow-up, on DuckDB and
PostgreSQL: for each rule one case that raises it and one that must not; alarms clear when their condition
ends; a supervisor sees every department, a head only their own."""
from __future__ import annotations

from datetime import date, datetime

import pytest
import sqlalchemy as sa

from app import alarms, applications, cases, fees
from app import schema as s
from app.permissions import PermissionDenied
from app.supervision import recompute_warning_levels
from tests.factories import REVIEWED, advance, applicant_of, file_case

TODAY = date(2026, 11, 25)   # a Wednesday


def _case(db, at=None, item="4207-SCJG-003"):  # noqa: ANN001, ANN202
    a = db.actors
    return file_case(db, a["applicant"], item_code=item, at=at, applicant=applicant_of(db, a["applicant"]))


def _open_keys(db, today=TODAY):  # noqa: ANN001, ANN202
    recompute_warning_levels(db, today=today)
    alarms.recompute(db, today=today)
    with db.read() as conn:
        return {r[0] for r in conn.execute(sa.select(s.alarms.c.subject_key).where(s.alarms.c.cleared_at.is_(None)))}


def _set(db, case_id, **values):  # noqa: ANN001, ANN202
    db.write(lambda conn: conn.execute(s.cases.update().where(s.cases.c.case_id == case_id).values(**values)))


def test_clock_alarms_raise_and_clear(seeded_db):
    db = seeded_db
    near = _case(db, at=datetime(2026, 11, 20, 9, 0))     # Fri; by Wed 3 of 5 intake days used: yellow
    fresh = _case(db, at=datetime(2026, 11, 25, 9, 0))
    keys = _open_keys(db)
    assert f"approaching:{near['case_id']}" in keys and f"overdue:{near['case_id']}" not in keys
    assert not {f"approaching:{fresh['case_id']}", f"overdue:{fresh['case_id']}"} & keys
    later = _open_keys(db, today=date(2026, 12, 2))        # past the window: red, the yellow alarm cleared
    assert f"overdue:{near['case_id']}" in later and f"approaching:{near['case_id']}" not in later
    with db.read() as conn:
        cleared = conn.execute(sa.select(s.alarms.c.cleared_at).where(
            s.alarms.c.subject_key == f"approaching:{near['case_id']}")).scalar()
    assert cleared is not None


def test_supplement_alarms(seeded_db):
    db, a = seeded_db, seeded_db.actors
    late = _case(db, at=datetime(2026, 11, 2, 9, 0))
    cases.perform(db, a["officer"], late["case_id"], "request_supplement", expected_version=late["version"],
                  comment="缺材料", payload={"materials": [1]}, at=datetime(2026, 11, 12, 9, 0))
    timely = _case(db, at=datetime(2026, 11, 23, 9, 0))
    timely = cases.perform(db, a["officer"], timely["case_id"], "request_supplement", expected_version=timely["version"],
                           comment="缺材料", payload={"materials": [1]}, at=datetime(2026, 11, 24, 9, 0))
    keys = _open_keys(db)
    assert any(k.startswith(f"late_supplement:{late['case_id']}:") for k in keys)
    assert not any(k.startswith(f"late_supplement:{timely['case_id']}:") for k in keys)
    assert f"repeat_supplement:{timely['case_id']}" not in keys
    timely = advance(db, a, timely, [("supplement", "applicant", None, {"materials": [1]})])
    cases.perform(db, a["officer"], timely["case_id"], "request_supplement", expected_version=timely["version"],
                  comment="仍缺", payload={"materials": [1]})
    assert f"repeat_supplement:{timely['case_id']}" in _open_keys(db)


def test_fee_alarms(seeded_db):
    db, a = seeded_db, seeded_db.actors
    land = advance(db, a, _case(db, item="4207-ZRGH-005"), [("accept", "other_dept_officer")])
    fair = fees.assess(db, a["other_dept_officer"], land["case_id"], expected_version=land["version"],
                       quantities={"RES": 1})
    free = advance(db, a, _case(db), [("accept", "officer")])

    def notice(conn, no, case_id, amount):  # noqa: ANN001, ANN202
        conn.execute(s.fee_notices.insert().values(
            notice_no=no, case_id=case_id, amount_fen=amount, issued_at=datetime(2026, 11, 20), due_on=TODAY,
            state="unpaid", lines=[{"name": "不动产登记费（住宅类）", "standard": "80.00元/件", "quantity": 1,
                                    "amount": f"{amount / 100:.2f}"}]))

    # Notices that did not come through the assessment (an old system's, an edited row): above the standard,
    # and on a free item.
    db.write(lambda conn: notice(conn, f"OLD-{land['case_id']}", land["case_id"], 12000))
    db.write(lambda conn: notice(conn, f"OLD-{free['case_id']}", free["case_id"], 8000))
    keys = _open_keys(db)
    assert f"fee_over_standard:OLD-{land['case_id']}" in keys
    assert f"fee_free_item:OLD-{free['case_id']}" in keys
    assert not {f"fee_over_standard:{fair['notice_no']}", f"fee_free_item:{fair['notice_no']}"} & keys


def test_sequence_alarms(seeded_db):
    db, a = seeded_db, seeded_db.actors
    proper = advance(db, a, _case(db), [("accept", "officer"), ("start_review", "officer"), *REVIEWED,
                                        ("approve", "head"), ("complete", "officer")])
    decided_unaccepted = _case(db)
    _set(db, decided_unaccepted["case_id"], decided_at=datetime(2026, 11, 24, 10, 0))   # as an import might bring
    result_undecided = advance(db, a, _case(db), [("accept", "officer")])
    _set(db, result_undecided["case_id"], result_no="JG-OLD-1")
    keys = _open_keys(db)
    assert f"decision_without_acceptance:{decided_unaccepted['case_id']}" in keys
    assert f"result_without_decision:{result_undecided['case_id']}" in keys
    assert not {f"decision_without_acceptance:{proper['case_id']}", f"result_without_decision:{proper['case_id']}"} & keys


def test_complaint_and_bad_review_alarms(seeded_db):
    db, a = seeded_db, seeded_db.actors
    done = advance(db, a, _case(db), [("accept", "officer"), ("start_review", "officer"), *REVIEWED,
                                      ("approve", "head"), ("complete", "officer")])
    done = applications.complain(db, a["applicant"], done["case_id"], expected_version=done["version"],
                                 content="窗口办理态度不好")
    answered = advance(db, a, _case(db), [("accept", "officer")])
    answered = applications.complain(db, a["applicant"], answered["case_id"], expected_version=answered["version"],
                                     content="进度太慢了请加快")
    db.write(lambda conn: conn.execute(s.complaints.update().where(s.complaints.c.case_id == answered["case_id"])
                                       .values(answered_at=datetime(2026, 11, 26, 9, 0), answer="已加快办理")))
    applications.rate(db, a["applicant"], done["case_id"], expected_version=done["version"], level=1, comment="太慢")
    with db.read() as conn:
        follow = conn.execute(sa.select(s.review_followups).where(s.review_followups.c.case_id == done["case_id"])).fetchone()
    assert follow is not None and follow.state == "open"          # the bad review opened its follow-up
    month_later = date(2027, 1, 20)
    keys = _open_keys(db, today=month_later)
    with db.read() as conn:
        cid = conn.execute(sa.select(s.complaints.c.complaint_id).where(
            s.complaints.c.case_id == done["case_id"])).scalar()
        aid = conn.execute(sa.select(s.complaints.c.complaint_id).where(
            s.complaints.c.case_id == answered["case_id"])).scalar()
    assert f"complaint_unanswered:{cid}" in keys and f"complaint_unanswered:{aid}" not in keys
    assert f"bad_review_late:{done['case_id']}" in keys
    # The department handles it: verification, rectification, answer; the alarm clears.
    with pytest.raises(PermissionDenied):
        alarms.handle_followup(db, a["other_dept_officer"], done["case_id"], verification="已回访",
                               rectification="已整改", answer="已答复", publish=True)
    with pytest.raises(alarms.SupervisionError):
        alarms.handle_followup(db, a["officer"], done["case_id"], verification="", rectification="x", answer="y",
                               publish=True)
    alarms.handle_followup(db, a["officer"], done["case_id"], verification="电话回访，情况属实",
                           rectification="增设窗口缩短等候", answer="已向申请人说明并致歉", publish=True)
    assert f"bad_review_late:{done['case_id']}" not in _open_keys(db, today=month_later)


def test_who_sees_alarms_and_cards(seeded_db):
    db, a = seeded_db, seeded_db.actors
    ours = _case(db, at=datetime(2026, 10, 5, 9, 0))
    _open_keys(db)
    seen_by_supervisor = set(alarms.alarms_for(db, a["supervisor"])["case_no"].to_list())
    seen_by_zrgh = set(alarms.alarms_for(db, a["other_dept_officer"])["case_no"].to_list())
    assert ours["case_no"] in seen_by_supervisor and ours["case_no"] not in seen_by_zrgh
    assert ours["case_no"] in set(alarms.alarms_for(db, a["head"])["case_no"].to_list())
    with pytest.raises(PermissionDenied):
        alarms.alarms_for(db, a["applicant"])

    with pytest.raises(PermissionDenied):
        alarms.issue_card(db, a["head"], color="red", dept_code="SCJG", reason="超期严重")
    with pytest.raises(alarms.SupervisionError):
        alarms.issue_card(db, a["supervisor"], color="red", dept_code="SCJG", reason=" ")
    with pytest.raises(alarms.SupervisionError):   # the officer must belong to the department carded
        alarms.issue_card(db, a["supervisor"], color="yellow", dept_code="SCJG", reason="超期未办结",
                          officer_user_id=a["other_dept_officer"].user_id)
    card = alarms.issue_card(db, a["supervisor"], color="yellow", dept_code="SCJG", reason="多件办件超期未办结",
                             officer_user_id=a["officer"].user_id, case_no=ours["case_no"])
    assert card in alarms.cards_for(db, a["head"])["card_id"].to_list()
    assert card not in alarms.cards_for(db, a["other_dept_officer"])["card_id"].to_list()
    assert card in alarms.cards_for(db, a["supervisor"])["card_id"].to_list()


# -- the screens -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("seeded_db", ["duckdb"], indirect=True)   # the rules above run on both databases
def test_supervisor_checks_and_cards_and_the_department_sees_it(seeded_db, monkeypatch):
    from pathlib import Path

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    db, a = seeded_db, seeded_db.actors
    monkeypatch.setenv("EZZ_DATABASE_URL", db.url)
    monkeypatch.setenv("EZZ_BACKGROUND_JOBS", "0")
    st.cache_resource.clear()
    pages = Path(__file__).resolve().parents[1] / "pages"

    def page(name, who):  # noqa: ANN001, ANN202
        at = AppTest.from_file(str(pages / name), default_timeout=60)
        at.session_state["ezz_actor"] = a[who]
        return at.run()

    old = _case(db, at=datetime(2026, 10, 5, 9, 0))
    at = page("alarms.py", "supervisor")
    at.button(key="al-recompute").click().run()
    assert not at.exception and any(s.value.startswith("检查完成") for s in at.success)
    at.text_area(key="card-reason").input("多件办件超期未办结")
    at.text_input(key="card-case").input(old["case_no"])
    at.selectbox(key="card-dept").select("SCJG")
    at.button[-1].click().run()
    assert [s.value for s in at.success][-1] == "已出具，并记入监察记录。"
    head = page("dept_supervision.py", "head")
    assert not head.exception
    shown = [df.value for df in head.dataframe]
    assert any(old["case_no"] in frame.to_string() for frame in shown)          # its alarm, and its card
    assert any("多件办件超期未办结" in frame.to_string() for frame in shown)
    other = page("dept_supervision.py", "other_dept_officer")
    assert not any("多件办件超期未办结" in df.value.to_string() for df in other.dataframe)
    refused = page("alarms.py", "officer")                     # not an officer's screen
    assert refused.error and not any(b.key == "al-recompute" for b in refused.button)
    st.cache_resource.clear()


def test_follow_up_and_complaint_limits_are_configurable(seeded_db, monkeypatch):
    """The bad-review follow-up limit (default 15 working days) and the complaint answer limit (5) come from
    EZZ_FOLLOWUP_DAYS and EZZ_COMPLAINT_DAYS."""
    from app import calendar_store, clock
    from app.config import ConfigError, load_settings, response_limits

    db, a = seeded_db, seeded_db.actors
    cal = calendar_store.load_calendar(db)
    monkeypatch.setenv("EZZ_FOLLOWUP_DAYS", "3")
    monkeypatch.setenv("EZZ_COMPLAINT_DAYS", "2")
    response_limits.cache_clear()
    try:
        done = advance(db, a, _case(db), [("accept", "officer"), ("start_review", "officer"), *REVIEWED,
                                          ("approve", "head"), ("complete", "officer")])
        done = applications.rate(db, a["applicant"], done["case_id"], expected_version=done["version"], level=1,
                                 comment="等了很久")
        open_case = advance(db, a, _case(db), [("accept", "officer")])
        applications.complain(db, a["applicant"], open_case["case_id"], expected_version=open_case["version"],
                              content="进度太慢了请加快")
        with db.read() as conn:
            follow = conn.execute(sa.select(s.review_followups).where(
                s.review_followups.c.case_id == done["case_id"])).one()
            complaint = conn.execute(sa.select(s.complaints).where(
                s.complaints.c.case_id == open_case["case_id"])).one()
        assert follow.due_on == clock.due_date(cal, follow.opened_at.date(), 3, clock.WORKING)
        assert complaint.due_on == cal.add_working_days(complaint.created_at.date(), 2)
        assert follow.due_on < clock.due_date(cal, follow.opened_at.date(), 15, clock.WORKING)
    finally:
        monkeypatch.delenv("EZZ_FOLLOWUP_DAYS")
        monkeypatch.delenv("EZZ_COMPLAINT_DAYS")
        response_limits.cache_clear()
    with pytest.raises(ConfigError):
        load_settings({"EZZ_FOLLOWUP_DAYS": "0"}).check()
