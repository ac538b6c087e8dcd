"""The queue screen (待办, and 协办 — the same queue with the parallel tasks preselected): my department's cases in
my unit's subtree and the parallel tasks sent to my department, most urgent first; filters; open one case."""
from datetime import date

import plotly.express as px
import polars as pl
import streamlit as st

from app import stats, workbench
from app import workflow as wf
from app.ui import officer as ow
from app.ui import session as ui
from app.ui.form_widgets import PAGES_DIR
from app.ui.widgets import export_buttons, grid

tr = ui.tr
CASE_PAGE = PAGES_DIR / "officer_case.py"


def draw_queue(co_only: bool = False) -> None:
    actor = ui.require_roles(ui.actor(), wf.OFFICER, wf.HEAD)
    db = ui.db()
    st.session_state.setdefault("desk-page", 1)
    st.title(tr("page.co_tasks" if co_only else ("page.home_head" if actor.role == wf.HEAD else "page.home_officer")))
    st.caption(tr("app.unit", unit=actor.unit_name or actor.unit_id or ""))

    q = stats.queue_figures(db, actor)
    a, b, c, d = st.columns(4)
    a.metric(tr("home.queue"), q["open"])
    b.metric(tr("home.yellow"), q["yellow"])
    c.metric(tr("home.red"), q["red"])
    d.metric(tr("home.due_soon"), q["due_soon"])

    counts = workbench.queue_counts(db, actor)
    if counts:
        st.caption(" · ".join(f"{tr('state.' + s)} {n}" for s, n in counts.items()))

    choices = workbench.queue_choices(db, actor)
    with st.expander(tr("desk.filters"), expanded=False):
        f1, f2, f3 = st.columns(3)
        states = f1.multiselect(tr("col.state"), list(workbench.QUEUE_STATES), format_func=lambda v: tr(f"state.{v}"),
                                key="desk-f-state", placeholder=tr("common.choose_many"))
        item_names = dict(choices["items"])
        item = f2.selectbox(tr("col.item"), [""] + list(item_names), format_func=lambda v: item_names.get(v, tr("desk.any")),
                            key="desk-f-item")
        region_names = dict(choices["regions"])
        region = f3.selectbox(tr("desk.region"), [""] + list(region_names),
                              format_func=lambda v: region_names.get(v, tr("desk.any")), key="desk-f-region")
        f4, f5, f6 = st.columns(3)
        channel = f4.selectbox(tr("desk.col_channel"), ["", "online", "window"],
                               format_func=lambda v: tr(f"channel.{v}") if v else tr("desk.any"), key="desk-f-channel")
        warning = f5.selectbox(tr("col.level"), ["", "red", "yellow", "green"],
                               format_func=lambda v: tr(f"level.{v}") if v else tr("desk.any"), key="desk-f-level")
        due_by = f6.date_input(tr("desk.due_by"), value=None, key="desk-f-due")
        f7, f8, f9 = st.columns(3)
        holder = f7.radio(tr("desk.holder"), ["all", "mine", "unassigned"], format_func=lambda v: tr(f"desk.holder_{v}"),
                          horizontal=True, key="desk-f-holder")
        kinds = f8.radio(tr("desk.col_kind"), ["all", "own", "co"], index=2 if co_only else 0,
                         format_func=lambda v: tr(f"desk.kind_{v}"), horizontal=True, key=f"desk-f-kind-{int(co_only)}")
        search = f9.text_input(tr("desk.search"), key="desk-f-search", max_chars=40)

    flt = workbench.QueueFilter(states=states, item_code=item or None, region_prefix=region or None,
                                channel=channel or None, warning=warning or None,
                                due_by=due_by if isinstance(due_by, date) else None, holder=holder,
                                co_tasks=kinds, search=search)
    page = int(st.session_state["desk-page"])
    frame, total = workbench.queue(db, actor, flt, page=page - 1)
    if frame.is_empty() and page > 1:  # the filters left fewer pages: back to the first
        st.session_state["desk-page"] = page = 1
        frame, total = workbench.queue(db, actor, flt, page=0)
    pages = max(1, -(-total // workbench.PAGE_SIZE))

    st.subheader(tr("desk.queue_title", total=total))
    shown = ow.queue_table(frame)
    if shown.is_empty():
        st.info(tr("home.no_cases"))
    else:
        picked = grid(shown, on_select="rerun", selection_mode="single-row", key="desk-table")
        rows = picked.selection.rows if picked and hasattr(picked, "selection") else []
        if rows:
            st.switch_page(CASE_PAGE, query_params={"no": frame["case_no"][rows[0]]})
        left, mid, right = st.columns([2, 1, 1])
        numbers = frame["case_no"].to_list()
        chosen = left.selectbox(tr("desk.open_case"), numbers, key="desk-open-no", label_visibility="collapsed")
        if mid.button(tr("desk.open"), key="desk-open", type="primary"):
            st.switch_page(CASE_PAGE, query_params={"no": chosen})
        right.number_input(tr("desk.page", pages=pages), min_value=1, max_value=pages, step=1, key="desk-page")
        export_buttons(shown, "queue")

    if actor.role == wf.HEAD and counts:
        with st.expander(tr("desk.unit_figures")):
            figures = pl.DataFrame({"state": [tr(f"state.{k}") for k in counts], "count": list(counts.values())})
            st.plotly_chart(px.bar(figures, x="state", y="count", labels={"state": tr("col.state"),
                                                                           "count": tr("col.count")}), width="stretch")
