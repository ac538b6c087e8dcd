"""The applicant's side of a case (外网申报) and window intake: drafts, materials, submission, supplements,
withdrawal, rating and complaints — every one a transition of the declared workflow, in one transaction.
"""
from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app import alarms, calendar_store, cases, files, forms, inquiries, record, timeutil
from app import schema as s
from app import workflow as wf
from app.db import Database, bulk_insert_all
from app.permissions import Actor, PermissionDenied, can_act
from app.validators import validate_credit_code, validate_resident_id

RATING_LEVELS = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}


def complaint_days() -> int:
    """Working days a department has to answer a complaint (EZZ_COMPLAINT_DAYS, default 5)."""
    from app.config import response_limits

    return response_limits()[1]

# A material answer: an upload, or a locker entry standing in for it.
MaterialAnswer = files.Upload | int


class ApplicationError(ValueError):
    """A refused request with the reasons, as i18n keys and params; `problems` maps fields to reasons."""

    def __init__(self, key: str, problems: dict[str, tuple[str, dict[str, Any]]] | None = None, **params: Any):
        super().__init__(key)
        self.key = key
        self.params = params
        self.problems = problems or {}


@dataclass(frozen=True)
class Material:
    seq: int
    name: str
    required: bool
    original_or_copy: str
    formats: list[str]
    reuse_certificate: str
    reuse_item_code: str | None
    note: str


def item_materials(db: Database, item_code: str, version: int) -> list[Material]:
    """An item version's materials (kept in process once the version is published, as its form: forms.load_form)."""
    def load() -> tuple[tuple[Material, ...], bool]:
        t = s.item_materials
        with db.read() as conn:
            final = forms.item_version_is_final(conn, item_code, version)   # first: final, its parts can no longer change
            rows = conn.execute(sa.select(t).where(t.c.item_code == item_code, t.c.version == version)
                                .order_by(t.c.seq)).fetchall()
        return tuple(Material(r.seq, r.name, bool(r.required), r.original_or_copy or "", list(r.formats or []),
                              r.reuse_certificate or "", r.reuse_item_code, r.note or "") for r in rows), final

    return list(db.remembered(("item_materials", item_code, int(version)), load))


def _handling(db: Database, item_code: str, version: int) -> Any:
    """An item version's row (its department and handling levels are what cases.unit_candidates reads), kept in
    process once the version is final, as its form is."""
    def load() -> tuple[Any, bool]:
        with db.read() as conn:
            row = cases.item_version(conn, item_code, version)
        if row is None:   # refused by the checks before this is read; never kept
            return cases.RowView({"dept_code": None, "handling_levels": []}), False
        return row, row.status in forms.FINAL_STATUSES

    return db.remembered(("item_handling", item_code, int(version)), load)


def published_item(db: Database, item_code: str) -> dict[str, Any]:
    """The current published version of an item (CaseError case.item_unknown otherwise)."""
    with db.read() as conn:
        return dict(cases.current_item(conn, item_code)._mapping)


def item_at(db: Database, item_code: str, version: int) -> dict[str, Any]:
    """An item as it was at `version` (a case keeps the version it was filed under)."""
    with db.read() as conn:
        row = cases.item_version(conn, item_code, version)
    if row is None:
        raise cases.CaseError("case.item_unknown", item=item_code)
    return dict(row._mapping)


def city_regions(db: Database) -> list[dict[str, Any]]:
    """The region tree below the city (districts, towns, villages), for choosing a case's place."""
    r = s.regions
    with db.read() as conn:
        rows = conn.execute(sa.select(r.c.code, r.c.name, r.c.level, r.c.parent_code)
                            .where(r.c.code.startswith(cases.CITY_PREFIX[:4]), r.c.level >= 3)
                            .order_by(r.c.code)).fetchall()
    return [dict(row._mapping) for row in rows]


def account(db: Database, user_id: int) -> dict[str, Any]:
    with db.read() as conn:
        row = conn.execute(sa.select(s.users).where(s.users.c.user_id == user_id)).fetchone()
    return dict(row._mapping) if row else {}


def applicant_from_account(db: Database, user_id: int) -> cases.Applicant:
    u = s.users.c
    with db.read() as conn:   # the three columns used, not the whole account
        acc = conn.execute(sa.select(u.display_name, u.id_kind, u.id_number).where(u.user_id == user_id)).one()._mapping
    return cases.Applicant(name=acc["display_name"], id_kind=acc["id_kind"], id_number=acc["id_number"],
                           user_id=user_id)


# -- materials ----------------------------------------------------------------------------------------------
def _locker_entry(conn: Connection, owner: int, locker_id: int) -> Any:
    row = conn.execute(sa.select(s.locker_items).where(s.locker_items.c.locker_id == locker_id)).fetchone()
    if row is None or row.owner_user_id != owner:
        raise ApplicationError("material.locker_not_yours")
    if row.expires_on is not None and row.expires_on < timeutil.today():
        raise ApplicationError("material.locker_expired", name=row.name)
    return row


def _locker_answer(conn: Connection, owner: int, material: Material, locker_id: int) -> tuple[int | None, int]:
    """A locker entry given for a material: the owner's, not expired, the right certificate, a file of a format
    the material takes; returns its (file_id, locker_id)."""
    entry = _locker_entry(conn, owner, locker_id)
    if entry.kind == "certificate" and entry.item_code != material.reuse_item_code:
        raise ApplicationError("material.certificate_mismatch", name=material.name)
    if entry.file_id is not None:
        ext = conn.execute(sa.select(s.stored_files.c.extension)
                           .where(s.stored_files.c.file_id == entry.file_id)).scalar()
        accepted = {f.lower() for f in material.formats} | ({"jpeg"} if "jpg" in material.formats else set())
        if ext not in accepted:
            raise ApplicationError("file.wrong_type", name=entry.name, formats="、".join(material.formats))
    return entry.file_id, entry.locker_id


