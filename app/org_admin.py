"""Organisation and users (组织与用户, domain.md §8): the administrator's management of organisation units on the
five-level region tree, service windows, and staff accounts (role and unit, password reset, lock and unlock).

Every action is the administrator's only, one transaction, and recorded in the audit log. Accounts are changed
under their version (users.version), so two administrators editing one account cannot overwrite each other.
Locking an account revokes its sessions in the database at once, which ends them on every server (each page
run re-checks its session row). An administrator can neither lock nor demote themselves, and the last active
administrator stays one.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app import audit, auth, timeutil
from app import schema as s
from app import workflow as wf
from app.db import Database, update_versioned
from app.permissions import Actor, PermissionDenied
from app.validators import mask_id

UNIT_KINDS = ("department", "supervision", "leadership", "service_centre", "service_station")
_KIND_SUFFIX = {"supervision": "JC", "leadership": "LD", "service_centre": "BMFW", "service_station": "BMFW"}
NAME_MAX = 60
DEPARTMENT_ROLES = (wf.OFFICER, wf.HEAD)   # they see and act on their unit's department's cases
STATUS_ACTIVE, STATUS_LOCKED, STATUS_LOCKED_OUT = "active", "locked", "locked_out"


class OrgError(ValueError):
    """A refused change; `key` names the i18n message."""

    def __init__(self, key: str, **params: Any):
        super().__init__(key)
        self.key = key
        self.params = params


def _require_admin(actor: Actor) -> None:
    if actor is None or actor.role != wf.ADMIN:
        raise PermissionDenied("perm.denied")


def _name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise OrgError("org.name_required")
    if len(name) > NAME_MAX:
        raise OrgError("org.name_too_long", most=NAME_MAX)
    return name


# -- the region tree and units -----------------------------------------------------------------------------------
def _regions(conn: Connection) -> dict[str, Any]:
    return {r.code: r for r in conn.execute(sa.select(s.regions.c.code, s.regions.c.name, s.regions.c.level,
                                                      s.regions.c.parent_code))}


def _region_path(regions: dict[str, Any], code: str) -> list[str]:
    """The region and its ancestors up to the province."""
    path, seen = [], set()
    while code is not None and code in regions and code not in seen:
        seen.add(code)
        path.append(code)
        code = regions[code].parent_code
    return path


def _unit(conn: Connection, unit_id: str) -> Any:
    rows = conn.execute(sa.select(s.org_units).where(s.org_units.c.unit_id == unit_id)).fetchall()
    if not rows:
        raise OrgError("org.unit_unknown")
    return rows[0]


def _check_name_free(conn: Connection, name: str, unit_id: str | None = None) -> None:
    q = sa.select(s.org_units.c.unit_id).where(s.org_units.c.name == name)
    if unit_id is not None:
        q = q.where(s.org_units.c.unit_id != unit_id)
    if conn.execute(q).fetchall():
        raise OrgError("org.name_taken", name=name)


def _check_parent(conn: Connection, unit_id: str | None, region_code: str, parent_unit_id: str | None) -> None:
    """The parent exists, sits on the unit's region or above it in the tree, and is not the unit or below it."""
    if parent_unit_id is None:
        return
    if parent_unit_id == unit_id:
        raise OrgError("org.cycle")
    parent = _unit(conn, parent_unit_id)
    regions = _regions(conn)
    if parent.region_code not in _region_path(regions, region_code):
        raise OrgError("org.parent_region", parent=parent.name)
    parents = dict(conn.execute(sa.select(s.org_units.c.unit_id, s.org_units.c.parent_unit_id)).fetchall())
    cursor, seen = parent_unit_id, set()
    while cursor is not None and cursor not in seen:
        if cursor == unit_id:
            raise OrgError("org.cycle")
        seen.add(cursor)
        cursor = parents.get(cursor)


