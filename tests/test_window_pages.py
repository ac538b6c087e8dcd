"""Window intake (窗口受理) and the clerk's own cases (本窗口办件): the real pages driven with Streamlit's
AppTest (uploads go through AppTest's own st.file_uploader support: nothing is patched), and the window path
of the services on both databases."""
from __future__ import annotations

import random
import re
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import applications, auth, cases, files, i18n, stats
from app import schema as s
from app import workflow as wf
from app.permissions import Actor, PermissionDenied
from app.validators import make_credit_code, make_resident_id
from tests.factories import applicant_of

PAGES = Path(__file__).resolve().parent.parent / "pages"
VILLAGE = "420704001002"                 # 吴都社区: a village station with window W-420704001002-01
VILLAGE_UNIT = f"U-{VILLAGE}-BMFW"
WINDOW_STRINGS = {k: v for k, v in i18n.M.items() if k.startswith(("intake.", "wcases."))}
FOOD = "4207-SCJG-003"                   # 食品经营许可: a rich generated form, five mandatory materials
PDF = b"%PDF-1.4\n% scanned at the window\n"


# -- helpers ------------------------------------------------------------------------------------------------
@pytest.fixture
def page_env(seeded_db, monkeypatch, tmp_path):  # noqa: ANN001, ANN201
    monkeypatch.setenv("EZZ_DATABASE_URL", seeded_db.url)
    if seeded_db.schema:
        monkeypatch.setenv("EZZ_DATABASE_SCHEMA", seeded_db.schema)
    else:
        monkeypatch.delenv("EZZ_DATABASE_SCHEMA", raising=False)
    monkeypatch.setenv("EZZ_BACKGROUND_JOBS", "0")
    monkeypatch.setenv("EZZ_FILES_DIR", str(tmp_path / "files"))
    st.cache_resource.clear()
    yield seeded_db
    st.cache_resource.clear()


@pytest.fixture
def files_env(monkeypatch, tmp_path):  # noqa: ANN001, ANN201
    monkeypatch.setenv("EZZ_FILES_DIR", str(tmp_path / "files"))


def make_clerk(db, unit_id: str) -> Actor:  # noqa: ANN001
    username = f"wc_{uuid.uuid4().hex[:10]}"
    user_id = db.write(lambda c: auth.create_user(c, username=username, password=None, password_hash="!test",
                                                  display_name="窗口测试", role=wf.WINDOW_CLERK, unit_id=unit_id))
    return auth.actor_for(db, user_id)


def new_resident_id(db) -> str:  # noqa: ANN001
    """A valid resident ID nobody in the (shared) test database has yet."""
    rng = random.Random(uuid.uuid4().int)
    while True:
        candidate = make_resident_id("420704", date(1950, 1, 1) + timedelta(days=rng.randrange(18000)),
                                     rng.randrange(1000))
        with db.read() as conn:
            if conn.execute(sa.select(s.users.c.user_id).where(s.users.c.id_number == candidate)).first() is None:
                return candidate


def wrong_check_digit(valid: str) -> str:
    return valid[:17] + ("0" if valid[17] != "0" else "1")


def open_page(name: str, actor: Actor, instance: str | None = None) -> AppTest:
    at = AppTest.from_file(str(PAGES / name), default_timeout=60)
    at.session_state["ezz_actor"] = actor
    if instance:
        at.session_state["wi_instance"] = instance
    at.run()
    assert not at.exception, at.exception
    return at