def _attach(conn: Connection, case: dict[str, Any], answers: dict[int, MaterialAnswer], round_: int,
            actor: Actor, materials: list[Material], *, new_case: bool = False) -> None:
    """Keep the answers to a case's materials: new uploads stored (one INSERT for all, and one for their locker
    entries), locker entries checked, and what is given now put in place of what was given for the same materials.
    `new_case`: the case was created in this transaction, so nothing was given for it yet."""
    by_seq = {m.seq: m for m in materials}
    owner = case["applicant_user_id"]
    kept = _same_locker_files(conn, {
        (owner, by_seq[seq].name, hashlib.sha256(a.data).hexdigest(), files.stored_name(a))
        for seq, a in answers.items() if isinstance(a, files.Upload) and seq in by_seq}) if owner is not None else {}
    given: list[dict[str, Any]] = []
    to_store: list[tuple[int, Material, files.Upload]] = []   # (index in given, material, upload)
    for seq, answer in answers.items():
        material = by_seq.get(seq)
        if material is None:
            raise ApplicationError("material.unknown")
        file_id = locker_id = None
        if isinstance(answer, files.Upload):
            try:
                files.check_upload(answer, material.formats)
            except files.FileRejected as exc:
                raise ApplicationError(exc.key, {f"material_{seq}": (exc.key, exc.params)}, **exc.params) from exc
            # The same file saved again (a draft saved twice) reuses its locker entry instead of adding one.
            same = kept.get((owner, material.name, hashlib.sha256(answer.data).hexdigest(), files.stored_name(answer)))
            if same is not None:
                file_id, locker_id = same
            else:
                to_store.append((len(given), material, answer))
        else:
            if owner is None:
                raise ApplicationError("material.locker_not_yours")
            file_id, locker_id = _locker_answer(conn, owner, material, int(answer))
        given.append(dict(case_id=case["case_id"], material_seq=seq, round=round_, file_id=file_id,
                          locker_id=locker_id, provided_at=timeutil.now(), provided_by=actor.user_id))
    if to_store:   # after every answer is checked, as before: the first refusal is the same
        file_ids = files.store_many(conn, [(u, m.formats) for _, m, u in to_store], owner_user_id=owner,
                                    uploaded_by=actor.user_id)
        locker_ids = files.add_files_to_locker(
            conn, owner_user_id=owner, kind="material", source_case_id=case["case_id"],
            entries=[(m.name, fid) for (_, m, _), fid in zip(to_store, file_ids)]) if owner is not None else []
        for n, (i, _, _) in enumerate(to_store):
            given[i].update(file_id=file_ids[n], locker_id=locker_ids[n] if owner is not None else None)
    if given:   # what is given now replaces what was given for the same materials (one statement each)
        cm = s.case_materials.c
        if not new_case:
            conn.execute(s.case_materials.delete().where(cm.case_id == case["case_id"], cm.round == round_,
                                                         cm.material_seq.in_([g["material_seq"] for g in given])))
        conn.execute(s.case_materials.insert(), given)   # one INSERT of all rows (insertmanyvalues), compiled once


def _same_locker_files(conn: Connection, wanted: set[tuple[int, str, str, str]]
                       ) -> dict[tuple[int, str, str, str], tuple[int, int]]:
    """The latest locker entry (file_id, locker_id) already holding each of these uploads — (owner, material name,
    sha256, stored file name) each — keyed the same way; one query for all of a form's (or a batch's) uploads."""
    if not wanted:
        return {}
    lk, f = s.locker_items, s.stored_files
    rows = conn.execute(
        sa.select(lk.c.owner_user_id, lk.c.locker_id, lk.c.file_id, lk.c.name, f.c.sha256, f.c.file_name)
        .select_from(lk.join(f, f.c.file_id == lk.c.file_id))
        .where(lk.c.owner_user_id.in_({w[0] for w in wanted}), lk.c.kind == "material",
               f.c.sha256.in_({w[2] for w in wanted}))
        .order_by(lk.c.locker_id.desc())).fetchall()
    found: dict[tuple[int, str, str, str], tuple[int, int]] = {}
    for r in rows:
        k = (int(r.owner_user_id), r.name, r.sha256, r.file_name)
        if k in wanted and k not in found:   # the latest entry first
            found[k] = (int(r.file_id), int(r.locker_id))
    return found


def provided_materials(db: Database, actor: Actor, case_id: int) -> dict[int, dict[str, Any]]:
    """The latest file or locker entry given for each material of a case (the actor must see the case)."""
    cases.get_case(db, actor, case_id)
    return _provided(db, case_id)


def _provided(db: Database, case_id: int) -> dict[int, dict[str, Any]]:
    cm, f, lk = s.case_materials, s.stored_files, s.locker_items
    with db.read() as conn:
        rows = conn.execute(
            sa.select(cm.c.material_seq, cm.c.round, cm.c.file_id, cm.c.locker_id, f.c.file_name, f.c.size_bytes,
                      lk.c.name.label("locker_name"), lk.c.certificate_no)
            .select_from(cm.outerjoin(f, f.c.file_id == cm.c.file_id).outerjoin(lk, lk.c.locker_id == cm.c.locker_id))
            .where(cm.c.case_id == case_id).order_by(cm.c.material_seq, cm.c.round)).fetchall()
    return {r.material_seq: dict(r._mapping) for r in rows}


# -- applying -----------------------------------------------------------------------------------------------
def _kind(case: dict[str, Any]) -> str:
    return forms.applicant_kind(case["applicant_id_kind"])


def save_draft(db: Database, actor: Actor, case_id: int, *, expected_version: int, values: dict[str, Any],
               materials: dict[int, MaterialAnswer] | None = None) -> dict[str, Any]:
    """Keep what was filled in so far (not validated yet) and any materials given."""
    case = cases.get_case(db, actor, case_id)
    form = forms.load_form(db, case["item_code"], case["item_version"])
    mats = item_materials(db, case["item_code"], case["item_version"])

    def apply(conn: Connection, current: dict[str, Any]) -> dict[str, Any]:
        _attach(conn, current, materials or {}, 0, actor, mats)
        return {"form_data": forms.clean(form, values, _kind(current))}

    return cases.perform(db, actor, case_id, "edit_draft", expected_version=expected_version, apply=apply)


