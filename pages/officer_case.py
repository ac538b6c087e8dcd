"""办件详情 (?no=<case number>): one case on one screen — who applied, what they answered, the materials, the legal
clock, the timeline, parallel opinions, documents, fees, the applicant's other cases — and only the moves the
workflow and the rules allow this officer now. Every move goes through app/ (cases.perform, fees.assess)."""
import polars as pl
import streamlit as st

from app import cases, fees, workbench
from app import workflow as wf
from app.ui import form_widgets as fw
from app.ui import officer as ow
from app.ui import session as ui
from app.ui.widgets import grid, table

tr = ui.tr
actor = ui.require_roles(ui.actor(), wf.OFFICER, wf.HEAD, wf.SUPERVISOR)  # a supervisor reads, never acts
db = ui.db()
SIMPLE = ("claim", "accept", "start_review", "resume", "complete", "receive_transfer")
PROCEDURES = ("hearing", "expert", "testing", "inspection", "publicity", "other")

fw.page_link("home_officer.py", tr("desk.back"))
number = (st.query_params.get("no") or "").strip()
typed = st.text_input(tr("desk.case_no"), value=number, key="case-no-input", max_chars=40)
if typed.strip() and typed.strip() != number:
    st.query_params["no"] = typed.strip()
    st.rerun()
if not number:
    st.info(tr("desk.pick_case"))
    st.stop()
case_id = workbench.find_case(db, actor, number)
if case_id is None:
    st.error(tr("case.not_found"))
    st.stop()

view = workbench.case_view(db, actor, case_id)
case, item = view["case"], view["item"]
allowed, held = view["actions"]
version = case["version"]


def move(action: str, done_key: str = "desk.done", comment: str | None = None, payload: dict | None = None) -> None:
    ow.run(lambda: cases.perform(db, actor, case_id, action, expected_version=version, comment=comment,
                                 payload=payload), done_key, action=tr(f"action.{action}"))


st.title(fw.plain(f"{item['name']}"))
st.caption(fw.plain(f"{case['case_no']} · {view['unit_name']} · {view['region_name']}"))
ow.outcome()
if not view["lead"] and actor.role in (wf.OFFICER, wf.HEAD):   # a supervisor only reads; no department role
    st.info(tr("desk.co_banner"))

clock = view["clock"]
m1, m2, m3, m4 = st.columns(4)
m1.metric(tr("col.state"), tr(f"state.{case['state']}"))
if clock.get("phase") in ("intake", "handling"):
    m2.metric(tr(f"desk.clock_{clock['phase']}"), tr("desk.used_of", used=clock["used"], limit=clock["limit"]))
    m3.metric(tr("desk.remaining"), clock["remaining"], help=tr("desk.remaining_help"))
    m4.metric(tr("col.due"), str(clock["due"] or tr("desk.stopped")))
    if clock["stopped"]:
        st.warning(tr("desk.clock_stopped"))
    if clock["level"] in ("yellow", "red"):
        (st.error if clock["level"] == "red" else st.warning)(tr(f"desk.level_{clock['level']}_{clock['phase']}"))
else:
    m2.metric(tr("desk.clock"), tr(f"desk.clock_{clock.get('phase', 'none')}"))
st.caption(tr("desk.holder_line", holder=view["holder"] or tr("desk.nobody"),
              accepted=view["accepted_unit_name"] or "—"))

# -- the moves allowed now ---------------------------------------------------------------------------------------
st.subheader(tr("desk.actions"))
if not allowed:
    st.caption(tr("desk.no_actions"))
buttons = [a for a in allowed if a in SIMPLE]
if buttons:
    for col, action in zip(st.columns(len(buttons)), buttons):
        col.button(tr(f"action.{action}"), key=f"act-{action}", on_click=move, args=(action,),
                   type="primary" if action in ("accept", "complete") else "secondary")
