"""进度查询 (public): a case's progress by case number and the last four characters of the applicant's
identifier. The receipt's QR code opens this page with the case number filled in."""
import streamlit as st

from app import lookup
from app.ui import session as ui
from app.ui.widgets import grid

tr = ui.tr

st.title(tr("page.lookup"))
st.caption(tr("lookup.intro"))
with st.form("lookup"):
    case_no = st.text_input(tr("col.case_no"), value=st.query_params.get("case", ""), key="lookup_case")
    tail = st.text_input(tr("lookup.id_tail"), max_chars=4, key="lookup_tail")
    asked = st.form_submit_button(tr("lookup.submit"), type="primary")

if asked:
    try:
        client = getattr(st.context, "ip_address", None) or ""
        result = lookup.progress(ui.db(), case_no, tail, client=str(client))
    except lookup.LookupRefused as exc:
        st.error(tr(exc.key))
    else:
        st.subheader(result.item_name)
        st.text(f"{tr('col.case_no')}：{result.case_no}")
        a, b, c = st.columns(3)
        a.metric(tr("col.state"), tr(f"state.{result.state}"))
        b.metric(tr("col.submitted_at"), f"{result.submitted_at:%Y-%m-%d}" if result.submitted_at else "—")
        c.metric(tr("col.due"), f"{result.promised_due:%Y-%m-%d}" if result.promised_due else "—")
        st.text(tr("lookup.unit", unit=result.unit_name))
        grid([{tr("lookup.when"): f"{s['occurred_at']:%Y-%m-%d %H:%M}", tr("lookup.step"): tr(f"action.{s['action']}"),
               tr("col.state"): tr(f"state.{s['state']}")} for s in result.steps])