def missing_materials(mats: list[Material], have: set[int]) -> list[Material]:
    return [m for m in mats if m.required and m.seq not in have]


def check_application(db: Database, *, item_code: str, item_version: int, id_kind: str, id_number: str,
                      values: dict[str, Any], materials: dict[int, MaterialAnswer] | None = None,
                      already_given: set[int] | frozenset[int] = frozenset(),
                      form: list[forms.FormField] | None = None, mats: list[Material] | None = None) -> None:
    """Everything `submit` checks before it writes — the form's rules, the applicant's own identifier,
    every mandatory material, every upload's type and size — raising ApplicationError with all problems.
    A page calls it before opening a case, so that a refused first submit leaves no draft behind.
    `form` and `mats`: the item version's form and materials when the caller has read them already."""
    form = forms.load_form(db, item_code, item_version) if form is None else form
    kind = forms.applicant_kind(id_kind)
    problems = forms.validate(form, values, kind)
    # The identifier answered in the form must be the case applicant's own (person or enterprise).
    id_field = "applicant_id" if kind == "person" else "credit_code"
    answered = str(values.get(id_field) or "").strip().upper()
    if answered and answered != (id_number or "").strip().upper() and id_field not in problems:
        problems[id_field] = ("form.id_mismatch", {})
    mats = item_materials(db, item_code, item_version) if mats is None else mats
    by_seq = {m.seq: m for m in mats}
    for seq, answer in (materials or {}).items():
        if isinstance(answer, files.Upload) and seq in by_seq:
            try:
                files.check_upload(answer, by_seq[seq].formats)
            except files.FileRejected as exc:
                problems[f"material_{seq}"] = (exc.key, exc.params)
    if problems:
        first = next((p for k, p in problems.items() if k.startswith("material_")), None)
        if first and len(problems) == sum(1 for k in problems if k.startswith("material_")):
            raise ApplicationError(first[0], problems, **first[1])
        raise ApplicationError("form.invalid", problems)
    missing = missing_materials(mats, set(already_given) | set((materials or {}).keys()))
    if missing:
        raise ApplicationError("material.missing", {f"material_{m.seq}": ("material.missing_one", {"name": m.name})
                                                    for m in missing}, names="、".join(m.name for m in missing))


def case_by_request_key(db: Database, actor: Actor, request_key: str) -> dict[str, Any] | None:
    """The actor's case opened by this request key (a repeated click), if any."""
    with db.read() as conn:   # the case id first (the key is almost always new), the whole row only when found
        found = conn.execute(sa.select(s.cases.c.case_id).where(s.cases.c.request_key == request_key)).fetchone()
        row = None if found is None else conn.execute(sa.select(s.cases)
                                                      .where(s.cases.c.case_id == found.case_id)).fetchone()
    if row is None or not (row.applicant_user_id == actor.user_id or row.agent_user_id == actor.user_id):
        return None
    return dict(row._mapping)


def submit(db: Database, actor: Actor, case_id: int, *, expected_version: int, values: dict[str, Any],
           materials: dict[int, MaterialAnswer] | None = None) -> dict[str, Any]:
    """Validate the form and the mandatory materials, then submit; nothing is kept if anything is wrong."""
    case = cases.get_case(db, actor, case_id)
    form = forms.load_form(db, case["item_code"], case["item_version"])
    mats = item_materials(db, case["item_code"], case["item_version"])
    check_application(db, item_code=case["item_code"], item_version=case["item_version"],
                      id_kind=case["applicant_id_kind"], id_number=case["applicant_id_number"], values=values,
                      materials=materials, already_given=set(_provided(db, case_id)),   # get_case checked
                      form=form, mats=mats)
    kind = _kind(case)

    def apply(conn: Connection, current: dict[str, Any]) -> dict[str, Any]:
        _attach(conn, current, materials or {}, 0, actor, mats)
        return {"form_data": forms.clean(form, values, kind)}

    return cases.perform(db, actor, case_id, "submit", expected_version=expected_version, apply=apply)


def start(db: Database, actor: Actor, item_code: str, *, region_code: str, request_key: str,
          applicant: cases.Applicant | None = None, window_id: str | None = None) -> dict[str, Any]:
    """Open a draft for an item (an applicant for themselves; a clerk for the applicant at the window)."""
    applicant, channel, window_id = _filing(db, actor, applicant, window_id)
    return cases.create_case(db, actor, item_code=item_code, applicant=applicant, region_code=region_code,
                             channel=channel, window_id=window_id, request_key=request_key)


def _filing(db: Database, actor: Actor, applicant: cases.Applicant | None,
            window_id: str | None) -> tuple[cases.Applicant, str, str | None]:
    """Who files for whom, by which channel, at which window (start's rules)."""
    if actor.role == wf.APPLICANT:
        return applicant_from_account(db, actor.user_id), "online", window_id
    if actor.role == wf.WINDOW_CLERK:
        if applicant is None:
            raise ApplicationError("window.applicant_required")
        own = clerk_window(db, actor)
        if window_id is not None and window_id != own:
            raise PermissionDenied("perm.other_window")  # a clerk files only at their own window
        return applicant, "window", own
    raise PermissionDenied("perm.create_case")


@dataclass(frozen=True)
class Filing:
    """One new form, checked and its uploads named by their content, waiting for the batch that records it (and
    writes the uploads' bytes, which `answers` holds)."""
    actor: Actor
    applicant: cases.Applicant
    channel: str
    window_id: str | None
    item_code: str
    item_version: int
    region_code: str
    request_key: str
    values: dict[str, Any]
    answers: dict[int, MaterialAnswer]
    kept: dict[int, dict[str, Any]]   # material seq -> its upload's stored_files row (but ids and owner)
    at: datetime
    units: tuple[str, ...] = ()           # the units that could handle it under item_version (unit_candidates)
    recheck: bool = False             # the applicant's account changed after the checks: check again


