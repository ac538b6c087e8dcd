"""Who may see and act on what. Enforced here, in app/, whatever page asks.

An applicant sees only their own cases; a window clerk only the cases they registered; an officer or
head only their department's cases in their unit's subtree of the region tree (region codes are prefixes
of their descendants: 4207 → 420704 → 420704001 → 420704001001); supervisors, leaders and admins see all,
with personal identifiers masked.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

from app import schema as s
from app import workflow as wf
from app.validators import mask_id


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    role: str
    display_name: str = ""
    unit_id: str | None = None
    dept_code: str | None = None
    region_code: str | None = None
    unit_name: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in wf.STAFF_ROLES


SYSTEM = Actor(user_id=None, username="system", role="system", display_name="系统")


class PermissionDenied(PermissionError):
    """The actor may not see or act on this case. `key` names the i18n message."""

    def __init__(self, key: str = "perm.denied"):
        super().__init__(key)
        self.key = key


# Stands in for a missing department or region code in a comparison: no code contains it, and unlike a NUL
# byte PostgreSQL accepts it as text.
NO_CODE = "∅"


def case_scope(actor: Actor) -> sa.ColumnElement[bool]:
    """A WHERE clause selecting exactly the cases `actor` may see."""
    c = s.cases.c
    if actor.role == wf.APPLICANT:
        return c.applicant_user_id == actor.user_id
    if actor.role == wf.WINDOW_CLERK:
        return c.agent_user_id == actor.user_id  # only the cases they registered at their window
    if actor.role in (wf.OFFICER, wf.HEAD):
        own = sa.and_(c.dept_code == (actor.dept_code or NO_CODE),
                      c.region_code.startswith(actor.region_code or NO_CODE), c.state != wf.DRAFT)
        return sa.or_(own, _InSubquery(c.case_id, co_task_cases(actor)))
    if actor.role in (wf.SUPERVISOR, wf.LEADER, wf.ADMIN):
        return c.state != wf.DRAFT  # a draft is the applicant's own until it is submitted (domain.md §4)
    if actor.role == "system":
        return sa.true()
    return sa.false()


class _InSubquery(sa.sql.expression.ColumnElement):
    """`column IN (subquery)`, written `column = ANY(ARRAY(subquery))` on PostgreSQL. There the subquery then
    runs once, before the scan, and the condition can use an index: an officer's scope — own department's cases
    OR the cases of the department's parallel tasks — becomes a BitmapOr of two index scans instead of a scan of
    every case (at 1M cases the queue's count went from 270 ms to under 45 ms: bench/queue_pg.py). DuckDB keeps
    IN, which it runs well and which it would not compare with an array."""

    type = sa.Boolean()
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement),
                           ("subquery", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: sa.ColumnElement[Any], subquery: sa.Select):
        self.column = column
        self.subquery = subquery


@compiles(_InSubquery)
def _in_subquery(element: _InSubquery, compiler: Any, **kw: Any) -> str:
    return compiler.process(element.column.in_(element.subquery), **kw)


@compiles(_InSubquery, "postgresql")
def _in_subquery_pg(element: _InSubquery, compiler: Any, **kw: Any) -> str:
    return (f"{compiler.process(element.column, **kw)} = "
            f"ANY(ARRAY({compiler.process(element.subquery, asfrom=False, **kw)}))")


def co_task_cases(actor: Actor) -> sa.Select:
    """The cases whose parallel-approval task went to the actor's department within their unit's subtree
    (并联审批: a co-department sees the case and its materials to give its opinion)."""
    t = s.parallel_tasks.c
    return sa.select(t.case_id).where(t.dept_code == (actor.dept_code or NO_CODE),
                                      t.region_code.startswith(actor.region_code or NO_CODE))


def holds_task(actor: Actor, task: Any) -> bool:
    return (actor.role in (wf.OFFICER, wf.HEAD) and task.dept_code == actor.dept_code
            and task.region_code.startswith(actor.region_code or NO_CODE))


def can_view(actor: Actor, case: Any) -> bool:
    if actor.role == wf.APPLICANT:
        return case.applicant_user_id == actor.user_id
    if actor.role == wf.WINDOW_CLERK:
        return case.agent_user_id == actor.user_id
    if actor.role in (wf.OFFICER, wf.HEAD):
        return (case.dept_code == actor.dept_code and case.region_code.startswith(actor.region_code or NO_CODE)
                and case.state != wf.DRAFT)
    if actor.role in (wf.SUPERVISOR, wf.LEADER, wf.ADMIN):
        return case.state != wf.DRAFT
    return actor.role == "system"


def can_act(actor: Actor, case: Any) -> bool:
    """Supervisors, leaders and admins watch; they never move a case."""
    if actor.role in (wf.SUPERVISOR, wf.LEADER, wf.ADMIN):
        return False
    return can_view(actor, case)


def needs_full_identifier(actor: Actor, case: Any) -> bool:
    """Only the applicant and the staff handling the case need the full ID number."""
    if actor.role == wf.APPLICANT:
        return case.applicant_user_id == actor.user_id
    return actor.role in (wf.WINDOW_CLERK, wf.OFFICER, wf.HEAD) and can_view(actor, case)


def shown_identifier(actor: Actor, case: Any) -> str:
    value = case.applicant_id_number
    return value if needs_full_identifier(actor, case) else mask_id(value)
