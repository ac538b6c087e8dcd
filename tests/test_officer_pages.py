"""The officer workbench driven through its real pages with Streamlit AppTest: 办件详情 (pages/officer_case.py), the
queue (pages/home_officer.py, pages/co_tasks.py), 收费对账 (pages/fee_reconcile.py) and, for what the applicant
gets at the end, 我的办件 (pages/my_cases.py).

Every move is made by clicking its control on the case page, and checked by its effect: the case row (state,
version, holder, clock), the event appended to the case record, the documents issued — read back through the
services — and the message the officer sees. The illegal moves are checked the same way: the control is not
there, or the click is refused in Chinese and nothing changes.

A click runs the callback the page registered on its previous run, and that callback reads the values the fields
had then. So the tests let the page run after typing (`enter`), then click (`click`), as a browser does when the
field's own rerun finishes before the click; a click that arrives with the typing loses it — a bug of the page,
shown by test_a_click_sends_what_the_field_shows.


Most tests run on DuckDB and on PostgreSQL (the seeded_db fixture, shared by the session: every test files cases
of its own and never assumes an empty case table). The few that walk a case through many moves run on DuckDB only,
as each says; the rules behind them are checked on both databases in tests/test_workbench.py.

    .venv/bin/python -m pytest -q -p no:cacheprovider tests/test_officer_pages.py
"""
from __future__ import annotations

import itertools
import os
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import auth, cases, fees, issuing, stats, workbench
from app import schema as s
from app import workflow as wf
from app.permissions import SYSTEM
from app.supervision import recompute_warning_levels
from tests.factories import REVIEWED, advance, applicant_of, file_case
from tests.test_documents import pdf_text

ROOT = Path(__file__).resolve().parent.parent
HOTEL = "4207-GAJ-001"    # 旅馆业特种行业许可证核发: 公安 leads, 消防救援 (XFJY) and 卫健委 (WJW) give opinions
FOOD = "4207-SCJG-003"    # 食品经营许可: no co-department, two review steps (审查 → 审核)
LAND = "4207-ZRGH-005"    # 不动产登记: charges a fee (RES 80 元/件, NONRES 550 元/件, EXTRA_CERT 10 元/本)
LIANGZIHU_VILLAGE = "420702100001"  # 太和居委会, 梁子湖区: the queue test's own corner of the region tree
BASE_URL = "http://ezz.test"
_people = itertools.count(1)
DUCKDB_ONLY = pytest.mark.parametrize("seeded_db", ["duckdb"], indirect=True)
# What the officer reads after each move: "已完成：<name>" (i18n action.<name>).
ACTION_NAMES = {"claim": "领办", "accept": "受理", "request_supplement": "一次性告知补正", "refuse_intake": "不予受理",
                "start_review": "开始审查", "review_opinion": "审查意见", "suspend": "进入特别程序",
                "resume": "恢复计时", "extend": "延长期限", "approve": "准予许可", "refuse": "不予许可",
                "complete": "办结发证", "transfer": "转办", "receive_transfer": "接收转办", "assign": "指派",
                "co_opinion": "协办意见"}


# -- fixtures and helpers -------------------------------------------------------------------------------------


def page(actor, name: str, **query: str) -> AppTest:  # noqa: ANN001
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=60)
    at.session_state["ezz_actor"] = actor
    for key, value in query.items():
        at.query_params[key] = value
    return run(at)


def run(at) -> AppTest:  # noqa: ANN001
    """Run the script again (`at` is the AppTest or one of its widgets, whose run() reruns the whole app)."""
    app = at.run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def case_page(db, who: str, case: dict) -> AppTest:  # noqa: ANN001
    return page(db.actors[who], "officer_case", no=case["case_no"])


def enter(at: AppTest, kind: str, key: str, value) -> AppTest:  # noqa: ANN001
    """Type or choose a value in a field, and let the page run with it (the browser sends a field's value when it
    loses focus, before the click that follows)."""
    widget = getattr(at, kind)(key=key)
    if kind in ("text_area", "text_input"):
        widget.input(value)
    else:
        widget.set_value(value)
    return run(at)


def click(at: AppTest, key: str) -> AppTest:
    return run(at.button(key=key).click())


def texts(elements) -> list[str]:  # noqa: ANN001
    """Message texts without the Markdown escapes the page adds (fw.plain)."""
    return [e.value.replace("\\", "") for e in elements]


def done(at: AppTest, action: str) -> None:
    """The page says the move was made, and nothing was refused."""
    assert f"已完成：{ACTION_NAMES[action]}" in texts(at.success), (texts(at.success), texts(at.error))
    assert not at.error, texts(at.error)


def refused(at: AppTest, message: str) -> None:
    assert message in texts(at.error), texts(at.error)
    assert not [m for m in texts(at.success) if m.startswith("已完成")], texts(at.success)


def now(db, case: dict) -> dict:  # noqa: ANN001
    """The case as stored now."""
    return cases.get_case(db, SYSTEM, case["case_id"])


def last_event(db, case: dict) -> dict:  # noqa: ANN001
    return cases.case_events(db, SYSTEM, case["case_id"])[-1]


