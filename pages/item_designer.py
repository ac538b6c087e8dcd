"""事项管理 (/designer): the legal affairs office and administrators keep every item — basic facts, materials,
form fields, steps, limits, fees, result — and move it through draft → public comment → published →
withdrawn; a department's officer or head drafts its own department's items. Previews of the guide and the
form write nothing.

The rules live in app/designer.py; this page keeps the design being edited in st.session_state (widgets
keyed "d-…", materials, fields and fees as lists) and hands it to the services on each action.
"""
from __future__ import annotations

from typing import Any

import streamlit as st

from app import designer, forms
from app import workflow as wf
from app.db import StaleVersionError, WriteConflictError
from app.designer import DesignError, FeeSpec, FieldSpec, ItemSpec, MaterialSpec
from app.permissions import PermissionDenied
from app.ui import form_widgets, item_preview
# every widget of the design also gets its seeded value as its default (form_widgets.seeded)
from app.ui.form_widgets import seeded, seeded_among, seeded_index
from app.ui import session as ui
from app.ui.widgets import MISSING, grid

tr = ui.tr
OPEN, MATS, FIELDS, FEES, FLASH, PROBLEMS = ("designer_open", "designer_materials", "designer_fields",
                                             "designer_fees", "designer_flash", "designer_problems")
SEED = "designer_seed"   # the opened design's widget values, kept apart from the widgets (given back in editor())


# -- messages ----------------------------------------------------------------------------------------------------
def message(key: str, params: dict[str, Any]) -> str:
    params = dict(params)
    if "status" in params:
        params["status"] = tr(f"designer.status.{params['status']}")
    if "move" in params:
        params["move"] = tr(f"designer.move.{params['move']}")
    try:
        return tr(key, **params)
    except (KeyError, IndexError):
        return tr(key)


def refusal(exc: Exception) -> list[str]:
    if isinstance(exc, DesignError):
        return [message(k, p) for k, p in exc.problems]
    if isinstance(exc, (StaleVersionError, WriteConflictError)):
        return [tr("designer.stale")]
    if isinstance(exc, PermissionDenied):
        return [tr(exc.key)]
    raise exc


def attempt(work, done_key: str, **params: Any) -> Any:  # noqa: ANN001
    """Run a service call from a callback; remember its outcome for the run that draws the page."""
    try:
        result = work()
    except (DesignError, StaleVersionError, WriteConflictError, PermissionDenied) as exc:
        st.session_state[PROBLEMS] = refusal(exc)
        return None
    st.session_state[PROBLEMS] = []
    st.session_state[FLASH] = tr(done_key, **{k: (v(result) if callable(v) else v) for k, v in params.items()})
    return result


# -- the design in the session ------------------------------------------------------------------------------------
def put_spec(spec: ItemSpec, info: dict[str, Any]) -> None:
    """Start editing `spec` (its widgets set from it, earlier widget values forgotten)."""
    values = {"d-code": spec.item_code, "d-name": spec.name, "d-kind": spec.kind, "d-category": spec.category,
              "d-dept": spec.dept_code or None, "d-levels": list(spec.handling_levels), "d-batch": int(spec.online_batch),
              "d-note": spec.note, "d-steps": "\n".join(spec.review_steps), "d-co": list(spec.co_dept_codes),
              "d-statutory": int(spec.statutory_limit), "d-unit": spec.statutory_unit,
              "d-promised": int(spec.promised_days), "d-immediate": bool(spec.immediate), "d-result": spec.result_name,
              "d-basis": spec.basis, "d-conditions": spec.conditions}
    form_widgets.seed_widgets(values, reset=True)
    form_widgets.clear_widgets("d-", keep=values)
    st.session_state[SEED] = values
    st.session_state[MATS], st.session_state[FIELDS] = list(spec.materials), list(spec.fields)
    st.session_state[FEES] = list(spec.fees)
    st.session_state[OPEN] = info


