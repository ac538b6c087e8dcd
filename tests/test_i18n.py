"""Every user-facing string comes from the one catalogue, in Chinese and in English."""
from __future__ import annotations

import re
from pathlib import Path

from app import i18n, workflow as wf

ROOT = Path(__file__).resolve().parent.parent
KEY_PATTERN = re.compile(r"""(?:\btr|\bt|\btx|\bsay|\b_t)\(\s*f?["']([a-z_]+\.[a-z_.{}]+)["']""")
ERROR_KEY = re.compile(r"""(?:Error|Denied)\(\s*["']([a-z_]+\.[a-z_]+)["']""")


def _source_files():  # noqa: ANN202
    for folder in ("app", "pages"):
        yield from (ROOT / folder).rglob("*.py")
    yield ROOT / "server.py"


def test_every_key_used_in_code_is_in_the_catalogue():
    missing = []
    for path in _source_files():
        text = path.read_text(encoding="utf-8")
        for key in KEY_PATTERN.findall(text) + ERROR_KEY.findall(text):
            if "{" in key or key.endswith("."):
                continue  # keys completed at run time (state.{x}, "column." + name) are checked by expansion
            if key not in i18n.M:
                missing.append((path.name, key))
    assert missing == []


def test_state_role_and_action_names_exist_in_both_languages():
    for state in wf.STATES:
        assert f"state.{state}" in i18n.M
    for role in wf.ROLES:
        assert f"role.{role}" in i18n.M
    for transition in wf.TRANSITIONS:
        assert f"action.{transition.action}" in i18n.M
    for zh, en in i18n.M.values():
        assert zh and en and zh != en or zh.isascii()


def test_chinese_first_and_english_beside_it():
    assert i18n.t("page.sign_in") == "登录"
    assert i18n.t("page.sign_in", "en") == "Sign in"
    assert i18n.t("case.extension_over_limit", "en", limit=10).endswith("(10 working days).")