def metric(at: AppTest, label: str) -> str:
    return {m.label: m.value for m in at.metric}[label]


def buttons(at: AppTest) -> set[str]:
    return {b.key for b in at.button if b.key}


def submitted(db, item: str = FOOD, **kw) -> dict:  # noqa: ANN001
    a = db.actors
    return file_case(db, a["applicant"], item_code=item, applicant=applicant_of(db, a["applicant"]), **kw)


def under_review(db, item: str = FOOD, officer: str = "officer") -> dict:  # noqa: ANN001
    return advance(db, db.actors, submitted(db, item), [("accept", officer), ("start_review", officer)])


def reviewed(db) -> dict:  # noqa: ANN001
    """A 食品经营许可 case accepted by the city unit with both review opinions given: ready for a decision."""
    return advance(db, db.actors, under_review(db), REVIEWED)


def documents(db, case: dict) -> dict[str, str]:  # noqa: ANN001
    return {d["kind"]: d["doc_no"] for d in issuing.documents_of(db, SYSTEM, case["case_id"])}


# -- intake: claim, accept, supplement, refuse ---------------------------------------------------------------
def test_claim_makes_the_officer_the_holder(env):
    db = env
    case = submitted(db)
    at = case_page(db, "officer", case)
    assert "act-claim" in buttons(at)
    at = click(at, "act-claim")
    done(at, "claim")
    stored = now(db, case)
    assert stored["assigned_user_id"] == db.actors["officer"].user_id
    assert stored["version"] == case["version"] + 1 and stored["state"] == wf.SUBMITTED
    assert last_event(db, case)["action"] == "claim"
    assert "act-claim" not in buttons(at)  # held now: nothing more to claim
    assert any("经办人：市监承办" in c for c in texts(at.caption))


def test_accept_issues_the_acceptance_notice(env):
    db = env
    case = submitted(db)
    at = click(case_page(db, "officer", case), "act-accept")
    done(at, "accept")
    stored = now(db, case)
    assert stored["state"] == wf.ACCEPTED and stored["version"] == case["version"] + 1
    assert stored["accepted_unit_id"] == "U-4207-SCJG" and stored["accepted_at"] is not None
    event = last_event(db, case)
    assert (event["action"], event["from_state"], event["to_state"]) == ("accept", wf.SUBMITTED, wf.ACCEPTED)
    assert documents(db, case) == {"acceptance": f"SL-{case['case_no']}"}
    assert metric(at, "状态") == "已受理"
    assert "act-accept" not in buttons(at) and "act-start_review" in buttons(at)


def test_supplement_notice_lists_two_materials_and_a_second_one_is_warned(env):
    db = env
    case = submitted(db)
    at = case_page(db, "officer", case)
    assert "本件已发出过补正告知" not in " ".join(texts(at.warning))
    # No material chosen: refused, nothing changes.
    at = enter(at, "text_area", "sup-text", "请于收到本告知书后补正。")
    at = click(at, "sup-send")
    refused(at, "请至少选择一项需要补正的材料。")
    assert now(db, case)["version"] == case["version"]

    at = enter(at, "multiselect", "sup-materials", [2, 4])
    at = enter(at, "text_input", "sup-note-2", "营业执照复印件不清晰")
    at = click(at, "sup-send")
    done(at, "request_supplement")
    stored = now(db, case)
    assert stored["state"] == wf.AWAITING_SUPPLEMENT and stored["supplement_count"] == 1 and stored["clock_stopped"]
    event = last_event(db, case)
    assert event["payload"]["materials"] == [2, 4] and event["payload"]["notes"] == {"2": "营业执照复印件不清晰"}
    assert event["comment"] == "请于收到本告知书后补正。" and "repeat_notice" not in event["payload"]
    doc_no = documents(db, case)["supplement"]
    assert doc_no == f"BZ-{case['case_no']}"
    _, pdf = issuing.document_pdf(db, db.actors["applicant"], doc_no, BASE_URL)   # the applicant may print it
    text = pdf_text(pdf)
    assert pdf.startswith(b"%PDF") and "补正材料告知书" in text and "营业执照复印件不清晰" in text

    # The applicant answers; a second notice is possible but the page warns before it is sent.
    case = advance(db, db.actors, stored, [("supplement", "applicant", None, {"materials": [2, 4]})])
    at = case_page(db, "officer", case)
    assert any("本件已发出过补正告知" in w for w in texts(at.warning))
    at = enter(at, "multiselect", "sup-materials", [2])
    at = enter(at, "text_area", "sup-text", "营业执照仍不清晰。")
    at = click(at, "sup-send")
    done(at, "request_supplement")
    event = last_event(db, case)
    assert event["payload"]["repeat_notice"] is True and event["payload"]["supplement_number"] == 2
    assert now(db, case)["supplement_count"] == 2