def list_units(db: Database) -> list[dict[str, Any]]:
    u, p = s.org_units, s.org_units.alias("parent")
    with db.read() as conn:
        staff = dict(conn.execute(sa.select(s.users.c.unit_id, sa.func.count()).where(s.users.c.unit_id.is_not(None))
                                  .group_by(s.users.c.unit_id)).fetchall())
        windows = dict(conn.execute(sa.select(s.service_windows.c.unit_id, sa.func.count())
                                    .group_by(s.service_windows.c.unit_id)).fetchall())
        rows = conn.execute(
            sa.select(u.c.unit_id, u.c.name, u.c.kind, u.c.dept_code, u.c.region_code,
                      s.regions.c.name.label("region"), u.c.parent_unit_id, p.c.name.label("parent"))
            .select_from(u.outerjoin(s.regions, s.regions.c.code == u.c.region_code)
                         .outerjoin(p, p.c.unit_id == u.c.parent_unit_id))
            .order_by(u.c.region_code, u.c.unit_id)).fetchall()
    return [{**dict(r._mapping), "staff": int(staff.get(r.unit_id, 0)), "windows": int(windows.get(r.unit_id, 0))}
            for r in rows]


def create_unit(db: Database, admin: Actor, *, name: str, kind: str, region_code: str,
                dept_code: str | None = None, parent_unit_id: str | None = None) -> str:
    _require_admin(admin)
    name = _name(name)
    if kind not in UNIT_KINDS:
        raise OrgError("org.kind_unknown")
    dept_code = (dept_code or "").strip() or None
    parent_unit_id = parent_unit_id or None
    if kind == "department" and dept_code is None:
        raise OrgError("org.dept_required")
    if kind != "department" and dept_code is not None:
        raise OrgError("org.dept_only_department")

    def work(conn: Connection) -> str:
        if region_code not in _regions(conn):
            raise OrgError("org.region_unknown")
        if dept_code is not None and not conn.execute(
                sa.select(s.departments.c.dept_code).where(s.departments.c.dept_code == dept_code)).fetchall():
            raise OrgError("org.dept_unknown")
        _check_name_free(conn, name)
        _check_parent(conn, None, region_code, parent_unit_id)
        base = f"U-{region_code}-{dept_code or _KIND_SUFFIX[kind]}"
        taken = {r[0] for r in conn.execute(sa.select(s.org_units.c.unit_id)
                                            .where(s.org_units.c.unit_id.like(base + "%")))}
        unit_id, n = base, 1
        while unit_id in taken:
            n += 1
            unit_id = f"{base}-{n}"
        conn.execute(s.org_units.insert().values(unit_id=unit_id, name=name, kind=kind, dept_code=dept_code,
                                                 region_code=region_code, parent_unit_id=parent_unit_id))
        audit.record(conn, "org_unit_create", user_id=admin.user_id, username=admin.username, detail={
            "unit_id": unit_id, "name": name, "kind": kind, "dept_code": dept_code, "region_code": region_code,
            "parent_unit_id": parent_unit_id})
        return unit_id

    return db.write(work)


def rename_unit(db: Database, admin: Actor, unit_id: str, name: str) -> None:
    _require_admin(admin)
    name = _name(name)

    def work(conn: Connection) -> None:
        unit = _unit(conn, unit_id)
        if unit.name == name:
            raise OrgError("org.nothing_changed")
        _check_name_free(conn, name, unit_id)
        conn.execute(s.org_units.update().where(s.org_units.c.unit_id == unit_id).values(name=name))
        audit.record(conn, "org_unit_rename", user_id=admin.user_id, username=admin.username,
                     detail={"unit_id": unit_id, "old": unit.name, "new": name})

    db.write(work)


def move_unit(db: Database, admin: Actor, unit_id: str, parent_unit_id: str | None) -> None:
    """Place a unit under another (or at the top, None) within the region tree."""
    _require_admin(admin)
    parent_unit_id = parent_unit_id or None

    def work(conn: Connection) -> None:
        unit = _unit(conn, unit_id)
        if unit.parent_unit_id == parent_unit_id:
            raise OrgError("org.nothing_changed")
        _check_parent(conn, unit_id, unit.region_code, parent_unit_id)
        conn.execute(s.org_units.update().where(s.org_units.c.unit_id == unit_id)
                     .values(parent_unit_id=parent_unit_id))
        audit.record(conn, "org_unit_move", user_id=admin.user_id, username=admin.username,
                     detail={"unit_id": unit_id, "old_parent": unit.parent_unit_id, "new_parent": parent_unit_id})

    db.write(work)


