"""The applicant's screens driven through Streamlit AppTest: 我要办 (apply), 我的办件 (my cases), 材料库
(locker) and 消息 (messages), on a seeded database.

Uploads go through the real page: AppTest (Streamlit 1.67) drives st.file_uploader itself, so nothing is
patched; the file types the uploader accepts are checked against the material's formats, and a wrong
extension or an oversized file (which the browser's uploader already stops) is checked through the service.
Officers and heads move cases with app.cases.perform, as the officer screens would. Every test runs on
DuckDB and on PostgreSQL (the seeded_db fixture); each makes applicants of its own.
"""
from __future__ import annotations

import itertools
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import applications, auth, calendar_store, cases, files, forms, i18n, timeutil
from app import schema as s
from app import workflow as wf
from app.applications import ApplicationError
from app.cases import CaseError
from app.db import StaleVersionError
from app.validators import make_credit_code, make_resident_id
from tests.factories import VILLAGE


ROOT = Path(__file__).resolve().parent.parent
FOOD = "4207-SCJG-003"        # 食品经营许可: five mandatory materials, SCJG officers handle it
INSURANCE = "4207-GF-YBJ-001"  # 城乡居民基本医疗保险…: two mandatory materials
PDF = b"%PDF-1.4\n% test file\n"
_people = itertools.count(1)


# -- fixtures and helpers ---------------------------------------------------------------------------------


def new_applicant(db, *, enterprise: bool = False, region_code: str | None = None):  # noqa: ANN001, ANN201
    """A fresh applicant of its own, so tests sharing the seeded database never see each other's cases."""
    n = next(_people)
    if enterprise:
        id_kind, id_number, name = "credit_code", make_credit_code(f"91420700MA4T{n:05d}"), f"鄂州测试{n}有限公司"
    else:
        birth = date(1960, 1, 1) + timedelta(days=n)
        id_kind, id_number, name = "resident_id", make_resident_id("420704", birth, 500 + n % 400), f"测试{n}"

    def work(conn):  # noqa: ANN001, ANN202
        uid = auth.create_user(conn, username=f"ap_{n}_{id_number[-6:]}", password=None,
                               password_hash=auth.hash_password("Ezhou@2026"), display_name=name,
                               role=wf.APPLICANT, id_kind=id_kind, id_number=id_number)
        if region_code:
            conn.execute(s.users.update().where(s.users.c.user_id == uid).values(region_code=region_code))
        return uid

    return auth.actor_for(db, db.write(work))


def page(actor, name: str, **query: str) -> AppTest:  # noqa: ANN001
    at = AppTest.from_file(str(ROOT / "pages" / f"{name}.py"), default_timeout=60)
    at.session_state["ezz_actor"] = actor
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    assert not at.exception, at.exception
    return at


def run(at) -> AppTest:  # noqa: ANN001
    """Run the script again (`at` is the AppTest or one of its widgets, whose run() reruns the whole app)."""
    app = at.run()
    assert not app.exception, app.exception
    return app


def uploader(at: AppTest, seq: int, prefix: str = "apply-form"):  # noqa: ANN201
    matches = [u for u in at.file_uploader if u.key.startswith(prefix) and u.key.endswith(f"-m-{seq}")]
    assert len(matches) == 1, [u.key for u in at.file_uploader]
    return matches[0]


def upload(at: AppTest, seq: int, name: str | None = None, data: bytes | None = None,
           prefix: str = "apply-form") -> None:
    """Put a file into material <seq>'s uploader (a small well-formed PDF unless told otherwise)."""
    content = (PDF + str(seq).encode()) if data is None else data
    uploader(at, seq, prefix).set_value((name or f"材料{seq}.pdf", content, "application/pdf"))


def texts(elements) -> list[str]:  # noqa: ANN001
    return [e.value for e in elements]


def unescaped(elements) -> list[str]:  # noqa: ANN001
    """Message texts without the Markdown escapes the page adds around user-supplied names."""
    return [e.value.replace("\\", "") for e in elements]


def item_fields(db, item_code: str, kind: str = "person") -> list[forms.FormField]:  # noqa: ANN001
    item = published(db, item_code)
    return forms.fields_for(forms.load_form(db, item_code, item["version"]), kind)


def published(db, item_code: str) -> dict:  # noqa: ANN001
    with db.read() as conn:
        return dict(cases.current_item(conn, item_code)._mapping)


