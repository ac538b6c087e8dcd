"""指标探索 (supervisor): measures by period, department, item, level and region; drill down city → district →
town → village → case, or department → officer → case; the period before beside each figure; the case record
one click away; every table exportable."""
from datetime import timedelta

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from app import explorer, timeutil
from app import workflow as wf
from app.catalogue import department_names
from app.ui import session as ui
from app.ui import form_widgets as fw
from app.ui.widgets import table

tr = ui.tr
actor = ui.require_roles(ui.actor(), wf.SUPERVISOR)
db = ui.db()
st.title(tr("page.explorer"))

# The marts are refreshed by the background job; a supervisor can refresh now or rebuild everything.
with st.expander(tr("explore.builds")):
    table(explorer.last_builds(db), "mart_builds")
    b1, b2 = st.columns(2)
    full = b2.button(tr("explore.full_build"), key="ex-full")
    if b1.button(tr("explore.refresh"), key="ex-refresh") or full:
        bar = st.progress(0.0, text=tr("explore.building"))
        explorer.rebuild(db, actor, full=full,
                         progress=lambda name, n, total: bar.progress(n / total, text=f"{tr('explore.building')} {name}"))
        st.success(tr("explore.built"))

today = timeutil.today()
drill: list = st.session_state.setdefault("ex-drill", [])
c1, c2, c3 = st.columns(3)
period = c1.date_input(tr("explore.period"), value=(today - timedelta(days=90), today), key="ex-period")
path = c2.radio(tr("explore.path"), list(explorer.PATHS), format_func=lambda p: tr(f"explore.path_{p}"),
                horizontal=True, key="ex-path", on_change=drill.clear)
measure = c3.selectbox(tr("explore.measure"), explorer.MEASURES, format_func=lambda m: tr(f"explore.m_{m}"),
                       key="ex-measure")
depts = department_names(db)
c4, c5, c6 = st.columns(3)
chosen_depts = c4.multiselect(tr("col.department"), list(depts), format_func=depts.get, key="ex-depts", placeholder=tr("common.choose_many"))
item = c5.text_input(tr("explore.item_code"), key="ex-item", max_chars=20).strip() or None
level = c6.selectbox(tr("explore.level"), ["", "市", "区", "乡镇街道", "村社区"],
                     format_func=lambda v: v or tr("desk.any"), key="ex-level") or None

if not (isinstance(period, tuple) and len(period) == 2):
    st.stop()
q = explorer.Query(start=period[0], end=period[1], path=path, drill=list(drill), dept_codes=chosen_depts,
                   item_code=item, level=level)
crumbs = [tr(f"explore.top_{path}")] + [f"{tr(f'explore.col_{col}')}：{explorer.label_of(db, col, value)}"
                                        for col, value in drill]
st.caption(" › ".join(crumbs))
# Drilling and going up are callbacks: they change the path before the script runs, so a click costs one run.
if drill:
    st.button(tr("explore.up"), key="ex-up", on_click=drill.pop)

frame = explorer.explore(db, q)
group = q.group_column
if frame.is_empty():
    st.info(tr("home.no_cases"))
    st.stop()
if group == "case_no":
    table(frame.rename({"key": "case_no"}), "explore_cases")
    chosen = st.selectbox(tr("explore.open_case"), frame["key"].to_list(), key="ex-case")
    fw.page_link("officer_case.py", tr("explore.case_record"), query_params={"no": chosen})
    st.stop()

now_label, prev_label = tr(f"explore.m_{measure}"), tr("explore.prev", measure=tr(f"explore.m_{measure}"))
chart = frame.head(30).select("name", pl.col(measure).alias(now_label), pl.col(f"prev_{measure}").alias(prev_label))
names = chart["name"].to_list()
fig = go.Figure([go.Bar(name=now_label, x=names, y=chart[now_label].to_list()),
                 go.Bar(name=prev_label, x=names, y=chart[prev_label].to_list())])
fig.update_layout(barmode="group", xaxis_title=tr(f"explore.col_{group}"), yaxis_title=now_label)
st.plotly_chart(fig, width="stretch")
shown = frame.drop("key").with_columns(pl.col(pl.Float64).round(3))
table(shown, f"explore_{group}")
labels = dict(zip(frame["key"].to_list(), frame["name"].to_list(), strict=True))
next_key = f"ex-next-{len(drill)}"
st.selectbox(tr("explore.drill_into"), list(labels), format_func=labels.get, key=next_key)
st.button(tr("explore.drill"), key="ex-drill-go", type="primary",
          on_click=lambda: drill.append((group, st.session_state[next_key])))
