"""The item designer (事项管理, app/designer.py) on DuckDB and PostgreSQL: an item created without code goes
through public comment to publication, a change is a new version, a withdrawal takes it offline — while the
cases filed under an earlier version keep it — and every unusable design is refused with its reason.

The seeded database is shared by the session, so every test designs items under codes of its own.
"""
from __future__ import annotations

import itertools
import uuid
from dataclasses import replace

import pytest
import sqlalchemy as sa

from app import applications, cases, catalogue, designer, forms
from app import schema as s
from app import workflow as wf
from app.db import StaleVersionError
from app.designer import DesignError, FeeSpec, FieldSpec, ItemSpec, MaterialSpec
from app.permissions import Actor, PermissionDenied
from tests.factories import file_case

_serial = itertools.count(1)
# The legal affairs office: staff of the 司法局, which took over the 法制办's duties.
LEGAL_OFFICER = Actor(user_id=None, username="t_sfj", role=wf.OFFICER, display_name="司法局法制科",
                      unit_id="U-4207-SFJ", dept_code="SFJ", region_code="4207")


def new_code() -> str:
    return f"4207-SCJG-T{next(_serial)}{uuid.uuid4().hex[:4].upper()}"


def design(code: str | None = None, **changes) -> ItemSpec:  # noqa: ANN003
    """A usable licence of the 市场监管局: two materials, three form fields, two review steps."""
    spec = ItemSpec(
        item_code=code or new_code(), name="电子商务经营者登记（测试）", kind="行政许可", category="approval",
        dept_code="SCJG", co_dept_codes=[], handling_levels=["市"], statutory_limit=20, statutory_unit="working",
        promised_days=5, immediate=False, basis="《中华人民共和国电子商务法》第十条", conditions="依法从事经营活动",
        result_name="登记通知书", online_batch=2, review_steps=["审查", "审核"],
        materials=[MaterialSpec("申请书", True, "原件", ["pdf"]), MaterialSpec("场所使用证明", True, "复印件", ["pdf", "jpg"])],
        fields=[FieldSpec("shop_name", "网店名称", "text", True, rule={"max_length": 40}),
                FieldSpec("platform", "经营平台", "select", True, choices=["淘宝", "京东", "其他"]),
                FieldSpec("staff", "从业人数", "number", False, rule={"integer": True, "min": 0})],
    )
    return replace(spec, **changes)


def keys(exc: pytest.ExceptionInfo) -> list[str]:
    return [k for k, _ in exc.value.problems]


def status_of(db, code: str) -> dict[int, tuple[str, bool]]:  # noqa: ANN001
    with db.read() as conn:
        rows = conn.execute(sa.select(s.items.c.version, s.items.c.status, s.items.c.is_current)
                            .where(s.items.c.item_code == code)).fetchall()
    return {int(r.version): (r.status, bool(r.is_current)) for r in rows}


# -- the round trip ------------------------------------------------------------------------------------------------

