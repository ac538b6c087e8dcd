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

st.set_page_config(page_title="鄂州e政通", page_icon=":material/account_balance:", layout="wide")

# Tell the browser (and screen readers) which language the page is in; Streamlit serves lang="en".
st.html(f"<script>document.documentElement.lang='{'en' if ui.lang() == 'en' else 'zh-CN'}';</script>",
        unsafe_allow_javascript=True)

actor = ui.current_actor()
st.session_state["ezz_actor"] = actor
tr = ui.tr


PAGES_DIR = Path(__file__).resolve().parents[2] / "pages"


def page(name: str, key: str, url: str) -> st.Page:
    return st.Page(PAGES_DIR / name, title=tr(key), url_path=url)


# The screens of each role (domain.md §12): (file in pages/, title key, URL path); the first is its home.
PUBLIC_PAGES = [("public_home.py", "page.public_home", "public"), ("catalogue.py", "page.catalogue", "guide"),
                ("lookup.py", "page.lookup", "lookup"), ("verify.py", "page.verify", "verify"),
                ("ask.py", "page.ask", "ask"), ("ratings.py", "page.ratings", "ratings"),
                ("policies.py", "page.policies", "policies"), ("item_comments.py", "page.item_comments", "comments")]
ACCOUNT_PAGES = [("sign_in.py", "page.sign_in", "signin"), ("register.py", "page.register", "register")]
# An officer's and a head's screens; 事项管理 lets a department draft its own items (app/designer.py decides).
DEPARTMENT_PAGES = [("officer_case.py", "page.officer_case", "case"), ("co_tasks.py", "page.co_tasks", "co-tasks"),
                    ("fee_reconcile.py", "page.fees", "fees"),
                    ("dept_supervision.py", "page.dept_supervision", "dept-supervision"),
                    ("inquiries.py", "page.inquiries", "inquiries"),
                    ("item_designer.py", "page.item_designer", "designer")]
ROLE_PAGES = {
    wf.APPLICANT: [("home_applicant.py", "page.home_applicant", "my"), ("apply.py", "page.apply", "apply"),
                   ("my_cases.py", "page.my_cases", "cases"), ("locker.py", "page.locker", "locker"),
                   ("messages.py", "page.messages", "messages")],
    wf.WINDOW_CLERK: [("home_clerk.py", "page.home_clerk", "window"),
                      ("window_intake.py", "page.window_intake", "intake"),
                      ("window_cases.py", "page.window_cases", "window-cases")],
    wf.OFFICER: [("home_officer.py", "page.home_officer", "desk"), *DEPARTMENT_PAGES],
    wf.HEAD: [("home_officer.py", "page.home_head", "desk"), *DEPARTMENT_PAGES],
    wf.SUPERVISOR: [("home_supervisor.py", "page.home_supervisor", "monitor"),
                    ("explorer.py", "page.explorer", "explore"), ("alarms.py", "page.alarms", "alarms"),
                    ("record_check.py", "page.record_check", "record"), ("officer_case.py", "page.officer_case", "case"),
                    ("scorecard.py", "page.scorecard", "scorecard")],
    wf.LEADER: [("home_leader.py", "page.home_leader", "overview"), ("scorecard.py", "page.scorecard", "scorecard")],
    # 事项管理 · 工作日历 · 组织与用户 · 数据导入 (domain.md §12)
    wf.ADMIN: [("home_admin.py", "page.home_admin", "admin"), ("item_designer.py", "page.item_designer", "designer"),
               ("admin_calendar.py", "page.admin_calendar", "calendar"), ("admin_org.py", "page.admin_org", "org"),
               ("admin_import.py", "page.admin_import", "import")],
}


def build(specs: list[tuple[str, str, str]]) -> list[st.Page]:
    return [page(name, key, url) for name, key, url in specs]


def elsewhere(key: str, url: str) -> st.Page:
    """A screen of another role (or of a signed-in user, for someone signed out) opened by its address — a bookmark,
    an expired session, a link sent by a colleague: hidden from the menu, and instead of Streamlit's English "Page
    not found" and a jump to the home page, the sign-in page (the screen opens after it) or a word in the user's
    language."""
    def show() -> None:
        if actor is None:
            st.session_state["ezz_next"] = (url, st.query_params.to_dict())
            st.session_state["ezz_flash"] = "auth.sign_in_first"
            st.switch_page(sign_in)
        st.title(tr(key))
        st.warning(tr("nav.not_yours"))
        st.page_link(home, label=tr("nav.go_home"))

    return st.Page(show, title=tr(key), url_path=url, visibility="hidden")


if actor is None:
    specs = {tr("nav.public"): PUBLIC_PAGES, tr("nav.account"): ACCOUNT_PAGES}
else:
    specs = {tr("nav.work"): ROLE_PAGES[actor.role], tr("nav.public"): PUBLIC_PAGES}
pages = {section: build(listed) for section, listed in specs.items()}
shown = {url: p for section, listed in specs.items() for (_, _, url), p in zip(listed, pages[section], strict=True)}
home = next(iter(pages.values()))[0]
sign_in = shown.get("signin")
others = {url: key for listed in ROLE_PAGES.values() for _, key, url in listed if url not in shown}
pages[list(pages)[-1]] += [elsewhere(key, url) for url, key in others.items()]   # hidden from the menu


# The app's root shows the role's home, which also answers at its own address (/desk, /public): Streamlit serves
# its default page only at "/", so the home made the default would meet its own address with "Page not found".
home_file = next(iter(specs.values()))[0][0]
next(iter(pages.values())).insert(0, st.Page(PAGES_DIR / home_file, title=home.title, url_path="start",
                                             default=True, visibility="hidden"))

# Every screen listed: a collapsed menu ends in Streamlit's own English "View 4 more" button.
nav = st.navigation(pages, expanded=True)
if st.session_state.pop("ezz_go_home", False):
    # After signing in or out, land on the role's home — or on the screen asked for before signing in — in the
    # same submit; the queued cookie request is sent by the next run (switch_page reruns at once).
    asked, params = st.session_state.pop("ezz_next", None) or (None, {})
    if actor is not None and asked in shown:
        st.switch_page(shown[asked], query_params=params)
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