def test_refuse_intake_needs_reasons(env):
    db = env
    case = submitted(db)
    at = click(case_page(db, "officer", case), "ri-send")
    refused(at, "“不予受理”必须填写理由或意见。")
    assert now(db, case)["version"] == case["version"] and now(db, case)["state"] == wf.SUBMITTED
    assert "refuse_intake" not in documents(db, case)

    at = enter(at, "text_area", "ri-reasons", "申请事项依法不需要取得行政许可")
    at = click(at, "ri-send")
    done(at, "refuse_intake")
    stored = now(db, case)
    assert stored["state"] == wf.NOT_ACCEPTED and stored["closed_at"] is not None
    assert last_event(db, case)["comment"] == "申请事项依法不需要取得行政许可"
    text = pdf_text(issuing.document_pdf(db, SYSTEM, documents(db, case)["refuse_intake"], BASE_URL)[1])
    assert "不予受理决定书" in text and "申请事项依法不需要取得行政许可" in text
    assert metric(at, "状态") == "不予受理" and not (buttons(at) & {"ri-send", "act-accept"})


# -- review, special procedure, extension ----------------------------------------------------------------------
def test_start_review_and_opinions_in_the_items_order(env):
    db = env
    case = advance(db, db.actors, submitted(db), [("accept", "officer")])
    at = click(case_page(db, "officer", case), "act-start_review")
    done(at, "start_review")
    assert now(db, case)["state"] == wf.UNDER_REVIEW and metric(at, "状态") == "审查中"

    # Only the next step is offered; 审核 before 审查 is not on the screen, and the service refuses it.
    assert at.selectbox(key="ro-step").options == ["审查"]
    with pytest.raises(cases.CaseError) as err:
        cases.perform(db, db.actors["head"], case["case_id"], "review_opinion", expected_version=now(db, case)["version"],
                      comment="同意", payload={"step": "审核"})
    assert err.value.key == "case.review_step_order"

    at = click(at, "ro-send")  # an opinion needs its text
    refused(at, "“审查意见”必须填写理由或意见。")
    at = enter(at, "text_area", "ro-text", "材料齐全，符合法定条件")
    at = click(at, "ro-send")
    done(at, "review_opinion")
    event = last_event(db, case)
    assert event["payload"]["step"] == "审查" and event["payload"]["verdict"] == "agree"
    assert event["comment"] == "材料齐全，符合法定条件" and event["actor_user_id"] == db.actors["officer"].user_id

    head = case_page(db, "head", case)
    assert head.selectbox(key="ro-step").options == ["审查", "审核"] and head.selectbox(key="ro-step").value == "审核"
    assert "审查 ✓ → 审核 → 决定" in texts(head.caption)
    head = enter(head, "radio", "ro-verdict", "agree")
    head = enter(head, "text_area", "ro-text", "同意")
    head = click(head, "ro-send")
    done(head, "review_opinion")
    assert last_event(db, case)["payload"]["step"] == "审核"
    assert workbench.case_view(db, db.actors["head"], case["case_id"])["steps_done"] == ["审查", "审核"]
    assert "审查 ✓ → 审核 ✓ → 决定" in texts(head.caption)
    assert now(db, case)["state"] == wf.UNDER_REVIEW  # opinions do not move the state


def test_suspend_with_a_reason_and_resume(env):
    db = env
    case = under_review(db)
    at = click(case_page(db, "officer", case), "sp-send")
    refused(at, "“进入特别程序”必须填写理由或意见。")
    assert now(db, case)["state"] == wf.UNDER_REVIEW

    at = enter(at, "selectbox", "sp-kind", "expert")
    at = enter(at, "text_area", "sp-text", "委托省级专家组评审经营场所布局")
    at = click(at, "sp-send")
    done(at, "suspend")
    stored = now(db, case)
    assert stored["state"] == wf.SPECIAL_PROCEDURE and stored["clock_stopped"] is True
    assert last_event(db, case)["comment"] == "专家评审：委托省级专家组评审经营场所布局"
    assert last_event(db, case)["payload"]["procedure"] == "expert"
    with db.read() as conn:
        stop = conn.execute(sa.select(s.clock_stops).where(s.clock_stops.c.case_id == case["case_id"])
                            .order_by(s.clock_stops.c.seq.desc())).fetchone()
    assert (stop.kind, stop.ended_on, stop.reason) == ("special", None, "专家评审：委托省级专家组评审经营场所布局")
    assert any("计时已暂停" in w for w in texts(at.warning))
    assert metric(at, "状态") == "特别程序" and metric(at, "期限截止") == "暂停中"

    at = click(at, "act-resume")
    done(at, "resume")
    stored = now(db, case)
    assert stored["state"] == wf.UNDER_REVIEW and stored["clock_stopped"] is False
    with db.read() as conn:
        ended = conn.execute(sa.select(s.clock_stops.c.ended_on).where(
            s.clock_stops.c.case_id == case["case_id"], s.clock_stops.c.seq == stop.seq)).scalar()
    assert ended is not None
    assert not any("计时已暂停" in w for w in texts(at.warning))


