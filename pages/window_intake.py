"""窗口受理 (window intake): a window clerk files an application for an applicant who is present — find or
record the applicant, choose the item and the place, fill the generated form, record the scanned materials
received, submit, and hand over the receipt.

The form and the uploaders are app/ui/form_widgets.py's, shared with 我要办. The case is opened and submitted
(applications.file_new) only when the clerk submits, under a request key fixed by this form instance, the
applicant, the item and the place: a double click, or a run interrupted between opening and submitting,
files one case.
"""
import uuid

import streamlit as st

from app import applications, auth, catalogue, cases, files, forms, i18n, reference
from app import workflow as wf
from app.db import StaleVersionError, WriteConflictError
from app.permissions import PermissionDenied
from app.ui import form_widgets as fw
from app.ui import session as ui
from app.validators import mask_id, normalize_id, validate_credit_code, validate_resident_id

ID_KINDS = ["resident_id", "credit_code"]
REFUSED = (applications.ApplicationError, auth.AuthError, cases.CaseError, wf.WorkflowError, PermissionDenied,
           StaleVersionError, WriteConflictError)


def tr(key: str, **params: object) -> str:
    """A message of the catalogue; its params (names, file names, labels) shown as typed, not as markdown."""
    return i18n.t(key, ui.lang(), **{k: fw.plain(str(v)) for k, v in params.items()})


actor = ui.require_roles(ui.actor(), wf.WINDOW_CLERK)
db = ui.db()
state = st.session_state
instance = state.setdefault("wi_instance", uuid.uuid4().hex)
PREFIX = f"wi-{instance}"  # the widgets of this form instance (fields and uploaders)


# -- reading (through the services) -------------------------------------------------------------------------
def place_labels() -> dict[str, str]:
    """The city and every place below it, labelled by its path (鄂城区 / 凤凰街道 / 吴都社区)."""
    tree = fw.regions(db)
    names = {r["code"]: r["name"] for r in tree}
    return {reference.CITY_CODE: reference.CITY_NAME,
            **{r["code"]: " / ".join(names[r["code"][:n]] for n in (6, 9, 12) if len(r["code"]) >= n)
               for r in tree}}


def published_item(item_code: str) -> dict:
    return applications.published_item(db, item_code)


def form_of(item: dict, applicant: dict) -> tuple[list[forms.FormField], list[forms.FormField],
                                                   list[applications.Material]]:
    """The item's whole form, the fields this applicant (person or enterprise) fills, and its materials."""
    form = forms.load_form(db, item["item_code"], item["version"])
    return (form, forms.fields_for(form, forms.applicant_kind(applicant["id_kind"])),
            applications.item_materials(db, item["item_code"], item["version"]))


# -- the buttons (callbacks: they run before the page is drawn, so problems appear beside their fields) ------
def new_instance(keep_applicant: bool) -> None:
    """A fresh form (a new request key); the next applicant also clears the one found."""
    fw.clear_widgets(f"{PREFIX}-")
    for key in ("wi_done", "wi_form", "wi_problems", "wi_error", "wi_item", "wi_item_q", "wi_place"):
        state.pop(key, None)
    if not keep_applicant:
        for key in ("wi_applicant", "wi_find_id"):
            state.pop(key, None)
    state["wi_instance"] = uuid.uuid4().hex


def find_applicant() -> None:
    typed = normalize_id(state.get("wi_find_id", ""))
    kind = state.get("wi_find_kind", "resident_id")
    problem = validate_resident_id(typed) if kind == "resident_id" else validate_credit_code(typed)
    if problem:
        state["wi_error"] = tr(problem)
        return
    found = applications.find_applicant(db, actor, typed)
    if found is None:
        # Not known yet: carry what was typed into the registration form.
        state.update(wi_not_found=True, wi_reg_kind=kind, wi_reg_id=typed)
    else:
        state["wi_applicant"] = found


def register_applicant() -> None:
    try:
        applications.register_present_applicant(
            db, actor, name=state.get("wi_reg_name", ""), id_kind=state.get("wi_reg_kind", "resident_id"),
            id_number=state.get("wi_reg_id", ""), phone=state.get("wi_reg_phone") or None)
    except REFUSED as exc:
        state.update(wi_error=fw.plain(fw.explain(exc)), wi_not_found=True)
        return
    state["wi_applicant"] = applications.find_applicant(db, actor, state.get("wi_reg_id", ""))
    state["wi_notice"] = tr("intake.registered")


def submit_application(item: dict, place: str) -> None:
    applicant = state["wi_applicant"]
    form, fields, mats = form_of(item, applicant)
    kind = forms.applicant_kind(applicant["id_kind"])
    values = fw.collect_values(fields, PREFIX)
    scans = fw.material_answers(mats, PREFIX)
    state.update(wi_problems={}, wi_error=None)

    # What can be checked without opening a case is checked first, so a refused attempt leaves no draft.
    formats = {m.seq: m.formats for m in mats}
    problems = forms.validate(form, values, kind)
    for seq, upload in scans.items():
        try:
            files.check_upload(upload, formats[seq])
        except files.FileRejected as exc:
            problems[f"material_{seq}"] = (exc.key, exc.params)
    for m in applications.missing_materials(mats, set(scans)):
        problems[f"material_{m.seq}"] = ("material.missing_one", {"name": m.name})
    if problems:
        state.update(wi_problems=problems, wi_error=tr("form.invalid"))
        return

    person = cases.Applicant(name=applicant["display_name"], id_kind=applicant["id_kind"],
                             id_number=applicant["id_number"], user_id=applicant["user_id"])
    request_key = f"window-{instance}-{applicant['user_id']}-{item['item_code']}-{item['version']}-{place}"
    try:
        # Opened and submitted in one transaction (recorded with whatever else is being filed); the request key's
        # earlier case comes back instead — submitted already, or a draft an interrupted run left, submitted here.
        case = applications.file_new(db, actor, item["item_code"], item_version=item["version"], region_code=place,
                                     request_key=request_key, values=values, materials=scans, applicant=person)
        if case["state"] == wf.DRAFT:
            try:
                case = applications.submit(db, actor, case["case_id"], expected_version=case["version"],
                                           values=values, materials=scans)
            except StaleVersionError:
                case = cases.get_case(db, actor, case["case_id"])  # another run of this form got there first
                if case["state"] == wf.DRAFT:
                    raise
    except REFUSED as exc:
        state.update(wi_problems=getattr(exc, "problems", {}), wi_error=fw.plain(fw.explain(exc)))
        return
    state["wi_done"] = {"case_id": case["case_id"], "case_no": case["case_no"], "item": item["name"],
                        "name": applicant["display_name"]}
    fw.clear_widgets(f"{PREFIX}-")


