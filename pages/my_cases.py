"""我的办件: the applicant's cases; one case (?case=<case_no>) with its state, legal clock, timeline, and what
the applicant may do now — supplement, withdraw, download the receipt or result, rate, complain.

Only the applicant's own cases can be opened: any other number, existing or not, is "未找到该办件".
"""
from datetime import date

import polars as pl
import streamlit as st

from app import applications, calendar_store, cases, timeutil
from app import workflow as wf
from app.applications import ApplicationError
from app.cases import CaseError
from app.db import StaleVersionError, WriteConflictError
from app.ui.session import tr as tx
from app.permissions import PermissionDenied
from app.ui import form_widgets as fw
from app.ui import officer as ow
from app.ui import session as ui
from app.ui.widgets import grid, table
from app.workflow import WorkflowError

actor = ui.require_roles(ui.actor(), wf.APPLICANT)
db = ui.db()

REFUSED = (ApplicationError, CaseError, WorkflowError, PermissionDenied, StaleVersionError, WriteConflictError)
INTAKE_STATES = (wf.SUBMITTED, wf.AWAITING_SUPPLEMENT, wf.TRANSFERRED)   # the 5-working-day intake window
LIMIT_STATES = (wf.ACCEPTED, wf.UNDER_REVIEW, wf.SPECIAL_PROCEDURE)     # the promised handling limit
RATING_KEYS = {5: "rating.very_satisfied", 4: "rating.satisfied", 3: "rating.basic", 2: "rating.unsatisfied",
               1: "rating.very_unsatisfied"}


# -- the actions (callbacks; each refusal is kept for the run that draws the case) ---------------------------
def attempt(do, done_key: str) -> bool:  # noqa: ANN001
    """Make the change; keep its refusal or its success for the run that draws the case."""
    try:
        do()
    except REFUSED as exc:
        st.session_state["cases_error"] = fw.explain(exc)
        return False
    st.session_state["cases_notice"] = tx(done_key)
    return True


def withdraw(case_id: int, version: int) -> None:
    if not st.session_state.get(f"cases-withdraw-ok-{case_id}"):
        st.session_state["cases_error"] = tx("cases.withdraw_confirm_first")
        return
    reason = (st.session_state.get(f"cases-withdraw-reason-{case_id}") or "").strip() or None
    attempt(lambda: applications.withdraw(db, actor, case_id, expected_version=version, reason=reason),
            "cases.withdrawn")


def rate(case_id: int, version: int) -> None:
    level = st.session_state.get(f"cases-rate-level-{case_id}")
    if level is None:
        st.session_state["cases_error"] = tx("rating.level")
        return
    comment = st.session_state.get(f"cases-rate-comment-{case_id}")
    attempt(lambda: applications.rate(db, actor, case_id, expected_version=version, level=level, comment=comment),
            "cases.rated")


def complain(case_id: int, version: int) -> None:
    content = st.session_state.get(f"cases-complaint-{case_id}") or ""
    if attempt(lambda: applications.complain(db, actor, case_id, expected_version=version, content=content),
               "cases.complained"):
        st.session_state[f"cases-complaint-{case_id}"] = ""


def supplement(case_id: int, version: int, seqs: list[int], item_code: str, item_version: int) -> None:
    prefix = f"supp-{case_id}"
    mats = [m for m in applications.item_materials(db, item_code, item_version) if m.seq in seqs]
    answers = fw.material_answers(mats, prefix)
    st.session_state.pop(f"{prefix}-problems", None)
    try:
        applications.answer_supplement(db, actor, case_id, expected_version=version, materials=answers)
    except REFUSED as exc:
        st.session_state[f"{prefix}-problems"] = getattr(exc, "problems", {})
        st.session_state["cases_error"] = fw.explain(exc)
        return
    fw.reset_uploads(prefix, mats)
    st.session_state["cases_notice"] = tx("cases.supplemented")


def open_case_from_input() -> None:
    typed = (st.session_state.get("cases-number") or "").strip()
    if typed:
        st.query_params["case"] = typed
    st.session_state["cases-number"] = ""


def open_case_from_pick() -> None:
    chosen = st.session_state.get("cases-pick")
    if chosen:
        st.query_params["case"] = chosen
    else:
        st.query_params.pop("case", None)