def test_extend_by_a_head_up_to_the_legal_maximum(env):
    db = env
    case = under_review(db)   # accepted by the city unit: its head may extend (食品经营许可: single, 10 days max)
    officer = case_page(db, "officer", case)
    assert "ex-send" not in buttons(officer) and not [n for n in officer.number_input if n.key == "ex-days"]

    at = case_page(db, "head", case)
    at = enter(at, "number_input", "ex-days", 6)
    at = enter(at, "text_area", "ex-text", "需现场核查多个经营场所")
    at = click(at, "ex-send")
    done(at, "extend")
    stored = now(db, case)
    assert stored["extension_days"] == 6 and stored["version"] == case["version"] + 1
    assert last_event(db, case)["payload"]["days"] == 6
    assert metric(at, "承诺时限").endswith(f"/{case['promised_days'] + 6}天")
    assert stored["promised_due"] > case["promised_due"]

    at = enter(at, "number_input", "ex-days", 5)   # 6 + 5 > 10
    at = enter(at, "text_area", "ex-text", "再次延长")
    at = click(at, "ex-send")
    refused(at, "延长期限不得超过法定上限（10个工作日）。")
    assert now(db, case)["extension_days"] == 6 and now(db, case)["version"] == stored["version"]


# -- decision and result ---------------------------------------------------------------------------------------
def test_approve(env):
    db = env
    case = reviewed(db)
    at = case_page(db, "head", case)
    assert {"dc-approve", "dc-refuse"} <= buttons(at)
    at = click(at, "dc-approve")
    done(at, "approve")
    stored = now(db, case)
    assert stored["state"] == wf.APPROVED and stored["decided_at"] is not None
    assert last_event(db, case)["actor_user_id"] == db.actors["head"].user_id
    assert metric(at, "状态") == "准予许可" and not buttons(at) & {"dc-approve", "dc-refuse"}


def test_refuse_needs_reasons(env):
    db = env
    case = reviewed(db)
    at = click(case_page(db, "head", case), "dc-refuse")
    refused(at, "“不予许可”必须填写理由或意见。")
    assert now(db, case)["state"] == wf.UNDER_REVIEW and now(db, case)["version"] == case["version"]
    at = enter(at, "text_area", "dc-text", "经营场所与食品安全要求不符")
    at = click(at, "dc-refuse")
    done(at, "refuse")
    stored = now(db, case)
    assert stored["state"] == wf.REFUSED and last_event(db, case)["comment"] == "经营场所与食品安全要求不符"

    # Completing a refusal issues the refusal decision with its reasons (and no certificate).
    at = click(case_page(db, "officer", case), "act-complete")
    done(at, "complete")
    docs = documents(db, case)
    assert "refusal" in docs and "certificate" not in docs
    assert "经营场所与食品安全要求不符" in pdf_text(issuing.document_pdf(db, SYSTEM, docs["refusal"], BASE_URL)[1])


def test_complete_issues_decision_and_certificate_which_the_applicant_downloads(env):
    db = env
    case = advance(db, db.actors, reviewed(db), [("approve", "head")])
    at = case_page(db, "officer", case)
    assert "act-complete" in buttons(at)
    at = click(at, "act-complete")
    done(at, "complete")
    stored = now(db, case)
    assert stored["state"] == wf.COMPLETED and stored["result_no"] == f"JG-{case['case_no']}"
    docs = documents(db, case)
    assert set(docs) == {"acceptance", "approval", "certificate"} and docs["certificate"] == stored["result_no"]
    # The case page lists them, each with a download.
    officer_downloads = {d.key for d in at.get("download_button")}
    assert {f"desk-doc-{no}" for no in docs.values()} <= officer_downloads
    assert all(d.proto.ignore_rerun for d in at.get("download_button"))   # a download does not rerun the page
    listed = " ".join(texts(at.markdown))
    assert "准予行政许可决定书" in listed and "证照" in listed and stored["result_no"] in listed

    # 我的办件: 已办结, the decision and the certificate listed with their downloads.
    applicant = db.actors["applicant"]
    mine = page(applicant, "my_cases", case=case["case_no"])
    assert metric(mine, "状态") == "已办结"
    downloads = {d.key: d.label for d in mine.get("download_button")}
    for kind in ("approval", "certificate"):
        assert downloads.get(f"cases-doc-{case['case_id']}-{docs[kind]}") == "下载PDF", downloads
    assert all(d.proto.ignore_rerun for d in mine.get("download_button"))
    shown = " ".join(texts(mine.markdown))
    assert f"准予行政许可决定书 · {docs['approval']}" in shown and f"证照 · {docs['certificate']}" in shown
    # What the button builds: the same document, for the applicant.
    _, pdf = issuing.document_pdf(db, applicant, docs["certificate"], BASE_URL)
    assert pdf.startswith(b"%PDF") and stored["result_no"] in pdf_text(pdf)


# -- who holds the case, transfer --------------------------------------------------------------------------------
def test_transfer_to_another_unit_and_receive_it(env):
    db = env
    case = submitted(db)     # handled by 鄂城区市场监管局 (U-420704-SCJG)
    assert case["unit_id"] == "U-420704-SCJG"
    at = case_page(db, "district_officer", case)
    assert "鄂州市市场监督管理局" in at.selectbox(key="tr-to").options   # options as shown: unit names
    at = enter(at, "selectbox", "tr-to", "U-4207-SCJG")
    at = click(at, "tr-send")
    refused(at, "“转办”必须填写理由或意见。")
    at = enter(at, "text_area", "tr-text", "跨区连锁经营，由市局统一办理")
    at = click(at, "tr-send")
    done(at, "transfer")
    stored = now(db, case)
    assert (stored["state"], stored["unit_id"], stored["assigned_user_id"]) == (wf.TRANSFERRED, "U-4207-SCJG", None)
    assert last_event(db, case)["payload"]["unit_id"] == "U-4207-SCJG"

    city = click(case_page(db, "officer", case), "act-receive_transfer")
    done(city, "receive_transfer")
    assert now(db, case)["state"] == wf.SUBMITTED and "act-accept" in buttons(city)