def show_messages() -> None:
    """The outcome of the last click (kept display-ready: whatever came from a user is already escaped)."""
    if error := state.pop("wi_error", None):
        st.error(error)
    if notice := state.pop("wi_notice", None):
        st.success(notice)


# -- the screen -----------------------------------------------------------------------------------------------
st.title(tr("page.window_intake"))
try:
    window_id = applications.clerk_window(db, actor)
except applications.ApplicationError as exc:
    st.error(fw.plain(fw.explain(exc)))
    st.stop()
st.caption(tr("app.unit", unit=actor.unit_name or actor.unit_id or "") + "　" + tr("intake.window", window=window_id))

done = state.get("wi_done")
if done:
    st.success(tr("intake.done", case_no=done["case_no"]))
    st.caption(tr("intake.done_detail", item=done["item"], name=done["name"]))
    if not fw.document_download(db, actor, done, kind="receipt", key="wi_receipt"):
        st.info(tr("intake.receipt_unavailable"))
    left, right = st.columns(2)
    left.button(tr("intake.next_same"), on_click=new_instance, args=(True,), key="wi_next_same")
    right.button(tr("intake.next_new"), on_click=new_instance, args=(False,), key="wi_next_new")
    st.stop()

# 1. The applicant: found by identifier, or recorded here.
st.subheader(tr("intake.step_applicant"))
applicant = state.get("wi_applicant")
if applicant is None:
    st.radio(tr("auth.id_kind"), ID_KINDS, format_func=lambda k: tr(f"auth.id_kind.{k}"), horizontal=True,
             key="wi_find_kind")
    st.text_input(tr("intake.find_id_number"), key="wi_find_id")
    st.button(tr("intake.find"), on_click=find_applicant, key="wi_find")
    not_found = state.pop("wi_not_found", False)
    if not_found:
        st.info(tr("intake.not_found"))
    show_messages()
    with st.expander(tr("intake.register_title"), expanded=not_found):
        st.radio(tr("intake.register_id_kind"), ID_KINDS, format_func=lambda k: tr(f"auth.id_kind.{k}"), horizontal=True,
                 key="wi_reg_kind")
        st.text_input(tr("auth.display_name"), key="wi_reg_name")
        st.text_input(tr("intake.register_id_number"), key="wi_reg_id")
        st.text_input(tr("intake.phone"), key="wi_reg_phone")
        st.button(tr("intake.register_submit"), on_click=register_applicant, key="wi_register")
    st.stop()

st.success(tr("intake.applicant", name=applicant["display_name"], kind=tr(f"auth.id_kind.{applicant['id_kind']}"),
              id=mask_id(applicant["id_number"])))
st.button(tr("intake.change_applicant"), on_click=new_instance, args=(False,), key="wi_change_applicant")

# 2. The item (published ones only) and the place (by default the window's own region).
st.subheader(tr("intake.step_item"))
query = st.text_input(tr("intake.item_search"), key="wi_item_q")
found = catalogue.search(db, keyword=query or "")
names = dict(zip(found["item_code"], found["name"]))
if not names:
    st.info(tr("intake.no_items"))
item_code = st.selectbox(tr("intake.item"), list(names), format_func=lambda c: f"{names[c]}（{c}）", index=None,
                         placeholder=tr("intake.choose"), key="wi_item")
labels = place_labels()
home = actor.region_code if actor.region_code in labels else reference.CITY_CODE
place = st.selectbox(tr("intake.place"), [c for c in labels if c.startswith(home)], format_func=labels.get,
                     key="wi_place")
if item_code is None:
    show_messages()
    st.stop()
try:
    item = published_item(item_code)
except cases.CaseError as exc:
    st.error(fw.plain(fw.explain(exc)))
    st.stop()
st.caption(tr("intake.item_info", days=item["promised_days"]))

# 3. and 4. The generated form, prefilled from the applicant record, and the scans received.
form, fields, mats = form_of(item, applicant)
if state.get("wi_form") != (item["item_code"], item["version"]):
    # Another item: its own form starts from the applicant record, its uploaders empty.
    fw.clear_widgets(f"{PREFIX}-", keep=fw.init_fields(fields, PREFIX, forms.prefill(form, applicant), reset=True))
    fw.reset_uploads(PREFIX, mats)
    state.update(wi_form=(item["item_code"], item["version"]), wi_problems={})
problems = state.get("wi_problems") or {}

st.subheader(tr("intake.step_form"))
fw.render_form(fields, PREFIX, problems)
st.subheader(tr("intake.step_materials"))
fw.render_materials(mats, PREFIX, problems=problems)
show_messages()
st.button(tr("intake.submit"), on_click=submit_application, args=(item, place), type="primary", key="wi_submit")
