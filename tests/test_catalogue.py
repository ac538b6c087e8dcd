"""The public catalogue: finding a service (column, department, level, life event, keywords), the
fully-online rule, each item's guide, and the 办事指南 page driven through Streamlit's AppTest."""
from __future__ import annotations

import re
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import catalogue, i18n, reference
from app import schema
from app import workflow as wf
from app.db import Database, forget_databases
from app.permissions import Actor

PAGE_STRINGS = {k: v for k, v in i18n.M.items() if k.startswith("catalogue.")}

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "catalogue.py")
ROUTER = str(ROOT / "app" / "ui" / "router.py")
FOOD_TRADE, FOOD_PRODUCTION = "4207-SCJG-003", "4207-SCJG-002"


@pytest.fixture(scope="module")
def db(tmp_path_factory):  # noqa: ANN001, ANN201
    from pipelines.seed_reference import seed_reference

    database = Database(f"duckdb:///{tmp_path_factory.mktemp('catalogue') / 'catalogue.duckdb'}")
    database.migrate()
    seed_reference(database)
    yield database
    database.dispose()


@pytest.fixture(scope="module")
def reference_items() -> list[dict]:
    return reference.load_items()


def codes(frame) -> set[str]:  # noqa: ANN001
    return set(frame["item_code"].to_list())


def set_status(db: Database, item_code: str, status: str) -> None:
    db.write(lambda conn: conn.execute(sa.update(schema.items)
                                       .where(schema.items.c.item_code == item_code)
                                       .values(status=status)))


# -- search ---------------------------------------------------------------------------------------------------

def test_a_chinese_keyword_finds_the_items_whose_name_contains_it(db):
    found = catalogue.search(db, keyword="食品")
    assert codes(found) == {FOOD_TRADE, FOOD_PRODUCTION}
    assert "食品经营许可" in found["name"].to_list()
    assert found.columns == ["item_code", "name", "category", "dept", "levels", "promised_days", "immediate",
                             "fully_online", "life_events"]


def test_several_keywords_must_all_match(db):
    assert codes(catalogue.search(db, keyword="食品 经营")) == {FOOD_TRADE}
    assert codes(catalogue.search(db, keyword="  食品\u3000生产 ")) == {FOOD_PRODUCTION}   # full-width space
    assert catalogue.search(db, keyword="食品 婚姻").is_empty()


def test_keywords_match_the_department_short_name_and_the_item_code(db, reference_items):
    scjg = {i["item_code"] for i in reference_items if i["dept_code"] == "SCJG"}
    assert codes(catalogue.search(db, keyword="市场监管")) == scjg
    assert codes(catalogue.search(db, keyword="市场监管 食品")) == {FOOD_TRADE, FOOD_PRODUCTION}
    assert codes(catalogue.search(db, keyword="scjg-003")) == {FOOD_TRADE}


@pytest.mark.parametrize("text", ["%", "_", "'", "食品%", "%食品", "' OR '1'='1", "\\", "[食品]"])
def test_sql_wildcards_and_quotes_are_plain_characters(db, text):
    found = catalogue.search(db, keyword=text)
    assert found.height < catalogue.search(db).height
    assert found.is_empty()


def test_the_three_columns(db):
    counts = {}
    for column in catalogue.COLUMNS:
        found = catalogue.search(db, column=column)
        assert set(found["category"].to_list()) == {column}
        counts[column] = found.height
    assert counts == {"approval": 74, "public": 33, "convenience": 26}
    assert catalogue.search(db).height == 133


def test_department_filter(db, reference_items):
    found = catalogue.search(db, dept_code="SCJG")
    assert codes(found) == {i["item_code"] for i in reference_items if i["dept_code"] == "SCJG"}
    assert set(found["dept"].to_list()) == {"市市场监管局"}
    assert codes(catalogue.search(db, dept_code="SCJG", column="approval")) == {
        "4207-SCJG-001", FOOD_PRODUCTION, FOOD_TRADE, "4207-SCJG-004"}