@DUCKDB_ONLY  # a known bug, the same on both databases: shown once
def test_only_the_receiving_unit_receives_a_transfer(env):
    db = env
    case = advance(db, db.actors, submitted(db), [("transfer", "district_officer", "由市局办理",
                                                   {"unit_id": "U-4207-SCJG"})])
    at = case_page(db, "district_officer", case)
    assert "act-receive_transfer" not in buttons(at)


def test_assign_by_a_head(env):
    db = env
    case = submitted(db)
    officer = case_page(db, "officer", case)
    assert "as-send" not in buttons(officer)   # an officer claims; only a head assigns

    at = case_page(db, "head", case)
    target = db.actors["district_officer"]
    people = at.selectbox(key="as-who").options                       # as shown: name（unit）
    assert "鄂城区市监承办（鄂城区市场监管局）" in people and not [p for p in people if "华容区" in p]
    at = enter(at, "selectbox", "as-who", target.user_id)
    at = click(at, "as-send")
    done(at, "assign")
    stored = now(db, case)
    assert stored["assigned_user_id"] == target.user_id
    assert last_event(db, case)["payload"]["assignee"] == "鄂城区市监承办"
    assert any("经办人：鄂城区市监承办" in c for c in texts(at.caption))


# -- parallel approval (并联审批) ---------------------------------------------------------------------------------
@DUCKDB_ONLY  # one case through eight moves on five screens (~25 page runs); the rules behind each are checked on
#               both databases in tests/test_workbench.py and the cheaper page tests here
def test_parallel_approval_through_the_pages(env):
    db = env
    case = advance(db, db.actors, submitted(db, HOTEL), [("accept", "gaj_officer")])
    at = click(case_page(db, "gaj_officer", case), "act-start_review")
    done(at, "start_review")

    # Each co-department gives its opinion on its own screen.
    xf = case_page(db, "xfjy_officer", case)
    xf = click(xf, "co-send")
    refused(xf, "“协办意见”必须填写理由或意见。")
    xf = enter(xf, "text_area", "co-text", "消防安全检查合格")
    xf = click(xf, "co-send")
    done(xf, "co_opinion")
    assert "co-send" not in buttons(xf) and "当前没有您可以办理的操作。" in texts(xf.caption)

    at = enter(case_page(db, "gaj_officer", case), "text_area", "ro-text", "材料齐全，符合旅馆业治安管理要求")
    done(click(at, "ro-send"), "review_opinion")
    head = enter(case_page(db, "gaj_head", case), "text_area", "ro-text", "同意")
    head = click(head, "ro-send")
    done(head, "review_opinion")

    # The lead's decision waits for 卫健委: the page names who is missing, the approval is refused.
    with db.read() as conn:
        missing = conn.execute(sa.select(s.org_units.c.name).select_from(s.parallel_tasks.join(
            s.org_units, s.org_units.c.unit_id == s.parallel_tasks.c.unit_id)).where(
            s.parallel_tasks.c.case_id == case["case_id"], s.parallel_tasks.c.state == "open")).scalar_one()
    assert "卫生健康" in missing
    assert f"尚未反馈意见的协办单位：{missing}" in texts(head.warning), texts(head.warning)
    head = click(head, "dc-approve")
    assert any(e.startswith("尚有协办部门未反馈意见") for e in texts(head.error)), texts(head.error)
    assert now(db, case)["state"] == wf.UNDER_REVIEW

    wj = enter(case_page(db, "wjw_officer", case), "radio", "co-verdict", "agree")
    wj = enter(wj, "text_area", "co-text", "公共场所卫生条件符合要求")
    done(click(wj, "co-send"), "co_opinion")
    with db.read() as conn:
        tasks = {r.dept_code: (r.state, r.opinion, r.answered_by) for r in conn.execute(
            sa.select(s.parallel_tasks).where(s.parallel_tasks.c.case_id == case["case_id"]))}
    assert tasks == {"XFJY": ("answered", "消防安全检查合格", db.actors["xfjy_officer"].user_id),
                     "WJW": ("answered", "公共场所卫生条件符合要求", db.actors["wjw_officer"].user_id)}

    head = case_page(db, "gaj_head", case)
    assert not any("尚未反馈意见的协办单位" in w for w in texts(head.warning))
    assert not [c for c in head.checkbox if c.key == "dc-override"]
    head = click(head, "dc-approve")
    done(head, "approve")
    assert now(db, case)["state"] == wf.APPROVED