def valid_answer(field: forms.FormField):  # noqa: ANN201
    rule, t = field.rule, field.field_type
    if t in ("text", "textarea"):
        if "pattern" in rule:
            return rule.get("pattern_hint") or "鄂GA1234B"
        return "鄂州市鄂城区古楼街道吴都社区一号"[: max(rule.get("max_length", 50), rule.get("min_length", 0))]
    number = rule.get("min", 0) + 1
    return {"number": int(number) if rule.get("integer") else float(number), "date": date(2026, 3, 2),
            "select": field.choices[0] if field.choices else None,
            "multiselect": field.choices[:1], "checkbox": True, "phone": "13800138000", "email": "zhang@example.cn",
            "id_number": make_resident_id("420704", date(1980, 5, 6), 321),
            "credit_code": make_credit_code("91420700MA4X0Y1A2")}[t]


def fill(at: AppTest, db, item_code: str, kind: str = "person", **override) -> None:  # noqa: ANN001
    """Answer every field of the generated form validly (prefilled answers kept), then apply overrides."""
    for field in item_fields(db, item_code, kind):
        key = f"apply-form-f-{field.field_key}"
        t = field.field_type
        value = override.get(field.field_key, valid_answer(field))
        if t == "textarea":
            at.text_area(key=key).input(value)
        elif t == "number":
            at.number_input(key=key).set_value(value)
        elif t == "date":
            at.date_input(key=key).set_value(value)
        elif t == "select":
            at.selectbox(key=key).set_value(value)
        elif t == "multiselect":
            at.multiselect(key=key).set_value(value)
        elif t == "checkbox":
            at.checkbox(key=key).set_value(value)
        else:
            widget = at.text_input(key=key)
            if field.field_key in override or not widget.value:
                widget.input(value)


def choose_place(at: AppTest, district: str = "420704", town: str | None = "420704001",
                 village: str | None = VILLAGE) -> None:
    run(at.selectbox(key="apply-form-r-0-4207").set_value(district))
    if town:
        run(at.selectbox(key=f"apply-form-r-1-{district}").set_value(town))
    if village:
        run(at.selectbox(key=f"apply-form-r-2-{town}").set_value(village))


def case_rows(db, actor) -> list[dict]:  # noqa: ANN001
    return applications.my_cases(db, actor)


def scalar(db, sql: str, **params):  # noqa: ANN001, ANN201
    with db.read() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def submitted_food_case(db, actor) -> dict:  # noqa: ANN001
    """A 食品经营许可 case filed and submitted through the services, with all five materials uploaded."""
    case = applications.start(db, actor, FOOD, region_code=VILLAGE, request_key=f"t-{next(_people)}")
    values = {f.field_key: valid_answer(f) for f in item_fields(db, FOOD)}
    values.update(applicant_name=actor.display_name, applicant_id=applications.account(db, actor.user_id)["id_number"])
    mats = {m.seq: files.Upload(f"{m.name[:6]}.pdf", PDF + m.name.encode()) for m in
            applications.item_materials(db, FOOD, case["item_version"])}
    return applications.submit(db, actor, case["case_id"], expected_version=case["version"], values=values,
                               materials=mats)


def act(db, who: str, case: dict, action: str, **kw) -> dict:  # noqa: ANN001
    current = cases.get_case(db, db.actors[who], case["case_id"])
    return cases.perform(db, db.actors[who], case["case_id"], action, expected_version=current["version"], **kw)


def complete(db, case: dict) -> dict:  # noqa: ANN001
    from app import rules

    with db.read() as conn:
        steps = rules.review_steps(rules.item_of(conn, case))   # 审查 (→ 审核) before the decision
    moves = [("officer", "accept", {}), ("officer", "start_review", {}),
             *[("head", "review_opinion", {"comment": "同意", "payload": {"step": st}}) for st in steps],
             ("head", "approve", {}), ("officer", "complete", {})]
    for who, action, kw in moves:
        case = act(db, who, case, action, **kw)
    return case


