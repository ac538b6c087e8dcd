"""People and sign-in on both databases: bcrypt hashes, persisted lockout, server-side sessions, tickets."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from app import auth, timeutil
from app import schema as s
from app.validators import make_credit_code, make_resident_id
from tests.factories import PASSWORD, USERS


def _user(db, username):  # noqa: ANN001, ANN202
    with db.read() as conn:
        return conn.execute(sa.select(s.users).where(s.users.c.username == username)).fetchone()


def test_passwords_are_real_bcrypt_hashes(seeded_db):
    row = _user(seeded_db, USERS["officer"][0])
    assert row.password_hash.startswith("$2b$12$") and PASSWORD not in row.password_hash


def test_sign_in_opens_a_session_and_a_one_time_ticket(seeded_db):
    result = auth.sign_in(seeded_db, USERS["officer"][0], PASSWORD)
    assert result.ok and result.session_id and result.ticket
    assert auth.session_user(seeded_db, session_id=result.session_id) == seeded_db.actors["officer"].user_id
    token = auth.redeem_ticket(seeded_db, result.ticket)
    assert token and auth.session_user(seeded_db, cookie_token=token) == seeded_db.actors["officer"].user_id
    assert auth.redeem_ticket(seeded_db, result.ticket) is None  # one time only


def test_sign_out_revokes_page_session_and_cookie_everywhere(seeded_db):
    result = auth.sign_in(seeded_db, USERS["head"][0], PASSWORD)
    token = auth.redeem_ticket(seeded_db, result.ticket)
    auth.sign_out(seeded_db, session_id=result.session_id)
    assert auth.session_user(seeded_db, session_id=result.session_id) is None
    assert auth.session_user(seeded_db, cookie_token=token) is None  # a copied cookie is dead too


def test_wrong_password_and_unknown_user_get_the_same_message(seeded_db):
    wrong = auth.sign_in(seeded_db, USERS["supervisor"][0], "Wrong@2026")
    unknown = auth.sign_in(seeded_db, "nobody_here", "Wrong@2026")
    assert not wrong.ok and not unknown.ok
    assert wrong.message_key == unknown.message_key == "auth.bad_credentials"


def test_five_failures_lock_the_account_in_the_database(empty_db):
    from pipelines.seed_reference import seed_reference

    empty_db.migrate()
    seed_reference(empty_db)
    empty_db.write(lambda c: auth.create_user(c, username="lockme", password=PASSWORD, display_name="锁定测试",
                                              role="officer", unit_id="U-4207-SCJG"))
    results = [auth.sign_in(empty_db, "lockme", "Wrong@2026") for _ in range(5)]
    assert [r.message_key for r in results] == ["auth.bad_credentials"] * 4 + ["auth.locked"]
    row = _user(empty_db, "lockme")
    assert row.failed_attempts == 5 and row.locked_until > timeutil.now()
    # Locked: even the right password is refused, and nothing in memory is involved (a fresh check).
    assert auth.sign_in(empty_db, "lockme", PASSWORD).message_key == "auth.locked"
    # When the lock has expired the right password works again and the count starts afresh.
    empty_db.write(lambda c: c.execute(s.users.update().where(s.users.c.username == "lockme")
                                       .values(locked_until=timeutil.now() - timedelta(minutes=1))))
    assert auth.sign_in(empty_db, "lockme", PASSWORD).ok
    assert _user(empty_db, "lockme").failed_attempts == 0


def test_overlong_password_counts_as_wrong_not_as_a_crash(seeded_db):
    result = auth.sign_in(seeded_db, USERS["leader"][0], "密" * 30)  # 90 bytes: more than bcrypt reads
    assert not result.ok and result.message_key == "auth.bad_credentials"


def test_applicants_register_with_checked_identifiers(seeded_db):
    good_id = make_resident_id("420704", date(1990, 5, 17), 321)
    uid = auth.register_applicant(seeded_db, username="reg_person", password="Regist@2026", display_name="王五",
                                  id_kind="resident_id", id_number=good_id)
    assert auth.actor_for(seeded_db, uid).role == "applicant"
    assert auth.sign_in(seeded_db, "reg_person", "Regist@2026").ok
    bad_id = good_id[:-1] + ("0" if good_id[-1] != "0" else "1")
    cases = [
        (dict(id_number=bad_id), "id.checksum"),
        (dict(id_number=good_id, username="reg_again"), "auth.id_registered"),
        (dict(password="weak"), "auth.password_weak"),
        (dict(username="x"), "auth.username_invalid"),
        (dict(username="reg_person"), "auth.username_taken"),
        (dict(id_kind="credit_code", id_number="91350100M000100Y44"), "uscc.checksum"),
    ]
    for change, key in cases:
        args = dict(username="reg_new", password="Regist@2026", display_name="赵六", id_kind="resident_id",
                    id_number=make_resident_id("420703", date(1991, 1, 1), 5))
        args.update(change)
        with pytest.raises(auth.AuthError) as err:
            auth.register_applicant(seeded_db, **args)
        assert err.value.key == key, change
    ent = auth.register_applicant(seeded_db, username="reg_firm", password="Regist@2026", display_name="鄂州某公司",
                                  id_kind="credit_code", id_number=make_credit_code("91420700MA4ABCD12"))
    assert auth.actor_for(seeded_db, ent).role == "applicant"


def test_staff_accounts_need_a_unit(seeded_db):
    with pytest.raises(auth.AuthError) as err:
        seeded_db.write(lambda c: auth.create_user(c, username="nounit", password=PASSWORD, display_name="无单位",
                                                   role="officer"))
    assert err.value.key == "auth.staff_needs_unit"


def test_registration_reports_every_problem_at_once():
    problems = auth.registration_problems(username="张", password="12345678", password2="1234567",
                                          display_name=" ", id_kind="resident_id", id_number="420704199001010120")
    assert problems == ["auth.username_invalid", "auth.password_weak", "auth.password_mismatch",
                        "auth.name_required", "id.checksum"]
    good = make_resident_id("420704", date(1990, 1, 1), 12)
    assert auth.registration_problems(username="zhang_90", password="Zhang@2026", password2="Zhang@2026",
                                      display_name="张三", id_kind="resident_id", id_number=good) == []


def test_staff_accounts_are_created_by_an_admin_only(seeded_db):
    admin, officer = seeded_db.actors["admin"], seeded_db.actors["officer"]
    with pytest.raises(auth.AuthError) as err:
        auth.create_staff_account(seeded_db, officer, username="new_off", password="NewOff@2026",
                                  display_name="新承办人", role="officer", unit_id="U-4207-SCJG")
    assert err.value.key == "perm.denied"
    with pytest.raises(auth.AuthError) as err:
        auth.create_staff_account(seeded_db, admin, username="new_off", password="NewOff@2026",
                                  display_name="新承办人", role="officer", unit_id="U-NOWHERE")
    assert err.value.key == "auth.unit_unknown"
    uid = auth.create_staff_account(seeded_db, admin, username="new_off", password="NewOff@2026",
                                    display_name="新承办人", role="officer", unit_id="U-420703-SCJG")
    actor = auth.actor_for(seeded_db, uid)
    assert (actor.role, actor.dept_code, actor.region_code) == ("officer", "SCJG", "420703")
    assert auth.sign_in(seeded_db, "new_off", "NewOff@2026").ok
