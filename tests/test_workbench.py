"""The officer workbench's rules, through the services, on DuckDB and PostgreSQL: the queue, parallel approval,
the accepting unit decides, review steps, supplement notices, deemed acceptance, claim/assign, transfer, the
documents issued, and two officers acting at once."""
from __future__ import annotations

import threading
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from app import cases, issuing, workbench
from app import schema as s
from app import workflow as wf
from app.db import StaleVersionError
from app.permissions import SYSTEM, PermissionDenied
from app.supervision import recompute_warning_levels
from tests.factories import REVIEWED, advance, applicant_of, file_case
from tests.test_documents import pdf_text

HOTEL = "4207-GAJ-001"      # 旅馆业特种行业许可证核发: co-departments XFJY (消防) and WJW (卫健)
FOOD = "4207-SCJG-003"      # 食品经营许可: no co-department


def _submitted(db, item=FOOD, at=None):  # noqa: ANN001, ANN202
    a = db.actors
    return file_case(db, a["applicant"], item_code=item, at=at, applicant=applicant_of(db, a["applicant"]))


def _tasks(db, case_id):  # noqa: ANN001, ANN202
    with db.read() as conn:
        return conn.execute(sa.select(s.parallel_tasks).where(s.parallel_tasks.c.case_id == case_id)
                            .order_by(s.parallel_tasks.c.dept_code)).fetchall()


# -- parallel approval -----------------------------------------------------------------------------------------
def test_parallel_approval_waits_for_every_co_department(seeded_db):
    db, a = seeded_db, seeded_db.actors
    case = advance(db, a, _submitted(db, HOTEL), [("accept", "gaj_officer"), ("start_review", "gaj_officer")])
    tasks = _tasks(db, case["case_id"])
    assert [t.dept_code for t in tasks] == ["WJW", "XFJY"] and all(t.state == "open" for t in tasks)
    assert all(t.due_on > case["accepted_at"].date() for t in tasks)  # each with its own limit
    accept = cases.case_events(db, SYSTEM, case["case_id"])[-2]
    assert sorted(t["dept_code"] for t in accept["payload"]["parallel_tasks"]) == ["WJW", "XFJY"]

    # The co-department sees the case in its queue, marked as a parallel task, and may only give its opinion.
    frame, total = workbench.queue(db, a["xfjy_officer"])
    mine = frame.filter(frame["case_id"] == case["case_id"])
    assert mine.height == 1 and mine["co_task"][0] is True
    assert workbench.actions_for(db, a["xfjy_officer"], case)[0] == ["co_opinion"]
    with pytest.raises(PermissionDenied):
        cases.perform(db, a["xfjy_officer"], case["case_id"], "review_opinion", expected_version=case["version"],
                      comment="越权")
    # Strangers see nothing of it.
    with pytest.raises(cases.CaseError):
        cases.get_case(db, a["other_dept_officer"], case["case_id"])

    case = advance(db, a, case, [("review_opinion", "gaj_officer", "符合条件", {"step": "审查"}),
                                 ("review_opinion", "gaj_head", "同意", {"step": "审核"})])
    with pytest.raises(cases.CaseError) as err:
        cases.perform(db, a["gaj_head"], case["case_id"], "approve", expected_version=case["version"])
    assert err.value.key == "case.parallel_pending"
    with pytest.raises(cases.CaseError) as err:  # an override needs its reason
        cases.perform(db, a["gaj_head"], case["case_id"], "approve", expected_version=case["version"],
                      payload={"override": True})
    assert err.value.key == "case.override_reason"

    case = advance(db, a, case, [("co_opinion", "xfjy_officer", "消防安全检查合格", {"verdict": "agree"})])
    case = advance(db, a, case, [("co_opinion", "wjw_officer", "卫生条件符合", {"verdict": "agree"})])
    with pytest.raises(PermissionDenied):  # a task answered is closed
        cases.perform(db, a["wjw_officer"], case["case_id"], "co_opinion", expected_version=case["version"],
                      comment="再说一次")
    view = workbench.case_view(db, a["gaj_officer"], case["case_id"])
    assert {t["dept_code"]: t["opinion"] for t in view["tasks"]} == {"WJW": "卫生条件符合", "XFJY": "消防安全检查合格"}
    case = advance(db, a, case, [("approve", "gaj_head"), ("complete", "gaj_officer")])
    assert case["state"] == wf.COMPLETED and case["result_no"] == f"JG-{case['case_no']}"


