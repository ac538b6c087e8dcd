"""Reference data: the region tree, the holiday calendar and the seed catalogue, read from data/reference.

This module owns reading and normalising the files described in data/reference/PROVENANCE.md, and deriving the
organisation units and service windows that the platform places on the region tree. Everything here is plain
Python returning lists of dicts: no Streamlit, no database. Loaders raise ValueError when a file breaks an
invariant the rest of the platform relies on (a child's region code must start with its parent's code, codes must
be unique, a reuse reference must name a known item), so bad reference data fails at seed time, not in a case.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path
from typing import Iterable

DEFAULT_BASE = Path(__file__).resolve().parent.parent / "data" / "reference"

PROVINCE_CODE = "42"
PROVINCE_NAME = "湖北省"
CITY_CODE = "4207"
CITY_NAME = "鄂州市"

LEVEL_NAMES = {1: "省", 2: "市", 3: "区", 4: "乡镇街道", 5: "村社区"}
# Length of a region code at each level; a child's code extends its parent's.
LEVEL_CODE_LENGTH = {1: 2, 2: 4, 3: 6, 4: 9, 5: 12}

# Handling levels as written in the catalogue files -> the level names used everywhere else.
_HANDLING_LEVEL_ALIASES = {
    "市": "市",
    "区": "区",
    "街道乡镇": "乡镇街道",
    "乡镇街道": "乡镇街道",
    "社区村": "村社区",
    "村社区": "村社区",
}
_HANDLING_LEVEL_ORDER = ["市", "区", "乡镇街道", "村社区"]

_STATUTORY_UNITS = {"工作日": "working", "自然日": "calendar"}

# 证照名（item_code）, e.g. 营业执照（4207-SCJG-001）
_REUSE_RE = re.compile(r"^(?P<name>.+)（(?P<code>4207-[0-9A-Z-]+)）$")
# A public/convenience material that points at another item: 失业登记记录（平台共享，见4207-GF-RSJ-003）
_SEE_ITEM_RE = re.compile(r"见(?P<code>4207-[0-9A-Z]+(?:-[0-9A-Z]+)*-\d{3})")
# A public/convenience material that is only needed in some cases: （如有）, （委托代理时）, （首次申领）…
# The approval materials file marks the same kind of material required=0; the ';'-list has no such column.
_CONDITIONAL_MATERIAL_RE = re.compile(r"（[^（）]*(?:如有|如需|如已|首次)[^（）]*）|（[^（）]*时）")

_PUBLIC_MATERIAL_FORMATS = ["pdf", "jpg", "png"]

# Seats of supervision, leadership and the platform operator (see coordinating_bodies.csv C01, C05/C08).
SUPERVISION_UNIT_ID = "U-4207-JC"
LEADERSHIP_UNIT_ID = "U-4207-LD"
SERVICE_CENTRE_UNIT_ID = "U-4207-XZSP"
SERVICE_CENTRE_UNIT_NAME = "鄂州市行政审批局（政务服务中心）"
GENERAL_WINDOW_ID = "W-4207-ZH"

# District-level bodies whose name is not simply "<district><department>": the department notes say the
# districts have a 公安分局, an 生态环境分局 (vertical reform) and a 消防救援大队 under the city 支队.
_DISTRICT_NAME_OVERRIDES = {
    "GAJ": "公安分局",
    "STHJ": "生态环境分局",
    "XFJY": "消防救援大队",
}


# ---------------------------------------------------------------------------------------------------------------
# file reading


def _base(base: str | Path | None) -> Path:
    return Path(base) if base is not None else DEFAULT_BASE


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    for line_no, row in enumerate(rows, start=2):
        if None in row or any(v is None for v in row.values()):
            raise ValueError(f"{path.name}:{line_no}: wrong number of fields")
    return [{k: v.strip() for k, v in row.items()} for row in rows]


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(";") if part.strip()]


def _flag(value: str, where: str) -> bool:
    if value not in ("0", "1"):
        raise ValueError(f"{where}: expected 0 or 1, got {value!r}")
    return value == "1"


def _short_name_without_city(short_name: str) -> str:
    """市市场监管局 -> 市场监管局 (only the one leading 市 that means 'municipal')."""
    return short_name[1:] if short_name.startswith("市") else short_name


# ---------------------------------------------------------------------------------------------------------------
# regions


def load_regions(base: str | Path | None = None) -> list[dict]:
    """The five-level region tree 湖北省 → 鄂州市 → 3 districts → 28 towns/streets/zones → 358 villages/communities.

    Rows are ordered parents first. Codes are strings (2/4/6/9/12 digits), so a unit's region subtree is a prefix match.
    """
    folder = _base(base) / "regions"
    regions: list[dict] = [
        {"code": PROVINCE_CODE, "name": PROVINCE_NAME, "level": 1, "parent_code": None, "level_name": LEVEL_NAMES[1]},
        {"code": CITY_CODE, "name": CITY_NAME, "level": 2, "parent_code": PROVINCE_CODE, "level_name": LEVEL_NAMES[2]},
    ]
    for row in _read_csv(folder / "areas_4207.csv"):
        regions.append(_region(row["code"], row["name"], 3, row["cityCode"]))
    for row in _read_csv(folder / "streets_4207.csv"):
        regions.append(_region(row["code"], row["name"], 4, row["areaCode"]))
    for row in _read_csv(folder / "villages_4207.csv"):
        regions.append(_region(row["code"], row["name"], 5, row["streetCode"]))
    _check_region_tree(regions)
    return regions


def _region(code: str, name: str, level: int, parent_code: str) -> dict:
    return {"code": code, "name": name, "level": level, "parent_code": parent_code, "level_name": LEVEL_NAMES[level]}


def _check_region_tree(regions: list[dict]) -> None:
    by_code: dict[str, dict] = {}
    for r in regions:
        code = r["code"]
        if r["code"] in by_code:
            raise ValueError(f"region {code}: duplicate code")
        if not code.isdigit() or len(code) != LEVEL_CODE_LENGTH[r["level"]]:
            raise ValueError(f"region {code}: a level-{r['level']} code must have {LEVEL_CODE_LENGTH[r['level']]} digits")
        if r["parent_code"] is not None:
            parent = by_code.get(r["parent_code"])
            if parent is None:
                raise ValueError(f"region {code}: unknown parent {r['parent_code']}")
            if parent["level"] != r["level"] - 1:
                raise ValueError(f"region {code}: parent {parent['code']} is not one level up")
            if not code.startswith(parent["code"]):
                raise ValueError(f"region {code}: does not start with its parent's code {parent['code']}")
        by_code[code] = r


def region_subtree(regions: Iterable[dict], root_code: str) -> list[dict]:
    """Every region at or below root_code (prefix match on the code)."""
    return [r for r in regions if r["code"].startswith(root_code)]


# ---------------------------------------------------------------------------------------------------------------
# departments and coordinating bodies


def load_departments(base: str | Path | None = None) -> list[dict]:
    """The 29 municipal departments: {dept_code, name, short_name, kind, note}."""
    rows = _read_csv(_base(base) / "catalog" / "departments.csv")
    _check_unique((r["dept_code"] for r in rows), "dept_code")
    return [
        {"dept_code": r["dept_code"], "name": r["name"], "short_name": r["short_name"], "kind": r["kind"], "note": r["note"]}
        for r in rows
    ]


def load_coordinating_bodies(base: str | Path | None = None) -> list[dict]:
    """The 8 bodies named in the 2013 plan: {code, name, role, successor_today, note}."""
    rows = _read_csv(_base(base) / "catalog" / "coordinating_bodies.csv")
    _check_unique((r["code"] for r in rows), "coordinating body code")
    return [
        {"code": r["code"], "name": r["name"], "role": r["role"], "successor_today": r["successor_today"], "note": r["note"]}
        for r in rows
    ]


def _check_unique(values: Iterable[str], what: str) -> None:
    dups = sorted(v for v, n in Counter(values).items() if n > 1)
    if dups:
        raise ValueError(f"duplicate {what}: {', '.join(dups)}")


# ---------------------------------------------------------------------------------------------------------------
# items


def _handling_levels(text: str, item_code: str) -> list[str]:
    levels = set()
    for raw in _split(text):
        if raw not in _HANDLING_LEVEL_ALIASES:
            raise ValueError(f"item {item_code}: unknown handling level {raw!r}")
        levels.add(_HANDLING_LEVEL_ALIASES[raw])
    if not levels:
        raise ValueError(f"item {item_code}: no handling level")
    return [lv for lv in _HANDLING_LEVEL_ORDER if lv in levels]


def _fee(text: str) -> tuple[str, bool]:
    return ("", False) if text in ("", "0") else (text, True)


def _public_result_name(name: str) -> str:
    """城乡居民最低生活保障申请 -> 城乡居民最低生活保障办理结果; 住房公积金提取（购房、租房、退休等）-> 住房公积金提取办理结果."""
    stem = re.sub(r"（[^（）]*）", "", name).strip()
    stem = re.sub(r"(申请|申领|办理)$", "", stem) or stem
    return f"{stem}办理结果"


def load_items(base: str | Path | None = None) -> list[dict]:
    """All catalogue items, approval (74), public (33) and convenience (26), in one normalised shape."""
    folder = _base(base) / "catalog"
    items: list[dict] = []
    for r in _read_csv(folder / "approval_items.csv"):
        code = r["item_code"]
        if r["statutory_unit"] not in _STATUTORY_UNITS:
            raise ValueError(f"item {code}: unknown statutory_unit {r['statutory_unit']!r}")
        fee_text, charges_fee = _fee(r["fee"])
        items.append(
            {
                "item_code": code,
                "name": r["name"],
                "category": "approval",
                "kind": r["kind"],
                "dept_code": r["dept_code"],
                "co_dept_codes": _split(r["co_dept_codes"]),
                "handling_levels": _handling_levels(r["handling_levels"], code),
                "statutory_limit": int(r["statutory_days"]),
                "statutory_unit": _STATUTORY_UNITS[r["statutory_unit"]],
                "promised_days": int(r["promised_days"]),
                "immediate": _flag(r["immediate"], f"item {code} immediate"),
                "basis": r["basis"],
                "conditions": r["conditions"],
                "fee_text": fee_text,
                "charges_fee": charges_fee,
                "result_name": r["result_name"],
                "online_batch": int(r["online_batch"]),
                "source": r["source"],
                "note": r["note"],
            }
        )
    for category, filename in (("public", "public_services.csv"), ("convenience", "convenience_services.csv")):
        for r in _read_csv(folder / filename):
            code = r["item_code"]
            fee_text, charges_fee = _fee(r["fee"])
            promised = int(r["promised_days"])
            items.append(
                {
                    "item_code": code,
                    "name": r["name"],
                    "category": category,
                    "kind": "公共服务",
                    "dept_code": r["dept_code"],
                    "co_dept_codes": [],
                    "handling_levels": _handling_levels(r["handling_levels"], code),
                    # These files give only the city's promise; it stands in as the limit the clock checks.
                    "statutory_limit": promised,
                    "statutory_unit": "working",
                    "promised_days": promised,
                    "immediate": _flag(r["immediate"], f"item {code} immediate"),
                    "basis": r["basis"],
                    "conditions": "",
                    "fee_text": fee_text,
                    "charges_fee": charges_fee,
                    "result_name": _public_result_name(r["name"]),
                    "online_batch": 1,
                    # README: common community-level items with national bases, not a verified Ezhou list.
                    "source": "national_practice",
                    "note": r["note"],
                }
            )
    _check_unique((i["item_code"] for i in items), "item_code")
    return items


# ---------------------------------------------------------------------------------------------------------------
# materials


def _parse_reuse(text: str, where: str) -> tuple[str, str | None]:
    if not text:
        return "", None
    m = _REUSE_RE.match(text)
    if not m:
        raise ValueError(f"{where}: reuse certificate {text!r} is not in the form 证照名（item_code）")
    return m.group("name"), m.group("code")


def load_materials(base: str | Path | None = None) -> list[dict]:
    """Materials of every item: 407 approval rows from item_materials.csv, then the ';'-lists of the public and
    convenience files, one row per entry.

    reuse_certificate is the certificate's name (营业执照), reuse_item_code the item that issues it (4207-SCJG-001).
    Public/convenience entries are original documents in pdf/jpg/png; an entry marked conditional in its text
    （如有）（委托代理时）（首次申领）… is not required, as the approval file marks such materials.
    """
    folder = _base(base) / "catalog"
    materials: list[dict] = []
    for line_no, r in enumerate(_read_csv(folder / "item_materials.csv"), start=2):
        where = f"item_materials.csv:{line_no}"
        reuse_name, reuse_code = _parse_reuse(r["can_reuse_certificate"], where)
        materials.append(
            {
                "item_code": r["item_code"],
                "seq": int(r["seq"]),
                "name": r["material_name"],
                "required": _flag(r["required"], where),
                "original_or_copy": r["original_or_copy"],
                "formats": _split(r["formats"]),
                "reuse_certificate": reuse_name,
                "reuse_item_code": reuse_code,
                "note": r["note"],
            }
        )
    for filename in ("public_services.csv", "convenience_services.csv"):
        for r in _read_csv(folder / filename):
            for seq, name in enumerate(_split(r["materials"]), start=1):
                see = _SEE_ITEM_RE.search(name)
                materials.append(
                    {
                        "item_code": r["item_code"],
                        "seq": seq,
                        "name": name,
                        "required": not _CONDITIONAL_MATERIAL_RE.search(name),
                        "original_or_copy": "原件",
                        "formats": list(_PUBLIC_MATERIAL_FORMATS),
                        "reuse_certificate": re.sub(r"（[^（）]*）$", "", name) if see else "",
                        "reuse_item_code": see.group("code") if see else None,
                        "note": "",
                    }
                )
    _check_unique((f"{m['item_code']}#{m['seq']}" for m in materials), "material (item_code, seq)")
    return materials


# ---------------------------------------------------------------------------------------------------------------
# holidays


def load_holidays(base: str | Path | None = None) -> list[dict]:
    """Every day of the State Council's holiday notices, sorted by day.

    year is the year of the notice (the file), which is not always day.year: the 2019 notice arranges
    2018-12-29…31 and the 2023 notice 2022-12-31. is_off_day False is an official make-up working day (调休).
    """
    by_day: dict[dt.date, dict] = {}
    for path in sorted((_base(base) / "holidays").glob("*.json")):
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
        year = int(doc["year"])
        if path.stem != str(year):
            raise ValueError(f"{path.name}: file name does not match year {year}")
        for d in doc["days"]:
            day = dt.date.fromisoformat(d["date"])
            entry = {"day": day, "name": d["name"], "is_off_day": bool(d["isOffDay"]), "year": year}
            earlier = by_day.get(day)
            if earlier is not None and earlier["is_off_day"] != entry["is_off_day"]:
                raise ValueError(f"{day}: notices {earlier['year']} and {year} disagree")
            by_day.setdefault(day, entry)
    return [by_day[day] for day in sorted(by_day)]


def official_years(base: str | Path | None = None) -> set[int]:
    """Years whose official holiday notice is loaded; other years use the provisional rule (domain.md §5)."""
    return {h["year"] for h in load_holidays(base)}


# ---------------------------------------------------------------------------------------------------------------
# organisation units and windows


def _village_station_stem(village_name: str, town_name: str) -> str:
    """伯浩村委会 -> 伯浩村, 太和居委会 -> 太和社区, 卢湾村委会（长阳社区）-> 卢湾村（长阳社区）,
    虚拟社区 (a zone's placeholder) -> 葛店开发区虚拟社区, so every station name says where it is."""
    m = re.match(r"^(?P<stem>.*?)(?P<paren>（[^（）]*）)?$", village_name)
    stem, paren = m.group("stem"), m.group("paren") or ""
    if stem.endswith("村委会"):
        stem = stem[: -len("委会")]
    elif stem.endswith("社区居委会"):
        stem = stem[: -len("居委会")]
    elif stem.endswith("居委会"):
        stem = stem[: -len("居委会")] + "社区"
    if stem == "虚拟社区":
        stem = town_name + stem
    return stem + paren


def _village_station_stems(villages: list[dict], by_code: dict[str, dict]) -> dict[str, str]:
    """Station name stems by village code, made unique: a short form that clashes inside one town
    (燕矶居委会 -> 燕矶社区, and there is also a 燕矶社区) keeps the official name; a name found in two towns
    (东沟村 in 东沟镇 and 梧桐湖新区) gets its town in front."""
    town_name = {v["code"]: by_code[v["parent_code"]]["name"] for v in villages}
    stems = {v["code"]: _village_station_stem(v["name"], town_name[v["code"]]) for v in villages}
    per_town = Counter((by_code[v["code"]]["parent_code"], stems[v["code"]]) for v in villages)
    for v in villages:
        if per_town[(v["parent_code"], stems[v["code"]])] > 1 and stems[v["code"]] != v["name"]:
            stems[v["code"]] = v["name"]
    citywide = Counter(stems.values())
    for v in villages:
        if citywide[stems[v["code"]]] > 1:
            stems[v["code"]] = town_name[v["code"]] + stems[v["code"]]
    return stems


def derive_units(regions: list[dict], departments: list[dict], items: list[dict]) -> list[dict]:
    """Organisation units placed on the region tree: {unit_id, name, kind, dept_code, region_code, parent_unit_id}.

    - a city unit per department (U-4207-<dept>), and a unit in each district (U-<district>-<dept>, parent the city
      unit) for every department with at least one item handled at 区 level;
    - the supervision body (U-4207-JC), the city leadership (U-4207-LD) and the platform operator that runs the
      市民中心 hall (U-4207-XZSP);
    - a 便民服务中心 for each town/street/zone and a 便民服务站 for each village/community (U-<code>-BMFW; a station's
      parent is its town's centre).
    kinds: department, supervision, leadership, service_centre, service_station.
    """
    by_code = {r["code"]: r for r in regions}
    if CITY_CODE not in by_code:
        raise ValueError(f"regions lack the city {CITY_CODE}")
    districts = [r for r in regions if r["level"] == 3]
    towns = [r for r in regions if r["level"] == 4]
    villages = [r for r in regions if r["level"] == 5]
    dept_codes_at_district = {i["dept_code"] for i in items if "区" in i["handling_levels"]}

    units: list[dict] = []

    def add(unit_id: str, name: str, kind: str, dept_code: str | None, region_code: str, parent: str | None) -> None:
        units.append(
            {"unit_id": unit_id, "name": name, "kind": kind, "dept_code": dept_code, "region_code": region_code,
             "parent_unit_id": parent}
        )

    add(LEADERSHIP_UNIT_ID, f"{CITY_NAME}人民政府", "leadership", None, CITY_CODE, None)
    add(SUPERVISION_UNIT_ID, _supervision_name(), "supervision", None, CITY_CODE, None)
    add(SERVICE_CENTRE_UNIT_ID, SERVICE_CENTRE_UNIT_NAME, "service_centre", None, CITY_CODE, None)

    for d in departments:
        city_unit_id = f"U-{CITY_CODE}-{d['dept_code']}"
        add(city_unit_id, d["name"], "department", d["dept_code"], CITY_CODE, None)
        if d["dept_code"] not in dept_codes_at_district:
            continue
        suffix = _DISTRICT_NAME_OVERRIDES.get(d["dept_code"], _short_name_without_city(d["short_name"]))
        for district in districts:
            add(f"U-{district['code']}-{d['dept_code']}", district["name"] + suffix, "department", d["dept_code"],
                district["code"], city_unit_id)

    for town in towns:
        add(f"U-{town['code']}-BMFW", f"{town['name']}便民服务中心", "service_centre", None, town["code"], None)
    for village, stem in _village_station_stems(villages, by_code).items():
        town_code = by_code[village]["parent_code"]
        add(f"U-{village}-BMFW", f"{stem}便民服务站", "service_station", None, village, f"U-{town_code}-BMFW")

    _check_unique((u["unit_id"] for u in units), "unit_id")
    return units


def _supervision_name() -> str:
    # coordinating_bodies.csv C01: 鄂州市监察局 (2013), today 鄂州市监察委员会 (merged with the 纪委 since 2018).
    return f"{CITY_NAME}监察委员会"


def derive_windows(units: list[dict], departments: list[dict] | None = None, items: list[dict] | None = None) -> list[dict]:
    """Service windows {window_id, unit_id, name, region_code}.

    The 市民中心 hall: one window per city department unit, named 市民中心<short name without 市>窗口 when departments
    are given (otherwise from the unit's name), and only for departments with approval items when items are given
    (every department has one in the seed catalogue); plus the operator's 综合受理窗口 W-4207-ZH.
    Each town centre and each village station: one window W-<code>-01.
    """
    short_names = {d["dept_code"]: _short_name_without_city(d["short_name"]) for d in departments or []}
    approval_depts = None if items is None else {i["dept_code"] for i in items if i["category"] == "approval"}
    windows: list[dict] = []
    for u in units:
        if u["kind"] == "department" and u["region_code"] == CITY_CODE:
            if approval_depts is not None and u["dept_code"] not in approval_depts:
                continue
            label = short_names.get(u["dept_code"]) or _name_without_city(u["name"])
            windows.append(
                {"window_id": f"W-{CITY_CODE}-{u['dept_code']}", "unit_id": u["unit_id"],
                 "name": f"市民中心{label}窗口", "region_code": CITY_CODE}
            )
        elif u["unit_id"] == SERVICE_CENTRE_UNIT_ID:
            windows.append(
                {"window_id": GENERAL_WINDOW_ID, "unit_id": u["unit_id"], "name": "市民中心综合受理窗口",
                 "region_code": CITY_CODE}
            )
        elif u["kind"] in ("service_centre", "service_station"):
            windows.append(
                {"window_id": f"W-{u['region_code']}-01", "unit_id": u["unit_id"], "name": f"{u['name']}综合窗口",
                 "region_code": u["region_code"]}
            )
    _check_unique((w["window_id"] for w in windows), "window_id")
    return windows


def _name_without_city(name: str) -> str:
    """鄂州市市场监督管理局 -> 市场监督管理局, 国家税务总局鄂州市税务局 -> 税务局."""
    for prefix in (f"国家税务总局{CITY_NAME}", CITY_NAME):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


# ---------------------------------------------------------------------------------------------------------------
# summary


def catalogue_counts(base: str | Path | None = None) -> dict:
    """Counts of everything loaded and derived, for tests and the seed report."""
    regions = load_regions(base)
    departments = load_departments(base)
    items = load_items(base)
    materials = load_materials(base)
    holidays = load_holidays(base)
    units = derive_units(regions, departments, items)
    windows = derive_windows(units, departments, items)
    item_category = {i["item_code"]: i["category"] for i in items}
    return {
        "regions_by_level": dict(sorted(Counter(r["level"] for r in regions).items())),
        "departments": len(departments),
        "coordinating_bodies": len(load_coordinating_bodies(base)),
        "items_by_category": dict(Counter(i["category"] for i in items)),
        "approval_items_by_kind": dict(Counter(i["kind"] for i in items if i["category"] == "approval")),
        "materials_by_category": dict(Counter(item_category[m["item_code"]] for m in materials)),
        "materials_with_reuse": sum(1 for m in materials if m["reuse_item_code"]),
        "holiday_days": len(holidays),
        "make_up_working_days": sum(1 for h in holidays if not h["is_off_day"]),
        "official_years": sorted({h["year"] for h in holidays}),
        "units_by_kind": dict(Counter(u["kind"] for u in units)),
        "units": len(units),
        "windows": len(windows),
    }
