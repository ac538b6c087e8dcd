"""The signed-in user of this Streamlit session, resolved before st.navigation is built.

The page session keeps the server-side session_id in st.session_state; after a reload the HttpOnly cookie
(sent with the websocket handshake, read via st.context.cookies) names the session instead. Every script
run re-checks the session row, so a sign-out anywhere ends this session at its next click.
"""
from __future__ import annotations

import json

import streamlit as st

from app import auth
from app.config import load_settings
from app.db import get_database
from app.i18n import DEFAULT_LANGUAGE, t
from app.permissions import Actor

SESSION_KEY = "ezz_session_id"
PENDING_KEY = "ezz_browser_action"


def settings():  # noqa: ANN201
    return load_settings()


def db():  # noqa: ANN201
    cfg = settings()
    return get_database(cfg.database_url, schema=cfg.database_schema)


def lang() -> str:
    return st.session_state.get("lang", settings().default_language or DEFAULT_LANGUAGE)


def tr(key: str, **params: object) -> str:
    return t(key, lang(), **params)


def _cookie_token() -> str | None:
    try:
        value = st.context.cookies.get(settings().cookie_name)
    except Exception:  # no browser context (bare mode)
        return None
    return value if isinstance(value, str) and value else None  # AppTest has no real cookies


def current_actor() -> Actor | None:
    database = db()
    session_id = st.session_state.get(SESSION_KEY)
    if session_id is None and not st.session_state.get("ezz_signed_out"):
        token = _cookie_token()
        if token:
            session_id = auth.session_id_for_cookie(database, token)
            if session_id:
                st.session_state[SESSION_KEY] = session_id
    if session_id is None:
        return None
    user_id = auth.session_user(database, session_id=session_id)
    if user_id is None:
        st.session_state.pop(SESSION_KEY, None)
        st.session_state["ezz_flash"] = "auth.session_ended"
        return None
    return auth.actor_for(database, user_id)


def do_sign_in(username: str, password: str) -> str | None:
    """Check the password; on success remember the session and queue the cookie ticket for the browser.
    Returns an i18n error key or None."""
    cfg = settings()
    result = auth.sign_in(db(), username, password, max_failures=cfg.lockout_failures,
                          lock_minutes=cfg.lockout_minutes, session_hours=cfg.session_hours)
    if not result.ok:
        return result.message_key
    st.session_state[SESSION_KEY] = result.session_id
    st.session_state.pop("ezz_signed_out", None)
    st.session_state[PENDING_KEY] = ("ticket", result.ticket)
    st.session_state["ezz_go_home"] = True
    return None


def do_sign_out() -> None:
    session_id = st.session_state.pop(SESSION_KEY, None)
    if session_id:
        auth.sign_out(db(), session_id=session_id)
    # The cookie of this browser may still name the (now revoked) session until the route deletes it;
    # the flag keeps this page session from looking at it meanwhile.
    st.session_state["ezz_signed_out"] = True
    st.session_state[PENDING_KEY] = ("signout", None)
    st.session_state["ezz_flash"] = "auth.signed_out"
    st.session_state["ezz_go_home"] = True


def flush_browser_action() -> None:
    """Run the queued cookie request in the browser (script from us only; nothing user-typed)."""
    pending = st.session_state.pop(PENDING_KEY, None)
    if not pending:
        return
    kind, ticket = pending
    if kind == "ticket":
        body = json.dumps({"ticket": ticket})
        script = (f"<script>fetch('/api/session',{{method:'POST',credentials:'same-origin',"
                  f"headers:{{'Content-Type':'application/json'}},body:{json.dumps(body)}}});</script>")
    else:
        script = "<script>fetch('/api/signout',{method:'POST',credentials:'same-origin'});</script>"
    st.html(script, unsafe_allow_javascript=True)


def actor() -> Actor | None:
    """The user the router resolved for this run."""
    return st.session_state.get("ezz_actor")


def require_roles(actor: Actor | None, *roles: str) -> Actor:
    """Every page checks the role itself, whatever the navigation showed."""
    if actor is None or actor.role not in roles:
        st.error(tr("perm.page"))
        st.stop()
    return actor