def spec_now() -> ItemSpec:
    get = st.session_state.get
    return ItemSpec(
        item_code=get("d-code") or "", name=get("d-name") or "", kind=get("d-kind") or "",
        category=get("d-category") or "", dept_code=get("d-dept") or "", co_dept_codes=list(get("d-co") or []),
        handling_levels=list(get("d-levels") or []), statutory_limit=int(get("d-statutory") or 0),
        statutory_unit=get("d-unit") or "working", promised_days=int(get("d-promised") or 0),
        immediate=bool(get("d-immediate")), basis=get("d-basis") or "", conditions=get("d-conditions") or "",
        fees=list(get(FEES) or []), result_name=get("d-result") or "", online_batch=int(get("d-batch") or 1),
        review_steps=[x.strip() for x in (get("d-steps") or "").splitlines() if x.strip()],
        materials=list(get(MATS) or []), fields=list(get(FIELDS) or []), note=get("d-note") or "")


def info_of(version: designer.Version) -> dict[str, Any]:
    return {"item_code": version.item_code, "version": version.version, "revision": version.revision,
            "status": version.status, "is_current": version.is_current, "dept_code": version.dept_code}


def open_version(item_code: str, version: int) -> None:
    got, spec = designer.load(db, actor, item_code, version)
    put_spec(spec, info_of(got))


def reopen(result: designer.Version | None) -> None:
    if result is not None:
        open_version(result.item_code, result.version)


# -- callbacks ----------------------------------------------------------------------------------------------------
def start_new() -> None:
    put_spec(designer.blank_spec(None if designer.is_legal_office(actor) else actor.dept_code), {"new": True})
    st.session_state[PROBLEMS] = []


def open_picked() -> None:
    code = st.session_state.get("designer_pick")
    if code:
        newest = designer.versions(db, actor, code)[0]
        open_version(code, newest.version)
        st.session_state[PROBLEMS] = []


def open_other_version() -> None:
    info = st.session_state[OPEN]
    open_version(info["item_code"], int(st.session_state["designer_version_pick"]))


def back_to_list() -> None:
    st.session_state[OPEN] = None
    st.session_state[PROBLEMS] = []
    st.session_state["designer_pick"] = None


def save() -> None:
    info, spec = st.session_state[OPEN], spec_now()
    if info.get("new"):
        reopen(attempt(lambda: designer.create_item(db, actor, spec), "designer.created", code=lambda v: v.item_code))
    else:
        reopen(attempt(lambda: designer.save_draft(db, actor, info["item_code"], info["version"], spec,
                                                   expected_revision=info["revision"]),
                       "designer.saved", version=info["version"]))


def move(name: str) -> None:
    info = st.session_state[OPEN]
    code, version, revision = info["item_code"], info["version"], info["revision"]
    if name == "withdraw":
        reason = st.session_state.get("d-withdraw-reason") or ""
        work = lambda: designer.withdraw(db, actor, code, version, expected_revision=revision, reason=reason)  # noqa: E731
    else:
        service = {"open_comment": designer.open_comment, "revise": designer.revise, "publish": designer.publish}[name]
        work = lambda: service(db, actor, code, version, expected_revision=revision)  # noqa: E731
    reopen(attempt(work, f"designer.{name}_done", version=version))


def make_new_version() -> None:
    code = st.session_state[OPEN]["item_code"]
    reopen(attempt(lambda: designer.new_version(db, actor, code), "designer.new_version_done",
                   version=lambda v: v.version))


def delete_draft() -> None:
    info = st.session_state[OPEN]
    if attempt(lambda: designer.delete_draft(db, actor, info["item_code"], info["version"]) or True, "designer.deleted"):
        back_to_list()