# -- 我要办: the generated form --------------------------------------------------------------------------------
def test_form_is_generated_from_the_item_and_prefilled_from_the_account(env):
    db = env
    person = new_applicant(db)
    at = page(person, "apply", item=FOOD)
    fields = item_fields(db, FOOD)
    for field in fields:
        label = {"text": at.text_input, "phone": at.text_input, "email": at.text_input, "id_number": at.text_input,
                 "textarea": at.text_area, "number": at.number_input, "select": at.selectbox,
                 "multiselect": at.multiselect, "checkbox": at.checkbox}[field.field_type](
            key=f"apply-form-f-{field.field_key}").label
        assert label.startswith(field.label) and label.endswith("*") == field.required, (field.field_key, label)
    assert at.text_input(key="apply-form-f-applicant_name").value == person.display_name
    assert at.text_input(key="apply-form-f-applicant_id").value == applications.account(db, person.user_id)["id_number"]
    # and as the widget's default: a browser drawing it afresh (the run that sent the value cut short by the
    # next keystroke) shows it too (form_widgets.seeded)
    at.run()
    assert at.text_input(key="apply-form-f-applicant_name").proto.default == person.display_name
    assert not any(w.key.endswith("-credit_code") for w in at.text_input)  # the enterprise set is not for a person
    mats = applications.item_materials(db, FOOD, published(db, FOOD)["version"])
    for m in mats:
        assert set(uploader(at, m.seq).allowed_type) >= {f".{f}" for f in m.formats}
    captions = " ".join(texts(at.caption))
    assert "必交" in captions and "原件" in captions and "复印件" in captions

    # An enterprise applies by its credit code, with an agent (经办人) from the enterprise field set.
    company = new_applicant(db, enterprise=True)
    at = page(company, "apply", item=FOOD)
    assert at.text_input(key="apply-form-f-company_name").value == company.display_name
    assert at.text_input(key="apply-form-f-credit_code").value == applications.account(db, company.user_id)["id_number"]
    assert at.text_input(key="apply-form-f-agent_name").value == ""
    assert at.text_input(key="apply-form-f-agent_id").label.startswith("经办人身份证号码")
    assert not any(w.key.endswith("-applicant_id") for w in at.text_input)

    # A date field (project items) is drawn as a date picker.
    at = page(person, "apply", item="4207-FGW-001")
    assert at.date_input(key="apply-form-f-planned_start").value is None


def test_the_place_defaults_to_the_applicants_own(env):
    person = new_applicant(env, region_code=VILLAGE)
    at = page(person, "apply", item=FOOD)
    assert at.selectbox(key="apply-form-r-0-4207").value == VILLAGE[:6]
    assert at.selectbox(key=f"apply-form-r-1-{VILLAGE[:6]}").value == VILLAGE[:9]
    assert at.selectbox(key=f"apply-form-r-2-{VILLAGE[:9]}").value == VILLAGE


def test_search_finds_published_items(env):
    at = page(new_applicant(env), "apply")
    at.text_input(key="apply-search").input("食品经营")
    run(at)
    assert any(FOOD in option for option in at.selectbox(key="apply-item").options)
    run(at.selectbox(key="apply-item").set_value(FOOD))
    assert at.subheader[0].value == "食品经营许可"
    assert at.button(key="apply-submit")


# -- 我要办: drafts and submission -----------------------------------------------------------------------------
def test_save_a_draft_and_reopen_it(env):
    db = env
    person = new_applicant(db)
    at = page(person, "apply", item=FOOD)
    choose_place(at)
    at.text_input(key="apply-form-f-address").input("鄂州市鄂城区古楼街道")
    at.text_area(key="apply-form-f-request").input("申请经营预包装食品。")
    upload(at, 1, "申请书.pdf")
    upload(at, 3, "布局图.pdf")
    run(at.button(key="apply-save").click())
    assert not at.error, texts(at.error)
    [draft] = case_rows(db, person)
    assert draft["state"] == wf.DRAFT
    assert any(draft["case_no"] in m for m in unescaped(at.success))
    stored = cases.get_case(db, person, draft["case_id"])
    assert stored["form_data"]["request"] == "申请经营预包装食品。" and stored["region_code"] == VILLAGE
    assert set(applications.provided_materials(db, person, draft["case_id"])) == {1, 3}
    assert uploader(at, 1).value is None  # attached: the uploader starts empty, a second save adds nothing

    # Come back later (a new session): the draft is listed and reopens with its answers and materials.
    at = page(person, "apply")
    run(at.button(key=f"apply-open-{draft['case_id']}").click())
    assert at.text_input(key="apply-form-f-address").value == "鄂州市鄂城区古楼街道"
    assert at.text_area(key="apply-form-f-request").value == "申请经营预包装食品。"
    shown = texts(at.text)
    assert "已提交：申请书.pdf" in shown and "已提交：布局图.pdf" in shown
    # … and by its number in the URL (from 我的办件).
    at = page(person, "apply", case=draft["case_no"])
    assert at.text_area(key="apply-form-f-request").value == "申请经营预包装食品。"


