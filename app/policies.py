"""The policy and law library (政策法规, 信息公开): laws, administrative regulations, departmental rules, local
regulations and policy notices, with their text and/or a stored file, linked to the items they govern.

This module owns the library's rules: what a document must have (a title, a known kind), who keeps it (the
administrator and the legal affairs office — the staff of 市司法局 `SFJ`, successor of the 法制办), which files it
takes (PDF, DOCX, TXT, checked by app/files.py), that a link names an item of the catalogue, and the search.

Seed (`seed_from_catalogue`, called by pipelines/seed_reference.py): the titles in 《…》 of every item's `basis`
text become documents linked to that item, with the article cited after the title as the link's provision
(`《中华人民共和国律师法》第五条、第六条`). Provenance: the titles, the kinds, the issuers and document numbers are
read from the catalogue's basis text (data/reference/catalog, see its PROVENANCE.md) by the rules in
`classify` — the library does not ship the documents' texts: those, the dates and any correction of the kind or
issuer are to be added by the legal affairs office through 政策法规's maintenance section. An item whose links
the office already keeps is left alone by the seed, so a re-run never undoes their work.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app import audit, files, timeutil
from app import schema as s
from app import workflow as wf
from app.db import Database, update_versioned
from app.permissions import Actor, PermissionDenied

LEGAL_AFFAIRS_DEPT = "SFJ"   # 市司法局: keeps the library (the former 法制办's duties)
KINDS = ("law", "admin_regulation", "dept_rule", "local_regulation", "policy_notice")
STATUSES = ("in_force", "repealed")
FILE_FORMATS = ["pdf", "docx", "txt"]
SOURCE_CATALOGUE = "catalogue_basis"
SOURCE_MANUAL = "manual"
MAX_TITLE = 200
MAX_SHORT = 100
MAX_BODY = 200_000

_BASIS_RE = re.compile(r"《([^《》]+)》(?:（([^（）]*)）)?([^；;《]*)")
_NOTICE_ENDINGS = ("通知", "意见", "公告", "决定", "目录", "指导意见")
_RULE_ENDINGS = ("办法", "规定", "细则", "规则", "办法（试行）")


class PolicyError(ValueError):
    def __init__(self, key: str, **params: Any):
        super().__init__(key)
        self.key = key
        self.params = params


def can_maintain(actor: Actor | None) -> bool:
    """The administrator, and the legal affairs office: officers and heads of 市司法局."""
    if actor is None:
        return False
    return actor.role == wf.ADMIN or (actor.role in (wf.OFFICER, wf.HEAD) and actor.dept_code == LEGAL_AFFAIRS_DEPT)


def _require_maintainer(actor: Actor | None) -> Actor:
    if not can_maintain(actor):
        raise PermissionDenied("policy.perm")
    assert actor is not None
    return actor


# -- seed: the catalogue's basis text ---------------------------------------------------------------------------

@dataclass(frozen=True)
class BasisReference:
    title: str
    kind: str
    issuer: str | None
    doc_no: str | None
    provision: str


def classify(title: str, note: str = "") -> tuple[str, str | None, str | None]:
    """(kind, issuer, doc_no) of a title cited in a basis text, with the parenthesis after it (`note`):
    `（国务院令第412号）` is a document number of the State Council, `（司法部令）` names a ministry's rule."""
    doc_no = note if "号" in note else None
    ministry = note[:-1] if note.endswith("令") and "号" not in note else None
    if note.startswith("国务院令"):
        return "admin_regulation", "国务院", doc_no
    if title.startswith("湖北省"):
        return "local_regulation", "湖北省人民代表大会常务委员会", doc_no
    if title.startswith("中华人民共和国") and title.endswith("法典"):
        return "law", "全国人民代表大会", doc_no
    if title.startswith("中华人民共和国") and title.endswith("法"):
        return "law", "全国人民代表大会常务委员会", doc_no
    if title.endswith("条例"):
        return "admin_regulation", "国务院", doc_no
    if "关于" in title or title.endswith(_NOTICE_ENDINGS):
        prefix = title.split("关于", 1)[0].strip() if "关于" in title else ""
        if not prefix and title.startswith("国务院"):
            prefix = "国务院办公厅" if title.startswith("国务院办公厅") else "国务院"
        return "policy_notice", prefix or ministry, doc_no
    return "dept_rule", ministry, doc_no


def parse_basis(text: str) -> list[BasisReference]:
    """The documents a basis text cites, each once, in order: `《title》（note）provision；…`."""
    out: dict[str, BasisReference] = {}
    for title, note, rest in _BASIS_RE.findall(text or ""):
        title = title.strip()
        if not title or title in out:
            continue
        kind, issuer, doc_no = classify(title, note.strip())
        provision = rest.strip(" 、，,。")[:MAX_SHORT]
        out[title] = BasisReference(title, kind, issuer, doc_no, provision)
    return list(out.values())