@pytest.mark.parametrize("level", catalogue.LEVELS)
def test_level_filter(db, reference_items, level):
    found = catalogue.search(db, level=level)
    assert found.height > 0
    assert all(level in levels for levels in found["levels"].to_list())
    assert codes(found) == {i["item_code"] for i in reference_items if level in i["handling_levels"]}


def test_village_level_has_no_approval_item(db):
    assert "approval" not in catalogue.search(db, level="村社区")["category"].to_list()


def test_life_event_filter(db):
    birth = catalogue.search(db, life_event="生育收养")
    assert {"4207-GF-GAJ-002", "4207-GF-WJW-001", "4207-BM-WJW-001"} <= codes(birth)
    assert all("生育收养" in events for events in birth["life_events"].to_list())
    assert "4207-SCJG-001" in codes(catalogue.search(db, life_event="企业开办"))
    assert codes(catalogue.search(db, life_event="行业准营", keyword="食品")) == {FOOD_TRADE, FOOD_PRODUCTION}


def test_every_item_falls_in_at_least_one_life_event(db, reference_items):
    found = catalogue.search(db)
    assert [c for c, events in zip(found["item_code"].to_list(), found["life_events"].to_list()) if not events] == []
    assert [i["item_code"] for i in reference_items if not catalogue.events_of(i["item_code"], i["name"])] == []


def test_the_life_event_file_is_sound(reference_items):
    events = catalogue.load_life_events()
    known = {i["item_code"] for i in reference_items}
    assert {e.kind for e in events} == set(catalogue.LIFE_EVENT_KINDS)
    for e in events:
        assert e.item_codes <= known, e.name
        assert e.name_en and (e.keywords or e.item_codes)
        assert any(e.covers(i["item_code"], i["name"]) for i in reference_items), f"{e.name} covers nothing"
    assert catalogue.life_events()[0] == "生育收养"


def test_unknown_filter_values_are_refused(db):
    with pytest.raises(ValueError):
        catalogue.search(db, column="disclosure")
    with pytest.raises(ValueError):
        catalogue.search(db, level="省")
    with pytest.raises(ValueError):
        catalogue.search(db, life_event="不存在的事件")


def test_departments(db):
    depts = catalogue.departments(db)
    assert depts.filter(depts["dept_code"] == "SCJG")["short_name"].to_list() == ["市市场监管局"]
    assert depts["items"].sum() == 133
    assert depts["dept_code"].to_list() == sorted(depts["dept_code"].to_list())


# -- fully online ---------------------------------------------------------------------------------------------

def test_an_item_with_a_required_original_is_not_fully_online(db):
    materials = [m for m in reference.load_materials() if m["item_code"] == FOOD_TRADE]
    assert any(m["required"] and m["original_or_copy"] == "原件" and not m["reuse_item_code"] for m in materials)
    assert catalogue.search(db, keyword=FOOD_TRADE)["fully_online"].to_list() == [False]
    assert catalogue.guide(db, FOOD_TRADE)["fully_online"] is False


def test_an_item_without_originals_is_fully_online(db):
    materials = [m for m in reference.load_materials() if m["item_code"] == "4207-JXJ-001"]
    assert materials and not any(m["original_or_copy"] in ("原件", "原件及复印件") for m in materials)
    assert catalogue.search(db, keyword="4207-JXJ-001")["fully_online"].to_list() == [True]
    online = catalogue.search(db).filter(pl.col("fully_online"))
    assert codes(online) == {"4207-FGW-001", "4207-JXJ-001", "4207-SCJG-001", "4207-SHWJ-001"}


def test_the_fully_online_rule():
    e_copy = {"required": True, "original_or_copy": "电子", "formats": ["pdf"], "reuse_item_code": None}
    original = {"required": True, "original_or_copy": "原件", "formats": ["pdf", "jpg"], "reuse_item_code": None}
    assert catalogue.fully_online([e_copy])
    assert not catalogue.fully_online([e_copy, original])
    assert not catalogue.fully_online([{**original, "original_or_copy": "原件及复印件"}])
    assert catalogue.fully_online([e_copy, {**original, "reuse_item_code": "4207-GF-GAJ-003"}])  # 电子证照 stands in
    assert catalogue.fully_online([e_copy, {**original, "required": False}])                     # 选交 does not decide
    assert not catalogue.fully_online([{**e_copy, "formats": ["dwg"]}])                          # no electronic format
    assert catalogue.fully_online([{**e_copy, "original_or_copy": "复印件", "formats": ["OFD"]}])
    assert catalogue.fully_online([])