def test_submit_a_valid_form_with_two_uploads(env):
    db = env
    person = new_applicant(db)
    at = page(person, "apply", item=INSURANCE)
    choose_place(at)
    fill(at, db, INSURANCE)
    upload(at, 1, "户口簿.pdf")
    upload(at, 2, "身份证.jpg", b"\xff\xd8\xff\xe0 jpeg")
    run(at.button(key="apply-submit").click())
    assert not at.error, texts(at.error)
    [case] = case_rows(db, person)
    assert case["state"] == wf.SUBMITTED
    assert f"申请已提交，办件编号：{case['case_no']}" in unescaped(at.success)[0]
    assert "下载受理回执（PDF）" in [d.label for d in at.get("download_button")]
    given = applications.provided_materials(db, person, case["case_id"])
    assert {v["file_name"] for v in given.values()} == {"户口簿.pdf", "身份证.jpg"}


def test_missing_mandatory_material_is_refused_with_its_name(env):
    db = env
    person = new_applicant(db)
    at = page(person, "apply", item=INSURANCE)
    choose_place(at)
    fill(at, db, INSURANCE)
    upload(at, 1)
    run(at.button(key="apply-submit").click())
    name = applications.item_materials(db, INSURANCE, published(db, INSURANCE)["version"])[1].name
    assert f"请提交“{name}”。" in unescaped(at.error)
    assert any(e.startswith("缺少必交材料：") and name in e for e in unescaped(at.error))
    assert case_rows(db, person) == []  # a refused first submit opens no case at all


def test_fields_breaking_their_rules_are_refused_in_chinese_beside_them(env):
    db = env
    person = new_applicant(db)
    at = page(person, "apply", item=INSURANCE)
    choose_place(at)
    own_id = applications.account(db, person.user_id)["id_number"]
    wrong_check = own_id[:17] + ("0" if own_id[17] != "0" else "1")
    fill(at, db, INSURANCE, phone="12345", address="鄂州", applicant_id=wrong_check)
    upload(at, 1)
    upload(at, 2)
    run(at.button(key="apply-submit").click())
    errors = unescaped(at.error)
    assert "“联系电话”应为11位手机号码或带区号的固定电话。" in errors
    assert "“通讯地址”至少需要4个字。" in errors
    assert "身份证号码校验位错误，请核对。" in errors
    assert "表单有误，请按提示修改。" in errors
    assert case_rows(db, person) == []  # refused before any case was opened
    # A well-formed ID that is not the applicant's own is refused too.
    fill(at, db, INSURANCE, phone="13800138000", address="鄂州市鄂城区古楼街道",
         applicant_id=make_resident_id("420704", date(1990, 7, 8), 123))
    upload(at, 1)
    upload(at, 2)
    run(at.button(key="apply-submit").click())
    assert unescaped(at.error) == ["身份证号码须与账户一致。", "表单有误，请按提示修改。"]
    assert case_rows(db, person) == []


def test_invalid_id_and_credit_code_are_refused(env):
    db = env
    company = new_applicant(db, enterprise=True)
    at = page(company, "apply", item=FOOD)
    choose_place(at)
    good_id, good_code = valid_answer(item_fields(db, FOOD, "enterprise")[4]), company_code(db, company)
    fill(at, db, FOOD, "enterprise", agent_id=good_id[:17] + ("0" if good_id[17] != "0" else "1"),
         credit_code=good_code[:17] + ("0" if good_code[17] != "0" else "1"))
    for seq in range(1, 6):
        upload(at, seq)
    run(at.button(key="apply-submit").click())
    errors = unescaped(at.error)
    assert "身份证号码校验位错误，请核对。" in errors and "统一社会信用代码校验位错误，请核对。" in errors
    assert case_rows(db, company) == []  # refused before any case was opened
    # Corrected, the same form goes through (an enterprise with its agent, 经办人).
    fill(at, db, FOOD, "enterprise", agent_id=good_id, credit_code=good_code)
    for seq in range(1, 6):
        upload(at, seq)
    run(at.button(key="apply-submit").click())
    assert not at.error, texts(at.error)
    [case] = case_rows(db, company)
    assert case["state"] == wf.SUBMITTED
    assert cases.get_case(db, company, case["case_id"])["form_data"]["agent_id"] == good_id


def company_code(db, actor) -> str:  # noqa: ANN001
    return applications.account(db, actor.user_id)["id_number"]


