"""The cheap submission path (issue 8), on DuckDB and PostgreSQL: applications.file_new opens and submits a case in
one transaction with the same record, rows and refusals as start followed by submit; several files stored with one
INSERT each keep their order; a published item version's form and materials are kept in process, a draft's are
not; DuckDB compiles with SQLAlchemy's statement cache."""
from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from app import applications as apps
from app import cases, files, forms, record, record_check
from app import schema as s
from app import workflow as wf
from tests.test_applications import ITEM, PDF, PNG, person_values, required_uploads

VILLAGE = "420704001002"
SAME = ("item_code", "item_version", "dept_code", "unit_id", "region_code", "window_id", "channel",
        "applicant_user_id", "applicant_name", "applicant_id_kind", "applicant_id_number", "agent_user_id", "state",
        "form_data", "promised_days", "statutory_limit", "statutory_unit", "extension_days", "clock_stopped",
        "supplement_count", "version", "warning_level", "promised_due", "statutory_due", "clock_start")


def key() -> str:
    return uuid.uuid4().hex


def _row(db, case_id):  # noqa: ANN001, ANN202
    with db.read() as conn:
        return conn.execute(sa.select(s.cases).where(s.cases.c.case_id == case_id)).one()._asdict()


def _events(db, case_id):  # noqa: ANN001, ANN202
    with db.read() as conn:
        return conn.execute(sa.select(s.case_events).where(s.case_events.c.case_id == case_id)
                            .order_by(s.case_events.c.seq)).fetchall()


def _materials(db, case_id):  # noqa: ANN001, ANN202
    cm, f, lk = s.case_materials, s.stored_files, s.locker_items
    with db.read() as conn:
        return conn.execute(
            sa.select(cm.c.material_seq, cm.c.round, f.c.sha256, f.c.file_name, f.c.extension, f.c.owner_user_id,
                      lk.c.name, lk.c.kind, lk.c.owner_user_id.label("locker_owner"), lk.c.source_case_id,
                      lk.c.file_id == cm.c.file_id)
            .select_from(cm.join(f, f.c.file_id == cm.c.file_id).join(lk, lk.c.locker_id == cm.c.locker_id))
            .where(cm.c.case_id == case_id).order_by(cm.c.material_seq)).fetchall()


def _distinct_uploads(db, tag: str):  # noqa: ANN001, ANN202
    """The required uploads, each with content of its own (nothing found again in the locker)."""
    return {seq: files.Upload(u.file_name, u.data + f"{tag}-{seq}".encode())
            for seq, u in required_uploads(db).items()}