def unescaped(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def messages(elements) -> str:  # noqa: ANN001
    return " | ".join(unescaped(e.value) for e in elements)


def find(at: AppTest, id_number: str) -> AppTest:
    at.text_input(key="wi_find_id").input(id_number)
    at.button(key="wi_find").click().run()
    assert not at.exception, at.exception
    return at


def choose_item(at: AppTest, item_code: str = FOOD, query: str = "食品经营") -> AppTest:
    at.text_input(key="wi_item_q").input(query).run()
    at.selectbox(key="wi_item").set_value(item_code).run()
    assert not at.exception, at.exception
    return at


def prefix(at: AppTest) -> str:
    return f"wi-{at.session_state['wi_instance']}"


def field(at: AppTest, name: str) -> str:
    return f"{prefix(at)}-f-{name}"


def fill_food_form(at: AppTest) -> None:
    """Everything 食品经营许可 asks of a person that is not prefilled from the applicant record."""
    at.text_input(key=field(at, "phone")).input("13900001234")
    at.text_input(key=field(at, "address")).input("鄂州市鄂城区吴都社区一号")
    at.number_input(key=field(at, "premises_area")).set_value(60)
    at.multiselect(key=field(at, "business_scope")).set_value(["预包装食品销售"])
    at.text_area(key=field(at, "request")).input("申请开办便利店，销售预包装食品。")
    at.selectbox(key=field(at, "delivery")).set_value("窗口领取")
    at.checkbox(key=field(at, "consent")).check()


def uploader(at: AppTest, seq: int):  # noqa: ANN201
    generation = at.session_state[f"upload-generation:{prefix(at)}"]
    return at.file_uploader(key=f"{prefix(at)}-g{generation}-m-{seq}")


def attach(at: AppTest, seq: int, name: str, data: bytes) -> None:
    uploader(at, seq).set_value((name, data, "application/pdf"))


def attach_all(at: AppTest, count: int = 5) -> None:
    for seq in range(1, count + 1):
        attach(at, seq, f"scan{seq}.pdf", PDF + str(seq).encode())


def submit(at: AppTest) -> AppTest:
    at.button(key="wi_submit").click().run()
    assert not at.exception, at.exception
    return at


def case_row(db, case_id: int):  # noqa: ANN001, ANN201
    with db.read() as conn:
        return conn.execute(sa.select(s.cases).where(s.cases.c.case_id == case_id)).fetchone()


def count_cases(db, **where) -> int:  # noqa: ANN001
    with db.read() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(s.cases)
                                .where(*(s.cases.c[k] == v for k, v in where.items()))).scalar())


@pytest.fixture
def unpublished_item(seeded_db):  # noqa: ANN001, ANN201
    """A copy of a published item, as a draft that never went online (removed again: the database is shared)."""
    code = f"T-DRAFT-{uuid.uuid4().hex[:6]}"
    with seeded_db.read() as conn:
        row = conn.execute(sa.select(s.items).where(s.items.c.item_code == FOOD, s.items.c.is_current)).one()
    values = {**row._mapping, "item_code": code, "status": "draft", "name": "未发布测试事项"}
    seeded_db.write(lambda c: c.execute(s.items.insert().values(**values)))
    yield code
    seeded_db.write(lambda c: c.execute(s.items.delete().where(s.items.c.item_code == code)))


# -- the pages ----------------------------------------------------------------------------------------------
def test_find_an_existing_applicant_by_id(page_env):
    db = page_env
    applicant = applicant_of(db, db.actors["applicant"])
    at = find(open_page("window_intake.py", db.actors["clerk"]), applicant.id_number.lower())
    assert at.session_state["wi_applicant"]["user_id"] == applicant.user_id
    shown = messages(at.success)
    assert "张三" in shown and applicant.id_number not in shown  # the ID is masked on the counter screen
    assert at.selectbox(key="wi_place").value == "4207"        # 市民中心: the city is the default place


