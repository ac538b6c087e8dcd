"""People, passwords and server-side sessions. No Streamlit here (the Hasher and Validator of
streamlit-authenticator are imported lazily, because that package imports Streamlit).

Sessions follow shared/notes/signin.md: a session row per sign-in; the Streamlit session keeps the
session_id in server memory; the browser gets an HttpOnly cookie holding a random token (its hash stored
in token_hash) by redeeming a one-time ticket at a route. Sign-out revokes the row, which ends the page
session and the cookie alike, on every server.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app import audit, timeutil
from app import schema as s
from app import workflow as wf
from app.db import Database
from app.permissions import Actor
from app.validators import validate_credit_code, validate_resident_id

TICKET_SECONDS = 60
# bcrypt reads at most 72 bytes; longer passwords are refused at registration, and at sign-in are
# checked as a wrong password (never an exception).
MAX_PASSWORD_BYTES = 72
_DUMMY_HASH: str | None = None
# Applicants recorded by a window clerk have no password until they register themselves (which claims the
# row): a value that is not a bcrypt hash can never match.
WINDOW_ONLY_HASH = "!window-registered"


def _hasher():  # noqa: ANN202
    from streamlit_authenticator.utilities.hasher import Hasher

    return Hasher


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def _check_password(password: str, hashed: str) -> bool:
    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES or not hashed.startswith("$2"):
        return False
    try:
        return _hasher().check_pw(password, hashed)
    except ValueError:
        return False


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password("timing-equaliser-" + secrets.token_hex(8))
    return _DUMMY_HASH


def password_problem(password: str) -> str | None:
    """None if the password is acceptable, else an i18n key (rules of streamlit-authenticator's Validator)."""
    from streamlit_authenticator.utilities.validator import Validator

    if len(password.encode("utf-8")) > MAX_PASSWORD_BYTES:
        return "auth.password_too_long"
    if not Validator().validate_password(password):
        return "auth.password_weak"
    return None


def username_problem(username: str) -> str | None:
    from streamlit_authenticator.utilities.validator import Validator

    if not Validator().validate_username(username) or len(username) < 3:
        return "auth.username_invalid"
    return None


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SignInResult:
    ok: bool
    message_key: str
    session_id: str | None = None
    ticket: str | None = None
    user: dict[str, Any] | None = None


class AuthError(ValueError):
    def __init__(self, key: str, **params: Any):
        super().__init__(key)
        self.key = key
        self.params = params


def actor_for(db: Database, user_id: int) -> Actor:
    with db.read() as conn:
        row = conn.execute(
            sa.select(s.users.c.user_id, s.users.c.username, s.users.c.role, s.users.c.display_name,
                      s.users.c.unit_id, s.org_units.c.dept_code, s.org_units.c.region_code,
                      s.org_units.c.name.label("unit_name"))
            .select_from(s.users.outerjoin(s.org_units, s.users.c.unit_id == s.org_units.c.unit_id))
            .where(s.users.c.user_id == user_id)
        ).fetchone()
    if row is None:
        raise AuthError("auth.no_user")
    return Actor(user_id=row.user_id, username=row.username, role=row.role, display_name=row.display_name,
                 unit_id=row.unit_id, dept_code=row.dept_code, region_code=row.region_code,
                 unit_name=row.unit_name)


# -- accounts ------------------------------------------------------------------------------------------
def create_user(conn: Connection, *, username: str, password: str | None, display_name: str, role: str,
                unit_id: str | None = None, id_kind: str | None = None, id_number: str | None = None,
                phone: str | None = None, password_hash: str | None = None) -> int:
    if role not in wf.ROLES:
        raise AuthError("auth.role_unknown")
    if role != wf.APPLICANT and not unit_id:
        raise AuthError("auth.staff_needs_unit")
    if conn.execute(sa.select(s.users.c.user_id).where(s.users.c.username == username)).fetchone():
        raise AuthError("auth.username_taken")
    digest = password_hash or hash_password(password or "")
    return int(conn.execute(s.users.insert().values(
        username=username, password_hash=digest, display_name=display_name, role=role, unit_id=unit_id,
        id_kind=id_kind, id_number=id_number, phone=phone, failed_attempts=0, locked_until=None, active=True,
        created_at=timeutil.now(), version=1,
    ).returning(s.users.c.user_id)).scalar_one())


def registration_problems(*, username: str, password: str, password2: str, display_name: str, id_kind: str,
                          id_number: str) -> list[str]:
    """Every problem of a registration form (i18n keys), so that the applicant can fix them in one go."""
    problems = [p for p in (username_problem((username or "").strip()), password_problem(password or "")) if p]
    if password != password2:
        problems.append("auth.password_mismatch")
    if not (display_name or "").strip():
        problems.append("auth.name_required")
    number = (id_number or "").strip().upper()
    err = (validate_resident_id(number) if id_kind == "resident_id" else
           validate_credit_code(number) if id_kind == "credit_code" else "id.kind")
    if err:
        problems.append(err)
    return problems


def create_staff_account(db: Database, admin: Actor, *, username: str, password: str, display_name: str,
                         role: str, unit_id: str) -> int:
    """Staff accounts are created by an administrator only, for an existing organisation unit."""
    if admin.role != wf.ADMIN:
        raise AuthError("perm.denied")
    if role not in wf.STAFF_ROLES:
        raise AuthError("auth.role_unknown")
    username = (username or "").strip()
    for problem in (username_problem(username), password_problem(password or "")):
        if problem:
            raise AuthError(problem)
    if not (display_name or "").strip():
        raise AuthError("auth.name_required")
    digest = hash_password(password)

    def work(conn: Connection) -> int:
        if conn.execute(sa.select(s.org_units.c.unit_id).where(s.org_units.c.unit_id == unit_id)).fetchone() is None:
            raise AuthError("auth.unit_unknown")
        user_id = create_user(conn, username=username, password=None, password_hash=digest,
                              display_name=display_name.strip(), role=role, unit_id=unit_id)
        audit.record(conn, "create_staff_account", user_id=admin.user_id, username=admin.username,
                     detail={"new_user_id": user_id, "role": role, "unit_id": unit_id})
        return user_id

    return db.write(work)


def units(db: Database) -> list[tuple[str, str]]:
    with db.read() as conn:
        return [(r.unit_id, r.name) for r in conn.execute(
            sa.select(s.org_units.c.unit_id, s.org_units.c.name).order_by(s.org_units.c.unit_id))]


def register_applicant(db: Database, *, username: str, password: str, display_name: str, id_kind: str,
                       id_number: str, phone: str | None = None) -> int:
    """Self-registration of an applicant (a person by resident ID, an enterprise by credit code)."""
    username = username.strip()
    id_number = id_number.strip().upper()
    for problem in (username_problem(username), password_problem(password)):
        if problem:
            raise AuthError(problem)
    if not display_name.strip():
        raise AuthError("auth.name_required")
    if id_kind == "resident_id":
        err = validate_resident_id(id_number)
    elif id_kind == "credit_code":
        err = validate_credit_code(id_number)
    else:
        err = "id.kind"
    if err:
        raise AuthError(err)
    digest = hash_password(password)

    def work(conn: Connection) -> int:
        existing = conn.execute(sa.select(s.users.c.user_id, s.users.c.password_hash, s.users.c.phone)
                                .where(s.users.c.id_number == id_number, s.users.c.role == wf.APPLICANT)).fetchone()
        if existing is not None and existing.password_hash != WINDOW_ONLY_HASH:
            raise AuthError("auth.id_registered")
        if conn.execute(sa.select(s.users.c.user_id).where(s.users.c.username == username)).fetchone():
            raise AuthError("auth.username_taken")
        if existing is not None:
            # Registered at a window before: the applicant takes over that record and sees those cases.
            conn.execute(s.users.update().where(s.users.c.user_id == existing.user_id).values(
                username=username, password_hash=digest, display_name=display_name.strip(), id_kind=id_kind,
                phone=phone or existing.phone))
            audit.record(conn, "register_claim", user_id=existing.user_id, username=username)
            return int(existing.user_id)
        user_id = create_user(conn, username=username, password=None, password_hash=digest,
                              display_name=display_name.strip(), role=wf.APPLICANT, id_kind=id_kind,
                              id_number=id_number, phone=phone)
        audit.record(conn, "register", user_id=user_id, username=username)
        return user_id

    return db.write(work)


# -- sign-in -------------------------------------------------------------------------------------------
def sign_in(db: Database, username: str, password: str, *, max_failures: int = 5, lock_minutes: int = 30,
            session_hours: int = 12) -> SignInResult:
    """Check a password; count failures and lock after `max_failures` in the database; on success open a
    session and a one-time ticket for the browser's cookie. The message never says which part was wrong."""
    now = timeutil.now()
    with db.read() as conn:
        user = conn.execute(sa.select(s.users).where(s.users.c.username == username.strip())).fetchone()
    if user is None or not user.active:
        _check_password(password, _dummy_hash())  # the same bcrypt time as for a known user
        return SignInResult(False, "auth.bad_credentials")
    if user.locked_until is not None and user.locked_until > now:
        _check_password(password, _dummy_hash())
        _audit(db, "sign_in_locked", user)
        return SignInResult(False, "auth.locked")
    if not _check_password(password, user.password_hash):
        locked = _count_failure(db, user.user_id, max_failures, now + timedelta(minutes=lock_minutes), now)
        _audit(db, "sign_in_failed", user)
        return SignInResult(False, "auth.locked" if locked else "auth.bad_credentials")

    session_id = secrets.token_urlsafe(24)
    ticket = secrets.token_urlsafe(24)

    def work(conn: Connection) -> None:
        conn.execute(s.users.update().where(s.users.c.user_id == user.user_id)
                     .values(failed_attempts=0, locked_until=None))
        conn.execute(s.sessions.insert().values(session_id=session_id, token_hash=None, user_id=user.user_id,
                                                created_at=now, expires_at=now + timedelta(hours=session_hours),
                                                revoked_at=None))
        conn.execute(s.login_tickets.insert().values(ticket_hash=_token_hash(ticket), session_id=session_id,
                                                     expires_at=now + timedelta(seconds=TICKET_SECONDS),
                                                     used_at=None))
        audit.record(conn, "sign_in", user_id=user.user_id, username=user.username)

    db.write(work)
    return SignInResult(True, "auth.welcome", session_id=session_id, ticket=ticket,
                        user={"user_id": user.user_id, "username": user.username, "role": user.role})


def _count_failure(db: Database, user_id: int, max_failures: int, lock_until: datetime, now: datetime) -> bool:
    """One atomic update: a failure after an expired lock starts a new count."""
    def work(conn: Connection) -> bool:
        row = conn.execute(sa.text(
            "UPDATE users SET "
            " failed_attempts = CASE WHEN locked_until IS NOT NULL AND locked_until <= :now THEN 1 "
            "                        ELSE failed_attempts + 1 END, "
            " locked_until = CASE WHEN locked_until IS NOT NULL AND locked_until <= :now THEN NULL "
            "                     WHEN failed_attempts + 1 >= :maxf THEN :until ELSE locked_until END "
            "WHERE user_id = :uid RETURNING failed_attempts, locked_until"
        ), {"now": now, "maxf": max_failures, "until": lock_until, "uid": user_id}).fetchone()
        return row is not None and row.locked_until is not None and row.locked_until > now
    return db.write(work)


def _audit(db: Database, action: str, user: Any) -> None:
    db.write(lambda conn: audit.record(conn, action, user_id=user.user_id, username=user.username))


def redeem_ticket(db: Database, ticket: str) -> str | None:
    """Exchange a one-time ticket for the cookie token of its session (None if unknown, used or expired)."""
    now = timeutil.now()
    token = secrets.token_urlsafe(32)

    def work(conn: Connection) -> str | None:
        row = conn.execute(
            s.login_tickets.update()
            .where(s.login_tickets.c.ticket_hash == _token_hash(ticket), s.login_tickets.c.used_at.is_(None),
                   s.login_tickets.c.expires_at > now)
            .values(used_at=now).returning(s.login_tickets.c.session_id)
        ).fetchone()
        if row is None:
            return None
        updated = conn.execute(
            s.sessions.update()
            .where(s.sessions.c.session_id == row.session_id, s.sessions.c.token_hash.is_(None),
                   s.sessions.c.revoked_at.is_(None))
            .values(token_hash=_token_hash(token)).returning(s.sessions.c.session_id)
        ).fetchone()
        return token if updated else None

    return db.write(work)


def session_user(db: Database, *, session_id: str | None = None, cookie_token: str | None = None) -> int | None:
    """The user of a live session, by the page's session_id or the browser's cookie token."""
    if not session_id and not cookie_token:
        return None
    q = sa.select(s.sessions.c.user_id).select_from(
        s.sessions.join(s.users, s.users.c.user_id == s.sessions.c.user_id)
    ).where(s.sessions.c.revoked_at.is_(None), s.sessions.c.expires_at > timeutil.now(), s.users.c.active)
    if session_id:
        q = q.where(s.sessions.c.session_id == session_id)
    else:
        q = q.where(s.sessions.c.token_hash == _token_hash(cookie_token or ""))
    with db.read() as conn:
        row = conn.execute(q).fetchone()
    return None if row is None else int(row.user_id)


def session_id_for_cookie(db: Database, cookie_token: str) -> str | None:
    with db.read() as conn:
        row = conn.execute(sa.select(s.sessions.c.session_id).where(
            s.sessions.c.token_hash == _token_hash(cookie_token), s.sessions.c.revoked_at.is_(None),
            s.sessions.c.expires_at > timeutil.now())).fetchone()
    return None if row is None else row.session_id


def sign_out(db: Database, *, session_id: str | None = None, cookie_token: str | None = None) -> None:
    """Revoke the session: the page and the cookie (copies included) stop working everywhere."""
    now = timeutil.now()

    def work(conn: Connection) -> None:
        cond = (s.sessions.c.session_id == session_id) if session_id else (
            s.sessions.c.token_hash == _token_hash(cookie_token or ""))
        rows = conn.execute(s.sessions.update().where(cond, s.sessions.c.revoked_at.is_(None))
                            .values(revoked_at=now).returning(s.sessions.c.user_id)).fetchall()
        for r in rows:
            audit.record(conn, "sign_out", user_id=r.user_id)

    db.write(work)


def unlock(db: Database, admin: Actor, user_id: int) -> None:
    if admin.role != wf.ADMIN:
        raise AuthError("perm.denied")

    def work(conn: Connection) -> None:
        conn.execute(s.users.update().where(s.users.c.user_id == user_id).values(failed_attempts=0, locked_until=None))
        audit.record(conn, "unlock", user_id=admin.user_id, username=admin.username, detail={"target": user_id})

    db.write(work)
