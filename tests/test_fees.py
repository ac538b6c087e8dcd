"""Fees (domain.md §9): assessment from the item's standard, the payment notice, reconciliation with the non-tax
revenue system's file — a good file marks notices paid, a bad one is refused row by row and reported."""
from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import cases, fees, issuing
from app import schema as s
from app.permissions import SYSTEM
from tests.factories import advance, applicant_of, file_case
from tests.test_documents import pdf_text

LAND = "4207-ZRGH-005"   # 不动产登记: 80 元/件 (住宅), 550 元/件 (非住宅), 10 元 per extra certificate


def _accepted(db, item=LAND):  # noqa: ANN001, ANN202
    a = db.actors
    case = file_case(db, a["applicant"], item_code=item, applicant=applicant_of(db, a["applicant"]))
    return advance(db, a, case, [("accept", "other_dept_officer")] if item == LAND else [("accept", "officer")])


def _notice(db, notice_no):  # noqa: ANN001, ANN202
    with db.read() as conn:
        return conn.execute(sa.select(s.fee_notices).where(s.fee_notices.c.notice_no == notice_no)).fetchone()


def test_standards_are_seeded_from_the_catalogue_fee_text(seeded_db):
    lines = {r["fee_code"]: r for r in fees.standards_for(seeded_db, LAND)}
    assert lines["RES"]["unit_amount_fen"] == 8000 and lines["NONRES"]["unit_amount_fen"] == 55000
    assert "2559" in lines["RES"]["basis"]


def test_assessment_follows_the_standard_and_issues_a_payment_notice(seeded_db):
    db, a = seeded_db, seeded_db.actors
    case = _accepted(db)
    officer = a["other_dept_officer"]
    for bad in ({}, {"RES": 0}, {"RES": -1}, {"RES": 1.5}, {"NOPE": 1}):
        with pytest.raises(fees.FeeError):
            fees.assess(db, officer, case["case_id"], expected_version=case["version"], quantities=bad)
    notice = fees.assess(db, officer, case["case_id"], expected_version=case["version"],
                         quantities={"RES": 1, "EXTRA_CERT": 2})
    assert notice["amount_fen"] == 8000 + 2 * 1000
    assert notice["notice_no"].startswith("JK-")
    event = cases.case_events(db, SYSTEM, case["case_id"])[-1]
    assert event["action"] == "assess_fee" and event["payload"]["total"] == "100.00"
    text = pdf_text(issuing.document_pdf(db, a["applicant"], notice["notice_no"], "http://ezz.test")[1])
    assert "缴款通知书" in text and notice["notice_no"] in text and "100.00" in text
    case = cases.get_case(db, officer, case["case_id"])
    with pytest.raises(fees.FeeError) as err:   # one unpaid notice at a time
        fees.assess(db, officer, case["case_id"], expected_version=case["version"], quantities={"RES": 1})
    assert err.value.key == "fee.unpaid_exists"


def test_a_free_item_cannot_be_charged(seeded_db):
    db, a = seeded_db, seeded_db.actors
    case = _accepted(db, item="4207-SCJG-003")
    with pytest.raises(fees.FeeError) as err:
        fees.assess(db, a["officer"], case["case_id"], expected_version=case["version"], quantities={"RES": 1})
    assert err.value.key == "fee.free_item"
    with pytest.raises(cases.CaseError):  # nor by calling the move bare
        cases.perform(db, a["officer"], case["case_id"], "assess_fee", expected_version=case["version"])


def _csv(*rows: str, header: str = "notice_no,amount,paid_at,receipt_no") -> bytes:
    return ("\n".join([header, *rows]) + "\n").encode("utf-8")


