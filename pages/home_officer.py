"""待办工作台 (officer and head home): the queue of my department in my unit's subtree, by urgency."""
import plotly.express as px
import polars as pl
import streamlit as st

from app import stats
from app import workflow as wf
from app.ui import session as ui
from app.ui.widgets import table

tr = ui.tr
actor = ui.require_roles(ui.actor(), wf.OFFICER, wf.HEAD)
db = ui.db()

st.title(tr("page.home_head" if actor.role == wf.HEAD else "page.home_officer"))
st.caption(tr("app.unit", unit=actor.unit_name or actor.unit_id or ""))
q = stats.queue_figures(db, actor)
a, b, c, d = st.columns(4)
a.metric(tr("home.queue"), q["open"])
b.metric(tr("home.yellow"), q["yellow"])
c.metric(tr("home.red"), q["red"])
d.metric(tr("home.due_soon"), q["due_soon"])

counts = stats.state_counts(db, actor)
if counts:
    frame = pl.DataFrame({"state": [tr(f"state.{k}") for k in counts], "count": list(counts.values())})
    fig = px.bar(frame, x="state", y="count",
                 title=tr("home.by_state"), labels={"state": tr("col.state"), "count": tr("col.count")})
    st.plotly_chart(fig, width="stretch")
st.subheader(tr("home.queue"))
table(stats.urgent_cases(db, actor), "queue")
