"""The storage owner: the one module that opens connections, runs migrations and performs writes.

DuckDB (the embedded default) allows one writing process per file and raises
`TransactionException: Conflict on update` when two transactions touch the same row, so every write in this
process goes through `Database.write`, which serialises writers on a lock, retries a bounded number of times
on a conflict, and lets callers guard updates with a version check (`update_versioned`). On PostgreSQL the
lock is not needed (the server serialises), but the same retry and version checks apply, so the behaviour
is the same with either database.
"""
from __future__ import annotations

import collections
import contextlib
import functools
import logging
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from app import timeutil

log = logging.getLogger(__name__)
T = TypeVar("T")

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
MIGRATION_LOCK = 0x455A5A4D   # 'EZZM': the advisory lock key of schema upgrades (with the schema's, below)


class StaleVersionError(RuntimeError):
    """The row changed since the caller read it: the screen is stale and must reload."""


class WriteConflictError(RuntimeError):
    """A write kept conflicting with concurrent writers after every retry."""


def _is_conflict(exc: BaseException) -> bool:
    orig = getattr(exc, "orig", exc)
    name = type(orig).__name__
    if name in ("TransactionException",) or "Conflict on update" in str(orig):
        return True
    sqlstate = getattr(orig, "sqlstate", None) or getattr(getattr(orig, "diag", None), "sqlstate", None)
    return sqlstate in ("40001", "40P01")


@functools.cache
def _cached_duckdb_dialect() -> type:
    """duckdb-engine's dialect with SQLAlchemy's compiled-statement cache on.

    duckdb-engine sets `supports_statement_cache = False` only to silence SQLAlchemy 1.4's warning about dialects
    that do not say (Mause/duckdb_engine#268: "it might be good to enable this once it is tested"); it adds no
    compilation of its own that the cache would get wrong — its statements are PostgreSQL's, compiled by the
    PostgreSQL compiler it inherits, which caches on psycopg. Without the cache every statement is compiled again
    on each execution (about a third of a case submission's time, and most of it under the write lock)."""
    from duckdb_engine import Dialect

    class CachedDuckDBDialect(Dialect):
        supports_statement_cache = True

    return CachedDuckDBDialect


_CACHED_DRIVER = "ezz_cached"
sa.dialects.registry.register(f"duckdb.{_CACHED_DRIVER}", __name__, "CachedDuckDBDialect")


def __getattr__(name: str) -> Any:   # the registry loads the dialect class lazily, by this name
    if name == "CachedDuckDBDialect":
        return _cached_duckdb_dialect()
    raise AttributeError(name)


def migrations() -> list[tuple[int, str, Path]]:
    found = []
    for path in sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql")):
        found.append((int(path.name[:4]), path.stem[5:], path))
    return found


