"""证照核验 (public): is this paper genuine? The QR code on every notice, decision and certificate opens this page
with its number; the page says what was issued, by whom, when, to whom (masked), and whether it still stands."""
import streamlit as st

from app import issuing
from app.ui import form_widgets as fw
from app.ui import session as ui

tr = ui.tr

st.title(tr("page.verify"))
st.caption(tr("verify.intro"))
number = st.text_input(tr("verify.doc_no"), value=st.query_params.get("doc", ""), key="verify-doc", max_chars=60)
if number.strip():
    found = issuing.verify(ui.db(), number)
    if found is None:
        st.error(tr("verify.not_found"))
    else:
        if found["revoked"]:
            st.error(tr("verify.revoked"))
        else:
            st.success(tr("verify.genuine"))
        rows = [(tr("verify.kind"), tr(f"doc.{found['kind']}")), (tr("verify.doc_no"), found["doc_no"]),
                (tr("verify.item"), found["item_name"]), (tr("verify.issuer"), found["issuer"]),
                (tr("verify.issued_on"), found["issued_on"]), (tr("verify.holder"), found["holder"]),
                (tr("verify.holder_id"), found["holder_id"])]
        if found["valid_until"]:
            rows.append((tr("verify.valid_until"), found["valid_until"]))
        for label, value in rows:
            st.text(f"{label}：{value or '—'}")
        st.caption(fw.plain(tr("verify.case_state", state=tr(f"state.{found['case_state']}"))))
