"""申请人注册: a person registers by resident ID, an enterprise by unified social credit code."""
from pathlib import Path

import streamlit as st

from app import auth
from app.ui import session as ui

tr = ui.tr

st.title(tr("auth.register_title"))
SIGN_IN_PAGE = Path(__file__).resolve().parent / "sign_in.py"

with st.form("register", clear_on_submit=False):
    kind = st.radio(tr("auth.id_kind"), ["resident_id", "credit_code"],
                    format_func=lambda k: tr(f"auth.id_kind.{k}"), horizontal=True)
    name = st.text_input(tr("auth.display_name"))
    id_number = st.text_input(tr("auth.id_number"), help=tr("auth.id_number_help"))
    username = st.text_input(tr("auth.username"), help=tr("auth.username_invalid"))
    password = st.text_input(tr("auth.password"), type="password", help=tr("auth.password_weak"))
    password2 = st.text_input(tr("auth.password_again"), type="password")
    phone = st.text_input(tr("auth.phone"))
    submitted = st.form_submit_button(tr("auth.register_submit"), type="primary")

if submitted:
    problems = auth.registration_problems(username=username, password=password, password2=password2,
                                          display_name=name, id_kind=kind, id_number=id_number)
    for key in problems:  # every problem at once, not one per submit
        st.error(tr(key))
    if not problems:
        try:
            auth.register_applicant(ui.db(), username=username, password=password, display_name=name,
                                    id_kind=kind, id_number=id_number, phone=phone or None)
        except auth.AuthError as exc:
            st.error(tr(exc.key, **exc.params))
        else:
            st.success(tr("auth.registered"))
            st.page_link(st.Page(SIGN_IN_PAGE, url_path="signin"), label=tr("auth.go_sign_in"), icon=":material/arrow_forward:")
