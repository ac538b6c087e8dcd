"""本部门告警与红黄牌 · 差评整改 (officer and head): my department's open alarms and the cards it received; the
follow-up of every bad review — verify, rectify, answer — and whether the handling is published."""
import streamlit as st

from app import alarms
from app import workflow as wf
from app.ui import form_widgets as fw
from app.ui import session as ui
from app.ui.supervision_view import alarm_table, card_table
from app.ui.widgets import table

tr = ui.tr
actor = ui.require_roles(ui.actor(), wf.OFFICER, wf.HEAD)
db = ui.db()

st.title(tr("page.dept_supervision"))
tab_alarms, tab_cards, tab_followups = st.tabs([tr("alarm.tab"), tr("card.title"), tr("followup.title")])
with tab_alarms:
    alarm_table(alarms.alarms_for(db, actor), "dept_alarms")
with tab_cards:
    card_table(alarms.cards_for(db, actor), "dept_cards")
with tab_followups:
    st.caption(tr("followup.intro"))
    pending = alarms.followups_for(db, actor, open_only=True)
    if pending.is_empty():
        st.info(tr("followup.none_open"))
    else:
        numbers = dict(zip(pending["case_no"].to_list(), pending["case_id"].to_list(), strict=True))
        chosen = st.selectbox(tr("col.case_no"), list(numbers), key="fu-case")
        row = pending.filter(pending["case_no"] == chosen).row(0, named=True)
        st.text(tr("followup.review", level=tr({1: "rating.very_unsatisfied", 2: "rating.unsatisfied"}[row["level"]]), text=row["review"] or "—",
                   due=row["due_on"]))
        with st.form("fu-form"):
            verification = st.text_area(tr("followup.verification"), key="fu-verify", max_chars=1000)
            rectification = st.text_area(tr("followup.rectification"), key="fu-rectify", max_chars=1000)
            answer = st.text_area(tr("followup.answer"), key="fu-answer", max_chars=1000)
            publish = st.checkbox(tr("followup.publish"), value=True, key="fu-publish")
            sent = st.form_submit_button(tr("followup.save"), type="primary")
        if sent:
            try:
                alarms.handle_followup(db, actor, numbers[chosen], verification=verification,
                                       rectification=rectification, answer=answer, publish=publish)
            except (alarms.SupervisionError, PermissionError) as exc:
                st.error(fw.plain(fw.explain(exc)))
            else:
                st.success(tr("followup.saved"))
    st.subheader(tr("followup.all"))
    table(alarms.followups_for(db, actor).drop("case_id", strict=False), "followups")
