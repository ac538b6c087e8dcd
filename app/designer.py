"""The item designer (事项管理): the catalogue kept by the legal affairs office (法制办) and the departments,
without code — the platform's low-code core.

This module owns an item version's life cycle and the rules of a usable item:

  draft (草稿) → comment (公开征询意见) → published (已发布) → withdrawn (已撤销)

- A version is edited only while it is a draft; a published item is changed by a new draft version copied
  from it, and publishing that version makes it the current one (the earlier version stops being current;
  the cases filed under it keep it: cases.item_version).
- The legal affairs office (an administrator, or staff of the 司法局 SFJ, which took over the 法制办's duties)
  edits every item and moves it through its life cycle; a department's officer or head creates and edits
  drafts of its own department's items only.
- Saving a draft refuses what is wrong (an unknown department, a promised limit above the statutory one, a
  select without choices, a fee without basis …); sending it to public comment or publishing it also
  refuses what is missing (no materials, no form fields, no result, no handling unit).
- The public comments on a version under comment (rate-limited per client); staff read the comments.

Everything here is plain Python over the database; a preview (guide and form) writes nothing.
"""
from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app import audit, catalogue, forms, timeutil
from app import schema as s
from app import workflow as wf
from app.db import Database, StaleVersionError
from app.issuing import UNIT_NAMES
from app.permissions import Actor, PermissionDenied

DRAFT, COMMENT, PUBLISHED, WITHDRAWN = "draft", "comment", "published", "withdrawn"
STATUSES = (DRAFT, COMMENT, PUBLISHED, WITHDRAWN)
EDITABLE = (DRAFT,)
# The 司法局 took over the duties of the former 法制办 (data/reference/catalog/coordinating_bodies.csv).
LEGAL_OFFICE_DEPT = "SFJ"

KINDS = ("行政许可", "行政确认", "行政给付", "其他行政权力", "公共服务")
CATEGORIES = catalogue.COLUMNS
LEVELS = catalogue.LEVELS
STATUTORY_UNITS = tuple(UNIT_NAMES)                     # working (工作日), calendar (自然日)
ORIGINAL_OR_COPY = ("原件", "复印件", "原件及复印件", "电子")
FORMATS = ("pdf", "jpg", "png", "ofd", "doc", "docx", "xls", "xlsx", "dwg")
APPLIES_TO = ("all", "person", "enterprise")
CHOICE_TYPES = ("select", "multiselect")
RULE_KEYS = {"min_length", "max_length", "pattern", "pattern_hint", "min", "max", "integer"}
PREFILLS = ("display_name", "id_number", "phone")

ITEM_CODE = re.compile(r"[0-9A-Z]+(?:-[0-9A-Z]+){1,5}")
FIELD_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
NAME_MAX = 100
TEXT_MAX = 4000

COMMENT_MIN, COMMENT_MAX = 5, 1000
COMMENT_NAME_MAX, COMMENT_CONTACT_MAX = 50, 100
COMMENTS_PER_HOUR = 5


class DesignError(ValueError):
    """A refused design; `key` names the i18n message of the first problem, `problems` lists them all."""

    def __init__(self, key: str, problems: list[tuple[str, dict[str, Any]]] | None = None, /, **params: Any):
        super().__init__(f"{key} {params}")
        self.key = key
        self.params = params
        self.problems = problems or [(key, params)]


# -- what an item version is made of --------------------------------------------------------------------------
@dataclass
class MaterialSpec:
    name: str
    required: bool = True
    original_or_copy: str = "复印件"
    formats: list[str] = field(default_factory=lambda: ["pdf", "jpg", "png"])
    reuse_certificate: str = ""
    reuse_item_code: str | None = None
    note: str = ""


@dataclass
class FieldSpec:
    field_key: str
    label: str
    field_type: str = "text"
    required: bool = True
    applies_to: str = "all"
    rule: dict[str, Any] = field(default_factory=dict)
    choices: list[str] = field(default_factory=list)
    help: str = ""
    prefill: str | None = None


@dataclass
class FeeSpec:
    name: str
    standard: str
    basis: str


