"""Reference data: counts, the region tree, catalogue foreign keys, the holiday calendar, derived units and windows."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from app import reference as ref


@pytest.fixture(scope="module")
def regions():
    return ref.load_regions()


@pytest.fixture(scope="module")
def departments():
    return ref.load_departments()


@pytest.fixture(scope="module")
def items():
    return ref.load_items()


@pytest.fixture(scope="module")
def materials():
    return ref.load_materials()


@pytest.fixture(scope="module")
def holidays():
    return ref.load_holidays()


@pytest.fixture(scope="module")
def units(regions, departments, items):
    return ref.derive_units(regions, departments, items)


@pytest.fixture(scope="module")
def windows(units, departments, items):
    return ref.derive_windows(units, departments, items)


# --- regions ---------------------------------------------------------------------------------------------------


def test_region_counts_per_level(regions):
    assert Counter(r["level"] for r in regions) == {1: 1, 2: 1, 3: 3, 4: 28, 5: 358}


def test_region_top_of_tree(regions):
    by_code = {r["code"]: r for r in regions}
    assert by_code["42"] == {"code": "42", "name": "湖北省", "level": 1, "parent_code": None, "level_name": "省"}
    assert by_code["4207"] == {"code": "4207", "name": "鄂州市", "level": 2, "parent_code": "42", "level_name": "市"}
    assert {r["code"]: r["name"] for r in regions if r["level"] == 3} == {
        "420702": "梁子湖区", "420703": "华容区", "420704": "鄂城区"}


def test_region_codes_are_strings_and_prefix_of_children(regions):
    by_code = {r["code"]: r for r in regions}
    assert len(by_code) == len(regions)
    for r in regions:
        assert isinstance(r["code"], str)
        assert len(r["code"]) == ref.LEVEL_CODE_LENGTH[r["level"]]
        assert r["level_name"] == ref.LEVEL_NAMES[r["level"]]
        if r["parent_code"] is not None:
            assert r["code"].startswith(r["parent_code"])
            assert by_code[r["parent_code"]]["level"] == r["level"] - 1


def test_every_village_sits_under_a_town_under_a_district(regions):
    by_code = {r["code"]: r for r in regions}
    for village in (r for r in regions if r["level"] == 5):
        town = by_code[village["parent_code"]]
        assert town["level"] == 4 and town["level_name"] == "乡镇街道"
        district = by_code[town["parent_code"]]
        assert district["level"] == 3 and district["parent_code"] == "4207"


def test_region_subtree_is_a_prefix_match(regions):
    assert len(ref.region_subtree(regions, "4207")) == 1 + 3 + 28 + 358  # the root is in its own subtree
    assert all(r["code"].startswith("420704") for r in ref.region_subtree(regions, "420704"))


def test_a_child_that_does_not_extend_its_parent_code_is_refused(tmp_path):
    folder = tmp_path / "regions"
    folder.mkdir()
    (folder / "areas_4207.csv").write_text("code,name,cityCode,provinceCode\n420704,鄂城区,4207,42\n", encoding="utf-8")
    (folder / "streets_4207.csv").write_text(
        "code,name,areaCode,provinceCode,cityCode\n420703001,错挂街道,420704,42,4207\n", encoding="utf-8")
    (folder / "villages_4207.csv").write_text(
        "code,name,streetCode,provinceCode,cityCode,areaCode\n", encoding="utf-8")
    with pytest.raises(ValueError, match="parent's code"):
        ref.load_regions(tmp_path)


# --- departments and catalogue ---------------------------------------------------------------------------------


def test_department_and_body_counts(departments):
    assert len(departments) == 29
    assert len({d["dept_code"] for d in departments}) == 29
    assert len(ref.load_coordinating_bodies()) == 8


def test_item_counts(items):
    assert Counter(i["category"] for i in items) == {"approval": 74, "public": 33, "convenience": 26}
    # The catalogue README says 66 行政许可, 4 行政确认, 4 其他行政权力; the data agrees.
    assert Counter(i["kind"] for i in items if i["category"] == "approval") == {
        "行政许可": 66, "行政确认": 4, "其他行政权力": 4}
    assert {i["kind"] for i in items if i["category"] != "approval"} == {"公共服务"}
    assert len({i["item_code"] for i in items}) == len(items)


def test_item_shape(items):
    keys = {"item_code", "name", "category", "kind", "dept_code", "co_dept_codes", "handling_levels",
            "statutory_limit", "statutory_unit", "promised_days", "immediate", "basis", "conditions", "fee_text",
            "charges_fee", "result_name", "online_batch", "source", "note"}
    for i in items:
        assert set(i) == keys
        assert i["statutory_unit"] in ("working", "calendar")
        assert i["handling_levels"] and set(i["handling_levels"]) <= {"市", "区", "乡镇街道", "村社区"}
        assert i["charges_fee"] == bool(i["fee_text"])
        assert i["immediate"] == (i["promised_days"] == 0)
        assert i["result_name"]
        if i["category"] != "approval":
            assert i["online_batch"] == 1 and i["statutory_unit"] == "working" and i["co_dept_codes"] == []


def test_catalogue_normalisation_examples(items):
    by_code = {i["item_code"]: i for i in items}
    assert by_code["4207-FGW-001"]["co_dept_codes"] == ["ZRGH"]
    assert by_code["4207-FGW-002"]["handling_levels"] == ["市", "区"]
    assert by_code["4207-GF-MZJ-001"]["handling_levels"] == ["区", "乡镇街道", "村社区"]
    assert by_code["4207-ZRGH-005"]["charges_fee"] is True
    assert by_code["4207-FGW-001"]["fee_text"] == "" and by_code["4207-FGW-001"]["charges_fee"] is False
    assert Counter(i["online_batch"] for i in items if i["category"] == "approval") == {1: 26, 2: 38, 3: 10}


def test_every_item_department_and_co_department_exists(items, departments):
    codes = {d["dept_code"] for d in departments}
    for i in items:
        assert i["dept_code"] in codes, i["item_code"]
        assert set(i["co_dept_codes"]) <= codes, i["item_code"]
        assert i["dept_code"] not in i["co_dept_codes"], i["item_code"]


def test_promised_within_statutory(items):
    for i in items:
        if i["statutory_unit"] == "working":
            assert i["promised_days"] <= i["statutory_limit"], i["item_code"]
        else:  # calendar days: the catalogue's conservative conversion, README "How to use the time limits"
            assert i["promised_days"] <= i["statutory_limit"] * 5 // 7, i["item_code"]


# --- materials -------------------------------------------------------------------------------------------------


def test_material_counts(materials, items):
    category = {i["item_code"]: i["category"] for i in items}
    counts = Counter(category[m["item_code"]] for m in materials)
    assert counts["approval"] == 407
    assert counts["public"] > 0 and counts["convenience"] > 0
    # every item has at least one material
    assert {m["item_code"] for m in materials} == set(category)


def test_material_seq_runs_from_one(materials):
    seqs: dict[str, list[int]] = {}
    for m in materials:
        seqs.setdefault(m["item_code"], []).append(m["seq"])
    for code, s in seqs.items():
        assert s == list(range(1, len(s) + 1)), code


def test_every_reuse_item_code_exists(materials, items):
    codes = {i["item_code"] for i in items}
    reused = [m for m in materials if m["reuse_item_code"] is not None]
    assert sum(1 for m in reused if not m["item_code"].startswith(("4207-GF-", "4207-BM-"))) == 123
    for m in reused:
        assert m["reuse_item_code"] in codes, m
        assert m["reuse_certificate"]
    assert all(m["reuse_certificate"] == "" for m in materials if m["reuse_item_code"] is None)


def test_public_materials_are_split_on_semicolons(materials):
    minimum_income = [m for m in materials if m["item_code"] == "4207-GF-MZJ-001"]
    assert [m["name"] for m in minimum_income] == [
        "最低生活保障申请书", "家庭成员居民身份证、户口簿", "家庭经济状况核对授权书",
        "家庭收入、财产状况申报及相关证明", "残疾、重病等特殊情况证明（如有）"]
    assert [m["required"] for m in minimum_income] == [True, True, True, True, False]
    assert all(m["original_or_copy"] == "原件" and m["formats"] == ["pdf", "jpg", "png"] for m in minimum_income)


def test_approval_material_reuse_parsed():
    m = next(m for m in ref.load_materials() if m["item_code"] == "4207-FGW-001" and m["seq"] == 4)
    assert m["reuse_certificate"] == "营业执照" and m["reuse_item_code"] == "4207-SCJG-001"
    assert m["formats"] == ["ofd", "pdf"] and m["required"] is True


# --- holidays --------------------------------------------------------------------------------------------------


def test_holidays_cover_2013_to_2026(holidays):
    assert ref.official_years() == set(range(2013, 2027))
    assert {h["day"].year for h in holidays} == set(range(2013, 2027))
    for year in range(2013, 2027):  # every notice arranges at least 元旦 and 春节
        assert {"元旦", "春节"} <= {h["name"] for h in holidays if h["year"] == year}, year
    assert all(isinstance(h["day"], dt.date) and isinstance(h["is_off_day"], bool) for h in holidays)
    assert len({h["day"] for h in holidays}) == len(holidays)


def test_make_up_working_day_2026_02_14(holidays):
    by_day = {h["day"]: h for h in holidays}
    assert by_day[dt.date(2026, 2, 14)] == {
        "day": dt.date(2026, 2, 14), "name": "春节", "is_off_day": False, "year": 2026}
    assert by_day[dt.date(2026, 1, 1)]["is_off_day"] is True


def test_notice_year_can_differ_from_the_day(holidays):
    by_day = {h["day"]: h for h in holidays}
    assert by_day[dt.date(2018, 12, 29)]["year"] == 2019  # make-up day of the 2019 元旦 arrangement
    assert by_day[dt.date(2018, 12, 29)]["is_off_day"] is False


# --- units and windows -----------------------------------------------------------------------------------------


def test_unit_ids_unique_and_regions_exist(units, regions):
    ids = [u["unit_id"] for u in units]
    assert len(ids) == len(set(ids))
    codes = {r["code"] for r in regions}
    by_id = {u["unit_id"]: u for u in units}
    for u in units:
        assert u["region_code"] in codes, u
        if u["parent_unit_id"] is not None:
            parent = by_id[u["parent_unit_id"]]
            assert u["region_code"].startswith(parent["region_code"]), u


def test_every_department_has_a_city_unit(units, departments):
    by_id = {u["unit_id"]: u for u in units}
    for d in departments:
        u = by_id[f"U-4207-{d['dept_code']}"]
        assert (u["name"], u["kind"], u["dept_code"], u["region_code"], u["parent_unit_id"]) == (
            d["name"], "department", d["dept_code"], "4207", None)


def test_district_units_follow_district_level_items(units, items, departments):
    at_district = {i["dept_code"] for i in items if "区" in i["handling_levels"]}
    for d in departments:
        district_units = [u for u in units if u["dept_code"] == d["dept_code"] and len(u["region_code"]) == 6]
        if d["dept_code"] in at_district:
            assert {u["region_code"] for u in district_units} == {"420702", "420703", "420704"}
            assert all(u["parent_unit_id"] == f"U-4207-{d['dept_code']}" for u in district_units)
        else:
            assert district_units == []
    by_id = {u["unit_id"]: u for u in units}
    assert by_id["U-420704-SCJG"]["name"] == "鄂城区市场监管局"


def test_special_units_and_service_points(units):
    by_id = {u["unit_id"]: u for u in units}
    assert by_id["U-4207-JC"]["kind"] == "supervision"
    assert by_id["U-4207-LD"]["kind"] == "leadership" and by_id["U-4207-LD"]["name"] == "鄂州市人民政府"
    assert by_id["U-4207-XZSP"]["kind"] == "service_centre"
    assert by_id["U-4207-XZSP"]["name"] == "鄂州市行政审批局（政务服务中心）"
    assert by_id["U-420702100-BMFW"]["name"] == "太和镇便民服务中心"
    assert by_id["U-420702100201-BMFW"]["name"] == "伯浩村便民服务站"
    assert by_id["U-420702100201-BMFW"]["parent_unit_id"] == "U-420702100-BMFW"
    kinds = Counter(u["kind"] for u in units)
    assert kinds["service_centre"] == 28 + 1
    assert kinds["service_station"] == 358
    station_names = [u["name"] for u in units if u["kind"] == "service_station"]
    assert len(set(station_names)) == len(station_names)


def test_windows_reference_existing_units(windows, units, items):
    unit_ids = {u["unit_id"] for u in units}
    assert all(w["unit_id"] in unit_ids for w in windows)
    ids = [w["window_id"] for w in windows]
    assert len(ids) == len(set(ids))
    by_id = {w["window_id"]: w for w in windows}
    assert by_id["W-4207-ZH"]["unit_id"] == "U-4207-XZSP"
    assert by_id["W-4207-SCJG"] == {"window_id": "W-4207-SCJG", "unit_id": "U-4207-SCJG",
                                    "name": "市民中心市场监管局窗口", "region_code": "4207"}
    approval_depts = {i["dept_code"] for i in items if i["category"] == "approval"}
    hall = [w for w in windows if w["region_code"] == "4207" and w["window_id"] != "W-4207-ZH"]
    assert {w["window_id"] for w in hall} == {f"W-4207-{d}" for d in approval_depts}
    assert len(windows) == len(approval_depts) + 1 + 28 + 358


def test_catalogue_counts(units, windows):
    counts = ref.catalogue_counts()
    assert counts["regions_by_level"] == {1: 1, 2: 1, 3: 3, 4: 28, 5: 358}
    assert counts["departments"] == 29 and counts["coordinating_bodies"] == 8
    assert counts["items_by_category"] == {"approval": 74, "public": 33, "convenience": 26}
    assert counts["materials_by_category"]["approval"] == 407
    assert counts["official_years"] == list(range(2013, 2027))
    assert counts["units"] == len(units) and counts["windows"] == len(windows)