def test_register_a_present_applicant_and_refuse_a_bad_id(page_env):
    db = page_env
    clerk = db.actors["clerk"]
    good = new_resident_id(db)
    bad = wrong_check_digit(good)
    at = open_page("window_intake.py", clerk)

    find(at, bad)
    assert "身份证号码校验位错误" in messages(at.error)

    at.text_input(key="wi_reg_name").input("王五")
    at.text_input(key="wi_reg_id").input(bad)
    at.button(key="wi_register").click().run()
    assert "身份证号码校验位错误，请核对。" in messages(at.error)
    assert applications.find_applicant(db, clerk, bad) is None

    find(at, good)
    assert "未找到" in messages(at.info)
    assert at.text_input(key="wi_reg_id").value == good   # carried into the registration form
    at.text_input(key="wi_reg_name").input("王五")
    at.text_input(key="wi_reg_phone").input("13800138000")
    at.button(key="wi_register").click().run()
    assert not at.exception, at.exception
    chosen = at.session_state["wi_applicant"]
    assert chosen["display_name"] == "王五" and chosen["id_number"] == good and chosen["phone"] == "13800138000"
    with db.read() as conn:
        row = conn.execute(sa.select(s.users).where(s.users.c.user_id == chosen["user_id"])).one()
    assert row.role == wf.APPLICANT and row.password_hash == auth.WINDOW_ONLY_HASH


def test_file_and_submit_a_case_at_a_village_window(page_env):
    db = page_env
    clerk = make_clerk(db, VILLAGE_UNIT)
    other_clerk = db.actors["clerk"]  # 市民中心综合受理窗口
    applicant = applicant_of(db, db.actors["applicant2"])

    at = find(open_page("window_intake.py", clerk), applicant.id_number)
    choose_item(at)
    assert at.selectbox(key="wi_place").value == VILLAGE            # the window's own village by default
    assert at.text_input(key=field(at, "applicant_name")).value == "李四"   # prefilled from the record
    assert at.text_input(key=field(at, "applicant_id")).value == applicant.id_number
    assert uploader(at, 2).allowed_type == [".ofd", ".pdf"]               # the material's own types only
    fill_food_form(at)
    attach_all(at)
    attach(at, 1, "申请书.pdf", b"MZ\x90\x00 a renamed program")
    attach(at, 2, "营业执照[x](http://e.cn).pdf", b"")
    submit(at)
    shown = messages(at.error)
    assert "申请书.pdf”的内容与扩展名（pdf）不符" in shown and "营业执照[x](http://e.cn).pdf”是空文件" in shown
    assert "[x](" not in " ".join(e.value for e in at.error)          # a typed name never becomes a link
    assert count_cases(db, agent_user_id=clerk.user_id) == 0         # a refused attempt leaves no draft

    attach(at, 1, "申请书.pdf", PDF + b"1")
    attach(at, 2, "营业执照.pdf", PDF + b"2")
    submit(at)
    done = at.session_state["wi_done"]
    assert done["case_no"] in unescaped(at.success[0].value)
    assert at.get("download_button")[0].key == "wi_receipt"          # the receipt, built when clicked

    case = case_row(db, done["case_id"])
    assert (case.channel, case.window_id, case.agent_user_id) == ("window", f"W-{VILLAGE}-01", clerk.user_id)
    assert (case.state, case.region_code, case.applicant_user_id) == (wf.SUBMITTED, VILLAGE, applicant.user_id)
    assert case.form_data["phone"] == "13900001234" and case.form_data["business_scope"] == ["预包装食品销售"]
    assert sorted(applications.provided_materials(db, clerk, case.case_id)) == [1, 2, 3, 4, 5]

    # The applicant sees it in their own account.
    mine = applications.my_cases(db, auth.actor_for(db, applicant.user_id))
    assert [c["channel"] for c in mine if c["case_id"] == case.case_id] == ["window"]

    # A clerk of another window does not.
    with pytest.raises(cases.CaseError):
        cases.get_case(db, other_clerk, case.case_id)
    theirs = open_page("window_cases.py", other_clerk)
    assert case.case_no not in (theirs.dataframe[0].value.iloc[:, 0].tolist() if theirs.dataframe else [])
    ours = open_page("window_cases.py", clerk)
    listed = ours.dataframe[0].value
    assert listed.iloc[:, 0].tolist() == [case.case_no]
    assert "李四" in listed.iloc[0].tolist() and "已提交" in listed.iloc[0].tolist()

    # Another application for the same applicant: a new form instance, the applicant kept.
    first_instance = at.session_state["wi_instance"]
    at.button(key="wi_next_same").click().run()
    assert "wi_done" not in at.session_state and at.session_state["wi_instance"] != first_instance
    assert at.session_state["wi_applicant"]["user_id"] == applicant.user_id
    assert at.selectbox(key="wi_item").value is None

    # The receipt the button offers (app.documents), made for the clerk who filed the case.
    documents = pytest.importorskip("app.documents")
    assert documents.receipt_pdf(db, clerk, done["case_id"], "http://127.0.0.1:8501").startswith(b"%PDF")