def add_material() -> None:
    get = st.session_state.get
    name = (get("d-m-name") or "").strip()
    if not name:
        st.session_state[PROBLEMS] = [tr("designer.material_name_required")]
        return
    st.session_state[MATS] = [*st.session_state[MATS], MaterialSpec(
        name=name, required=bool(get("d-m-required")), original_or_copy=get("d-m-form") or "复印件",
        formats=list(get("d-m-formats") or []), reuse_certificate=get("d-m-reuse-cert") or "",
        reuse_item_code=(get("d-m-reuse-item") or "").strip().upper() or None, note=get("d-m-note") or "")]
    form_widgets.seed_widgets(dict.fromkeys(("d-m-name", "d-m-reuse-cert", "d-m-reuse-item", "d-m-note"), ""), reset=True)
    st.session_state[PROBLEMS] = []


def add_field() -> None:
    get = st.session_state.get
    rule: dict[str, Any] = {}
    for key, name in (("d-f-minlen", "min_length"), ("d-f-maxlen", "max_length"), ("d-f-min", "min"), ("d-f-max", "max")):
        if get(key) is not None:
            value = get(key)
            rule[name] = int(value) if name.endswith("length") or float(value).is_integer() else float(value)
    if get("d-f-integer"):
        rule["integer"] = True
    field = FieldSpec(field_key=(get("d-f-key") or "").strip(), label=(get("d-f-label") or "").strip(),
                      field_type=get("d-f-type") or "text", required=bool(get("d-f-required")),
                      applies_to=get("d-f-applies") or "all", rule=rule,
                      choices=[c.strip() for c in (get("d-f-choices") or "").splitlines() if c.strip()],
                      help=get("d-f-help") or "")
    # The field's own rules are checked now, beside the form that adds it; the whole form again on save.
    found = designer.field_problems([*st.session_state[FIELDS], field])
    if found:
        st.session_state[PROBLEMS] = [message(k, p) for k, p in found]
        return
    st.session_state[FIELDS] = [*st.session_state[FIELDS], field]
    form_widgets.seed_widgets({**dict.fromkeys(("d-f-key", "d-f-label", "d-f-choices", "d-f-help"), ""),
                               **dict.fromkeys(("d-f-minlen", "d-f-maxlen", "d-f-min", "d-f-max")),
                               "d-f-type": "text", "d-f-integer": False}, reset=True)
    st.session_state[PROBLEMS] = []


def add_standard_fields() -> None:
    have = {(f.field_key, f.applies_to) for f in st.session_state[FIELDS]}
    extra = [f for f in designer.standard_fields(st.session_state.get("d-category") or "approval",
                                                 st.session_state.get("d-name") or "")
             if (f.field_key, f.applies_to) not in have]
    st.session_state[FIELDS] = [*st.session_state[FIELDS], *extra]
    st.session_state[FLASH] = tr("designer.fld.standard_added", n=len(extra))


def add_fee() -> None:
    get = st.session_state.get
    st.session_state[FEES] = [*st.session_state[FEES], FeeSpec(get("d-fee-name") or "", get("d-fee-standard") or "",
                                                                get("d-fee-basis") or "")]
    form_widgets.seed_widgets(dict.fromkeys(("d-fee-name", "d-fee-standard", "d-fee-basis"), ""), reset=True)


def remove(list_key: str, index: int) -> None:
    rows = list(st.session_state[list_key])
    del rows[index]
    st.session_state[list_key] = rows


# -- the list of items ----------------------------------------------------------------------------------------------
def item_list() -> None:
    left, right = st.columns([3, 1])
    keyword = left.text_input(tr("designer.search"), key="designer_keyword")
    status = right.selectbox(tr("designer.status_filter"), [None, *designer.STATUSES], key="designer_status",
                             format_func=lambda x: tr("designer.status.any" if x is None else f"designer.status.{x}"))
    rows = designer.item_list(db, actor, keyword=keyword or "", status=status)
    st.button(tr("designer.new"), key="designer_new", on_click=start_new, type="primary")
    st.caption(tr("designer.count", n=len(rows)))
    if not rows:
        st.info(tr("designer.none"))
        return
    grid([{tr("designer.col.code"): r["item_code"], tr("designer.col.name"): r["name"],
           tr("designer.col.dept"): r["dept"], tr("designer.col.version"): r["version"],
           tr("designer.col.status"): tr(f"designer.status.{r['status']}"),
           tr("designer.col.online"): r["online_version"] or MISSING, tr("designer.col.comments"): r["comments"]}
          for r in rows])
    names = {r["item_code"]: r["name"] for r in rows}
    st.selectbox(tr("designer.open"), list(names), index=None, key="designer_pick", on_change=open_picked,
                 format_func=lambda c: f"{names[c]}（{c}）", placeholder=tr("designer.open_placeholder"))