def test_a_head_overrides_missing_opinions_only_with_a_reason(env):
    db = env
    case = advance(db, db.actors, under_review(db, HOTEL, officer="gaj_officer"),
                   [("co_opinion", "xfjy_officer", "消防合格"),
                    ("review_opinion", "gaj_officer", "符合", {"step": "审查"}),
                    ("review_opinion", "gaj_head", "同意", {"step": "审核"})])
    at = case_page(db, "gaj_head", case)
    at = enter(at, "checkbox", "dc-override", True)
    at = click(at, "dc-approve")
    refused(at, "未收齐协办意见而作出决定，须填写理由。")
    assert now(db, case)["state"] == wf.UNDER_REVIEW and now(db, case)["version"] == case["version"]

    at = enter(at, "text_area", "dc-text", "卫健委逾期未反馈，依法作出决定")
    at = click(at, "dc-approve")
    done(at, "approve")
    assert now(db, case)["state"] == wf.APPROVED
    event = last_event(db, case)
    assert event["payload"]["overridden_tasks"] == ["WJW"] and event["comment"] == "卫健委逾期未反馈，依法作出决定"
    with db.read() as conn:
        states = dict(conn.execute(sa.select(s.parallel_tasks.c.dept_code, s.parallel_tasks.c.state)
                                   .where(s.parallel_tasks.c.case_id == case["case_id"])).all())
    assert states == {"XFJY": "answered", "WJW": "overridden"}


@DUCKDB_ONLY  # a known bug, the same on both databases: shown once
def test_the_refusal_names_the_missing_co_department(env):
    db = env
    case = advance(db, db.actors, under_review(db, HOTEL, officer="gaj_officer"),
                   [("co_opinion", "xfjy_officer", "消防合格"), *[
                       ("review_opinion", who, "同意", {"step": step})
                       for who, step in (("gaj_officer", "审查"), ("gaj_head", "审核"))]])
    at = click(case_page(db, "gaj_head", case), "dc-approve")
    [message] = texts(at.error)
    assert message.startswith("尚有协办部门未反馈意见") and "卫生健康" in message and "WJW" not in message, message


@DUCKDB_ONLY  # a known bug, the same on both databases: shown once
def test_co_department_tasks_go_to_the_lead_units_level(env):
    db = env
    case = advance(db, db.actors, submitted(db, HOTEL), [("accept", "gaj_officer")])
    assert (case["unit_id"], case["accepted_unit_id"]) == ("U-420704-GAJ", "U-4207-GAJ")
    at = case_page(db, "gaj_officer", case)
    [tasks] = [d.value for d in at.dataframe if "协办单位" in d.value.columns]
    assert sorted(tasks["协办单位"].tolist()) == ["鄂州市卫生健康委员会", "鄂州市消防救援支队"]


# -- what each officer may see and do ------------------------------------------------------------------------------
def test_a_co_department_sees_only_its_opinion_control(env):
    db = env
    case = advance(db, db.actors, submitted(db, HOTEL), [("accept", "gaj_officer")])
    at = case_page(db, "xfjy_officer", case)
    assert "本件为其他部门发起的并联审批，您的部门只需反馈协办意见。" in texts(at.info)
    assert buttons(at) == {"co-send"}
    assert {t.key for t in at.text_area} == {"co-text"}
    assert not at.selectbox and not at.number_input and not at.multiselect
    # The applicant's identifier is masked for a department that does not handle the case.
    line = next(m for m in texts(at.markdown) if m.startswith("申请人："))
    assert "*" in line and applicant_of(db, db.actors["applicant"]).id_number not in line
    # A department with no task on the case does not find it at all.
    assert "未找到该办件。" in texts(case_page(db, "other_dept_officer", case).error)


def test_officers_of_another_district_or_department_do_not_find_the_case(env):
    db = env
    case = submitted(db)
    for who in ("other_district_officer", "other_dept_officer", "gaj_officer"):
        at = case_page(db, who, case)
        assert texts(at.error) == ["未找到该办件。"], who
        assert not at.metric and not buttons(at) and not at.get("download_button"), who
    assert texts(page(db.actors["officer"], "officer_case", no="420700-19990101-000000").error) == ["未找到该办件。"]


def test_the_city_head_does_not_decide_a_case_the_district_accepted(env):
    db = env
    case = advance(db, db.actors, submitted(db), [
        ("accept", "district_officer"), ("start_review", "district_officer"),
        ("review_opinion", "district_officer", "符合", {"step": "审查"}),
        ("review_opinion", "district_head", "同意", {"step": "审核"})])
    city = case_page(db, "head", case)
    assert not buttons(city) & {"dc-approve", "dc-refuse", "ex-send"}
    held = texts(city.caption)
    for action in ("准予许可", "不予许可", "延长期限"):
        assert f"{action}：只有受理本件的单位可以办理" in held, held
    assert any("受理单位：鄂城区市场监管局" in c for c in held)
    district = case_page(db, "district_head", case)
    assert {"dc-approve", "dc-refuse", "ex-send"} <= buttons(district)