def file_new(db: Database, actor: Actor, item_code: str, *, item_version: int, region_code: str, request_key: str,
             values: dict[str, Any], materials: dict[int, MaterialAnswer] | None = None,
             applicant: cases.Applicant | None = None, window_id: str | None = None) -> dict[str, Any]:
    """A new form submitted at once: `start` and then `submit`, in one transaction — the same checks (the form
    and materials as check_application, before anything is written), the same rules and the same record (the
    create event, then the submit event) — so a refused submission leaves no draft behind.

    New forms arriving together are recorded together (app/group_commit.py: one transaction and one statement per
    table for the batch); each caller gets its own case or its own refusal, after the batch is committed.

    `item_version`: the version whose form was filled in (the current one when the page was drawn). A request key
    that names an earlier case (a repeated click) returns that case as `start` does — marked "repeated", not
    submitted again; a draft left by an earlier start is the caller's to submit."""
    writer = db.group_writer("file_new", write_filings)
    with writer.arriving() as write:   # the batch being formed waits a moment for this one
        filing = prepare_filing(db, actor, item_code, item_version=item_version, region_code=region_code,
                                request_key=request_key, values=values, materials=materials, applicant=applicant,
                                window_id=window_id)
        if isinstance(filing, dict):   # the request key's earlier case
            return filing
        return write(filing)


def prepare_filing(db: Database, actor: Actor, item_code: str, *, item_version: int, region_code: str,
                   request_key: str, values: dict[str, Any], materials: dict[int, MaterialAnswer] | None = None,
                   applicant: cases.Applicant | None = None, window_id: str | None = None) -> Filing | dict[str, Any]:
    """file_new's part before its batch: every check that needs no transaction, the uploads' bytes written.
    Returns the filing for the batch writer, or (a repeated request whose form no longer passes) the earlier case."""
    if actor.role == wf.APPLICANT:   # the account as last read here; the batch compares it with the account's row
        applicant, channel = _applicant_hint(db, actor.user_id), "online"
    else:
        applicant, channel, window_id = _filing(db, actor, applicant, window_id)
    form, mats = forms.load_form(db, item_code, item_version), item_materials(db, item_code, item_version)
    answers = dict(materials or {})
    try:
        check_application(db, item_code=item_code, item_version=item_version, id_kind=applicant.id_kind,
                          id_number=applicant.id_number, values=values, materials=answers, form=form, mats=mats)
    except ApplicationError:
        # The second request of a double click may come without what the first one sent (the uploads): the case
        # the first one filed is the answer, not the refusal. Looked up only here, off the usual path.
        earlier = case_by_request_key(db, actor, request_key)
        if earlier is None:
            raise
        return {**cases.repeated_request(earlier, actor, item_code=item_code, region_code=region_code,
                                         applicant=applicant), "repeated": True}
    cases.check_filer(actor, applicant, channel)
    wf.check_transition("submit", wf.DRAFT, actor.role)   # the declared workflow lets this role submit
    # Every upload checked (again, as check_application did) and named by its content; its bytes are written by
    # the batch (write_filings), beside its statements, before its rows commit.
    by_seq = {m.seq: m for m in mats}
    kept = {seq: files.describe(a, by_seq[seq].formats) for seq, a in answers.items()
            if isinstance(a, files.Upload) and seq in by_seq}
    return Filing(actor=actor, applicant=applicant, channel=channel, window_id=window_id, item_code=item_code,
                  item_version=item_version, region_code=region_code, request_key=request_key,
                  values=dict(values), answers=answers, kept=kept, at=timeutil.now().replace(microsecond=0),
                  units=tuple(cases.unit_candidates(_handling(db, item_code, item_version), region_code)))


def write_filings(conn: Connection, filings: Sequence[Filing], db: Database) -> list[Any]:
    """Record a batch of new forms (_record_filings), their uploads' bytes written to the file store meanwhile in
    a thread of their own and made durable, all at once, before the batch may commit: a committed case never
    names bytes a crash could lose, and a batch refused as a whole leaves only content-addressed bytes that no row
    names. Which uploads are new to the store (and so in no locker) is decided here, after every earlier batch
    has committed: two filings of the same files by one applicant, checked before either was written, share one
    set of locker entries."""
    root = files.files_dir()
    data = {row["storage_path"]: f.answers[seq].data for f in filings for seq, row in f.kept.items()}
    new = files.absent(root, list(data))   # bytes new to the store: no locker entry can hold them
    writing = files.write_beside(root, {path: data[path] for path in new}, list(data))
    try:
        outcomes = _record_filings(conn, filings, db, new)
    finally:
        error = writing.exception()   # waited for even when recording failed: never two at once
    if error is not None:
        raise error
    return outcomes


_CASE_COLUMNS = tuple(c.name for c in s.cases.c)