def test_round_trip_create_comment_publish_new_version_withdraw(seeded_db):
    db, a = seeded_db, seeded_db.actors
    code = new_code()
    v1 = designer.create_item(db, a["admin"], design(code))
    assert (v1.version, v1.status, v1.is_current) == (1, designer.DRAFT, False)
    with pytest.raises(catalogue.ItemNotPublished):   # a draft is nobody's business but the designers'
        catalogue.guide(db, code)

    v1 = designer.open_comment(db, a["admin"], code, 1, expected_revision=v1.revision)
    assert code in [r["item_code"] for r in designer.under_comment(db)]
    assert designer.comment_draft(db, code, 1).name == "电子商务经营者登记（测试）"
    designer.add_comment(db, code, 1, "建议增加网店链接字段。", author_name="王五", client=f"c-{code}")
    seen = designer.comments(db, a["officer"], code)
    assert [c["content"] for c in seen] == ["建议增加网店链接字段。"] and seen[0]["author_name"] == "王五"

    v1 = designer.publish(db, a["admin"], code, 1, expected_revision=v1.revision)
    assert status_of(db, code) == {1: ("published", True)}
    assert code not in [r["item_code"] for r in designer.under_comment(db)]
    guide = catalogue.guide(db, code)
    assert guide["version"] == 1 and [m["name"] for m in guide["materials"]] == ["申请书", "场所使用证明"]
    assert code in catalogue.search(db, keyword=code)["item_code"].to_list()
    assert [f.field_key for f in forms.load_form(db, code, 1)] == ["shop_name", "platform", "staff"]

    # An applicant files under version 1.
    old_case = file_case(db, a["applicant"], item_code=code)
    assert old_case["item_version"] == 1 and old_case["unit_id"] == "U-4207-SCJG"

    # A change to a published item is a new draft version copied from it; version 1 stays online meanwhile.
    v2 = designer.new_version(db, a["officer"], code)
    assert (v2.version, v2.status) == (2, designer.DRAFT)
    _, copied = designer.load(db, a["officer"], code, 2)
    assert [m.name for m in copied.materials] == ["申请书", "场所使用证明"] and len(copied.fields) == 3
    changed = replace(copied, name="电子商务经营者登记", fields=[*copied.fields, FieldSpec("shop_url", "网店网址")])
    v2 = designer.save_draft(db, a["officer"], code, 2, changed, expected_revision=v2.revision)
    assert catalogue.guide(db, code)["version"] == 1

    v2 = designer.publish(db, LEGAL_OFFICER, code, 2, expected_revision=v2.revision)
    assert status_of(db, code) == {1: ("published", False), 2: ("published", True)}
    assert catalogue.guide(db, code)["name"] == "电子商务经营者登记"
    assert applications.published_item(db, code)["version"] == 2
    new_case = file_case(db, a["applicant"], item_code=code)
    assert new_case["item_version"] == 2

    # The open case keeps its version and still works: its form is version 1's, and it can be accepted.
    assert [f.field_key for f in forms.load_form(db, code, old_case["item_version"])] == ["shop_name", "platform", "staff"]
    accepted = cases.perform(db, a["officer"], old_case["case_id"], "accept", expected_version=old_case["version"])
    assert accepted["state"] == wf.ACCEPTED and accepted["item_version"] == 1

    # Withdrawn: no new application, no guide; the open case goes on.
    designer.withdraw(db, a["admin"], code, 2, expected_revision=v2.revision, reason="职能调整，事项取消")
    assert status_of(db, code)[2] == ("withdrawn", True)
    with pytest.raises(catalogue.ItemNotPublished):
        catalogue.guide(db, code)
    with pytest.raises(cases.CaseError) as refused:
        file_case(db, a["applicant"], item_code=code)
    assert refused.value.key == "case.item_unknown"
    assert code not in catalogue.search(db, keyword=code)["item_code"].to_list()
    started = cases.perform(db, a["officer"], old_case["case_id"], "start_review", expected_version=accepted["version"])
    assert started["state"] == wf.UNDER_REVIEW

    # Every step is in the audit log.
    with db.read() as conn:
        actions = [r[0] for r in conn.execute(sa.select(s.audit_log.c.action).where(
            s.audit_log.c.detail.like(f'%"{code}"%')).order_by(s.audit_log.c.audit_id))]
    assert actions == ["item_create", "item_open_comment", "item_comment", "item_publish", "item_new_version",
                       "item_save", "item_publish", "item_withdraw"]

    # A withdrawn item comes back as a new version.
    v3 = designer.new_version(db, a["admin"], code)
    designer.publish(db, a["admin"], code, 3, expected_revision=v3.revision)
    assert catalogue.guide(db, code)["version"] == 3 and status_of(db, code)[2] == ("withdrawn", False)


def test_revise_takes_a_version_under_comment_back_to_draft(seeded_db):
    db, admin = seeded_db, seeded_db.actors["admin"]
    code = new_code()
    v = designer.create_item(db, admin, design(code))
    v = designer.open_comment(db, admin, code, 1, expected_revision=v.revision)
    with pytest.raises(DesignError) as refused:   # not edited while the public reads it
        designer.save_draft(db, admin, code, 1, design(code, name="改"), expected_revision=v.revision)
    assert refused.value.key == "designer.not_editable"
    v = designer.revise(db, admin, code, 1, expected_revision=v.revision)
    assert v.status == designer.DRAFT
    designer.save_draft(db, admin, code, 1, design(code, name="改后的名称"), expected_revision=v.revision)
    assert designer.load(db, admin, code, 1)[1].name == "改后的名称"


