"""系统管理 (admin home): users, organisation, catalogue, calendar and schema state."""
import streamlit as st

from app import stats, timeutil
from app import workflow as wf
from app.ui import session as ui

tr = ui.tr
admin = ui.require_roles(ui.actor(), wf.ADMIN)
db = ui.db()

st.title(tr("page.home_admin"))
f = stats.admin_figures(db)
a, b, c, d, e = st.columns(5)
a.metric(tr("home.users"), f"{f['users']:,}")
b.metric(tr("home.units"), f["units"])
c.metric(tr("home.windows"), f["windows"])
d.metric(tr("home.items_approval"), f["items"])
e.metric(tr("home.schema_version"), f["schema_version"])
years = f["calendar_years"]
st.write(tr("home.calendar_years"), ", ".join(str(y) for y in years))
next_year = timeutil.today().year + 1
for year in (timeutil.today().year, next_year):
    if year not in years:
        st.warning(tr("home.provisional_warning", year=year))

st.info(tr("org.goto"))   # accounts, units and windows: 组织与用户 (/org)