@dataclass
class ItemSpec:
    item_code: str
    name: str
    kind: str
    category: str
    dept_code: str
    co_dept_codes: list[str] = field(default_factory=list)
    handling_levels: list[str] = field(default_factory=lambda: ["市"])
    statutory_limit: int = 20
    statutory_unit: str = "working"
    promised_days: int = 10
    immediate: bool = False
    basis: str = ""
    conditions: str = ""
    fees: list[FeeSpec] = field(default_factory=list)
    result_name: str = ""
    online_batch: int = 1
    review_steps: list[str] = field(default_factory=lambda: ["审查", "审核"])
    materials: list[MaterialSpec] = field(default_factory=list)
    fields: list[FieldSpec] = field(default_factory=list)
    note: str = ""

    def normalised(self) -> ItemSpec:
        """Surrounding spaces trimmed, codes upper-cased, lists de-duplicated in order (what is stored)."""
        def clean(text: str | None) -> str:
            return unicodedata.normalize("NFC", str(text or "")).strip()

        return replace(
            self, item_code=clean(self.item_code).upper(), name=clean(self.name), kind=clean(self.kind),
            category=clean(self.category), dept_code=clean(self.dept_code).upper(),
            co_dept_codes=list(dict.fromkeys(clean(c).upper() for c in self.co_dept_codes if clean(c))),
            handling_levels=[lv for lv in LEVELS if lv in set(self.handling_levels)]
            + [lv for lv in self.handling_levels if lv not in LEVELS],
            basis=clean(self.basis), conditions=clean(self.conditions), result_name=clean(self.result_name),
            note=clean(self.note), review_steps=[clean(x) for x in self.review_steps],
            fees=[FeeSpec(clean(f.name), clean(f.standard), clean(f.basis)) for f in self.fees],
            materials=[replace(m, name=clean(m.name), original_or_copy=clean(m.original_or_copy),
                               formats=list(dict.fromkeys(clean(x).lower() for x in m.formats if clean(x))),
                               reuse_certificate=clean(m.reuse_certificate),
                               reuse_item_code=clean(m.reuse_item_code).upper() or None, note=clean(m.note))
                       for m in self.materials],
            fields=[replace(f, field_key=clean(f.field_key), label=clean(f.label), field_type=clean(f.field_type),
                            choices=[clean(c) for c in f.choices if clean(c)], help=clean(f.help),
                            prefill=clean(f.prefill) or None, rule=dict(f.rule or {}))
                    for f in self.fields],
        )

    def fee_text(self) -> str:
        """The fees as the guide prints them; the basis is part of the text (the guide reads it from there)."""
        return "；".join(f"{f.name}：{f.standard}（依据{f.basis}）" for f in self.fees)


def blank_spec(dept_code: str = "") -> ItemSpec:
    return ItemSpec(item_code="", name="", kind=KINDS[0], category=CATEGORIES[0], dept_code=dept_code)


# -- who may do what ------------------------------------------------------------------------------------------
def is_legal_office(actor: Actor | None) -> bool:
    """Administrators and the legal affairs office (staff of the 司法局) keep the whole catalogue."""
    if actor is None:
        return False
    return actor.role == wf.ADMIN or (actor.role in (wf.OFFICER, wf.HEAD) and actor.dept_code == LEGAL_OFFICE_DEPT)


def may_use_designer(actor: Actor | None) -> bool:
    return is_legal_office(actor) or (actor is not None and actor.role in (wf.OFFICER, wf.HEAD)
                                      and bool(actor.dept_code))


def may_edit(actor: Actor | None, dept_code: str) -> bool:
    """The legal affairs office edits every item; a department's officer or head its own department's."""
    return is_legal_office(actor) or (actor is not None and actor.role in (wf.OFFICER, wf.HEAD)
                                      and bool(actor.dept_code) and actor.dept_code == dept_code)


def _require_edit(actor: Actor, dept_code: str) -> None:
    if not may_use_designer(actor):
        raise PermissionDenied("designer.perm_designer")
    if not may_edit(actor, dept_code):
        raise PermissionDenied("designer.perm_other_dept")


def _require_legal_office(actor: Actor) -> None:
    if not is_legal_office(actor):
        raise PermissionDenied("designer.perm_lifecycle")


# -- the rules of a design ---------------------------------------------------------------------------------------
def calendar_days_of(working_days: int) -> int:
    """The fewest natural days a span of working days takes, at five working days a week: a promise in
    working days is compared with a statute in natural days in the statute's unit."""
    return math.ceil(working_days * 7 / 5)


def _known_departments(conn: Connection) -> set[str]:
    return {r[0] for r in conn.execute(sa.select(s.departments.c.dept_code))}


def _limit_problems(spec: ItemSpec) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    if spec.statutory_unit not in STATUTORY_UNITS:
        out.append(("designer.unit_unknown", {}))
        return out
    statutory, promised = int(spec.statutory_limit), int(spec.promised_days)
    if statutory < 0 or promised < 0:
        out.append(("designer.limit_negative", {}))
        return out
    if spec.immediate:
        # 即办件: decided on the spot, so the city promises no days.
        if promised != 0:
            out.append(("designer.immediate_promised", {}))
        return out
    if promised == 0:
        out.append(("designer.promised_required", {}))
    if statutory == 0:
        out.append(("designer.statutory_required", {}))
    if promised and statutory:
        if spec.statutory_unit == "calendar":
            if calendar_days_of(promised) > statutory:
                out.append(("designer.promised_above_statutory_calendar",
                            {"promised": promised, "calendar": calendar_days_of(promised), "statutory": statutory}))
        elif promised > statutory:
            out.append(("designer.promised_above_statutory", {"promised": promised, "statutory": statutory}))
    return out


def field_problems(fields: list[FieldSpec]) -> list[tuple[str, dict[str, Any]]]:
    out: list[tuple[str, dict[str, Any]]] = []
    seen: dict[str, set[str]] = {}
    for f in fields:
        label = f.label or f.field_key
        if not FIELD_KEY.fullmatch(f.field_key):
            out.append(("designer.field_key_format", {"field": f.field_key}))
        if not f.label:
            out.append(("designer.field_label_required", {"field": f.field_key}))
        if f.field_type not in forms.FIELD_TYPES:
            out.append(("designer.field_type_unknown", {"label": label}))
        if f.applies_to not in APPLIES_TO:
            out.append(("designer.field_applies_unknown", {"label": label}))
        # The same key may be asked of a person and of an enterprise (two fields), never twice of one applicant.
        earlier = seen.setdefault(f.field_key, set())
        if earlier and ("all" in earlier or f.applies_to == "all" or f.applies_to in earlier):
            out.append(("designer.field_duplicate", {"field": f.field_key}))
        earlier.add(f.applies_to)
        if f.field_type in CHOICE_TYPES:
            if not f.choices:
                out.append(("designer.choices_required", {"label": label}))
            elif len(set(f.choices)) != len(f.choices):
                out.append(("designer.choices_duplicate", {"label": label}))
        elif f.choices:
            out.append(("designer.choices_unused", {"label": label}))
        if f.prefill and f.prefill not in PREFILLS:
            out.append(("designer.field_prefill_unknown", {"label": label}))
        out += _rule_problems(f, label)
    return out