# -- the guide --------------------------------------------------------------------------------------------------

def test_guide_of_a_charged_item_shows_its_fee_and_basis(db):
    fee = catalogue.guide(db, "4207-ZRGH-005")["fee"]
    assert fee["charged"] and "住宅类每件80元" in fee["text"]
    assert fee["basis"] == ["《国家发展改革委 财政部关于不动产登记收费标准等有关问题的通知》（发改价格规〔2016〕2559号）"]


def test_guide_of_a_free_item_says_not_charged(db):
    g = catalogue.guide(db, FOOD_TRADE)
    assert g["fee"] == {"charged": False, "text": "不收费", "basis": ["《中华人民共和国行政许可法》第五十八条"]}
    assert catalogue.guide(db, "4207-GF-MZJ-001")["fee"] == {"charged": False, "text": "不收费", "basis": []}


def test_guide_limits_with_their_units(db):
    calendar = catalogue.guide(db, "4207-ZJJ-001")   # 建筑法 art. 8: 7 days
    assert (calendar["statutory_limit"], calendar["statutory_unit"], calendar["statutory_unit_name"]) == (7, "calendar", "自然日")
    assert (calendar["promised_days"], calendar["promised_unit_name"]) == (3, "工作日")
    food = catalogue.guide(db, FOOD_TRADE)
    assert (food["statutory_limit"], food["statutory_unit_name"], food["promised_days"]) == (10, "工作日", 3)
    assert food["handling_type"] == "承诺件" and not food["immediate"]


def test_guide_materials_say_required_original_formats_and_certificate(db):
    materials = catalogue.guide(db, FOOD_TRADE)["materials"]
    assert [m["seq"] for m in materials] == [1, 2, 3, 4, 5]
    form = materials[0]
    assert (form["name"], form["required_name"], form["original_or_copy"]) == ("食品经营许可申请书", "必交", "原件")
    licence = materials[1]
    assert (licence["reuse_certificate"], licence["reuse_item_code"], licence["reuse_item_name"]) == (
        "营业执照", "4207-SCJG-001", "企业设立、变更、注销登记")
    assert licence["formats"] == ["ofd", "pdf"] and licence["online"]
    agent = catalogue.guide(db, "4207-SCJG-001")["materials"][-1]
    assert agent["required_name"] == "选交"


def test_guide_flow_departments_and_collection(db):
    g = catalogue.guide(db, "4207-ZJJ-003")   # 消防验收: parallel with 规划 and 人防
    assert [s["name"] for s in g["steps"]] == ["申请", "受理", "并联审批", "决定", "办结"]
    assert g["steps"][2]["co_departments"] == ["市自然资源规划局", "市人防办"]
    assert g["departments"] == ["鄂州市住房和城乡建设局", "鄂州市自然资源和规划局", "鄂州市人民防空办公室"]
    assert g["parallel"]
    city, district = g["collection"]
    assert city == {"level": "市", "kind": "city_window", "places": ["市民中心住建局窗口"]}
    assert district["kind"] == "district_unit" and "鄂城区住建局" in district["places"]

    single = catalogue.guide(db, FOOD_TRADE)
    assert [s["key"] for s in single["steps"]] == ["apply", "accept", "review", "decide", "complete"]
    assert single["departments"] == ["鄂州市市场监督管理局"] and not single["parallel"]

    on_the_spot = catalogue.guide(db, "4207-MZJ-004")   # 婚姻登记, 即办件
    assert on_the_spot["handling_type"] == "即办件"
    assert [s["name"] for s in on_the_spot["steps"]] == ["申请", "受理", "当场办结"]
    village = catalogue.guide(db, "4207-GF-MZJ-001")["collection"]
    assert [c["kind"] for c in village] == ["district_unit", "town_centre", "village_station"]