def regions(db: Database) -> list[dict[str, Any]]:
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(
            sa.select(s.regions.c.code, s.regions.c.name, s.regions.c.level).order_by(s.regions.c.code))]


def departments(db: Database) -> list[tuple[str, str]]:
    with db.read() as conn:
        return [(r.dept_code, r.name) for r in conn.execute(
            sa.select(s.departments.c.dept_code, s.departments.c.name).order_by(s.departments.c.dept_code))]


# -- service windows ---------------------------------------------------------------------------------------------
def list_windows(db: Database) -> list[dict[str, Any]]:
    w = s.service_windows
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(
            sa.select(w.c.window_id, w.c.name, w.c.unit_id, s.org_units.c.name.label("unit"), w.c.region_code)
            .select_from(w.outerjoin(s.org_units, s.org_units.c.unit_id == w.c.unit_id))
            .order_by(w.c.region_code, w.c.window_id))]


def _window(conn: Connection, window_id: str) -> Any:
    rows = conn.execute(sa.select(s.service_windows).where(s.service_windows.c.window_id == window_id)).fetchall()
    if not rows:
        raise OrgError("org.window_unknown")
    return rows[0]


def _check_window_name_free(conn: Connection, unit_id: str, name: str, window_id: str | None = None) -> None:
    w = s.service_windows.c
    q = sa.select(w.window_id).where(w.unit_id == unit_id, w.name == name)
    if window_id is not None:
        q = q.where(w.window_id != window_id)
    if conn.execute(q).fetchall():
        raise OrgError("org.window_name_taken", name=name)


def create_window(db: Database, admin: Actor, *, name: str, unit_id: str) -> str:
    _require_admin(admin)
    name = _name(name)

    def work(conn: Connection) -> str:
        unit = _unit(conn, unit_id)
        _check_window_name_free(conn, unit_id, name)
        taken = {r[0] for r in conn.execute(sa.select(s.service_windows.c.window_id))}
        n = 1
        while f"W-{unit.region_code}-{n:02d}" in taken:
            n += 1
        window_id = f"W-{unit.region_code}-{n:02d}"
        conn.execute(s.service_windows.insert().values(window_id=window_id, unit_id=unit_id, name=name,
                                                       region_code=unit.region_code))
        audit.record(conn, "org_window_create", user_id=admin.user_id, username=admin.username,
                     detail={"window_id": window_id, "name": name, "unit_id": unit_id})
        return window_id

    return db.write(work)


def rename_window(db: Database, admin: Actor, window_id: str, name: str) -> None:
    _require_admin(admin)
    name = _name(name)

    def work(conn: Connection) -> None:
        window = _window(conn, window_id)
        if window.name == name:
            raise OrgError("org.nothing_changed")
        _check_window_name_free(conn, window.unit_id, name, window_id)
        conn.execute(s.service_windows.update().where(s.service_windows.c.window_id == window_id).values(name=name))
        audit.record(conn, "org_window_rename", user_id=admin.user_id, username=admin.username,
                     detail={"window_id": window_id, "old": window.name, "new": name})

    db.write(work)


def move_window(db: Database, admin: Actor, window_id: str, unit_id: str) -> None:
    """A window belongs to a unit and sits in its region: moving it moves its region with it."""
    _require_admin(admin)

    def work(conn: Connection) -> None:
        window = _window(conn, window_id)
        unit = _unit(conn, unit_id)
        if window.unit_id == unit_id:
            raise OrgError("org.nothing_changed")
        _check_window_name_free(conn, unit_id, window.name, window_id)
        conn.execute(s.service_windows.update().where(s.service_windows.c.window_id == window_id)
                     .values(unit_id=unit_id, region_code=unit.region_code))
        audit.record(conn, "org_window_move", user_id=admin.user_id, username=admin.username,
                     detail={"window_id": window_id, "old_unit": window.unit_id, "new_unit": unit_id})

    db.write(work)