def test_a_head_may_override_missing_opinions_with_a_reason(seeded_db):
    db, a = seeded_db, seeded_db.actors
    case = advance(db, a, _submitted(db, HOTEL), [("accept", "gaj_officer"), ("start_review", "gaj_officer"),
                                                  ("review_opinion", "gaj_officer", "符合", {"step": "审查"}),
                                                  ("review_opinion", "gaj_head", "同意", {"step": "审核"}),
                                                  ("co_opinion", "xfjy_officer", "合格")])
    case = cases.perform(db, a["gaj_head"], case["case_id"], "approve", expected_version=case["version"],
                         comment="卫健委逾期未反馈，依法决定", payload={"override": True})
    assert case["state"] == wf.APPROVED
    states = {t.dept_code: t.state for t in _tasks(db, case["case_id"])}
    assert states == {"XFJY": "answered", "WJW": "overridden"}
    last = cases.case_events(db, SYSTEM, case["case_id"])[-1]
    assert last["payload"]["overridden_tasks"] == ["WJW"]


# -- who decides ----------------------------------------------------------------------------------------------
def test_only_the_accepting_unit_decides(seeded_db):
    db, a = seeded_db, seeded_db.actors
    # The district officer accepts the district case: the district head decides, not the city head.
    case = advance(db, a, _submitted(db), [("accept", "district_officer"), ("start_review", "district_officer"),
                                           ("review_opinion", "district_officer", "符合", {"step": "审查"}),
                                           ("review_opinion", "district_head", "同意", {"step": "审核"})])
    assert case["accepted_unit_id"] == "U-420704-SCJG"
    with pytest.raises(PermissionDenied) as err:
        cases.perform(db, a["head"], case["case_id"], "approve", expected_version=case["version"])
    assert err.value.key == "perm.not_accepting_unit"
    assert "approve" not in workbench.actions_for(db, a["head"], case)[0]
    case = advance(db, a, case, [("approve", "district_head")])
    assert case["state"] == wf.APPROVED
    with pytest.raises(PermissionDenied):  # nor does the city officer issue the district's result
        cases.perform(db, a["officer"], case["case_id"], "complete", expected_version=case["version"])


def test_review_steps_in_order_before_a_decision(seeded_db):
    db, a = seeded_db, seeded_db.actors
    case = advance(db, a, _submitted(db), [("accept", "officer"), ("start_review", "officer")])
    with pytest.raises(cases.CaseError) as err:
        cases.perform(db, a["head"], case["case_id"], "review_opinion", expected_version=case["version"],
                      comment="同意", payload={"step": "审核"})
    assert err.value.key == "case.review_step_order"
    with pytest.raises(cases.CaseError) as err:
        cases.perform(db, a["head"], case["case_id"], "approve", expected_version=case["version"])
    assert err.value.key == "case.review_incomplete"
    case = advance(db, a, case, REVIEWED)
    assert workbench.case_view(db, a["officer"], case["case_id"])["steps_done"] == ["审查", "审核"]