def test_unknown_and_unpublished_items_are_not_shown(db):
    with pytest.raises(catalogue.ItemNotPublished, match="does not exist or is not published"):
        catalogue.guide(db, "4207-XXXX-999")
    set_status(db, FOOD_TRADE, "draft")
    try:
        assert codes(catalogue.search(db, keyword="食品")) == {FOOD_PRODUCTION}
        assert catalogue.search(db, column="approval").height == 73
        with pytest.raises(catalogue.ItemNotPublished) as err:
            catalogue.guide(db, FOOD_TRADE)
        assert err.value.key in i18n.M
        assert catalogue.departments(db)["items"].sum() == 132
    finally:
        set_status(db, FOOD_TRADE, "published")
    assert FOOD_TRADE in codes(catalogue.search(db, keyword="食品"))


# -- strings ----------------------------------------------------------------------------------------------------

SAY_KEY = re.compile(r"""\bsay\(\s*["']([a-z_]+\.[a-z_.]*[a-z_])["']""")  # prefixes + '…' are expanded below


def test_every_string_of_the_page_exists_in_both_languages():
    text = (ROOT / "pages" / "catalogue.py").read_text(encoding="utf-8")
    keys = set(SAY_KEY.findall(text))
    keys |= {f"catalogue.column.{c}" for c in ("all", *catalogue.COLUMNS)}
    keys |= {f"catalogue.level.{k}" for k in ("city", "district", "town", "village")}
    keys |= {f"catalogue.event_kind.{k}" for k in ("person", "business")}
    keys |= {f"catalogue.unit.{u}" for u in catalogue.UNIT_NAMES}
    keys |= {f"catalogue.step.{k}" for k in catalogue.STEP_NAMES}
    keys |= {f"catalogue.collect.{k}" for k in ("city_window", "district_unit", "town_centre", "village_station")}
    keys |= {f"catalogue.form.{k}" for k in ("original", "copy", "both", "electronic")}
    merged = {**PAGE_STRINGS, **i18n.M}
    assert sorted(k for k in keys if k not in merged) == []
    for key in keys:
        zh, en = merged[key]
        assert zh and en and zh != en, key
    # Merging the page's strings into app/i18n.py must not change an existing message.
    assert [k for k in PAGE_STRINGS if k in i18n.M and i18n.M[k] != PAGE_STRINGS[k]] == []


# -- the page (AppTest) -----------------------------------------------------------------------------------------

