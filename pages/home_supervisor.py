"""实时监控 (supervisor home): open, overdue and warned cases city-wide, bad reviews, open complaints."""
import plotly.express as px
import streamlit as st

from app import alarms, stats
from app import workflow as wf
from app.ui import session as ui
from app.ui.supervision_view import card_table
from app.ui.widgets import percent, table

tr = ui.tr
actor = ui.require_roles(ui.actor(), wf.SUPERVISOR)
db = ui.db()

st.title(tr("page.home_supervisor"))
f = stats.supervision_figures(db)
a, b, c, d, e, g = st.columns(6)
a.metric(tr("home.open_total"), f"{f['open']:,}")
b.metric(tr("home.overdue_open"), f"{f['red']:,}")
c.metric(tr("home.yellow"), f"{f['yellow']:,}")
d.metric(tr("home.on_time_rate"), percent(f["on_time_rate"]))
e.metric(tr("home.bad_reviews"), f"{f['bad_reviews']:,}")
g.metric(tr("home.complaints_open"), f"{f['complaints_open']:,}")
by_dept = stats.red_by_department(db)
if not by_dept.is_empty():
    fig = px.bar(x=by_dept["department"].to_list(), y=by_dept["count"].to_list(), title=tr("home.overdue_open"),
                 labels={"x": tr("col.department"), "y": tr("col.count")})
    st.plotly_chart(fig, width="stretch")
table(by_dept, "overdue_by_department")

# The live monitor's lists: the most urgent open cases city-wide, the open alarms by rule, the latest cards.
st.subheader(tr("monitor.urgent"))
table(stats.urgent_cases(db, actor, limit=50), "urgent_cases")
st.subheader(tr("page.alarms"))
counts = alarms.alarm_counts(db, actor)
cols = st.columns(5)
for n, rule in enumerate(alarms.RULES):
    cols[n % 5].metric(tr(f"alarm.{rule}"), f"{counts.get(rule, 0):,}")
st.subheader(tr("card.title"))
card_table(alarms.cards_for(db, actor).head(20), "latest_cards")
