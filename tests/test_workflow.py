"""The declared workflow: every legal transition works for its role and is recorded; every illegal one is
refused in app/ with a reason, and nothing is written."""
from __future__ import annotations

import pytest

from app import cases
from app import workflow as wf
from app.permissions import SYSTEM, PermissionDenied
from tests.factories import applicant_of, file_case

# domain.md §4 and §8, written out by hand: who may do what (a second statement of the rules, so that a
# slip in the transition table shows up here).
EXPECTED_ROLES = {
    "edit_draft": {wf.APPLICANT, wf.WINDOW_CLERK},
    "rate": {wf.APPLICANT},
    "complain": {wf.APPLICANT},
    "submit": {wf.APPLICANT, wf.WINDOW_CLERK},
    "request_supplement": {wf.OFFICER, wf.HEAD, wf.WINDOW_CLERK},
    "supplement": {wf.APPLICANT, wf.WINDOW_CLERK},
    "accept": {wf.OFFICER, wf.HEAD, wf.WINDOW_CLERK},
    "refuse_intake": {wf.OFFICER, wf.HEAD, wf.WINDOW_CLERK},
    "start_review": {wf.OFFICER, wf.HEAD},
    "review_opinion": {wf.OFFICER, wf.HEAD},
    "suspend": {wf.OFFICER, wf.HEAD},
    "resume": {wf.OFFICER, wf.HEAD},
    "extend": {wf.HEAD},                       # art. 42: extension with the head's approval
    "approve": {wf.HEAD},
    "refuse": {wf.HEAD},
    "complete": {wf.OFFICER, wf.HEAD},
    "withdraw": {wf.APPLICANT, wf.WINDOW_CLERK},
    "transfer": {wf.OFFICER, wf.HEAD, wf.WINDOW_CLERK},
    "receive_transfer": {wf.OFFICER, wf.HEAD},
    "claim": {wf.OFFICER, wf.HEAD},
    "assign": {wf.HEAD},                       # a head assigns; an officer claims
    "co_opinion": {wf.OFFICER, wf.HEAD},
    "assess_fee": {wf.OFFICER, wf.HEAD},
    "record_payment": {wf.OFFICER, wf.HEAD},
}


def test_roles_match_the_domain_rules():
    assert {t.action: set(t.roles) for t in wf.TRANSITIONS} == EXPECTED_ROLES
    # Supervisors, leaders and admins watch; they never move a case.
    for role in (wf.SUPERVISOR, wf.LEADER, wf.ADMIN):
        assert all(wf.allowed_actions(state, role) == [] for state in wf.STATES)


@pytest.mark.parametrize("state", wf.STATES)
@pytest.mark.parametrize("role", wf.ROLES)
def test_engine_refuses_everything_not_declared(state, role):
    for transition in wf.TRANSITIONS:
        legal = state in transition.sources and role in transition.roles
        if legal:
            assert wf.check_transition(transition.action, state, role, "理由") is transition
        else:
            with pytest.raises(wf.WorkflowError) as err:
                wf.check_transition(transition.action, state, role, "理由")
            assert err.value.key in ("workflow.wrong_state", "workflow.wrong_role")


def test_no_decision_after_withdrawal_and_no_withdrawal_after_decision():
    assert wf.allowed_actions(wf.WITHDRAWN, wf.HEAD) == []
    assert "withdraw" not in wf.allowed_actions(wf.APPROVED, wf.APPLICANT)
    assert "approve" not in wf.allowed_actions(wf.SUBMITTED, wf.HEAD)  # decision without acceptance
    assert "complete" not in wf.allowed_actions(wf.UNDER_REVIEW, wf.HEAD)  # result without decision


def test_reasons_are_required_where_the_law_wants_them():
    for action in ("refuse_intake", "refuse", "suspend", "extend", "request_supplement"):
        with pytest.raises(wf.WorkflowError) as err:
            wf.check_transition(action, wf.BY_ACTION[action].sources[0], wf.BY_ACTION[action].roles[0], "  ")
        assert err.value.key == "workflow.comment_required"