# -- the editor ---------------------------------------------------------------------------------------------------
def basics_tab(editable: bool, is_new: bool) -> None:
    depts = designer.department_choices(db)
    lead_choices = list(depts) if designer.is_legal_office(actor) else [actor.dept_code]
    st.text_input(tr("designer.code"), seeded("d-code", ""), key="d-code", help=tr("designer.code_help"),
                  disabled=not is_new)
    st.text_input(tr("designer.name"), seeded("d-name", ""), key="d-name", disabled=not editable,
                  max_chars=designer.NAME_MAX)
    a, b, c = st.columns(3)
    a.selectbox(tr("designer.kind"), designer.KINDS, seeded_index("d-kind", designer.KINDS), key="d-kind",
                disabled=not editable)
    b.selectbox(tr("designer.category"), designer.CATEGORIES, seeded_index("d-category", designer.CATEGORIES),
                key="d-category", disabled=not editable,
                format_func=lambda x: tr(f"catalogue.column.{x}"))
    c.selectbox(tr("designer.dept"), lead_choices, seeded_index("d-dept", lead_choices), key="d-dept",
                disabled=not editable,
                format_func=lambda x: depts.get(x, x), placeholder=tr("designer.open_placeholder"))
    a, b = st.columns([3, 1])
    a.multiselect(tr("designer.levels"), designer.LEVELS, seeded_among("d-levels", designer.LEVELS), key="d-levels",
                  disabled=not editable,
                  format_func=item_preview.level_name, placeholder=tr("common.choose_many"))
    b.number_input(tr("designer.batch"), min_value=1, max_value=9, value=seeded("d-batch", 1), step=1, key="d-batch",
                   disabled=not editable)
    st.text_area(tr("designer.basis"), seeded("d-basis", ""), key="d-basis", disabled=not editable, height=80)
    st.text_area(tr("designer.conditions"), seeded("d-conditions", ""), key="d-conditions", disabled=not editable,
                 height=80)
    st.text_input(tr("designer.note"), seeded("d-note", ""), key="d-note", disabled=not editable)


def materials_tab(editable: bool) -> None:
    rows: list[MaterialSpec] = st.session_state[MATS]
    if not rows:
        st.text(tr("designer.mat.none"))
    for n, m in enumerate(rows):
        left, right = st.columns([6, 1])
        left.text(tr("designer.mat.line", n=n + 1, name=m.name,
                     required=tr("designer.required" if m.required else "designer.optional"),
                     form=m.original_or_copy, formats="/".join(x.upper() for x in m.formats)))
        if editable:
            right.button(tr("designer.delete_row"), key=f"d-mat-del-{n}", on_click=remove, args=(MATS, n))
    if not editable:
        return
    with st.form("d-mat-form", border=True):
        st.text_input(tr("designer.mat.name"), key="d-m-name")
        a, b, c = st.columns([1, 2, 3])
        a.checkbox(tr("designer.mat.required"), value=True, key="d-m-required")
        b.selectbox(tr("designer.mat.form"), designer.ORIGINAL_OR_COPY, index=1, key="d-m-form")
        c.multiselect(tr("designer.mat.formats"), designer.FORMATS, default=["pdf", "jpg", "png"], key="d-m-formats", placeholder=tr("common.choose_many"))
        a, b = st.columns(2)
        a.text_input(tr("designer.mat.reuse_certificate"), key="d-m-reuse-cert")
        b.text_input(tr("designer.mat.reuse_item"), key="d-m-reuse-item")
        st.text_input(tr("designer.mat.note"), key="d-m-note")
        st.form_submit_button(tr("designer.mat.add"), on_click=add_material)


