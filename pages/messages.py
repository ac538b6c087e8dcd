"""消息: what happened on all the applicant's cases, newest first — accepted, supplement needed, decided,
result ready … — each with a link to the case."""
import streamlit as st

from app import applications
from app import workflow as wf
from app.ui.session import tr as tx
from app.ui import form_widgets as fw
from app.ui import session as ui

actor = ui.require_roles(ui.actor(), wf.APPLICANT)
db = ui.db()
SHOWN = 100  # the newest messages; older ones stay in each case's timeline

st.title(tx("page.messages"))
messages = []
for case in applications.my_cases(db, actor):
    if case["state"] == wf.DRAFT:
        continue
    for n, event in enumerate(applications.applicant_timeline(db, actor, case["case_id"])):
        messages.append({**event, "case_id": case["case_id"], "n": n, "case_no": case["case_no"], "item": case["item"]})
# Newest first; events of one second are ordered by case and by their place in the case's record.
messages.sort(key=lambda m: (m["occurred_at"], m["case_id"], m["n"]), reverse=True)

if not messages:
    st.info(tx("messages.none"))
for m in messages[:SHOWN]:
    with st.container(border=True):
        st.markdown(f"**{tx(m['message_key'])}**")
        st.caption(fw.plain(f"{m['occurred_at']:%Y-%m-%d %H:%M} · {m['case_no']} · {m['item']}"))
        if m["comment"]:
            st.text(m["comment"])
        fw.page_link("my_cases.py", tx("messages.open_case"), {"case": m["case_no"]})
if len(messages) > SHOWN:
    st.caption(tx("messages.more", n=len(messages) - SHOWN))