def test_double_submit_files_one_case(page_env):
    """Two runs of the same form instance (a double click, or a run interrupted after filing) file one case."""
    db = page_env
    clerk = make_clerk(db, VILLAGE_UNIT)
    applicant = applicant_of(db, db.actors["applicant"])
    instance = uuid.uuid4().hex
    first, second = (open_page("window_intake.py", clerk, instance) for _ in range(2))
    for at in (first, second):
        find(at, applicant.id_number)
        choose_item(at)
        fill_food_form(at)
        attach_all(at)
    submit(first)
    submit(second)
    assert first.session_state["wi_done"]["case_id"] == second.session_state["wi_done"]["case_id"]
    assert count_cases(db, agent_user_id=clerk.user_id) == 1
    assert case_row(db, first.session_state["wi_done"]["case_id"]).state == wf.SUBMITTED


def test_a_submit_whose_recording_fails_leaves_nothing_and_the_next_files_one_case(page_env, monkeypatch):
    """Opening and submitting are one transaction: when it fails (here: once, after the batch's INSERTs) the clerk is told, no draft or half case stays, and pressing 提交 again files exactly one case."""
    db = page_env
    clerk = make_clerk(db, VILLAGE_UNIT)
    applicant = applicant_of(db, db.actors["applicant"])
    real_insert = applications.bulk_insert_all
    calls = []

    def fails_once(conn, tables):  # noqa: ANN001, ANN202
        real_insert(conn, tables)
        calls.append(1)
        if len(calls) == 1:
            raise applications.ApplicationError("case.conflict")

    monkeypatch.setattr(applications, "bulk_insert_all", fails_once)
    at = find(open_page("window_intake.py", clerk), applicant.id_number)
    choose_item(at)
    fill_food_form(at)
    attach_all(at)
    submit(at)
    assert "系统繁忙" in messages(at.error)
    assert count_cases(db, agent_user_id=clerk.user_id) == 0
    submit(at)
    assert "wi_done" in at.session_state
    assert count_cases(db, agent_user_id=clerk.user_id) == 1
    assert count_cases(db, agent_user_id=clerk.user_id, state=wf.SUBMITTED) == 1


def test_window_pages_refuse_other_roles(page_env):
    for name in ("window_intake.py", "window_cases.py"):
        at = open_page(name, page_env.actors["applicant"])
        assert "不对您的角色开放" in messages(at.error)
        assert not at.text_input and not at.dataframe


def test_window_cases_in_english(page_env):
    db = page_env
    clerk = make_clerk(db, VILLAGE_UNIT)
    applicant = applicant_of(db, db.actors["applicant"])
    case = applications.start(db, clerk, "4207-GF-MZJ-004", region_code=VILLAGE, request_key=uuid.uuid4().hex,
                              applicant=applicant)
    at = AppTest.from_file(str(PAGES / "window_cases.py"), default_timeout=60)
    at.session_state["ezz_actor"] = clerk
    at.session_state["lang"] = "en"
    at.run()
    assert at.title[0].value == "Cases of this window"
    assert at.dataframe[0].value.iloc[0].tolist()[:1] == [case["case_no"]]
    assert "Draft" in at.dataframe[0].value.iloc[0].tolist()
    at.selectbox(key="wc_case").set_value(case["case_no"]).run()
    assert not at.exception, at.exception
    assert at.dataframe[1].value.iloc[:, 1].tolist() == ["Create draft"]


