"""预警告警与红黄牌 (supervisor): the open alarms of every department by rule, recomputed on demand; issue a
yellow or red card to a department or one of its officers, with a reason; every card issued."""
import streamlit as st

from app import alarms, catalogue, supervision
from app import workflow as wf
from app.ui import form_widgets as fw
from app.ui import session as ui
from app.ui.supervision_view import alarm_table, card_table

tr = ui.tr
actor = ui.require_roles(ui.actor(), wf.SUPERVISOR)
db = ui.db()

st.title(tr("page.alarms"))
if st.button(tr("alarm.recompute"), key="al-recompute"):
    with st.spinner(tr("alarm.working")):
        supervision.recompute_warning_levels(db)
        result = alarms.recompute(db)
    st.success(tr("alarm.recomputed", **result))

counts = alarms.alarm_counts(db, actor)
cols = st.columns(5)
for n, rule in enumerate(alarms.RULES):
    cols[n % 5].metric(tr(f"alarm.{rule}"), f"{counts.get(rule, 0):,}")

f1, f2, f3 = st.columns(3)
rule = f1.selectbox(tr("alarm.rule"), [""] + list(alarms.RULES),
                    format_func=lambda v: tr(f"alarm.{v}") if v else tr("desk.any"), key="al-rule")
depts = catalogue.department_names(db)
dept = f2.selectbox(tr("col.department"), [""] + list(depts), format_func=lambda v: depts.get(v, tr("desk.any")),
                    key="al-dept")
open_only = f3.toggle(tr("alarm.open_only"), value=True, key="al-open")
alarm_table(alarms.alarms_for(db, actor, open_only=open_only, rule=rule or None, dept_code=dept or None), "alarms")

st.subheader(tr("card.title"))
with st.form("card-form", clear_on_submit=False):
    c1, c2 = st.columns(2)
    color = c1.radio(tr("card.color_col"), list(alarms.CARD_COLORS), format_func=lambda v: tr(f"card.{v}"),
                     horizontal=True, key="card-color")
    card_dept = c2.selectbox(tr("col.department"), list(depts), format_func=depts.get, key="card-dept")
    officer_name = st.text_input(tr("card.officer_username"), key="card-officer", max_chars=60)
    case_no = st.text_input(tr("card.case_no"), key="card-case", max_chars=40)
    reason = st.text_area(tr("card.reason_col"), key="card-reason", max_chars=1000)
    sent = st.form_submit_button(tr("card.issue"), type="primary")
if sent:
    try:
        officer_id = alarms.user_id_of(db, officer_name) if officer_name.strip() else None
        alarms.issue_card(db, actor, color=color, dept_code=card_dept, reason=reason, officer_user_id=officer_id,
                          case_no=case_no or None)
    except (alarms.SupervisionError, PermissionError) as exc:
        st.error(fw.plain(fw.explain(exc)))
    else:
        st.success(tr("card.issued"))
card_table(alarms.cards_for(db, actor), "cards")