def _rule_problems(f: FieldSpec, label: str) -> list[tuple[str, dict[str, Any]]]:
    rule = f.rule or {}
    unknown = set(rule) - RULE_KEYS
    if unknown:
        return [("designer.rule_unknown", {"label": label, "keys": "、".join(sorted(unknown))})]
    out: list[tuple[str, dict[str, Any]]] = []
    for low, high in (("min_length", "max_length"), ("min", "max")):
        values = {k: rule[k] for k in (low, high) if k in rule}
        if any(not isinstance(v, (int, float)) or isinstance(v, bool) for v in values.values()):
            out.append(("designer.rule_number", {"label": label}))
        elif len(values) == 2 and values[low] > values[high]:
            out.append(("designer.rule_range", {"label": label}))
    if "pattern" in rule:
        try:
            re.compile(str(rule["pattern"]))
        except re.error:
            out.append(("designer.rule_pattern", {"label": label}))
    return out


def problems(conn: Connection, spec: ItemSpec) -> list[tuple[str, dict[str, Any]]]:
    """What is wrong with a design (each an i18n key and its params); empty = it may be saved as a draft."""
    out: list[tuple[str, dict[str, Any]]] = []
    if not ITEM_CODE.fullmatch(spec.item_code):
        out.append(("designer.code_format", {}))
    if not spec.name:
        out.append(("designer.name_required", {}))
    elif len(spec.name) > NAME_MAX:
        out.append(("designer.name_too_long", {"n": NAME_MAX}))
    if spec.kind not in KINDS:
        out.append(("designer.kind_unknown", {}))
    if spec.category not in CATEGORIES:
        out.append(("designer.category_unknown", {}))
    known = _known_departments(conn)
    if spec.dept_code not in known:
        out.append(("designer.dept_unknown", {"dept": spec.dept_code or "—"}))
    for code in spec.co_dept_codes:
        if code not in known:
            out.append(("designer.co_dept_unknown", {"dept": code}))
        elif code == spec.dept_code:
            out.append(("designer.co_dept_is_lead", {"dept": code}))
    if not spec.handling_levels:
        out.append(("designer.levels_required", {}))
    elif any(lv not in LEVELS for lv in spec.handling_levels):
        out.append(("designer.level_unknown", {}))
    out += _limit_problems(spec)
    if int(spec.online_batch) < 1:
        out.append(("designer.batch_invalid", {}))
    steps = spec.review_steps
    if not steps or any(not x for x in steps):
        out.append(("designer.steps_required", {}))
    elif len(set(steps)) != len(steps):
        out.append(("designer.steps_duplicate", {}))
    for text in (spec.basis, spec.conditions, spec.note):
        if len(text) > TEXT_MAX:
            out.append(("designer.text_too_long", {"n": TEXT_MAX}))
            break
    for fee in spec.fees:
        if not fee.name or not fee.standard:
            out.append(("designer.fee_incomplete", {}))
        elif not fee.basis:
            out.append(("designer.fee_basis_required", {"fee": fee.name}))
    names = [m.name for m in spec.materials]
    if any(not n for n in names):
        out.append(("designer.material_name_required", {}))
    for name in sorted({n for n in names if n and names.count(n) > 1}):
        out.append(("designer.material_duplicate", {"name": name}))
    reuse_codes = {m.reuse_item_code for m in spec.materials if m.reuse_item_code}
    existing_items = {r[0] for r in conn.execute(
        sa.select(s.items.c.item_code).where(s.items.c.item_code.in_(sorted(reuse_codes))).distinct())}
    for m in spec.materials:
        if m.original_or_copy not in ORIGINAL_OR_COPY:
            out.append(("designer.material_form_unknown", {"name": m.name}))
        if not m.formats or any(x not in FORMATS for x in m.formats):
            out.append(("designer.material_formats", {"name": m.name}))
        if m.reuse_item_code and m.reuse_item_code not in existing_items:
            out.append(("designer.reuse_unknown", {"name": m.name, "item": m.reuse_item_code}))
        if m.reuse_item_code and not m.reuse_certificate:
            out.append(("designer.reuse_certificate_required", {"name": m.name}))
    out += field_problems(spec.fields)
    return out


def _handling_unit_exists(conn: Connection, dept_code: str) -> bool:
    # Every item can be handled by its lead department's city unit (cases.handling_unit falls back to it).
    return conn.execute(sa.select(s.org_units.c.unit_id).where(s.org_units.c.unit_id == f"U-4207-{dept_code}")
                        ).fetchone() is not None


