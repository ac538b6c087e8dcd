"""评价公示 (public): department ratings and grades by week (published weights), 好差评 counts and rates, the
published handling of bad reviews, and the service measures. No personal data is shown."""
import streamlit as st

from app import public_ratings as pr
from app.ui import session as ui
from app.ui.widgets import percent, table

tr = ui.tr
db = ui.db()

st.title(tr("page.ratings"))
st.caption(tr("ratings.intro", **pr.published_weights(db)))
m = pr.service_measures(db)
a, b, c = st.columns(3)
a.metric(tr("ratings.satisfaction"), percent(m["satisfaction"]))
b.metric(tr("ratings.completion_rate"), percent(m["completion_rate"]))
c.metric(tr("ratings.digital_take_up"), percent(m["digital_take_up"]))

st.subheader(tr("ratings.departments"))
kind = st.radio(tr("ratings.period_kind"), pr.PERIOD_KINDS, format_func=lambda k: tr(f"ratings.by_{k}"),
                horizontal=True, key="ratings-kind")
periods = pr.rating_periods(db, kind)
if not periods:
    st.info(tr("ratings.none_yet"))
else:
    label = (lambda d: tr("ratings.week_of", monday=d)) if kind == "week" else (
        lambda d: tr("ratings.month_of", year=d.year, month=d.month))
    period = st.selectbox(tr(f"ratings.{kind}"), periods, format_func=label, key=f"ratings-{kind}")
    frame = pr.department_ratings(db, period, kind, ui.lang())
    table(frame.rename({k: tr(f"ratings.col_{k}") for k in frame.columns}) if not frame.is_empty() else frame,
          f"ratings-{kind}-{period}")

st.subheader(tr("ratings.reviews"))
counts = pr.review_counts(db)
table(counts.rename({k: tr(f"ratings.col_{k}") for k in counts.columns}) if not counts.is_empty() else counts,
      "reviews", percent=(tr("ratings.col_good_rate"), tr("ratings.col_bad_rate")))

st.subheader(tr("ratings.followups"))
disclosures = pr.followup_disclosures(db)
table(disclosures.rename({k: tr(f"ratings.col_{k}") for k in disclosures.columns})
      if not disclosures.is_empty() else disclosures, "followups")