def fields_tab(editable: bool) -> None:
    rows: list[FieldSpec] = st.session_state[FIELDS]
    if not rows:
        st.text(tr("designer.fld.none"))
    for n, f in enumerate(rows):
        left, right = st.columns([6, 1])
        left.text(tr("designer.fld.line", n=n + 1, label=f.label, field=f.field_key,
                     type=tr(f"designer.fld.type.{f.field_type}") if f.field_type in forms.FIELD_TYPES else f.field_type,
                     required=tr("designer.fld.required" if f.required else "designer.fld.optional_mark"),
                     applies=tr(f"designer.fld.applies.{f.applies_to}") if f.applies_to in designer.APPLIES_TO
                     else f.applies_to))
        if f.choices:
            left.caption(form_widgets.plain(" / ".join(f.choices)))
        if editable:
            right.button(tr("designer.delete_row"), key=f"d-fld-del-{n}", on_click=remove, args=(FIELDS, n))
    if not editable:
        return
    st.button(tr("designer.fld.standard"), key="d-fld-standard", on_click=add_standard_fields)
    with st.form("d-fld-form", border=True):
        a, b = st.columns(2)
        a.text_input(tr("designer.fld.key"), key="d-f-key", help=tr("designer.fld.key_help"))
        b.text_input(tr("designer.fld.label"), key="d-f-label")
        a, b, c = st.columns(3)
        a.selectbox(tr("designer.fld.type"), forms.FIELD_TYPES, key="d-f-type",
                    format_func=lambda t: tr(f"designer.fld.type.{t}"))
        b.selectbox(tr("designer.fld.applies"), designer.APPLIES_TO, key="d-f-applies",
                    format_func=lambda t: tr(f"designer.fld.applies.{t}"))
        c.checkbox(tr("designer.fld.required"), value=True, key="d-f-required")
        st.text_area(tr("designer.fld.choices"), key="d-f-choices", height=80)
        a, b, c, d = st.columns(4)
        a.number_input(tr("designer.fld.min_length"), min_value=0, step=1, value=None, key="d-f-minlen")
        b.number_input(tr("designer.fld.max_length"), min_value=1, step=1, value=None, key="d-f-maxlen")
        c.number_input(tr("designer.fld.min"), value=None, key="d-f-min")
        d.number_input(tr("designer.fld.max"), value=None, key="d-f-max")
        st.checkbox(tr("designer.fld.integer"), key="d-f-integer")
        st.text_input(tr("designer.fld.help"), key="d-f-help")
        st.form_submit_button(tr("designer.fld.add"), on_click=add_field)


def flow_tab(editable: bool) -> None:
    depts = designer.department_choices(db)
    st.text_area(tr("designer.steps"), seeded("d-steps", ""), key="d-steps", disabled=not editable, height=80)
    st.multiselect(tr("designer.co_depts"), list(depts), seeded_among("d-co", depts), key="d-co",
                   disabled=not editable,
                   format_func=lambda x: depts.get(x, x), placeholder=tr("common.choose_many"))
    a, b, c = st.columns(3)
    a.number_input(tr("designer.statutory"), min_value=0, max_value=365, value=seeded("d-statutory", 0), step=1,
                   key="d-statutory", disabled=not editable)
    b.selectbox(tr("designer.statutory_unit"), designer.STATUTORY_UNITS,
                seeded_index("d-unit", designer.STATUTORY_UNITS), key="d-unit", disabled=not editable,
                format_func=lambda u: tr(f"catalogue.unit.{u}"))
    c.number_input(tr("designer.promised"), min_value=0, max_value=365, value=seeded("d-promised", 0), step=1,
                   key="d-promised", disabled=not editable)
    st.checkbox(tr("designer.immediate"), seeded("d-immediate", False), key="d-immediate", disabled=not editable)
    st.caption(tr("designer.limit_note"))