def test_file_new_keeps_what_start_and_submit_keep(seeded_db):
    db = seeded_db
    a = db.actors["applicant"]
    values = person_values(db, a)
    tag = key()
    old = apps.start(db, a, ITEM, region_code=VILLAGE, request_key=key())
    old = apps.submit(db, a, old["case_id"], expected_version=old["version"], values=values,
                      materials=_distinct_uploads(db, tag + "a"))
    new = apps.file_new(db, a, ITEM, item_version=apps.published_item(db, ITEM)["version"], region_code=VILLAGE,
                        request_key=key(), values=values, materials=_distinct_uploads(db, tag + "b"))
    assert new["state"] == wf.SUBMITTED and not new.get("repeated")
    before, after = _row(db, old["case_id"]), _row(db, new["case_id"])
    assert {k: after[k] for k in SAME} == {k: before[k] for k in SAME}
    assert after["submitted_at"] is not None and after["case_no"] != before["case_no"]
    assert {k: new[k] for k in ("state", "version", "case_no", "form_data")} == \
        {k: after[k] for k in ("state", "version", "case_no", "form_data")}
    # the same record: create, then submit, chained from genesis, verified
    old_events, new_events = _events(db, old["case_id"]), _events(db, new["case_id"])
    shape = [(e.seq, e.action, e.from_state, e.to_state, e.actor_user_id, e.actor_role, e.payload) for e in new_events]
    assert shape == [(e.seq, e.action, e.from_state, e.to_state, e.actor_user_id, e.actor_role, e.payload)
                     for e in old_events]
    assert [e.action for e in new_events] == ["create", "submit"] and new_events[0].prev_hash is None
    assert new_events[1].prev_hash == new_events[0].hash
    assert record.verify_chain(new_events) == []
    checked, _, problems = record_check.verify(db, case_ids=[new["case_id"]])
    assert (checked, problems) == (1, [])
    # the same materials: each upload stored (its own content, in its material's place) with its locker entry
    old_m, new_m = _materials(db, old["case_id"]), _materials(db, new["case_id"])
    assert [(m.material_seq, m.round, m.file_name, m.extension, m.name, m.kind) for m in new_m] == \
        [(m.material_seq, m.round, m.file_name, m.extension, m.name, m.kind) for m in old_m]
    uploads = _distinct_uploads(db, tag + "b")
    import hashlib

    assert [m.sha256 for m in new_m] == [hashlib.sha256(uploads[m.material_seq].data).hexdigest() for m in new_m]
    assert all(m.owner_user_id == a.user_id == m.locker_owner and m.source_case_id == new["case_id"] and m[-1]
               for m in new_m)
    assert set(apps.provided_materials(db, a, new["case_id"])) == set(uploads)


def test_file_new_refused_leaves_no_draft_and_no_file(seeded_db):
    db = seeded_db
    a = db.actors["applicant"]
    version = apps.published_item(db, ITEM)["version"]
    uploads = _distinct_uploads(db, key())

    def counts():  # noqa: ANN202
        with db.read() as conn:
            return tuple(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                         for t in (s.cases, s.stored_files, s.locker_items, s.case_events))

    start = counts()
    missing = dict(uploads)
    missing.pop(min(missing))
    request_key = key()
    with pytest.raises(apps.ApplicationError) as err:
        apps.file_new(db, a, ITEM, item_version=version, region_code=VILLAGE, request_key=request_key,
                      values=person_values(db, a), materials=missing)
    assert err.value.key == "material.missing"
    # refused inside the transaction (a locker entry of someone else), after the case was opened there
    someone = db.actors["window_clerk"] if "window_clerk" in db.actors else next(
        x for x in db.actors.values() if x.user_id != a.user_id)
    foreign = db.write(lambda conn: files.add_to_locker(conn, owner_user_id=someone.user_id, kind="material",
                                                        name="别人的材料"))
    start = counts()
    with pytest.raises(apps.ApplicationError) as err:
        apps.file_new(db, a, ITEM, item_version=version, region_code=VILLAGE, request_key=request_key,
                      values=person_values(db, a), materials={**uploads, min(uploads): foreign})
    assert err.value.key == "material.locker_not_yours"
    with pytest.raises(apps.ApplicationError):   # the form's rules, as check_application
        apps.file_new(db, a, ITEM, item_version=version, region_code=VILLAGE, request_key=request_key,
                      values={**person_values(db, a), "phone": "12"}, materials=uploads)
    assert counts() == start
    assert apps.case_by_request_key(db, a, request_key) is None


def test_file_new_refused_in_its_transaction_keeps_nothing(seeded_db, monkeypatch):
    db = seeded_db
    a = db.actors["applicant"]

    def counts():  # noqa: ANN202
        with db.read() as conn:
            return tuple(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                         for t in (s.cases, s.stored_files, s.locker_items, s.case_events, s.case_materials))

    start = counts()
    real = apps.bulk_insert_all

    def failing(conn, tables):  # noqa: ANN001, ANN202 - fails after every row of the submission is written
        real(conn, tables)
        raise cases.CaseError("case.test_failure")

    monkeypatch.setattr(apps, "bulk_insert_all", failing)
    request_key = key()
    with pytest.raises(cases.CaseError):
        apps.file_new(db, a, ITEM, item_version=apps.published_item(db, ITEM)["version"], region_code=VILLAGE,
                      request_key=request_key, values=person_values(db, a), materials=_distinct_uploads(db, key()))
    assert counts() == start and apps.case_by_request_key(db, a, request_key) is None