def usability_problems(conn: Connection, spec: ItemSpec) -> list[tuple[str, dict[str, Any]]]:
    """What keeps a valid draft from going online: an applicant could not apply, or an officer not decide."""
    out = problems(conn, spec)
    if not spec.materials:
        out.append(("designer.no_materials", {}))
    if not spec.fields:
        out.append(("designer.no_fields", {}))
    if not spec.result_name:
        out.append(("designer.result_required", {}))
    if not spec.basis:
        out.append(("designer.basis_required", {}))
    if spec.dept_code and not _handling_unit_exists(conn, spec.dept_code):
        out.append(("designer.no_unit", {"dept": spec.dept_code}))
    return out


def _refuse(found: list[tuple[str, dict[str, Any]]]) -> None:
    if found:
        key, params = found[0]
        raise DesignError(key, found, **params)


# -- reading ---------------------------------------------------------------------------------------------------------
def _row(conn: Connection, item_code: str, version: int) -> Any:
    row = conn.execute(sa.select(s.items).where(s.items.c.item_code == item_code, s.items.c.version == version)
                       ).fetchone()
    if row is None:
        raise DesignError("designer.item_unknown", item=item_code)
    return row


def _spec_from(conn: Connection, row: Any) -> ItemSpec:
    m, f = s.item_materials, s.item_form_fields
    mats = conn.execute(sa.select(m).where(m.c.item_code == row.item_code, m.c.version == row.version)
                        .order_by(m.c.seq)).fetchall()
    flds = conn.execute(sa.select(f).where(f.c.item_code == row.item_code, f.c.version == row.version)
                        .order_by(f.c.seq)).fetchall()
    fees = [FeeSpec(x["name"], x["standard"], x["basis"]) for x in (row.fees or [])]
    if not fees and row.charges_fee and row.fee_text:
        # A seeded item keeps its fee as one text; it stands as one fee whose basis is named inside it.
        fees = [FeeSpec("收费", row.fee_text, "；".join(catalogue.fee_basis(row.fee_text)))]
    return ItemSpec(
        item_code=row.item_code, name=row.name, kind=row.kind, category=row.category, dept_code=row.dept_code,
        co_dept_codes=list(row.co_dept_codes or []), handling_levels=list(row.handling_levels or []),
        statutory_limit=int(row.statutory_limit), statutory_unit=row.statutory_unit,
        promised_days=int(row.promised_days), immediate=bool(row.immediate), basis=row.basis or "",
        conditions=row.conditions or "", fees=fees, result_name=row.result_name or "",
        online_batch=int(row.online_batch), review_steps=list(row.review_steps or ["审查"]), note=row.note or "",
        materials=[MaterialSpec(name=r.name, required=bool(r.required), original_or_copy=r.original_or_copy or "",
                                formats=list(r.formats or []), reuse_certificate=r.reuse_certificate or "",
                                reuse_item_code=r.reuse_item_code, note=r.note or "") for r in mats],
        fields=[FieldSpec(field_key=r.field_key, label=r.label, field_type=r.field_type, required=bool(r.required),
                          applies_to=r.applies_to, rule=dict(r.rule or {}), choices=list(r.choices or []),
                          help=r.help or "", prefill=r.prefill) for r in flds],
    )


@dataclass(frozen=True)
class Version:
    item_code: str
    version: int
    name: str
    dept_code: str
    status: str
    is_current: bool
    revision: int
    created_at: Any
    published_at: Any
    comment_opened_at: Any
    withdrawn_at: Any
    withdraw_reason: str


def _version_of(row: Any) -> Version:
    return Version(item_code=row.item_code, version=int(row.version), name=row.name, dept_code=row.dept_code,
                   status=row.status, is_current=bool(row.is_current), revision=int(row.revision or 1),
                   created_at=row.created_at, published_at=row.published_at, comment_opened_at=row.comment_opened_at,
                   withdrawn_at=row.withdrawn_at, withdraw_reason=row.withdraw_reason or "")


def load(db: Database, actor: Actor, item_code: str, version: int) -> tuple[Version, ItemSpec]:
    """One version as the designer edits it (the actor must be allowed to edit its department's items)."""
    with db.read() as conn:
        row = _row(conn, item_code, version)
        _require_edit(actor, row.dept_code)
        return _version_of(row), _spec_from(conn, row)


def versions(db: Database, actor: Actor, item_code: str) -> list[Version]:
    """Every version of an item, newest first."""
    with db.read() as conn:
        rows = conn.execute(sa.select(s.items).where(s.items.c.item_code == item_code)
                            .order_by(s.items.c.version.desc())).fetchall()
    if not rows:
        raise DesignError("designer.item_unknown", item=item_code)
    _require_edit(actor, rows[0].dept_code)
    return [_version_of(r) for r in rows]


