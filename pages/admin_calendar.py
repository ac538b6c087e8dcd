"""工作日历 (calendar administration): which years are official and which provisional, a year's holidays, and
loading a year's official holiday notice by hand or from a file. The rules live in app/calendar_admin.py."""
from datetime import date

import polars as pl
import streamlit as st

from app import calendar_admin, timeutil
from app import workflow as wf
from app.ui import form_widgets as fw
from app.ui import session as ui
from app.ui.widgets import grid, table

tr = ui.tr
admin = ui.require_roles(ui.actor(), wf.ADMIN)
db = ui.db()
FORM_ROWS = 9

st.title(tr("page.admin_calendar"))
st.caption(tr("calendar_admin.help"))


def status_of(official: bool) -> str:
    return tr("calendar_admin.official" if official else "calendar_admin.provisional")


def show_result(result: calendar_admin.LoadResult) -> None:
    st.success(tr("calendar_admin.loaded", year=result.year, off=result.off_days, makeup=result.makeup_days))
    a, b, c = st.columns(3)
    a.metric(tr("calendar_admin.cases_checked"), f"{result.cases_checked:,}")
    b.metric(tr("calendar_admin.cases_moved"), f"{result.cases_moved:,}")
    c.metric(tr("calendar_admin.deadlines_moved"), f"{result.deadlines_moved:,}")
    moved = [m for m in result.moved if "promised_due" in m]
    if moved:
        st.subheader(tr("calendar_admin.moved_cases"))
        table(pl.DataFrame([{
            tr("calendar_admin.col_case_no"): m["case_no"],
            tr("calendar_admin.col_promised_old"): m["promised_due"][0], tr("calendar_admin.col_promised_new"): m["promised_due"][1],
            tr("calendar_admin.col_statutory_old"): m["statutory_due"][0], tr("calendar_admin.col_statutory_new"): m["statutory_due"][1],
        } for m in moved]), f"calendar-moved-{result.year}")


def load(make_notice, replace: bool) -> None:  # noqa: ANN001
    try:
        result = calendar_admin.load_notice(db, admin, make_notice(), replace_official=replace)
    except calendar_admin.CalendarError as exc:
        st.error(fw.plain(tr(exc.key, **exc.params)))
    else:
        st.session_state["calendar_result"] = result
        st.rerun()   # the years and holidays above show the new calendar


result = st.session_state.get("calendar_result")
if result is not None:
    show_result(result)

# -- the years --------------------------------------------------------------------------------------------------
overview = calendar_admin.years_overview(db)
today = timeutil.today()
for row in overview:
    if not row["official"] and row["year"] in (today.year, today.year + 1):
        st.warning(tr("calendar_admin.provisional_warning", year=row["year"]))
st.subheader(tr("calendar_admin.years"))
grid(pl.DataFrame([{
    tr("calendar_admin.col_year"): str(r["year"]), tr("calendar_admin.col_status"): status_of(r["official"]),
    tr("calendar_admin.col_off_days"): r["off_days"], tr("calendar_admin.col_makeup_days"): r["makeup_days"],
    tr("calendar_admin.col_source"): r["source"] or "",
    tr("calendar_admin.col_loaded_at"): r["loaded_at"].strftime("%Y-%m-%d %H:%M") if r["loaded_at"] else "",
} for r in overview]))

years = [r["year"] for r in overview]
official = {r["year"]: r["official"] for r in overview}
default_year = next((y for y in sorted(years) if not official[y] and y >= today.year), today.year)
year = st.selectbox(tr("calendar_admin.year"), years, index=years.index(default_year), key="cal-year")
st.subheader(tr("calendar_admin.year_holidays", year=year, status=status_of(official[year])))
holidays = calendar_admin.year_holidays(db, year)
if holidays:
    grid(pl.DataFrame([{
        tr("calendar_admin.col_name"): h["name"],
        tr("calendar_admin.col_first_off"): h["first_off"].isoformat() if h["first_off"] else "",
        tr("calendar_admin.col_last_off"): h["last_off"].isoformat() if h["last_off"] else "",
        tr("calendar_admin.col_days_off"): h["days_off"], tr("calendar_admin.col_makeup"): h["makeup"],
    } for h in holidays]))
else:
    st.info(tr("calendar_admin.no_holidays"))

# -- loading a notice -------------------------------------------------------------------------------------------
st.subheader(tr("calendar_admin.load_title"))
by_hand, by_file = st.tabs([tr("calendar_admin.tab_form"), tr("calendar_admin.tab_file")])
with by_hand:
    with st.form("cal-form"):
        form_year = st.number_input(tr("calendar_admin.year"), min_value=calendar_admin.FIRST_YEAR,
                                    max_value=calendar_admin.LAST_YEAR, value=default_year, step=1, key="cal-form-year")
        source = st.text_input(tr("calendar_admin.source"), help=tr("calendar_admin.source_help"), key="cal-form-source")
        rows = []
        for i in range(FORM_ROWS):
            name_col, first_col, last_col, makeup_col = st.columns([2, 2, 2, 4])
            names = calendar_admin.HOLIDAY_NAMES
            rows.append({
                "name": name_col.text_input(tr("calendar_admin.name"), value=names[i] if i < len(names) else "",
                                            key=f"cal-row-{i}-name"),
                "first": first_col.date_input(tr("calendar_admin.first"), value=None, key=f"cal-row-{i}-first",
                                              min_value=date(calendar_admin.FIRST_YEAR - 1, 1, 1),
                                              max_value=date(calendar_admin.LAST_YEAR, 12, 31)),
                "last": last_col.date_input(tr("calendar_admin.last"), value=None, key=f"cal-row-{i}-last",
                                            min_value=date(calendar_admin.FIRST_YEAR - 1, 1, 1),
                                            max_value=date(calendar_admin.LAST_YEAR, 12, 31)),
                "makeup": makeup_col.text_input(tr("calendar_admin.makeup"), key=f"cal-row-{i}-makeup",
                                                placeholder="2027-02-06、2027-02-20"),
            })
        replace = st.checkbox(tr("calendar_admin.replace_official"), key="cal-form-replace")
        submitted = st.form_submit_button(tr("calendar_admin.load"), type="primary")
    if submitted:
        load(lambda: calendar_admin.notice_from_rows(int(form_year), source, rows), replace)

with by_file:
    st.caption(fw.plain(tr("calendar_admin.file_help")))
    upload = st.file_uploader(tr("calendar_admin.file"), type=["json", "csv"], key="cal-file")
    file_year = st.number_input(tr("calendar_admin.year"), min_value=calendar_admin.FIRST_YEAR,
                                max_value=calendar_admin.LAST_YEAR, value=default_year, step=1, key="cal-file-year")
    file_source = st.text_input(tr("calendar_admin.file_source"), key="cal-file-source")
    file_replace = st.checkbox(tr("calendar_admin.replace_official"), key="cal-file-replace")
    if st.button(tr("calendar_admin.load"), type="primary", key="cal-file-load"):
        if upload is None:
            st.warning(tr("calendar_admin.no_file"))
        else:
            load(lambda: calendar_admin.notice_from_file(upload.name, upload.getvalue(), year=int(file_year),
                                                         source=file_source), file_replace)