def test_a_stale_screen_is_told_and_keeps_what_was_typed(env):
    db = env
    case = submitted(db)
    at = case_page(db, "officer", case)
    at = enter(at, "text_area", "tr-text", "拟转市局统一办理")
    # Meanwhile the head accepts the case on another screen.
    advance(db, db.actors, case, [("accept", "head")])
    at = click(at, "tr-send")
    assert "该办件已被他人更新，请刷新后重试。" in texts(at.error)
    stored = now(db, case)
    assert stored["state"] == wf.ACCEPTED and stored["unit_id"] == case["unit_id"]
    assert [e["action"] for e in cases.case_events(db, SYSTEM, case["case_id"])][-1] == "accept"
    # The screen now shows the new state; what was typed is still in its field.
    assert metric(at, "状态") == "已受理"
    assert any("受理单位：鄂州市市场监督管理局" in c for c in texts(at.caption))
    assert at.text_area(key="tr-text").value == "拟转市局统一办理"
    assert "act-accept" not in buttons(at) and "act-start_review" in buttons(at)


@DUCKDB_ONLY  # a known bug, the same on both databases: shown once
def test_a_click_sends_what_the_field_shows(env):
    db = env
    case = submitted(db)
    at = case_page(db, "officer", case)
    at.text_area(key="ri-reasons").input("申请事项依法不需要取得行政许可")  # typed, and clicked at once
    at = click(at, "ri-send")
    done(at, "refuse_intake")
    last = cases.case_events(db, SYSTEM, case["case_id"])[-1]
    assert (last["action"], last["comment"]) == ("refuse_intake", "申请事项依法不需要取得行政许可")


# -- fees --------------------------------------------------------------------------------------------------------
def _csv(*rows: str) -> bytes:
    return ("\n".join(["通知书编号,金额,缴款时间,票据号", *rows]) + "\n").encode("utf-8")


def unpaid_numbers(db, officer) -> list[str]:  # noqa: ANN001
    frame = fees.unpaid_notices(db, officer)
    return [] if frame.is_empty() else frame["notice_no"].to_list()


def reconcile(officer, data: bytes, name: str = "非税对账.csv") -> AppTest:  # noqa: ANN001
    at = page(officer, "fee_reconcile")
    at.file_uploader(key="fee-file").set_value((name, data, "text/csv"))
    at = run(at)
    return click(at, "fee-run")


def test_assess_a_fee_and_reconcile_good_and_bad_files(env):
    db = env
    officer = db.actors["other_dept_officer"]   # 自然资源和规划局 handles 不动产登记
    case = advance(db, db.actors, submitted(db, LAND), [("accept", "other_dept_officer")])
    at = case_page(db, "other_dept_officer", case)
    at = enter(at, "number_input", "fee-RES", 1)
    at = enter(at, "number_input", "fee-EXTRA_CERT", 2)
    assert metric(at, "应缴金额") == "100.00 元"
    at = click(at, "fee-send")
    assert "已核定收费并出具缴款通知书。" in texts(at.success), texts(at.error)
    [notice] = fees.notices_of(db, SYSTEM, case["case_id"])
    assert (notice["amount_fen"], notice["state"]) == (10000, "unpaid")
    assert documents(db, case)["payment"] == notice["notice_no"]
    assert last_event(db, case)["action"] == "assess_fee" and now(db, case)["version"] == case["version"] + 1
    assert "fee-send" not in buttons(at)          # one unpaid notice at a time
    assert notice["notice_no"] in unpaid_numbers(db, officer)

    # A file whose amount differs: the row is refused and listed, the notice stays unpaid.
    bad = reconcile(officer, _csv(f"{notice['notice_no']},99.00,2026-11-20 10:31:00,PJ-{case['case_id']}"))
    figures = {m.label: m.value for m in bad.metric}
    assert (figures["记录数"], figures["本次到账"], figures["拒绝"]) == ("1", "0", "1")
    assert "以下记录未被接受，请与非税收入系统核实：" in texts(bad.error)
    [listed] = [d.value for d in bad.dataframe if "拒绝原因" in d.value.columns]
    assert listed["通知书编号"].tolist() == [notice["notice_no"]]
    assert listed["拒绝原因"].tolist() == ["金额不符：通知书应缴100.00元，对账文件为99.00元。"]
    assert {"csv-refused", "xlsx-refused"} <= {d.key for d in bad.get("download_button")}   # the list, to export
    assert fees.notices_of(db, SYSTEM, case["case_id"])[0]["state"] == "unpaid"
    assert last_event(db, case)["action"] == "assess_fee"

    # The right file: the notice is paid, the payment is on the case record.
    good = reconcile(officer, _csv(f"{notice['notice_no']},100.00,2026-11-20 10:31:00,PJ-{case['case_id']}"))
    figures = {m.label: m.value for m in good.metric}
    assert (figures["本次到账"], figures["拒绝"]) == ("1", "0")
    assert "1笔缴款已核对一致并登记到账。" in texts(good.success) and not good.error
    paid = fees.notices_of(db, SYSTEM, case["case_id"])[0]
    assert (paid["state"], paid["receipt_no"], paid["paid_amount_fen"]) == ("paid", f"PJ-{case['case_id']}", 10000)
    assert last_event(db, case)["action"] == "record_payment"
    assert notice["notice_no"] not in unpaid_numbers(db, officer)