def item_list(db: Database, actor: Actor, *, keyword: str = "", status: str | None = None) -> list[dict[str, Any]]:
    """The items the actor keeps (all for the legal affairs office, the own department's otherwise), one row
    per item: its newest version, its status, the version online (if any) and the comments received."""
    if not may_use_designer(actor):
        raise PermissionDenied("designer.perm_designer")
    it, d, c = s.items, s.departments, s.item_comments
    q = (sa.select(it.c.item_code, it.c.version, it.c.name, it.c.dept_code, it.c.status, it.c.is_current,
                   it.c.category, d.c.short_name)
         .select_from(it.outerjoin(d, d.c.dept_code == it.c.dept_code)))
    if not is_legal_office(actor):
        q = q.where(it.c.dept_code == actor.dept_code)
    with db.read() as conn:
        rows = conn.execute(q).fetchall()
        counts = {(r[0], int(r[1])): int(r[2]) for r in conn.execute(
            sa.select(c.c.item_code, c.c.version, sa.func.count()).group_by(c.c.item_code, c.c.version))}
    by_code: dict[str, dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: (r.item_code, int(r.version))):
        entry = by_code.setdefault(r.item_code, {"item_code": r.item_code, "online_version": None, "comments": 0})
        entry.update(version=int(r.version), name=r.name, dept_code=r.dept_code, dept=r.short_name or r.dept_code,
                     status=r.status, category=r.category)
        if r.is_current and r.status == PUBLISHED:
            entry["online_version"] = int(r.version)
        entry["comments"] += counts.get((r.item_code, int(r.version)), 0)
    words = [w.casefold() for w in (keyword or "").split()]
    out = [e for e in by_code.values()
           if (status is None or e["status"] == status)
           and all(any(w in str(e[k]).casefold() for k in ("item_code", "name", "dept")) for w in words)]
    return sorted(out, key=lambda e: e["item_code"])


def department_choices(db: Database) -> dict[str, str]:
    """Every department by code (lead and co-departments are chosen from these)."""
    with db.read() as conn:
        return dict(conn.execute(sa.select(s.departments.c.dept_code, s.departments.c.name)
                                 .order_by(s.departments.c.dept_code)).all())


# -- writing ---------------------------------------------------------------------------------------------------------
def _item_values(spec: ItemSpec) -> dict[str, Any]:
    return dict(name=spec.name, category=spec.category, kind=spec.kind, dept_code=spec.dept_code,
                co_dept_codes=spec.co_dept_codes, handling_levels=spec.handling_levels,
                statutory_limit=int(spec.statutory_limit), statutory_unit=spec.statutory_unit,
                promised_days=int(spec.promised_days), immediate=bool(spec.immediate), basis=spec.basis,
                conditions=spec.conditions, fee_text=spec.fee_text(), charges_fee=bool(spec.fees),
                fees=[asdict(f) for f in spec.fees], result_name=spec.result_name,
                online_batch=int(spec.online_batch), review_steps=spec.review_steps, note=spec.note)


def _write_parts(conn: Connection, spec: ItemSpec, version: int) -> None:
    m, f = s.item_materials, s.item_form_fields
    conn.execute(m.delete().where(m.c.item_code == spec.item_code, m.c.version == version))
    conn.execute(f.delete().where(f.c.item_code == spec.item_code, f.c.version == version))
    if spec.materials:
        conn.execute(m.insert(), [dict(item_code=spec.item_code, version=version, seq=n, name=x.name,
                                       required=bool(x.required), original_or_copy=x.original_or_copy,
                                       formats=x.formats, reuse_certificate=x.reuse_certificate,
                                       reuse_item_code=x.reuse_item_code, note=x.note or None)
                                  for n, x in enumerate(spec.materials, start=1)])
    if spec.fields:
        conn.execute(f.insert(), [dict(item_code=spec.item_code, version=version, seq=n, field_key=x.field_key,
                                       label=x.label, field_type=x.field_type, required=bool(x.required),
                                       applies_to=x.applies_to, rule=x.rule or None, choices=x.choices or None,
                                       help=x.help or None, prefill=x.prefill)
                                  for n, x in enumerate(spec.fields, start=1)])


def _audit(conn: Connection, actor: Actor, action: str, **detail: Any) -> None:
    audit.record(conn, action, user_id=actor.user_id, username=actor.username, detail=detail)


def create_item(db: Database, actor: Actor, spec: ItemSpec) -> Version:
    """A new item: version 1, a draft (not online, not current)."""
    spec = spec.normalised()
    _require_edit(actor, spec.dept_code)
    now = timeutil.now()

    def work(conn: Connection) -> Version:
        _refuse(problems(conn, spec))
        taken = conn.execute(sa.select(s.items.c.item_code).where(s.items.c.item_code == spec.item_code)).fetchall()
        if taken:
            raise DesignError("designer.code_taken", item=spec.item_code)
        conn.execute(s.items.insert().values(
            item_code=spec.item_code, version=1, **_item_values(spec), source="designer", status=DRAFT,
            is_current=False, published_at=None, created_by=actor.user_id, created_at=now, updated_at=now, revision=1))
        _write_parts(conn, spec, 1)
        _audit(conn, actor, "item_create", item_code=spec.item_code, version=1)
        return _version_of(_row(conn, spec.item_code, 1))

    return db.write(work)