# -- accounts ----------------------------------------------------------------------------------------------------
def mask_phone(phone: str | None) -> str:
    digits = (phone or "").strip()
    if not digits:
        return ""
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def account_status(row: Any, now: Any = None) -> str:
    now = now or timeutil.now()
    if not row.active:
        return STATUS_LOCKED
    if row.locked_until is not None and row.locked_until > now:
        return STATUS_LOCKED_OUT
    return STATUS_ACTIVE


def list_accounts(db: Database, *, query: str = "", role: str | None = None, staff_only: bool = True,
                  limit: int = 500) -> list[dict[str, Any]]:
    """Accounts matching a username or name fragment, identifiers and phone numbers masked."""
    u = s.users
    q = (sa.select(u.c.user_id, u.c.username, u.c.display_name, u.c.role, u.c.unit_id,
                   s.org_units.c.name.label("unit"), u.c.id_number, u.c.phone, u.c.active, u.c.locked_until,
                   u.c.failed_attempts, u.c.created_at, u.c.version)
         .select_from(u.outerjoin(s.org_units, s.org_units.c.unit_id == u.c.unit_id))
         .order_by(u.c.username).limit(limit))
    text = (query or "").strip().lower()
    if text:
        q = q.where(sa.or_(sa.func.lower(u.c.username).contains(text, autoescape=True),
                           sa.func.lower(u.c.display_name).contains(text, autoescape=True)))
    if role:
        q = q.where(u.c.role == role)
    elif staff_only:
        q = q.where(u.c.role.in_(wf.STAFF_ROLES))
    now = timeutil.now()
    with db.read() as conn:
        rows = conn.execute(q).fetchall()
    return [{"user_id": r.user_id, "username": r.username, "display_name": r.display_name, "role": r.role,
             "unit_id": r.unit_id, "unit": r.unit, "id_number": mask_id(r.id_number) if r.id_number else "",
             "phone": mask_phone(r.phone), "status": account_status(r, now), "failed_attempts": r.failed_attempts,
             "created_at": r.created_at, "version": r.version} for r in rows]


def get_account(db: Database, user_id: int) -> dict[str, Any]:
    with db.read() as conn:
        rows = conn.execute(sa.select(s.users).where(s.users.c.user_id == user_id)).fetchall()
    if not rows:
        raise OrgError("org.account_unknown")
    r = rows[0]
    return {"user_id": r.user_id, "username": r.username, "display_name": r.display_name, "role": r.role,
            "unit_id": r.unit_id, "status": account_status(r), "failed_attempts": r.failed_attempts,
            "version": r.version}


def _check_role_unit(conn: Connection, role: str, unit_id: str | None) -> None:
    if role not in wf.STAFF_ROLES:
        raise OrgError("org.role_not_staff")
    if not unit_id:
        raise OrgError("org.unit_required")
    unit = _unit(conn, unit_id)
    if role in DEPARTMENT_ROLES and not unit.dept_code:
        raise OrgError("org.role_needs_department", unit=unit.name)


def _account_for_update(conn: Connection, user_id: int, expected_version: int) -> Any:
    rows = conn.execute(sa.select(s.users).where(s.users.c.user_id == user_id)).fetchall()
    if not rows:
        raise OrgError("org.account_unknown")
    if rows[0].version != expected_version:
        raise OrgError("org.stale")
    return rows[0]


def _other_active_admins(conn: Connection, user_id: int) -> int:
    u = s.users.c
    return int(conn.execute(sa.select(sa.func.count()).where(u.role == wf.ADMIN, u.active,
                                                             u.user_id != user_id)).scalar_one())


def _revoke_sessions(conn: Connection, user_id: int) -> int:
    rows = conn.execute(s.sessions.update()
                        .where(s.sessions.c.user_id == user_id, s.sessions.c.revoked_at.is_(None))
                        .values(revoked_at=timeutil.now()).returning(s.sessions.c.session_id)).fetchall()
    return len(rows)


def _versioned(conn: Connection, user_id: int, expected_version: int, values: dict[str, Any]) -> int:
    from app.db import StaleVersionError

    try:
        return update_versioned(conn, s.users, {"user_id": user_id}, expected_version, values)
    except StaleVersionError:
        raise OrgError("org.stale") from None


