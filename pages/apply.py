"""我要办 (外网申报): choose an item, choose the place, fill the item's generated form, attach or reuse the
materials, save a draft or submit; drafts can be reopened. The services in app/ check everything.

One form instance lives in st.session_state[STATE]: the item, a request key made when the instance began
(applications.start is idempotent on it, so a repeated click cannot file twice), the draft's id and the
version last read (a second submit of that version is refused), and the outcome of the last click.
"""
import uuid

import polars as pl
import streamlit as st

from app import applications, cases, catalogue, forms, timeutil
from app import workflow as wf
from app.applications import ApplicationError
from app.cases import CaseError
from app.db import StaleVersionError, WriteConflictError
from app.ui.session import tr as tx
from app.permissions import PermissionDenied
from app.ui import form_widgets as fw
from app.ui import session as ui
from app.workflow import WorkflowError
from app.ui.widgets import grid

actor = ui.require_roles(ui.actor(), wf.APPLICANT)
db = ui.db()

PREFIX = "apply-form"  # the widgets of one form instance (the item picker is not among them)
STATE = "apply_form"
REFUSED = (ApplicationError, CaseError, WorkflowError, PermissionDenied, WriteConflictError)


# -- reading (through the services) -----------------------------------------------------------------------
def published_item(item_code: str) -> dict:
    return applications.published_item(db, item_code)


def item_at(item_code: str, version: int) -> dict:
    return applications.item_at(db, item_code, version)


account = applications.account(db, actor.user_id)
kind = forms.applicant_kind(account.get("id_kind"))


def form_of(state: dict) -> tuple[list[forms.FormField], list[applications.Material]]:
    form = forms.load_form(db, state["item_code"], state["item_version"])
    return forms.fields_for(form, kind), applications.item_materials(db, state["item_code"], state["item_version"])


# -- form instances -----------------------------------------------------------------------------------------
def begin(state: dict, initial: dict) -> None:
    """Make `state` the form instance and start its widgets from `initial`."""
    st.session_state[STATE] = {**state, "initial": initial}
    fields, mats = form_of(state)
    fw.clear_widgets(f"{PREFIX}-", keep=fw.init_fields(fields, PREFIX, initial, reset=True))
    fw.reset_uploads(PREFIX, mats)


def begin_new(item: dict) -> None:
    form = forms.load_form(db, item["item_code"], item["version"])
    begin({"item_code": item["item_code"], "item_version": item["version"], "case_id": None, "case_no": None,
           "version": None, "region_code": None, "request_key": uuid.uuid4().hex},
          forms.prefill(form, account))


def begin_draft(case: dict) -> None:
    begin({"item_code": case["item_code"], "item_version": case["item_version"], "case_id": case["case_id"],
           "case_no": case["case_no"], "version": case["version"], "region_code": case["region_code"],
           "request_key": case.get("request_key")}, case.get("form_data") or {})


def open_draft(case_id: int) -> None:
    try:
        case = cases.get_case(db, actor, case_id)
    except CaseError as exc:
        st.session_state["apply_error"] = fw.explain(exc)
        return
    if case["state"] != wf.DRAFT:
        st.session_state[STATE] = {**submitted_state(case), "repeated": True}
        return
    begin_draft(case)


def start_over() -> None:
    for key in (STATE, "apply-item", "apply-url-item"):
        st.session_state.pop(key, None)
    fw.clear_widgets(f"{PREFIX}-")


def submitted_state(case: dict) -> dict:
    return {"item_code": case["item_code"], "item_version": case["item_version"], "case_id": case["case_id"],
            "case_no": case["case_no"], "version": case["version"], "submitted": True}


