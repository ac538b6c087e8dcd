"""办件记录核验 (supervisor): re-verify the hash-chained case record — every case, or the cases named — and list
any event changed, removed or slipped in, with the case one click away."""
import polars as pl
import streamlit as st

from app import record_check, workbench
from app import workflow as wf
from app.ui import session as ui
from app.ui.widgets import table

tr = ui.tr
actor = ui.require_roles(ui.actor(), wf.SUPERVISOR, wf.ADMIN)
db = ui.db()

st.title(tr("page.record_check"))
st.caption(tr("record.intro"))
number = st.text_input(tr("record.case_no"), key="rc-case", max_chars=40).strip()
if st.button(tr("record.run"), key="rc-run", type="primary"):
    ids = None
    if number:
        case_id = workbench.find_case(db, actor, number)
        ids = [case_id] if case_id is not None else []
        if case_id is None:
            st.error(tr("case.not_found"))
    if ids is None or ids:
        bar = st.progress(0.0, text=tr("record.working"))
        n_cases, n_events, problems = record_check.verify(
            db, case_ids=ids, progress=lambda done, total: bar.progress(done / max(total, 1), text=tr("record.working")))
        bar.empty()
        st.session_state["rc-result"] = (n_cases, n_events, problems)

result = st.session_state.get("rc-result")
if result is not None:
    n_cases, n_events, problems = result
    (st.success if not problems else st.error)(
        tr("record.ok" if not problems else "record.bad", cases=f"{n_cases:,}", events=f"{n_events:,}",
           problems=len(problems)))
    if problems:
        table(pl.DataFrame([{"case_no": p.case_no, tr("record.seq"): p.seq, tr("record.problem"): tr(f"record.{p.problem}")}
                            for p in problems]), "record_problems")
