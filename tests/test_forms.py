"""The form generator on every field type used by the catalogue's configuration (data/forms)."""
from __future__ import annotations

from datetime import date

import pytest

from app import forms, reference
from app.validators import make_credit_code, make_resident_id


def field(field_type, required=True, rule=None, choices=None):  # noqa: ANN001, ANN201
    return forms.FormField(seq=1, field_key="f", label="字段", field_type=field_type, required=required,
                           applies_to="all", rule=rule or {}, choices=choices or [], help="", prefill=None)


def test_configuration_uses_only_known_field_types_and_covers_each():
    sets, rules = forms.load_field_sets()
    used = {f["field_type"] for rows in sets.values() for f in rows}
    assert used <= set(forms.FIELD_TYPES)
    assert used == set(forms.FIELD_TYPES)  # every type the generator supports is exercised by the catalogue


def test_every_item_gets_a_form_with_applicant_and_application_fields():
    sets, rules = forms.load_field_sets()
    for item in reference.load_items():
        rows = forms.expand_fields(item, sets, rules)
        keys = [r["field_key"] for r in rows]
        assert "request" in keys and "consent" in keys, item["item_code"]
        assert keys[-1] == "consent"  # the declaration comes last
        assert [r["seq"] for r in rows] == list(range(1, len(rows) + 1))
        assert {"applicant_name", "applicant_id"} <= set(keys)
        if item["category"] == "public":
            assert "credit_code" not in keys  # residents only
    food = next(i for i in reference.load_items() if i["item_code"] == "4207-SCJG-003")
    assert "business_scope" in [r["field_key"] for r in forms.expand_fields(food, sets, rules)]


@pytest.mark.parametrize("field_type,good,bad,key", [
    ("text", "鄂州市古楼街道", "", "form.required"),
    ("textarea", "申请食品经营许可，经营预包装食品。", "短", "form.too_short"),
    ("number", "120", "一百", "form.number"),
    ("date", date(2026, 12, 1), "2026-13-01", "form.date"),
    ("select", "窗口领取", "上门送达", "form.choice"),
    ("multiselect", ["预包装食品销售"], ["卖烟花"], "form.choice"),
    ("checkbox", True, False, "form.required_check"),
    ("phone", "13807110000", "12345", "form.phone"),
    ("email", "zhang@example.cn", "zhang@", "form.email"),
    ("id_number", make_resident_id("420704", date(1990, 1, 1), 12), "420704199001010120", "id.checksum"),
    ("credit_code", make_credit_code("91420700MA4F0G1H2"), "91420700MA4F0G1H21", "uscc.checksum"),
])
def test_each_field_type_accepts_good_and_refuses_bad(field_type, good, bad, key):
    rule = {"min_length": 5} if field_type == "textarea" else {}
    choices = {"select": ["窗口领取", "邮政寄递"], "multiselect": ["预包装食品销售", "散装食品销售"]}.get(field_type)
    f = field(field_type, rule=rule, choices=choices)
    assert forms.validate_field(f, good) is None
    problem = forms.validate_field(f, bad)
    assert problem is not None and problem[0] == key


def test_rules_min_max_integer_pattern_and_optional():
    assert forms.validate_field(field("number", rule={"min": 1}), "0")[0] == "form.min"
    assert forms.validate_field(field("number", rule={"max": 10}), "11")[0] == "form.max"
    assert forms.validate_field(field("number", rule={"integer": True}), "2.5")[0] == "form.integer"
    assert forms.validate_field(field("number"), "nan")[0] == "form.number"
    plate = field("text", rule={"pattern": "^鄂G[A-Z0-9]{5,6}$", "pattern_hint": "鄂GA1234B"})
    assert forms.validate_field(plate, "鄂GA12345") is None
    assert forms.validate_field(plate, "京A12345")[0] == "form.pattern"
    assert forms.validate_field(field("text", rule={"max_length": 3}), "四个字啊")[0] == "form.too_long"
    assert forms.validate_field(field("email", required=False), "") is None  # optional and empty is fine


def test_validate_ignores_the_other_applicant_kind_and_prefills():
    sets, rules = forms.load_field_sets()
    food = next(i for i in reference.load_items() if i["item_code"] == "4207-SCJG-003")
    form = [forms.FormField(seq=r["seq"], field_key=r["field_key"], label=r["label"], field_type=r["field_type"],
                            required=r["required"], applies_to=r["applies_to"], rule=r["rule"] or {},
                            choices=r["choices"] or [], help=r["help"] or "", prefill=r["prefill"])
            for r in forms.expand_fields(food, sets, rules)]
    person_id = make_resident_id("420704", date(1988, 8, 8), 7)
    values = forms.prefill(form, {"display_name": "张三", "id_number": person_id, "phone": "13807110000"}, "person")
    assert values == {"applicant_name": "张三", "applicant_id": person_id, "phone": "13807110000"}
    values.update(address="鄂城区古楼街道吴都社区1号", premises_area="35", business_scope=["预包装食品销售"],
                  request="申请食品经营许可（预包装食品销售）", delivery="窗口领取", consent=True)
    assert forms.validate(form, values, "person") == {}
    problems = forms.validate(form, values, "enterprise")
    assert set(problems) >= {"company_name", "credit_code", "legal_representative", "agent_name", "agent_id"}
    cleaned = forms.clean(form, {**values, "planned_start": date(2026, 1, 1), "stray": "x"}, "person")
    assert "stray" not in cleaned and "company_name" not in cleaned