def save_draft(db: Database, actor: Actor, item_code: str, version: int, spec: ItemSpec, *,
               expected_revision: int) -> Version:
    """Change a draft in place (only a draft: a published version changes by a new version)."""
    spec = spec.normalised()
    if spec.item_code != item_code:
        raise DesignError("designer.code_fixed")
    now = timeutil.now()

    def work(conn: Connection) -> Version:
        row = _row(conn, item_code, version)
        _require_edit(actor, row.dept_code)
        _require_edit(actor, spec.dept_code)   # nor may a department hand its draft to another department
        if row.status not in EDITABLE:
            raise DesignError("designer.not_editable", status=row.status)
        _refuse(problems(conn, spec))
        it = s.items
        done = conn.execute(
            it.update().where(it.c.item_code == item_code, it.c.version == version,
                              it.c.revision == expected_revision, it.c.status == DRAFT)
            .values(**_item_values(spec), updated_at=now, revision=expected_revision + 1)
            .returning(it.c.revision)).fetchall()
        if not done:
            raise StaleVersionError(f"item {item_code} v{version} is no longer at revision {expected_revision}")
        _write_parts(conn, spec, version)
        _audit(conn, actor, "item_save", item_code=item_code, version=version, revision=expected_revision + 1)
        return _version_of(_row(conn, item_code, version))

    return db.write(work)


def new_version(db: Database, actor: Actor, item_code: str) -> Version:
    """A change to a published (or withdrawn) item: a new draft version copied from the current one."""
    now = timeutil.now()

    def work(conn: Connection) -> Version:
        it = s.items
        rows = conn.execute(sa.select(it).where(it.c.item_code == item_code).order_by(it.c.version)).fetchall()
        if not rows:
            raise DesignError("designer.item_unknown", item=item_code)
        base = next((r for r in rows if r.is_current), None)
        if base is None:
            raise DesignError("designer.no_current", item=item_code)
        _require_edit(actor, base.dept_code)
        pending = [r for r in rows if r.status in (DRAFT, COMMENT)]
        if pending:
            raise DesignError("designer.draft_exists", item=item_code, version=int(pending[-1].version))
        number = int(rows[-1].version) + 1
        spec = _spec_from(conn, base)
        values = {k: v for k, v in base._mapping.items() if k in it.c}
        values.update(version=number, status=DRAFT, is_current=False, published_at=None, created_by=actor.user_id,
                      created_at=now, updated_at=now, comment_opened_at=None, withdrawn_at=None,
                      withdraw_reason=None, revision=1, source="designer")
        conn.execute(it.insert().values(**values))
        _write_parts(conn, spec, number)
        _audit(conn, actor, "item_new_version", item_code=item_code, version=number, from_version=int(base.version))
        return _version_of(_row(conn, item_code, number))

    return db.write(work)


def _move(db: Database, actor: Actor, item_code: str, version: int, action: str, *, expected_revision: int,
          reason: str = "") -> Version:
    """One step of the life cycle (LIFECYCLE), by the legal affairs office, guarded by the revision."""
    _require_legal_office(actor)
    from_states, to_state = LIFECYCLE[action]
    now = timeutil.now()

    def work(conn: Connection) -> Version:
        it = s.items
        row = _row(conn, item_code, version)
        if row.status not in from_states:
            raise DesignError("designer.move_refused", move=action, status=row.status)
        if int(row.revision or 1) != expected_revision:
            raise StaleVersionError(f"item {item_code} v{version} is no longer at revision {expected_revision}")
        values: dict[str, Any] = {"status": to_state, "updated_at": now, "revision": expected_revision + 1}
        if action in ("open_comment", "publish"):
            _refuse(usability_problems(conn, _spec_from(conn, row)))
        if action == "open_comment":
            values["comment_opened_at"] = now
        elif action == "publish":
            # The earlier version stops being current; the cases filed under it keep it (cases.item_version).
            conn.execute(it.update().where(it.c.item_code == item_code, it.c.is_current, it.c.version != version)
                         .values(is_current=False, updated_at=now))
            values.update(is_current=True, published_at=now, withdrawn_at=None, withdraw_reason=None)
        elif action == "withdraw":
            if not row.is_current:
                raise DesignError("designer.move_refused", move=action, status=row.status)
            if not reason.strip():
                raise DesignError("designer.reason_required")
            values.update(withdrawn_at=now, withdraw_reason=reason.strip()[:TEXT_MAX])
        conn.execute(it.update().where(it.c.item_code == item_code, it.c.version == version).values(**values))
        _audit(conn, actor, f"item_{action}", item_code=item_code, version=version,
               **({"reason": reason.strip()} if reason.strip() else {}))
        return _version_of(_row(conn, item_code, version))

    version_after = db.write(work)
    if action in ("publish", "withdraw"):
        invalidate_catalogue_caches()
    return version_after


# action: (from states, to state). A published version is never edited: it is withdrawn or replaced.
LIFECYCLE: dict[str, tuple[tuple[str, ...], str]] = {
    "open_comment": ((DRAFT,), COMMENT),
    "revise": ((COMMENT,), DRAFT),
    "publish": ((DRAFT, COMMENT), PUBLISHED),
    "withdraw": ((PUBLISHED,), WITHDRAWN),
}


def open_comment(db: Database, actor: Actor, item_code: str, version: int, *, expected_revision: int) -> Version:
    """Put a usable draft up for public comment (公开征询意见)."""
    return _move(db, actor, item_code, version, "open_comment", expected_revision=expected_revision)


def revise(db: Database, actor: Actor, item_code: str, version: int, *, expected_revision: int) -> Version:
    """End the public comment and take the version back to a draft to work the comments in."""
    return _move(db, actor, item_code, version, "revise", expected_revision=expected_revision)


def publish(db: Database, actor: Actor, item_code: str, version: int, *, expected_revision: int) -> Version:
    """Put a usable draft (or a version under comment) online as the item's current version."""
    return _move(db, actor, item_code, version, "publish", expected_revision=expected_revision)


