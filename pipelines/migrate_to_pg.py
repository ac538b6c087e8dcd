"""Move an embedded installation (the DuckDB file) into PostgreSQL, for a city that outgrows one server.

    python -m pipelines.migrate_to_pg --from duckdb:///data/ezz.duckdb --to postgresql://ezz@db:5432/ezz [--schema S]

Stop the server first: the source file must not be in use by a running app (DuckDB lets no other process read
a file another holds read-write, and a copy taken while cases are being written would not be one moment's
data). The command opens the file read-only, so it refuses a file a running app holds.

What it does, in order:
1. refuses a target schema that holds any row (a second run changes nothing); `--replace` drops the schema's
   tables and sequences first;
2. migrates the target schema to the source's schema version (app/migrations), so both have the same tables;
3. copies every operational table — the tables of app/schema.py's metadata in its order, then any other table
   the migrations made in both — in batches (DuckDB → Arrow → CSV → PostgreSQL COPY), in one transaction, so a
   failure leaves the target empty and the command can simply run again; the analytics (schema `marts` of the
   file) are not copied: pipelines/marts rebuilds the warehouse from PostgreSQL;
4. moves every PostgreSQL sequence past the source's value of it and past the largest id of the columns it
   numbers (case_no_seq too: a new case number never repeats an old one);
5. verifies: rows per table equal on both sides, every case record's hash chain intact on the target
   (app/record_check) and each case's last hash equal to the source's. It prints a table and exits 1 on any
   difference (2 when it refused to start).
"""
from __future__ import annotations

import argparse
import io
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa

from app import record_check
from app import schema as s
from app.db import Database, migrations

BATCH_ROWS = 100_000
NOT_COPIED = {"schema_version"}   # written by the target's own migrations


class Refused(RuntimeError):
    """The migration did not start: the reason is for the operator."""


@dataclass
class Report:
    schema_version: int = 0
    counts: list[tuple[str, int, int]] = field(default_factory=list)        # table, source rows, target rows
    sequences: list[tuple[str, int, int]] = field(default_factory=list)     # name, source value, set to
    missing_in_target: list[str] = field(default_factory=list)              # source tables the target lacks
    cases_checked: int = 0
    events_checked: int = 0
    chain_problems: list[record_check.Problem] = field(default_factory=list)
    last_hash_differences: list[int] = field(default_factory=list)          # case ids
    rows_copied: int = 0
    copy_seconds: float = 0.0
    verify_seconds: float = 0.0

    @property
    def count_differences(self) -> list[str]:
        return [name for name, src, tgt in self.counts if src != tgt]

    @property
    def ok(self) -> bool:
        return not (self.count_differences or self.missing_in_target or self.chain_problems
                    or self.last_hash_differences)

    @property
    def rows_per_second(self) -> float:
        return self.rows_copied / self.copy_seconds if self.copy_seconds else 0.0


def duckdb_path(url: str) -> Path:
    if not url.startswith("duckdb:///"):
        raise Refused(f"--from must be a duckdb:///path URL, not {url!r}")
    return Path(url.removeprefix("duckdb:///"))


def open_source(path: Path) -> duckdb.DuckDBPyConnection:
    if not path.is_file():
        raise Refused(f"no DuckDB file at {path}")
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as exc:
        raise Refused(f"{path} is in use (is the app server still running? stop it first): {exc}") from exc