def seed_from_catalogue(conn: Connection, now: datetime | None = None) -> dict[str, int]:
    """Documents and links from the basis text of every current item; idempotent (see the module docstring)."""
    now = now or timeutil.now()
    d, lk, it = s.policy_documents.c, s.policy_item_links.c, s.items.c
    items = conn.execute(sa.select(it.item_code, it.basis).where(it.is_current).order_by(it.item_code)).fetchall()
    kept = {r[0] for r in conn.execute(sa.select(lk.item_code).distinct())}
    by_title = {r.title: r.doc_id for r in conn.execute(sa.select(d.doc_id, d.title).order_by(d.doc_id.desc()))}
    added_docs = added_links = 0
    for item in items:
        if item.item_code in kept:
            continue
        for ref in parse_basis(item.basis or ""):
            doc_id = by_title.get(ref.title)
            if doc_id is None:
                doc_id = conn.execute(s.policy_documents.insert().values(
                    title=ref.title, doc_no=ref.doc_no, kind=ref.kind, issuer=ref.issuer, status="in_force",
                    source=SOURCE_CATALOGUE, created_at=now, updated_at=now, version=1,
                ).returning(d.doc_id)).scalar_one()
                by_title[ref.title] = doc_id
                added_docs += 1
            conn.execute(s.policy_item_links.insert().values(doc_id=doc_id, item_code=item.item_code,
                                                             provision=ref.provision or None, linked_at=now))
            added_links += 1
    return {"policy_documents_added": added_docs, "policy_links_added": added_links}


# -- reading ---------------------------------------------------------------------------------------------------

SEARCH_COLUMNS = {"doc_id": pl.Int64, "title": pl.String, "doc_no": pl.String, "kind": pl.String,
                  "issuer": pl.String, "issued_on": pl.Date, "effective_on": pl.Date, "status": pl.String,
                  "items": pl.Int64}


def search(db: Database, *, keyword: str = "", kind: str | None = None, issuer: str | None = None,
           item_code: str | None = None, status: str | None = None) -> pl.DataFrame:
    """Documents matching every filter: each keyword (space separated) in the title, number, issuer or text;
    in-force documents first, then by title. User text is a bound parameter, never SQL."""
    d, lk = s.policy_documents.c, s.policy_item_links.c
    counts = (sa.select(lk.doc_id, sa.func.count().label("n")).group_by(lk.doc_id)).subquery()
    q = (sa.select(d.doc_id, d.title, d.doc_no, d.kind, d.issuer, d.issued_on, d.effective_on, d.status,
                   sa.func.coalesce(counts.c.n, 0).label("items"))
         .select_from(s.policy_documents.outerjoin(counts, counts.c.doc_id == d.doc_id)))
    for word in (keyword or "").split():
        pattern = f"%{word.lower()}%"
        q = q.where(sa.or_(*(sa.func.lower(sa.func.coalesce(col, "")).like(pattern)
                             for col in (d.title, d.doc_no, d.issuer, d.body))))
    if kind:
        q = q.where(d.kind == kind)
    if issuer:
        q = q.where(d.issuer == issuer)
    if status:
        q = q.where(d.status == status)
    if item_code:
        q = q.where(d.doc_id.in_(sa.select(lk.doc_id).where(lk.item_code == item_code)))
    q = q.order_by(sa.case((d.status == "in_force", 0), else_=1), d.title, d.doc_id)
    with db.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(q)]
    return pl.DataFrame(rows, schema=SEARCH_COLUMNS, orient="row")


def issuers(db: Database) -> list[str]:
    d = s.policy_documents.c
    with db.read() as conn:
        return [r[0] for r in conn.execute(sa.select(d.issuer).where(d.issuer.is_not(None)).distinct()
                                           .order_by(d.issuer))]


def linked_items(conn: Connection, doc_id: int) -> list[dict[str, Any]]:
    lk, it = s.policy_item_links.c, s.items.c
    rows = conn.execute(sa.select(lk.item_code, lk.provision, it.name)
                        .select_from(s.policy_item_links.outerjoin(
                            s.items, sa.and_(it.item_code == lk.item_code, it.is_current)))
                        .where(lk.doc_id == doc_id).order_by(lk.item_code))
    return [{"item_code": r.item_code, "name": r.name or r.item_code, "provision": r.provision or ""} for r in rows]


def document(db: Database, doc_id: int) -> dict[str, Any]:
    """One document with its linked items and its file's name; PolicyError('policy.unknown') if none."""
    d, f = s.policy_documents.c, s.stored_files.c
    with db.read() as conn:
        row = conn.execute(sa.select(s.policy_documents, f.file_name, f.size_bytes)
                           .select_from(s.policy_documents.outerjoin(s.stored_files, f.file_id == d.file_id))
                           .where(d.doc_id == doc_id)).fetchone()
        if row is None:
            raise PolicyError("policy.unknown")
        out = dict(row._mapping)
        out["items"] = linked_items(conn, doc_id)
    return out


