"""收费对账: upload the reconciliation file exported by the non-tax revenue system (CSV: notice number, amount,
paid at, receipt number); good rows mark their payment notices paid, every other row is refused and listed
with its reason. The department's unpaid notices are listed below."""
import polars as pl
import streamlit as st

from app import fees
from app import workflow as wf
from app.ui import form_widgets as fw
from app.ui import session as ui
from app.ui.widgets import export_buttons, grid, table

tr = ui.tr
actor = ui.require_roles(ui.actor(), wf.OFFICER, wf.HEAD)
db = ui.db()

st.title(tr("page.fees"))
st.caption(tr("fee.help"))
upload = st.file_uploader(tr("fee.file"), type=["csv"], key="fee-file")
if upload is not None and st.button(tr("fee.reconcile"), key="fee-run", type="primary"):
    bar = st.progress(0.0, text=tr("fee.working"))
    try:
        report = fees.reconcile(db, actor, upload.name, upload.getvalue(),
                                progress=lambda n, total: bar.progress(n / max(total, 1), text=tr("fee.working")))
    except fees.FeeError as exc:
        st.error(fw.plain(fw.explain(exc)))
    else:
        st.session_state["fee_report"] = report
    bar.empty()

report = st.session_state.get("fee_report")
if report is not None:
    a, b, c, d = st.columns(4)
    a.metric(tr("fee.rows"), report.rows_total)
    b.metric(tr("fee.paid"), len(report.paid))
    c.metric(tr("fee.already"), len(report.already))
    d.metric(tr("fee.refused"), len(report.refused))
    if report.refused:
        st.error(tr("fee.refused_help"))
        refused = pl.DataFrame([{tr("fee.line"): r["line"], tr("fee.notice_no"): r["notice_no"],
                                 tr("fee.reason"): fw.message(r["reason"], r)} for r in report.refused])
        grid(refused)
        export_buttons(refused, "refused")
    if report.paid:
        st.success(tr("fee.paid_help", n=len(report.paid)))

st.subheader(tr("fee.unpaid_title"))
table(fees.unpaid_notices(db, actor), "unpaid_notices")