def test_bad_files_are_refused_and_nothing_is_kept(env):
    db = env
    person = new_applicant(db)
    at = page(person, "apply", item=INSURANCE)
    choose_place(at)
    fill(at, db, INSURANCE)
    upload(at, 1, "空文件.pdf", b"")
    upload(at, 2, "病毒.pdf", b"MZ\x90\x00 not a pdf")
    run(at.button(key="apply-save").click())
    errors = unescaped(at.error)
    assert any("是空文件" in e for e in errors), errors
    [case] = case_rows(db, person)
    assert applications.provided_materials(db, person, case["case_id"]) == {}
    upload(at, 1)
    upload(at, 2, "病毒.pdf", b"MZ\x90\x00 not a pdf")
    run(at.button(key="apply-save").click())
    assert any("内容与扩展名（pdf）不符" in e for e in unescaped(at.error))
    assert applications.provided_materials(db, person, case["case_id"]) == {}  # the good one was not kept either
    # A wrong extension never reaches the page (the uploader accepts only the material's types); the
    # service refuses it all the same, and a file over the size limit.
    current = cases.get_case(db, person, case["case_id"])
    for upload_, key in ((files.Upload("病毒.exe", b"MZ\x90\x00"), "file.wrong_type"),
                         (files.Upload("大文件.pdf", b"%PDF-" + bytes(files.MAX_BYTES)), "file.too_large")):
        with pytest.raises(ApplicationError) as refused:
            applications.save_draft(db, person, case["case_id"], expected_version=current["version"], values={},
                                    materials={1: upload_})
        assert refused.value.key == key and "material_1" in refused.value.problems
    assert i18n.t("file.too_large", name="大文件.pdf", mb=20) == "文件“大文件.pdf”超过20MB的大小限制。"
    assert cases.get_case(db, person, case["case_id"])["version"] == current["version"]


def test_a_double_click_on_submit_files_one_case(env):
    db = env
    person = new_applicant(db)
    at = page(person, "apply", item=INSURANCE)
    choose_place(at)
    fill(at, db, INSURANCE)
    upload(at, 1)
    upload(at, 2)
    before_any_click = dict(at.session_state["apply_form"])
    run(at.button(key="apply-submit").click())
    [case] = case_rows(db, person)
    assert case["state"] == wf.SUBMITTED

    # The second request of the double click carries the same form instance (same request key, no draft
    # id yet): it finds the case the first one filed and says so, instead of filing another.
    at.session_state["apply_form"] = before_any_click
    at.session_state["apply-item"] = INSURANCE
    run(at)
    choose_place(at)
    run(at.button(key="apply-submit").click())
    assert f"已提交，办件编号：{case['case_no']}（无需重复提交）。" in unescaped(at.success)
    assert not at.error
    assert len(case_rows(db, person)) == 1
    assert scalar(db, "SELECT COUNT(*) FROM cases WHERE request_key = :k", k=before_any_click["request_key"]) == 1


def test_a_second_submit_of_the_same_draft_version_shows_the_case(env):
    db = env
    person = new_applicant(db)
    at = page(person, "apply", item=INSURANCE)
    choose_place(at)
    fill(at, db, INSURANCE)
    upload(at, 1)
    upload(at, 2)
    run(at.button(key="apply-save").click())
    saved = dict(at.session_state["apply_form"])
    run(at.button(key="apply-submit").click())
    at.session_state["apply_form"] = saved  # the stale screen of the second click
    run(at)
    run(at.button(key="apply-submit").click())
    [case] = case_rows(db, person)
    assert case["state"] == wf.SUBMITTED
    assert any(f"已提交，办件编号：{case['case_no']}" in m for m in unescaped(at.success))
    # The service itself refuses a second submit of one version.
    answers = cases.get_case(db, person, case["case_id"])["form_data"]
    with pytest.raises((StaleVersionError, wf.WorkflowError)):
        applications.submit(db, person, case["case_id"], expected_version=saved["version"], values=answers)


def test_an_unpublished_item_cannot_be_applied_for(env):
    db = env
    person = new_applicant(db)
    code = "4207-TEST-DRAFT"
    row = {**published(db, INSURANCE), "item_code": code, "name": "未发布的测试事项", "status": "draft",
           "published_at": None}
    db.write(lambda conn: conn.execute(s.items.insert().values(**row)))
    try:
        at = page(person, "apply", item=code)
        assert "事项不存在或未发布。" in texts(at.error)
        assert not at.button  # no form, nothing to submit
        with pytest.raises(CaseError) as refused:
            applications.start(db, person, code, region_code=VILLAGE, request_key="unpublished-1")
        assert refused.value.key == "case.item_unknown"
        assert case_rows(db, person) == []
    finally:
        db.write(lambda conn: conn.execute(s.items.delete().where(s.items.c.item_code == code)))