for action, why in held.items():
    st.caption(fw.plain(f"{tr(f'action.{action}')}：{tr(why)}"))

materials = {m["seq"]: m["name"] for m in view["materials"]}


# The callbacks read what the fields hold at the moment of the click (st.session_state), never the values of
# the run that drew the button: a click straight after typing must send what the officer sees.
def val(key: str, default=None):  # noqa: ANN001, ANN201
    return st.session_state.get(key, default)


def form_move(action: str, comment_key: str | None, payload=None) -> None:  # noqa: ANN001
    st.session_state["desk_open"] = action   # the section stays open to show the outcome and what was typed
    comment = (val(comment_key) or "") if comment_key else None
    if action == "approve" and not (comment or "").strip():
        comment = None   # an approval's comment is optional
    move(action, comment=comment, payload=payload() if callable(payload) else payload)


def opened(action: str, default: bool = False) -> bool:
    return st.session_state.get("desk_open") == action or default


def decision_payload() -> dict | None:
    return {"override": True} if val("dc-override") else None


def send_fees() -> None:
    st.session_state["desk_open"] = "assess_fee"
    quantities = {line["fee_code"]: int(val(f"fee-{line['fee_code']}") or 0) for line in view["fee_standards"]}
    ow.run(lambda: fees.assess(db, actor, case_id, expected_version=version, quantities=quantities),
           "desk.fee_assessed")


def send_suspend() -> None:
    st.session_state["desk_open"] = "suspend"
    kind, why = val("sp-kind"), (val("sp-text") or "").strip()
    move("suspend", comment=f"{tr(f'procedure.{kind}')}：{why}" if why else "", payload={"procedure": kind})


if "request_supplement" in allowed:
    with st.expander(tr("action.request_supplement"), expanded=opened("request_supplement")):
        if case["supplement_count"] >= 1:
            st.warning(tr("desk.repeat_notice_warning"))
        chosen = st.multiselect(tr("desk.supplement_materials"), list(materials), format_func=materials.get,
                                key="sup-materials", placeholder=tr("common.choose_many"))
        for seq in chosen:
            st.text_input(tr("desk.supplement_note", name=materials[seq]), key=f"sup-note-{seq}", max_chars=200)
        st.text_area(tr("desk.supplement_text"), key="sup-text", max_chars=1000)
        st.button(tr("desk.send_notice"), key="sup-send", on_click=form_move, args=(
            "request_supplement", "sup-text", lambda: {
                "materials": list(val("sup-materials") or []),
                "notes": {str(s): val(f"sup-note-{s}") or "" for s in val("sup-materials") or []}}))

if "refuse_intake" in allowed:
    with st.expander(tr("action.refuse_intake"), expanded=opened("refuse_intake")):
        st.text_area(tr("desk.reasons"), key="ri-reasons", max_chars=1000)
        st.caption(tr("desk.remedy_added"))
        st.button(tr("action.refuse_intake"), key="ri-send", on_click=form_move, args=("refuse_intake", "ri-reasons"))

if "review_opinion" in allowed:
    with st.expander(tr("action.review_opinion"), expanded=opened("review_opinion", case["state"] == wf.UNDER_REVIEW)):
        steps, done = view["review_steps"], view["steps_done"]
        st.caption(" → ".join(f"{s}{' ✓' if s in done else ''}" for s in steps) + f" → {tr('desk.decision')}")
        next_step = next((s for s in steps if s not in done), steps[-1])
        offered = [s for s in steps if s in done or s == next_step]
        st.selectbox(tr("desk.step"), offered, index=offered.index(next_step), key="ro-step", placeholder=tr("common.choose"))
        st.radio(tr("desk.verdict"), ["agree", "disagree"], format_func=lambda v: tr(f"verdict.{v}"),
                 horizontal=True, key="ro-verdict")
        st.text_area(tr("desk.opinion"), key="ro-text", max_chars=2000)
        st.button(tr("desk.save_opinion"), key="ro-send", on_click=form_move, args=(
            "review_opinion", "ro-text", lambda: {"step": val("ro-step"), "verdict": val("ro-verdict")}))