# -- the buttons (callbacks: they run before the page is drawn, so problems appear beside their fields) ------
def act(action: str) -> None:
    state = st.session_state[STATE]
    fields, mats = form_of(state)
    values = fw.collect_values(fields, PREFIX)
    answers = fw.material_answers(mats, PREFIX)
    state.update(problems={}, error=None, notice=None)
    try:
        if state["case_id"] is None:
            region = fw.chosen_region(PREFIX)
            if region is None:
                state["error"] = tx("apply.choose_place")
                return
            if action == "submit":
                # Opened and submitted in one transaction, checked before anything is written: a refused first
                # submit leaves no draft behind. A request key that opened a case already (a double click, a draft
                # saved before) gives that case back, marked repeated.
                case = applications.file_new(db, actor, state["item_code"], item_version=state["item_version"],
                                             region_code=region, request_key=state["request_key"], values=values,
                                             materials=answers)
                if not case.get("repeated"):
                    st.session_state[STATE] = {**submitted_state(case), "repeated": False}
                    fw.clear_widgets(f"{PREFIX}-")
                    return
                # the key's earlier case: submitted already (shown below as repeated), or a draft to submit
            else:
                case = applications.start(db, actor, state["item_code"], region_code=region,
                                          request_key=state["request_key"])
            state.update(case_id=case["case_id"], case_no=case["case_no"], version=case["version"],
                         region_code=case["region_code"])
            if case["state"] != wf.DRAFT:  # the same request came twice: the first one already submitted
                st.session_state[STATE] = {**submitted_state(case), "repeated": True}
                return
        elif action == "submit" and already_submitted(state):
            return
        if action == "save":
            case = applications.save_draft(db, actor, state["case_id"], expected_version=state["version"],
                                           values=values, materials=answers)
            state.update(version=case["version"], initial=values,
                         notice=tx("apply.draft_saved", case_no=state["case_no"]))
            fw.reset_uploads(PREFIX, mats)
        else:
            case = applications.submit(db, actor, state["case_id"], expected_version=state["version"],
                                       values=values, materials=answers)
            st.session_state[STATE] = {**submitted_state(case), "repeated": False}
            fw.clear_widgets(f"{PREFIX}-")
    except (ApplicationError, StaleVersionError, WorkflowError) as exc:
        if action == "submit" and already_submitted(state):
            return
        state["problems"] = getattr(exc, "problems", {})
        state["error"] = fw.explain(exc)
    except REFUSED as exc:
        state["error"] = fw.explain(exc)


def already_submitted(state: dict) -> bool:
    """A second submit of a form already submitted (a double click, another tab): show the first one's
    case number instead of an error."""
    if state.get("case_id") is None:
        return False
    case = cases.get_case(db, actor, state["case_id"])
    if case["state"] == wf.DRAFT:
        return False
    st.session_state[STATE] = {**submitted_state(case), "repeated": True}
    return True


# -- the screen -----------------------------------------------------------------------------------------------
st.title(tx("page.apply"))

# ?case=<case_no> reopens one of the applicant's drafts; someone else's number is simply not found.
url_case = st.query_params.get("case")
if url_case and st.session_state.get("apply-url-case") != url_case:
    st.session_state["apply-url-case"] = url_case
    mine = {c["case_no"]: c for c in applications.my_cases(db, actor)}
    if url_case.strip() in mine:
        open_draft(mine[url_case.strip()]["case_id"])
    else:
        st.session_state["apply_error"] = tx("case.not_found")
error = st.session_state.pop("apply_error", None)
if error:
    st.error(fw.plain(error))

state = st.session_state.get(STATE)
if state and state.get("submitted") and st.query_params.get("item") not in (None, state["item_code"]):
    start_over()  # arrived from another item's guide: a new application
    state = None

if state and state.get("submitted"):
    key = "apply.already_submitted" if state.get("repeated") else "apply.submitted"
    st.success(tx(key, case_no=state["case_no"]))
    case = cases.get_case(db, actor, state["case_id"])
    if not fw.document_download(db, actor, case, kind="receipt", key="apply-receipt"):
        st.caption(tx("apply.receipt_later"))
    fw.page_link("my_cases.py", tx("apply.to_my_cases"), {"case": state["case_no"]})
    st.button(tx("apply.another"), key="apply-another", on_click=start_over)
    st.stop()

drafts = [c for c in applications.my_cases(db, actor) if c["state"] == wf.DRAFT]
if drafts:
    with st.expander(tx("apply.drafts", n=len(drafts)), expanded=state is None):
        for d in drafts:
            left, right = st.columns([4, 1])
            created = tx("apply.created_at", at=f"{d['created_at']:%Y-%m-%d %H:%M}")
            left.text(f"{d['case_no']}  {d['item']}  {created}")
            right.button(tx("apply.continue"), key=f"apply-open-{d['case_id']}", on_click=open_draft,
                         args=(d["case_id"],))