# -- parts of one case ---------------------------------------------------------------------------------------
def show_clock(case: dict, today: date) -> None:
    """Time used and left on the legal clock, from the stored due date (it already skips the stops)."""
    state = case["state"]
    a, b, c, d = st.columns(4)
    a.metric(tx("col.state"), tx(f"state.{state}"))
    if state == wf.DRAFT:
        st.caption(tx("cases.clock_draft"))
        return
    if state not in INTAKE_STATES + LIMIT_STATES:
        ended = case.get("closed_at") or case.get("decided_at")
        st.caption(tx("cases.clock_ended", at=f"{ended:%Y-%m-%d}" if ended else "—"))
        return
    intake = state in INTAKE_STATES
    limit = cases.INTAKE_LIMIT_DAYS if intake else case["promised_days"] + (case["extension_days"] or 0)
    due = case.get("promised_due")
    if case["clock_stopped"] or due is None:
        st.info(tx("cases.clock_stopped"))
        return
    remaining = calendar_store.load_calendar(db).working_days_between(today, due)
    b.metric(tx("cases.due"), f"{due:%Y-%m-%d}")
    c.metric(tx("cases.used"), tx("cases.days", n=max(limit - remaining, 0)))
    if remaining >= 0:
        d.metric(tx("cases.remaining"), tx("cases.days", n=remaining))
    else:
        d.metric(tx("cases.overdue"), tx("cases.days", n=-remaining))
    facts = [tx("cases.phase_intake", n=limit) if intake else tx("cases.phase_promised", n=limit)]
    if not intake and case.get("statutory_due"):
        facts.append(tx("cases.statutory_due", due=f"{case['statutory_due']:%Y-%m-%d}"))
    level = case.get("warning_level")
    if level:
        facts.append(tx("cases.level", level=tx(f"level.{level}")))
    st.caption(" ".join(facts))


def show_timeline(timeline: list[dict], names: dict[int, str]) -> None:
    def note(e: dict) -> str:
        listed = e["payload"].get("materials") if e["action"] in ("request_supplement", "supplement") else None
        parts = [e["comment"] or ""]
        if listed:
            parts.append(tx("cases.listed", names="、".join(names.get(s, str(s)) for s in listed)))
        return "；".join(p for p in parts if p)

    grid(pl.DataFrame({
        tx("cases.col_time"): [f"{e['occurred_at']:%Y-%m-%d %H:%M}" for e in timeline],
        tx("cases.col_event"): [tx(e["message_key"]) for e in timeline],
        tx("cases.col_note"): [note(e) for e in timeline],
    }, schema={tx("cases.col_time"): pl.String, tx("cases.col_event"): pl.String, tx("cases.col_note"): pl.String}))


def show_result(case: dict, timeline: list[dict]) -> None:
    if fw.document_download(db, actor, case, kind="result", key=f"cases-result-{case['case_id']}"):
        return
    # No result document to download yet: a plain result notice.
    certificate = next((e for e in applications.locker(db, actor)
                        if e["kind"] == "certificate" and e.get("certificate_no") == case.get("result_no")), None)
    if certificate:
        until = f"{certificate['expires_on']:%Y-%m-%d}" if certificate.get("expires_on") else "—"
        st.success(fw.plain(tx("cases.result_certificate", name=certificate["name"], no=certificate["certificate_no"],
                               until=until)))
    else:
        approved = any(e["action"] == "approve" for e in timeline)
        st.info(fw.plain(tx("cases.result_notice", outcome=tx("state.approved" if approved else "state.refused"),
                            no=case.get("result_no") or "—")))


def show_supplement(case: dict, names: dict[int, str]) -> None:
    notice = applications.last_supplement_request(db, actor, case["case_id"])
    seqs = sorted((notice or {}).get("payload", {}).get("materials") or [])
    st.warning(tx("cases.supplement_needed"))
    if notice and notice.get("comment"):
        st.text(notice["comment"])
    if not seqs:
        st.caption(tx("cases.supplement_no_list"))
        return
    st.caption(fw.plain(tx("cases.listed", names="、".join(names.get(s, str(s)) for s in seqs))))
    prefix = f"supp-{case['case_id']}"
    mats = [m for m in applications.item_materials(db, case["item_code"], case["item_version"]) if m.seq in seqs]
    fw.render_materials(mats, prefix, locker=applications.locker(db, actor),
                        problems=st.session_state.get(f"{prefix}-problems"), today=timeutil.today())
    st.button(tx("action.supplement"), key=f"cases-supplement-{case['case_id']}", type="primary", on_click=supplement,
              args=(case["case_id"], case["version"], seqs, case["item_code"], case["item_version"]))


def show_rating(case: dict) -> None:
    st.subheader(tx("cases.rating"))
    given = applications.rating_of(db, case["case_id"])
    if given:
        st.text(tx("cases.rated_as", level=tx(RATING_KEYS[given["level"]]),
                   at=f"{given['rated_at']:%Y-%m-%d %H:%M}"))
        if given.get("comment"):
            st.text(given["comment"])
        return
    cid = case["case_id"]
    st.radio(tx("cases.rating_level"), list(RATING_KEYS), key=f"cases-rate-level-{cid}", index=None,
             format_func=lambda level: tx(RATING_KEYS[level]), horizontal=True)
    st.text_area(tx("cases.rating_comment"), key=f"cases-rate-comment-{cid}", max_chars=500)
    st.button(tx("cases.rate"), key=f"cases-rate-{cid}", on_click=rate, args=(cid, case["version"]))


