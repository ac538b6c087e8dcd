"""申请人注册: a person registers by resident ID, an enterprise by unified social credit code."""
import streamlit as st

from app import auth
from app.ui import session as ui

tr = ui.tr

st.title(tr("auth.register_title"))
with st.form("register"):
    kind = st.radio(tr("auth.id_kind"), ["resident_id", "credit_code"],
                    format_func=lambda k: tr(f"auth.id_kind.{k}"), horizontal=True)
    name = st.text_input(tr("auth.display_name"))
    id_number = st.text_input(tr("auth.id_number"))
    username = st.text_input(tr("auth.username"))
    password = st.text_input(tr("auth.password"), type="password")
    password2 = st.text_input(tr("auth.password_again"), type="password")
    phone = st.text_input(tr("auth.phone"))
    submitted = st.form_submit_button(tr("auth.register_submit"), type="primary")

if submitted:
    if password != password2:
        st.error(tr("auth.password_mismatch"))
    else:
        try:
            auth.register_applicant(ui.db(), username=username, password=password, display_name=name,
                                    id_kind=kind, id_number=id_number, phone=phone or None)
        except auth.AuthError as exc:
            st.error(tr(exc.key, **exc.params))
        else:
            st.success(tr("auth.registered"))