def test_file_new_with_a_repeated_request_key(seeded_db):
    db = seeded_db
    a = db.actors["applicant"]
    version = apps.published_item(db, ITEM)["version"]
    request_key = key()
    args = dict(item_version=version, region_code=VILLAGE, request_key=request_key, values=person_values(db, a))
    first = apps.file_new(db, a, ITEM, materials=_distinct_uploads(db, key()), **args)
    again = apps.file_new(db, a, ITEM, materials=_distinct_uploads(db, key()), **args)
    assert again["repeated"] and again["case_id"] == first["case_id"] and again["state"] == wf.SUBMITTED
    assert len(_events(db, first["case_id"])) == 2
    with pytest.raises(cases.CaseError) as err:
        apps.file_new(db, a, ITEM, materials=_distinct_uploads(db, key()),
                      **{**args, "region_code": "420704001001"})
    assert err.value.key == "case.request_key_reused"
    # a draft an earlier start left under the key is returned as it is, for the caller to submit
    draft_key = key()
    draft = apps.start(db, a, ITEM, region_code=VILLAGE, request_key=draft_key)
    back = apps.file_new(db, a, ITEM, materials=_distinct_uploads(db, key()), **{**args, "request_key": draft_key})
    assert back["repeated"] and back["case_id"] == draft["case_id"] and back["state"] == wf.DRAFT


def test_file_new_reuses_a_file_already_in_the_locker(seeded_db):
    db = seeded_db
    a = db.actors["applicant"]
    version = apps.published_item(db, ITEM)["version"]
    uploads = _distinct_uploads(db, key())
    args = dict(item_version=version, region_code=VILLAGE, values=person_values(db, a), materials=uploads)
    first = apps.file_new(db, a, ITEM, request_key=key(), **args)
    second = apps.file_new(db, a, ITEM, request_key=key(), **args)
    with db.read() as conn:
        cm = s.case_materials.c
        given = {cid: conn.execute(sa.select(cm.material_seq, cm.file_id, cm.locker_id).where(cm.case_id == cid)
                                   .order_by(cm.material_seq)).fetchall() for cid in (first["case_id"], second["case_id"])}
    assert [tuple(r) for r in given[first["case_id"]]] == [tuple(r) for r in given[second["case_id"]]]


def test_store_many_returns_the_ids_in_the_order_given(seeded_db, tmp_path, monkeypatch):
    db = seeded_db
    monkeypatch.setenv("EZZ_FILES_DIR", str(tmp_path))
    uploads = [(files.Upload("a.pdf", PDF + b"1"), ["pdf"]), (files.Upload("b.png", PNG + b"2"), ["png"]),
               (files.Upload("a.pdf", PDF + b"1"), ["pdf"]), (files.Upload("c.pdf", PDF + b"3"), ["pdf"])]
    ids = db.write(lambda conn: files.store_many(conn, uploads, owner_user_id=None, uploaded_by=None))
    assert len(set(ids)) == 4
    with db.read() as conn:
        for file_id, (upload, _) in zip(ids, uploads):
            meta, data = files.read(conn, file_id)
            assert (meta.file_name, data) == (upload.file_name, upload.data)
    entries = [("甲", ids[0]), ("乙", ids[1]), ("甲", ids[3])]
    owner = db.actors["applicant"].user_id
    locker_ids = db.write(lambda conn: files.add_files_to_locker(conn, owner_user_id=owner, kind="material",
                                                                 entries=entries))
    with db.read() as conn:
        lk = s.locker_items.c
        rows = [conn.execute(sa.select(lk.name, lk.file_id, lk.owner_user_id, lk.kind).where(lk.locker_id == i)).one()
                for i in locker_ids]
    assert [(r.name, r.file_id, r.owner_user_id, r.kind) for r in rows] == \
        [(n, f, owner, "material") for n, f in entries]
    with pytest.raises(files.FileRejected):   # every file checked before any row is written
        db.write(lambda conn: files.store_many(conn, [uploads[0], (files.Upload("x.pdf", b"MZ"), ["pdf"])],
                                               owner_user_id=None, uploaded_by=None))


