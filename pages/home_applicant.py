"""我的办事 (applicant home): my cases in figures and the latest ones."""
import streamlit as st

from app import stats
from app import workflow as wf
from app.config import ROOT
from app.ui import session as ui
from app.ui.widgets import table

tr = ui.tr
actor = ui.require_roles(ui.actor(), wf.APPLICANT)
db = ui.db()

st.title(tr("page.home_applicant"))
left, mid, right = st.columns(3)
left.page_link(st.Page(ROOT / "pages" / "apply.py", url_path="apply"), label=tr("home.apply_now"), icon=":material/edit_note:")
mid.page_link(st.Page(ROOT / "pages" / "my_cases.py", url_path="cases"), label=tr("page.my_cases"), icon=":material/folder_open:")
right.page_link(st.Page(ROOT / "pages" / "catalogue.py", url_path="guide"), label=tr("home.find_service"), icon=":material/search:")
counts = stats.state_counts(db, actor)
open_states = (wf.SUBMITTED, wf.ACCEPTED, wf.UNDER_REVIEW, wf.SPECIAL_PROCEDURE, wf.APPROVED, wf.REFUSED,
               wf.TRANSFERRED)
a, b, c, d = st.columns(4)
a.metric(tr("home.my_cases"), sum(counts.values()))
b.metric(tr("home.open_cases"), sum(counts.get(s, 0) for s in open_states))
c.metric(tr("home.awaiting_me"), counts.get(wf.AWAITING_SUPPLEMENT, 0))
d.metric(tr("home.completed"), counts.get(wf.COMPLETED, 0))
st.subheader(tr("home.recent_cases"))
table(stats.recent_cases(db, actor), "my_cases")