# -- intake ---------------------------------------------------------------------------------------------------
def test_supplement_notice_lists_item_materials_and_a_second_is_flagged(seeded_db):
    db, a = seeded_db, seeded_db.actors
    case = _submitted(db)
    for bad in ({}, {"materials": []}, {"materials": [999]}):
        with pytest.raises(cases.CaseError):
            cases.perform(db, a["officer"], case["case_id"], "request_supplement", expected_version=case["version"],
                          comment="请补正", payload=bad)
    case = cases.perform(db, a["officer"], case["case_id"], "request_supplement", expected_version=case["version"],
                         comment="请补充近期照片", payload={"materials": [2, 1], "notes": {"1": "复印件不清晰"}})
    first = cases.case_events(db, SYSTEM, case["case_id"])[-1]
    assert first["payload"]["materials"] == [1, 2] and "repeat_notice" not in first["payload"]
    doc_no = first["payload"]["documents"][0]
    name, pdf = issuing.document_pdf(db, a["applicant"], doc_no, "http://ezz.test")
    text = pdf_text(pdf)
    assert "补正材料告知书" in text and case["case_no"] in text and "复印件不清晰" in text
    case = advance(db, a, case, [("supplement", "applicant", None, {"materials": [1, 2]})])
    case = cases.perform(db, a["officer"], case["case_id"], "request_supplement", expected_version=case["version"],
                         comment="仍缺", payload={"materials": [1]})
    second = cases.case_events(db, SYSTEM, case["case_id"])[-1]
    assert second["payload"]["repeat_notice"] is True and second["payload"]["supplement_number"] == 2


def test_acceptance_after_the_intake_window_counts_from_receipt(seeded_db):
    db, a = seeded_db, seeded_db.actors
    case = _submitted(db, at=datetime(2026, 11, 2, 9, 0))   # Monday
    case = cases.perform(db, a["officer"], case["case_id"], "accept", expected_version=case["version"],
                         at=datetime(2026, 11, 12, 9, 0))     # 8 working days later
    assert case["clock_start"] == date(2026, 11, 2)
    assert cases.case_events(db, SYSTEM, case["case_id"])[-1]["payload"]["deemed_accepted_on"] == "2026-11-02"
    on_time = cases.perform(db, a["officer"], _submitted(db, at=datetime(2026, 11, 2, 9, 0))["case_id"], "accept",
                            expected_version=2, at=datetime(2026, 11, 4, 9, 0))
    assert on_time["clock_start"] == date(2026, 11, 4)


def test_refusal_of_intake_issues_a_decision_with_the_remedy(seeded_db):
    db, a = seeded_db, seeded_db.actors
    case = advance(db, a, _submitted(db), [("refuse_intake", "officer", "申请事项不属于本机关职权范围")])
    doc_no = cases.case_events(db, SYSTEM, case["case_id"])[-1]["payload"]["documents"][0]
    text = pdf_text(issuing.document_pdf(db, a["applicant"], doc_no, "http://ezz.test")[1])
    assert "不予受理决定书" in text and "申请事项不属于本机关职权范围" in text and "行政复议" in text


# -- result and documents -------------------------------------------------------------------------------------
def test_result_issues_decision_and_certificate_with_verification(seeded_db):
    db, a = seeded_db, seeded_db.actors
    case = advance(db, a, _submitted(db), [("accept", "officer"), ("start_review", "officer"), *REVIEWED,
                                           ("approve", "head"), ("complete", "officer")])
    docs = {d["kind"]: d["doc_no"] for d in issuing.documents_of(db, a["applicant"], case["case_id"])}
    assert set(docs) == {"acceptance", "approval", "certificate"}
    assert docs["certificate"] == case["result_no"]
    text = pdf_text(issuing.document_pdf(db, a["applicant"], docs["approval"], "http://ezz.test")[1])
    assert "准予行政许可决定书" in text and case["case_no"] in text and case["result_no"] in text
    shown = issuing.verify(db, case["result_no"])
    assert shown["kind"] == "certificate" and not shown["revoked"] and "*" in shown["holder"]
    assert issuing.verify(db, "JG-420700-19990101-000000") is None
    with pytest.raises(cases.CaseError):  # another applicant cannot download it
        issuing.document_pdf(db, a["applicant2"], docs["approval"], "http://ezz.test")


def test_refusal_needs_reasons_and_prints_them(seeded_db):
    db, a = seeded_db, seeded_db.actors
    case = advance(db, a, _submitted(db), [("accept", "officer"), ("start_review", "officer"), *REVIEWED])
    with pytest.raises(wf.WorkflowError):
        cases.perform(db, a["head"], case["case_id"], "refuse", expected_version=case["version"], comment=" ")
    case = advance(db, a, case, [("refuse", "head", "经营场所不符合食品安全要求"), ("complete", "officer")])
    docs = {d["kind"]: d["doc_no"] for d in issuing.documents_of(db, a["applicant"], case["case_id"])}
    assert "certificate" not in docs
    text = pdf_text(issuing.document_pdf(db, a["applicant"], docs["refusal"], "http://ezz.test")[1])
    assert "不予行政许可决定书" in text and "经营场所不符合食品安全要求" in text


