"""首页 (public): the four columns, the catalogue in figures, and item search."""
import streamlit as st

import polars as pl

from app import catalogue, stats
from app.config import ROOT
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

left, mid, right = st.columns(3)
left.page_link(st.Page(ROOT / "pages" / "catalogue.py", url_path="guide"), label=tr("home.find_service"), icon=":material/search:")
mid.page_link(st.Page(ROOT / "pages" / "lookup.py", url_path="lookup"), label=tr("home.lookup"), icon=":material/local_post_office:")
if ui.actor() is None:
    right.page_link(st.Page(ROOT / "pages" / "register.py", url_path="register"), label=tr("page.register"), icon=":material/person_add:")
# 信息公开: the public's other questions, answered without signing in.
for col, (name, url, key, icon) in zip(st.columns(4), (
        ("verify.py", "verify", "page.verify", ":material/verified:"),
        ("ask.py", "ask", "page.ask", ":material/forum:"),
        ("policies.py", "policies", "page.policies", ":material/gavel:"),
        ("item_comments.py", "comments", "page.item_comments", ":material/edit_note:"))):
    col.page_link(st.Page(ROOT / "pages" / name, url_path=url), label=tr(key), icon=icon)

query = st.text_input(tr("home.search"), key="public_search")
found = catalogue.search(db, keyword=query or "")
st.caption(tr("home.search_results", n=found.height))
shown = found.select(
    pl.col("item_code").alias(tr("catalogue.col.item_code")), pl.col("name").alias(tr("catalogue.col.name")),
    pl.col("category").map_elements(lambda c: tr(f"catalogue.column.{c}"), return_dtype=pl.String)
    .alias(tr("catalogue.col.column")),
    pl.col("dept").alias(tr("catalogue.col.dept")), pl.col("promised_days").alias(tr("catalogue.col.promised")))
table(shown, "items")
