"""Several REAL servers on one PostgreSQL schema, for tests/test_multi_server.py.

`pg_cluster` creates a fresh schema, migrates and seeds it (reference data and the browser tests' users, real
bcrypt hashes), then starts two servers (`streamlit run server.py`, named A and B) on two free ports with the same
EZZ_DATABASE_URL, EZZ_DATABASE_SCHEMA and EZZ_COOKIE_KEY — what a load balancer puts behind one address — and the
background jobs on with a short interval. Each server's PostgreSQL connections carry its name
(application_name, through libpq's PGAPPNAME), so a test can ask pg_stat_activity which server holds a lock.
At the end the servers are stopped and the schema dropped.

Browser cookies are per host, not per port: one browser context that visits 127.0.0.1:A and 127.0.0.1:B is one
user whom a load balancer sent to another server.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import sqlalchemy as sa

from app.db import Database
from tests.browser_support import (
    PASSWORD,
    ROOT,
    TIMEOUT_MS,
    USERS,
    TestUser,
    _stop,
    _streamlit_command,
    _tail,
    free_port,
    get_json,
)

JOB_INTERVAL_SECONDS = 2
# A second officer of the same department as USERS["officer"]: the two race for one case.
OFFICER2 = TestUser("e2e_officer2", "测试办事员乙", "officer", "U-4207-SCJG")
CLUSTER_USERS = [*USERS.values(), OFFICER2]


@dataclass
class Server:
    name: str
    base: str
    proc: subprocess.Popen
    log_path: Path

    @property
    def app_name(self) -> str:
        return f"ezz-server-{self.name}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        """Die without a word (SIGKILL): no lifespan shutdown, no lock released by the app."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)

    def log(self) -> str:
        return _tail(self.log_path, 60)


@dataclass
class Cluster:
    db: Database               # the test's own connection to the shared schema
    warehouse: Path            # EZZ_WAREHOUSE of every server: the analytics warehouse in a shared folder
    servers: list[Server] = field(default_factory=list)

    def server(self, name: str) -> Server:
        return next(s for s in self.servers if s.name == name)

    def logs(self) -> str:
        return "\n".join(f"--- server {s.name} ({s.base}) ---\n{s.log()}" for s in self.servers)


def seed_postgres(db: Database, users: list[TestUser]) -> None:
    """Migrate and seed a fresh schema and create the users (as browser_support does for a DuckDB file)."""
    from app import auth
    from pipelines.seed_reference import seed_reference

    db.migrate()
    seed_reference(db)
    digest = auth.hash_password(PASSWORD)

    def work(conn) -> None:  # noqa: ANN001
        for user in users:
            auth.create_user(conn, username=user.username, password=None, password_hash=digest,
                             display_name=user.display_name, role=user.role, unit_id=user.unit_id,
                             id_kind="resident_id" if user.id_number else None, id_number=user.id_number)

    db.write(work)


def start_servers(workdir: Path, db: Database, names: tuple[str, ...], cookie_key: str,
                  warehouse: Path) -> list[Server]:
    """Start one real server per name on the shared schema (all at once) and wait until each is healthy."""
    servers = []
    for name in names:
        port = free_port()
        folder = workdir / f"server_{name}"
        folder.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("EZZ_", "PG"))}
        env.update({
            "EZZ_DATABASE_URL": db.url,
            "EZZ_DATABASE_SCHEMA": db.schema or "",
            "EZZ_COOKIE_KEY": cookie_key,
            "EZZ_MODE": "production",                 # refuses to start without a real shared secret
            "EZZ_BACKGROUND_JOBS": "1",
            "EZZ_JOB_INTERVAL_SECONDS": str(JOB_INTERVAL_SECONDS),
            "EZZ_LANGUAGE": "zh",
            "EZZ_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
            "EZZ_FILES_DIR": str(workdir / "files"),           # one shared store, as on a network share
            "EZZ_WAREHOUSE": str(warehouse),
            "PGAPPNAME": f"ezz-server-{name}",
            "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        })
        log_path = folder / "server.log"
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                [*_streamlit_command(), "run", "server.py", "--server.port", str(port),
                 "--server.address", "127.0.0.1", "--server.headless", "true"],
                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        servers.append(Server(name, f"http://127.0.0.1:{port}", proc, log_path))
    try:
        for server in servers:
            _wait_healthy(server)
    except BaseException:
        for server in servers:
            _stop(server.proc)
        raise
    return servers


def _wait_healthy(server: Server, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if not server.alive():
            pytest.fail(f"server {server.name} exited with {server.proc.returncode}:\n{server.log()}")
        try:
            status, body = get_json(server.base + "/healthz", timeout=2)
            if status == 200 and body.get("status") == "ok" and body.get("database") == "postgresql":
                return
        except (OSError, ValueError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"server {server.name} not healthy after {seconds} s:\n{server.log()}")
        time.sleep(0.25)  # polling interval of the health probe


@pytest.fixture(scope="module")
def pg_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    from tests.conftest import drop_database, make_database

    workdir = tmp_path_factory.mktemp("cluster")
    db = make_database("postgresql", workdir)
    try:
        seed_postgres(db, CLUSTER_USERS)
        warehouse = workdir / "warehouse" / "warehouse.duckdb"
        servers = start_servers(workdir, db, ("A", "B"), cookie_key=secrets.token_urlsafe(36), warehouse=warehouse)
        cluster = Cluster(db, warehouse, servers)
        try:
            yield cluster
        finally:
            for server in servers:
                _stop(server.proc)
    finally:
        drop_database(db)


@pytest.fixture()
def new_context(chromium):  # noqa: ANN001, ANN201
    """A factory: each call opens a NEW browser context (its own cookies), closed at the end of the test. Pages
    are opened with absolute addresses (the servers differ by port)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=TIMEOUT_MS)
    contexts = []

    def make(base_url: str | None = None):  # noqa: ANN202
        context = chromium.new_context(base_url=base_url, locale="zh-CN", viewport={"width": 1366, "height": 900})
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS * 2)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


# -- what the database says --------------------------------------------------------------------------------------
def jobs_lock_holders(db: Database) -> list[str]:
    """The application names of the connections that hold the background jobs' advisory lock of this schema."""
    from app.jobs import _lock_keys

    keys = _lock_keys(db)
    with db.read() as conn:
        rows = conn.execute(sa.text(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = :k1 AND l.objid = :k2 AND l.objsubid = 2 "
            "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
            {"k1": keys["k1"], "k2": keys["k2"] & 0xFFFFFFFF}).fetchall()
    return [r[0] for r in rows]


def user_id(db: Database, username: str) -> int:
    from app import schema as s

    with db.read() as conn:
        return int(conn.execute(sa.select(s.users.c.user_id).where(s.users.c.username == username)).scalar_one())
