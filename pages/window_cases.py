"""本窗口办件: the cases this clerk registered at the window (the scope app.permissions gives a clerk), with
state and due date, exportable; one case's record and its receipt on request."""
import polars as pl
import streamlit as st

from app import cases, i18n, stats
from app import workflow as wf
from app.ui import form_widgets as fw
from app.ui import session as ui
from app.ui.widgets import grid, table

LIMIT = 1000


def tr(key: str, **params: object) -> str:
    return i18n.t(key, ui.lang(), **params)


actor = ui.require_roles(ui.actor(), wf.WINDOW_CLERK)
db = ui.db()

st.title(tr("page.window_cases"))
st.caption(tr("app.unit", unit=actor.unit_name or actor.unit_id or ""))
st.caption(tr("wcases.intro"))

frame = stats.recent_cases(db, actor, limit=LIMIT)
listed = cases.list_cases(db, actor, limit=LIMIT)  # the same scope and order; it adds the applicant's name
if listed and not frame.is_empty():
    names = pl.DataFrame({"case_no": [c["case_no"] for c in listed],
                          "applicant_name": [c["applicant_name"] for c in listed]})
    frame = frame.join(names, on="case_no", how="left").select(
        "case_no", "item", "applicant_name", "state", "submitted_at", "promised_due", "warning_level")

present = [s for s in wf.STATES if not frame.is_empty() and s in set(frame["state"].to_list())]
chosen = st.multiselect(tr("wcases.filter_state"), present, format_func=lambda s: tr(f"state.{s}"),
                        placeholder=tr("intake.choose"), key="wc_states")
if chosen:
    frame = frame.filter(pl.col("state").is_in(chosen))
table(frame, "window_cases")

if frame.is_empty():
    st.stop()
st.subheader(tr("wcases.detail"))
case_no = st.selectbox(tr("wcases.choose_case"), frame["case_no"].to_list(), index=None,
                       placeholder=tr("intake.choose"), key="wc_case")
if case_no is None:
    st.stop()
case = next(c for c in listed if c["case_no"] == case_no)
events = cases.case_events(db, actor, case["case_id"])  # refuses a case outside this clerk's scope
st.caption(tr("wcases.events"))
grid(
    pl.DataFrame({tr("wcases.col_time"): [str(e["occurred_at"]) for e in events],
                  tr("wcases.col_action"): [tr(f"action.{e['action']}") for e in events],
                  tr("col.state"): [tr(f"state.{e['to_state']}") if e["to_state"] else "" for e in events]}))

if case["state"] != wf.DRAFT and not fw.document_download(db, actor, case, kind="receipt", key="wc_receipt"):
    st.info(tr("wcases.receipt_unavailable"))