def create_staff(db: Database, admin: Actor, *, username: str, password: str, display_name: str, role: str,
                 unit_id: str) -> int:
    """A new staff account (auth.create_staff_account), with the role fitting its unit."""
    _require_admin(admin)
    with db.read() as conn:
        _check_role_unit(conn, role, unit_id)
    try:
        return auth.create_staff_account(db, admin, username=username, password=password,
                                         display_name=display_name, role=role, unit_id=unit_id)
    except auth.AuthError as exc:
        raise OrgError(exc.key, **exc.params) from None


def change_role_unit(db: Database, admin: Actor, user_id: int, *, role: str, unit_id: str,
                     expected_version: int) -> int:
    _require_admin(admin)

    def work(conn: Connection) -> int:
        user = _account_for_update(conn, user_id, expected_version)
        if user.role not in wf.STAFF_ROLES:
            raise OrgError("org.applicant_account")
        _check_role_unit(conn, role, unit_id)
        if (user.role, user.unit_id) == (role, unit_id):
            raise OrgError("org.nothing_changed")
        if user.role == wf.ADMIN and role != wf.ADMIN:
            if user_id == admin.user_id:
                raise OrgError("org.self_demote")
            if _other_active_admins(conn, user_id) == 0:
                raise OrgError("org.last_admin")
        version = _versioned(conn, user_id, expected_version, {"role": role, "unit_id": unit_id})
        audit.record(conn, "account_role_unit", user_id=admin.user_id, username=admin.username, detail={
            "target": user_id, "target_username": user.username, "old_role": user.role, "new_role": role,
            "old_unit": user.unit_id, "new_unit": unit_id})
        return version

    return db.write(work)


def reset_password(db: Database, admin: Actor, user_id: int, new_password: str, *, expected_version: int) -> int:
    """The administrator sets a new password (it must pass the password rules). The account's other
    sessions end: whoever knew the old password is signed out."""
    _require_admin(admin)
    problem = auth.password_problem(new_password or "")
    if problem:
        raise OrgError(problem)
    digest = auth.hash_password(new_password)

    def work(conn: Connection) -> int:
        user = _account_for_update(conn, user_id, expected_version)
        version = _versioned(conn, user_id, expected_version, {"password_hash": digest})
        revoked = 0 if user_id == admin.user_id else _revoke_sessions(conn, user_id)
        audit.record(conn, "account_password_reset", user_id=admin.user_id, username=admin.username,
                     detail={"target": user_id, "target_username": user.username, "sessions_revoked": revoked})
        return version

    return db.write(work)


def lock_account(db: Database, admin: Actor, user_id: int, *, expected_version: int) -> int:
    """Lock an account until an administrator unlocks it; its sessions are revoked at once. Returns how many."""
    _require_admin(admin)
    if user_id == admin.user_id:
        raise OrgError("org.self_lock")

    def work(conn: Connection) -> int:
        user = _account_for_update(conn, user_id, expected_version)
        if not user.active:
            raise OrgError("org.already_locked")
        if user.role == wf.ADMIN and _other_active_admins(conn, user_id) == 0:
            raise OrgError("org.last_admin")
        _versioned(conn, user_id, expected_version, {"active": False})
        revoked = _revoke_sessions(conn, user_id)
        audit.record(conn, "account_lock", user_id=admin.user_id, username=admin.username,
                     detail={"target": user_id, "target_username": user.username, "sessions_revoked": revoked})
        return revoked

    return db.write(work)


def unlock_account(db: Database, admin: Actor, user_id: int, *, expected_version: int) -> int:
    """Lift an administrator's lock and a lockout after wrong passwords alike; failed attempts start again."""
    _require_admin(admin)

    def work(conn: Connection) -> int:
        user = _account_for_update(conn, user_id, expected_version)
        if account_status(user) == STATUS_ACTIVE and not user.failed_attempts:
            raise OrgError("org.not_locked")
        version = _versioned(conn, user_id, expected_version,
                             {"active": True, "failed_attempts": 0, "locked_until": None})
        audit.record(conn, "account_unlock", user_id=admin.user_id, username=admin.username,
                     detail={"target": user_id, "target_username": user.username})
        return version

    return db.write(work)