# -- refusals ------------------------------------------------------------------------------------------------------

REFUSED = [
    ("promised above statutory", dict(statutory_limit=10, promised_days=15), "designer.promised_above_statutory"),
    ("promised above a statute in calendar days", dict(statutory_limit=10, statutory_unit="calendar", promised_days=8),
     "designer.promised_above_statutory_calendar"),
    ("on-the-spot item with promised days", dict(immediate=True, statutory_limit=0, promised_days=3),
     "designer.immediate_promised"),
    ("promised item without promised days", dict(promised_days=0), "designer.promised_required"),
    ("co-department that does not exist", dict(co_dept_codes=["NOPE"]), "designer.co_dept_unknown"),
    ("lead department unknown", dict(dept_code="XXX"), "designer.dept_unknown"),
    ("lead also co-department", dict(co_dept_codes=["SCJG"]), "designer.co_dept_is_lead"),
    ("select without choices", dict(fields=[FieldSpec("kind", "类别", "select", True)]), "designer.choices_required"),
    ("duplicate field keys", dict(fields=[FieldSpec("shop", "网店"), FieldSpec("shop", "网店2")]), "designer.field_duplicate"),
    ("bad field key", dict(fields=[FieldSpec("Shop Name", "网店")]), "designer.field_key_format"),
    ("unsupported field type", dict(fields=[FieldSpec("shop", "网店", "signature")]), "designer.field_type_unknown"),
    ("min above max", dict(fields=[FieldSpec("n", "数量", "number", rule={"min": 5, "max": 1})]), "designer.rule_range"),
    ("fee charged with no basis", dict(fees=[FeeSpec("工本费", "每证10元", "")]), "designer.fee_basis_required"),
    ("duplicate material", dict(materials=[MaterialSpec("申请书"), MaterialSpec("申请书")]), "designer.material_duplicate"),
    ("material without a format", dict(materials=[MaterialSpec("申请书", formats=[])]), "designer.material_formats"),
    ("certificate of an unknown item", dict(materials=[MaterialSpec("执照", reuse_certificate="执照", reuse_item_code="4207-NONE-1")]),
     "designer.reuse_unknown"),
    ("no handling level", dict(handling_levels=[]), "designer.levels_required"),
    ("bad code", dict(item_code="abc def"), "designer.code_format"),
    ("duplicate review steps", dict(review_steps=["审查", "审查"]), "designer.steps_duplicate"),
]


@pytest.mark.parametrize("what,changes,key", REFUSED, ids=[r[0] for r in REFUSED])
def test_an_unusable_design_is_refused_with_its_reason(seeded_db, what, changes, key):  # noqa: ANN001
    db, admin = seeded_db, seeded_db.actors["admin"]
    spec = design(**changes)
    with pytest.raises(DesignError) as refused:
        designer.create_item(db, admin, spec)
    assert key in keys(refused)
    with db.read() as conn:   # nothing half-saved
        assert conn.execute(sa.select(sa.func.count()).select_from(s.items)
                            .where(s.items.c.item_code == spec.item_code.strip().upper())).scalar() == 0


def test_a_promise_within_a_calendar_day_statute_and_an_on_the_spot_item_are_accepted(seeded_db):
    db, admin = seeded_db, seeded_db.actors["admin"]
    # 7 working days take at least 10 calendar days (five working days a week): within a 10-day statute.
    designer.create_item(db, admin, design(statutory_limit=10, statutory_unit="calendar", promised_days=7))
    designer.create_item(db, admin, design(immediate=True, statutory_limit=0, promised_days=0, review_steps=["审查"]))


def test_a_fee_with_its_basis_reaches_the_guide(seeded_db):
    db, admin = seeded_db, seeded_db.actors["admin"]
    code = new_code()
    fee = FeeSpec("工本费", "每证10元", "《行政事业性收费项目目录》")
    v = designer.create_item(db, admin, design(code, fees=[fee]))
    designer.publish(db, admin, code, 1, expected_revision=v.revision)
    g = catalogue.guide(db, code)
    assert g["fee"]["charged"] and "每证10元" in g["fee"]["text"] and g["fee"]["basis"] == ["《行政事业性收费项目目录》"]


