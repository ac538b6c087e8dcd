"""The documents issued on a case: 受理通知书, 补正材料告知书, 不予受理决定书, 准予/不予行政许可决定书, the certificate
(证照) and the payment notice (缴款通知书).

A document is issued inside the transaction of the move that causes it (`issue_for`, called by cases.perform):
its number and the facts printed on it are stored in `case_documents`, so the same PDF can be printed again at
any time and the public verification (证照核验) answers from the same row. The PDF itself is rendered on demand
by app/notices.py (WeasyPrint) — rendering is a few tenths of a second and must not hold the write lock.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app import schema as s
from app import workflow as wf
from app.db import Database
from app.permissions import Actor
from app.validators import mask_id

ID_LABELS = {"resident_id": "居民身份证号码", "credit_code": "统一社会信用代码"}
UNIT_NAMES = {"working": "工作日", "calendar": "自然日"}
PREFIX = {"acceptance": "SL", "supplement": "BZ", "refuse_intake": "BSL", "approval": "JD", "refusal": "JD"}
DATE_FIELDS = ("issued_on", "submitted_on", "accepted_on", "promised_due", "valid_from", "valid_until", "payment_due")
CERTIFICATE_YEARS = 5
KIND_OF_ACTION = {"accept": "acceptance", "request_supplement": "supplement", "refuse_intake": "refuse_intake"}


def verify_url(base_url: str, doc_no: str) -> str:
    """The public verification address a document's QR code points to."""
    return f"{base_url.rstrip('/')}/verify?{urlencode({'doc': doc_no})}"


def remedy_text(conn: Connection, unit_region: str) -> str:
    """行政复议 goes to the government at the unit's level (行政复议法 2023, art. 24); litigation within 6 months."""
    if len(unit_region) >= 6:
        name = conn.execute(sa.select(s.regions.c.name).where(s.regions.c.code == unit_region[:6])).scalar()
        body = f"{name or '区'}人民政府"
    else:
        body = "鄂州市人民政府"
    return (f"如不服本决定，可以自收到本决定书之日起六十日内向{body}申请行政复议，"
            "或者自收到本决定书之日起六个月内依法向人民法院提起行政诉讼。")


def _base_facts(conn: Connection, case: dict[str, Any], kind: str, doc_no: str, at: datetime) -> dict[str, Any]:
    item = conn.execute(sa.select(s.items).where(s.items.c.item_code == case["item_code"],
                                                 s.items.c.version == case["item_version"])).fetchone()
    # The issuer is the unit that accepted the case (it decides and answers for it), else the handling unit.
    unit_id = case.get("accepted_unit_id") or case["unit_id"]
    unit = conn.execute(sa.select(s.org_units).where(s.org_units.c.unit_id == unit_id)).fetchone()
    return {
        "kind": kind, "doc_no": doc_no, "case_no": case["case_no"], "issued_on": at.date(),
        "issuer": unit.name if unit is not None else unit_id,
        "applicant_name": case["applicant_name"],
        "applicant_id_label": ID_LABELS.get(case["applicant_id_kind"], "证件号码"),
        "applicant_id": mask_id(case["applicant_id_number"]),
        "item_name": item.name, "item_code": item.item_code, "basis": item.basis or "",
        "submitted_on": case["submitted_at"].date() if case.get("submitted_at") else None,
        "_unit_region": unit.region_code if unit is not None else "4207",
        "_item": item,
    }


def _numbered(conn: Connection, case: dict[str, Any], kind: str) -> str:
    n = conn.execute(sa.select(sa.func.count()).select_from(s.case_documents).where(
        s.case_documents.c.case_id == case["case_id"], s.case_documents.c.kind == kind)).scalar_one()
    base = f"{PREFIX[kind]}-{case['case_no']}"
    return base if n == 0 else f"{base}-{n + 1}"


def _store(conn: Connection, actor: Actor, case: dict[str, Any], facts: dict[str, Any], at: datetime) -> str:
    facts = {k: v for k, v in facts.items() if not k.startswith("_")}
    stored = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in facts.items()}
    conn.execute(s.case_documents.insert().values(doc_no=facts["doc_no"], case_id=case["case_id"], kind=facts["kind"],
                                                  issued_at=at, issued_by=actor.user_id, facts=stored, revoked=False))
    return facts["doc_no"]


def limit_text(days: int, unit: str) -> str:
    """A time limit as printed: "20个工作日", "30个自然日"."""
    return f"{days}个{UNIT_NAMES.get(unit, '工作日')}"


def _last_comment(conn: Connection, case_id: int, action: str) -> str:
    ev = s.case_events.c
    return conn.execute(sa.select(ev.comment).where(ev.case_id == case_id, ev.action == action)
                        .order_by(ev.seq.desc()).limit(1)).scalar() or ""


