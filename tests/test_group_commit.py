"""Group commit (app/group_commit.py) and the batch that records new applications (applications.write_filings), on
DuckDB and PostgreSQL: requests waiting behind a batch are written together; each caller gets its own outcome; a
batch whose transaction fails is written again request by request, so the error lands on its cause and nothing of
the others is lost; within one batch a refused filing writes nothing, a double click files one case, and every
case's record verifies; uploads are on disk, whole, before their rows."""
from __future__ import annotations

import hashlib
import threading
import time
import uuid
from datetime import date, datetime

import sqlalchemy as sa

from app import applications as apps
from app import files, record_check
from app import schema as s
from app import workflow as wf
from app.cases import CaseError
from app.group_commit import GroupWriter
from tests.test_applications import ITEM, person_values
from tests.test_submission_path import VILLAGE, _distinct_uploads, _events, _materials


def key() -> str:
    return uuid.uuid4().hex


def _audit_rows(db, marker: str) -> list[str]:  # noqa: ANN001
    with db.read() as conn:
        return sorted(conn.execute(sa.select(s.audit_log.c.detail).where(s.audit_log.c.action == marker)).scalars())


def _note(conn, marker: str, request: str) -> None:  # noqa: ANN001
    """A real row per request (the audit log takes any text): what a batch wrote is countable afterwards."""
    conn.execute(s.audit_log.insert().values(occurred_at=datetime(2026, 11, 26, 12), action=marker, detail=request))


