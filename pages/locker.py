"""材料库: the files the applicant has uploaded and the certificates issued to them, reusable in later
applications (一次采集，全程共享); expiry shown, files downloadable, the list exportable."""
from datetime import date, timedelta

import polars as pl
import streamlit as st

from app import applications, timeutil
from app import workflow as wf
from app.ui.session import tr as tx
from app.ui import session as ui
from app.ui.widgets import export_buttons, grid

actor = ui.require_roles(ui.actor(), wf.APPLICANT)
db = ui.db()
EXPIRING_DAYS = 30


def expiry(expires_on: date | None, today: date) -> str:
    if expires_on is None:
        return tx("locker.no_expiry")
    if expires_on < today:
        return tx("locker.expired")
    if expires_on <= today + timedelta(days=EXPIRING_DAYS):
        return tx("locker.expiring")
    return tx("locker.valid")


def read(file_id: int):  # noqa: ANN201
    """The file's bytes, read only when its download is clicked."""
    return lambda: applications.read_file_for(db, actor, file_id)[1]


st.title(tx("page.locker"))
entries = applications.locker(db, actor)
today = timeutil.today()
if not entries:
    st.info(tx("locker.empty"))
    st.stop()

expired = sum(1 for e in entries if e["expires_on"] is not None and e["expires_on"] < today)
expiring = sum(1 for e in entries if e["expires_on"] is not None
               and today <= e["expires_on"] <= today + timedelta(days=EXPIRING_DAYS))
if expired:
    st.warning(tx("locker.expired_count", n=expired))
if expiring:
    st.warning(tx("locker.expiring_count", n=expiring, days=EXPIRING_DAYS))

def day(d: date | None) -> str:
    return f"{d:%Y-%m-%d}" if d else ""


frame = pl.DataFrame({
    tx("locker.col_name"): [e["name"] for e in entries],
    tx("locker.col_kind"): [tx(f"locker.kind_{e['kind']}") for e in entries],
    tx("locker.col_status"): [expiry(e["expires_on"], today) for e in entries],
    tx("locker.col_expires"): [day(e["expires_on"]) for e in entries],
    tx("locker.col_certificate_no"): [e["certificate_no"] or "" for e in entries],
    tx("locker.col_file"): [e["file_name"] or "" for e in entries],
    tx("locker.col_size"): [round(e["size_bytes"] / 1024, 1) if e["size_bytes"] is not None else None for e in entries],
    tx("locker.col_issued"): [day(e["issued_on"]) for e in entries],
    tx("locker.col_added"): [f"{e['created_at']:%Y-%m-%d %H:%M}" for e in entries],
}, schema_overrides={tx("locker.col_size"): pl.Float64})
grid(frame)
export_buttons(frame, "locker", sheet="locker")

with_files = {e["locker_id"]: e for e in entries if e["file_id"] is not None}
if with_files:
    st.subheader(tx("locker.download"))
    chosen = st.selectbox(tx("locker.choose_file"), list(with_files), key="locker-pick",
                          format_func=lambda i: f"{with_files[i]['name']} · {with_files[i]['file_name']}")
    if chosen is not None:
        entry = with_files[chosen]
        st.download_button(tx("locker.download_file"), read(entry["file_id"]),
                           entry["file_name"], key="locker-download", on_click="ignore")