def test_reconciliation_good_file_marks_paid_and_result_may_then_be_issued(seeded_db):
    db, a = seeded_db, seeded_db.actors
    officer = a["other_dept_officer"]
    case = _accepted(db)
    notice = fees.assess(db, officer, case["case_id"], expected_version=case["version"], quantities={"NONRES": 1})
    report = fees.reconcile(db, officer, "nontax.csv", _csv(f"{notice['notice_no']},550.00,2026-11-20 10:31:00,PJ001"))
    assert (len(report.paid), len(report.refused)) == (1, 0)
    row = _notice(db, notice["notice_no"])
    assert (row.state, row.receipt_no, row.paid_amount_fen) == ("paid", "PJ001", 55000)
    assert cases.case_events(db, SYSTEM, case["case_id"])[-1]["action"] == "record_payment"
    again = fees.reconcile(db, officer, "nontax.csv", _csv(f"{notice['notice_no']},550.00,2026-11-20 10:31:00,PJ001"))
    assert (len(again.paid), len(again.already), len(again.refused)) == (0, 1, 0)
    with db.read() as conn:
        runs = conn.execute(sa.select(sa.func.count()).select_from(s.fee_reconciliations)).scalar_one()
    assert runs >= 2


def test_reconciliation_bad_file_is_refused_and_reported_never_accepted(seeded_db):
    db, a = seeded_db, seeded_db.actors
    officer = a["other_dept_officer"]
    case = _accepted(db)
    notice = fees.assess(db, officer, case["case_id"], expected_version=case["version"], quantities={"RES": 1})
    no = notice["notice_no"]
    report = fees.reconcile(db, officer, "bad.csv", _csv(
        f"{no},800.00,2026-11-20 10:31:00,PJ002",      # ten times the notice
        "JK-2026-999999,80.00,2026-11-20 10:31:00,PJ003",  # no such notice
        f"{no},80.00,昨天,PJ004",                        # not a time
        f"{no},八十,2026-11-20,PJ005",                   # not an amount
        f"{no},80.00,2026-11-20,",                      # no receipt
    ))
    reasons = [r["reason"] for r in report.refused]
    assert reasons == ["fee.row_amount_mismatch", "fee.row_unknown_notice", "fee.row_time", "fee.row_amount",
                       "fee.row_receipt_missing"]
    assert report.refused[0]["expected"] == "80.00" and report.refused[0]["got"] == "800.00"
    assert report.paid == [] and _notice(db, no).state == "unpaid"
    # The result waits for the payment.
    case = advance(db, a, cases.get_case(db, officer, case["case_id"]), [
        ("start_review", "other_dept_officer"), ("review_opinion", "other_dept_officer", "符合", {"step": "审查"}),
        ("review_opinion", "zrgh_head", "同意", {"step": "审核"}),
        ("approve", "zrgh_head", "协办部门已线下会商", {"override": True})])
    with pytest.raises(cases.CaseError) as err:
        cases.perform(db, officer, case["case_id"], "complete", expected_version=case["version"])
    assert err.value.key == "case.fee_unpaid"
    # A file of another shape is refused whole, with the missing column named.
    with pytest.raises(fees.FeeError) as err:
        fees.reconcile(db, officer, "x.csv", _csv(f"{no},80.00", header="notice_no,amount"))
    assert err.value.key == "fee.file_header"
    with pytest.raises(fees.FeeError):
        fees.reconcile(db, officer, "x.csv", b"")


def test_reconciliation_reads_the_chinese_headers_and_gbk(seeded_db):
    db, a = seeded_db, seeded_db.actors
    officer = a["other_dept_officer"]
    case = _accepted(db)
    notice = fees.assess(db, officer, case["case_id"], expected_version=case["version"], quantities={"RES": 1})
    data = f"缴款通知书编号,缴款金额,缴款时间,票据号\n{notice['notice_no']},80,2026/11/20 09:00:00,电票001\n".encode("gb18030")
    report = fees.reconcile(db, officer, "非税.csv", data)
    assert len(report.paid) == 1 and _notice(db, notice["notice_no"]).receipt_no == "电票001"


def test_another_department_cannot_mark_our_notice_paid(seeded_db):
    db, a = seeded_db, seeded_db.actors
    case = _accepted(db)
    notice = fees.assess(db, a["other_dept_officer"], case["case_id"], expected_version=case["version"],
                         quantities={"RES": 1})
    report = fees.reconcile(db, a["officer"], "n.csv", _csv(f"{notice['notice_no']},80.00,2026-11-20,PJ9"))
    assert [r["reason"] for r in report.refused] == ["fee.row_unknown_notice"]
    assert _notice(db, notice["notice_no"]).state == "unpaid"
