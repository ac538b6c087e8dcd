"""每周计分卡 (leadership): one ISO week — the city's figures, the department ranking with grade and the change
from the week before (with its chart), the week's red cases and cards; the same content as PDF and XLSX, in the
reader's language."""
import polars as pl
import plotly.express as px
import streamlit as st

from app import scorecard
from app.public_ratings import GRADE_COLORS
from app import workflow as wf
from app.ui import session as ui
from app.ui.widgets import XLSX, column_config, grid

tr = ui.tr
lang = ui.lang()
ui.require_roles(ui.actor(), wf.LEADER, wf.SUPERVISOR)
db = ui.db()

st.title(tr("page.scorecard"))
weeks = scorecard.weeks(db)
if not weeks:
    st.info(tr("ratings.none_yet"))
    st.stop()
week = st.selectbox(tr("ratings.week"), weeks, format_func=lambda d: tr("ratings.week_of", monday=d), key="sc-week")
card = scorecard.build(db, week)

left, right = st.columns(2)
left.download_button(tr("scorecard.pdf"), lambda: scorecard.to_pdf(card, lang), f"scorecard-{week}.pdf",
                     "application/pdf", key="sc-pdf", on_click="ignore")
right.download_button(tr("scorecard.xlsx"), lambda: scorecard.to_xlsx(card, lang), f"scorecard-{week}.xlsx",
                      XLSX, key="sc-xlsx", on_click="ignore")
for n, (title, frame) in enumerate(scorecard.sheets(card, lang)):
    st.subheader(title)
    if n == 1 and not card.ranking.is_empty():
        bars = card.ranking.head(15).with_columns(
            pl.col("grade").map_elements(lambda g: scorecard.grade_label(g, lang), return_dtype=pl.String))
        colors = {scorecard.grade_label(g, lang): c for g, c in GRADE_COLORS.items()}   # as the PDF draws them
        fig = px.bar(bars.to_pandas(), x="score", y="department", color="grade", orientation="h",
                     color_discrete_map=colors,
                     labels={"score": tr("scorecard.col_score"), "department": tr("scorecard.col_department"),
                             "grade": tr("scorecard.col_grade")})
        fig.update_layout(yaxis={"autorange": "reversed"})
        st.plotly_chart(fig, width="stretch")
    if frame.is_empty():
        st.caption(tr("scorecard.none"))
    else:
        grid(frame, column_config=column_config(frame))
