"""登录: one sign-in for every department and level."""
import streamlit as st

from app.ui import session as ui

tr = ui.tr


def _submit() -> None:
    error = ui.do_sign_in(st.session_state.get("signin_username", ""), st.session_state.get("signin_password", ""))
    st.session_state["signin_error"] = error
    if error:
        st.session_state["signin_password"] = ""  # never leave a typed password on a shared counter screen


st.title(tr("page.sign_in"))
st.caption(tr("auth.intro"))
with st.form("signin", clear_on_submit=False):
    st.text_input(tr("auth.username"), key="signin_username")
    st.text_input(tr("auth.password"), type="password", key="signin_password")
    st.form_submit_button(tr("auth.submit"), on_click=_submit, type="primary")

error = st.session_state.pop("signin_error", None)
if error:
    st.error(tr(error))
