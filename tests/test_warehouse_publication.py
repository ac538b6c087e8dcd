"""The analytics warehouse with several servers on one PostgreSQL (pipelines/marts): builds are published
atomically as read-only files, so a reader always sees one complete build — the one current when it opened —
a failed build publishes nothing, readers on other servers are never blocked by a build in another process,
and superseded builds are deleted only after a grace period."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from app import calendar_store
from app.db import Database
from pipelines import demo, marts
from tests.conftest import PG_URL, drop_database, make_database

BUILD_DAY = date(2026, 11, 26)
STATE = "SELECT (SELECT COUNT(*) FROM marts.fct_case) AS cases, (SELECT COUNT(*) FROM marts.build_log) AS builds"


@pytest.fixture(scope="module")
def pg(tmp_path_factory):  # noqa: ANN001, ANN201
    from tests.factories import create_users

    db = make_database("postgresql", tmp_path_factory.mktemp("pub"))
    demo.generate(db, cases=300, seed=3, end=BUILD_DAY)
    calendar_store.invalidate()
    db.actors = create_users(db)   # type: ignore[attr-defined]
    yield db
    drop_database(db)
    calendar_store.invalidate()


@pytest.fixture
def warehouse(pg, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    """A warehouse directory of its own, with a first build published."""
    monkeypatch.setenv("EZZ_WAREHOUSE", str(tmp_path / "wh" / "warehouse.duckdb"))
    first = marts.build(pg, build_day=BUILD_DAY)
    assert first.published == marts.published_path()
    return first.published


def _state(db: Database) -> tuple[int, int]:
    return marts.read(db, STATE).row(0)


def _file_cases(db, n: int) -> None:  # noqa: ANN001
    from tests.factories import file_case

    for _ in range(n):
        file_case(db, db.actors["applicant"], at=datetime(2026, 11, 26, 10, 0))


def test_a_reader_keeps_its_build_while_the_next_is_published(pg, warehouse):
    cases, builds = _state(pg)
    with marts.reader(pg) as old:
        assert old.execute(STATE).fetchall()[0] == (cases, builds)
        _file_cases(pg, 2)
        second = marts.refresh(pg, build_day=BUILD_DAY)
        assert second.published != warehouse and second.published == marts.published_path()
        # the reader that opened before the publication reads its complete build to the end …
        assert old.execute(STATE).fetchall()[0] == (cases, builds)
        assert old.execute("SELECT COUNT(*) FROM marts.mart_dept_week").fetchall()[0][0] > 0
    # … and a reader that opens now reads the new one
    assert _state(pg) == (cases + 2, builds + 1)
    assert warehouse.exists()   # the previous build stays a while for readers that still have it open


def test_a_failed_build_publishes_nothing_and_readers_keep_the_last_good_one(pg, warehouse, monkeypatch):
    before = _state(pg)
    versions = marts.published_versions()
    _file_cases(pg, 1)
    monkeypatch.setattr(marts, "TESTS", [*marts.TESTS, ("fct_case", "a test that fails", "SELECT 1")])
    with pytest.raises(marts.MartTestFailed, match="a test that fails"):
        marts.refresh(pg, build_day=BUILD_DAY)
    assert marts.published_path() == warehouse and marts.published_versions() == versions
    assert _state(pg) == before
    monkeypatch.setattr(marts, "TESTS", marts.TESTS[:-1])
    assert marts.refresh(pg, build_day=BUILD_DAY).mode == "incremental"   # the work file was rolled back whole
    assert _state(pg) == (before[0] + 1, before[1] + 1)


def test_two_servers_read_while_a_third_process_builds(pg, warehouse):
    """Two Database objects read the marts over and over while another process (a third server, or the
    command) rebuilds everything: no read fails or waits for the build, and each sees a whole build."""
    old = _state(pg)
    servers = [Database(PG_URL, schema=pg.schema) for _ in range(2)]
    seen: list[tuple[int, int]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def read_on(db: Database) -> None:
        while not stop.is_set():
            try:
                seen.append(_state(db))
            except BaseException as exc:  # noqa: BLE001 - collected for the assertion
                errors.append(exc)
                return

    threads = [threading.Thread(target=read_on, args=(db,)) for db in servers]
    for th in threads:
        th.start()
    env = {**os.environ, "EZZ_DATABASE_URL": PG_URL, "EZZ_DATABASE_SCHEMA": pg.schema, "EZZ_BACKGROUND_JOBS": "0"}
    builder = subprocess.run([sys.executable, "-m", "pipelines.marts", "--full", "--build-day", BUILD_DAY.isoformat()],
                             env=env, capture_output=True, text=True, timeout=300)
    reads_during_build = len(seen)
    stop.set()
    for th in threads:
        th.join()
    for db in servers:
        db.dispose()
    assert builder.returncode == 0, builder.stderr[-2000:]
    assert errors == []
    assert reads_during_build > 10
    assert set(seen) <= {old, (old[0], old[1] + 1)}     # the old build or the new one, nothing in between
    assert _state(pg) == (old[0], old[1] + 1)          # published: every server's next read sees it


def test_a_build_waits_for_one_running_on_another_server(pg, warehouse):
    """The builds of all servers take turns (a supervisor's rebuild on one server while the job leader
    refreshes on another): the second starts when the first is done."""
    with pg.engine.connect() as other_server:
        other_server.execute(sa.text("SELECT pg_advisory_lock(:k1, :k2)"), marts._build_lock_keys(pg))
        other_server.commit()
        done = threading.Event()
        th = threading.Thread(target=lambda: (marts.refresh(pg, build_day=BUILD_DAY), done.set()))
        th.start()
        time.sleep(1.5)
        assert not done.is_set() and marts.published_path() == warehouse
        other_server.execute(sa.text("SELECT pg_advisory_unlock(:k1, :k2)"), marts._build_lock_keys(pg))
        other_server.commit()
        th.join(timeout=120)
    assert done.is_set() and marts.published_path() != warehouse


def test_superseded_builds_are_deleted_after_the_grace_period(pg, warehouse):
    second = marts.refresh(pg, build_day=BUILD_DAY).published
    assert [f for _, f in marts.published_versions()] == [warehouse, second]   # within the grace: both kept
    aged = time.time() - marts.KEEP_SECONDS - 5
    os.utime(second, (aged, aged))            # the first was superseded longer ago than the grace period
    third = marts.refresh(pg, build_day=BUILD_DAY).published
    assert [f for _, f in marts.published_versions()] == [second, third]
    assert not warehouse.exists()
    assert _state(pg)[1] == 3