# -- through the service, on both databases -----------------------------------------------------------
# How to bring a case to each state: (action, acting user key, comment, payload). A decision follows an
# opinion at each of the item's review steps (审查 → 审核).
REVIEWED = [("review_opinion", "officer", "材料齐全，符合条件", {"step": "审查"}),
            ("review_opinion", "head", "同意", {"step": "审核"})]
PATHS = {
    wf.DRAFT: [],
    wf.SUBMITTED: [("submit", "applicant", None, None)],
    wf.AWAITING_SUPPLEMENT: [("submit", "applicant", None, None),
                             ("request_supplement", "officer", "缺营业执照副本", {"materials": [1]})],
    wf.ACCEPTED: [("submit", "applicant", None, None), ("accept", "officer", None, None)],
    wf.UNDER_REVIEW: [("submit", "applicant", None, None), ("accept", "officer", None, None),
                      ("start_review", "officer", None, None), *REVIEWED],
    wf.SPECIAL_PROCEDURE: [("submit", "applicant", None, None), ("accept", "officer", None, None),
                           ("start_review", "officer", None, None), ("suspend", "officer", "现场核查", None)],
    wf.APPROVED: [("submit", "applicant", None, None), ("accept", "officer", None, None),
                  ("start_review", "officer", None, None), *REVIEWED, ("approve", "head", None, None)],
    wf.REFUSED: [("submit", "applicant", None, None), ("accept", "officer", None, None),
                 ("start_review", "officer", None, None), *REVIEWED, ("refuse", "head", "不符合条件", None)],
    wf.NOT_ACCEPTED: [("submit", "applicant", None, None), ("refuse_intake", "officer", "不属于本部门职权", None)],
    wf.COMPLETED: [("submit", "applicant", None, None), ("accept", "officer", None, None),
                   ("start_review", "officer", None, None), *REVIEWED, ("approve", "head", None, None),
                   ("complete", "officer", None, None)],
    wf.TRANSFERRED: [("submit", "applicant", None, None),
                     ("transfer", "officer", "转区级办理", {"unit_id": "U-4207-SCJG"})],
}
ROLE_USER = {wf.APPLICANT: "applicant", wf.WINDOW_CLERK: "clerk", wf.OFFICER: "officer", wf.HEAD: "head",
             wf.SUPERVISOR: "supervisor", wf.LEADER: "leader", wf.ADMIN: "admin"}
PAYLOADS = {"extend": {"days": 5}, "transfer": {"unit_id": "U-4207-SCJG"},
            "request_supplement": {"materials": [1, 2]}}
# A co-department's opinion needs a parallel task, and the fee moves come with a payment notice through
# app/fees.py: test_workbench.py and test_fees.py take those through their own set-up.
OWN_SETUP = ("co_opinion", "assess_fee", "record_payment")
LEGAL = [(t.action, role, source) for t in wf.TRANSITIONS for role in t.roles for source in t.sources
         if t.action not in OWN_SETUP]


def _case_in(db, state, by="applicant"):  # noqa: ANN001, ANN202
    """A case in `state`; filed by the clerk at the window (for the same applicant) when the clerk acts."""
    actors = db.actors
    case = file_case(db, actors[by], submit=False, applicant=applicant_of(db, actors["applicant"]))
    for action, who, comment, payload in PATHS[state]:
        case = cases.perform(db, actors[who], case["case_id"], action, expected_version=case["version"],
                             comment=comment, payload=payload)
    assert case["state"] == state
    return case


