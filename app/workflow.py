"""The declared case workflow (domain.md §4): states, transitions, who may make each, and what each does
to the legal clock. One table of data and one small engine; services call `check_transition` before
writing, so an illegal move is refused in app/ with a reason whatever screen asked for it.
"""
from __future__ import annotations

from dataclasses import dataclass

# States (code name -> the UI term lives in the i18n catalogue under "state.<name>").
DRAFT = "draft"                      # 草稿
SUBMITTED = "submitted"              # 已提交
AWAITING_SUPPLEMENT = "awaiting_supplement"  # 待补正
ACCEPTED = "accepted"                # 已受理
NOT_ACCEPTED = "not_accepted"        # 不予受理
UNDER_REVIEW = "under_review"        # 审查中
SPECIAL_PROCEDURE = "special_procedure"  # 特别程序
APPROVED = "approved"                # 准予
REFUSED = "refused"                  # 不予许可
COMPLETED = "completed"              # 已办结
WITHDRAWN = "withdrawn"              # 已撤回
TRANSFERRED = "transferred"          # 已转办

STATES = (DRAFT, SUBMITTED, AWAITING_SUPPLEMENT, ACCEPTED, NOT_ACCEPTED, UNDER_REVIEW, SPECIAL_PROCEDURE,
          APPROVED, REFUSED, COMPLETED, WITHDRAWN, TRANSFERRED)
FINAL_STATES = frozenset({NOT_ACCEPTED, COMPLETED, WITHDRAWN})
# States in which the case is open for supervision (the clock matters).
OPEN_STATES = frozenset({SUBMITTED, AWAITING_SUPPLEMENT, ACCEPTED, UNDER_REVIEW, SPECIAL_PROCEDURE,
                         APPROVED, REFUSED, TRANSFERRED})

# Roles (domain.md §8).
APPLICANT = "applicant"
WINDOW_CLERK = "window_clerk"
OFFICER = "officer"
HEAD = "head"
SUPERVISOR = "supervisor"
LEADER = "leader"
ADMIN = "admin"
ROLES = (APPLICANT, WINDOW_CLERK, OFFICER, HEAD, SUPERVISOR, LEADER, ADMIN)
STAFF_ROLES = (WINDOW_CLERK, OFFICER, HEAD, SUPERVISOR, LEADER, ADMIN)

# Clock effects.
CLOCK_NONE = "none"
CLOCK_START_INTAKE = "start_intake"   # received: the 5-working-day intake window (art. 32) starts
CLOCK_STOP = "stop"                   # supplement / special procedure: time is not counted
CLOCK_RESTART = "restart"             # continues where it stopped
CLOCK_START_LIMIT = "start_limit"     # accepted: the handling limit starts
CLOCK_EXTEND = "extend"               # art. 42 extension by a head
CLOCK_END = "end"                     # decided / closed: the clock no longer runs


@dataclass(frozen=True)
class Transition:
    action: str
    sources: tuple[str, ...]
    target: str | None          # None: the state does not change (an opinion, an extension)
    roles: tuple[str, ...]
    clock: str = CLOCK_NONE
    needs_comment: bool = False  # reasons are required (refusals, suspensions, extensions …)


_STAFF_ACTING = (OFFICER, HEAD)
_BEFORE_RESULT = (SUBMITTED, AWAITING_SUPPLEMENT, ACCEPTED, UNDER_REVIEW, SPECIAL_PROCEDURE, APPROVED, REFUSED,
                  TRANSFERRED)

