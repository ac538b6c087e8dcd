"""办事指南 (public, no sign-in): find a service by column, department, handling level, life event or keywords,
then read its guide on the same page. /guide?item=<code> opens one item's guide directly.

The rules live in app/catalogue.py; this page lays out widgets. Catalogue text (edited by departments) is
shown with st.text or in tables, never as Markdown or HTML.
"""
from __future__ import annotations

import re
from typing import Any

import polars as pl
import streamlit as st

from app import catalogue, i18n
from app import workflow as wf
from app.config import ROOT
from app.ui import session as ui
from app.ui.widgets import grid, to_xlsx

# The same absolute path the router registers (app/ui/router.py: PAGES_DIR / "apply.py").
APPLY_PAGE = ROOT / "pages" / "apply.py"
POLICIES_PAGE = st.Page(ROOT / "pages" / "policies.py", url_path="policies")
ASK_PAGE = st.Page(ROOT / "pages" / "ask.py", url_path="ask")
LEVEL_KEYS = {"市": "city", "区": "district", "乡镇街道": "town", "村社区": "village"}
EVENT_KIND_KEYS = {"人生事件": "person", "企业事件": "business"}
FORM_KEYS = {"原件": "original", "复印件": "copy", "原件及复印件": "both", "电子": "electronic"}
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=&])")


def say(key: str, **params: object) -> str:
    """The message in the user's language, from the one catalogue."""
    return i18n.t(key, ui.lang(), **params)