def show_withdraw(case: dict) -> None:
    cid = case["case_id"]
    with st.expander(tx("action.withdraw")):
        st.text_area(tx("cases.withdraw_reason"), key=f"cases-withdraw-reason-{cid}", max_chars=500)
        confirmed = st.checkbox(tx("cases.withdraw_confirm"), key=f"cases-withdraw-ok-{cid}")
        st.button(tx("action.withdraw"), key=f"cases-withdraw-{cid}", on_click=withdraw, args=(cid, case["version"]),
                  disabled=not confirmed)


def show_complaint(case: dict) -> None:
    cid = case["case_id"]
    with st.expander(tx("action.complain")):
        st.text_area(tx("cases.complaint_text"), key=f"cases-complaint-{cid}", max_chars=2000)
        st.button(tx("cases.complain"), key=f"cases-complain-{cid}", on_click=complain, args=(cid, case["version"]))


def show_case(case_id: int) -> None:
    case = cases.get_case(db, actor, case_id)
    timeline = applications.applicant_timeline(db, actor, case_id)
    names = {m.seq: m.name for m in applications.item_materials(db, case["item_code"], case["item_version"])}
    item_name = by_no[case["case_no"]]["item"]
    st.subheader(f"{case['case_no']} · {fw.plain(item_name)}")
    error, notice = st.session_state.pop("cases_error", None), st.session_state.pop("cases_notice", None)
    if error:
        st.error(fw.plain(error))
    if notice:
        st.success(fw.plain(notice))
    latest = tx(timeline[-1]["message_key"]) if timeline else tx("cases.draft_hint")
    st.markdown(f"**{tx('cases.latest')}**：{latest}")
    st.caption(fw.plain(tx("cases.where", channel=tx(f"channel.{case['channel']}"),
                           place=fw.region_name(db, case["region_code"]))))
    show_clock(case, timeutil.today())

    allowed = wf.allowed_actions(case["state"], wf.APPLICANT)
    if case["state"] == wf.DRAFT:
        st.info(tx("cases.draft_hint"))
        fw.page_link("apply.py", tx("cases.continue_draft"), {"case": case["case_no"]})
    if "supplement" in allowed:
        show_supplement(case, names)
    if case.get("submitted_at"):
        fw.document_download(db, actor, case, kind="receipt", key=f"cases-receipt-{case_id}")
    if case["state"] == wf.COMPLETED:
        show_result(case, timeline)
    # Notices, decisions and certificates issued on the case (受理通知书, 补正告知书, 决定书, 证照, 缴款通知书).
    st.subheader(tx("cases.documents"))
    ow.issued_documents(db, actor, case, key=f"cases-doc-{case_id}")

    st.subheader(tx("cases.timeline"))
    show_timeline(timeline, names)
    provided = applications.provided_materials(db, actor, case_id)
    if provided:
        st.subheader(tx("cases.materials"))
        grid(pl.DataFrame({
            tx("apply.col_material"): [names.get(seq, str(seq)) for seq in provided],
            tx("cases.col_file"): [p.get("file_name") or p.get("locker_name") or "—" for p in provided.values()],
        }, schema={tx("apply.col_material"): pl.String, tx("cases.col_file"): pl.String}))

    if "rate" in allowed:
        show_rating(case)
    if "withdraw" in allowed:
        show_withdraw(case)
    if "complain" in allowed:
        show_complaint(case)


# -- the screen ------------------------------------------------------------------------------------------------
st.title(tx("page.my_cases"))
mine = applications.my_cases(db, actor)
by_no = {c["case_no"]: c for c in mine}

table(pl.DataFrame([{"case_no": c["case_no"], "item": c["item"], "state": c["state"],
                     "submitted_at": f"{c['submitted_at']:%Y-%m-%d %H:%M}" if c["submitted_at"] else "",
                     "promised_due": f"{c['promised_due']:%Y-%m-%d}" if c["promised_due"] else "",
                     "warning_level": c["warning_level"]} for c in mine],
                   schema={"case_no": pl.String, "item": pl.String, "state": pl.String, "submitted_at": pl.String,
                           "promised_due": pl.String, "warning_level": pl.String}), "my_cases")

wanted = (st.query_params.get("case") or "").strip() or None
if st.session_state.get("cases-url") != wanted or "cases-pick" not in st.session_state:
    st.session_state["cases-url"] = wanted
    st.session_state["cases-pick"] = wanted if wanted in by_no else None
left, right = st.columns(2)
left.selectbox(tx("cases.pick"), list(by_no), key="cases-pick", on_change=open_case_from_pick,
               format_func=lambda no: f"{no} · {by_no[no]['item']} · {tx('state.' + by_no[no]['state'])}",
               placeholder=tx("cases.pick_hint"))
right.text_input(tx("cases.number"), key="cases-number", on_change=open_case_from_input,
                 placeholder=tx("cases.number_hint"))

if wanted:
    if wanted in by_no:
        try:
            show_case(by_no[wanted]["case_id"])
        except CaseError as exc:
            st.error(fw.plain(fw.explain(exc)))
    else:
        st.error(tx("case.not_found"))