def _record_filings(conn: Connection, filings: Sequence[Filing], db: Database, new: set[str]) -> list[Any]:
    """Record a batch of new forms — file_new's transaction for each: the case opened and submitted (one row in
    its submitted state, with both events of its record), its uploads stored and put in the applicant's locker,
    its materials listed. One query per kind of fact checked and one INSERT per table for the whole batch. A
    filing refused here (an item withdrawn meanwhile, an unknown place, a request key reused for something else)
    gets its own error and writes nothing."""
    facts = _batch_facts(conn, filings)
    filings = _with_current_accounts(db, filings, facts.accounts)
    earlier = {r.request_key: dict(r._mapping) for r in conn.execute(   # whole rows only for the keys found
        sa.select(s.cases).where(s.cases.c.case_id.in_(facts.key_cases)))} if facts.key_cases else {}
    items = facts.items
    candidates = {u for f in filings if f.item_code in items
                  for u in cases.unit_candidates(items[f.item_code], f.region_code)}
    if candidates - facts.asked_units:   # an item version published since a filing was prepared
        facts.units |= set(conn.scalars(sa.select(s.org_units.c.unit_id).where(
            s.org_units.c.unit_id.in_(candidates - facts.asked_units))))
    places, units = facts.places, {u: True for u in facts.units}
    calendar = calendar_store.calendar_on(conn, db, facts.calendar_stamp)
    # every upload as a locker entry would hold it: (owner, material name, sha256, file name) — but those whose
    # bytes were new to the store, which no entry can hold (usually all of them: then no query at all)
    wanted = set()
    for f in filings:
        if f.applicant.user_id is not None and f.item_code in items:
            names = {m.seq: m.name for m in item_materials(db, f.item_code, items[f.item_code].version)}
            wanted |= {(f.applicant.user_id, names[seq], row["sha256"], row["file_name"])
                       for seq, row in f.kept.items() if seq in names and row["storage_path"] not in new}
    in_locker = _same_locker_files(conn, wanted)

    outcomes: list[Any] = []
    planned: list[tuple[int, dict[str, Any], dict[int, Any]]] = []   # (filing, its case row, material -> answer)
    new_files: list[tuple[Filing, str, dict[str, Any]]] = []        # (filing, material name, stored_files row)
    new_file_of: dict[tuple[int | None, str, str, str], int] = {}    # the same upload twice in a batch: kept once
    by_key: dict[str, tuple[int, dict[str, Any]]] = {}   # a key filed in this batch: (its filing, its case)
    repeats: list[tuple[int, int]] = []                   # (a repeated click in this batch, the filing it repeats)
    for n, f in enumerate(filings):
        try:
            if f.request_key in earlier:   # a repeated click
                outcomes.append({**cases.repeated_request(earlier[f.request_key], f.actor, item_code=f.item_code,
                                                          region_code=f.region_code, applicant=f.applicant),
                                 "repeated": True})
                continue
            if f.request_key in by_key:   # a repeated click within this batch: the first one's case, once it has an id
                first, case = by_key[f.request_key]
                cases.repeated_request(case, f.actor, item_code=f.item_code, region_code=f.region_code,
                                       applicant=f.applicant)
                repeats.append((n, first))
                outcomes.append(None)
                continue
            item = items.get(f.item_code)
            if item is None or item.status != "published":
                raise cases.CaseError("case.item_unknown", item=f.item_code)
            mats = item_materials(db, f.item_code, item.version)
            if item.version != f.item_version or f.recheck:   # a new version since (its form and materials), or
                cases.check_filer(f.actor, f.applicant, f.channel)   # the account changed: checked again
                check_application(db, item_code=f.item_code, item_version=item.version,
                                  id_kind=f.applicant.id_kind, id_number=f.applicant.id_number, values=f.values,
                                  materials=f.answers, mats=mats)
            if f.region_code not in places or not f.region_code.startswith("4207"):
                raise cases.CaseError("case.region_unknown", region=f.region_code)
            case = cases.new_case_values(f.actor, item=item, applicant=f.applicant, region_code=f.region_code,
                                         channel=f.channel, window_id=f.window_id, at=f.at,
                                         unit_id=cases.handling_unit(conn, item, f.region_code, units),
                                         request_key=f.request_key)
            if not can_act(f.actor, cases.RowView(case)):
                raise PermissionDenied("perm.case_action")
            # the submit transition (perform's rules for a draft just opened: no clock stops, no documents)
            case.update(state=wf.SUBMITTED, submitted_at=f.at, clock_start=f.at.date(), version=2,
                        form_data=forms.clean(forms.load_form(db, f.item_code, item.version), f.values,
                                              _kind(case)))
            case.update(cases.clock_fields(calendar, case, [], f.at.date()))
            owner = f.applicant.user_id
            by_seq = {m.seq: m for m in mats}
            given: dict[int, Any] = {}
            for seq, answer in f.answers.items():
                material = by_seq.get(seq)
                if material is None:
                    raise ApplicationError("material.unknown")
                if isinstance(answer, files.Upload):
                    row = f.kept.get(seq)
                    if row is None:   # a material of a version published since, which the form did not have
                        raise ApplicationError("material.unknown")
                    key = (owner, material.name, row["sha256"], row["file_name"])
                    if key in in_locker:   # the same file in the owner's locker already: its entry is reused
                        given[seq] = in_locker[key]
                        continue
                    if owner is None or key not in new_file_of:
                        new_file_of[key] = len(new_files)
                        new_files.append((f, material.name, row))
                    given[seq] = new_file_of[key]   # an index into new_files, its ids given below
                else:
                    if owner is None:
                        raise ApplicationError("material.locker_not_yours")
                    given[seq] = _locker_answer(conn, owner, material, int(answer))
            planned.append((n, case, given))
            by_key[f.request_key] = (n, case)
            outcomes.append(None)
        except (ApplicationError, cases.CaseError, PermissionDenied, wf.WorkflowError) as exc:
            outcomes.append(exc)
    if not planned:
        return outcomes

    # ids from the sequences, many per statement; the case number's serial as next_case_no takes it
    ids = conn.execute(_NEXT_IDS, {"cases": len(planned), "uploads": len(new_files)}).all()
    case_ids = [(a, b) for kind, a, b in ids if kind == 1]
    file_ids = [(a, b) for kind, a, b in ids if kind == 2]
    source_of: dict[int, int] = {}   # a new upload's locker entry: its source is the first case that gave it
    case_rows, events, material_rows = [], [], []
    for (n, case, given), (case_id, serial) in zip(planned, case_ids):
        f = filings[n]
        case.update(case_id=int(case_id), case_no=cases.format_case_no(int(serial), f.at.date()))
        case_rows.append(case)
        actor = dict(actor_user_id=f.actor.user_id, actor_role=f.actor.role, actor_unit_id=f.actor.unit_id)
        create = record.event_row(case_id=case["case_id"], seq=1, prev_hash=None, occurred_at=f.at, **actor,
                                  action="create", from_state=None, to_state=wf.DRAFT,
                                  payload={"item_code": case["item_code"], "item_version": case["item_version"],
                                           "channel": f.channel})
        events += [create, record.event_row(case_id=case["case_id"], seq=2, prev_hash=create["hash"],
                                            occurred_at=f.at, **actor, action="submit", from_state=wf.DRAFT,
                                            to_state=wf.SUBMITTED)]
        for seq, answer in given.items():
            if isinstance(answer, tuple):   # an entry of the locker already
                file_id, locker_id = answer
            else:
                file_id, locker_id = file_ids[answer]
                source_of.setdefault(answer, case["case_id"])
                if f.applicant.user_id is None:
                    locker_id = None
            material_rows.append(dict(case_id=case["case_id"], material_seq=seq, round=0, file_id=file_id,
                                      locker_id=locker_id, provided_at=f.at, provided_by=f.actor.user_id))
        outcomes[n] = {**dict.fromkeys(_CASE_COLUMNS), **case}
    for n, first in repeats:
        outcomes[n] = {**outcomes[first], "repeated": True}
    file_rows, locker_rows = [], []
    for index, ((f, name, row), (file_id, locker_id)) in enumerate(zip(new_files, file_ids)):
        owner = f.applicant.user_id
        file_rows.append(dict(row, file_id=file_id, owner_user_id=owner, uploaded_at=f.at,
                              uploaded_by=f.actor.user_id))
        if owner is not None:
            locker_rows.append(dict(locker_id=locker_id, owner_user_id=owner, kind="material", name=name,
                                    file_id=file_id, source_case_id=source_of[index], item_code=None,
                                    certificate_no=None, issued_on=None, expires_on=None, created_at=f.at))
    bulk_insert_all(conn, [(s.cases, case_rows), (s.case_events, events), (s.stored_files, file_rows),
                           (s.locker_items, locker_rows), (s.case_materials, material_rows)])
    return outcomes


