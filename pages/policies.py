"""政策法规 (public): search the policy and law library by keyword, kind, issuer or item; read a document, its
file and the items it governs. /policies?doc=<id> opens one document. The maintenance section (add, edit,
repeal, link items, upload the file) shows for the administrator and the legal affairs office (市司法局) only,
and app/policies.py refuses everyone else whatever the page shows. Document text is shown with st.text."""
from __future__ import annotations

import re
from datetime import date

import polars as pl
import streamlit as st

from app import catalogue, files, policies
from app.config import ROOT
from app.db import StaleVersionError
from app.permissions import PermissionDenied
from app.ui import session as ui
from app.ui.form_widgets import plain
from app.ui.widgets import export_buttons, grid

tr = ui.tr
GUIDE_PAGE = st.Page(ROOT / "pages" / "catalogue.py", url_path="guide")


def kind_name(kind: str) -> str:
    return tr(f"policy.kind.{kind}") if kind in policies.KINDS else kind


def day(value: date | None) -> str:
    return f"{value:%Y-%m-%d}" if value else "—"


def refused(exc: Exception) -> None:
    st.error(tr(exc.key, **getattr(exc, "params", {})) if hasattr(exc, "key") else tr("policy.stale"))


def done(key: str) -> None:
    """Saved: show the page again from the database, and say so (the router shows the flash)."""
    st.session_state["ezz_flash"] = key
    st.rerun()


def results_table(found: pl.DataFrame) -> pl.DataFrame:
    return pl.DataFrame([{
        tr("policy.col.title"): r["title"], tr("policy.col.doc_no"): r["doc_no"] or "",
        tr("policy.col.kind"): kind_name(r["kind"]), tr("policy.col.issuer"): r["issuer"] or "",
        tr("policy.col.issued_on"): day(r["issued_on"]), tr("policy.col.effective_on"): day(r["effective_on"]),
        tr("policy.col.status"): tr(f"policy.status.{r['status']}"), tr("policy.col.items"): r["items"],
    } for r in found.iter_rows(named=True)])


def finder(item_names: dict[str, str]) -> pl.DataFrame:
    keyword = st.text_input(tr("policy.keyword"), key="policy_keyword")
    a, b, c, d = st.columns(4)
    kind = a.selectbox(tr("policy.kind"), [None, *policies.KINDS], key="policy_kind",
                       format_func=lambda k: tr("policy.any") if k is None else kind_name(k))
    issuer = b.selectbox(tr("policy.issuer"), [None, *policies.issuers(db)], key="policy_issuer",
                         format_func=lambda v: tr("policy.any") if v is None else v)
    item = c.selectbox(tr("policy.item"), [None, *item_names], key="policy_item",
                       format_func=lambda v: tr("policy.any") if v is None else f"{item_names[v]}（{v}）")
    status = d.selectbox(tr("policy.status"), [None, *policies.STATUSES], key="policy_status",
                         format_func=lambda v: tr("policy.any") if v is None else tr(f"policy.status.{v}"))
    found = policies.search(db, keyword=keyword or "", kind=kind, issuer=issuer, item_code=item, status=status)
    st.caption(tr("policy.found", n=found.height))
    if found.is_empty():
        st.info(tr("policy.none_found"))
        return found
    shown = results_table(found)
    grid(shown)
    export_buttons(shown, "policies")
    return found


def open_picked() -> None:
    doc_id = st.session_state.get("policy_pick")
    if doc_id is not None:
        st.query_params["doc"] = str(doc_id)


def picker(found: pl.DataFrame, current: int | None) -> None:
    ids = found["doc_id"].to_list()
    titles = dict(zip(ids, found["title"].to_list()))
    st.selectbox(tr("policy.pick"), ids, index=ids.index(current) if current in titles else None,
                 format_func=lambda i: titles[i], key="policy_pick", on_change=open_picked, placeholder=tr("common.choose"))


def show_document(doc: dict) -> None:
    st.divider()
    st.header(plain(doc["title"]))
    st.caption(plain(" · ".join(x for x in (doc["doc_no"], kind_name(doc["kind"]), doc["issuer"]) if x)))
    a, b, c = st.columns(3)
    a.metric(tr("policy.col.status"), tr(f"policy.status.{doc['status']}"))
    b.metric(tr("policy.col.issued_on"), day(doc["issued_on"]))
    c.metric(tr("policy.col.effective_on"), day(doc["effective_on"]))
    if doc["status"] == "repealed":
        st.warning(tr("policy.repealed_on", day=day(doc["repealed_on"])))
    if doc["source"] == policies.SOURCE_CATALOGUE and not doc["body"] and not doc["file_id"]:
        st.caption(tr("policy.from_catalogue"))
    if doc["file_id"]:
        st.download_button(tr("policy.download", name=doc["file_name"]),
                           data=lambda: policies.file_of(db, doc["doc_id"])[1], file_name=doc["file_name"],
                           key="policy_download", on_click="ignore")
    with st.container(border=True):
        st.subheader(tr("policy.text"))
        st.text(doc["body"] or tr("policy.no_text"))
    with st.container(border=True):
        st.subheader(tr("policy.linked_items"))
        if not doc["items"]:
            st.text(tr("policy.no_items_linked"))
        for item in doc["items"]:
            label = f"{item['name']}（{item['item_code']}）" + (f" {item['provision']}" if item["provision"] else "")
            st.page_link(GUIDE_PAGE, label=plain(label), query_params={"item": item["item_code"]})


