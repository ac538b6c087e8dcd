"""The public catalogue (办事指南): finding a service and reading its guide, without signing in.

This module owns the rules of the public catalogue: which items the public sees (the current version, when
it is published), how a search filters them (column, department, handling level, life event, keywords),
which items count as fully online (全程网办), which life events an item belongs to (the mapping in
data/catalog_extras/life_events.csv), and what an item's guide says. Plain Python over the database:
frames and dicts, no Streamlit.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa

from app import cases, inquiries, policies
from app import schema as s
from app.config import DATA_DIR
from app.db import Database
from app.issuing import UNIT_NAMES
from app.reference import CITY_CODE, GENERAL_WINDOW_ID, LEVEL_NAMES

LIFE_EVENTS_FILE = DATA_DIR / "catalog_extras" / "life_events.csv"

# The three columns of the catalogue, in the order the city lists them (items.category).
COLUMNS = ("approval", "public", "convenience")
COLUMN_NAMES = {"approval": "行政审批", "public": "公共服务", "convenience": "便民服务"}
# Handling levels, top down (items.handling_levels uses these names).
LEVELS = tuple(LEVEL_NAMES[n] for n in (2, 3, 4, 5))   # 市, 区, 乡镇街道, 村社区
LIFE_EVENT_KINDS = ("人生事件", "企业事件")

NO_FEE = "不收费"
# 行政许可法 art. 58: implementing a licence is free unless a law or administrative regulation says otherwise.
LICENCE_FREE_BASIS = "《中华人民共和国行政许可法》第五十八条"
ELECTRONIC_FORMATS = frozenset({"pdf", "jpg", "png", "ofd"})
# Materials whose paper original must be shown at a window.
ORIGINAL_TO_PRESENT = frozenset({"原件", "原件及复印件"})

STEP_NAMES = {"apply": "申请", "accept": "受理", "review": "审查", "parallel_review": "并联审批",
              "decide": "决定", "complete": "办结", "on_the_spot": "当场办结"}

# Legal references inside a fee text: 《…》 optionally followed by （…〔year〕n号）, or a bare document number.
_REFERENCE_RE = re.compile(r"《[^《》]+》(?:（[^（）]*〔\d{4}〕\d+号）)?|[\u4e00-\u9fff]+〔\d{4}〕\d+号")

RESULT_COLUMNS = {"item_code": pl.String, "name": pl.String, "category": pl.String, "dept": pl.String,
                  "levels": pl.List(pl.String), "promised_days": pl.Int64, "immediate": pl.Boolean,
                  "fully_online": pl.Boolean, "life_events": pl.List(pl.String)}


class ItemNotPublished(LookupError):
    """No item with this code, or its current version is not published. `key` names the i18n message."""

    key = "case.item_unknown"

    def __init__(self, item_code: str):
        super().__init__(f"item {item_code!r} does not exist or is not published")
        self.item_code = item_code


# ---------------------------------------------------------------------------------------------------------------
# life events


@dataclass(frozen=True)
class LifeEvent:
    name: str
    name_en: str
    kind: str                      # 人生事件 (a person's) or 企业事件 (an enterprise's or organisation's)
    keywords: tuple[str, ...]      # an item whose name contains one of them belongs to the event
    item_codes: frozenset[str]     # … and so do these items, whatever their names

    def covers(self, item_code: str, name: str) -> bool:
        return item_code in self.item_codes or any(k in name for k in self.keywords)


@lru_cache(maxsize=4)
def load_life_events(path: Path = LIFE_EVENTS_FILE) -> tuple[LifeEvent, ...]:
    """The life events in the order of the file (see data/catalog_extras/README.md)."""
    events = []
    with open(path, encoding="utf-8", newline="") as f:
        for line_no, row in enumerate(csv.DictReader(f), start=2):
            if row["kind"] not in LIFE_EVENT_KINDS:
                raise ValueError(f"{path.name}:{line_no}: kind must be one of {LIFE_EVENT_KINDS}")
            events.append(LifeEvent(
                name=row["life_event"].strip(), name_en=row["life_event_en"].strip(), kind=row["kind"],
                keywords=tuple(k.strip() for k in row["keywords"].split(";") if k.strip()),
                item_codes=frozenset(c.strip() for c in row["item_codes"].split(";") if c.strip())))
    names = [e.name for e in events]
    if len(set(names)) != len(names):
        raise ValueError(f"{path.name}: a life event is listed twice")
    return tuple(events)


def life_events() -> list[str]:
    """The names of the life events (人生事件 first, then 企业事件, each in the file's order)."""
    events = load_life_events()
    return [e.name for kind in LIFE_EVENT_KINDS for e in events if e.kind == kind]


def life_event_info() -> dict[str, LifeEvent]:
    return {e.name: e for e in load_life_events()}


def events_of(item_code: str, name: str) -> list[str]:
    by_name = life_event_info()
    return [n for n in life_events() if by_name[n].covers(item_code, name)]


# ---------------------------------------------------------------------------------------------------------------
# the fully-online rule


def material_online(material: dict[str, Any]) -> bool:
    """One material can be provided without visiting a window: it accepts an electronic file (pdf, jpg,
    png or ofd), and either its paper original need not be shown (电子 or 复印件) or an electronic
    certificate issued by another item (reuse_item_code) stands in for it."""
    electronic = bool(ELECTRONIC_FORMATS & {str(f).lower() for f in material.get("formats") or []})
    original = material.get("original_or_copy") in ORIGINAL_TO_PRESENT
    return electronic and (not original or bool(material.get("reuse_item_code")))


def fully_online(materials: list[dict[str, Any]]) -> bool:
    """全程网办: an item can be done fully online when every required material (必交) passes
    `material_online` — it accepts pdf/jpg/png/ofd and needs no original (原件, 原件及复印件) shown at a
    window unless an electronic certificate from another item stands in for it.

    Optional materials (选交) do not decide: they are needed only in some cases (an agent applying, a
    special situation), and then the window takes them. 即办件 follow the same rule (on the spot is not
    the same as in person: an on-the-spot item whose materials are all electronic is decided online at
    once). An item without materials counts as fully online.
    """
    return all(material_online(m) for m in materials if m.get("required"))


# ---------------------------------------------------------------------------------------------------------------
# reading the published catalogue


def _published() -> sa.ColumnElement[bool]:
    return sa.and_(s.items.c.is_current, s.items.c.status == "published")


def _published_items(db: Database) -> list[dict[str, Any]]:
    it, d = s.items, s.departments
    q = (sa.select(it.c.item_code, it.c.version, it.c.name, it.c.category, it.c.dept_code,
                   it.c.handling_levels, it.c.promised_days, it.c.immediate,
                   d.c.short_name.label("dept_short"), d.c.name.label("dept_name"))
         .select_from(it.outerjoin(d, d.c.dept_code == it.c.dept_code))
         .where(_published()))
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def _published_materials(db: Database) -> dict[str, list[dict[str, Any]]]:
    it, m = s.items, s.item_materials
    q = (sa.select(m.c.item_code, m.c.required, m.c.original_or_copy, m.c.formats, m.c.reuse_item_code)
         .select_from(m.join(it, sa.and_(it.c.item_code == m.c.item_code, it.c.version == m.c.version)))
         .where(_published()))
    by_item: dict[str, list[dict[str, Any]]] = {}
    with db.read() as conn:
        for r in conn.execute(q):
            by_item.setdefault(r.item_code, []).append(dict(r._mapping))
    return by_item


def _keywords(text: str) -> list[str]:
    # str.split() splits on every Unicode space, the full-width 　 of Chinese input methods included.
    return [k.casefold() for k in (text or "").split()]


def _matches(item: dict[str, Any], keywords: list[str]) -> bool:
    """Every keyword is a substring of the item's name, its department's short or full name, or its code."""
    fields = [str(item.get(f) or "").casefold() for f in ("name", "dept_short", "dept_name", "item_code")]
    return all(any(k in f for f in fields) for k in keywords)


def search(db: Database, *, column: str | None = None, dept_code: str | None = None, level: str | None = None,
           life_event: str | None = None, keyword: str = "") -> pl.DataFrame:
    """Published current items matching every given filter, ordered by column and code.

    column: approval / public / convenience; level: 市 / 区 / 乡镇街道 / 村社区; life_event: a name from
    `life_events()`; keyword: one or more words separated by spaces, all of which must match (see
    `_matches`). The catalogue is small, so the filtering runs in Python: user text never reaches SQL.
    """
    if column is not None and column not in COLUMNS:
        raise ValueError(f"unknown column {column!r}; expected one of {COLUMNS}")
    if level is not None and level not in LEVELS:
        raise ValueError(f"unknown handling level {level!r}; expected one of {LEVELS}")
    if life_event is not None and life_event not in life_event_info():
        raise ValueError(f"unknown life event {life_event!r}")
    words = _keywords(keyword)
    materials = _published_materials(db)
    rows = []
    for item in _published_items(db):
        if column is not None and item["category"] != column:
            continue
        if dept_code is not None and item["dept_code"] != dept_code:
            continue
        levels = list(item["handling_levels"] or [])
        if level is not None and level not in levels:
            continue
        events = events_of(item["item_code"], item["name"])
        if life_event is not None and life_event not in events:
            continue
        if words and not _matches(item, words):
            continue
        rows.append({"item_code": item["item_code"], "name": item["name"], "category": item["category"],
                     "dept": item["dept_short"] or item["dept_code"], "levels": levels,
                     "promised_days": int(item["promised_days"]), "immediate": bool(item["immediate"]),
                     "fully_online": fully_online(materials.get(item["item_code"], [])),
                     "life_events": events})
    rows.sort(key=lambda r: (COLUMNS.index(r["category"]) if r["category"] in COLUMNS else len(COLUMNS),
                             r["item_code"]))
    return pl.DataFrame(rows, schema=RESULT_COLUMNS)


def department_names(db: Database) -> dict[str, str]:
    """Every department's full name by code (for tables, filters and reports)."""
    with db.read() as conn:
        return dict(conn.execute(sa.select(s.departments.c.dept_code, s.departments.c.name)
                                 .order_by(s.departments.c.dept_code)).all())


def departments(db: Database) -> pl.DataFrame:
    """Departments that lead at least one published item: dept_code, name, short_name, items (count),
    ordered by code (the codes are pinyin initials, so this is roughly alphabetical)."""
    d, it = s.departments, s.items
    q = (sa.select(d.c.dept_code, d.c.name, d.c.short_name, sa.func.count().label("items"))
         .select_from(d.join(it, it.c.dept_code == d.c.dept_code))
         .where(_published())
         .group_by(d.c.dept_code, d.c.name, d.c.short_name)
         .order_by(d.c.dept_code))
    with db.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    return pl.DataFrame(rows, schema={"dept_code": pl.String, "name": pl.String, "short_name": pl.String,
                                      "items": pl.Int64})


# ---------------------------------------------------------------------------------------------------------------
# the guide of one item


def fee_basis(fee_text: str) -> list[str]:
    """The legal references named in a fee text (《…》 with its document number, or a bare 〔year〕n号)."""
    return _REFERENCE_RE.findall(fee_text or "")


def _fee(item: Any) -> dict[str, Any]:
    if item.charges_fee and item.fee_text:
        return {"charged": True, "text": item.fee_text, "basis": fee_basis(item.fee_text)}
    return {"charged": False, "text": NO_FEE, "basis": [LICENCE_FREE_BASIS] if item.kind == "行政许可" else []}


def _steps(immediate: bool, co_departments: list[dict[str, str]]) -> list[dict[str, Any]]:
    """申请 → 受理 → 审查 (或并联审批，列出协办部门) → 决定 → 办结; a 即办件 is decided at intake."""
    keys = ["apply", "accept", "on_the_spot"] if immediate else \
        ["apply", "accept", "parallel_review" if co_departments else "review", "decide", "complete"]
    steps = []
    for key in keys:
        step: dict[str, Any] = {"key": key, "name": STEP_NAMES[key]}
        if key == "parallel_review":
            step["co_departments"] = [c["short_name"] for c in co_departments]
        steps.append(step)
    return steps


def _collection(conn: sa.Connection, item: Any) -> list[dict[str, Any]]:
    """Where the result is collected, for each handling level: the department's 市民中心 window (or the
    general intake window), the department's district units, or the applicant's town centre or village
    station (places left empty: the applicant's own)."""
    u, w = s.org_units, s.service_windows
    out = []
    for level in item.handling_levels or []:
        if level == "市":
            places = [r[0] for r in conn.execute(
                sa.select(w.c.name).select_from(w.join(u, u.c.unit_id == w.c.unit_id))
                .where(u.c.dept_code == item.dept_code, u.c.region_code == CITY_CODE).order_by(w.c.window_id))]
            if not places:
                places = [r[0] for r in conn.execute(sa.select(w.c.name).where(w.c.window_id == GENERAL_WINDOW_ID))]
            out.append({"level": level, "kind": "city_window", "places": places})
        elif level == "区":
            places = [r[0] for r in conn.execute(
                sa.select(u.c.name).where(u.c.dept_code == item.dept_code, u.c.kind == "department",
                                          sa.func.length(u.c.region_code) == 6).order_by(u.c.region_code))]
            out.append({"level": level, "kind": "district_unit", "places": places})
        elif level == "乡镇街道":
            out.append({"level": level, "kind": "town_centre", "places": []})
        elif level == "村社区":
            out.append({"level": level, "kind": "village_station", "places": []})
    return out


def guide(db: Database, item_code: str) -> dict[str, Any]:
    """The service guide of the current published version of an item; ItemNotPublished otherwise.

    Keys: item_code, version, name, category, column, kind, dept_code, dept, dept_short, co_departments
    [{dept_code, name, short_name}], parallel, departments (names, lead first), levels, conditions, basis,
    result_name, materials [{seq, name, required, required_name 必交/选交, original_or_copy, formats, online,
    reuse_certificate, reuse_item_code, reuse_item_name, note}], fee {charged, text (不收费 when free),
    basis [..]}, statutory_limit, statutory_unit (working/calendar), statutory_unit_name (工作日/自然日),
    promised_days (always working days), promised_unit_name, immediate, handling_type (即办件/承诺件),
    steps [{key, name, co_departments?}], collection [{level, kind, places}], fully_online, life_events,
    basis_documents (the library's documents linked to the item: [{doc_id, title, doc_no, kind, issuer, status,
    provision}], in force first) and qa (its published answered consultations, without personal data).
    """
    d, m, it = s.departments, s.item_materials, s.items
    with db.read() as conn:
        try:
            item = cases.current_item(conn, item_code)
        except cases.CaseError as exc:
            raise ItemNotPublished(item_code) from exc
        co_codes = list(item.co_dept_codes or [])
        depts = {r.dept_code: r for r in conn.execute(
            sa.select(d.c.dept_code, d.c.name, d.c.short_name).where(d.c.dept_code.in_([item.dept_code, *co_codes])))}
        rows = conn.execute(sa.select(m).where(m.c.item_code == item.item_code, m.c.version == item.version)
                            .order_by(m.c.seq)).fetchall()
        reuse_codes = sorted({r.reuse_item_code for r in rows if r.reuse_item_code})
        reuse_names = {r.item_code: r.name for r in conn.execute(
            sa.select(it.c.item_code, it.c.name).where(it.c.item_code.in_(reuse_codes), it.c.is_current))}
        collection = _collection(conn, item)

    def dept(code: str) -> dict[str, str]:
        row = depts.get(code)
        return {"dept_code": code, "name": row.name if row else code, "short_name": row.short_name if row else code}

    lead = dept(item.dept_code)
    co_departments = [dept(c) for c in co_codes]
    materials = [{
        "seq": int(r.seq), "name": r.name, "required": bool(r.required), "required_name": "必交" if r.required else "选交",
        "original_or_copy": r.original_or_copy or "", "formats": list(r.formats or []),
        "reuse_certificate": r.reuse_certificate or "", "reuse_item_code": r.reuse_item_code,
        "reuse_item_name": reuse_names.get(r.reuse_item_code, "") if r.reuse_item_code else "",
        "note": r.note or "",
    } for r in rows]
    for mat in materials:
        mat["online"] = material_online(mat)
    immediate = bool(item.immediate)
    return {
        "item_code": item.item_code, "version": int(item.version), "name": item.name,
        "category": item.category, "column": COLUMN_NAMES.get(item.category, item.category), "kind": item.kind,
        "dept_code": item.dept_code, "dept": lead["name"], "dept_short": lead["short_name"],
        "co_departments": co_departments, "parallel": bool(co_departments),
        "departments": [lead["name"], *(c["name"] for c in co_departments)],
        "levels": list(item.handling_levels or []),
        "conditions": item.conditions or "", "basis": item.basis or "", "result_name": item.result_name or "",
        "materials": materials,
        "fee": _fee(item),
        "statutory_limit": int(item.statutory_limit), "statutory_unit": item.statutory_unit,
        "statutory_unit_name": UNIT_NAMES.get(item.statutory_unit, item.statutory_unit),
        "promised_days": int(item.promised_days), "promised_unit_name": UNIT_NAMES["working"],
        "immediate": immediate, "handling_type": "即办件" if immediate else "承诺件",
        "steps": _steps(immediate, co_departments),
        "collection": collection,
        "fully_online": fully_online(materials),
        "life_events": events_of(item.item_code, item.name),
        "published_at": item.published_at,
        "basis_documents": policies.documents_for_item(db, item.item_code),
        "qa": inquiries.published_qa(db, item_code=item.item_code),
    }
