"""Each role signs in through the real sign-in form (Streamlit AppTest) and lands on its own home page
with real figures from the database; five wrong passwords lock the account."""
from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import workflow as wf
from tests.apptest_support import point_app_at
from tests.factories import PASSWORD, USERS, file_case

ROUTER = str(Path(__file__).resolve().parent.parent / "app" / "ui" / "router.py")
OPEN = ("submitted", "awaiting_supplement", "accepted", "under_review", "special_procedure", "approved",
        "refused", "transferred")


@pytest.fixture
def app_env(seeded_db, monkeypatch):  # noqa: ANN001, ANN201
    point_app_at(seeded_db, monkeypatch)
    # Some cases so that every home page has figures to show.
    a = seeded_db.actors
    for _ in range(3):
        file_case(seeded_db, a["applicant"])
    file_case(seeded_db, a["clerk"])
    yield seeded_db
    st.cache_resource.clear()


def sign_in(username: str, password: str) -> AppTest:
    at = AppTest.from_file(ROUTER, default_timeout=60).run()
    at.switch_page("../../pages/sign_in.py").run()
    at.text_input(key="signin_username").input(username)
    at.text_input(key="signin_password").input(password)
    at.button[0].click().run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> str:
    for m in at.metric:
        if m.label == label:
            return m.value
    raise AssertionError(f"no metric {label!r} in {[m.label for m in at.metric]}")


def scalar(db, sql: str, **params) -> int:  # noqa: ANN001
    with db.read() as conn:
        return int(conn.execute(sa.text(sql), params).scalar() or 0)


def num(text: str) -> int:
    return int(text.replace(",", ""))


def test_applicant_home(app_env):
    db = app_env
    at = sign_in(USERS["applicant"][0], PASSWORD)
    assert at.title[0].value == "我的办事"
    mine = scalar(db, "SELECT COUNT(*) FROM cases WHERE applicant_user_id = :u", u=db.actors["applicant"].user_id)
    assert mine >= 3 and num(metric(at, "我的办件")) == mine


def test_window_clerk_home(app_env):
    db = app_env
    at = sign_in(USERS["clerk"][0], PASSWORD)
    assert at.title[0].value == "窗口工作台"
    expected = scalar(db, "SELECT COUNT(*) FROM cases WHERE agent_user_id = :u AND state IN " + str(OPEN),
                      u=db.actors["clerk"].user_id)
    assert expected > 0 and num(metric(at, "在办件")) == expected


@pytest.mark.parametrize("who,title", [("officer", "待办工作台"), ("head", "负责人工作台")])
def test_officer_and_head_home(app_env, who, title):
    db = app_env
    at = sign_in(USERS[who][0], PASSWORD)
    assert at.title[0].value == title
    expected = scalar(db, "SELECT COUNT(*) FROM cases WHERE dept_code = 'SCJG' AND region_code LIKE '4207%' "
                          "AND state IN " + str(OPEN))
    assert expected > 0 and num(metric(at, "待办件")) == expected


def test_district_officer_sees_only_the_district(app_env):
    db = app_env
    file_case(db, db.actors["applicant2"], region=_village(db, "420703"))
    at = sign_in(USERS["other_district_officer"][0], PASSWORD)
    expected = scalar(db, "SELECT COUNT(*) FROM cases WHERE dept_code = 'SCJG' AND region_code LIKE '420703%' "
                          "AND state IN " + str(OPEN))
    city_wide = scalar(db, "SELECT COUNT(*) FROM cases WHERE dept_code = 'SCJG' AND state IN " + str(OPEN))
    assert 0 < expected < city_wide
    assert num(metric(at, "待办件")) == expected


def test_supervisor_home(app_env):
    db = app_env
    at = sign_in(USERS["supervisor"][0], PASSWORD)
    assert at.title[0].value == "实时监控"
    assert num(metric(at, "全市在办件")) == scalar(db, "SELECT COUNT(*) FROM cases WHERE state IN " + str(OPEN))


def test_leader_home(app_env):
    db = app_env
    at = sign_in(USERS["leader"][0], PASSWORD)
    assert at.title[0].value == "领导驾驶舱"
    from app import timeutil
    from datetime import timedelta

    today = timeutil.today()
    monday = today - timedelta(days=today.weekday())
    expected = scalar(db, "SELECT COUNT(*) FROM cases WHERE submitted_at >= :m", m=monday)
    assert expected > 0 and num(metric(at, "本周收件")) == expected


def test_admin_home(app_env):
    db = app_env
    at = sign_in(USERS["admin"][0], PASSWORD)
    assert at.title[0].value == "系统管理"
    assert num(metric(at, "用户数")) == scalar(db, "SELECT COUNT(*) FROM users")
    assert metric(at, "数据库结构版本") == str(scalar(db, "SELECT MAX(version) FROM schema_version"))


def test_pages_check_the_role_themselves(app_env):
    """A page run without the router (as if reached some other way) still refuses the wrong role."""
    page = str(Path(ROUTER).parents[2] / "pages" / "home_officer.py")
    at = AppTest.from_file(page, default_timeout=60)
    at.session_state["ezz_actor"] = app_env.actors["applicant"]
    at.run()
    assert any("不对您的角色开放" in e.value for e in at.error)
    assert not any(m.label == "待办件" for m in at.metric)
    at = AppTest.from_file(page, default_timeout=60)
    at.session_state["ezz_actor"] = app_env.actors["officer"]
    at.run()
    assert not at.error and any(m.label == "待办件" for m in at.metric)


def test_five_wrong_passwords_lock_the_account(app_env):
    db = app_env
    db.write(lambda c: __import__("app.auth", fromlist=["x"]).create_user(
        c, username="at_lock", password=PASSWORD, display_name="锁定", role=wf.OFFICER, unit_id="U-4207-SCJG"))
    for attempt in range(5):
        at = sign_in("at_lock", "Wrong@2026")
        message = at.error[0].value
        assert ("账户已锁定" in message) == (attempt == 4), (attempt, message)
    at = sign_in("at_lock", PASSWORD)
    assert "账户已锁定" in at.error[0].value
    assert not at.metric  # not signed in


def test_english_switch(app_env):
    at = sign_in(USERS["officer"][0], PASSWORD)
    at.selectbox(key="lang").set_value("en").run()
    assert at.title[0].value == "Officer desk"
    assert metric(at, "In my queue") is not None


def _exists(db, code: str) -> bool:  # noqa: ANN001
    return scalar(db, "SELECT COUNT(*) FROM regions WHERE code = :c", c=code) == 1


def _village(db, district: str) -> str:  # noqa: ANN001
    with db.read() as conn:
        return conn.execute(sa.text("SELECT MIN(code) FROM regions WHERE level = 5 AND code LIKE :p"),
                            {"p": district + "%"}).scalar()