def fees_tab(editable: bool) -> None:
    rows: list[FeeSpec] = st.session_state[FEES]
    if not rows:
        st.text(tr("designer.fee.none"))
    for n, f in enumerate(rows):
        left, right = st.columns([6, 1])
        left.text(tr("designer.fee.line", name=f.name, standard=f.standard, basis=f.basis or "—"))
        if editable:
            right.button(tr("designer.delete_row"), key=f"d-fee-del-{n}", on_click=remove, args=(FEES, n))
    if editable:
        with st.form("d-fee-form", border=True):
            a, b = st.columns(2)
            a.text_input(tr("designer.fee.name"), key="d-fee-name")
            b.text_input(tr("designer.fee.standard"), key="d-fee-standard")
            st.text_input(tr("designer.fee.basis"), key="d-fee-basis")
            st.form_submit_button(tr("designer.fee.add"), on_click=add_fee)
    st.text_input(tr("designer.result"), seeded("d-result", ""), key="d-result", disabled=not editable)


def preview_tab() -> None:
    st.caption(tr("designer.preview_note"))
    spec = spec_now()
    st.subheader(tr("designer.preview_guide"))
    item_preview.show_guide(designer.preview_guide(db, spec))
    st.subheader(tr("designer.preview_form"))
    item_preview.show_form(db, spec, "d-preview")


def comments_tab(info: dict[str, Any]) -> None:
    rows = designer.comments(db, actor, info["item_code"])
    if not rows:
        st.text(tr("designer.comments_none"))
        return
    grid([{tr("designer.col.when"): f"{r['created_at']:%Y-%m-%d %H:%M}", tr("designer.col.version"): r["version"],
           tr("designer.col.comment"): r["content"], tr("designer.col.author"): r["author_name"] or "",
           tr("designer.col.contact"): r["contact"] or ""} for r in rows])


def versions_tab(info: dict[str, Any]) -> None:
    rows = designer.versions(db, actor, info["item_code"])

    def when(value: Any) -> str:
        return f"{value:%Y-%m-%d %H:%M}" if value else ""

    grid([{tr("designer.col.version"): v.version, tr("designer.col.status"): tr(f"designer.status.{v.status}"),
           tr("designer.col.current"): "✓" if v.is_current else "", tr("designer.col.created_at"): when(v.created_at),
           tr("designer.col.published_at"): when(v.published_at),
           tr("designer.col.withdrawn_at"): when(v.withdrawn_at)} for v in rows])
    numbers = [v.version for v in rows]
    st.session_state["designer_version_pick"] = info["version"]
    st.selectbox(tr("designer.open"), numbers, key="designer_version_pick", on_change=open_other_version)


def lifecycle(info: dict[str, Any], pending: bool) -> None:
    status, office = info["status"], designer.is_legal_office(actor)
    st.subheader(tr("designer.lifecycle"))
    cols = st.columns(4)
    if status == designer.DRAFT:
        cols[0].button(tr("designer.save"), key="d-save", on_click=save, type="primary")
        if office:
            cols[1].button(tr("designer.open_comment"), key="d-open-comment", on_click=move, args=("open_comment",))
            cols[2].button(tr("designer.publish"), key="d-publish", on_click=move, args=("publish",))
        cols[3].button(tr("designer.delete"), key="d-delete", on_click=delete_draft)
    elif status == designer.COMMENT and office:
        cols[0].button(tr("designer.revise"), key="d-revise", on_click=move, args=("revise",))
        cols[1].button(tr("designer.publish"), key="d-publish", on_click=move, args=("publish",), type="primary")
    if status in (designer.PUBLISHED, designer.WITHDRAWN) and info.get("is_current") and not pending:
        cols[0].button(tr("designer.new_version"), key="d-new-version", on_click=make_new_version)
    if status == designer.PUBLISHED and info.get("is_current") and office:
        st.text_input(tr("designer.withdraw_reason"), key="d-withdraw-reason")
        st.button(tr("designer.withdraw"), key="d-withdraw", on_click=move, args=("withdraw",))


