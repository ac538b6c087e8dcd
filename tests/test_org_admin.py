"""组织与用户: organisation units on the region tree, windows, and staff accounts — every change and every refusal,
on DuckDB and PostgreSQL; locking ends the account's sessions at once; the /org screen (AppTest)."""
from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import auth, calendar_store
from app import org_admin as org
from app import schema as s
from app import workflow as wf
from app.permissions import PermissionDenied
from tests.conftest import BACKENDS, drop_database, make_database
from tests.factories import PASSWORD, USERS
from tests.apptest_support import open_page as open_screen
from tests.apptest_support import point_app_at

ROOT = Path(__file__).resolve().parent.parent
NEW_PASSWORD = "Xin#Mima2027"


@pytest.fixture(scope="module", params=BACKENDS)
def org_db(request, tmp_path_factory):  # noqa: ANN001, ANN201
    """A seeded database of this module's own: these tests lock accounts and count administrators."""
    from pipelines.seed_reference import seed_reference
    from tests.factories import create_users

    db = make_database(request.param, tmp_path_factory.mktemp(f"org_{request.param}"))
    db.migrate()
    seed_reference(db)
    calendar_store.invalidate()
    db.actors = create_users(db)  # type: ignore[attr-defined]
    yield db
    drop_database(db)


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def refused(key: str, fn, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
    with pytest.raises(org.OrgError) as err:
        fn(*args, **kwargs)
    assert err.value.key == key


def audited(db, action: str) -> list[dict]:  # noqa: ANN001
    with db.read() as conn:
        rows = conn.execute(sa.select(s.audit_log.c.detail, s.audit_log.c.username)
                            .where(s.audit_log.c.action == action)).fetchall()
    return [{"by": r.username, **json.loads(r.detail)} for r in rows]


def unit(db, unit_id: str):  # noqa: ANN001, ANN201
    with db.read() as conn:
        return conn.execute(sa.select(s.org_units).where(s.org_units.c.unit_id == unit_id)).fetchall()[0]


def new_staff(db, role: str = wf.OFFICER, unit_id: str = "U-4207-SCJG") -> tuple[int, str]:  # noqa: ANN001
    username = unique("s_")
    user_id = org.create_staff(db, db.actors["admin"], username=username, password=PASSWORD, display_name="测试人员",
                               role=role, unit_id=unit_id)
    return user_id, username


# -- units ------------------------------------------------------------------------------------------------------
def test_a_unit_is_created_renamed_and_moved_within_the_region_tree(org_db):
    db, admin = org_db, org_db.actors["admin"]
    name = unique("鄂城区市场监管局第二分局")
    unit_id = org.create_unit(db, admin, name=name, kind="department", region_code="420704", dept_code="SCJG",
                              parent_unit_id="U-4207-SCJG")
    assert unit_id.startswith("U-420704-SCJG-")   # U-420704-SCJG exists: the code gets a number
    row = unit(db, unit_id)
    assert (row.name, row.dept_code, row.region_code, row.parent_unit_id) == (name, "SCJG", "420704", "U-4207-SCJG")
    assert any(u["unit_id"] == unit_id for u in org.list_units(db))

    org.rename_unit(db, admin, unit_id, name + "（更名）")
    assert unit(db, unit_id).name == name + "（更名）"
    org.move_unit(db, admin, unit_id, "U-420704-SCJG")    # the district unit, same region: allowed
    assert unit(db, unit_id).parent_unit_id == "U-420704-SCJG"
    org.move_unit(db, admin, unit_id, None)
    assert unit(db, unit_id).parent_unit_id is None
    assert [a["new"] for a in audited(db, "org_unit_rename") if a["unit_id"] == unit_id] == [name + "（更名）"]
    assert [a["new_parent"] for a in audited(db, "org_unit_move") if a["unit_id"] == unit_id] == ["U-420704-SCJG", None]
    assert [a["by"] for a in audited(db, "org_unit_create") if a["unit_id"] == unit_id] == [admin.username]

    town = org.create_unit(db, admin, name=unique("测试便民服务中心"), kind="service_centre", region_code="420704001")
    assert town.startswith("U-420704001-BMFW")


def test_every_bad_unit_is_refused_and_nothing_is_saved(org_db):
    db, admin = org_db, org_db.actors["admin"]
    before = len(org.list_units(db))
    good = {"name": unique("测试单位"), "kind": "department", "region_code": "420704", "dept_code": "SCJG"}
    refused("org.name_required", org.create_unit, db, admin, **{**good, "name": "  "})
    refused("org.kind_unknown", org.create_unit, db, admin, **{**good, "kind": "club"})
    refused("org.dept_required", org.create_unit, db, admin, **{**good, "dept_code": None})
    refused("org.dept_only_department", org.create_unit, db, admin, **{**good, "kind": "service_centre"})
    refused("org.dept_unknown", org.create_unit, db, admin, **{**good, "dept_code": "NOPE"})
    refused("org.region_unknown", org.create_unit, db, admin, **{**good, "region_code": "429999"})
    refused("org.name_taken", org.create_unit, db, admin, **{**good, "name": unit(db, "U-4207-SCJG").name})
    refused("org.unit_unknown", org.create_unit, db, admin, **{**good, "parent_unit_id": "U-NOPE"})
    # a parent must sit on the unit's region or above it: not in a neighbouring district, not in a village below
    refused("org.parent_region", org.create_unit, db, admin, **{**good, "parent_unit_id": "U-420703-SCJG"})
    refused("org.parent_region", org.create_unit, db, admin, **{**good, "parent_unit_id": "U-420704001-BMFW"})
    with pytest.raises(PermissionDenied):
        org.create_unit(db, org_db.actors["officer"], **good)
    assert len(org.list_units(db)) == before

    child = org.create_unit(db, admin, **{**good, "region_code": "4207"}, parent_unit_id="U-4207-SCJG")
    refused("org.cycle", org.move_unit, db, admin, child, child)
    refused("org.cycle", org.move_unit, db, admin, "U-4207-SCJG", child)   # under its own child
    refused("org.nothing_changed", org.move_unit, db, admin, child, "U-4207-SCJG")
    refused("org.unit_unknown", org.rename_unit, db, admin, "U-NOPE", "新名")
    refused("org.name_taken", org.rename_unit, db, admin, child, unit(db, "U-4207-GAJ").name)
    assert unit(db, "U-4207-SCJG").parent_unit_id is None


# -- windows ----------------------------------------------------------------------------------------------------
def test_a_window_is_created_renamed_and_moved_with_its_region(org_db):
    db, admin = org_db, org_db.actors["admin"]
    name = unique("测试窗口")
    window_id = org.create_window(db, admin, name=name, unit_id="U-420704-SCJG")
    made = {w["window_id"]: w for w in org.list_windows(db)}[window_id]
    assert window_id.startswith("W-420704-") and made["region_code"] == "420704" and made["name"] == name
    refused("org.window_name_taken", org.create_window, db, admin, name=name, unit_id="U-420704-SCJG")
    refused("org.unit_unknown", org.create_window, db, admin, name=unique("窗口"), unit_id="U-NOPE")
    refused("org.name_required", org.create_window, db, admin, name="", unit_id="U-420704-SCJG")
    org.rename_window(db, admin, window_id, name + "二")
    org.move_window(db, admin, window_id, "U-420703-SCJG")
    moved = {w["window_id"]: w for w in org.list_windows(db)}[window_id]
    assert (moved["name"], moved["unit_id"], moved["region_code"]) == (name + "二", "U-420703-SCJG", "420703")
    refused("org.nothing_changed", org.move_window, db, admin, window_id, "U-420703-SCJG")
    refused("org.window_unknown", org.rename_window, db, admin, "W-NOPE", "x")
    assert [a["new_unit"] for a in audited(db, "org_window_move") if a["window_id"] == window_id] == ["U-420703-SCJG"]


# -- accounts ---------------------------------------------------------------------------------------------------
def test_the_account_list_searches_and_masks_identifiers(org_db):
    db = org_db
    staff = org.list_accounts(db)
    assert staff and all(a["role"] in wf.STAFF_ROLES for a in staff)
    found = org.list_accounts(db, query=USERS["applicant"][0].upper(), staff_only=False)
    assert [a["username"] for a in found] == [USERS["applicant"][0]]
    with db.read() as conn:
        full = conn.execute(sa.select(s.users.c.id_number).where(s.users.c.username == USERS["applicant"][0])).scalar()
    shown = found[0]["id_number"]
    assert shown != full and "*" in shown and shown[-4:] == full[-4:]
    assert org.list_accounts(db, query="%") == []   # a wildcard typed is a character, not "everything"
    assert org.mask_phone("13812345678") == "138****5678"


def test_staff_accounts_are_created_and_change_role_and_unit_under_their_version(org_db):
    db, admin = org_db, org_db.actors["admin"]
    user_id, username = new_staff(db)
    account = org.get_account(db, user_id)
    assert (account["role"], account["unit_id"], account["status"]) == (wf.OFFICER, "U-4207-SCJG", "active")
    refused("org.role_needs_department", org.create_staff, db, admin, username=unique("s_"), password=PASSWORD,
            display_name="x", role=wf.OFFICER, unit_id="U-4207-JC")
    refused("auth.password_weak", org.create_staff, db, admin, username=unique("s_"), password="weak",
            display_name="x", role=wf.OFFICER, unit_id="U-4207-SCJG")
    refused("auth.username_taken", org.create_staff, db, admin, username=username, password=PASSWORD,
            display_name="x", role=wf.OFFICER, unit_id="U-4207-SCJG")

    version = org.change_role_unit(db, admin, user_id, role=wf.HEAD, unit_id="U-420704-SCJG",
                                   expected_version=account["version"])
    actor = auth.actor_for(db, user_id)
    assert (actor.role, actor.unit_id, actor.region_code) == (wf.HEAD, "U-420704-SCJG", "420704")
    # a second administrator's screen still holds the old version: refused, not overwritten
    refused("org.stale", org.change_role_unit, db, admin, user_id, role=wf.WINDOW_CLERK, unit_id="U-4207-XZSP",
            expected_version=account["version"])
    refused("org.role_needs_department", org.change_role_unit, db, admin, user_id, role=wf.OFFICER,
            unit_id="U-4207-XZSP", expected_version=version)
    refused("org.role_not_staff", org.change_role_unit, db, admin, user_id, role=wf.APPLICANT,
            unit_id="U-4207-SCJG", expected_version=version)
    refused("org.unit_unknown", org.change_role_unit, db, admin, user_id, role=wf.HEAD, unit_id="U-NOPE",
            expected_version=version)
    refused("org.nothing_changed", org.change_role_unit, db, admin, user_id, role=wf.HEAD,
            unit_id="U-420704-SCJG", expected_version=version)
    applicant = org_db.actors["applicant"]
    refused("org.applicant_account", org.change_role_unit, db, admin, applicant.user_id, role=wf.OFFICER,
            unit_id="U-4207-SCJG", expected_version=org.get_account(db, applicant.user_id)["version"])
    refused("org.self_demote", org.change_role_unit, db, admin, admin.user_id, role=wf.OFFICER,
            unit_id="U-4207-SCJG", expected_version=org.get_account(db, admin.user_id)["version"])
    with pytest.raises(PermissionDenied):
        org.change_role_unit(db, org_db.actors["head"], user_id, role=wf.OFFICER, unit_id="U-4207-SCJG",
                             expected_version=version)
    [entry] = [a for a in audited(db, "account_role_unit") if a["target"] == user_id]
    assert (entry["old_role"], entry["new_role"], entry["new_unit"]) == (wf.OFFICER, wf.HEAD, "U-420704-SCJG")


def test_locking_ends_every_session_at_once_and_unlocking_clears_the_failures(org_db):
    db, admin = org_db, org_db.actors["admin"]
    user_id, username = new_staff(db)
    first, second = auth.sign_in(db, username, PASSWORD), auth.sign_in(db, username, PASSWORD)   # two browsers
    assert auth.session_user(db, session_id=first.session_id) == user_id
    version = org.get_account(db, user_id)["version"]

    assert org.lock_account(db, admin, user_id, expected_version=version) == 2
    assert auth.session_user(db, session_id=first.session_id) is None
    assert auth.session_user(db, session_id=second.session_id) is None
    assert not auth.sign_in(db, username, PASSWORD).ok
    assert org.list_accounts(db, query=username)[0]["status"] == org.STATUS_LOCKED
    [entry] = [a for a in audited(db, "account_lock") if a["target"] == user_id]
    assert entry["sessions_revoked"] == 2 and entry["by"] == admin.username
    version = org.get_account(db, user_id)["version"]
    refused("org.already_locked", org.lock_account, db, admin, user_id, expected_version=version)

    org.unlock_account(db, admin, user_id, expected_version=version)
    assert auth.sign_in(db, username, PASSWORD).ok
    # five wrong passwords lock it out; the administrator's unlock clears the count at once
    for _ in range(5):
        auth.sign_in(db, username, "Wrong#Pass1")
    assert org.get_account(db, user_id)["status"] == org.STATUS_LOCKED_OUT
    account = org.get_account(db, user_id)
    org.unlock_account(db, admin, user_id, expected_version=account["version"])
    account = org.get_account(db, user_id)
    assert (account["status"], account["failed_attempts"]) == (org.STATUS_ACTIVE, 0)
    assert auth.sign_in(db, username, PASSWORD).ok
    refused("org.not_locked", org.unlock_account, db, admin, user_id, expected_version=account["version"])
    refused("org.self_lock", org.lock_account, db, admin, admin.user_id,
            expected_version=org.get_account(db, admin.user_id)["version"])


def test_a_password_reset_follows_the_rules_and_ends_the_old_sessions(org_db):
    db, admin = org_db, org_db.actors["admin"]
    user_id, username = new_staff(db)
    old = auth.sign_in(db, username, PASSWORD)
    version = org.get_account(db, user_id)["version"]
    refused("auth.password_weak", org.reset_password, db, admin, user_id, "short", expected_version=version)
    org.reset_password(db, admin, user_id, NEW_PASSWORD, expected_version=version)
    assert auth.session_user(db, session_id=old.session_id) is None
    assert not auth.sign_in(db, username, PASSWORD).ok
    assert auth.sign_in(db, username, NEW_PASSWORD).ok
    refused("org.stale", org.reset_password, db, admin, user_id, NEW_PASSWORD, expected_version=version)


def test_the_last_active_administrator_stays_one(org_db):
    db, admin = org_db, org_db.actors["admin"]
    other_id, _ = new_staff(db, role=wf.ADMIN, unit_id="U-4207-XZSP")
    other = auth.actor_for(db, other_id)
    # every other administrator is locked: the remaining one cannot be demoted or locked by a stale session
    with db.read() as conn:
        admins = [r.user_id for r in conn.execute(sa.select(s.users.c.user_id).where(
            s.users.c.role == wf.ADMIN, s.users.c.active, s.users.c.user_id.not_in([admin.user_id, other_id])))]
    for uid in admins:
        org.lock_account(db, admin, uid, expected_version=org.get_account(db, uid)["version"])
    org.lock_account(db, admin, other_id, expected_version=org.get_account(db, other_id)["version"])
    refused("org.last_admin", org.change_role_unit, db, other, admin.user_id, role=wf.OFFICER,
            unit_id="U-4207-SCJG", expected_version=org.get_account(db, admin.user_id)["version"])
    refused("org.last_admin", org.lock_account, db, other, admin.user_id,
            expected_version=org.get_account(db, admin.user_id)["version"])
    org.unlock_account(db, admin, other_id, expected_version=org.get_account(db, other_id)["version"])
    for uid in admins:
        org.unlock_account(db, admin, uid, expected_version=org.get_account(db, uid)["version"])


# -- the screen (AppTest) ---------------------------------------------------------------------------------------
@pytest.fixture
def page_db(org_db, monkeypatch):  # noqa: ANN001, ANN201
    point_app_at(org_db, monkeypatch)
    yield org_db
    st.cache_resource.clear()


def open_page(actor) -> AppTest:  # noqa: ANN001
    return open_screen("admin_org.py", actor)


def test_org_screen_creates_a_staff_account_and_locks_it(page_db):
    db, admin = page_db, page_db.actors["admin"]
    at = open_page(admin)
    assert at.title[0].value == "组织与用户"
    assert [t.label for t in at.tabs] == ["组织机构", "服务窗口", "工作人员账户"]

    username = unique("p_")
    at.text_input(key="org-new-username").input(username)
    at.text_input(key="org-new-name").input("页面新建")
    at.selectbox(key="org-new-role").set_value(wf.OFFICER)
    at.selectbox(key="org-new-unit").set_value("U-4207-SCJG")
    at.text_input(key="org-new-password").input("weak")
    at.button(key="org-new-staff-submit").click().run()
    assert any("密码须为8至20位" in e.value for e in at.error)
    assert not org.list_accounts(db, query=username)

    at.text_input(key="org-new-username").input(username)
    at.text_input(key="org-new-name").input("页面新建")
    at.selectbox(key="org-new-role").set_value(wf.OFFICER)
    at.selectbox(key="org-new-unit").set_value("U-4207-SCJG")
    at.text_input(key="org-new-password").input(PASSWORD)
    at.button(key="org-new-staff-submit").click().run()
    assert not at.exception, at.exception
    assert any(f"已创建账户 {username}" in m.value.replace("\\", "") for m in at.success)
    [made] = org.list_accounts(db, query=username)

    signed_in = auth.sign_in(db, username, PASSWORD)
    at.text_input(key="org-search").input(username).run()
    at.selectbox(key="org-account").set_value(made["user_id"])
    at.button(key="org-lock").click().run()
    assert not at.exception, at.exception
    assert any("账户已锁定" in m.value for m in at.success)
    assert auth.session_user(db, session_id=signed_in.session_id) is None
    assert org.list_accounts(db, query=username)[0]["status"] == org.STATUS_LOCKED

    # the admin's own account cannot be locked: the reason is shown, nothing raised
    at.text_input(key="org-search").input(admin.username).run()
    at.selectbox(key="org-account").set_value(admin.user_id)
    at.button(key="org-lock").click().run()
    assert any("不能锁定自己的账户" in e.value for e in at.error)


def test_org_screen_is_for_administrators_only(page_db):
    at = open_page(page_db.actors["head"])
    assert any("不对您的角色开放" in e.value for e in at.error)
    assert not at.tabs
