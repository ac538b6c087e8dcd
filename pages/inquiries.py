"""咨询投诉办理 (officer, head): the department's consultations and complaints — open ones first by due day,
overdue in red — with the answer form, the publish switch for answered consultations, and the table's export.
Who may answer what is decided in app/inquiries.py."""
from __future__ import annotations

import polars as pl
import streamlit as st

from app import inquiries
from app import workflow as wf
from app.permissions import PermissionDenied
from app.ui import session as ui
from app.ui.form_widgets import plain
from app.ui.widgets import export_buttons, grid

tr = ui.tr


def labelled(rows: pl.DataFrame) -> pl.DataFrame:
    def yes_no(flag: bool | None) -> str:
        return tr("inquiry.yes") if flag else tr("inquiry.no")

    return pl.DataFrame([{
        tr("inquiry.col.tracking_no"): r["tracking_no"] or "", tr("inquiry.col.kind"): tr(f"inquiry.kind.{r['kind']}"),
        tr("inquiry.col.title"): r["title"] or "", tr("inquiry.col.item"): r["item_name"] or "",
        tr("inquiry.col.case_no"): r["case_no"] or "",
        tr("inquiry.col.created_at"): f"{r['created_at']:%Y-%m-%d %H:%M}",
        tr("inquiry.col.due_on"): f"{r['due_on']:%Y-%m-%d}",
        tr("inquiry.col.answered_at"): f"{r['answered_at']:%Y-%m-%d %H:%M}" if r["answered_at"] else "",
        tr("inquiry.col.published"): yes_no(r["published"]), tr("inquiry.col.overdue"): yes_no(r["overdue"]),
    } for r in rows.iter_rows(named=True)])


def queue(rows: pl.DataFrame) -> None:
    shown = labelled(rows)
    overdue = rows["overdue"].to_list()
    due_col = tr("inquiry.col.due_on")

    def red(column):  # noqa: ANN001, ANN202
        return ["color: #c00; font-weight: bold" if late else "" for late in overdue] if column.name == due_col \
            else [""] * len(column)

    grid(shown.to_pandas().style.apply(red))
    export_buttons(shown, "inquiries")


def handle(complaint_id: int) -> None:
    try:
        row = inquiries.detail(db, actor, complaint_id)
    except (inquiries.InquiryError, PermissionDenied) as exc:
        st.error(tr(exc.key))
        return
    with st.container(border=True):
        st.subheader(plain(f"{tr('inquiry.kind.' + row['kind'])} · {row['tracking_no'] or ''}"))
        if row["item_name"] or row["case_no"]:
            st.caption(plain(" · ".join(x for x in (row["item_name"], row["case_no"]) if x)))
        if row["title"]:
            st.markdown(f"**{plain(row['title'])}**")
        st.text(row["content"])
        st.text(tr("inquiry.contact", name=row["contact_name"] or "—", phone=row["contact_phone"] or "—"))
        st.text(f"{tr('inquiry.due')}：{row['due_on']:%Y-%m-%d}")
        if row["answered_at"] is None:
            text = st.text_area(tr("inquiry.answer_text"), max_chars=inquiries.MAX_CONTENT,
                                key=f"inquiry_answer_{complaint_id}")
            if st.button(tr("inquiry.send_answer"), type="primary", key="inquiry_send"):
                act(lambda: inquiries.answer(db, actor, complaint_id, text), "inquiry.answered")
            return
        st.subheader(tr("inquiry.answer"))
        st.text(row["answer"])
        if row["kind"] == "consultation":
            published = st.toggle(tr("inquiry.publish"), value=bool(row["published"]), key=f"inquiry_pub_{complaint_id}")
            if published != bool(row["published"]):
                act(lambda: inquiries.set_published(db, actor, complaint_id, published),
                    "inquiry.published" if published else "inquiry.unpublished")


def act(action, done_key: str) -> None:  # noqa: ANN001
    try:
        action()
    except (inquiries.InquiryError, PermissionDenied) as exc:
        st.error(tr(exc.key, **getattr(exc, "params", {})))
    else:
        st.session_state["ezz_flash"] = done_key
        st.rerun()


db = ui.db()
actor = ui.require_roles(ui.actor(), wf.OFFICER, wf.HEAD)
st.title(tr("page.inquiries"))
st.caption(tr("inquiry.staff_intro"))
open_only = st.toggle(tr("inquiry.open_only"), key="inquiries_open_only")
rows = inquiries.for_department(db, actor, open_only=open_only)
if rows.is_empty():
    st.info(tr("inquiry.none"))
else:
    queue(rows)
    labels = {r["complaint_id"]: f"{r['tracking_no'] or r['complaint_id']} · {r['title']}"
              for r in rows.iter_rows(named=True)}
    picked = st.selectbox(tr("inquiry.pick"), list(labels), index=None, format_func=labels.get, key="inquiries_pick", placeholder=tr("common.choose"))
    if picked is not None:
        handle(picked)