def tab_keys(*names: str) -> Any:  # noqa: ANN401 - a context manager
    """form_widgets.sending_seeded for the widgets of one tab: keys named, or under a prefix ending in '-'."""
    return form_widgets.sending_seeded(
        lambda key: any(key == n or (n.endswith("-") and key.startswith(n)) for n in names))


def editor() -> None:
    info = st.session_state[OPEN]
    # A widget Streamlit dropped starts again from the design as opened, and values the server set reach the
    # browser even when the run that set them was stopped before drawing them (form_widgets.sending_seeded).
    # Tab by tab (tab_keys), so that a run stopped in a later tab does not send an earlier tab's values again.
    form_widgets.seed_widgets(st.session_state.get(SEED) or {})
    is_new = bool(info.get("new"))
    st.button(tr("designer.back"), key="designer_back", on_click=back_to_list)
    if is_new:
        st.subheader(tr("designer.heading_new"))
        editable, pending = True, False
    else:
        st.subheader(tr("designer.heading", name=st.session_state.get("d-name") or "", code=info["item_code"]))
        st.caption(tr("designer.version_line", version=info["version"], status=tr(f"designer.status.{info['status']}")))
        editable = info["status"] == designer.DRAFT and designer.may_edit(actor, info["dept_code"])
        pending = any(v.status in (designer.DRAFT, designer.COMMENT)
                      for v in designer.versions(db, actor, info["item_code"]))
        if not editable:
            st.info(tr("designer.read_only"))
    names = ["basics", "materials", "fields", "flow", "fees", "preview"] + ([] if is_new else ["comments", "versions"])
    tabs = dict(zip(names, st.tabs([tr(f"designer.tab.{n}") for n in names])))
    with tabs["basics"], tab_keys("d-code", "d-name", "d-kind", "d-category", "d-dept", "d-levels", "d-batch",
                                  "d-basis", "d-conditions", "d-note"):
        basics_tab(editable, is_new)
    with tabs["materials"], tab_keys("d-m-"):
        materials_tab(editable)
    with tabs["fields"], tab_keys("d-f-"):
        fields_tab(editable)
    with tabs["flow"], tab_keys("d-steps", "d-co", "d-statutory", "d-unit", "d-promised", "d-immediate"):
        flow_tab(editable)
    with tabs["fees"], tab_keys("d-fee-", "d-result"):
        fees_tab(editable)
    with tabs["preview"]:
        preview_tab()
    if not is_new:
        with tabs["comments"]:
            comments_tab(info)
        with tabs["versions"]:
            versions_tab(info)
    show_outcome()
    if is_new:
        st.button(tr("designer.save"), key="d-save", on_click=save, type="primary")
    else:
        lifecycle(info, pending)


def show_outcome() -> None:
    for text in st.session_state.get(PROBLEMS) or []:
        st.error(form_widgets.plain(text))
    flash = st.session_state.pop(FLASH, None)
    if flash:
        st.success(form_widgets.plain(flash))


# -- the screen ---------------------------------------------------------------------------------------------------
actor = ui.require_roles(ui.actor(), wf.ADMIN, wf.OFFICER, wf.HEAD)
db = ui.db()
if not designer.may_use_designer(actor):
    st.error(tr("designer.perm_designer"))
    st.stop()
st.title(tr("page.item_designer"))
if designer.is_legal_office(actor):
    st.caption(tr("designer.intro_office"))
else:
    st.caption(tr("designer.intro_dept", dept=actor.unit_name or actor.dept_code))

if st.session_state.get(OPEN):
    editor()
else:
    show_outcome()
    item_list()