def test_every_window_string_exists_in_both_languages():
    pattern = re.compile(r"""\btr\(\s*f?["']([a-z_]+\.[a-z_.{}]+)["']""")
    for page in ("window_intake.py", "window_cases.py"):
        for key in pattern.findall((PAGES / page).read_text(encoding="utf-8")):
            if "{" not in key:
                assert key in i18n.M or key in WINDOW_STRINGS, key
    for zh, en in WINDOW_STRINGS.values():
        assert zh and en and zh != en
    # Nothing shadowed, so merging these strings into app/i18n.py is a plain union.
    assert all(i18n.M.get(key, pair) == pair for key, pair in WINDOW_STRINGS.items())
    assert i18n.t("intake.done", "en", case_no="X") == "Submitted. Case number: X"
    assert i18n.t("page.window_intake") == "窗口受理"


# -- the services, on both databases -------------------------------------------------------------------------
def test_window_path_through_the_services(seeded_db, files_env):
    db = seeded_db
    clerk = make_clerk(db, VILLAGE_UNIT)
    id_number = new_resident_id(db)
    user_id = applications.register_present_applicant(db, clerk, name=" 赵六 ", id_kind="resident_id",
                                                      id_number=id_number.lower(), phone="0711-3216789")
    found = applications.find_applicant(db, clerk, id_number)
    assert found["user_id"] == user_id and found["display_name"] == "赵六"
    # Recording the same person again returns the same record.
    assert applications.register_present_applicant(db, clerk, name="赵六", id_kind="resident_id",
                                                   id_number=id_number, phone=None) == user_id

    person = cases.Applicant(name="赵六", id_kind="resident_id", id_number=id_number, user_id=user_id)
    key = f"svc-{uuid.uuid4().hex}"
    draft = applications.start(db, clerk, FOOD, region_code=VILLAGE, request_key=key, applicant=person)
    assert (draft["channel"], draft["window_id"], draft["agent_user_id"]) == ("window", f"W-{VILLAGE}-01",
                                                                               clerk.user_id)
    again = applications.start(db, clerk, FOOD, region_code=VILLAGE, request_key=key, applicant=person)
    assert again["case_id"] == draft["case_id"] and again["repeated"]

    values = {"applicant_name": "赵六", "applicant_id": id_number, "phone": "0711-3216789",
              "address": "鄂城区吴都社区二号", "premises_area": 30, "business_scope": ["散装食品销售"],
              "request": "申请食品经营许可。", "delivery": "邮政寄递", "consent": True}
    scans = {seq: files.Upload(f"scan{seq}.pdf", PDF + bytes([seq])) for seq in range(1, 6)}
    with pytest.raises(applications.ApplicationError) as refused:
        applications.submit(db, clerk, draft["case_id"], expected_version=draft["version"], values=values,
                            materials={**scans, 1: files.Upload("scan1.exe", b"MZ")})
    assert refused.value.key == "file.wrong_type" and "material_1" in refused.value.problems
    assert cases.get_case(db, clerk, draft["case_id"])["state"] == wf.DRAFT   # nothing half-kept

    submitted = applications.submit(db, clerk, draft["case_id"], expected_version=draft["version"], values=values,
                                    materials=scans)
    assert submitted["state"] == wf.SUBMITTED
    repeat = applications.start(db, clerk, FOOD, region_code=VILLAGE, request_key=key, applicant=person)
    assert repeat["case_id"] == draft["case_id"] and repeat["state"] == wf.SUBMITTED
    assert count_cases(db, request_key=key) == 1

    # The applicant registers later with the same ID: they claim the record and see the case.
    claimed = auth.register_applicant(db, username=f"zl{uuid.uuid4().hex[:8]}", password="Ezhou@2026x",
                                      display_name="赵六", id_kind="resident_id", id_number=id_number)
    assert claimed == user_id
    mine = applications.my_cases(db, auth.actor_for(db, user_id))
    assert [c["case_id"] for c in mine] == [draft["case_id"]]
    locker = applications.locker(db, auth.actor_for(db, user_id))
    assert len([x for x in locker if x["kind"] == "material"]) == 5     # the scans entered their locker

    # Another window's clerk sees nothing of it.
    other = db.actors["clerk"]
    with pytest.raises(cases.CaseError):
        cases.get_case(db, other, draft["case_id"])
    assert draft["case_id"] not in [c["case_id"] for c in cases.list_cases(db, other)]
    assert draft["case_no"] not in stats.recent_cases(db, other, limit=1000)["case_no"].to_list()
    assert draft["case_no"] in stats.recent_cases(db, clerk, limit=1000)["case_no"].to_list()