def test_a_draft_of_another_applicant_cannot_be_opened_or_saved(env):
    db = env
    owner, other = new_applicant(db), new_applicant(db)
    draft = applications.start(db, owner, FOOD, region_code=VILLAGE, request_key=f"own-{owner.user_id}")
    at = page(other, "apply", case=draft["case_no"])
    assert "未找到该办件。" in texts(at.error)
    assert not any(w.key.startswith("apply-form-f-") for w in at.text_input)
    with pytest.raises(CaseError) as refused:
        applications.save_draft(db, other, draft["case_id"], expected_version=draft["version"],
                                values={"request": "冒用他人草稿"})
    assert refused.value.key == "case.not_found"
    assert cases.get_case(db, owner, draft["case_id"])["form_data"] == {}
    # Reusing someone else's request key does not hand over their draft either.
    with pytest.raises(CaseError):
        applications.start(db, other, FOOD, region_code=VILLAGE, request_key=f"own-{owner.user_id}")


def test_pages_refuse_other_roles(env):
    for name in ("apply", "my_cases", "locker", "messages"):
        at = page(env.actors["officer"], name)
        assert any("不对您的角色开放" in e for e in texts(at.error)), name


# -- 我的办件 ---------------------------------------------------------------------------------------------------
def test_my_cases_shows_the_due_date_and_the_days_left(env):
    db = env
    person = new_applicant(db)
    case = act(db, "officer", submitted_food_case(db, person), "accept")
    at = page(person, "my_cases", case=case["case_no"])
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["状态"] == "已受理" and "**当前环节**：申请已受理。" in texts(at.markdown)
    due = case["promised_due"]
    left = calendar_store.load_calendar(db).working_days_between(timeutil.today(), due)
    assert metrics["期限截止"] == f"{due:%Y-%m-%d}"
    assert metrics["剩余时间"] == f"{left} 个工作日"
    assert metrics["已用时"] == f"{case['promised_days'] - left} 个工作日"
    assert any(f"承诺办结时限：{case['promised_days']} 个工作日" in c for c in texts(at.caption))
    [timeline] = [d.value for d in at.dataframe if "进展" in d.value.columns]
    assert timeline["进展"].tolist() == ["申请已提交，等待受理。", "申请已受理。"]
    listed = at.dataframe[0].value
    assert case["case_no"] in listed.iloc[:, 0].tolist()


def test_answer_a_supplement_notice(env):
    db = env
    person = new_applicant(db)
    case = act(db, "officer", submitted_food_case(db, person), "request_supplement",
               comment="营业执照复印件不清晰；布局图缺少比例尺。", payload={"materials": [2, 3]})
    at = page(person, "my_cases", case=case["case_no"])
    assert "营业执照复印件不清晰；布局图缺少比例尺。" in texts(at.text)
    prefix = f"supp-{case['case_id']}"
    assert sorted(u.key.rsplit("-", 1)[1] for u in at.file_uploader) == ["2", "3"]  # exactly the listed ones
    assert any(m == "计时暂停：补正材料或特别程序期间不计入办理时限。" for m in texts(at.info))

    upload(at, 2, "营业执照.pdf", prefix=prefix)
    run(at.button(key=f"cases-supplement-{case['case_id']}").click())
    assert any("不多不少" in e and "与食品经营相适应的主要设备设施" in e for e in unescaped(at.error))
    assert cases.get_case(db, person, case["case_id"])["state"] == wf.AWAITING_SUPPLEMENT

    upload(at, 2, "营业执照.pdf", prefix=prefix)
    upload(at, 3, "布局图.pdf", prefix=prefix)
    run(at.button(key=f"cases-supplement-{case['case_id']}").click())
    assert not at.error, texts(at.error)
    assert cases.get_case(db, person, case["case_id"])["state"] == wf.SUBMITTED
    assert "补正材料已提交，办理时限从暂停处继续计算。" in texts(at.success)