def test_duplicate_item_code_is_refused(seeded_db):
    db, admin = seeded_db, seeded_db.actors["admin"]
    with pytest.raises(DesignError) as refused:
        designer.create_item(db, admin, design("4207-SCJG-003"))   # a seeded item
    assert refused.value.key == "designer.code_taken"
    code = new_code()
    designer.create_item(db, admin, design(code))
    with pytest.raises(DesignError) as again:
        designer.create_item(db, admin, design(code.lower()))
    assert again.value.key == "designer.code_taken"


@pytest.mark.parametrize("changes,key", [(dict(materials=[]), "designer.no_materials"),
                                         (dict(fields=[]), "designer.no_fields"),
                                         (dict(result_name=""), "designer.result_required")])
def test_publishing_or_commenting_an_unusable_draft_is_refused(seeded_db, changes, key):  # noqa: ANN001
    db, admin = seeded_db, seeded_db.actors["admin"]
    code = new_code()
    v = designer.create_item(db, admin, design(code, **changes))   # a draft may be incomplete …
    for move in (designer.publish, designer.open_comment):          # … but it cannot go out like that
        with pytest.raises(DesignError) as refused:
            move(db, admin, code, 1, expected_revision=v.revision)
        assert key in keys(refused)
    assert status_of(db, code) == {1: ("draft", False)}


def test_editing_a_published_version_in_place_is_refused(seeded_db):
    db, admin = seeded_db, seeded_db.actors["admin"]
    code = new_code()
    v = designer.create_item(db, admin, design(code))
    v = designer.publish(db, admin, code, 1, expected_revision=v.revision)
    with pytest.raises(DesignError) as refused:
        designer.save_draft(db, admin, code, 1, design(code, name="偷偷改名"), expected_revision=v.revision)
    assert refused.value.key == "designer.not_editable"
    assert catalogue.guide(db, code)["name"] == "电子商务经营者登记（测试）"
    with pytest.raises(DesignError) as deleting:
        designer.delete_draft(db, admin, code, 1)
    assert deleting.value.key == "designer.not_editable"
    # A seeded item is changed the same way: a new version.
    seeded = designer.new_version(db, admin, "4207-SCJG-003")
    assert seeded.status == designer.DRAFT and seeded.version >= 2
    with pytest.raises(DesignError) as twice:
        designer.new_version(db, admin, "4207-SCJG-003")
    assert twice.value.key == "designer.draft_exists"
    designer.delete_draft(db, admin, "4207-SCJG-003", seeded.version)
    assert catalogue.guide(db, "4207-SCJG-003")["version"] == 1


def test_a_stale_editor_cannot_overwrite_a_newer_draft(seeded_db):
    db, admin = seeded_db, seeded_db.actors["admin"]
    code = new_code()
    v = designer.create_item(db, admin, design(code))
    designer.save_draft(db, admin, code, 1, design(code, name="第一次修改"), expected_revision=v.revision)
    with pytest.raises(StaleVersionError):
        designer.save_draft(db, admin, code, 1, design(code, name="过时的修改"), expected_revision=v.revision)
    with pytest.raises(StaleVersionError):
        designer.publish(db, admin, code, 1, expected_revision=v.revision)
    assert designer.load(db, admin, code, 1)[1].name == "第一次修改"


# -- permissions ---------------------------------------------------------------------------------------------------