def _statements(sql: str) -> list[str]:
    lines = [ln for ln in sql.splitlines() if not ln.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


class Database:
    """Connections, migrations and serialised writes for one database URL."""

    def __init__(self, url: str, *, schema: str | None = None, write_retries: int = 5):
        self.url = url
        self.schema = schema
        self.write_retries = write_retries
        self.dialect = "duckdb" if url.startswith("duckdb") else "postgresql"
        self._write_lock = threading.RLock() if self.dialect == "duckdb" else None
        self._memo: collections.OrderedDict[Any, Any] = collections.OrderedDict()
        self._memo_lock = threading.Lock()
        self._writers: dict[str, Any] = {}
        self.engine: Engine = self._create_engine()

    # -- connections -------------------------------------------------------------------------------
    def _create_engine(self) -> Engine:
        if self.dialect == "duckdb":
            path = self.url.split("///", 1)[1] if "///" in self.url else ""
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            # The same URL, read by duckdb-engine's dialect with SQLAlchemy's compiled-statement cache on
            # (see _cached_duckdb_dialect): the URL the rest of the code knows stays as given.
            url = sa.engine.make_url(self.url).set(drivername=f"duckdb+{_CACHED_DRIVER}")
            return sa.create_engine(url, pool_size=8, max_overflow=8)
        url = self.url
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        engine = sa.create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)
        if self.schema:
            schema = self.schema
            if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
                raise ValueError("schema name must be a plain identifier")

            @sa.event.listens_for(engine, "connect")
            def _set_search_path(dbapi_conn, _record):  # noqa: ANN001
                cur = dbapi_conn.cursor()
                cur.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
                cur.execute(f"SET search_path TO {schema}")
                cur.close()
                dbapi_conn.commit()

        return engine

    @property
    def is_duckdb(self) -> bool:
        return self.dialect == "duckdb"

    @contextlib.contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection for reading (one per call: DuckDB refuses concurrent use of one connection)."""
        with self.engine.connect() as conn:
            yield conn

    def write(self, work: Callable[[Connection], T], *, retries: int | None = None) -> T:
        """Run `work` in one transaction, serialised with other writers, retried on conflict.

        `work` must be safe to run again from the start: on a conflict the transaction is rolled back as a
        whole and nothing of it remains.
        """
        attempts = (self.write_retries if retries is None else retries) + 1
        for attempt in range(attempts):
            try:
                with self._locked():
                    with self.engine.begin() as conn:
                        return work(conn)
            except sa.exc.DBAPIError as exc:
                if not _is_conflict(exc) or attempt == attempts - 1:
                    if _is_conflict(exc):
                        raise WriteConflictError("write kept conflicting with other writers") from exc
                    raise
                time.sleep(0.005 * (2**attempt))
        raise AssertionError("unreachable")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self._write_lock is None:
            yield
        else:
            with self._write_lock:
                yield

    def group_writer(self, name: str, flush: Callable[..., list[Any]]) -> Any:
        """The process's GroupWriter (app/group_commit.py) of this database for one kind of write, made at first
        use with `flush` — the same function at every call."""
        from app.group_commit import GroupWriter   # it builds on this module

        with self._memo_lock:
            writer = self._writers.get(name)
            if writer is None:
                writer = self._writers[name] = GroupWriter(self, flush)
        return writer

    def group_writers(self) -> dict[str, Any]:
        """The group writers made so far, by name (their counters: the benchmark's table)."""
        with self._memo_lock:
            return dict(self._writers)

    MEMO_SIZE = 512

    def remembered(self, key: Any, load: Callable[[], tuple[T, bool]]) -> T:
        """A value of this database that never changes once it is final (a published item version's form and
        materials), kept in process: `load()` returns the value and whether it is final (only then is it kept;
        a draft's parts still change). At most MEMO_SIZE values, the least recently used dropped first."""
        with self._memo_lock:
            if key in self._memo:
                self._memo.move_to_end(key)
                return self._memo[key]
        value, final = load()
        if final:
            with self._memo_lock:
                self._memo[key] = value
                while len(self._memo) > self.MEMO_SIZE:
                    self._memo.popitem(last=False)
        return value

    def forget_remembered(self) -> None:
        with self._memo_lock:
            self._memo.clear()

    def raw_duckdb(self):  # noqa: ANN201 - duckdb connection
        """A DuckDB cursor for bulk loads and analytics (DuckDB mode only); the caller closes it."""
        if not self.is_duckdb:
            raise RuntimeError("raw DuckDB access is only available with a DuckDB database")
        raw = self.engine.raw_connection()
        return raw, raw.driver_connection

    def dispose(self) -> None:
        self.engine.dispose()

    # -- schema ------------------------------------------------------------------------------------
    def schema_version(self) -> int:
        with self.read() as conn:
            if not self._has_table(conn, "schema_version"):
                return 0
            return int(conn.execute(sa.text("SELECT COALESCE(MAX(version), 0) FROM schema_version")).scalar())

    def _has_table(self, conn: Connection, name: str) -> bool:
        if self.is_duckdb:
            q = "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = :n"
        else:
            q = "SELECT COUNT(*) FROM information_schema.tables WHERE table_name = :n AND table_schema = current_schema()"
        return bool(conn.execute(sa.text(q), {"n": name}).scalar())

    def migrate(self, target: int | None = None) -> list[int]:
        """Apply pending migrations in order, each in its own transaction; returns the versions applied.

        Several servers may start at once on one PostgreSQL schema (a deployment restarts them all); they take
        turns on an advisory lock, so one applies the pending migrations and the others then find none —
        without it the second failed on the first's tables and its server did not start."""
        with self._migration_turn():
            return self._migrate(target)

    @contextlib.contextmanager
    def _migration_turn(self) -> Iterator[None]:
        if self.is_duckdb:   # one process owns the file
            yield
            return
        crc = zlib.crc32((self.schema or "public").encode())
        keys = {"k1": MIGRATION_LOCK, "k2": crc - 2**32 if crc >= 2**31 else crc}
        with self.engine.connect() as conn:
            conn.execute(sa.text("SELECT pg_advisory_lock(:k1, :k2)"), keys)
            conn.commit()   # a session lock: held on this connection until unlocked (or the process dies)
            try:
                yield
            finally:
                conn.execute(sa.text("SELECT pg_advisory_unlock(:k1, :k2)"), keys)
                conn.commit()

    def _migrate(self, target: int | None) -> list[int]:
        applied: list[int] = []

        def ensure(conn: Connection) -> None:
            if not self._has_table(conn, "schema_version"):
                conn.exec_driver_sql(
                    "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
                    "applied_at TIMESTAMP NOT NULL)"
                )

        self.write(ensure)
        current = self.schema_version()
        for version, name, path in migrations():
            if version <= current or (target is not None and version > target):
                continue

            def apply(conn: Connection, version=version, name=name, path=path) -> None:
                for statement in _statements(path.read_text(encoding="utf-8")):
                    conn.exec_driver_sql(statement)
                conn.execute(
                    sa.text("INSERT INTO schema_version (version, name, applied_at) VALUES (:v, :n, :t)"),
                    {"v": version, "n": name, "t": timeutil.now()},
                )

            self.write(apply, retries=0)
            applied.append(version)
            log.info("schema migrated to version %s (%s)", version, name)
        return applied

    def table_columns(self, table: str) -> list[str]:
        q = "SELECT column_name FROM information_schema.columns WHERE table_name = :t"
        if not self.is_duckdb:
            q += " AND table_schema = current_schema()"
        with self.read() as conn:
            return [r[0] for r in conn.execute(sa.text(q + " ORDER BY ordinal_position"), {"t": table})]

    def drop_everything(self) -> None:
        """Tests only: remove every table and sequence of this database (or schema)."""
        self.forget_remembered()
        if self.is_duckdb:
            def drop(conn: Connection) -> None:
                for (name,) in conn.execute(sa.text("SELECT table_name FROM information_schema.tables WHERE table_type='BASE TABLE'")).fetchall():
                    conn.exec_driver_sql(f'DROP TABLE IF EXISTS "{name}" CASCADE')
                for (name,) in conn.execute(sa.text("SELECT sequence_name FROM duckdb_sequences()")).fetchall():
                    conn.exec_driver_sql(f'DROP SEQUENCE IF EXISTS "{name}" CASCADE')
            self.write(drop)
        else:
            schema = self.schema or "public"
            def drop_pg(conn: Connection) -> None:
                conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
                conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
            self.write(drop_pg)
            self.engine.dispose()


def update_versioned(conn: Connection, table: sa.Table, key: dict[str, Any], expected_version: int,
                     values: dict[str, Any]) -> int:
    """UPDATE one row only if its version is still `expected_version`; returns the new version.

    duckdb-engine reports no reliable rowcount, so the check reads RETURNING instead.
    """
    cond = [table.c[k] == v for k, v in key.items()] + [table.c.version == expected_version]
    row = conn.execute(
        table.update().where(*cond).values(**values, version=expected_version + 1).returning(table.c.version)
    ).fetchone()
    if row is None:
        raise StaleVersionError(f"{table.name} {key} is no longer at version {expected_version}")
    return int(row[0])


_ARROW_TYPES: list[tuple[type, Callable[[], Any]]] = []   # filled at first use: pyarrow loads on demand


def _arrow_type(column: sa.Column) -> Any:
    import pyarrow as pa

    if not _ARROW_TYPES:
        _ARROW_TYPES.extend([(sa.Boolean, pa.bool_), (sa.BigInteger, pa.int64), (sa.Integer, pa.int64),
                             (sa.Float, pa.float64), (sa.Numeric, pa.float64),
                             (sa.DateTime, lambda: pa.timestamp("us")), (sa.Date, pa.date32),
                             (sa.String, pa.string), (sa.Text, pa.string)])
    kind = column.type.impl if isinstance(column.type, sa.types.TypeDecorator) else column.type
    for sql_type, arrow in _ARROW_TYPES:
        if isinstance(kind, sql_type):
            return arrow()
    raise TypeError(f"no Arrow type for {column}")


def bulk_insert(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """INSERT many rows (dicts with the same keys) in one statement of this transaction (bulk_insert_all of one)."""
    bulk_insert_all(conn, [(table, rows)])


def bulk_insert_all(conn: Connection, tables: list[tuple[sa.Table, list[dict[str, Any]]]]) -> None:
    """INSERT each table's rows (dicts with the same keys) with one statement per table, in this transaction and
    in the order given.

    On DuckDB each table's rows go in as one Arrow table, scanned by one INSERT … SELECT, and the INSERTs are
    sent in one call (up to six tables): a statement with hundreds of parameters spends milliseconds converting
    them one by one (measured: the five tables' rows of 8 new cases, commit included, took 24 ms as parameters
    and 14 ms as Arrow), and every call back from DuckDB must win the GIL again from the threads busy checking
    the next forms.
    PostgreSQL gets one COPY per table (row-by-row INSERTs would make a 20,000-case legacy import take minutes).
    JSON columns are encoded as JSONText does."""
    tables = [(t, rows) for t, rows in tables if rows]
    if not tables:
        return
    if conn.dialect.name != "duckdb":
        driver = conn.connection.driver_connection
        with driver.cursor() as cur:
            for table, rows in tables:
                names = list(rows[0])
                encode = [(n, table.c[n].type) if isinstance(table.c[n].type, sa.types.TypeDecorator) else (n, None)
                          for n in names]
                with cur.copy(f'COPY "{table.name}" ({", ".join(names)}) FROM STDIN') as copy:
                    for r in rows:
                        copy.write_row(tuple(r[n] if kind is None else kind.process_bind_param(r[n], conn.dialect)
                                             for n, kind in encode))
        return
    import pyarrow as pa

    raw = conn.connection.driver_connection   # this transaction's own DuckDB connection
    built = []
    for table, rows in tables:
        names = list(rows[0])
        arrays = []
        for name in names:
            column = table.c[name]
            values = [r[name] for r in rows]
            if isinstance(column.type, sa.types.TypeDecorator):
                values = [column.type.process_bind_param(v, conn.dialect) for v in values]
            arrays.append(pa.array(values, type=_arrow_type(column)))
        built.append((table.name, names, pa.table(arrays, names=names)))
    for start in range(0, len(built), len(_ARROW_NAMES)):
        _insert_arrow(raw, built[start:start + len(_ARROW_NAMES)])


# The Arrow tables of one call, as the local variables DuckDB's replacement scan finds by name: cheaper than
# registering and unregistering a view for each (measured: the five INSERTs of a batch of 8 new cases, 8.1 ms
# with views, 6.1 ms so). A table of the database with one of these names would take precedence: none has.
_ARROW_NAMES = ("ezz_rows_0", "ezz_rows_1", "ezz_rows_2", "ezz_rows_3", "ezz_rows_4", "ezz_rows_5")


def _insert_arrow(raw: Any, built: list[tuple[str, list[str], Any]]) -> None:
    """INSERT each (table, columns, Arrow table) in one call (one return for the GIL to win back, not one each)."""
    ezz_rows_0, ezz_rows_1, ezz_rows_2, ezz_rows_3, ezz_rows_4, ezz_rows_5 = (  # noqa: F841 - read by DuckDB
        [arrow for _, _, arrow in built] + [None] * (len(_ARROW_NAMES) - len(built)))
    statements = []
    for (name, names, _), source in zip(built, _ARROW_NAMES):
        listed = ", ".join(f'"{n}"' for n in names)
        statements.append(f'INSERT INTO "{name}" ({listed}) SELECT {listed} FROM {source}')
    raw.execute(";\n".join(statements))


_databases: dict[tuple[str, str | None], Database] = {}
_databases_lock = threading.Lock()


def get_database(url: str | None = None, *, schema: str | None = None) -> Database:
    """The process-wide Database for a URL (one owner per file: DuckDB allows one process per file)."""
    if url is None:
        from app.config import load_settings

        settings = load_settings()
        url, retries = settings.database_url, settings.write_retries
        schema = schema or settings.database_schema
    else:
        retries = 5
    key = (url, schema)
    with _databases_lock:
        db = _databases.get(key)
        if db is None:
            db = Database(url, schema=schema, write_retries=retries)
            _databases[key] = db
        return db


def forget_databases() -> None:
    """Tests only: dispose every cached Database."""
    with _databases_lock:
        for db in _databases.values():
            db.dispose()
        _databases.clear()