def withdraw(db: Database, actor: Actor, item_code: str, version: int, *, expected_revision: int,
             reason: str) -> Version:
    """Take the current version offline: no new applications; open cases go on under their version."""
    return _move(db, actor, item_code, version, "withdraw", expected_revision=expected_revision, reason=reason)


def delete_draft(db: Database, actor: Actor, item_code: str, version: int) -> None:
    """Throw away a draft that never went online (its comments go with it)."""
    def work(conn: Connection) -> None:
        row = _row(conn, item_code, version)
        _require_edit(actor, row.dept_code)
        if row.status != DRAFT:
            raise DesignError("designer.not_editable", status=row.status)
        for table in (s.item_materials, s.item_form_fields, s.item_comments):
            conn.execute(table.delete().where(table.c.item_code == item_code, table.c.version == version))
        conn.execute(s.items.delete().where(s.items.c.item_code == item_code, s.items.c.version == version))
        _audit(conn, actor, "item_delete_draft", item_code=item_code, version=version)

    db.write(work)


_cache_hooks: list[Any] = []


def on_catalogue_change(hook: Any) -> Any:
    """Register a function to call when the published catalogue changes (a screen's cache, for one)."""
    _cache_hooks.append(hook)
    return hook


def invalidate_catalogue_caches() -> None:
    """The published catalogue changed: forget whatever was cached of it (the catalogue module's caches, if it
    keeps any, and every registered hook), so apply, guide and catalogue read the new version at once."""
    for name in ("invalidate", "clear_cache", "cache_clear"):
        hook = getattr(catalogue, name, None)
        if callable(hook):
            hook()
    for hook in list(_cache_hooks):
        hook()


# -- preview (writes nothing) ------------------------------------------------------------------------------------
def preview_guide(db: Database, spec: ItemSpec) -> dict[str, Any]:
    """The guide this design would publish, with the keys of catalogue.guide (nothing is written)."""
    spec = spec.normalised()
    codes = [spec.dept_code, *spec.co_dept_codes]
    d, it = s.departments, s.items
    with db.read() as conn:
        depts = {r.dept_code: r for r in conn.execute(
            sa.select(d.c.dept_code, d.c.name, d.c.short_name).where(d.c.dept_code.in_(codes)))}
        reuse_codes = sorted({m.reuse_item_code for m in spec.materials if m.reuse_item_code})
        reuse_names = {r.item_code: r.name for r in conn.execute(
            sa.select(it.c.item_code, it.c.name).where(it.c.item_code.in_(reuse_codes), it.c.is_current))}
        item = SimpleNamespace(handling_levels=spec.handling_levels, dept_code=spec.dept_code, kind=spec.kind,
                               charges_fee=bool(spec.fees), fee_text=spec.fee_text())
        collection = catalogue._collection(conn, item)  # noqa: SLF001 - the guide's own rule, reused as is

    def dept(code: str) -> dict[str, str]:
        row = depts.get(code)
        return {"dept_code": code, "name": row.name if row else code, "short_name": row.short_name if row else code}

    lead = dept(spec.dept_code)
    co_departments = [dept(c) for c in spec.co_dept_codes]
    materials = [{
        "seq": n, "name": m.name, "required": bool(m.required), "required_name": "必交" if m.required else "选交",
        "original_or_copy": m.original_or_copy, "formats": list(m.formats), "reuse_certificate": m.reuse_certificate,
        "reuse_item_code": m.reuse_item_code,
        "reuse_item_name": reuse_names.get(m.reuse_item_code, "") if m.reuse_item_code else "", "note": m.note,
    } for n, m in enumerate(spec.materials, start=1)]
    for mat in materials:
        mat["online"] = catalogue.material_online(mat)
    fee = catalogue._fee(item)  # noqa: SLF001
    if spec.fees:
        fee["basis"] = [f.basis for f in spec.fees]
    return {
        "item_code": spec.item_code, "version": None, "name": spec.name, "category": spec.category,
        "column": catalogue.COLUMN_NAMES.get(spec.category, spec.category), "kind": spec.kind,
        "dept_code": spec.dept_code, "dept": lead["name"], "dept_short": lead["short_name"],
        "co_departments": co_departments, "parallel": bool(co_departments),
        "departments": [lead["name"], *(c["name"] for c in co_departments)], "levels": list(spec.handling_levels),
        "conditions": spec.conditions, "basis": spec.basis, "result_name": spec.result_name, "materials": materials,
        "fee": fee, "statutory_limit": int(spec.statutory_limit), "statutory_unit": spec.statutory_unit,
        "statutory_unit_name": UNIT_NAMES.get(spec.statutory_unit, spec.statutory_unit),
        "promised_days": int(spec.promised_days), "promised_unit_name": UNIT_NAMES["working"],
        "immediate": bool(spec.immediate), "handling_type": "即办件" if spec.immediate else "承诺件",
        "steps": catalogue._steps(bool(spec.immediate), co_departments),  # noqa: SLF001
        "review_steps": list(spec.review_steps), "collection": collection,
        "fully_online": catalogue.fully_online(materials),
        "life_events": catalogue.events_of(spec.item_code, spec.name), "published_at": None,
        "basis_documents": [], "qa": [],
    }


