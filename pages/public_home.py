"""首页 (public): the four columns, the catalogue in figures, and item search."""
import streamlit as st

from app import stats
from app.ui import session as ui
from app.ui.widgets import table

tr = ui.tr
db = ui.db()

st.title(tr("app.title"))
st.caption(tr("app.tagline"))

figures = stats.catalogue_figures(db)
cols = st.columns(4)
for col, key in zip(cols, ("home.col.approval", "home.col.public", "home.col.disclosure", "home.col.supervision")):
    col.subheader(tr(key))
a, b, c, d, e = st.columns(5)
a.metric(tr("home.items_approval"), figures["approval"])
b.metric(tr("home.items_public"), figures["public"])
c.metric(tr("home.items_convenience"), figures["convenience"])
d.metric(tr("home.departments"), figures["departments"])
e.metric(tr("home.villages"), figures["villages"])
f, g = st.columns(2)
f.metric(tr("home.cases_total"), f"{figures['cases_total']:,}")
g.metric(tr("home.cases_completed"), f"{figures['cases_completed']:,}")

query = st.text_input(tr("home.search"), key="public_search")
found = stats.search_items(db, query or "")
st.caption(tr("home.search_results", n=found.height))
table(found.rename({"item_code": "item_code", "name": "item"}), "items")