# -- claim, assign, transfer ----------------------------------------------------------------------------------
def test_claim_and_assign(seeded_db):
    db, a = seeded_db, seeded_db.actors
    case = advance(db, a, _submitted(db), [("claim", "district_officer")])
    assert case["assigned_user_id"] == a["district_officer"].user_id
    for who in ("district_officer", "officer"):
        with pytest.raises(cases.CaseError):
            cases.perform(db, a[who], case["case_id"], "claim", expected_version=case["version"])
    with pytest.raises(wf.WorkflowError):  # an officer does not assign
        cases.perform(db, a["officer"], case["case_id"], "assign", expected_version=case["version"],
                      payload={"user_id": a["officer"].user_id})
    with pytest.raises(cases.CaseError) as err:  # not someone of another district or department
        cases.perform(db, a["head"], case["case_id"], "assign", expected_version=case["version"],
                      payload={"user_id": a["other_district_officer"].user_id})
    assert err.value.key == "case.assign_target"
    choices = dict(workbench.assignable_officers(db, a["head"], case))
    assert a["officer"].user_id in choices and a["other_district_officer"].user_id not in choices
    case = cases.perform(db, a["head"], case["case_id"], "assign", expected_version=case["version"],
                         payload={"user_id": a["officer"].user_id})
    assert case["assigned_user_id"] == a["officer"].user_id
    frame, _ = workbench.queue(db, a["officer"], workbench.QueueFilter(holder="mine"))
    assert case["case_id"] in frame["case_id"].to_list()


def test_a_village_case_is_transferred_up_and_accepted_there(seeded_db):
    db, a = seeded_db, seeded_db.actors
    clerk = a["clerk"]
    case = file_case(db, clerk, applicant=applicant_of(db, a["applicant"]))
    targets = dict(workbench.transfer_targets(db, clerk, case))
    assert "U-4207-SCJG" in targets
    case = cases.perform(db, a["district_officer"], case["case_id"], "transfer", expected_version=case["version"],
                         comment="需市级办理", payload={"unit_id": "U-4207-SCJG"})
    assert (case["state"], case["unit_id"]) == (wf.TRANSFERRED, "U-4207-SCJG")
    case = advance(db, a, case, [("receive_transfer", "officer"), ("accept", "officer")])
    assert case["accepted_unit_id"] == "U-4207-SCJG"


# -- the queue ------------------------------------------------------------------------------------------------
def test_queue_is_ordered_by_urgency_and_filters(seeded_db):
    db, a = seeded_db, seeded_db.actors
    red = _submitted(db, at=datetime(2026, 1, 5, 9, 0))
    green = _submitted(db)
    recompute_warning_levels(db)
    frame, total = workbench.queue(db, a["officer"], page_size=500)
    ids = frame["case_id"].to_list()
    assert ids.index(red["case_id"]) < ids.index(green["case_id"])
    levels = frame["warning_level"].to_list()
    rank = {"red": 0, "yellow": 1}
    assert [rank.get(x, 2) for x in levels] == sorted(rank.get(x, 2) for x in levels)
    only_red, n = workbench.queue(db, a["officer"], workbench.QueueFilter(warning="red"))
    assert n >= 1 and set(only_red["warning_level"].to_list()) == {"red"}
    by_no, n = workbench.queue(db, a["officer"], workbench.QueueFilter(search=green["case_no"]))
    assert by_no["case_id"].to_list() == [green["case_id"]]
    online, _ = workbench.queue(db, a["officer"], workbench.QueueFilter(channel="window", search=green["case_no"]))
    assert online.height == 0
    # Another district's officer sees none of these.
    other, _ = workbench.queue(db, a["other_district_officer"], workbench.QueueFilter(search=green["case_no"]))
    assert other.height == 0