def preview_form(spec: ItemSpec) -> list[forms.FormField]:
    """The application form this design generates (the same FormField the apply screen draws)."""
    spec = spec.normalised()
    return [forms.FormField(seq=n, field_key=f.field_key, label=f.label, field_type=f.field_type,
                            required=bool(f.required), applies_to=f.applies_to, rule=dict(f.rule or {}),
                            choices=list(f.choices), help=f.help, prefill=f.prefill)
            for n, f in enumerate(spec.fields, start=1)
            if f.field_type in forms.FIELD_TYPES and (f.field_type not in CHOICE_TYPES or f.choices)]


def standard_fields(category: str, name: str = "") -> list[FieldSpec]:
    """The applicant and application fields every item of a column asks (data/forms), to start a form from."""
    sets, rules = forms.load_field_sets()
    rows = forms.expand_fields({"item_code": "", "name": name, "category": category}, sets, rules)
    return [FieldSpec(field_key=r["field_key"], label=r["label"], field_type=r["field_type"],
                      required=bool(r["required"]), applies_to=r["applies_to"], rule=dict(r["rule"] or {}),
                      choices=list(r["choices"] or []), help=r["help"] or "", prefill=r["prefill"]) for r in rows]


# -- public comment (公开征询意见) ------------------------------------------------------------------------------------
def under_comment(db: Database) -> list[dict[str, Any]]:
    """The versions open for public comment, newest first (public)."""
    it, d = s.items, s.departments
    q = (sa.select(it.c.item_code, it.c.version, it.c.name, it.c.kind, it.c.comment_opened_at,
                   d.c.name.label("dept"))
         .select_from(it.outerjoin(d, d.c.dept_code == it.c.dept_code))
         .where(it.c.status == COMMENT).order_by(it.c.comment_opened_at.desc(), it.c.item_code))
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def comment_draft(db: Database, item_code: str, version: int) -> ItemSpec:
    """The design under comment, for the public's preview (only while it is under comment)."""
    with db.read() as conn:
        row = conn.execute(sa.select(s.items).where(s.items.c.item_code == item_code, s.items.c.version == version,
                                                    s.items.c.status == COMMENT)).fetchone()
        if row is None:
            raise DesignError("comment.closed")
        return _spec_from(conn, row)


def _plain(text: str, limit: int) -> str:
    # Control characters out (a comment is plain text), line breaks kept.
    kept = "".join(ch for ch in unicodedata.normalize("NFC", str(text or ""))
                   if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return kept.strip()[: limit + 1]


def add_comment(db: Database, item_code: str, version: int, content: str, *, author_name: str = "",
                contact: str = "", client: str = "", user_id: int | None = None) -> int:
    """A comment from the public on a version under comment; refused when too short or long, when the
    version is not under comment, or when this client commented too often in the last hour."""
    text = _plain(content, COMMENT_MAX)
    name = _plain(author_name, COMMENT_NAME_MAX)
    reach = _plain(contact, COMMENT_CONTACT_MAX)
    if len(text) < COMMENT_MIN:
        raise DesignError("comment.too_short", n=COMMENT_MIN)
    if len(text) > COMMENT_MAX:
        raise DesignError("comment.too_long", n=COMMENT_MAX)
    if len(name) > COMMENT_NAME_MAX or len(reach) > COMMENT_CONTACT_MAX:
        raise DesignError("comment.contact_too_long")
    now = timeutil.now()
    client = str(client or "")[:200]

    def work(conn: Connection) -> int:
        it, c = s.items, s.item_comments
        open_row = conn.execute(sa.select(it.c.item_code).where(it.c.item_code == item_code, it.c.version == version,
                                                                 it.c.status == COMMENT)).fetchall()
        if not open_row:
            raise DesignError("comment.closed")
        recent = conn.execute(sa.select(sa.func.count()).select_from(c).where(
            c.c.client == client, c.c.created_at >= now - timedelta(hours=1))).scalar()
        if int(recent or 0) >= COMMENTS_PER_HOUR:
            raise DesignError("comment.too_many")
        comment_id = conn.execute(c.insert().values(
            item_code=item_code, version=version, content=text, author_name=name or None, contact=reach or None,
            client=client, user_id=user_id, created_at=now).returning(c.c.comment_id)).scalar_one()
        audit.record(conn, "item_comment", user_id=user_id,
                     detail={"item_code": item_code, "version": version, "comment_id": int(comment_id)})
        return int(comment_id)

    return db.write(work)


def comments(db: Database, actor: Actor, item_code: str, version: int | None = None) -> list[dict[str, Any]]:
    """The public's comments on an item (one version, or all), oldest first — for the staff who keep it."""
    c = s.item_comments
    with db.read() as conn:
        rows = conn.execute(sa.select(s.items.c.dept_code).where(s.items.c.item_code == item_code)).fetchall()
        if not rows:
            raise DesignError("designer.item_unknown", item=item_code)
        _require_edit(actor, rows[0].dept_code)
        q = sa.select(c.c.comment_id, c.c.version, c.c.content, c.c.author_name, c.c.contact, c.c.created_at
                      ).where(c.c.item_code == item_code)
        if version is not None:
            q = q.where(c.c.version == version)
        return [dict(r._mapping) for r in conn.execute(q.order_by(c.c.created_at, c.c.comment_id))]
