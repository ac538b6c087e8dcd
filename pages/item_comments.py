"""公开征询意见 (/comments, public): the items under public comment, each with its draft guide and draft form,
and a comment box (plain text, length-limited, rate-limited per client). The staff who keep the item read
the comments in 事项管理 (/designer).

The rules live in app/designer.py; the preview widgets in app/ui/item_preview.py.
"""
from __future__ import annotations

import uuid

import streamlit as st

from app import designer
from app.ui import form_widgets, item_preview
from app.ui import session as ui

tr = ui.tr


def client_id() -> str:
    """Who is commenting, for the rate limit: the address the request came from, else this browser session."""
    ip = getattr(st.context, "ip_address", None)
    if ip:
        return f"ip:{ip}"
    return "session:" + st.session_state.setdefault("comment_client", uuid.uuid4().hex)


def send(item_code: str, version: int) -> None:
    get = st.session_state.get
    actor = ui.actor()
    try:
        number = designer.add_comment(db, item_code, version, get("comment_text") or "",
                                      author_name=get("comment_author") or "", contact=get("comment_contact") or "",
                                      client=client_id(), user_id=actor.user_id if actor else None)
    except designer.DesignError as exc:
        st.session_state["comment_outcome"] = ("error", tr(exc.key, **exc.params))
        return
    st.session_state["comment_outcome"] = ("ok", tr("comment.thanks", n=number))
    st.session_state["comment_text"] = ""


db = ui.db()
st.title(tr("page.item_comments"))
st.caption(tr("comment.intro"))
open_items = designer.under_comment(db)
if not open_items:
    st.info(tr("comment.none_open"))
    st.stop()

by_key = {f"{r['item_code']}@{r['version']}": r for r in open_items}
chosen = st.selectbox(tr("comment.pick"), list(by_key), key="comment_item",
                      format_func=lambda k: f"{by_key[k]['name']}（{by_key[k]['item_code']}）")
row = by_key[chosen]
opened = row["comment_opened_at"]
st.caption(form_widgets.plain(tr("comment.opened", dept=row["dept"] or "",
                                 date=f"{opened:%Y-%m-%d}" if opened else "—")))
try:
    spec = designer.comment_draft(db, row["item_code"], int(row["version"]))
except designer.DesignError as exc:   # the comment period ended meanwhile
    st.warning(tr(exc.key))
    st.stop()

with st.expander(tr("comment.draft_guide"), expanded=True):
    item_preview.show_guide(designer.preview_guide(db, spec))
with st.expander(tr("comment.draft_form")):
    item_preview.show_form(db, spec, "comment-preview")

with st.form("comment_form"):
    st.text_area(tr("comment.content", min=designer.COMMENT_MIN, max=designer.COMMENT_MAX), key="comment_text",
                 max_chars=designer.COMMENT_MAX)
    left, right = st.columns(2)
    left.text_input(tr("comment.author"), key="comment_author", max_chars=designer.COMMENT_NAME_MAX)
    right.text_input(tr("comment.contact"), key="comment_contact", max_chars=designer.COMMENT_CONTACT_MAX)
    st.form_submit_button(tr("comment.submit"), type="primary", on_click=send,
                          args=(row["item_code"], int(row["version"])))
outcome = st.session_state.pop("comment_outcome", None)
if outcome:
    kind, text = outcome
    (st.success if kind == "ok" else st.error)(form_widgets.plain(text))