def test_a_published_versions_parts_are_kept_a_drafts_are_not(seeded_db):
    db = seeded_db
    version = apps.published_item(db, ITEM)["version"]
    db.forget_remembered()   # the session's database: earlier tests read these already
    assert forms.load_form(db, ITEM, version) == forms.load_form(db, ITEM, version)
    assert ("item_form", ITEM, version) in db._memo and ("item_materials", ITEM, version) not in db._memo  # noqa: SLF001
    apps.item_materials(db, ITEM, version)
    assert ("item_materials", ITEM, version) in db._memo  # noqa: SLF001
    # a draft version (as the designer keeps one) is read each time: its parts still change
    draft = 900 + int(uuid.uuid4().int % 90)
    it, f, m = s.items, s.item_form_fields, s.item_materials

    def make_draft(conn):  # noqa: ANN001, ANN202
        row = conn.execute(sa.select(it).where(it.c.item_code == ITEM, it.c.version == version)).one()._asdict()
        conn.execute(it.insert().values({**row, "version": draft, "status": "draft", "is_current": False}))
        for t in (f, m):
            rows = [r._asdict() for r in conn.execute(sa.select(t).where(t.c.item_code == ITEM,
                                                                          t.c.version == version))]
            conn.execute(t.insert(), [{**r, "version": draft} for r in rows])

    db.write(make_draft)
    try:
        labels = [x.label for x in forms.load_form(db, ITEM, draft)]
        names = [x.name for x in apps.item_materials(db, ITEM, draft)]
        db.write(lambda conn: conn.execute(f.update().where(f.c.item_code == ITEM, f.c.version == draft, f.c.seq == 1)
                                           .values(label="改过的标签")))
        db.write(lambda conn: conn.execute(m.update().where(m.c.item_code == ITEM, m.c.version == draft, m.c.seq == 1)
                                           .values(name="改过的材料")))
        assert [x.label for x in forms.load_form(db, ITEM, draft)] == ["改过的标签", *labels[1:]]
        assert [x.name for x in apps.item_materials(db, ITEM, draft)] == ["改过的材料", *names[1:]]
        assert ("item_form", ITEM, draft) not in db._memo  # noqa: SLF001
        # what a caller does with the list it gets does not change what is kept
        kept = forms.load_form(db, ITEM, version)
        kept.clear()
        assert forms.load_form(db, ITEM, version)
    finally:
        def drop(conn):  # noqa: ANN001, ANN202
            for t in (f, m, it):
                conn.execute(t.delete().where(t.c.item_code == ITEM, t.c.version == draft))

        db.write(drop)


def test_duckdb_compiles_with_the_statement_cache(seeded_db):
    db = seeded_db
    dialect = db.engine.dialect
    assert dialect.name == ("duckdb" if db.is_duckdb else "postgresql")
    assert dialect._supports_statement_cache  # noqa: SLF001
    assert db.url.startswith("duckdb:///") or not db.is_duckdb   # the URL the rest of the code knows, as given
    if db.is_duckdb:
        with db.read() as conn:   # the same statement twice: compiled once, then taken from the cache
            q = sa.select(s.items.c.item_code).where(s.items.c.item_code == sa.bindparam("c"))
            assert conn.execute(q, {"c": ITEM}).scalar() == ITEM
            assert conn.execute(q, {"c": "无此事项"}).scalar() is None
            assert conn.execute(q, {"c": ITEM}).scalar() == ITEM