_applicant_hints: collections.OrderedDict[tuple[str, str | None, int], cases.Applicant] = collections.OrderedDict()
_hints_lock = threading.Lock()


def _applicant_hint(db: Database, user_id: int) -> cases.Applicant:
    """An applicant's name and identifier as last read in this process (read now if not yet): what file_new checks
    the form against before its batch — which reads the accounts again in its transaction (_with_current_accounts),
    so a changed account is never filed under its old identity."""
    key = (db.url, db.schema, user_id)
    with _hints_lock:
        hit = _applicant_hints.get(key)
        if hit is not None:
            _applicant_hints.move_to_end(key)
            return hit
    found = applicant_from_account(db, user_id)
    with _hints_lock:
        _applicant_hints[key] = found
        while len(_applicant_hints) > 10_000:
            _applicant_hints.popitem(last=False)
    return found


def _with_current_accounts(db: Database, filings: Sequence[Filing], accounts: dict[int, Any]) -> list[Filing]:
    """The filings with their applicants' accounts as this transaction read them (`accounts`, by user id): an
    applicant whose name or identifier changed since file_new's checks gets the current ones, and the checks are
    made again (a refusal is that filing's outcome)."""
    out = []
    for f in filings:
        row = accounts.get(f.applicant.user_id) if f.actor.role == wf.APPLICANT else None
        if row is not None:
            now = cases.Applicant(name=row.display_name, id_kind=row.id_kind, id_number=row.id_number,
                                  user_id=row.user_id)
            if now != f.applicant:
                with _hints_lock:
                    _applicant_hints[(db.url, db.schema, row.user_id)] = now
                f = dataclasses.replace(f, applicant=now, recheck=True)
        out.append(f)
    return out


@dataclass
class _Facts:
    accounts: dict[int, Any]           # online applicants' accounts by user id
    key_cases: list[int]               # the cases already filed under the batch's request keys
    items: dict[str, Any]              # the items' current versions (CURRENT_ITEMS' columns) by code
    places: set[str]                   # the batch's places that exist
    units: set[str]                    # of the units asked about, those that exist
    asked_units: set[str]
    calendar_stamp: tuple[Any, ...]


_FACT_COLUMNS = ("kind", "n1", "n2", "n3", "a", "b", "c", "d", "e")   # the union's shape: three numbers, five texts


def _fact_branch(kind: str, source: Any = None, **columns: Any) -> Any:
    """One branch of _batch_facts' union: its kind and the columns it fills, the others NULL (typed, as
    PostgreSQL's UNION wants)."""
    null = {"n": sa.cast(sa.null(), sa.BigInteger), "t": sa.cast(sa.null(), sa.Text)}
    select = sa.select(sa.literal(kind, sa.Text).label("kind"),
                       *(columns.get(c, null[("n" if c.startswith("n") else "t")]).label(c) for c in _FACT_COLUMNS[1:]))
    return select if source is None else select.select_from(source)


def _facts_statement() -> Any:
    """_batch_facts' statement, built once (its lists are expanding parameters; an empty one matches nothing)."""
    u, c, i, r, o = s.users.c, s.cases.c, s.items.c, s.regions.c, s.org_units.c

    def listed(name: str) -> Any:
        return sa.bindparam(name, expanding=True)

    return sa.union_all(
        _fact_branch("calendar", s.calendar_years, **dict(zip(("n1", "a", "n2"), calendar_store.stamp_columns()))),
        _fact_branch("key", n1=c.case_id).where(c.request_key.in_(listed("keys"))),
        _fact_branch("item", n1=i.version, n2=i.promised_days, n3=sa.cast(i.statutory_limit, sa.BigInteger),
                     a=i.item_code, b=i.status, c=i.dept_code, d=sa.cast(i.handling_levels, sa.Text),
                     e=i.statutory_unit).where(i.is_current, i.item_code.in_(listed("items"))),
        _fact_branch("place", a=r.code).where(r.code.in_(listed("places"))),
        _fact_branch("account", n1=u.user_id, a=u.display_name, b=u.id_kind, c=u.id_number)
        .where(u.user_id.in_(listed("accounts"))),
        _fact_branch("unit", a=o.unit_id).where(o.unit_id.in_(listed("units"))))


_FACTS = _facts_statement()