def _in_threads(writer: GroupWriter, requests: list[str]) -> dict[str, object]:
    """Each request written from a thread of its own; returns each one's result or the exception it raised."""
    out: dict[str, object] = {}

    def one(r: str) -> None:
        try:
            out[r] = writer.write(r)
        except Exception as exc:  # noqa: BLE001 - the caller's own outcome
            out[r] = exc

    threads = [threading.Thread(target=one, args=(r,)) for r in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def _wait_until_queued(writer: GroupWriter, n: int) -> None:
    """Until n requests wait behind the batch being written (10 s at most)."""
    deadline = time.time() + 10
    while len(writer._queue) < n and time.time() < deadline:  # noqa: SLF001 - the test's view of the queue
        time.sleep(0.01)


def test_requests_waiting_behind_a_batch_are_written_together(seeded_db):
    db, marker = seeded_db, f"gc-{key()[:8]}"
    first_in, release, sizes = threading.Event(), threading.Event(), []

    def flush(conn, requests, _context):  # noqa: ANN001, ANN202
        sizes.append(len(requests))
        if len(sizes) == 1:   # the first batch is held open until the others are waiting behind it
            first_in.set()
            assert release.wait(10)
        for r in requests:
            _note(conn, marker, r)
        return [r.upper() for r in requests]

    writer = GroupWriter(db, flush)
    lead = threading.Thread(target=writer.write, args=("a",))
    lead.start()
    assert first_in.wait(10)
    others = {}
    waiting = threading.Thread(target=lambda: others.update(_in_threads(writer, ["b", "c", "d", "e"])))
    waiting.start()
    _wait_until_queued(writer, 4)
    release.set()
    lead.join(10)
    waiting.join(30)
    assert others == {"b": "B", "c": "C", "d": "D", "e": "E"}
    assert sizes == [1, 4]
    assert (writer.batches, writer.requests) == (2, 5)
    assert _audit_rows(db, marker) == ["a", "b", "c", "d", "e"]



def test_the_last_batchs_callers_coming_back_are_waited_for(seeded_db):
    """Applicants who each wait for their case come back with their next one a moment apart: a leader that
    finds fewer requests than the last batch held waits for the rest (within half the last write, MAX_WAIT at
    most) instead of writing the first alone, which left 8 applicants in alternating batches of about 4 and 5
    on a slow machine (88 -> 100 submissions/s, batches 5.1 -> 7.5, in alternated bench runs)."""
    db, marker = seeded_db, f"gc-{key()[:8]}"
    first_in, release, sizes = threading.Event(), threading.Event(), []

    def flush(conn, requests, _context):  # noqa: ANN001, ANN202
        sizes.append(len(requests))
        if len(sizes) == 1:   # held open until the three are queued behind it
            first_in.set()
            assert release.wait(10)
        else:
            time.sleep(0.4)   # a write of 0.4 s: a leader may wait 0.2 s for the rest (the last comes at 0.06)
        for r in requests:
            _note(conn, marker, r)
        return list(requests)

    writer = GroupWriter(db, flush)
    writer.MAX_WAIT = 0.5
    lead = threading.Thread(target=writer.write, args=("a",))
    lead.start()
    assert first_in.wait(10)
    out: dict[str, object] = {}

    def applicant(name: str, pause: float) -> None:
        out[name] = writer.write(name)
        time.sleep(pause)   # back with the next request, each after its own moment
        out[name + "2"] = writer.write(name + "2")

    threads = [threading.Thread(target=applicant, args=(n, p)) for n, p in (("b", 0), ("c", 0.03), ("d", 0.06))]
    for t in threads:
        t.start()
    _wait_until_queued(writer, 3)
    release.set()
    lead.join(10)
    for t in threads:
        t.join(30)
    assert out == {"b": "b", "c": "c", "d": "d", "b2": "b2", "c2": "c2", "d2": "d2"}
    assert sizes == [1, 3, 3]   # the three came back into one batch, not one alone and then two


def test_a_leader_waits_for_requests_being_prepared_but_not_for_long(seeded_db):
    """Callers still preparing their request (inside `arriving`) are waited for, so they share the batch; one
    that takes long is not: the leader goes after at most half the last batch's write time (MAX_WAIT at most), and
    a caller that gives up without a request stops being waited for at once."""
    db, marker = seeded_db, f"gc-{key()[:8]}"
    sizes: list[int] = []

    def flush(conn, requests, _context):  # noqa: ANN001, ANN202
        sizes.append(len(requests))
        time.sleep(0.5)   # a batch that takes 0.5 s to write: a leader may wait up to 0.2 s (MAX_WAIT, below)
        for r in requests:
            _note(conn, marker, r)
        return list(requests)

    writer = GroupWriter(db, flush)
    writer.MAX_WAIT = 0.2
    assert writer.write("warm") == "warm"   # the writer now knows a batch takes about 0.5 s
    out: dict[str, object] = {}
    go = threading.Event()

    def prepared(name: str, seconds: float, give_up: bool = False) -> None:
        with writer.arriving() as write:
            assert go.wait(10)
            time.sleep(seconds)
            if not give_up:
                out[name] = write(name)

    quick = [threading.Thread(target=prepared, args=(n, 0.02 * i)) for i, n in enumerate(["p1", "p2", "p3"])]
    slow = threading.Thread(target=prepared, args=("slow", 1.5))
    quitter = threading.Thread(target=prepared, args=("quit", 0.001, True))
    for t in (*quick, slow, quitter):
        t.start()
    go.set()
    for t in (*quick, slow, quitter):
        t.join(10)
    assert out == {"p1": "p1", "p2": "p2", "p3": "p3", "slow": "slow"}
    # the three quick ones in one batch (the first to arrive led it, waiting for the other two), the slow one
    # later on its own: nobody waited 1.5 s for it
    assert sizes == [1, 3, 1]
    assert _audit_rows(db, marker) == ["p1", "p2", "p3", "slow", "warm"]
    assert writer._arriving == 0  # noqa: SLF001 - nobody is counted as on the way any more

def test_a_refusal_is_its_own_callers_and_the_others_are_written(seeded_db):
    db, marker = seeded_db, f"gc-{key()[:8]}"

    def flush(conn, requests, _context):  # noqa: ANN001, ANN202
        out = []
        for r in requests:
            if r == "bad":
                out.append(CaseError("case.region_unknown", region="x"))
            else:
                _note(conn, marker, r)
                out.append(r)
        return out

    outcomes = _in_threads(GroupWriter(db, flush), ["one", "bad", "two"])
    assert outcomes["one"] == "one" and outcomes["two"] == "two"
    assert isinstance(outcomes["bad"], CaseError) and outcomes["bad"].key == "case.region_unknown"
    assert _audit_rows(db, marker) == ["one", "two"]


def test_a_failed_batch_is_written_again_request_by_request(seeded_db):
    """A database error fails the whole transaction: nothing of that batch stays, and each of its requests is
    written again alone — the good ones land, the error goes to the request that caused it."""
    db, marker = seeded_db, f"gc-{key()[:8]}"
    first_in, release, sizes = threading.Event(), threading.Event(), []

    def flush(conn, requests, _context):  # noqa: ANN001, ANN202
        sizes.append(len(requests))
        if len(sizes) == 1:
            first_in.set()
            assert release.wait(10)
        for r in requests:
            _note(conn, marker, r)
            if r == "poison":
                conn.execute(sa.text("SELECT * FROM no_such_table"))
        return list(requests)

    writer = GroupWriter(db, flush)
    lead = threading.Thread(target=writer.write, args=("first",))
    lead.start()
    assert first_in.wait(10)
    outcomes = {}
    waiting = threading.Thread(target=lambda: outcomes.update(_in_threads(writer, ["x", "poison", "y"])))
    waiting.start()
    deadline = time.time() + 10
    while len(writer._queue) < 3 and time.time() < deadline:  # noqa: SLF001
        time.sleep(0.01)
    release.set()
    lead.join(10)
    waiting.join(30)
    assert sizes[:2] == [1, 3] and sorted(sizes[2:]) == [1, 1, 1]   # the batch of three failed, then one by one
    assert outcomes["x"] == "x" and outcomes["y"] == "y"
    assert isinstance(outcomes["poison"], sa.exc.DBAPIError)
    assert _audit_rows(db, marker) == ["first", "x", "y"]


# -- the batch of new applications ------------------------------------------------------------------------
def _filing(db, actor, request_key: str, region: str = VILLAGE):  # noqa: ANN001, ANN202
    version = apps.published_item(db, ITEM)["version"]
    return apps.prepare_filing(db, actor, ITEM, item_version=version, region_code=region, request_key=request_key,
                               values=person_values(db, actor), materials=_distinct_uploads(db, key()))


def test_one_batch_files_each_case_whole_and_refuses_only_the_bad_one(seeded_db, tmp_path, monkeypatch):
    db = seeded_db
    monkeypatch.setenv("EZZ_FILES_DIR", str(tmp_path))
    a = db.actors["applicant"]
    twice = key()
    batch = [_filing(db, a, key()), _filing(db, a, key(), region="420704999999"), _filing(db, a, twice),
             _filing(db, a, twice), _filing(db, a, key())]
    outcomes = db.write(lambda conn: apps.write_filings(conn, batch, db))

    assert isinstance(outcomes[1], CaseError) and outcomes[1].key == "case.region_unknown"
    filed = [outcomes[i] for i in (0, 2, 4)]
    assert all(o["state"] == wf.SUBMITTED and not o.get("repeated") for o in filed)
    assert len({o["case_no"] for o in filed}) == 3
    # the double click within the batch: the second gets the first one's case, marked repeated
    assert outcomes[3]["repeated"] and outcomes[3]["case_id"] == outcomes[2]["case_id"]
    with db.read() as conn:
        keys = conn.execute(sa.select(sa.func.count()).select_from(s.cases)
                            .where(s.cases.c.request_key.in_([f.request_key for f in batch]))).scalar_one()
    assert keys == 3   # the refused filing wrote no case
    for o in filed:
        events = _events(db, o["case_id"])
        assert [(e.seq, e.action, e.to_state) for e in events] == [(1, "create", wf.DRAFT), (2, "submit", wf.SUBMITTED)]
        assert o["version"] == 2 and o["promised_due"] is not None and o["warning_level"] == "green"
        mats = _materials(db, o["case_id"])
        assert mats and all(m.kind == "material" and m.locker_owner == a.user_id for m in mats)
        for m in mats:   # every upload's bytes are on disk, whole, under their digest
            assert hashlib.sha256((tmp_path / m.sha256[:2] / m.sha256).read_bytes()).hexdigest() == m.sha256
    checked, _events_checked, problems = record_check.verify(db, case_ids=[o["case_id"] for o in filed])
    assert checked == 3 and problems == []
    assert not list(tmp_path.rglob("*.part"))   # no temporary file is left behind


def test_an_account_changed_after_the_checks_is_filed_as_it_is_now(seeded_db):
    """file_new checks the form against the applicant's account as last read in the process; the batch reads the
    account again, so a changed identifier is never filed under the old one (the form's ID no longer matches)."""
    from app import auth
    from app.validators import make_resident_id

    db = seeded_db
    n = uuid.uuid4().int % 300

    def work(conn):  # noqa: ANN001, ANN202
        return auth.create_user(conn, username=f"gc_{key()[:12]}", password=None, password_hash=auth.hash_password(
            "Ezhou@2026"), display_name="批次测试", role=wf.APPLICANT, id_kind="resident_id",
            id_number=make_resident_id("420704", date(1971, 1, 1 + n % 28), 100 + n))

    person = auth.actor_for(db, db.write(work))
    filing = _filing(db, person, key())
    changed = make_resident_id("420704", date(1990, 5, 6), 777)
    with db.engine.begin() as conn:
        conn.execute(s.users.update().where(s.users.c.user_id == person.user_id).values(id_number=changed))
    [outcome] = db.write(lambda conn: apps.write_filings(conn, [filing], db))
    assert isinstance(outcome, apps.ApplicationError) and "applicant_id" in outcome.problems


def test_two_uploads_of_one_content_at_once_both_land(tmp_path):
    """Eight applicants sending the same file at the same moment: each write has a temporary name of its own."""
    data = b"%PDF-1.4\n" + (b"x" * 200_000)
    target = tmp_path / "ab" / "cd"
    errors: list[Exception] = []

    def write() -> None:
        try:
            files.write_durably(target, data)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and target.read_bytes() == data and not list(tmp_path.rglob("*.part"))


def test_a_batchs_uploads_are_flushed_before_it_commits_and_a_failed_flush_files_nothing(seeded_db, tmp_path,
                                                                                          monkeypatch):
    """file_new writes the bytes without fsync and the batch flushes them all at once, beside its transaction and
    before it commits: the flush sees every upload of the batch on disk and no row of it committed; if the flush
    fails, the applicant is told and no case names bytes that might be lost."""
    db = seeded_db
    monkeypatch.setenv("EZZ_FILES_DIR", str(tmp_path))
    a = db.actors["applicant"]
    seen: list[tuple[list[str], int]] = []
    real = files.make_durable

    def spy(root, stored):  # noqa: ANN001, ANN202
        with db.read() as conn:
            rows = conn.execute(sa.select(sa.func.count()).select_from(s.stored_files)
                                .where(s.stored_files.c.storage_path.in_(stored))).scalar_one()
        seen.append((list(stored), rows))
        assert all((root / p).is_file() for p in stored)
        real(root, stored)

    monkeypatch.setattr(files, "make_durable", spy)
    version = apps.published_item(db, ITEM)["version"]
    done = apps.file_new(db, a, ITEM, item_version=version, region_code=VILLAGE, request_key=key(),
                         values=person_values(db, a), materials=_distinct_uploads(db, key()))
    assert done["state"] == wf.SUBMITTED
    [(stored, rows_then)] = seen
    assert rows_then == 0 and len(stored) == len(_materials(db, done["case_id"])) >= 1

    def broken(root, stored):  # noqa: ANN001, ANN202
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(files, "make_durable", broken)
    lost = key()
    try:
        apps.file_new(db, a, ITEM, item_version=version, region_code=VILLAGE, request_key=lost,
                      values=person_values(db, a), materials=_distinct_uploads(db, key()))
    except OSError:
        pass
    else:
        raise AssertionError("a failed flush must not file the case")
    with db.read() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(s.cases)
                            .where(s.cases.c.request_key == lost)).scalar_one() == 0