# -- maintenance (admin, 市司法局) ---------------------------------------------------------------------------------

def document_fields(prefix: str, doc: dict | None) -> dict:
    doc = doc or {}
    title = st.text_input(tr("policy.f.title"), value=doc.get("title", ""), key=f"{prefix}_title")
    a, b, c = st.columns(3)
    kinds = list(policies.KINDS)
    kind = a.selectbox(tr("policy.kind"), kinds, index=kinds.index(doc["kind"]) if doc.get("kind") in kinds else 0,
                       format_func=kind_name, key=f"{prefix}_kind", placeholder=tr("common.choose"))
    doc_no = b.text_input(tr("policy.f.doc_no"), value=doc.get("doc_no") or "", key=f"{prefix}_doc_no")
    issuer = c.text_input(tr("policy.f.issuer"), value=doc.get("issuer") or "", key=f"{prefix}_issuer")
    has_dates = st.checkbox(tr("policy.f.has_dates"), value=bool(doc.get("issued_on")), key=f"{prefix}_has_dates")
    issued_on = effective_on = None
    if has_dates:
        d1, d2 = st.columns(2)
        issued_on = d1.date_input(tr("policy.f.issued_on"), value=doc.get("issued_on") or date.today(),
                                  min_value=date(1949, 10, 1), key=f"{prefix}_issued")
        effective_on = d2.date_input(tr("policy.f.effective_on"),
                                     value=doc.get("effective_on") or doc.get("issued_on") or date.today(),
                                     min_value=date(1949, 10, 1), key=f"{prefix}_effective")
    body = st.text_area(tr("policy.f.body"), value=doc.get("body") or "", height=200, key=f"{prefix}_body")
    return {"title": title, "kind": kind, "doc_no": doc_no, "issuer": issuer, "issued_on": issued_on,
            "effective_on": effective_on, "body": body}


def maintenance(actor, doc: dict | None) -> None:  # noqa: ANN001
    with st.expander(tr("policy.maintain"), expanded=True):
        st.subheader(tr("policy.new"))
        values = document_fields("policy_new", None)
        if st.button(tr("policy.save"), key="policy_create", type="primary"):
            try:
                doc_id = policies.create_document(db, actor, **values)
            except (policies.PolicyError, PermissionDenied) as exc:
                refused(exc)
            else:
                st.query_params["doc"] = str(doc_id)
                done("policy.created")
        if doc is None:
            return
        st.divider()
        st.subheader(tr("policy.edit"))
        st.caption(plain(doc["title"]))
        values = document_fields(f"policy_edit_{doc['doc_id']}", doc)
        left, right = st.columns(2)
        try:
            if left.button(tr("policy.save"), key="policy_update"):
                policies.update_document(db, actor, doc["doc_id"], expected_version=doc["version"], **values)
                done("policy.saved")
            if doc["status"] == "in_force" and right.button(tr("policy.repeal"), key="policy_repeal"):
                policies.repeal_document(db, actor, doc["doc_id"], expected_version=doc["version"])
                done("policy.repealed")
        except (policies.PolicyError, PermissionDenied, StaleVersionError) as exc:
            refused(exc)

        st.subheader(tr("policy.link"))
        codes = st.text_input(tr("policy.link_codes"), key="policy_link_codes")
        provision = st.text_input(tr("policy.link_provision"), key="policy_link_provision")
        if st.button(tr("policy.link"), key="policy_link"):
            try:
                policies.link_items(db, actor, doc["doc_id"], re.split(r"[\s,，、；;]+", codes or ""), provision)
            except (policies.PolicyError, PermissionDenied) as exc:
                refused(exc)
            else:
                done("policy.saved")
        linked = [i["item_code"] for i in doc["items"]]
        if linked:
            gone = st.selectbox(tr("policy.unlink"), linked, index=None, key="policy_unlink_code", placeholder=tr("common.choose"))
            if gone and st.button(tr("policy.unlink"), key="policy_unlink"):
                try:
                    policies.unlink_item(db, actor, doc["doc_id"], gone)
                except (policies.PolicyError, PermissionDenied) as exc:
                    refused(exc)
                else:
                    done("policy.unlinked")

        upload = st.file_uploader(tr("policy.upload"), type=policies.FILE_FORMATS, key="policy_upload")
        if upload is not None and st.button(tr("policy.upload"), key="policy_upload_save"):
            try:
                policies.attach_file(db, actor, doc["doc_id"], files.Upload(upload.name, upload.getvalue()))
            except files.FileRejected as exc:
                st.error(tr(exc.key, **exc.params))
            except (policies.PolicyError, PermissionDenied) as exc:
                refused(exc)
            else:
                done("policy.uploaded")


db = ui.db()
actor = ui.actor()
st.title(tr("page.policies"))
st.caption(tr("policy.intro"))
published = catalogue.search(db)
item_names = dict(zip(published["item_code"].to_list(), published["name"].to_list()))
raw = st.query_params.get("doc")
selected = int(raw) if raw and raw.isdigit() else None
with st.expander(tr("policy.find"), expanded=selected is None):
    found = finder(item_names)
    if not found.is_empty():
        picker(found, selected)
document = None
if selected is not None:
    try:
        document = policies.document(db, selected)
    except policies.PolicyError as exc:
        st.warning(tr(exc.key))
    else:
        show_document(document)
if policies.can_maintain(actor):
    maintenance(actor, document)