def _batch_facts(conn: Connection, filings: Sequence[Filing]) -> _Facts:
    """Everything a batch checks, read in one statement (each statement costs DuckDB the better part of a
    millisecond whatever its size, and the batch's writer is the one thing every applicant waits for): the
    accounts of its online applicants, the cases of its request keys, its items' current versions, which of its
    places and of the units that could handle them exist, and the calendar's stamp."""
    asked_units = {unit for f in filings for unit in f.units}
    rows = conn.execute(_FACTS, {
        "keys": sorted({f.request_key for f in filings}), "items": sorted({f.item_code for f in filings}),
        "places": sorted({f.region_code for f in filings}), "units": sorted(asked_units),
        "accounts": sorted({f.applicant.user_id for f in filings if f.actor.role == wf.APPLICANT})})
    facts = _Facts({}, [], {}, set(), set(), asked_units, ())
    for row in rows:
        if row.kind == "calendar":
            facts.calendar_stamp = calendar_store.stamp_of(row.n1, row.a, row.n2)
        elif row.kind == "key":
            facts.key_cases.append(int(row.n1))
        elif row.kind == "item":
            facts.items[row.a] = cases.RowView(dict(
                item_code=row.a, version=int(row.n1), status=row.b, dept_code=row.c,
                handling_levels=json.loads(row.d), promised_days=row.n2, statutory_limit=row.n3,
                statutory_unit=row.e))
        elif row.kind == "place":
            facts.places.add(row.a)
        elif row.kind == "account":
            facts.accounts[int(row.n1)] = cases.RowView(dict(user_id=int(row.n1), display_name=row.a,
                                                             id_kind=row.b, id_number=row.c))
        else:
            facts.units.add(row.a)
    return facts


# A batch's ids in one statement: (case id, case number serial) for each new case, then (file id, locker id) for
# each new upload (the kind column tells which); every value from its sequence, as the columns' defaults take them.
_NEXT_IDS = sa.text("SELECT 1 AS kind, nextval('case_id_seq'), nextval('case_no_seq') FROM generate_series(1, :cases) "
                    "UNION ALL "
                    "SELECT 2, nextval('file_id_seq'), nextval('locker_id_seq') FROM generate_series(1, :uploads)")


def last_supplement_request(db: Database, actor: Actor, case_id: int) -> dict[str, Any] | None:
    for event in reversed(cases.case_events(db, actor, case_id)):
        if event["action"] == "request_supplement":
            return event
    return None


def answer_supplement(db: Database, actor: Actor, case_id: int, *, expected_version: int,
                      materials: dict[int, MaterialAnswer]) -> dict[str, Any]:
    """Upload exactly the materials the one-time notice listed; the clock restarts where it stopped."""
    case = cases.get_case(db, actor, case_id)
    notice = last_supplement_request(db, actor, case_id)
    listed = set((notice or {}).get("payload", {}).get("materials") or [])
    given = set(materials)
    if given != listed:
        mats = {m.seq: m.name for m in item_materials(db, case["item_code"], case["item_version"])}
        missing = sorted(listed - given)
        raise ApplicationError("supplement.exactly_listed",
                               names="、".join(mats.get(m, str(m)) for m in missing) or "—")
    mats = item_materials(db, case["item_code"], case["item_version"])
    round_ = case["supplement_count"]

    def apply(conn: Connection, current: dict[str, Any]) -> None:
        _attach(conn, current, materials, round_, actor, mats)

    return cases.perform(db, actor, case_id, "supplement", expected_version=expected_version, apply=apply,
                         payload={"materials": sorted(given)})


def withdraw(db: Database, actor: Actor, case_id: int, *, expected_version: int, reason: str | None = None) -> dict:
    return cases.perform(db, actor, case_id, "withdraw", expected_version=expected_version, comment=reason)


def rate(db: Database, actor: Actor, case_id: int, *, expected_version: int, level: int,
         comment: str | None = None) -> dict[str, Any]:
    """好差评: five levels, once per case, after completion; nobody can change it afterwards."""
    if level not in RATING_LEVELS:
        raise ApplicationError("rating.level")
    if comment and len(comment) > 500:
        raise ApplicationError("rating.too_long")

    def apply(conn: Connection, current: dict[str, Any]) -> None:
        if conn.execute(sa.select(s.ratings.c.case_id).where(s.ratings.c.case_id == case_id)).fetchone():
            raise ApplicationError("rating.already")
        rated_at = timeutil.now()
        conn.execute(s.ratings.insert().values(case_id=case_id, level=level, comment=(comment or "").strip() or None,
                                               rated_at=rated_at, user_id=actor.user_id))
        # 差评: the department's follow-up opens with the rating (domain.md §7)
        alarms.open_followup(conn, case_id, level, rated_at, calendar_store.load_calendar(db))

    return cases.perform(db, actor, case_id, "rate", expected_version=expected_version, apply=apply,
                         payload={"level": level})


def complain(db: Database, actor: Actor, case_id: int, *, expected_version: int, content: str) -> dict[str, Any]:
    content = (content or "").strip()
    if len(content) < 5:
        raise ApplicationError("complaint.too_short")
    if len(content) > 2000:
        raise ApplicationError("complaint.too_long")
    cal = calendar_store.load_calendar(db)
    due = cal.add_working_days(timeutil.today(), complaint_days())

    def apply(conn: Connection, current: dict[str, Any]) -> None:
        # a tracking number and the case's department, as a complaint filed on 咨询投诉 (app/inquiries.py)
        conn.execute(s.complaints.insert().values(case_id=case_id, user_id=actor.user_id, content=content,
                                                  created_at=timeutil.now(), due_on=due,
                                                  **inquiries.case_complaint_fields(conn, case_id)))

    return cases.perform(db, actor, case_id, "complain", expected_version=expected_version, comment=content,
                         apply=apply)


def rating_of(db: Database, case_id: int) -> dict[str, Any] | None:
    with db.read() as conn:
        row = conn.execute(sa.select(s.ratings).where(s.ratings.c.case_id == case_id)).fetchone()
    return dict(row._mapping) if row else None


# -- what the applicant sees -----------------------------------------------------------------------------------
APPLICANT_MESSAGES = {
    "submit": "msg.submitted", "accept": "msg.accepted", "request_supplement": "msg.supplement_needed",
    "supplement": "msg.supplemented", "refuse_intake": "msg.not_accepted", "start_review": "msg.under_review",
    "suspend": "msg.suspended", "resume": "msg.resumed", "extend": "msg.extended", "approve": "msg.approved",
    "refuse": "msg.refused", "complete": "msg.result_ready", "withdraw": "msg.withdrawn",
    "transfer": "msg.transferred", "receive_transfer": "msg.received", "rate": "msg.rated",
    "complain": "msg.complained",
}