def plain(text: str) -> str:
    """Catalogue text made inert for the few places that only take Markdown (headers, captions)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text)


def level_name(level: str) -> str:
    return say(f"catalogue.level.{LEVEL_KEYS[level]}") if level in LEVEL_KEYS else level


def event_name(name: str) -> str:
    info = catalogue.life_event_info().get(name)
    return info.name_en if info is not None and ui.lang() == "en" and info.name_en else name


def event_option(name: str | None) -> str:
    if name is None:
        return say("catalogue.any")
    kind = catalogue.life_event_info()[name].kind
    return f"{say('catalogue.event_kind.' + EVENT_KIND_KEYS[kind])} · {event_name(name)}"


def limit_text(days: int, unit: str) -> str:
    return say("catalogue.on_the_spot") if days == 0 else say("catalogue.days", n=days, unit=say(f"catalogue.unit.{unit}"))


def with_unit(label_key: str, unit: str) -> str:
    return say("catalogue.with_unit", label=say(label_key), unit=say(f"catalogue.unit.{unit}"))


def days_value(days: int) -> str:
    return say("catalogue.on_the_spot") if days == 0 else str(days)


def yes_no(flag: bool) -> str:
    return say("catalogue.yes") if flag else say("catalogue.no")


def guide_pdf_maker() -> Any:
    """app.documents.guide_pdf when it is there (the printable guide is optional for this page)."""
    try:
        from app.documents import guide_pdf
    except (ImportError, OSError):  # not written yet, or its PDF engine's system libraries are missing
        return None
    return guide_pdf


def open_picked_item() -> None:
    code = st.session_state.get("catalogue_item")
    if code:
        st.query_params["item"] = code


# -- finding a service ---------------------------------------------------------------------------------------

def results_table(found: pl.DataFrame) -> pl.DataFrame:
    rows = [{
        say("catalogue.col.item_code"): r["item_code"],
        say("catalogue.col.name"): r["name"],
        say("catalogue.col.column"): say(f"catalogue.column.{r['category']}"),
        say("catalogue.col.dept"): r["dept"],
        say("catalogue.col.levels"): "、".join(level_name(lv) for lv in r["levels"]),
        say("catalogue.col.promised"): r["promised_days"],
        say("catalogue.col.type"): say("catalogue.type.immediate" if r["immediate"] else "catalogue.type.promised"),
        say("catalogue.col.online"): yes_no(r["fully_online"]),
        say("catalogue.col.events"): "、".join(event_name(e) for e in r["life_events"]),
    } for r in found.iter_rows(named=True)]
    return pl.DataFrame(rows)


def finder() -> pl.DataFrame:
    keyword = st.text_input(say("catalogue.keyword"), key="catalogue_keyword",
                            placeholder=say("catalogue.keyword_placeholder"), help=say("catalogue.keyword_help"))
    column = st.radio(say("catalogue.column"), ["all", *catalogue.COLUMNS], horizontal=True, key="catalogue_column",
                      format_func=lambda c: say(f"catalogue.column.{c}"))
    depts = catalogue.departments(db)
    short_names = dict(zip(depts["dept_code"].to_list(), depts["short_name"].to_list()))
    left, middle, right = st.columns(3)
    dept = left.selectbox(say("catalogue.department"), [None, *short_names], key="catalogue_dept",
                          format_func=lambda c: say("catalogue.any") if c is None else short_names.get(c, c))
    level = middle.selectbox(say("catalogue.level"), [None, *catalogue.LEVELS], key="catalogue_level",
                             format_func=lambda lv: say("catalogue.any") if lv is None else level_name(lv))
    event = right.selectbox(say("catalogue.life_event"), [None, *catalogue.life_events()], key="catalogue_event",
                            format_func=event_option)
    found = catalogue.search(db, column=None if column == "all" else column, dept_code=dept, level=level,
                             life_event=event, keyword=keyword or "")
    st.caption(say("home.search_results", n=found.height))
    if found.is_empty():
        st.info(say("catalogue.none_found"))
        return found
    shown = results_table(found)
    grid(shown, column_config={say("catalogue.col.name"): st.column_config.TextColumn(width="large")})
    csv_col, xlsx_col = st.columns(2)
    csv_col.download_button(say("export.csv"), shown.write_csv().encode("utf-8-sig"), "catalogue.csv", "text/csv",
                            key="catalogue_csv")
    xlsx_col.download_button(say("export.xlsx"), to_xlsx(shown), "catalogue.xlsx",
                             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="catalogue_xlsx")
    return found


def picker(found: pl.DataFrame) -> None:
    codes = found["item_code"].to_list()
    names = dict(zip(codes, found["name"].to_list()))
    current = st.query_params.get("item")
    st.selectbox(say("catalogue.pick"), codes, index=codes.index(current) if current in names else None,
                 format_func=lambda c: f"{names.get(c, c)}（{c}）", placeholder=say("catalogue.pick_placeholder"),
                 key="catalogue_item", on_change=open_picked_item)


# -- the guide of one item -----------------------------------------------------------------------------------

def field(label_key: str, value: str) -> None:
    label, text = st.columns([1, 4])
    label.markdown(f"**{say(label_key)}**")
    text.text(value)


def materials_table(materials: list[dict[str, Any]]) -> pl.DataFrame:
    def reuse(m: dict[str, Any]) -> str:
        if not m["reuse_certificate"]:
            return ""
        if not m["reuse_item_code"]:
            return m["reuse_certificate"]
        return say("catalogue.reuse_fmt", certificate=m["reuse_certificate"],
                   item=m["reuse_item_name"] or m["reuse_item_code"], code=m["reuse_item_code"])

    return pl.DataFrame([{
        say("catalogue.mat.seq"): m["seq"],
        say("catalogue.mat.name"): m["name"],
        say("catalogue.mat.required"): say("catalogue.required" if m["required"] else "catalogue.optional"),
        say("catalogue.mat.form"): (say(f"catalogue.form.{FORM_KEYS[m['original_or_copy']]}")
                                    if m["original_or_copy"] in FORM_KEYS else m["original_or_copy"]),
        say("catalogue.mat.formats"): "、".join(str(f).upper() for f in m["formats"]),
        say("catalogue.mat.reuse"): reuse(m),
        say("catalogue.mat.note"): m["note"],
    } for m in materials])


def flow_text(steps: list[dict[str, Any]]) -> str:
    names = [say("catalogue.step.parallel_review", depts="、".join(s["co_departments"]))
             if s["key"] == "parallel_review" else say(f"catalogue.step.{s['key']}") for s in steps]
    return " → ".join(names)


def show_guide(item_code: str) -> None:
    try:
        g = catalogue.guide(db, item_code)
    except catalogue.ItemNotPublished as exc:
        st.warning(say(exc.key))  # the code the visitor typed is not echoed
        return
    st.divider()
    st.header(plain(g["name"]))
    st.caption(plain(f"{g['item_code']} · {g['kind']} · {say('catalogue.column.' + g['category'])}"))

    a, b, c, d, e = st.columns(5)
    a.metric(with_unit("catalogue.statutory", g["statutory_unit"]), days_value(g["statutory_limit"]))
    b.metric(with_unit("catalogue.promised", "working"), days_value(0 if g["immediate"] else g["promised_days"]))
    c.metric(say("catalogue.handling_type"),
             say("catalogue.type.immediate" if g["immediate"] else "catalogue.type.promised"))
    d.metric(say("catalogue.fully_online"), yes_no(g["fully_online"]))
    e.metric(say("catalogue.fee"), say("catalogue.fee_charged" if g["fee"]["charged"] else "catalogue.fee_none"))

    guide_pdf = guide_pdf_maker()
    actor = st.session_state.get("ezz_actor")
    left, right = st.columns(2)
    if guide_pdf is not None:
        left.download_button(say("catalogue.pdf"), data=lambda: guide_pdf(db, g["item_code"]),
                             file_name=f"guide-{g['item_code']}.pdf", mime="application/pdf", key="catalogue_pdf")
    if actor is None:
        right.info(say("catalogue.sign_in_to_apply"))
        right.page_link(st.Page(ROOT / "pages" / "sign_in.py", url_path="signin"), label=say("page.sign_in"))
        right.page_link(st.Page(ROOT / "pages" / "register.py", url_path="register"), label=say("page.register"))
    if actor is not None and getattr(actor, "role", None) == wf.APPLICANT:
        if right.button(say("catalogue.apply"), type="primary", key="catalogue_apply"):
            st.session_state["ezz_apply_item"] = g["item_code"]
            st.switch_page(APPLY_PAGE, query_params={"item": g["item_code"]})

    with st.container(border=True):
        st.subheader(say("catalogue.basics"))
        field("catalogue.item_code", g["item_code"])
        field("catalogue.item_kind", g["kind"])
        field("catalogue.lead_dept", g["dept"])
        if g["co_departments"]:
            field("catalogue.co_depts", "、".join(c["name"] for c in g["co_departments"]))
        field("catalogue.level", "、".join(level_name(lv) for lv in g["levels"]))
        field("catalogue.events", "、".join(event_name(e) for e in g["life_events"]))

    with st.container(border=True):
        st.subheader(say("catalogue.conditions"))
        st.text(g["conditions"] or say("catalogue.conditions_none"))
        st.subheader(say("catalogue.basis"))
        st.text(g["basis"])
        st.markdown(f"**{say('policy.guide_docs')}**")
        if not g["basis_documents"]:
            st.caption(say("policy.guide_none"))
        for doc in g["basis_documents"]:
            label = "《" + doc["title"] + "》" + (f"（{doc['doc_no']}）" if doc["doc_no"] else "")
            label += f" {doc['provision']}" if doc["provision"] else ""
            label += f" · {say('policy.kind.' + doc['kind'])}"
            if doc["status"] != "in_force":
                label += f" · {say('policy.status.' + doc['status'])}"
            st.page_link(POLICIES_PAGE, label=plain(label), query_params={"doc": str(doc["doc_id"])})

    with st.container(border=True):
        st.subheader(say("catalogue.materials"))
        if g["materials"]:
            grid(materials_table(g["materials"]), column_config={
                say("catalogue.mat.name"): st.column_config.TextColumn(width="large"),
                say("catalogue.mat.reuse"): st.column_config.TextColumn(width="medium")})
        else:
            st.text(say("catalogue.materials_none"))
        st.caption(say("catalogue.online_note"))

    with st.container(border=True):
        st.subheader(say("catalogue.fee"))
        fee = g["fee"]
        if fee["charged"]:
            field("catalogue.fee_standard", fee["text"])
            field("catalogue.fee_basis", "；".join(fee["basis"]) or say("catalogue.fee_basis_in_text"))
        else:
            st.text(say("catalogue.fee_none"))
            if fee["basis"]:
                field("catalogue.fee_free_basis", "；".join(fee["basis"]))

    with st.container(border=True):
        st.subheader(say("catalogue.limits"))
        field("catalogue.statutory", limit_text(g["statutory_limit"], g["statutory_unit"]))
        field("catalogue.promised", limit_text(0 if g["immediate"] else g["promised_days"], "working"))
        field("catalogue.handling_type",
              say("catalogue.type.immediate" if g["immediate"] else "catalogue.type.promised"))
        if g["statutory_unit"] == "calendar" and g["statutory_limit"]:
            st.caption(say("catalogue.limit_calendar_note"))
        if not g["immediate"]:
            st.caption(say("catalogue.limit_working_note"))

    with st.container(border=True):
        st.subheader(say("catalogue.flow"))
        st.text(flow_text(g["steps"]))

    with st.container(border=True):
        st.subheader(say("inquiry.guide_qa"))
        if not g["qa"]:
            st.caption(say("inquiry.qa_none"))
        for qa in g["qa"]:
            st.markdown(f"**{plain(qa['title'])}**")
            st.text(qa["question"])
            st.text(f"{say('inquiry.answer')}：{qa['answer']}")
            st.caption(plain(say("inquiry.asked_on", asked=f"{qa['asked_on']:%Y-%m-%d}",
                                 answered=f"{qa['answered_on']:%Y-%m-%d}", dept=qa["dept_name"])))
        st.page_link(ASK_PAGE, label=say("inquiry.ask_here"), query_params={"item": g["item_code"]})

    with st.container(border=True):
        st.subheader(say("catalogue.collect"))
        st.text(say("catalogue.result_name") + g["result_name"])
        for place in g["collection"]:
            line = say(f"catalogue.collect.{place['kind']}")
            st.text(line + "、".join(place["places"]) if place["places"] else line)
        field("catalogue.departments", "、".join(g["departments"]))


db = ui.db()
st.title(say("page.catalogue"))
st.caption(say("catalogue.intro"))
selected = st.query_params.get("item")
# With a guide open (picked, or /guide?item=<code>), the finder folds away above it instead of pushing it down.
with st.expander(say("catalogue.find"), expanded=not selected):
    found = finder()
    if not found.is_empty():
        picker(found)
if selected:
    show_guide(selected)
