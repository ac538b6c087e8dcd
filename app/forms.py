"""The form generator: an item's application form comes from its configuration (item_form_fields), never
from a form written by hand per item. This module expands the field sets of data/forms into an item's
fields, loads them, prefills them from the applicant's account, and validates answers, returning i18n keys
for every broken rule.
"""
from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from app import schema as s
from app.config import DATA_DIR
from app.db import Database
from app.validators import validate_credit_code, validate_resident_id

FORMS_DIR = DATA_DIR / "forms"
FIELD_TYPES = ("text", "textarea", "number", "date", "select", "multiselect", "checkbox", "phone", "email",
               "id_number", "credit_code")
PHONE = re.compile(r"^(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")
EMAIL = re.compile(r"^[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$")


@dataclass(frozen=True)
class FormField:
    seq: int
    field_key: str
    label: str
    field_type: str
    required: bool
    applies_to: str            # "person" | "enterprise" | "all"
    rule: dict[str, Any]
    choices: list[str]
    help: str
    prefill: str | None


def load_field_sets(base: Path = FORMS_DIR) -> tuple[dict[str, list[dict]], list[dict]]:
    sets: dict[str, list[dict]] = {}
    with open(base / "field_sets.csv", encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["field_type"] not in FIELD_TYPES:
                raise ValueError(f"unknown field type {row['field_type']!r} in set {row['set_name']}")
            sets.setdefault(row["set_name"], []).append(row)
    with open(base / "item_field_sets.csv", encoding="utf-8", newline="") as f:
        rules = list(csv.DictReader(f))
    for rule in rules:
        for name in rule["sets"].split(";"):
            if name not in sets:
                raise ValueError(f"item_field_sets.csv names an unknown set {name!r}")
    return sets, rules


def expand_fields(item: dict[str, Any], sets: dict[str, list[dict]], rules: list[dict]) -> list[dict[str, Any]]:
    """The rows of item_form_fields for one item: applicant sets first, then the item's own, then the
    application set (request, delivery, declaration) last."""
    chosen: list[str] = []
    for rule in rules:
        match = rule["match"]
        hit = (match == "*" or match == item["category"] or match == item["item_code"]
               or (match.startswith("name:") and match[5:] in item["name"]))
        if hit:
            chosen += [n for n in rule["sets"].split(";") if n not in chosen]
    order = [n for n in ("person", "enterprise") if n in chosen] + \
            [n for n in chosen if n not in ("person", "enterprise", "application")] + \
            [n for n in chosen if n == "application"]
    rows, seen, seq = [], set(), 0
    for name in order:
        for f in sets[name]:
            key = (f["field_key"], f["applies_to"])
            if key in seen:
                continue
            seen.add(key)
            seq += 1
            rows.append({
                "item_code": item["item_code"], "version": item.get("version", 1), "seq": seq,
                "field_key": f["field_key"], "label": f["label"], "field_type": f["field_type"],
                "required": f["required"] == "1", "applies_to": f["applies_to"],
                "rule": json.loads(f["rule"]) if f["rule"] else None,
                "choices": json.loads(f["choices"]) if f["choices"] else None,
                "help": f["help"] or None, "prefill": f["prefill"] or None,
            })
    return rows


FINAL_STATUSES = ("published", "withdrawn")   # an item version's parts never change again (app/designer.py)


def item_version_is_final(conn: Any, item_code: str, version: int) -> bool:
    """Whether an item version is published or withdrawn: its form and materials are then fixed for good (a
    change is a new version), so they may be kept in process; a draft's are still being edited."""
    status = conn.execute(sa.select(s.items.c.status).where(s.items.c.item_code == item_code,
                                                            s.items.c.version == version)).scalar()
    return status in FINAL_STATUSES


def load_form(db: Database, item_code: str, version: int) -> list[FormField]:
    """An item version's form fields (kept in process once the version is published: see item_version_is_final)."""
    def load() -> tuple[tuple[FormField, ...], bool]:
        t = s.item_form_fields
        with db.read() as conn:
            final = item_version_is_final(conn, item_code, version)   # first: final, its parts can no longer change
            rows = conn.execute(sa.select(t).where(t.c.item_code == item_code, t.c.version == version)
                                .order_by(t.c.seq)).fetchall()
        return tuple(FormField(seq=r.seq, field_key=r.field_key, label=r.label, field_type=r.field_type,
                               required=bool(r.required), applies_to=r.applies_to, rule=r.rule or {},
                               choices=list(r.choices or []), help=r.help or "", prefill=r.prefill)
                     for r in rows), final

    return list(db.remembered(("item_form", item_code, int(version)), load))


def applicant_kind(id_kind: str | None) -> str:
    return "enterprise" if id_kind == "credit_code" else "person"


def fields_for(form: list[FormField], kind: str) -> list[FormField]:
    return [f for f in form if f.applies_to in ("all", kind)]


def prefill(form: list[FormField], account: dict[str, Any], kind: str | None = None) -> dict[str, Any]:
    """Answers taken from the applicant's account (name, identifier, phone), for the applicant's kind."""
    shown = fields_for(form, kind) if kind else form
    return {f.field_key: account.get(f.prefill) for f in shown if f.prefill and account.get(f.prefill)}


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value is False


def validate_field(field: FormField, value: Any) -> tuple[str, dict[str, Any]] | None:
    """None if the answer is acceptable, else (i18n key, params)."""
    label = {"label": field.label}
    if _empty(value):
        if not field.required:
            return None
        if field.field_type == "checkbox":
            return "form.required_check", label
        if field.field_type in ("select", "multiselect", "date"):
            return "form.required_choice", label
        return "form.required", label
    rule = field.rule
    t = field.field_type
    if t in ("text", "textarea"):
        text = str(value).strip()
        if not text and field.required:
            return "form.required", label
        if len(text) < rule.get("min_length", 0):
            return "form.too_short", {**label, "n": rule["min_length"]}
        if "max_length" in rule and len(text) > rule["max_length"]:
            return "form.too_long", {**label, "n": rule["max_length"]}
        if "pattern" in rule and not re.fullmatch(rule["pattern"], text):
            return "form.pattern", {**label, "example": rule.get("pattern_hint", "")}
    elif t == "number":
        try:
            number = float(value)
        except (TypeError, ValueError):
            return "form.number", label
        if number != number or number in (float("inf"), float("-inf")):
            return "form.number", label
        if rule.get("integer") and number != int(number):
            return "form.integer", label
        if "min" in rule and number < rule["min"]:
            return "form.min", {**label, "n": rule["min"]}
        if "max" in rule and number > rule["max"]:
            return "form.max", {**label, "n": rule["max"]}
    elif t == "date":
        if not isinstance(value, date):
            try:
                date.fromisoformat(str(value))
            except ValueError:
                return "form.date", label
    elif t == "select":
        if value not in field.choices:
            return "form.choice", label
    elif t == "multiselect":
        values = list(value) if isinstance(value, (list, tuple)) else [value]
        if any(v not in field.choices for v in values):
            return "form.choice", label
    elif t == "checkbox":
        if value is not True:
            return "form.required_check", label
    elif t == "phone":
        if not PHONE.fullmatch(str(value).strip()):
            return "form.phone", label
    elif t == "email":
        if not EMAIL.fullmatch(str(value).strip()):
            return "form.email", label
    elif t == "id_number":
        err = validate_resident_id(str(value))
        if err:
            return err, label
    elif t == "credit_code":
        err = validate_credit_code(str(value))
        if err:
            return err, label
    return None


def validate(form: list[FormField], values: dict[str, Any], kind: str) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every problem of a filled form, by field key (empty = valid). Fields for the other applicant kind
    are ignored."""
    problems = {}
    for field in fields_for(form, kind):
        problem = validate_field(field, values.get(field.field_key))
        if problem:
            problems[field.field_key] = problem
    return problems


def clean(form: list[FormField], values: dict[str, Any], kind: str) -> dict[str, Any]:
    """Only the fields of this form and applicant kind, with dates as ISO text (JSON-safe)."""
    out = {}
    for field in fields_for(form, kind):
        value = values.get(field.field_key)
        if isinstance(value, date):
            value = value.isoformat()
        if isinstance(value, str):
            value = value.strip()
        out[field.field_key] = value
    return out