@pytest.fixture
def page_env(db, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("EZZ_DATABASE_URL", db.url)
    monkeypatch.delenv("EZZ_DATABASE_SCHEMA", raising=False)
    monkeypatch.setenv("EZZ_BACKGROUND_JOBS", "0")
    st.cache_resource.clear()
    yield db
    st.cache_resource.clear()
    forget_databases()


def open_page(**query: str) -> AppTest:
    at = AppTest.from_file(PAGE, default_timeout=60)
    for key, value in query.items():
        at.query_params[key] = value
    return at


def column_values(at: AppTest, n: int, column: str) -> list:
    return at.dataframe[n].value[column].tolist()


def test_page_keyword_search(page_env):
    at = open_page().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "办事指南"
    at.text_input(key="catalogue_keyword").input("食品").run()
    assert not at.exception, at.exception
    assert sorted(column_values(at, 0, "事项名称")) == ["食品生产许可", "食品经营许可"]
    assert "找到 2 个事项" in [c.value for c in at.caption]


def test_page_column_filter(page_env):
    at = open_page().run()
    at.radio(key="catalogue_column").set_value("public").run()
    assert not at.exception, at.exception
    columns = column_values(at, 0, "栏目")
    assert len(columns) == 33 and set(columns) == {"公共服务"}


def test_page_nothing_found_for_a_wildcard(page_env):
    at = open_page().run()
    at.text_input(key="catalogue_keyword").input("%").run()
    assert not at.exception, at.exception
    assert "找到 0 个事项" in [c.value for c in at.caption]
    assert len(at.dataframe) == 0


def test_page_opens_the_guide_from_the_address(page_env):
    at = open_page(item=FOOD_TRADE).run()
    assert not at.exception, at.exception
    assert at.header[0].value.replace("\\", "") == "食品经营许可"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["法定时限（工作日）"] == "10" and metrics["承诺时限（工作日）"] == "3"
    assert metrics["收费"] == "不收费" and metrics["全程网办"] == "否"
    materials = at.dataframe[-1].value
    assert materials["材料名称"].tolist()[0] == "食品经营许可申请书"
    assert set(materials["必交/选交"]) == {"必交"}
    assert "营业执照（由“企业设立、变更、注销登记”核发，4207-SCJG-001）" in materials["可替代的证照"].tolist()
    texts = [t.value for t in at.text]
    assert "申请 → 受理 → 审查 → 决定 → 办结" in texts
    assert "市级办理：市民中心市场监管局窗口" in texts
    assert {"10 个工作日", "3 个工作日", "承诺件"} <= set(texts)   # the limits section, with units
    assert not [b for b in at.button if b.label == "我要办"]   # not signed in


def test_page_picking_an_item_opens_its_guide(page_env):
    at = open_page().run()
    at.text_input(key="catalogue_keyword").input("不动产登记").run()
    at.selectbox(key="catalogue_item").select("4207-ZRGH-005").run()
    assert not at.exception, at.exception
    assert at.query_params["item"] == ["4207-ZRGH-005"] or at.query_params["item"] == "4207-ZRGH-005"
    texts = [t.value for t in at.text]
    assert any("住宅类每件80元" in t for t in texts)
    assert any("发改价格规〔2016〕2559号" in t for t in texts)


def test_page_calendar_day_item_and_parallel_flow(page_env):
    at = open_page(item="4207-ZJJ-001").run()
    assert not at.exception, at.exception
    assert {m.label: m.value for m in at.metric}["法定时限（自然日）"] == "7"
    assert "7 个自然日" in [t.value for t in at.text]
    assert "申请 → 受理 → 并联审批（市人防办） → 决定 → 办结" in [t.value for t in at.text]


def test_page_unknown_item_warns_without_echoing_it(page_env):
    at = open_page(item="<b>4207-NOPE</b>").run()
    assert not at.exception, at.exception
    assert [w.value for w in at.warning] == ["事项不存在或未发布。"]


def test_page_applicant_sees_apply_button(page_env):
    at = open_page(item=FOOD_TRADE)
    at.session_state["ezz_actor"] = Actor(user_id=1, username="t_zhang", role=wf.APPLICANT, display_name="张三")
    at.run()
    assert not at.exception, at.exception
    assert [b.label for b in at.button if b.label == "我要办"] == ["我要办"]
    officer = open_page(item=FOOD_TRADE)
    officer.session_state["ezz_actor"] = Actor(user_id=2, username="t_officer", role=wf.OFFICER)
    officer.run()
    assert not [b for b in officer.button if b.label == "我要办"]


def test_page_in_english(page_env):
    at = open_page(item=FOOD_TRADE)
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Service guide"
    assert {m.label: m.value for m in at.metric}["Statutory limit (working days)"] == "10"
    assert "10 working days" in [t.value for t in at.text]


def test_applicant_goes_from_the_guide_to_the_apply_page(page_env):
    from tests.factories import PASSWORD, USERS, create_users

    create_users(page_env)
    at = AppTest.from_file(ROUTER, default_timeout=60).run()
    at.switch_page("../../pages/sign_in.py").run()
    at.text_input(key="signin_username").input(USERS["applicant"][0])
    at.text_input(key="signin_password").input(PASSWORD)
    at.button[0].click().run()
    at.query_params["item"] = FOOD_TRADE
    at.switch_page("../../pages/catalogue.py").run()
    assert not at.exception, at.exception
    at.button(key="catalogue_apply").click().run()
    assert not at.exception, at.exception
    assert "catalogue_keyword" not in [t.key for t in at.text_input]   # left the guide for pages/apply.py
    assert at.session_state["ezz_apply_item"] == FOOD_TRADE
    assert at.query_params["item"] in (FOOD_TRADE, [FOOD_TRADE])
