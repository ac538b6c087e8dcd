"""领导驾驶舱 (leadership home): this week's figures; the full weekly scorecard follows."""
import plotly.express as px
import streamlit as st

from app import stats
from app import workflow as wf
from app.ui import session as ui
from app.ui.widgets import percent, table

tr = ui.tr
ui.require_roles(ui.actor(), wf.LEADER)
db = ui.db()

st.title(tr("page.home_leader"))
w = stats.week_figures(db)
a, b, c, d = st.columns(4)
a.metric(tr("home.week_received"), f"{w['received']:,}")
b.metric(tr("home.week_completed"), f"{w['completed']:,}")
c.metric(tr("home.on_time_rate"), percent(w["on_time_rate"]))
d.metric(tr("home.satisfaction"), percent(w["satisfaction"]))
by_dept = stats.completed_by_department(db, w["monday"])
if not by_dept.is_empty():
    fig = px.bar(x=by_dept["department"].to_list(), y=by_dept["count"].to_list(), title=tr("home.week_completed"),
                 labels={"x": tr("col.department"), "y": tr("col.count")})
    st.plotly_chart(fig, width="stretch")
table(by_dept, "week_by_department")
