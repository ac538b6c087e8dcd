"""The audit log: actions that are not case transitions (sign-in, accounts, seeding, configuration)."""
from __future__ import annotations

from typing import Any

from sqlalchemy.engine import Connection

from app import schema as s
from app import timeutil


def record(conn: Connection, action: str, *, user_id: int | None = None, username: str | None = None,
           detail: Any = None) -> None:
    import json

    conn.execute(s.audit_log.insert().values(
        occurred_at=timeutil.now(), user_id=user_id, username=username, action=action,
        detail=None if detail is None else json.dumps(detail, ensure_ascii=False, default=str),
    ))
