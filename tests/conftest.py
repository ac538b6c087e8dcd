"""Shared fixtures: the same suite runs on a DuckDB file and on PostgreSQL (127.0.0.1:5432, database test).

PostgreSQL is not optional here: CI has it, and a storage test that silently skipped it would claim what
it never checked. Each PostgreSQL database lives in a schema of its own, dropped first.
"""
from __future__ import annotations

import itertools
import os
import uuid
import tempfile

import pytest

from app import calendar_store
from app.db import Database, forget_databases

# Uploaded files of the tests go to a temporary folder, never into data/files.
os.environ["EZZ_FILES_DIR"] = tempfile.mkdtemp(prefix="ezz-files-")
# The PostgreSQL-mode warehouse of the tests too: never data/warehouse of the checkout (a test that wants its own
# sets EZZ_WAREHOUSE itself).
os.environ.setdefault("EZZ_WAREHOUSE", os.path.join(tempfile.mkdtemp(prefix="ezz-warehouse-"), "warehouse.duckdb"))

PG_URL = os.environ.get("EZZ_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = ["duckdb", "postgresql"]
_counter = itertools.count()


def _unique() -> str:
    """A name part no other fixture has: pytest loads this file as `conftest` and tests import it as
    `tests.conftest` — two modules, two counters — so the counter alone could give two fixtures one schema."""
    return f"{next(_counter)}_{uuid.uuid4().hex[:8]}"


def make_database(backend: str, tmp_dir) -> Database:  # noqa: ANN001
    if backend == "duckdb":
        return Database(f"duckdb:///{tmp_dir / f'ezz_{_unique()}.duckdb'}")
    schema = f"ezz_t{os.getpid()}_{_unique()}"
    db = Database(PG_URL, schema=schema)
    db.drop_everything()
    return db


def drop_database(db: Database) -> None:
    if not db.is_duckdb:
        db.drop_everything()
        with db.engine.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {db.schema} CASCADE")
    db.dispose()


@pytest.fixture(params=BACKENDS)
def empty_db(request, tmp_path):  # noqa: ANN001
    db = make_database(request.param, tmp_path)
    calendar_store.invalidate()
    yield db
    drop_database(db)
    calendar_store.invalidate()


@pytest.fixture(scope="session", params=BACKENDS)
def seeded_db(request, tmp_path_factory):  # noqa: ANN001
    """A migrated and seeded database with one user per role (see tests/factories.py); shared by the
    tests of a session, which therefore create their own cases and never assume an empty case table."""
    from pipelines.seed_reference import seed_reference
    from tests.factories import create_users

    db = make_database(request.param, tmp_path_factory.mktemp(request.param))
    db.migrate()
    seed_reference(db)
    calendar_store.invalidate()
    db.actors = create_users(db)  # type: ignore[attr-defined]
    yield db
    drop_database(db)


@pytest.fixture(autouse=True)
def _release_cached_databases():
    yield
    forget_databases()


@pytest.fixture
def env(seeded_db, monkeypatch, tmp_path):  # noqa: ANN001, ANN201
    """For page tests: the pages read their database from the environment (as the server does); Streamlit's
    caches start empty (st.cache_resource survives between AppTest runs)."""
    import streamlit as st

    from tests.apptest_support import point_app_at

    point_app_at(seeded_db, monkeypatch)
    monkeypatch.setenv("EZZ_FILES_DIR", str(tmp_path / "files"))
    yield seeded_db
    st.cache_resource.clear()