def _ident(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise ValueError(f"unexpected identifier {name!r}")
    return f'"{name}"'


def _source_tables(src: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """The source's operational tables (schema main; the marts live in schema marts) with (column, type)."""
    rows = src.execute(
        "SELECT table_name, column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = 'main' AND table_catalog = current_database() "
        "AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
        "AND table_catalog = current_database() AND table_type = 'BASE TABLE') "
        "ORDER BY table_name, ordinal_position").fetchall()
    out: dict[str, list[tuple[str, str]]] = {}
    for table, column, kind in rows:
        out.setdefault(table, []).append((column, kind))
    return out


def source_version(src: duckdb.DuckDBPyConnection, tables: dict) -> int:
    if "schema_version" not in tables:
        raise Refused("the source has no schema_version table: it is not an 鄂州e政通 database")
    return int(src.execute("SELECT COALESCE(MAX(version), 0) FROM main.schema_version").fetchall()[0][0])


def copy_order(tables: dict[str, list]) -> list[str]:
    """The metadata's order (parents before children), then any other table the migrations made."""
    known = [t.name for t in s.metadata.sorted_tables if t.name in tables]
    extra = sorted(set(tables) - set(known) - NOT_COPIED)
    return known + extra


# -- the target ----------------------------------------------------------------------------------------------
def _target_tables(conn: sa.Connection) -> list[str]:
    return [r[0] for r in conn.execute(sa.text(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() "
        "AND table_type = 'BASE TABLE' ORDER BY table_name"))]


def nonempty_tables(target: Database, ours: set[str]) -> list[str]:
    """Our tables in the target schema that hold a row (another application's tables in a shared schema such
    as public are neither looked at nor dropped)."""
    with target.read() as conn:
        return [t for t in _target_tables(conn) if t in ours and t not in NOT_COPIED
                and conn.execute(sa.text(f"SELECT EXISTS (SELECT 1 FROM {_ident(t)})")).scalar()]  # noqa: S608


def clear_target(target: Database, ours: set[str], sequences: set[str]) -> None:
    """Drop our tables and sequences from the target schema (search_path is that schema, nothing else)."""
    def drop(conn: sa.Connection) -> None:
        for name in _target_tables(conn):
            if name in ours:
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {_ident(name)} CASCADE")
        for (name,) in conn.execute(sa.text("SELECT sequence_name FROM information_schema.sequences "
                                            "WHERE sequence_schema = current_schema()")).fetchall():
            if name in sequences:
                conn.exec_driver_sql(f"DROP SEQUENCE IF EXISTS {_ident(name)} CASCADE")
    target.write(drop, retries=0)


def _select_list(columns: list[tuple[str, str]]) -> str:
    # BLOBs travel as PostgreSQL's hex bytea text; everything else as Arrow writes it to CSV (an empty string
    # quoted, a NULL as nothing — which COPY reads back the same way).
    return ", ".join(f"CASE WHEN {_ident(c)} IS NULL THEN NULL ELSE '\\x' || hex({_ident(c)}) END AS {_ident(c)}"
                     if kind.upper() == "BLOB" else _ident(c) for c, kind in columns)


def _copy_table(src: duckdb.DuckDBPyConnection, cur, name: str, columns: list[tuple[str, str]],  # noqa: ANN001
                say: Callable[[str], None]) -> int:
    total = src.execute(f"SELECT COUNT(*) FROM main.{_ident(name)}").fetchall()[0][0]  # noqa: S608
    cols = ", ".join(_ident(c) for c, _ in columns)
    reader = src.sql(f"SELECT {_select_list(columns)} FROM main.{_ident(name)}").to_arrow_reader(BATCH_ROWS)  # noqa: S608
    done = 0
    started = time.perf_counter()
    with cur.copy(f"COPY {_ident(name)} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
        for batch in reader:
            buf = io.BytesIO()
            pacsv.write_csv(pa.Table.from_batches([batch]), buf, pacsv.WriteOptions(include_header=False))
            copy.write(buf.getbuffer())
            done += batch.num_rows
            if total > BATCH_ROWS:
                say(f"  {name:28} {done:>12,} / {total:,}")
    seconds = time.perf_counter() - started
    say(f"  {name:28} {done:>12,} rows  {seconds:7.2f} s")
    return done


def _migration_sequences() -> set[str]:
    """Every sequence the migrations create (a target a newer version made may hold some the source lacks)."""
    return {name for _, _, path in migrations()
            for name in re.findall(r"CREATE SEQUENCE (?:IF NOT EXISTS )?(\w+)", path.read_text(encoding="utf-8"), re.I)}


def _sequence_values(src: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {name: int(last or 0) for name, last in src.execute(
        "SELECT sequence_name, last_value FROM duckdb_sequences() WHERE schema_name = 'main' "
        "AND database_name = current_database()").fetchall()}


def _set_sequences(conn, source: dict[str, int]) -> list[tuple[str, int, int]]:  # noqa: ANN001 - psycopg
    """Each target sequence past the source's value and past the ids of the columns it numbers."""
    with conn.cursor() as cur:
        cur.execute("SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = current_schema()")
        names = [r[0] for r in cur.fetchall()]
        cur.execute("SELECT table_name, column_name, column_default FROM information_schema.columns "
                    "WHERE table_schema = current_schema() AND column_default LIKE 'nextval(%'")
        numbered: dict[str, list[tuple[str, str]]] = {}
        for table, column, default in cur.fetchall():
            seq = re.search(r"nextval\('(?:[\w\"]+\.)?\"?(\w+)\"?'", default)
            if seq:
                numbered.setdefault(seq.group(1), []).append((table, column))
        out = []
        for name in names:
            value = source.get(name, 0)
            for table, column in numbered.get(name, []):
                cur.execute(f"SELECT MAX({_ident(column)}) FROM {_ident(table)}")  # noqa: S608 - catalogue names
                value = max(value, int(cur.fetchone()[0] or 0))
            if value >= 1:
                cur.execute("SELECT setval(%s, %s, true)", (name, value))
            else:   # never used: the next value is the first
                cur.execute("SELECT setval(%s, 1, false)", (name,))
            out.append((name, source.get(name, 0), value))
        return out


def _last_hashes_duckdb(src: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    return pl.from_arrow(src.sql("SELECT DISTINCT ON (case_id) case_id, hash FROM main.case_events "
                                 "ORDER BY case_id, seq DESC").to_arrow_table())


def _last_hashes_pg(target: Database) -> pl.DataFrame:
    with target.read() as conn:
        rows = conn.execute(sa.text("SELECT DISTINCT ON (case_id) case_id, hash FROM case_events "
                                    "ORDER BY case_id, seq DESC")).fetchall()
    return pl.DataFrame(rows, schema={"case_id": pl.Int64, "hash": pl.Utf8}, orient="row")


def migrate(source_path: Path, target: Database, *, replace: bool = False,
            say: Callable[[str], None] = print) -> Report:
    """Copy the DuckDB file's operational data into the (empty) PostgreSQL target and verify it."""
    if target.is_duckdb:
        raise Refused("--to must be a postgresql:// URL")
    src = open_source(source_path)
    try:
        tables = _source_tables(src)
        version = source_version(src, tables)
        latest = max(v for v, _, _ in migrations())
        if version > latest:
            raise Refused(f"the source is at schema version {version}, newer than this code's {latest}: "
                          "run the migration with the code the source was written by")
        ours = set(s.metadata.tables) | set(tables) | NOT_COPIED
        source_sequences = _sequence_values(src)
        busy = nonempty_tables(target, ours)
        if busy and not replace:
            raise Refused(f"the target schema {target.schema or 'public'} is not empty ({', '.join(busy[:8])}"
                          f"{' …' if len(busy) > 8 else ''} hold rows): nothing was changed. Migrate into an empty "
                          "schema, or pass --replace to drop its tables first")
        # An empty target is rebuilt too, so it has exactly the source's schema version.
        clear_target(target, ours, set(source_sequences) | _migration_sequences())
        target.migrate(target=version)
        report = Report(schema_version=version)
        with target.read() as conn:
            present = set(_target_tables(conn))
        order = copy_order(tables)
        report.missing_in_target = [t for t in order if t not in present]
        say(f"copying {len(order) - len(report.missing_in_target)} tables (schema version {version}) "
            f"from {source_path} into {target.schema or 'public'}")

        started = time.perf_counter()
        fairy = target.engine.raw_connection()
        try:
            pg = fairy.driver_connection
            try:
                with pg.cursor() as cur:
                    for name in order:
                        if name in present:
                            report.rows_copied += _copy_table(src, cur, name, tables[name], say)
                report.sequences = _set_sequences(pg, source_sequences)
                pg.commit()
            except BaseException:
                pg.rollback()
                raise
        finally:
            fairy.close()
        report.copy_seconds = time.perf_counter() - started
        say(f"copied {report.rows_copied:,} rows in {report.copy_seconds:.1f} s "
            f"({report.rows_per_second:,.0f} rows/s)")

        started = time.perf_counter()
        verify(src, target, order, present, report, say)
        report.verify_seconds = time.perf_counter() - started
        return report
    finally:
        src.close()


def check(source_path: Path, target: Database, *, say: Callable[[str], None] = print) -> Report:
    """Verify an earlier migration again (the source still stopped): counts, chains, last hashes."""
    src = open_source(source_path)
    try:
        tables = _source_tables(src)
        report = Report(schema_version=source_version(src, tables))
        with target.read() as conn:
            present = set(_target_tables(conn))
        order = copy_order(tables)
        report.missing_in_target = [t for t in order if t not in present]
        started = time.perf_counter()
        verify(src, target, order, present, report, say)
        report.verify_seconds = time.perf_counter() - started
        return report
    finally:
        src.close()


def verify(src: duckdb.DuckDBPyConnection, target: Database, order: list[str], present: set[str], report: Report,
           say: Callable[[str], None]) -> None:
    """Fill the report's counts, chain problems and last-hash differences."""
    with target.read() as conn:
        for name in order:
            n_src = src.execute(f"SELECT COUNT(*) FROM main.{_ident(name)}").fetchall()[0][0]  # noqa: S608
            n_tgt = conn.execute(sa.text(f"SELECT COUNT(*) FROM {_ident(name)}")).scalar() \
                if name in present else -1  # noqa: S608
            report.counts.append((name, int(n_src), int(n_tgt)))

    def show(done: int, total: int) -> None:
        say(f"  record check {done:,}/{total:,} cases")

    report.cases_checked, report.events_checked, report.chain_problems = record_check.verify(target, progress=show)
    before, after = _last_hashes_duckdb(src), _last_hashes_pg(target)
    joined = before.join(after, on="case_id", how="full", suffix="_target", coalesce=True)
    differ = joined.filter(pl.col("hash").is_null() | pl.col("hash_target").is_null()
                           | (pl.col("hash") != pl.col("hash_target")))
    report.last_hash_differences = differ["case_id"].to_list()


def print_report(report: Report, say: Callable[[str], None] = print) -> None:
    say("")
    say(f"{'table':30} {'source':>12} {'PostgreSQL':>12}")
    for name, n_src, n_tgt in report.counts:
        mark = "" if n_src == n_tgt else "   ← differs" if n_tgt >= 0 else "   ← table missing in the target"
        say(f"{name:30} {n_src:>12,} {max(n_tgt, 0):>12,}{mark}")
    say("")
    say(f"{'sequence':30} {'source':>12} {'set to':>12}")
    for name, src_value, value in report.sequences:
        say(f"{name:30} {src_value:>12,} {value:>12,}")
    say("")
    say(f"record: {report.cases_checked:,} cases, {report.events_checked:,} events checked on PostgreSQL; "
        f"{len(report.chain_problems)} chain problems, {len(report.last_hash_differences)} cases whose last hash "
        "differs from the source's")
    for p in report.chain_problems[:20]:
        say(f"  {p.case_no}\tseq {p.seq if p.seq is not None else '-'}\t{p.problem}")
    if report.chain_problems:
        say("  (run python -m pipelines.verify_record on the source too: a problem already there is copied as is)")
    if report.rows_copied:
        say(f"copy: {report.rows_copied:,} rows in {report.copy_seconds:.1f} s ({report.rows_per_second:,.0f} rows/s); "
            f"verification {report.verify_seconds:.1f} s")
    say("OK: the PostgreSQL schema holds the same data" if report.ok else "DIFFERENCES FOUND (see above)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from", dest="source", required=True, help="duckdb:///path of the stopped installation")
    parser.add_argument("--to", dest="target", required=True, help="postgresql://user@host:port/database")
    parser.add_argument("--schema", default=None, help="the PostgreSQL schema (default: public)")
    parser.add_argument("--replace", action="store_true", help="drop the target schema's tables first")
    parser.add_argument("--verify-only", action="store_true",
                        help="copy nothing: verify an earlier migration against the (still stopped) source")
    args = parser.parse_args(argv)
    if not args.target.startswith("postgresql"):
        print("--to must be a postgresql:// URL", file=sys.stderr)
        return 2
    target = Database(args.target, schema=args.schema)
    try:
        say = lambda line: print(line, flush=True)  # noqa: E731
        report = check(duckdb_path(args.source), target, say=say) if args.verify_only else \
            migrate(duckdb_path(args.source), target, replace=args.replace, say=say)
    except Refused as exc:
        print(f"refused: {exc}", file=sys.stderr)
        return 2
    finally:
        target.dispose()
    print_report(report)
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
