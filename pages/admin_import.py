"""数据导入 (植入, domain.md §10): the administrator uploads an old system's export files, chooses the source
system, runs the import with a progress bar and reads the report — every row read, imported or rejected with
its reason — with CSV and Excel downloads. The rules live in app/legacy_import.py."""
import polars as pl
import streamlit as st

from app import legacy_import, legacy_report
from app import workflow as wf
from app.ui import form_widgets as fw
from app.ui import session as ui
from app.ui.widgets import XLSX, grid

tr = ui.tr
admin = ui.require_roles(ui.actor(), wf.ADMIN)
db = ui.db()
lang = ui.lang()

st.title(tr("page.admin_import"))
st.caption(tr("import.help"))
systems = legacy_import.systems()
if not systems:
    st.info(tr("import.no_systems"))
    st.stop()
system = st.selectbox(tr("import.system"), list(systems), format_func=lambda k: f"{systems[k]}（{k}）",
                      key="import-system")
uploads = st.file_uploader(tr("import.files"), type=["csv", "xlsx"], accept_multiple_files=True, key="import-files")

# Where each stage of the run sits on the bar: reading is quick, checking and writing take the time.
_SPAN = {"read": (0.0, 0.05), "check": (0.05, 0.45), "write": (0.5, 0.5)}

if st.button(tr("import.run"), type="primary", key="import-run"):
    if not uploads:
        st.warning(tr("import.no_files"))
    else:
        bar = st.progress(0.0, text=tr("import.working"))

        def show(stage: str, done: int, total: int) -> None:
            start, width = _SPAN[stage]
            bar.progress(min(1.0, start + width * done / max(total, 1)),
                         text=tr(f"import.stage_{stage}", done=f"{done:,}", total=f"{total:,}"))

        try:
            result = legacy_import.run_import(
                db, system, [legacy_import.Source(u.name, u.getvalue()) for u in uploads],
                user_id=admin.user_id, username=admin.username, progress=show)
        except legacy_import.ImportConfigError as exc:
            st.error(fw.plain(tr(exc.key, **exc.params)))
        else:
            st.session_state["import_result"] = result
        bar.empty()

result = st.session_state.get("import_result")
if result is not None:
    counts = result.counts()
    a, b, c, d = st.columns(4)
    a.metric(tr("import.rows_read"), counts["rows_read"])
    b.metric(tr("import.imported"), counts["imported"])
    c.metric(tr("import.rejected"), counts["rejected"])
    d.metric(tr("import.cases_imported"), counts["cases_imported"])
    st.caption(fw.plain(tr("import.summary", system=result.title, **{k: f"{v:,}" for k, v in counts.items()})))
    if result.clean:
        st.success(tr("import.all_imported"))
    else:
        st.warning(tr("import.some_rejected", n=counts["rejected"] - counts["already_imported"]))
    left, right = st.columns(2)
    with left:
        st.subheader(tr("import.by_file"))
        grid(legacy_report.headed(legacy_report.file_summary(result, lang), lang))
    with right:
        st.subheader(tr("import.by_reason"))
        grid(legacy_report.headed(legacy_report.reason_counts(result, lang), lang))
    st.subheader(tr("import.report"))
    frame = legacy_report.report_frame(result, lang)
    if st.toggle(tr("import.only_rejected"), key="import-only-rejected"):
        frame = frame.filter(pl.col("reason") != "")
    # st.dataframe never renders cell text as HTML: old names and comments show as they were typed.
    grid(legacy_report.headed(frame, lang))
    stem = f"import_{result.system}_{result.started_at:%Y%m%d_%H%M%S}"
    left, right = st.columns(2)
    left.download_button(tr("export.csv"), lambda: legacy_report.report_bytes(result, "csv", lang), f"{stem}.csv",
                         "text/csv", key="import-csv", on_click="ignore")
    right.download_button(tr("export.xlsx"), lambda: legacy_report.report_bytes(result, "xlsx", lang),
                          f"{stem}.xlsx", XLSX, key="import-xlsx", on_click="ignore")
