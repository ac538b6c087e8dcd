"""The preview of an item design, shared by 事项管理 (pages/item_designer.py) and 公开征询意见
(pages/item_comments.py): the guide as the catalogue will print it (the catalogue's own words, i18n
catalogue.*) and the application form drawn by the same widgets as 我要办. Nothing here writes; every text
a designer typed is shown with st.text or in tables, never as Markdown or HTML.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from app import designer, forms
from app.db import Database
from app.ui import form_widgets
from app.ui.session import tr
from app.ui.widgets import MISSING, grid

LEVEL_KEYS = {"市": "city", "区": "district", "乡镇街道": "town", "村社区": "village"}
FORM_KEYS = {"原件": "original", "复印件": "copy", "原件及复印件": "both", "电子": "electronic"}


def _limit(days: int, unit: str) -> str:
    return tr("catalogue.on_the_spot") if days == 0 else tr("catalogue.days", n=days, unit=tr(f"catalogue.unit.{unit}"))


def _line(label_key: str, value: str) -> None:
    label, text = st.columns([1, 4])
    label.text(tr(label_key))
    text.text(value or MISSING)


def level_name(level: str) -> str:
    return tr(f"catalogue.level.{LEVEL_KEYS[level]}") if level in LEVEL_KEYS else level


def show_guide(g: dict[str, Any]) -> None:
    """The guide of a design (designer.preview_guide), laid out as the public guide is."""
    st.text(g["name"] or MISSING)
    st.caption(form_widgets.plain(f"{g['item_code']} · {g['kind']} · {tr('catalogue.column.' + g['category'])}"
                                  if g["category"] in designer.CATEGORIES else g["item_code"]))
    with st.container(border=True):
        st.markdown(f"**{tr('catalogue.basics')}**")
        _line("catalogue.lead_dept", g["dept"])
        if g["co_departments"]:
            _line("catalogue.co_depts", "、".join(c["name"] for c in g["co_departments"]))
        _line("catalogue.level", "、".join(level_name(lv) for lv in g["levels"]))
        _line("catalogue.conditions", g["conditions"])
        _line("catalogue.basis", g["basis"])
    with st.container(border=True):
        st.markdown(f"**{tr('catalogue.materials')}**")
        if g["materials"]:
            grid([{
                tr("catalogue.mat.seq"): m["seq"], tr("catalogue.mat.name"): m["name"],
                tr("catalogue.mat.required"): tr("catalogue.required" if m["required"] else "catalogue.optional"),
                tr("catalogue.mat.form"): (tr(f"catalogue.form.{FORM_KEYS[m['original_or_copy']]}")
                                          if m["original_or_copy"] in FORM_KEYS else m["original_or_copy"]),
                tr("catalogue.mat.formats"): "、".join(str(f).upper() for f in m["formats"]),
                tr("catalogue.mat.reuse"): m["reuse_certificate"], tr("catalogue.mat.note"): m["note"],
            } for m in g["materials"]])
        else:
            st.text(tr("catalogue.materials_none"))
    with st.container(border=True):
        st.markdown(f"**{tr('catalogue.limits')} · {tr('catalogue.fee')}**")
        _line("catalogue.statutory", _limit(g["statutory_limit"], g["statutory_unit"]))
        _line("catalogue.promised", _limit(0 if g["immediate"] else g["promised_days"], "working"))
        _line("catalogue.handling_type", tr("catalogue.type.immediate" if g["immediate"] else "catalogue.type.promised"))
        fee = g["fee"]
        if fee["charged"]:
            _line("catalogue.fee_standard", fee["text"])
            _line("catalogue.fee_basis", "；".join(fee["basis"]))
        else:
            _line("catalogue.fee", tr("catalogue.fee_none"))
    with st.container(border=True):
        st.markdown(f"**{tr('catalogue.flow')}**")
        names = [tr("catalogue.step.parallel_review", depts="、".join(s["co_departments"]))
                 if s["key"] == "parallel_review" else tr(f"catalogue.step.{s['key']}") for s in g["steps"]]
        st.text(" → ".join(names))
        st.text(tr("designer.review_steps_line", steps=" → ".join(g.get("review_steps") or [])))
        st.text(tr("catalogue.result_name") + (g["result_name"] or MISSING))


def show_form(db: Database, spec: designer.ItemSpec, prefix: str) -> None:
    """The application form the design generates, drawn as 我要办 draws it; a check button runs the form's
    own rules on what was typed into the preview (nothing is saved)."""
    fields = designer.preview_form(spec)
    if not fields:
        st.text(tr("designer.fld.none"))
        return
    form_widgets.render_form(fields, prefix)
    if st.button(tr("designer.preview_check"), key=f"{prefix}-check"):
        found = forms.validate(fields, form_widgets.collect_values(fields, prefix), "person")
        for problem in found.values():
            form_widgets.show_problem(problem)
        if not found:
            st.success(tr("designer.preview_ok"))