def documents_for_item(db: Database, item_code: str) -> list[dict[str, Any]]:
    """The documents an item's guide lists as its basis: in force first, then by kind (law first) and title."""
    d, lk = s.policy_documents.c, s.policy_item_links.c
    with db.read() as conn:
        rows = conn.execute(sa.select(d.doc_id, d.title, d.doc_no, d.kind, d.issuer, d.status, lk.provision)
                            .select_from(s.policy_item_links.join(s.policy_documents, d.doc_id == lk.doc_id))
                            .where(lk.item_code == item_code)).fetchall()
    docs = [dict(r._mapping) for r in rows]
    docs.sort(key=lambda x: (x["status"] != "in_force", KINDS.index(x["kind"]) if x["kind"] in KINDS else 9,
                             x["title"]))
    return docs


def file_of(db: Database, doc_id: int) -> tuple[str, bytes]:
    """The document's stored file (name, bytes); PolicyError('policy.no_file') when it has none."""
    with db.read() as conn:
        file_id = conn.execute(sa.select(s.policy_documents.c.file_id)
                               .where(s.policy_documents.c.doc_id == doc_id)).scalar()
        if file_id is None:
            raise PolicyError("policy.no_file")
        row, data = files.read(conn, int(file_id))
    return row.file_name, data


# -- maintenance ------------------------------------------------------------------------------------------------

def _text(value: str | None, limit: int, key: str) -> str | None:
    value = (value or "").strip()
    if len(value) > limit:
        raise PolicyError(key, n=limit)
    return value or None


def _checked(title: str, doc_no: str | None, kind: str, issuer: str | None, issued_on: date | None,
             effective_on: date | None, body: str | None) -> dict[str, Any]:
    clean_title = (title or "").strip()
    if not clean_title:
        raise PolicyError("policy.title_missing")
    if len(clean_title) > MAX_TITLE:
        raise PolicyError("policy.title_too_long", n=MAX_TITLE)
    if kind not in KINDS:
        raise PolicyError("policy.kind_unknown")
    if issued_on and effective_on and effective_on < issued_on:
        raise PolicyError("policy.dates_order")
    return {"title": clean_title, "doc_no": _text(doc_no, MAX_SHORT, "policy.field_too_long"), "kind": kind,
            "issuer": _text(issuer, MAX_SHORT, "policy.field_too_long"), "issued_on": issued_on,
            "effective_on": effective_on, "body": _text(body, MAX_BODY, "policy.body_too_long")}


def create_document(db: Database, actor: Actor, *, title: str, kind: str, doc_no: str | None = None,
                    issuer: str | None = None, issued_on: date | None = None, effective_on: date | None = None,
                    body: str | None = None) -> int:
    """A new document in force; returns its id."""
    _require_maintainer(actor)
    values = _checked(title, doc_no, kind, issuer, issued_on, effective_on, body)
    now = timeutil.now()

    def work(conn: Connection) -> int:
        doc_id = int(conn.execute(s.policy_documents.insert().values(
            **values, status="in_force", source=SOURCE_MANUAL, created_at=now, created_by=actor.user_id,
            updated_at=now, updated_by=actor.user_id, version=1).returning(s.policy_documents.c.doc_id)).scalar_one())
        audit.record(conn, "policy_created", user_id=actor.user_id, username=actor.username,
                     detail={"doc_id": doc_id, "title": values["title"]})
        return doc_id

    return db.write(work)


def update_document(db: Database, actor: Actor, doc_id: int, *, expected_version: int, title: str, kind: str,
                    doc_no: str | None = None, issuer: str | None = None, issued_on: date | None = None,
                    effective_on: date | None = None, body: str | None = None) -> int:
    """Change a document's facts and text (a stale screen is refused); returns the new version."""
    _require_maintainer(actor)
    values = _checked(title, doc_no, kind, issuer, issued_on, effective_on, body)

    def work(conn: Connection) -> int:
        _existing(conn, doc_id)
        version = update_versioned(conn, s.policy_documents, {"doc_id": doc_id}, expected_version,
                                   {**values, "updated_at": timeutil.now(), "updated_by": actor.user_id})
        audit.record(conn, "policy_updated", user_id=actor.user_id, username=actor.username,
                     detail={"doc_id": doc_id, "version": version})
        return version

    return db.write(work)


