"""The Streamlit router: resolves the signed-in user first, then builds the navigation from the role.

Resolving the session before st.navigation keeps a reloaded sub-page on that sub-page. The router lives
here, not beside pages/, so that Streamlit's legacy pages/ scan never answers the first request of a new
server with "Page not found".
"""
from pathlib import Path

import streamlit as st

from app import workflow as wf
from app.i18n import LANGUAGES
from app.ui import session as ui

st.set_page_config(page_title="鄂州e政通", page_icon="🏛️", layout="wide")

# Tell the browser (and screen readers) which language the page is in; Streamlit serves lang="en".
st.html(f"<script>document.documentElement.lang='{'en' if ui.lang() == 'en' else 'zh-CN'}';</script>",
        unsafe_allow_javascript=True)

actor = ui.current_actor()
st.session_state["ezz_actor"] = actor
tr = ui.tr


PAGES_DIR = Path(__file__).resolve().parents[2] / "pages"


def page(path: str, key: str, url: str, default: bool = False) -> st.Page:
    return st.Page(PAGES_DIR / Path(path).name, title=tr(key), url_path=url, default=default)


public_home = lambda default=False: page("pages/public_home.py", "page.public_home", "public", default)  # noqa: E731
HOME_BY_ROLE = {
    wf.APPLICANT: ("pages/home_applicant.py", "page.home_applicant", "my"),
    wf.WINDOW_CLERK: ("pages/home_clerk.py", "page.home_clerk", "window"),
    wf.OFFICER: ("pages/home_officer.py", "page.home_officer", "desk"),
    wf.HEAD: ("pages/home_officer.py", "page.home_head", "desk"),
    wf.SUPERVISOR: ("pages/home_supervisor.py", "page.home_supervisor", "monitor"),
    wf.LEADER: ("pages/home_leader.py", "page.home_leader", "overview"),
    wf.ADMIN: ("pages/home_admin.py", "page.home_admin", "admin"),
}

if actor is None:
    home = public_home(default=True)
    pages = {tr("nav.public"): [home],
             tr("nav.account"): [page("pages/sign_in.py", "page.sign_in", "signin"),
                                 page("pages/register.py", "page.register", "register")]}
else:
    path, key, url = HOME_BY_ROLE[actor.role]
    home = page(path, key, url, default=True)
    pages = {tr("nav.work"): [home], tr("nav.public"): [public_home()]}

nav = st.navigation(pages)
if st.session_state.pop("ezz_go_home", False):
    # After signing in or out, land on the role's home in the same submit; the queued cookie request is
    # sent by the next run (switch_page reruns at once).
    st.switch_page(home)

with st.sidebar:
    st.selectbox(tr("app.language"), list(LANGUAGES), format_func=LANGUAGES.get, key="lang")
    if actor is not None:
        st.caption(tr("app.signed_in_as", name=actor.display_name, role=tr(f"role.{actor.role}")))
        if actor.unit_name:
            st.caption(tr("app.unit", unit=actor.unit_name))
        st.button(tr("app.sign_out"), on_click=ui.do_sign_out, key="sign_out_button")

flash = st.session_state.pop("ezz_flash", None)
if flash:
    st.toast(tr(flash))
ui.flush_browser_action()
nav.run()