def applicant_timeline(db: Database, actor: Actor, case_id: int) -> list[dict[str, Any]]:
    """Events meant for the applicant (internal review opinions are not), each with its message key."""
    out = []
    for e in cases.case_events(db, actor, case_id):
        key = APPLICANT_MESSAGES.get(e["action"])
        if key:
            public_comment = e["comment"] if e["action"] in ("request_supplement", "refuse_intake", "refuse",
                                                              "suspend", "extend", "withdraw", "complain") else None
            out.append({"occurred_at": e["occurred_at"], "action": e["action"], "message_key": key,
                        "comment": public_comment, "payload": e["payload"] or {}})
    return out


def my_cases(db: Database, actor: Actor) -> list[dict[str, Any]]:
    if actor.role != wf.APPLICANT:
        raise PermissionDenied("perm.denied")
    c, it = s.cases.c, s.items
    q = (sa.select(c.case_id, c.case_no, c.state, c.item_code, it.c.name.label("item"), c.submitted_at,
                   c.promised_due, c.warning_level, c.channel, c.version, c.created_at)
         .select_from(s.cases.join(it, sa.and_(it.c.item_code == c.item_code, it.c.version == c.item_version)))
         .where(c.applicant_user_id == actor.user_id).order_by(c.case_id.desc()))
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def locker(db: Database, actor: Actor) -> list[dict[str, Any]]:
    if actor.role != wf.APPLICANT:
        raise PermissionDenied("perm.denied")
    lk, f = s.locker_items, s.stored_files
    q = (sa.select(lk.c.locker_id, lk.c.kind, lk.c.name, lk.c.certificate_no, lk.c.item_code, lk.c.issued_on,
                   lk.c.expires_on, lk.c.created_at, f.c.file_name, f.c.size_bytes, lk.c.file_id)
         .select_from(lk.outerjoin(f, f.c.file_id == lk.c.file_id))
         .where(lk.c.owner_user_id == actor.user_id).order_by(lk.c.locker_id.desc()))
    with db.read() as conn:
        return [dict(r._mapping) for r in conn.execute(q)]


def read_file_for(db: Database, actor: Actor, file_id: int) -> tuple[str, bytes]:
    """A stored file for someone entitled to it: its owner, or staff who can see a case that uses it."""
    with db.read() as conn:
        row = conn.execute(sa.select(s.stored_files).where(s.stored_files.c.file_id == file_id)).fetchone()
        if row is None:
            raise PermissionDenied("perm.denied")
        allowed = row.owner_user_id == actor.user_id
        if not allowed and actor.is_staff:
            case_ids = [r[0] for r in conn.execute(sa.select(s.case_materials.c.case_id)
                                                   .where(s.case_materials.c.file_id == file_id))]
            for cid in case_ids:
                try:
                    cases.get_case(db, actor, cid)
                    allowed = True
                    break
                except cases.CaseError:
                    continue
        if not allowed:
            raise PermissionDenied("perm.denied")
        meta, data = files.read(conn, file_id)
    return meta.file_name, data


# -- window intake ------------------------------------------------------------------------------------------
def clerk_window(db: Database, actor: Actor) -> str:
    with db.read() as conn:
        row = conn.execute(sa.select(s.service_windows.c.window_id).where(s.service_windows.c.unit_id == actor.unit_id)
                           .order_by(s.service_windows.c.window_id).limit(1)).fetchone()
    if row is None:
        raise ApplicationError("window.none")
    return row.window_id


def find_applicant(db: Database, actor: Actor, id_number: str) -> dict[str, Any] | None:
    if actor.role != wf.WINDOW_CLERK:
        raise PermissionDenied("perm.denied")
    id_number = (id_number or "").strip().upper()
    with db.read() as conn:
        row = conn.execute(sa.select(s.users.c.user_id, s.users.c.display_name, s.users.c.id_kind,
                                     s.users.c.id_number, s.users.c.phone)
                           .where(s.users.c.id_number == id_number, s.users.c.role == wf.APPLICANT,
                                  s.users.c.active)).fetchone()
    return dict(row._mapping) if row else None


def register_present_applicant(db: Database, actor: Actor, *, name: str, id_kind: str, id_number: str,
                               phone: str | None) -> int:
    """A clerk records an applicant who is present and has no account: the row cannot sign in until the
    applicant registers with the same identifier (app.auth.register_applicant then claims it)."""
    from app import audit, auth

    if actor.role != wf.WINDOW_CLERK:
        raise PermissionDenied("perm.denied")
    id_number = (id_number or "").strip().upper()
    err = (validate_resident_id(id_number) if id_kind == "resident_id" else
           validate_credit_code(id_number) if id_kind == "credit_code" else "id.kind")
    if err:
        raise ApplicationError(err)
    if not (name or "").strip():
        raise ApplicationError("auth.name_required")
    if phone and not forms.PHONE.fullmatch(phone.strip()):
        raise ApplicationError("window.phone_invalid")

    def work(conn: Connection) -> int:
        existing = conn.execute(sa.select(s.users.c.user_id).where(s.users.c.id_number == id_number,
                                                                   s.users.c.role == wf.APPLICANT)).fetchone()
        if existing:
            return int(existing.user_id)
        try:
            user_id = auth.create_user(conn, username=f"w{id_number.lower()}", password=None,
                                       password_hash=auth.WINDOW_ONLY_HASH, display_name=name.strip(),
                                       role=wf.APPLICANT, id_kind=id_kind, id_number=id_number,
                                       phone=(phone or "").strip() or None)
        except auth.AuthError as exc:
            raise ApplicationError(exc.key) from exc
        # The applicant's place defaults to the window's area (used to prefill the place of later cases).
        conn.execute(s.users.update().where(s.users.c.user_id == user_id).values(region_code=actor.region_code))
        audit.record(conn, "window_register_applicant", user_id=actor.user_id, username=actor.username,
                     detail={"applicant_user_id": user_id})
        return user_id

    return db.write(work)
