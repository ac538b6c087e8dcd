"""Test data made through the real services: users with real bcrypt hashes, cases via app.cases."""
from __future__ import annotations

from datetime import date, datetime

from app import auth, cases
from app import workflow as wf
from app.db import Database
from app.permissions import Actor
from app.validators import make_credit_code, make_resident_id

PASSWORD = "Ezhou@2026"
VILLAGE = "420704001002"  # 吴都社区, 古楼街道, 鄂城区 (district 420704)

USERS = {
    # key: (username, role, unit_id, display name)
    "applicant": ("t_zhang", wf.APPLICANT, None, "张三"),
    "applicant2": ("t_li", wf.APPLICANT, None, "李四"),
    "clerk": ("t_clerk", wf.WINDOW_CLERK, "U-4207-XZSP", "窗口小王"),
    "officer": ("t_officer", wf.OFFICER, "U-4207-SCJG", "市监承办"),
    "head": ("t_head", wf.HEAD, "U-4207-SCJG", "市监科长"),
    "district_officer": ("t_dofficer", wf.OFFICER, "U-420704-SCJG", "鄂城区市监承办"),
    "other_district_officer": ("t_hofficer", wf.OFFICER, "U-420703-SCJG", "华容区市监承办"),
    "other_dept_officer": ("t_zrgh", wf.OFFICER, "U-4207-ZRGH", "自然资源承办"),
    "district_head": ("t_dhead", wf.HEAD, "U-420704-SCJG", "鄂城区市监科长"),
    # parallel approval: 旅馆业特种行业许可 (公安局 leads; 消防救援 and 卫健委 give opinions)
    "gaj_officer": ("t_gaj", wf.OFFICER, "U-4207-GAJ", "公安承办"),
    "gaj_head": ("t_gajhead", wf.HEAD, "U-4207-GAJ", "公安科长"),
    "xfjy_officer": ("t_xfjy", wf.OFFICER, "U-4207-XFJY", "消防承办"),
    "wjw_officer": ("t_wjw", wf.OFFICER, "U-4207-WJW", "卫健承办"),
    # fees: 不动产登记 (自然资源和规划局)
    "zrgh_head": ("t_zrghhead", wf.HEAD, "U-4207-ZRGH", "自然资源科长"),
    "supervisor": ("t_super", wf.SUPERVISOR, "U-4207-JC", "监察员"),
    "leader": ("t_leader", wf.LEADER, "U-4207-LD", "市领导"),
    "admin": ("t_admin", wf.ADMIN, "U-4207-XZSP", "管理员"),
}


def create_users(db: Database) -> dict[str, Actor]:
    digest = auth.hash_password(PASSWORD)
    ids: dict[str, int] = {}

    def work(conn):  # noqa: ANN001, ANN202
        for n, (key, (username, role, unit, name)) in enumerate(USERS.items()):
            id_kind = id_number = None
            if role == wf.APPLICANT:
                id_kind, id_number = "resident_id", make_resident_id("420704", date(1985, 3, 1 + n), 100 + n)
            ids[key] = auth.create_user(conn, username=username, password=None, password_hash=digest,
                                        display_name=name, role=role, unit_id=unit, id_kind=id_kind,
                                        id_number=id_number)

    db.write(work)
    return {key: auth.actor_for(db, uid) for key, uid in ids.items()}


def applicant_of(db: Database, actor: Actor) -> cases.Applicant:
    from app import schema as s
    import sqlalchemy as sa

    with db.read() as conn:
        row = conn.execute(sa.select(s.users).where(s.users.c.user_id == actor.user_id)).fetchone()
    return cases.Applicant(name=row.display_name, id_kind=row.id_kind, id_number=row.id_number, user_id=row.user_id)


def enterprise_applicant() -> cases.Applicant:
    return cases.Applicant(name="鄂州示例科技有限公司", id_kind="credit_code",
                           id_number=make_credit_code("91420700MA4" + "F0G1H2"), user_id=None)


def file_case(db: Database, actor: Actor, *, item_code: str = "4207-SCJG-003", region: str = VILLAGE,
              submit: bool = True, at: datetime | None = None, applicant: cases.Applicant | None = None) -> dict:
    if applicant is None:
        applicant = applicant_of(db, actor) if actor.role == wf.APPLICANT else enterprise_applicant()
    return cases.create_case(db, actor, item_code=item_code, applicant=applicant, region_code=region,
                             channel="online" if actor.role == wf.APPLICANT else "window", submit=submit, at=at)


# An opinion at each review step of a two-step item (审查 → 审核), as a decision needs.
REVIEWED = [("review_opinion", "officer", "材料齐全，符合法定条件", {"step": "审查"}),
            ("review_opinion", "head", "同意", {"step": "审核"})]


def advance(db: Database, actors: dict[str, Actor], case: dict, steps: list, at: datetime | None = None) -> dict:
    """Move a case through (action, user key[, comment[, payload]]) steps with the real services."""
    for step in steps:
        action, who, comment, payload = (*step, None, None)[:4]
        case = cases.perform(db, actors[who], case["case_id"], action, expected_version=case["version"],
                             comment=comment, payload=payload, at=at)
    return case