if "co_opinion" in allowed:
    with st.expander(tr("action.co_opinion"), expanded=True):
        st.radio(tr("desk.verdict"), ["agree", "disagree"], format_func=lambda v: tr(f"verdict.{v}"),
                 horizontal=True, key="co-verdict")
        st.text_area(tr("desk.opinion"), key="co-text", max_chars=2000)
        st.button(tr("desk.send_co_opinion"), key="co-send", type="primary", on_click=form_move, args=(
            "co_opinion", "co-text", lambda: {"verdict": val("co-verdict")}))

if "suspend" in allowed:
    with st.expander(tr("action.suspend"), expanded=opened("suspend")):
        st.selectbox(tr("desk.procedure"), PROCEDURES, format_func=lambda v: tr(f"procedure.{v}"), key="sp-kind")
        st.text_area(tr("desk.reasons"), key="sp-text", max_chars=1000)
        st.button(tr("action.suspend"), key="sp-send", on_click=send_suspend)

if "extend" in allowed:
    with st.expander(tr("action.extend"), expanded=opened("extend")):
        st.number_input(tr("desk.extend_days"), min_value=1, max_value=15, value=5, step=1, key="ex-days")
        st.text_area(tr("desk.reasons"), key="ex-text", max_chars=1000)
        st.button(tr("action.extend"), key="ex-send", on_click=form_move, args=(
            "extend", "ex-text", lambda: {"days": int(val("ex-days") or 0)}))

if "approve" in allowed or "refuse" in allowed:
    decide_open = opened("approve") or opened("refuse", case["state"] == wf.UNDER_REVIEW and not held)
    with st.expander(tr("desk.decide"), expanded=decide_open):
        pending = [t for t in view["tasks"] if t["state"] == "open"]
        if pending:
            st.warning(tr("desk.pending_tasks", depts="、".join(t["unit_name"] for t in pending)))
            st.checkbox(tr("desk.override"), key="dc-override")
        st.text_area(tr("desk.decision_text"), key="dc-text", max_chars=2000)
        d1, d2 = st.columns(2)
        if "approve" in allowed:
            d1.button(tr("action.approve"), key="dc-approve", type="primary", on_click=form_move,
                      args=("approve", "dc-text", decision_payload))
        if "refuse" in allowed:
            d2.button(tr("action.refuse"), key="dc-refuse", on_click=form_move,
                      args=("refuse", "dc-text", decision_payload))

if "transfer" in allowed:
    with st.expander(tr("action.transfer"), expanded=opened("transfer")):
        targets = dict(workbench.transfer_targets(db, actor, case))
        if targets:
            st.selectbox(tr("desk.transfer_to"), list(targets), format_func=targets.get, key="tr-to")
            st.text_area(tr("desk.reasons"), key="tr-text", max_chars=1000)
            st.button(tr("action.transfer"), key="tr-send", on_click=form_move, args=(
                "transfer", "tr-text", lambda: {"unit_id": val("tr-to")}))
        else:
            st.caption(tr("desk.no_transfer_target"))

if "assign" in allowed:
    with st.expander(tr("action.assign"), expanded=opened("assign")):
        people = dict(workbench.assignable_officers(db, actor, case))
        st.selectbox(tr("desk.assign_to"), list(people), format_func=people.get, key="as-who")
        st.button(tr("action.assign"), key="as-send", on_click=form_move, args=(
            "assign", None, lambda: {"user_id": val("as-who")}))

