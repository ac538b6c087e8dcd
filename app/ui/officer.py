"""Shared pieces of the officer's screens: run a move and keep its outcome for the next run, issued documents
with downloads, a material's preview (images as they are, PDFs as page images), the queue table."""
from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import polars as pl
import streamlit as st

from app import applications, issuing
from app.cases import CaseError
from app.db import Database, StaleVersionError, WriteConflictError
from app.files import FileRejected
from app.permissions import Actor, PermissionDenied
from app.ui import form_widgets as fw
from app.ui.session import tr
from app.workflow import WorkflowError

REFUSED = (CaseError, WorkflowError, PermissionDenied, StaleVersionError, WriteConflictError)
IMAGE_EXT = {"jpg", "jpeg", "png"}
PREVIEW_PAGES = 3


def run(do: Callable[[], Any], done_key: str, **params: Any) -> bool:
    """Make the change; keep the refusal or the success for the run that draws the case again. A stale
    screen is told the case changed — the next run shows the new state; what was typed stays in its field."""
    try:
        do()
    except REFUSED as exc:
        st.session_state["desk_error"] = fw.explain(exc)
        return False
    st.session_state["desk_notice"] = tr(done_key, **params)
    return True


def outcome() -> None:
    """Show (once) what the last move did."""
    notice = st.session_state.pop("desk_notice", None)
    error = st.session_state.pop("desk_error", None)
    if notice:
        st.success(fw.plain(notice))
    if error:
        st.error(fw.plain(error))


def issued_documents(db: Database, actor: Actor, case: dict[str, Any], key: str) -> None:
    """Each document issued on the case, with a PDF download built when clicked."""
    from app.config import load_settings

    docs = issuing.documents_of(db, actor, case["case_id"])
    if not docs:
        st.caption(tr("docs.none"))
        return
    base_url = load_settings().public_base_url
    for doc in docs:
        left, right = st.columns([3, 1])
        left.write(fw.plain(f"{tr('doc.' + doc['kind'])} · {doc['doc_no']} · {doc['issued_at']:%Y-%m-%d %H:%M}"))

        def build(doc_no: str = doc["doc_no"]) -> bytes:
            return issuing.document_pdf(db, actor, doc_no, base_url)[1]

        right.download_button(tr("docs.download"), build, f"{doc['doc_no']}.pdf", "application/pdf",
                              key=f"{key}-{doc['doc_no']}", on_click="ignore")


def pdf_pages(data: bytes, pages: int = PREVIEW_PAGES, scale: float = 1.2) -> list[bytes]:
    """The first pages of a PDF as PNG images (pypdfium2); an unreadable PDF gives none."""
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError:
        return []
    out = []
    try:
        for n in range(min(pages, len(doc))):
            image = doc[n].render(scale=scale).to_pil()
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
            out.append(buffer.getvalue())
    finally:
        doc.close()
    return out


def material_preview(db: Database, actor: Actor, file_id: int, key: str) -> None:
    try:
        name, data = applications.read_file_for(db, actor, file_id)
    except FileRejected as exc:   # e.g. an imported material: its name and hash, not the file
        st.warning(tr(exc.key))
        return
    ext = name.rsplit(".", 1)[-1].lower() if "." in name else ""
    st.download_button(tr("desk.download_file"), data, name, key=f"{key}-dl", on_click="ignore")
    if ext in IMAGE_EXT:
        st.image(data, caption=name)
    elif ext == "pdf":
        pages = pdf_pages(data)
        if not pages:
            st.warning(tr("desk.preview_failed"))
        for n, page in enumerate(pages, start=1):
            st.image(page, caption=tr("desk.page_n", n=n))
    else:
        st.caption(tr("desk.no_preview"))


def queue_table(frame: pl.DataFrame) -> pl.DataFrame:
    """The queue as the officer reads it: words for codes, 协办 marked, dates as dates."""
    if frame.is_empty():
        return frame
    out = frame.with_columns(
        pl.col("state").map_elements(lambda v: tr(f"state.{v}"), return_dtype=pl.String),
        pl.col("warning_level").map_elements(lambda v: tr(f"level.{v}") if v else "", return_dtype=pl.String),
        pl.col("channel").map_elements(lambda v: tr(f"channel.{v}"), return_dtype=pl.String),
        pl.col("co_task").map_elements(lambda v: tr("desk.co_task") if v else tr("desk.own_case"),
                                       return_dtype=pl.String),
        pl.col("holder").fill_null(""),
        # dates as dates (a due date has no time of day)
        pl.col("promised_due").cast(pl.Date).dt.strftime("%Y-%m-%d").fill_null(""),
        pl.col("task_due").cast(pl.Date).dt.strftime("%Y-%m-%d").fill_null(""),
        pl.col("submitted_at").dt.strftime("%Y-%m-%d %H:%M").fill_null(""),
    )
    # What decides the order comes first (level, due date), so it shows without scrolling.
    cols = {"case_no": "col.case_no", "warning_level": "col.level", "promised_due": "col.due", "item": "col.item",
            "state": "col.state", "applicant_name": "col.applicant", "co_task": "desk.col_kind",
            "task_due": "desk.col_task_due", "holder": "desk.col_holder", "channel": "desk.col_channel",
            "submitted_at": "col.submitted_at"}
    return out.select(list(cols)).rename({c: tr(k) for c, k in cols.items()})
