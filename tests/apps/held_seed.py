"""A page for tests/test_browser_seeded_widgets.py: 新建 seeds three widgets that are already on the screen, and
the run after it is held 3 s before drawing them (as a loaded server holds one), so that the browser can type
elsewhere meanwhile and stop that run. With EZZ_TEST_SEND=1 the widgets are drawn inside
form_widgets.sending_seeded, as the app's pages draw them; with 0, plainly."""
from __future__ import annotations

import contextlib
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import streamlit as st  # noqa: E402

from app.ui import form_widgets  # noqa: E402

KEYS = ("levels", "limit", "steps")


def start() -> None:
    form_widgets.seed_widgets({"levels": ["市"], "limit": 20, "steps": "审查\n审核"}, reset=True)
    st.session_state["hold"] = True


st.button("新建", on_click=start)
st.text_input("编码", key="code")
if st.session_state.pop("hold", False):
    time.sleep(3)
send = os.environ.get("EZZ_TEST_SEND") == "1"
with form_widgets.sending_seeded(KEYS.__contains__) if send else contextlib.nullcontext():
    st.multiselect("层级", ["市", "区", "镇"], key="levels")
    st.number_input("时限", min_value=0, key="limit")
    st.text_area("环节", key="steps")
st.text(f"held: levels={st.session_state.get('levels')} limit={st.session_state.get('limit')} "
        f"steps={st.session_state.get('steps')!r} code={st.session_state.get('code')}")