if "assess_fee" in allowed:
    with st.expander(tr("action.assess_fee"), expanded=opened("assess_fee")):
        total = 0
        for line in view["fee_standards"]:
            qty = st.number_input(tr("desk.fee_line", name=line["name"], price=fees.yuan(line["unit_amount_fen"]),
                                     unit=line["unit_label"]),
                                  min_value=0, max_value=fees.MAX_QUANTITY, value=0, step=1,
                                  key=f"fee-{line['fee_code']}")
            total += line["unit_amount_fen"] * int(qty)
        st.metric(tr("desk.fee_total"), tr("desk.yuan", amount=fees.yuan(total)))
        st.button(tr("desk.issue_payment_notice"), key="fee-send", on_click=send_fees)

# -- the case ----------------------------------------------------------------------------------------------------
tabs = st.tabs([tr("desk.tab_applicant"), tr("desk.tab_materials"), tr("desk.tab_timeline"), tr("desk.tab_parallel"),
                tr("desk.tab_documents"), tr("desk.tab_fees"), tr("desk.tab_related")])
with tabs[0]:
    st.write(fw.plain(tr("desk.applicant_line", name=case["applicant_name"], id=view["applicant_id"],
                         channel=tr(f"channel.{case['channel']}"))))
    if view["answers"]:
        grid(pl.DataFrame(view["answers"], schema=[tr("desk.field"), tr("desk.answer")], orient="row"))
with tabs[1]:
    for m in view["materials"]:
        label = f"{m['seq']}. {m['name']}" + ("" if m.get("file_id") or m.get("locker_id") else f" — {tr('desk.not_given')}")
        with st.expander(fw.plain(label)):
            if m.get("certificate_no"):
                st.caption(fw.plain(tr("desk.from_certificate", no=m["certificate_no"])))
            if m.get("file_id") and st.toggle(tr("desk.preview"), key=f"pv-{m['seq']}"):
                ow.material_preview(db, actor, int(m["file_id"]), key=f"pv-{m['seq']}")
with tabs[2]:
    st.caption(" · ".join(f"{tr('stop.' + s['kind'])} {s['started_on']}–{s['ended_on'] or tr('desk.now')}"
                          + (f"（{s['reason']}）" if s["reason"] else "") for s in view["stops"]) or tr("desk.no_stops"))
    timeline = pl.DataFrame([{"time": e["occurred_at"], "action": tr(f"action.{e['action']}"),
                              "who": e["actor_name"], "unit": e["unit_name"],
                              "from": tr(f"state.{e['from_state']}") if e["from_state"] else "",
                              "to": tr(f"state.{e['to_state']}"), "comment": e["comment"] or ""}
                             for e in view["timeline"]])
    grid(timeline.rename({k: tr(f"desk.tl_{k}") for k in timeline.columns}))
with tabs[3]:
    if view["tasks"]:
        grid(pl.DataFrame([{
            tr("desk.co_unit"): t["unit_name"], tr("col.state"): tr(f"task.{t['state']}"),
            tr("col.due"): t["due_on"], tr("desk.verdict"): tr(f"verdict.{t['verdict']}") if t["verdict"] else "",
            tr("desk.opinion"): t["opinion"] or "", tr("desk.tl_who"): t["answered_by_name"]} for t in view["tasks"]]))
    else:
        st.caption(tr("desk.no_tasks"))
with tabs[4]:
    ow.issued_documents(db, actor, case, key="desk-doc")
with tabs[5]:
    if view["fee_notices"]:
        grid(pl.DataFrame([{
            tr("fee.notice_no"): n["notice_no"], tr("fee.amount"): fees.yuan(n["amount_fen"]),
            tr("col.state"): tr(f"fee.state_{n['state']}"), tr("col.due"): n["due_on"],
            tr("fee.receipt_no"): n["receipt_no"] or ""} for n in view["fee_notices"]]))
    else:
        st.caption(tr("desk.no_fees") if item["charges_fee"] else tr("desk.free_item"))
with tabs[6]:
    related = view["related"]
    table(pl.DataFrame(related).drop("case_id") if related else pl.DataFrame(), "related")