if state is None or state.get("case_id") is None:
    # Choose an item: by keyword over the published catalogue, or from ?item=<code>.
    url_item = st.query_params.get("item")
    if url_item:
        try:
            published_item(url_item)
            if st.session_state.get("apply-url-item") != url_item:
                st.session_state["apply-url-item"] = url_item
                st.session_state["apply-item"] = url_item
        except CaseError as exc:
            st.error(fw.plain(fw.explain(exc)))
    search = st.text_input(tx("apply.search"), key="apply-search", placeholder=tx("apply.search_hint"))
    found = catalogue.search(db, keyword=search or "")
    labels = {r["item_code"]: f"{r['name']}（{r['item_code']}）" for r in found.iter_rows(named=True)}
    chosen_code = st.session_state.setdefault("apply-item", None)  # nothing chosen until the applicant chooses
    if chosen_code and chosen_code not in labels:
        try:
            item = published_item(chosen_code)
            labels = {chosen_code: f"{item['name']}（{chosen_code}）", **labels}
        except CaseError:
            st.session_state["apply-item"] = None
    if not labels:
        st.info(tx("apply.no_items"))
    chosen_code = st.selectbox(tx("apply.item"), list(labels), key="apply-item", format_func=labels.get,
                               placeholder=tx("apply.choose_item"))
    if chosen_code is None:
        st.stop()
    try:
        item = published_item(chosen_code)
    except CaseError as exc:
        st.error(fw.plain(fw.explain(exc)))
        st.stop()
    if state is None or state["item_code"] != chosen_code or state["item_version"] != item["version"]:
        begin_new(item)
        state = st.session_state[STATE]
else:
    item = item_at(state["item_code"], state["item_version"])
    st.info(tx("apply.editing_draft", case_no=state["case_no"]))
    st.button(tx("apply.new_application"), key="apply-new", on_click=start_over)

fields, mats = form_of(state)
fw.init_fields(fields, PREFIX, state["initial"])  # widgets forgotten while on another page start again

# The item in brief: limits, fees, materials.
st.subheader(fw.plain(item["name"]))
unit = tx(f"apply.unit_{item['statutory_unit']}")
facts = [tx("apply.code", code=item["item_code"]), item["kind"],
         tx("apply.immediate") if item["immediate"] else tx("apply.promised", n=item["promised_days"]),
         tx("apply.statutory", n=item["statutory_limit"], unit=unit),
         tx("apply.fee", fee=item["fee_text"]) if item["charges_fee"] and item["fee_text"] else tx("apply.free")]
st.caption(fw.plain(" · ".join(facts)))
if item.get("conditions"):
    with st.expander(tx("apply.conditions")):
        st.text(item["conditions"])
grid(pl.DataFrame({
    tx("apply.col_seq"): [m.seq for m in mats],
    tx("apply.col_material"): [m.name for m in mats],
    tx("apply.col_required"): [tx("materials.required") if m.required else tx("materials.optional") for m in mats],
    tx("apply.col_original"): [m.original_or_copy for m in mats],
    tx("apply.col_formats"): ["、".join(f.upper() for f in m.formats) for m in mats],
}, schema={tx("apply.col_seq"): pl.Int64, tx("apply.col_material"): pl.String, tx("apply.col_required"): pl.String,
           tx("apply.col_original"): pl.String, tx("apply.col_formats"): pl.String}))

problems = state.get("problems") or {}

st.subheader(tx("apply.place"))
if state["case_id"] is None:
    fw.pick_region(db, PREFIX, account.get("region_code"))
else:
    st.text(fw.region_name(db, state["region_code"]))

st.subheader(tx("apply.form"))
fw.render_form(fields, PREFIX, problems)

st.subheader(tx("apply.materials"))
provided = applications.provided_materials(db, actor, state["case_id"]) if state["case_id"] else {}
fw.render_materials(mats, PREFIX, provided=provided, locker=applications.locker(db, actor), problems=problems,
                    today=timeutil.today())

if state.get("error"):
    st.error(fw.plain(state["error"]))
if state.get("notice"):
    st.success(fw.plain(state["notice"]))
left, right = st.columns(2)
left.button(tx("apply.save"), key="apply-save", on_click=act, args=("save",), width="stretch")
right.button(tx("apply.submit"), key="apply-submit", on_click=act, args=("submit",), type="primary",
             width="stretch")