# -- two officers at once -------------------------------------------------------------------------------------
def _race(fn_a, fn_b):  # noqa: ANN001, ANN202
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def run(n, fn):  # noqa: ANN001, ANN202
        barrier.wait()
        try:
            results[n] = ("ok", fn())
        except Exception as exc:  # noqa: BLE001 - the outcome is what the test checks
            results[n] = ("error", exc)

    threads = [threading.Thread(target=run, args=(0, fn_a)), threading.Thread(target=run, args=(1, fn_b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_two_officers_accept_at_once_exactly_one_succeeds(seeded_db):
    db, a = seeded_db, seeded_db.actors
    for _ in range(3):
        case = _submitted(db)

        def act(who, action, comment=None, payload=None, case=case):  # noqa: ANN001, ANN202
            return lambda: cases.perform(db, a[who], case["case_id"], action, expected_version=case["version"],
                                         comment=comment, payload=payload)

        results = _race(act("officer", "accept"),
                        act("district_officer", "request_supplement", "缺材料", {"materials": [1]}))
        outcomes = sorted(r[0] for r in results)
        assert outcomes == ["error", "ok"], results
        loser = next(r[1] for r in results if r[0] == "error")
        assert isinstance(loser, StaleVersionError)
        after = cases.get_case(db, a["officer"], case["case_id"])
        events = cases.case_events(db, SYSTEM, case["case_id"])
        assert after["version"] == case["version"] + 1 and len(events) == after["version"]
        assert after["state"] in (wf.ACCEPTED, wf.AWAITING_SUPPLEMENT)


def test_two_co_departments_at_once_lose_no_opinion(seeded_db):
    db, a = seeded_db, seeded_db.actors
    case = advance(db, a, _submitted(db, HOTEL), [("accept", "gaj_officer")])
    opinions = {"xfjy_officer": "消防合格", "wjw_officer": "卫生合格"}

    def give(who):  # noqa: ANN001, ANN202
        def attempt():  # noqa: ANN202
            for _ in range(10):  # the screen tells the officer the case changed; they send again
                current = cases.get_case(db, a[who], case["case_id"])
                try:
                    return cases.perform(db, a[who], case["case_id"], "co_opinion",
                                         expected_version=current["version"], comment=opinions[who])
                except StaleVersionError:
                    continue
            raise AssertionError("never got through")
        return attempt

    results = _race(give("xfjy_officer"), give("wjw_officer"))
    assert [r[0] for r in results] == ["ok", "ok"], results
    assert {t.opinion for t in _tasks(db, case["case_id"])} == set(opinions.values())
    actions = [e["action"] for e in cases.case_events(db, SYSTEM, case["case_id"])]
    assert actions.count("co_opinion") == 2


def test_a_window_acceptance_at_a_service_centre_is_decided_by_the_department(seeded_db):
    """前台综合受理、后台审批: a 便民服务中心 has windows but nobody who decides; the case it accepts goes to the
    item's department in the district, whose head then decides it."""
    db, a = seeded_db, seeded_db.actors
    case = file_case(db, a["clerk"], item_code="4207-GF-SCJG-001", applicant=applicant_of(db, a["applicant"]))
    assert case["unit_id"] == "U-420704001-BMFW"          # handled at the town's service centre
    assert "U-420704001-BMFW" not in dict(workbench.transfer_targets(db, a["clerk"], case))
    case = advance(db, a, case, [("accept", "clerk")])
    assert case["accepted_unit_id"] == "U-420704-SCJG"
    case = advance(db, a, case, [("start_review", "district_officer"),
                                 ("review_opinion", "district_officer", "符合登记条件", {"step": "审查"}),
                                 ("approve", "district_head")])
    assert case["state"] == wf.APPROVED


def test_withdrawal_closes_the_open_parallel_tasks(seeded_db):
    db, a = seeded_db, seeded_db.actors
    case = advance(db, a, _submitted(db, HOTEL), [("accept", "gaj_officer"), ("withdraw", "applicant", "不办了")])
    assert {t.state for t in _tasks(db, case["case_id"])} == {"cancelled"}