def test_withdraw_needs_a_confirmation(env):
    db = env
    person = new_applicant(db)
    case = submitted_food_case(db, person)
    at = page(person, "my_cases", case=case["case_no"])
    button = at.button(key=f"cases-withdraw-{case['case_id']}")
    assert button.disabled
    at.text_area(key=f"cases-withdraw-reason-{case['case_id']}").input("材料需要重新准备")
    run(at.checkbox(key=f"cases-withdraw-ok-{case['case_id']}").check())
    run(at.button(key=f"cases-withdraw-{case['case_id']}").click())
    assert "申请已撤回。" in texts(at.success)
    assert cases.get_case(db, person, case["case_id"])["state"] == wf.WITHDRAWN
    assert not any(b.key.startswith("cases-withdraw-") for b in at.button)  # nothing more to withdraw


def test_completed_case_result_rating_once_and_locker(env):
    db = env
    person = new_applicant(db)
    case = complete(db, submitted_food_case(db, person))
    at = page(person, "my_cases", case=case["case_no"])
    assert {m.label: m.value for m in at.metric}["状态"] == "已办结"
    assert any("食品经营许可证" in m and case["result_no"] in m for m in unescaped(at.success))

    run(at.radio(key=f"cases-rate-level-{case['case_id']}").set_value(5))
    at.text_area(key=f"cases-rate-comment-{case['case_id']}").input("办理很快")
    run(at.button(key=f"cases-rate-{case['case_id']}").click())
    assert "感谢您的评价。评价提交后不可修改。" in texts(at.success)
    assert any(t.startswith("您的评价：非常满意") for t in texts(at.text))
    assert not any(b.key.startswith("cases-rate-") for b in at.button)  # shown read-only now
    assert applications.rating_of(db, case["case_id"])["level"] == 5
    current = cases.get_case(db, person, case["case_id"])
    with pytest.raises(ApplicationError) as refused:
        applications.rate(db, person, case["case_id"], expected_version=current["version"], level=1)
    assert refused.value.key == "rating.already"

    # The uploaded materials and the issued certificate are in the locker.
    at = page(person, "locker")
    table = at.dataframe[0].value
    kinds = table["类别"].tolist()
    assert kinds.count("材料") == 5 and kinds.count("证照") == 1
    certificate = table[table["类别"] == "证照"].iloc[0]
    assert certificate["名称"] == "食品经营许可证" and certificate["证照编号"] == case["result_no"]
    assert certificate["状态"] == "有效"
    labels = [d.label for d in at.get("download_button")]
    assert {"导出 CSV", "导出 Excel", "下载所选文件"} <= set(labels)


def test_locker_entries_stand_in_for_materials(env):
    db = env
    person = new_applicant(db)
    licence = complete(db, cases.create_case(db, person, item_code="4207-SCJG-001", region_code=VILLAGE,
                                              applicant=applications.applicant_from_account(db, person.user_id),
                                              channel="online", submit=True))
    submitted_food_case(db, person)  # its five uploads are in the locker now
    locker = applications.locker(db, person)
    certificate = next(e for e in locker if e["kind"] == "certificate")
    assert certificate["certificate_no"] == licence["result_no"]

    at = page(person, "apply", item=FOOD)
    offered = at.selectbox(key="apply-form-l-2").options  # 营业执照: reuse_item_code 4207-SCJG-001
    assert any(licence["result_no"] in o for o in offered)
    assert not any("证照" in o for o in at.selectbox(key="apply-form-l-1").options)  # no certificate stands in
    choose_place(at)
    fill(at, db, FOOD)
    run(at.selectbox(key="apply-form-l-2").set_value(certificate["locker_id"]))
    for seq in (1, 3, 4, 5):
        upload(at, seq)
    run(at.button(key="apply-submit").click())
    assert not at.error, texts(at.error)
    new = case_rows(db, person)[0]
    assert new["state"] == wf.SUBMITTED
    assert applications.provided_materials(db, person, new["case_id"])[2]["locker_id"] == certificate["locker_id"]


def test_expired_and_expiring_locker_entries_are_marked(env):
    db = env
    person = new_applicant(db)
    today = timeutil.today()

    def work(conn):  # noqa: ANN001, ANN202
        for name, until in (("旧营业执照", today - timedelta(days=1)), ("快到期的证照", today + timedelta(days=10))):
            files.add_to_locker(conn, owner_user_id=person.user_id, kind="certificate", name=name,
                                item_code="4207-SCJG-001", certificate_no=name, issued_on=today - timedelta(days=400),
                                expires_on=until)

    db.write(work)
    at = page(person, "locker")
    table = at.dataframe[0].value
    status = dict(zip(table["名称"], table["状态"]))
    assert status == {"旧营业执照": "已过期", "快到期的证照": "即将过期"}
    assert any("1 项材料或证照已过期" in w for w in texts(at.warning))
    # An expired certificate is not offered for reuse.
    at = page(person, "apply", item=FOOD)
    offered = at.selectbox(key="apply-form-l-2").options
    assert any("快到期的证照" in o for o in offered) and not any("旧营业执照" in o for o in offered)


