"""AppTest helpers: point the app's cached Database at a test database, and open one screen as an actor."""
from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.testing.v1 import AppTest

PAGES = Path(__file__).resolve().parents[1] / "pages"


def point_app_at(db, monkeypatch) -> None:  # noqa: ANN001
    """The screens read EZZ_DATABASE_URL (and the schema) through a st.cache_resource that survives between
    AppTest runs: set them and clear the caches, so the screen opens this test's database."""
    monkeypatch.setenv("EZZ_DATABASE_URL", db.url)
    if db.schema:
        monkeypatch.setenv("EZZ_DATABASE_SCHEMA", db.schema)
    monkeypatch.setenv("EZZ_BACKGROUND_JOBS", "0")
    st.cache_resource.clear()
    st.cache_data.clear()


def open_page(page: str, actor=None, **query: str) -> AppTest:  # noqa: ANN001
    """Run pages/<page> once as `actor` (what the router would have resolved; None: the public) with these
    query parameters, and fail on an exception."""
    at = AppTest.from_file(str(PAGES / page), default_timeout=60)
    at.session_state["ezz_actor"] = actor
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at