TRANSITIONS: tuple[Transition, ...] = (
    Transition("edit_draft", (DRAFT,), None, (APPLICANT, WINDOW_CLERK)),
    Transition("submit", (DRAFT,), SUBMITTED, (APPLICANT, WINDOW_CLERK), CLOCK_START_INTAKE),
    Transition("request_supplement", (SUBMITTED,), AWAITING_SUPPLEMENT, _STAFF_ACTING + (WINDOW_CLERK,),
               CLOCK_STOP, needs_comment=True),
    Transition("supplement", (AWAITING_SUPPLEMENT,), SUBMITTED, (APPLICANT, WINDOW_CLERK), CLOCK_RESTART),
    Transition("accept", (SUBMITTED,), ACCEPTED, _STAFF_ACTING + (WINDOW_CLERK,), CLOCK_START_LIMIT),
    Transition("refuse_intake", (SUBMITTED,), NOT_ACCEPTED, _STAFF_ACTING + (WINDOW_CLERK,), CLOCK_END,
               needs_comment=True),
    Transition("start_review", (ACCEPTED,), UNDER_REVIEW, _STAFF_ACTING),
    Transition("review_opinion", (UNDER_REVIEW,), None, _STAFF_ACTING, needs_comment=True),
    Transition("suspend", (UNDER_REVIEW,), SPECIAL_PROCEDURE, _STAFF_ACTING, CLOCK_STOP, needs_comment=True),
    Transition("resume", (SPECIAL_PROCEDURE,), UNDER_REVIEW, _STAFF_ACTING, CLOCK_RESTART),
    Transition("extend", (ACCEPTED, UNDER_REVIEW), None, (HEAD,), CLOCK_EXTEND, needs_comment=True),
    Transition("approve", (UNDER_REVIEW,), APPROVED, (HEAD,), CLOCK_END),
    Transition("refuse", (UNDER_REVIEW,), REFUSED, (HEAD,), CLOCK_END, needs_comment=True),
    Transition("complete", (APPROVED, REFUSED), COMPLETED, _STAFF_ACTING),
    Transition("withdraw", (DRAFT, SUBMITTED, AWAITING_SUPPLEMENT, ACCEPTED, UNDER_REVIEW, SPECIAL_PROCEDURE),
               WITHDRAWN, (APPLICANT, WINDOW_CLERK), CLOCK_END),
    Transition("transfer", (SUBMITTED, ACCEPTED), TRANSFERRED, _STAFF_ACTING + (WINDOW_CLERK,), needs_comment=True),
    Transition("receive_transfer", (TRANSFERRED,), SUBMITTED, _STAFF_ACTING),
    # The workbench's own moves, part of the record but not state changes: who holds the case (an officer
    # claims it, a head assigns it), a co-department's opinion in parallel approval, a fee assessed (payment
    # notice) and a payment reconciled from the non-tax revenue system.
    Transition("claim", _BEFORE_RESULT, None, _STAFF_ACTING),
    Transition("assign", _BEFORE_RESULT, None, (HEAD,)),
    Transition("co_opinion", (ACCEPTED, UNDER_REVIEW, SPECIAL_PROCEDURE), None, _STAFF_ACTING, needs_comment=True),
    Transition("assess_fee", (ACCEPTED, UNDER_REVIEW, SPECIAL_PROCEDURE, APPROVED), None, _STAFF_ACTING),
    Transition("record_payment", (ACCEPTED, UNDER_REVIEW, SPECIAL_PROCEDURE, APPROVED, COMPLETED), None,
               _STAFF_ACTING),
    # Not state changes, but part of the record: the applicant's rating (once, after completion) and a
    # complaint about the case (any time after submission).
    Transition("rate", (COMPLETED,), None, (APPLICANT,)),
    Transition("complain", (SUBMITTED, AWAITING_SUPPLEMENT, ACCEPTED, NOT_ACCEPTED, UNDER_REVIEW,
                            SPECIAL_PROCEDURE, APPROVED, REFUSED, COMPLETED, TRANSFERRED), None, (APPLICANT,),
               needs_comment=True),
)

BY_ACTION = {t.action: t for t in TRANSITIONS}


class WorkflowError(ValueError):
    """An illegal transition. `key` names the message in the i18n catalogue; `params` fill it."""

    def __init__(self, key: str, **params: str):
        super().__init__(f"{key} {params}")
        self.key = key
        self.params = params


def check_transition(action: str, state: str, role: str, comment: str | None = None) -> Transition:
    """Return the transition if `role` may do `action` on a case in `state`, else raise WorkflowError."""
    transition = BY_ACTION.get(action)
    if transition is None:
        raise WorkflowError("workflow.unknown_action", action=action)
    if state not in transition.sources:
        raise WorkflowError("workflow.wrong_state", action=action, state=state)
    if role not in transition.roles:
        raise WorkflowError("workflow.wrong_role", action=action, role=role)
    if transition.needs_comment and not (comment and comment.strip()):
        raise WorkflowError("workflow.comment_required", action=action)
    return transition


def allowed_actions(state: str, role: str) -> list[str]:
    """The actions a role may take now on a case in `state` (for showing only the allowed buttons)."""
    return [t.action for t in TRANSITIONS if state in t.sources and role in t.roles]


def target_state(transition: Transition, state: str) -> str:
    return transition.target if transition.target is not None else state