# -- the queue ---------------------------------------------------------------------------------------------------
def new_officer(db, unit_id: str):  # noqa: ANN001, ANN201
    """An officer of their own (a unit no other test's user sits in), so the queue test's counts are its own."""
    n = f"{os.getpid()}_{next(_people)}"

    def work(conn):  # noqa: ANN001, ANN202
        return auth.create_user(conn, username=f"t_q{n}", password=None, password_hash=auth.hash_password("Ezhou@2026"),
                                display_name=f"梁子湖承办{n}", role=wf.OFFICER, unit_id=unit_id)

    return auth.actor_for(db, db.write(work))


def queue_rows(at: AppTest) -> list[dict]:
    [table] = [d.value for d in at.dataframe if "办件编号" in d.value.columns]
    return table.to_dict("records")


def test_queue_counts_red_first_and_filters(env):
    db = env
    officer = new_officer(db, "U-420702-SCJG")
    a = db.actors
    red = file_case(db, a["applicant"], item_code=FOOD, region=LIANGZIHU_VILLAGE,
                    applicant=applicant_of(db, a["applicant"]), at=datetime(2026, 1, 5, 9, 0))
    green = file_case(db, a["applicant"], item_code=FOOD, region=LIANGZIHU_VILLAGE,
                      applicant=applicant_of(db, a["applicant"]))
    recompute_warning_levels(db)
    figures, counts = stats.queue_figures(db, officer), workbench.queue_counts(db, officer)
    assert figures["red"] >= 1 and figures["open"] >= 2

    at = page(officer, "home_officer")
    assert at.title[0].value == "待办工作台"
    shown = {m.label: m.value for m in at.metric}
    assert shown == {"待办件": str(figures["open"]), "黄灯预警": str(figures["yellow"]),
                     "红灯超期": str(figures["red"]), "近期到期": str(figures["due_soon"])}
    assert f"已提交 {counts['submitted']}" in " ".join(texts(at.caption))
    _, total = workbench.queue(db, officer)
    assert f"办件列表（共{total}件，按紧急程度排序）" in texts(at.subheader)
    rows = queue_rows(at)
    numbers = [r["办件编号"] for r in rows]
    assert rows[0]["预警"] == "红灯（超期）"
    assert numbers.index(red["case_no"]) < numbers.index(green["case_no"])
    ranks = [{"红灯（超期）": 0, "黄灯预警": 1}.get(r["预警"], 2) for r in rows]
    assert ranks == sorted(ranks)
    # The list's exports download without running the page again (its queries would run for nothing).
    exports = {d.key: d.proto.ignore_rerun for d in at.get("download_button")}
    assert exports == {"csv-queue": True, "xlsx-queue": True}, exports

    # Filters narrow the table: red only, then one case number.
    at = enter(at, "selectbox", "desk-f-level", "red")
    rows = queue_rows(at)
    assert {r["预警"] for r in rows} == {"红灯（超期）"} and red["case_no"] in [r["办件编号"] for r in rows]
    assert green["case_no"] not in [r["办件编号"] for r in rows]
    at = enter(at, "selectbox", "desk-f-level", "")
    at = enter(at, "text_input", "desk-f-search", green["case_no"])
    rows = queue_rows(at)
    assert [r["办件编号"] for r in rows] == [green["case_no"]]
    assert rows[0]["类别"] == "本部门" and rows[0]["状态"] == "已提交"
    assert "办件列表（共1件，按紧急程度排序）" in texts(at.subheader)


def test_co_tasks_page_shows_the_parallel_task(env):
    db = env
    case = advance(db, db.actors, submitted(db, HOTEL), [("accept", "gaj_officer")])
    with db.read() as conn:
        due = conn.execute(sa.select(s.parallel_tasks.c.due_on).where(
            s.parallel_tasks.c.case_id == case["case_id"], s.parallel_tasks.c.dept_code == "XFJY")).scalar_one()
    at = page(db.actors["xfjy_officer"], "co_tasks")
    assert at.title[0].value == "协办"
    assert at.radio(key="desk-f-kind-1").value == "co"
    at = enter(at, "text_input", "desk-f-search", case["case_no"])
    [row] = queue_rows(at)
    assert row["类别"] == "协办" and row["事项"] == "旅馆业特种行业许可证核发" and row["状态"] == "已受理"
    assert str(row["协办期限"])[:10] == due.isoformat()
    # Everything on this page is a parallel task.
    assert {r["类别"] for r in queue_rows(page(db.actors["xfjy_officer"], "co_tasks"))} == {"协办"}
    # The lead department sees the same case as its own.
    lead = enter(page(db.actors["gaj_officer"], "home_officer"), "text_input", "desk-f-search", case["case_no"])
    assert [r["类别"] for r in queue_rows(lead)] == ["本部门"]



def test_a_supervisor_reads_the_case_without_a_department_banner(env):
    db = env
    case = advance(db, db.actors, submitted(db), [("accept", "officer")])
    at = case_page(db, "supervisor", case)
    assert "本件为其他部门发起的并联审批，您的部门只需反馈协办意见。" not in texts(at.info)
    assert not buttons(at)                  # a supervisor reads, never acts
    assert case["case_no"] in " ".join(texts(at.caption) + texts(at.markdown))