def test_a_department_drafts_its_own_items_only(seeded_db):
    db, a = seeded_db, seeded_db.actors
    code = new_code()
    with pytest.raises(PermissionDenied) as other:
        designer.create_item(db, a["other_dept_officer"], design(code))   # 自然资源 drafting a 市场监管 item
    assert other.value.key == "designer.perm_other_dept"
    v = designer.create_item(db, a["officer"], design(code))            # 市场监管 drafts its own
    with pytest.raises(PermissionDenied):
        designer.save_draft(db, a["other_dept_officer"], code, 1, design(code, name="改"), expected_revision=v.revision)
    with pytest.raises(PermissionDenied):   # nor hand its draft to another department
        designer.save_draft(db, a["officer"], code, 1, design(code, dept_code="ZRGH"), expected_revision=v.revision)
    with pytest.raises(PermissionDenied):
        designer.comments(db, a["other_dept_officer"], code)
    v = designer.save_draft(db, a["head"], code, 1, design(code, name="市场监管改"), expected_revision=v.revision)
    for move in (designer.open_comment, designer.publish):
        with pytest.raises(PermissionDenied) as lifecycle:
            move(db, a["head"], code, 1, expected_revision=v.revision)
        assert lifecycle.value.key == "designer.perm_lifecycle"
    designer.publish(db, LEGAL_OFFICER, code, 1, expected_revision=v.revision)   # the legal affairs office may
    assert catalogue.guide(db, code)["name"] == "市场监管改"
    for who in ("applicant", "clerk", "supervisor", "leader"):
        with pytest.raises(PermissionDenied):
            designer.create_item(db, a[who], design())
        with pytest.raises(PermissionDenied):
            designer.item_list(db, a[who])
    own = designer.item_list(db, a["officer"])
    assert own and {r["dept_code"] for r in own} == {"SCJG"}
    assert len(designer.item_list(db, LEGAL_OFFICER)) > len(own)


# -- public comment --------------------------------------------------------------------------------------------------

def test_public_comments_are_plain_limited_and_rate_limited(seeded_db):
    db, admin = seeded_db, seeded_db.actors["admin"]
    code = new_code()
    v = designer.create_item(db, admin, design(code))
    with pytest.raises(DesignError) as closed:
        designer.add_comment(db, code, 1, "草稿阶段不接受意见", client="x")
    assert closed.value.key == "comment.closed"
    with pytest.raises(DesignError):
        designer.comment_draft(db, code, 1)   # the public does not read drafts
    designer.open_comment(db, admin, code, 1, expected_revision=v.revision)
    client = f"client-{code}"
    for text, key in (("短", "comment.too_short"), ("长" * (designer.COMMENT_MAX + 1), "comment.too_long")):
        with pytest.raises(DesignError) as refused:
            designer.add_comment(db, code, 1, text, client=client)
        assert refused.value.key == key
    designer.add_comment(db, code, 1, "<b>加粗</b>\x00\x07 意见", client=client)
    stored = designer.comments(db, admin, code, 1)[0]["content"]
    assert stored == "<b>加粗</b> 意见"   # kept as typed (shown as plain text), control characters dropped
    for n in range(designer.COMMENTS_PER_HOUR - 1):
        designer.add_comment(db, code, 1, f"第{n}条补充意见", client=client)
    with pytest.raises(DesignError) as flood:
        designer.add_comment(db, code, 1, "再来一条意见", client=client)
    assert flood.value.key == "comment.too_many"
    designer.add_comment(db, code, 1, "另一位公众的意见", client=f"other-{code}")
    assert len(designer.comments(db, admin, code)) == designer.COMMENTS_PER_HOUR + 1


def test_a_preview_writes_nothing(seeded_db):
    db = seeded_db
    spec = design(co_dept_codes=["XFJY"], fees=[FeeSpec("工本费", "10元", "《某某办法》")])

    def counts() -> tuple[int, ...]:
        with db.read() as conn:
            return tuple(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                         for t in (s.items, s.item_materials, s.item_form_fields, s.audit_log))

    before = counts()
    g = designer.preview_guide(db, spec)
    form = designer.preview_form(spec)
    assert counts() == before
    assert g["dept"] == "鄂州市市场监督管理局" and g["parallel"] and g["co_departments"][0]["dept_code"] == "XFJY"
    assert [st["key"] for st in g["steps"]] == ["apply", "accept", "parallel_review", "decide", "complete"]
    assert g["fee"]["basis"] == ["《某某办法》"] and [m["seq"] for m in g["materials"]] == [1, 2]
    assert [f.field_key for f in form] == ["shop_name", "platform", "staff"]
    problems = forms.validate(form, {"shop_name": "小店", "platform": "火星"}, "person")
    assert problems["platform"][0] == "form.choice"   # the preview form checks answers like the real one


def test_standard_fields_start_a_form_with_the_applicant(seeded_db):
    keys_ = [f.field_key for f in designer.standard_fields("public")]
    assert "applicant_name" in keys_ and "applicant_id" in keys_