def test_enterprise_at_the_city_window(seeded_db, files_env):
    db = seeded_db
    clerk = db.actors["clerk"]   # 市民中心综合受理窗口 (region: the city)
    code = make_credit_code("91420700MA4" + uuid.uuid4().hex[:6].upper().translate(str.maketrans("IOSVZ", "12345")))
    with pytest.raises(applications.ApplicationError) as bad:
        applications.register_present_applicant(db, clerk, name="测试公司", id_kind="credit_code",
                                                id_number=code[:17] + ("0" if code[17] != "0" else "1"), phone=None)
    assert bad.value.key == "uscc.checksum"
    user_id = applications.register_present_applicant(db, clerk, name="鄂州测试有限公司", id_kind="credit_code",
                                                      id_number=code, phone=None)
    company = cases.Applicant(name="鄂州测试有限公司", id_kind="credit_code", id_number=code, user_id=user_id)
    case = applications.start(db, clerk, FOOD, region_code=clerk.region_code, request_key=uuid.uuid4().hex,
                              applicant=company)
    assert (case["window_id"], case["region_code"], case["unit_id"]) == ("W-4207-ZH", "4207", "U-4207-SCJG")


def test_window_refusals(seeded_db, unpublished_item):
    db = seeded_db
    clerk = db.actors["clerk"]
    id_number = new_resident_id(db)
    for kwargs, key in [
        ({"name": "王", "id_kind": "resident_id", "id_number": wrong_check_digit(id_number)}, "id.checksum"),
        ({"name": "王", "id_kind": "resident_id", "id_number": id_number[:17]}, "id.length"),
        ({"name": " ", "id_kind": "resident_id", "id_number": id_number}, "auth.name_required"),
        ({"name": "王", "id_kind": "passport", "id_number": id_number}, "id.kind"),
    ]:
        with pytest.raises(applications.ApplicationError) as refused:
            applications.register_present_applicant(db, clerk, phone=None, **kwargs)
        assert refused.value.key == key
    with pytest.raises(applications.ApplicationError) as refused:
        applications.register_present_applicant(db, clerk, name="王", id_kind="resident_id", id_number=id_number,
                                                phone="12345")
    assert refused.value.key == "window.phone_invalid"
    assert applications.find_applicant(db, clerk, id_number) is None

    for actor in (db.actors["applicant"], db.actors["officer"]):
        with pytest.raises(PermissionDenied):
            applications.find_applicant(db, actor, id_number)
        with pytest.raises(PermissionDenied):
            applications.register_present_applicant(db, actor, name="王", id_kind="resident_id",
                                                    id_number=id_number, phone=None)

    person = applicant_of(db, db.actors["applicant"])
    with pytest.raises(applications.ApplicationError) as refused:
        applications.start(db, clerk, FOOD, region_code="4207", request_key=uuid.uuid4().hex)
    assert refused.value.key == "window.applicant_required"
    with pytest.raises(cases.CaseError) as refused:
        applications.start(db, clerk, unpublished_item, region_code="4207", request_key=uuid.uuid4().hex,
                           applicant=person)
    assert refused.value.key == "case.item_unknown"
    windowless = make_clerk(db, "U-4207-JC")  # a clerk account in a unit without a service window
    with pytest.raises(applications.ApplicationError) as refused:
        applications.start(db, windowless, FOOD, region_code="4207", request_key=uuid.uuid4().hex, applicant=person)
    assert refused.value.key == "window.none"