def years_later(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 28 February in a common year."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def issue_for(conn: Connection, actor: Actor, before: dict[str, Any], after: dict[str, Any], action: str,
              comment: str | None, payload: dict[str, Any], at: datetime) -> list[str]:
    """Issue the documents `action` brings with it; returns their numbers (for the event's payload)."""
    issued: list[str] = []
    kind = KIND_OF_ACTION.get(action)
    if kind is not None:
        facts = _base_facts(conn, after, kind, _numbered(conn, after, kind), at)
        item = facts["_item"]
        if kind == "acceptance":
            facts.update(accepted_on=at.date(), promised_due=after.get("promised_due"),
                         limit_text=limit_text(after["promised_days"], "working"),
                         statutory_text=limit_text(after["statutory_limit"], after["statutory_unit"]))
        elif kind == "supplement":
            names = dict(conn.execute(sa.select(s.item_materials.c.seq, s.item_materials.c.name).where(
                s.item_materials.c.item_code == item.item_code, s.item_materials.c.version == item.version)).all())
            notes = payload.get("notes") or {}
            facts.update(materials=[[names[m], notes.get(str(m), "")] for m in payload["materials"]],
                         free_text=(comment or "").strip(), supplement_number=after["supplement_count"])
        else:
            facts.update(reasons=(comment or "").strip(), remedy=remedy_text(conn, facts["_unit_region"]))
        issued.append(_store(conn, actor, after, facts, at))
    elif action == "complete":
        decided = before["state"]
        kind = "approval" if decided == wf.APPROVED else "refusal"
        facts = _base_facts(conn, after, kind, _numbered(conn, after, kind), at)
        item = facts["_item"]
        facts.update(result_no=after["result_no"] if decided == wf.APPROVED else "",
                     result_name=item.result_name or "", accepted_on=after["accepted_at"].date()
                     if after.get("accepted_at") else None,
                     collection=f"可在鄂州e政通“我的办件”下载，或到{facts['issuer']}窗口领取纸质文书")
        if kind == "refusal":
            facts.update(reasons=_last_comment(conn, after["case_id"], "refuse"),
                         remedy=remedy_text(conn, facts["_unit_region"]))
        issued.append(_store(conn, actor, after, facts, at))
        if decided == wf.APPROVED and item.kind == "行政许可":
            cert = _base_facts(conn, after, "certificate", after["result_no"], at)
            cert.update(result_no=after["result_no"], result_name=item.result_name or item.name,
                        valid_from=at.date(), valid_until=years_later(at.date(), CERTIFICATE_YEARS),
                        collection=facts["collection"])
            issued.append(_store(conn, actor, after, cert, at))
    elif action == "assess_fee":
        facts = _base_facts(conn, after, "payment", payload["notice_no"], at)
        facts.update(fee_lines=payload["lines"], fee_total=payload["total"],
                     payment_due=date.fromisoformat(payload["due_on"]))
        issued.append(_store(conn, actor, after, facts, at))
    return issued


# -- reading ---------------------------------------------------------------------------------------------------
def documents_of(db: Database, actor: Actor, case_id: int) -> list[dict[str, Any]]:
    """The documents issued on a case the actor may see, oldest first."""
    from app.cases import get_case

    get_case(db, actor, case_id)
    d = s.case_documents.c
    with db.read() as conn:
        rows = conn.execute(sa.select(d.doc_no, d.kind, d.issued_at, d.revoked).where(d.case_id == case_id)
                            .order_by(d.issued_at, d.doc_no)).fetchall()
    return [dict(r._mapping) for r in rows]


def notice_facts(row: Any, base_url: str) -> Any:
    from app import notices

    facts = dict(row.facts)
    for key in DATE_FIELDS:
        if facts.get(key):
            facts[key] = date.fromisoformat(facts[key])
    facts["materials"] = tuple(tuple(m) for m in facts.get("materials") or ())
    facts["fee_lines"] = tuple(notices.FeeLine(**line) for line in facts.get("fee_lines") or ())
    facts["verify_url"] = verify_url(base_url, row.doc_no)
    return notices.NoticeFacts(**facts)


def document_pdf(db: Database, actor: Actor, doc_no: str, base_url: str) -> tuple[str, bytes]:
    """(file name, PDF bytes) of an issued document, for someone who may see its case."""
    from app import notices
    from app.cases import CaseError, get_case

    with db.read() as conn:
        row = conn.execute(sa.select(s.case_documents).where(s.case_documents.c.doc_no == doc_no)).fetchone()
    if row is None:
        raise CaseError("case.not_found")
    get_case(db, actor, row.case_id)
    facts = notice_facts(row, base_url)
    return f"{doc_no}.pdf", notices.notice_pdf(facts)


def verify(db: Database, doc_no: str) -> dict[str, Any] | None:
    """What the public verification shows for a document number: enough to check a paper copy, nothing more
    (the holder's name masked after the first character, the ID masked)."""
    with db.read() as conn:
        row = conn.execute(sa.select(s.case_documents).where(s.case_documents.c.doc_no == doc_no.strip())).fetchone()
        if row is None:
            return None
        state = conn.execute(sa.select(s.cases.c.state).where(s.cases.c.case_id == row.case_id)).scalar()
    f = row.facts
    name = f.get("applicant_name") or ""
    return {"doc_no": row.doc_no, "kind": row.kind, "issued_on": f.get("issued_on"), "issuer": f.get("issuer"),
            "item_name": f.get("item_name"), "holder": name[:1] + "*" * max(len(name) - 1, 1),
            "holder_id": f.get("applicant_id"), "result_no": f.get("result_no") or "",
            "valid_until": f.get("valid_until"), "revoked": bool(row.revoked), "case_state": state}