def test_complaint_about_a_case(env):
    db = env
    person = new_applicant(db)
    case = submitted_food_case(db, person)
    at = page(person, "my_cases", case=case["case_no"])
    at.text_area(key=f"cases-complaint-{case['case_id']}").input("太慢")
    run(at.button(key=f"cases-complain-{case['case_id']}").click())
    assert "投诉内容至少5个字。" in texts(at.error)
    at.text_area(key=f"cases-complaint-{case['case_id']}").input("窗口三天没有回复我的电话咨询。")
    run(at.button(key=f"cases-complain-{case['case_id']}").click())
    assert "投诉已提交，相关部门将在5个工作日内答复。" in texts(at.success)
    assert scalar(db, "SELECT COUNT(*) FROM complaints WHERE case_id = :c", c=case["case_id"]) == 1


def test_another_applicants_case_number_is_not_found(env):
    db = env
    owner, other = new_applicant(db), new_applicant(db)
    case = submitted_food_case(db, owner)
    for number in (case["case_no"], "420700-20990101-999999"):
        at = page(other, "my_cases", case=number)
        assert texts(at.error) == ["未找到该办件。"], number
        assert not at.metric and not at.button
    # Typing it in the look-up box gives the same answer.
    at = page(other, "my_cases")
    run(at.text_input(key="cases-number").input(case["case_no"]))
    assert texts(at.error) == ["未找到该办件。"]
    with pytest.raises(CaseError) as refused:
        cases.get_case(db, other, case["case_id"])
    assert refused.value.key == "case.not_found"
    # The owner opens it.
    at = page(owner, "my_cases", case=case["case_no"])
    assert not at.error and {m.label: m.value for m in at.metric}["状态"] == "已提交"


# -- 消息 -----------------------------------------------------------------------------------------------------
def test_messages_list_every_case_newest_first(env):
    db = env
    person = new_applicant(db)
    first = act(db, "officer", submitted_food_case(db, person), "accept")
    second = act(db, "officer", submitted_food_case(db, person), "request_supplement",
                 comment="请补交清晰的申请书。", payload={"materials": [1]})
    at = page(person, "messages")
    titles = [m.value.strip("*") for m in at.markdown]
    assert titles[0] == "需要补正材料，请按一次性告知补齐。"
    assert titles.count("申请已提交，等待受理。") == 2 and "申请已受理。" in titles
    captions = " ".join(texts(at.caption))
    assert first["case_no"] in captions and second["case_no"] in captions
    assert "请补交清晰的申请书。" in texts(at.text)
    assert len(texts(at.markdown)) == 4


def test_messages_and_locker_are_empty_for_a_new_applicant(env):
    person = new_applicant(env)
    assert "暂无消息" in texts(page(person, "messages").info)[0]
    assert "材料库还是空的" in texts(page(person, "locker").info)[0]


# -- strings ----------------------------------------------------------------------------------------------------
TX_KEY = re.compile(r"""\btx\(\s*f?["']([a-z_]+\.[a-z_.{}]+)["']""")
OWN_FILES = [ROOT / "pages" / f"{n}.py" for n in ("apply", "my_cases", "locker", "messages")] + \
            [ROOT / "app" / "ui" / "form_widgets.py"]


def test_every_string_exists_in_chinese_and_english():
    missing = [(p.name, key) for p in OWN_FILES for key in TX_KEY.findall(p.read_text(encoding="utf-8"))
               if "{" not in key and key not in i18n.M]
    assert missing == []
    assert i18n.t("apply.submitted", "en", case_no="X").startswith("Submitted. Case number: X")
    formatted = ["apply.unit_working", "apply.unit_calendar", "docs.receipt", "docs.receipt_file", "docs.result",
                 "docs.result_file", "locker.kind_material", "locker.kind_certificate"] + \
                [f"form_widget.hint.{t}" for t in ("phone", "email", "id_number", "credit_code")]
    assert [k for k in formatted if k not in i18n.M] == []


def test_no_page_renders_html():
    for path in OWN_FILES:
        assert "unsafe_allow_html" not in path.read_text(encoding="utf-8"), path.name
