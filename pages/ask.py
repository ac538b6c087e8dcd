"""咨询投诉 (public, no sign-in): ask about an item or a department, or complain (about a case: with the case
look-up pair); get a tracking number and follow the answer by it on this page; read the published Q&A.
/ask?item=<code> starts a consultation about that item; /ask?no=<tracking number> fills the follow-up box.
The rules (responsible department, limit, look-up pair, rate limits) live in app/inquiries.py."""
from __future__ import annotations

import streamlit as st

from app import catalogue, inquiries, lookup
from app.ui import session as ui
from app.ui.form_widgets import plain

tr = ui.tr


def client() -> str:
    return str(getattr(st.context, "ip_address", None) or "")


def submit_form(item_names: dict[str, str], dept_names: dict[str, str]) -> None:
    kind = st.radio(tr("inquiry.kind"), inquiries.KINDS, horizontal=True, key="ask_kind",
                    format_func=lambda k: tr(f"inquiry.kind.{k}"))
    targets = ["item", "dept"] + (["case"] if kind == "complaint" else [])
    about = st.radio(tr("inquiry.about"), targets, horizontal=True, key="ask_about",
                     format_func=lambda k: tr(f"inquiry.about.{k}"))
    item_code = dept_code = case_no = tail = None
    if about == "item":
        codes = list(item_names)
        wanted = st.query_params.get("item")
        item_code = st.selectbox(tr("inquiry.item"), codes, index=codes.index(wanted) if wanted in item_names else None,
                                 format_func=lambda c: f"{item_names[c]}（{c}）", key="ask_item", placeholder=tr("common.choose"))
    elif about == "dept":
        dept_code = st.selectbox(tr("inquiry.dept"), list(dept_names), index=None, format_func=dept_names.get,
                                 key="ask_dept", placeholder=tr("common.choose"))
    else:
        left, right = st.columns([3, 1])
        case_no = left.text_input(tr("inquiry.case_no"), key="ask_case_no")
        tail = right.text_input(tr("lookup.id_tail"), max_chars=4, key="ask_tail")
    title = st.text_input(tr("inquiry.title"), max_chars=inquiries.MAX_TITLE, key="ask_title")
    content = st.text_area(tr("inquiry.content"), max_chars=inquiries.MAX_CONTENT, key="ask_content")
    left, right = st.columns(2)
    name = left.text_input(tr("inquiry.contact_name"), max_chars=inquiries.MAX_NAME, key="ask_name")
    phone = right.text_input(tr("inquiry.contact_phone"), max_chars=20, key="ask_phone")
    st.caption(tr("inquiry.privacy"))
    if st.button(tr("inquiry.send"), type="primary", key="ask_send"):
        try:
            sent = inquiries.submit(db, kind=kind, title=title, content=content, contact_name=name,
                                    contact_phone=phone, item_code=item_code, dept_code=dept_code, case_no=case_no,
                                    id_tail=tail, client=client())
        except (inquiries.InquiryError, lookup.LookupRefused) as exc:
            st.error(tr(exc.key, **getattr(exc, "params", {})))
        else:
            st.session_state["ask_follow_no"] = sent.tracking_no
            st.success(tr("inquiry.sent", no=sent.tracking_no, dept=sent.dept_name, due=f"{sent.due_on:%Y-%m-%d}"))


def follow_form() -> None:
    if "ask_follow_no" not in st.session_state:
        st.session_state["ask_follow_no"] = st.query_params.get("no", "")
    number = st.text_input(tr("inquiry.tracking_no"), key="ask_follow_no")
    if not st.button(tr("inquiry.follow"), key="ask_follow"):
        return
    try:
        found = inquiries.follow(db, number, client=client())
    except inquiries.InquiryError as exc:
        st.error(tr(exc.key))
        return
    a, b, c = st.columns(3)
    a.metric(tr("inquiry.kind"), tr(f"inquiry.kind.{found['kind']}"))
    b.metric(tr("inquiry.state"), tr(f"inquiry.state.{found['state']}"))
    c.metric(tr("inquiry.due"), f"{found['due_on']:%Y-%m-%d}")
    if found["dept_name"]:
        st.text(tr("inquiry.dept_name", dept=found["dept_name"]))
    st.subheader(tr("inquiry.question"))
    if found["title"]:
        st.text(found["title"])
    st.text(found["content"])
    st.subheader(tr("inquiry.answer"))
    st.text(found["answer"] if found["answered_at"] else tr("inquiry.no_answer_yet"))


def published_qa() -> None:
    shown = inquiries.published_qa(db, limit=20)
    if not shown:
        st.info(tr("inquiry.qa_none"))
    for qa in shown:
        with st.container(border=True):
            st.markdown(f"**{plain(qa['title'])}**")
            if qa["item_name"]:
                st.caption(plain(f"{qa['item_name']}（{qa['item_code']}）"))
            st.text(qa["question"])
            st.text(f"{tr('inquiry.answer')}：{qa['answer']}")
            st.caption(plain(tr("inquiry.asked_on", asked=f"{qa['asked_on']:%Y-%m-%d}",
                                answered=f"{qa['answered_on']:%Y-%m-%d}", dept=qa["dept_name"])))


db = ui.db()
st.title(tr("page.ask"))
st.caption(tr("inquiry.intro"))
published = catalogue.search(db)
items = dict(zip(published["item_code"].to_list(), published["name"].to_list()))
submit_tab, follow_tab, qa_tab = st.tabs([tr("inquiry.submit_tab"), tr("inquiry.follow_tab"), tr("inquiry.qa_tab")])
with submit_tab:
    submit_form(items, inquiries.departments(db))
with follow_tab:
    follow_form()
with qa_tab:
    published_qa()