def test_without_syncfs_each_file_and_its_folder_is_fsynced(tmp_path, monkeypatch):
    data = {f"{n:02d}/{n:064d}": b"%PDF-1.4\n" + bytes([n]) * 1000 for n in range(3)}
    for relative, body in data.items():
        files.write_durably(tmp_path / relative, body, sync=False)
    synced: list[str] = []
    real = files.os.fsync

    def spy(fd: int) -> None:
        synced.append(files.os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(files, "_SYNCFS", None)
    monkeypatch.setattr(files.os, "fsync", spy)
    files.make_durable(tmp_path, [*data, next(iter(data))])   # one file named twice is flushed once
    expected = [str(tmp_path / r) for r in data] + [str((tmp_path / r).parent) for r in data]
    assert synced == expected


def test_the_same_upload_filed_again_stands_on_its_locker_entry(seeded_db, tmp_path, monkeypatch):
    """An applicant sending the same file for a second application gets the first one's locker entry, not a new
    one; the first filing, whose bytes were new to the store, needs no look-up in the locker at all."""
    db = seeded_db
    monkeypatch.setenv("EZZ_FILES_DIR", str(tmp_path))
    a = db.actors["applicant"]
    version = apps.published_item(db, ITEM)["version"]
    uploads = _distinct_uploads(db, key())
    looked_up: list[int] = []
    real = apps._same_locker_files  # noqa: SLF001

    def spy(conn, wanted):  # noqa: ANN001, ANN202
        looked_up.append(len(wanted))
        return real(conn, wanted)

    monkeypatch.setattr(apps, "_same_locker_files", spy)
    first, second = (apps.file_new(db, a, ITEM, item_version=version, region_code=VILLAGE, request_key=key(),
                                   values=person_values(db, a), materials=uploads) for _ in range(2))
    assert looked_up == [0, len(uploads)]
    cm = s.case_materials.c
    with db.read() as conn:
        given = {case_id: sorted(conn.execute(sa.select(cm.material_seq, cm.file_id, cm.locker_id)
                                              .where(cm.case_id == case_id)).all())
                 for case_id in (first["case_id"], second["case_id"])}
    assert given[first["case_id"]] == given[second["case_id"]] and len(given[first["case_id"]]) == len(uploads)


def test_which_uploads_are_new_is_decided_by_the_batch_not_when_the_form_was_checked(seeded_db, tmp_path,
                                                                                        monkeypatch):
    """Two filings of the same files by one applicant, both checked before either is written: the first one
    written puts the files in the locker, and the second, written after it, stands on those entries — nothing is
    written to the store before a batch, so the second cannot take the files for new and skip the locker."""
    db = seeded_db
    monkeypatch.setenv("EZZ_FILES_DIR", str(tmp_path))
    a = db.actors["applicant"]
    version = apps.published_item(db, ITEM)["version"]
    uploads = _distinct_uploads(db, key())
    second, first = (apps.prepare_filing(db, a, ITEM, item_version=version, region_code=VILLAGE, request_key=key(),
                                         values=person_values(db, a), materials=uploads) for _ in range(2))
    assert not any(tmp_path.iterdir())   # checked and named, nothing written yet
    [one] = db.write(lambda conn: apps.write_filings(conn, [first], db))
    [two] = db.write(lambda conn: apps.write_filings(conn, [second], db))
    cm, lk = s.case_materials.c, s.locker_items.c
    with db.read() as conn:
        given = {case_id: sorted(conn.execute(sa.select(cm.material_seq, cm.file_id, cm.locker_id)
                                              .where(cm.case_id == case_id)).all())
                 for case_id in (one["case_id"], two["case_id"])}
        entries = conn.execute(sa.select(sa.func.count()).select_from(s.locker_items)
                               .where(lk.source_case_id.in_([one["case_id"], two["case_id"]]))).scalar_one()
        stored = {seq: files.read(conn, file_id)[1] for seq, file_id, _ in given[one["case_id"]]}
    assert given[one["case_id"]] == given[two["case_id"]] and len(given[one["case_id"]]) == len(uploads)
    assert entries == len(uploads)
    assert stored == {seq: u.data for seq, u in uploads.items()}   # whole, on disk


def test_a_filing_prepared_under_other_handling_units_is_filed_with_the_current_ones(seeded_db):
    """The units that could handle a filing are asked about with the batch's other facts, as its item version
    named them when it was prepared; if the current version names others (published meanwhile), the batch asks
    about those too, and the case goes to the unit the current version gives."""
    import dataclasses

    db = seeded_db
    a = db.actors["applicant"]
    prepared = _filing(db, a, key())
    expected = prepared.units
    stale = dataclasses.replace(prepared, units=("U-000000-NONE",))
    [outcome] = db.write(lambda conn: apps.write_filings(conn, [stale], db))
    assert outcome["state"] == wf.SUBMITTED and outcome["unit_id"] in expected
    with db.read() as conn:
        assert conn.execute(sa.select(s.org_units.c.unit_id)
                            .where(s.org_units.c.unit_id == outcome["unit_id"])).scalar_one() == outcome["unit_id"]