def repeal_document(db: Database, actor: Actor, doc_id: int, *, expected_version: int,
                    repealed_on: date | None = None) -> int:
    """已废止: the document stays in the library (and on the guides, marked repealed), never deleted."""
    _require_maintainer(actor)
    repealed_on = repealed_on or timeutil.today()

    def work(conn: Connection) -> int:
        if _existing(conn, doc_id).status == "repealed":
            raise PolicyError("policy.already_repealed")
        version = update_versioned(conn, s.policy_documents, {"doc_id": doc_id}, expected_version, {
            "status": "repealed", "repealed_on": repealed_on, "updated_at": timeutil.now(),
            "updated_by": actor.user_id})
        audit.record(conn, "policy_repealed", user_id=actor.user_id, username=actor.username,
                     detail={"doc_id": doc_id, "repealed_on": repealed_on})
        return version

    return db.write(work)


def _existing(conn: Connection, doc_id: int) -> Any:
    row = conn.execute(sa.select(s.policy_documents).where(s.policy_documents.c.doc_id == doc_id)).fetchone()
    if row is None:
        raise PolicyError("policy.unknown")
    return row


def link_items(db: Database, actor: Actor, doc_id: int, item_codes: list[str], provision: str = "") -> int:
    """Link the document to items of the catalogue (any code unknown: nothing is linked); returns how many
    links are new. A link that exists gets the provision given."""
    _require_maintainer(actor)
    codes = sorted({c.strip() for c in item_codes if c and c.strip()})
    if not codes:
        raise PolicyError("policy.no_items")
    provision_text = _text(provision, MAX_SHORT, "policy.field_too_long")
    lk = s.policy_item_links.c

    def work(conn: Connection) -> int:
        _existing(conn, doc_id)
        known = {r[0] for r in conn.execute(sa.select(s.items.c.item_code).where(s.items.c.item_code.in_(codes)))}
        unknown = [c for c in codes if c not in known]
        if unknown:
            raise PolicyError("policy.item_unknown", codes="、".join(unknown))
        have = {r[0] for r in conn.execute(sa.select(lk.item_code).where(lk.doc_id == doc_id, lk.item_code.in_(codes)))}
        now = timeutil.now()
        new = [c for c in codes if c not in have]
        if new:
            conn.execute(s.policy_item_links.insert(), [
                {"doc_id": doc_id, "item_code": c, "provision": provision_text, "linked_at": now,
                 "linked_by": actor.user_id} for c in new])
        if have and provision_text:
            conn.execute(s.policy_item_links.update().where(lk.doc_id == doc_id, lk.item_code.in_(have))
                         .values(provision=provision_text))
        audit.record(conn, "policy_linked", user_id=actor.user_id, username=actor.username,
                     detail={"doc_id": doc_id, "items": codes})
        return len(new)

    return db.write(work)


def unlink_item(db: Database, actor: Actor, doc_id: int, item_code: str) -> None:
    _require_maintainer(actor)
    lk = s.policy_item_links.c

    def work(conn: Connection) -> None:
        gone = conn.execute(s.policy_item_links.delete().where(lk.doc_id == doc_id, lk.item_code == item_code)
                            .returning(lk.item_code)).fetchall()
        if not gone:
            raise PolicyError("policy.not_linked")
        audit.record(conn, "policy_unlinked", user_id=actor.user_id, username=actor.username,
                     detail={"doc_id": doc_id, "item_code": item_code})

    db.write(work)


def _check_text_file(upload: files.Upload) -> None:
    """A .txt must be text (UTF-8 or GB18030, no NUL byte): app/files.py has no first bytes to check for it."""
    if files.extension_of(upload.file_name) != "txt" or not upload.data:
        return
    if b"\x00" in upload.data:
        raise files.FileRejected("file.content_mismatch", name=upload.file_name, ext="txt")
    for encoding in ("utf-8", "gb18030"):
        try:
            upload.data.decode(encoding)
            return
        except UnicodeDecodeError:
            continue
    raise files.FileRejected("file.content_mismatch", name=upload.file_name, ext="txt")


def attach_file(db: Database, actor: Actor, doc_id: int, upload: files.Upload) -> int:
    """Keep the document's file (PDF, DOCX or TXT, checked by type and content); replaces an earlier one.
    Returns the stored file's id; files.FileRejected says why a file is refused."""
    _require_maintainer(actor)
    _check_text_file(upload)
    files.check_upload(upload, FILE_FORMATS)

    def work(conn: Connection) -> int:
        _existing(conn, doc_id)
        file_id = files.store(conn, upload, formats=FILE_FORMATS, owner_user_id=None, uploaded_by=actor.user_id)
        conn.execute(s.policy_documents.update().where(s.policy_documents.c.doc_id == doc_id).values(
            file_id=file_id, updated_at=timeutil.now(), updated_by=actor.user_id,
            version=s.policy_documents.c.version + 1))
        audit.record(conn, "policy_file", user_id=actor.user_id, username=actor.username,
                     detail={"doc_id": doc_id, "file_id": file_id})
        return file_id

    return db.write(work)
