"""系统管理 (admin home): users, organisation, catalogue, calendar and schema state."""
import streamlit as st

from app import auth, stats, timeutil
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

with st.expander(tr("admin.new_staff")):
    unit_names = dict(auth.units(db))
    with st.form("new_staff", clear_on_submit=True):
        username = st.text_input(tr("auth.username"), help=tr("auth.username_invalid"))
        display_name = st.text_input(tr("auth.display_name"))
        role = st.selectbox(tr("admin.role"), list(wf.STAFF_ROLES), format_func=lambda r: tr(f"role.{r}"))
        unit_id = st.selectbox(tr("admin.unit"), list(unit_names), format_func=lambda u: f"{unit_names[u]}（{u}）")
        password = st.text_input(tr("auth.password"), type="password", help=tr("auth.password_weak"))
        create = st.form_submit_button(tr("admin.create"), type="primary")
    if create:
        try:
            auth.create_staff_account(db, admin, username=username, password=password, display_name=display_name,
                                      role=role, unit_id=unit_id)
        except auth.AuthError as exc:
            st.error(tr(exc.key))
        else:
            st.success(tr("admin.created", username=username))
