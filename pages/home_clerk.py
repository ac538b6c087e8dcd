"""窗口工作台 (window clerk home): the cases of this window's area."""
import streamlit as st

from app import stats
from app import workflow as wf
from app.config import ROOT
from app.ui import session as ui
from app.ui.widgets import table

tr = ui.tr
actor = ui.require_roles(ui.actor(), wf.WINDOW_CLERK)
db = ui.db()

st.title(tr("page.home_clerk"))
st.caption(tr("app.unit", unit=actor.unit_name or actor.unit_id or ""))
q = stats.queue_figures(db, actor)
a, b, c = st.columns(3)
a.metric(tr("home.open_cases"), q["open"])
b.metric(tr("home.yellow"), q["yellow"])
c.metric(tr("home.red"), q["red"])
st.subheader(tr("home.window_cases"))
table(stats.recent_cases(db, actor), "window_cases")
st.page_link(st.Page(ROOT / "pages" / "window_intake.py", url_path="intake"), label=tr("page.window_intake"), icon=":material/storefront:")