@pytest.mark.parametrize("action,role,source", LEGAL, ids=[f"{a}-{r}-{s}" for a, r, s in LEGAL])
def test_every_legal_transition_works_and_is_recorded(seeded_db, action, role, source):
    actor = seeded_db.actors[ROLE_USER[role]]
    case = _case_in(seeded_db, source, by="clerk" if role == wf.WINDOW_CLERK else "applicant")
    transition = wf.BY_ACTION[action]
    payload = {"user_id": seeded_db.actors["officer"].user_id} if action == "assign" else PAYLOADS.get(action)
    result = cases.perform(seeded_db, actor, case["case_id"], action, expected_version=case["version"],
                           comment="依法办理意见", payload=payload)
    expected_state = transition.target or source
    assert result["state"] == expected_state
    events = cases.case_events(seeded_db, SYSTEM, case["case_id"])
    last = events[-1]
    assert (last["action"], last["from_state"], last["to_state"]) == (action, source, expected_state)
    assert (last["actor_user_id"], last["actor_role"], last["actor_unit_id"]) == (actor.user_id, role, actor.unit_id)
    assert last["comment"] == "依法办理意见"
    assert result["version"] == len(events)


ILLEGAL = [(t.action, role, state) for t in wf.TRANSITIONS for role in (wf.APPLICANT, wf.OFFICER, wf.HEAD)
           for state in (wf.SUBMITTED, wf.UNDER_REVIEW, wf.APPROVED)
           if not (state in t.sources and role in t.roles)]


@pytest.mark.parametrize("action,role,state", ILLEGAL, ids=[f"{a}-{r}-{s}" for a, r, s in ILLEGAL])
def test_illegal_transitions_are_refused_and_write_nothing(seeded_db, action, role, state):
    actor = seeded_db.actors[ROLE_USER[role]]
    case = _case_in(seeded_db, state)
    with pytest.raises(wf.WorkflowError):
        cases.perform(seeded_db, actor, case["case_id"], action, expected_version=case["version"],
                      comment="试图越权", payload=PAYLOADS.get(action))
    after = cases.get_case(seeded_db, SYSTEM, case["case_id"])
    assert (after["state"], after["version"]) == (state, case["version"])


def test_watchers_and_strangers_cannot_act(seeded_db):
    a = seeded_db.actors
    case = _case_in(seeded_db, wf.SUBMITTED)
    for who in ("supervisor", "leader", "admin", "applicant2", "other_dept_officer", "other_district_officer"):
        with pytest.raises(PermissionDenied):
            cases.perform(seeded_db, a[who], case["case_id"], "accept", expected_version=case["version"])
    assert cases.get_case(seeded_db, a["head"], case["case_id"])["version"] == case["version"]


def test_extension_is_capped_by_law(seeded_db):
    head = seeded_db.actors["head"]
    case = _case_in(seeded_db, wf.UNDER_REVIEW)
    case = cases.perform(seeded_db, head, case["case_id"], "extend", expected_version=case["version"],
                         comment="情况复杂", payload={"days": 10})
    assert case["extension_days"] == 10
    with pytest.raises(cases.CaseError) as err:
        cases.perform(seeded_db, head, case["case_id"], "extend", expected_version=case["version"],
                      comment="再次延长", payload={"days": 1})
    assert err.value.key == "case.extension_over_limit"


def test_supplement_stops_and_restarts_the_clock(seeded_db):
    a = seeded_db.actors
    case = _case_in(seeded_db, wf.AWAITING_SUPPLEMENT)
    assert case["clock_stopped"] is True and case["supplement_count"] == 1
    assert case["promised_due"] is None  # frozen while the applicant supplements
    case = cases.perform(seeded_db, a["applicant"], case["case_id"], "supplement", expected_version=case["version"])
    assert case["clock_stopped"] is False and case["promised_due"] is not None


def test_drafts_are_invisible_to_staff(seeded_db):
    """domain.md §4: a draft is the applicant's own; officers see a case only once it is submitted."""
    a = seeded_db.actors
    case = file_case(seeded_db, a["applicant"], submit=False)
    for who in ("officer", "head", "supervisor", "leader", "admin"):
        with pytest.raises(cases.CaseError):
            cases.get_case(seeded_db, a[who], case["case_id"])
    assert all(c["case_id"] != case["case_id"] for c in cases.list_cases(seeded_db, a["officer"]))
    cases.perform(seeded_db, a["applicant"], case["case_id"], "submit", expected_version=case["version"])
    assert cases.get_case(seeded_db, a["officer"], case["case_id"])["state"] == wf.SUBMITTED
