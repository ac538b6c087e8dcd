"""Moving an embedded installation into PostgreSQL (pipelines/migrate_to_pg): a demo history in a real DuckDB
file (with its marts built, as a running installation has them) copied into a fresh PostgreSQL schema — every
table, the same rows, intact hash chains; new work on PostgreSQL after the move gets new numbers; a tampered
target is reported; a second run, a non-empty target and a file still held by a server are refused."""
from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import date, datetime

import pytest
import sqlalchemy as sa

from app import calendar_store
from app import schema as s
from app.db import Database, migrations
from pipelines import demo, marts, migrate_to_pg
from tests.conftest import drop_database, make_database

END = date(2026, 11, 26)


@pytest.fixture(scope="module")
def source(tmp_path_factory):  # noqa: ANN001, ANN201
    """A stopped DuckDB installation: demo history, marts built in the same file."""
    path = tmp_path_factory.mktemp("migrate") / "ezz.duckdb"
    db = Database(f"duckdb:///{path}")
    demo.generate(db, cases=2000, seed=5, end=END)
    calendar_store.invalidate()
    marts.build(db, build_day=END)
    db.dispose()
    calendar_store.invalidate()
    return path


def _source_counts(path) -> dict[str, int]:  # noqa: ANN001
    import duckdb

    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_schema = 'main' AND table_type = 'BASE TABLE'").fetchall()]
        return {n: con.execute(f'SELECT COUNT(*) FROM main."{n}"').fetchall()[0][0] for n in names}
    finally:
        con.close()


@pytest.fixture(scope="module")
def migrated(source, tmp_path_factory):  # noqa: ANN001, ANN201
    target = make_database("postgresql", tmp_path_factory.mktemp("pg"))
    lines: list[str] = []
    report = migrate_to_pg.migrate(source, target, say=lines.append)
    target.report, target.lines = report, lines   # type: ignore[attr-defined]
    yield target
    drop_database(target)
    calendar_store.invalidate()


def _counts(db: Database, tables) -> dict[str, int]:  # noqa: ANN001
    with db.read() as conn:
        return {t: conn.execute(sa.text(f'SELECT COUNT(*) FROM "{t}"')).scalar() for t in tables}


def test_every_table_is_copied_with_its_rows_and_the_record_verifies(source, migrated):
    report = migrated.report
    expected = {t: n for t, n in _source_counts(source).items() if t != "schema_version"}
    assert {name: tgt for name, _, tgt in report.counts} == expected           # every source table, same rows
    assert _counts(migrated, expected) == expected                             # as PostgreSQL itself counts them
    assert {t.name for t in s.metadata.sorted_tables} <= set(expected)        # the whole schema, not a list
    assert expected["cases"] == 2000 and expected["case_events"] > 10_000
    assert report.ok and report.chain_problems == [] and report.last_hash_differences == []
    assert (report.cases_checked, report.events_checked) == (2000, expected["case_events"])
    assert migrated.schema_version() == max(v for v, _, _ in migrations())
    with migrated.read() as conn:   # the analytics stay behind: the warehouse is rebuilt from PostgreSQL
        marts_tables = conn.execute(sa.text("SELECT COUNT(*) FROM information_schema.tables "
                                            "WHERE table_name IN ('fct_case', 'build_log', 'mart_dept_week')")).scalar()
    assert marts_tables == 0
    assert any("rows/s" in line for line in migrated.lines)


def test_a_case_filed_on_postgresql_after_the_move_gets_a_new_id_and_number(source, migrated):
    from tests.factories import create_users, file_case

    with migrated.read() as conn:
        old = (conn.execute(sa.select(sa.func.max(s.cases.c.case_id))).scalar(),
               conn.execute(sa.select(sa.func.max(s.users.c.user_id))).scalar())
        old_numbers = {r[0] for r in conn.execute(sa.select(s.cases.c.case_no))}
        old_serials = {int(n.rsplit("-", 1)[1]) for n in old_numbers}
    calendar_store.invalidate()
    actors = create_users(migrated)                      # new accounts: user ids past the demo's
    assert min(a.user_id for a in actors.values()) > old[1]
    case = file_case(migrated, actors["applicant"], at=datetime(2026, 11, 27, 9, 0))
    assert case["case_id"] > old[0]
    assert case["case_no"] not in old_numbers
    assert int(case["case_no"].rsplit("-", 1)[1]) > max(old_serials)   # the serial never repeats an old one


def test_running_it_again_is_refused_and_changes_nothing(source, migrated, capsys):
    before = _counts(migrated, ["cases", "case_events", "users"])
    code = migrate_to_pg.main(["--from", f"duckdb:///{source}", "--to", migrated.url, "--schema", migrated.schema])
    assert code == 2
    assert "not empty" in capsys.readouterr().err
    assert _counts(migrated, ["cases", "case_events", "users"]) == before


def test_a_tampered_target_is_reported_and_replace_starts_over(source, tmp_path):
    """Also: another application's table in the same schema is neither a reason to refuse nor dropped."""
    target = make_database("postgresql", tmp_path)
    target.write(lambda conn: conn.exec_driver_sql("CREATE TABLE other_app_notes (note TEXT)"))
    target.write(lambda conn: conn.exec_driver_sql("INSERT INTO other_app_notes VALUES ('keep me')"))
    try:
        assert migrate_to_pg.migrate(source, target, say=lambda _: None).ok
        with target.read() as conn:
            case_id, seq = conn.execute(sa.text("SELECT case_id, MAX(seq) FROM case_events GROUP BY case_id "
                                                "ORDER BY case_id LIMIT 1")).one()
        target.write(lambda conn: conn.execute(sa.text(
            "UPDATE case_events SET comment = '改过' WHERE case_id = :c AND seq = :s"), {"c": case_id, "s": seq}))
        target.write(lambda conn: conn.execute(sa.text("DELETE FROM ratings WHERE case_id IN "
                                                       "(SELECT case_id FROM ratings LIMIT 1)")))
        report = migrate_to_pg.check(source, target, say=lambda _: None)
        assert not report.ok
        assert (case_id, seq, "changed") in {(p.case_id, p.seq, p.problem) for p in report.chain_problems}
        assert report.count_differences == ["ratings"]
        code = migrate_to_pg.main(["--from", f"duckdb:///{source}", "--to", target.url, "--schema", target.schema,
                                   "--verify-only"])
        assert code == 1
        code = migrate_to_pg.main(["--from", f"duckdb:///{source}", "--to", target.url, "--schema", target.schema,
                                   "--replace"])
        assert code == 0
        assert migrate_to_pg.check(source, target, say=lambda _: None).ok
        assert _counts(target, ["other_app_notes"]) == {"other_app_notes": 1}
    finally:
        drop_database(target)


def test_a_file_held_by_a_running_server_is_refused(source, tmp_path):
    """A server holds its file read-write; the command says so instead of copying a moving target."""
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(source)!r})
        print("held", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    target = make_database("postgresql", tmp_path)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(migrate_to_pg.Refused, match="in use"):
            migrate_to_pg.migrate(source, target, say=lambda _: None)
        with target.read() as conn:
            assert conn.execute(sa.text("SELECT COUNT(*) FROM information_schema.tables "
                                        "WHERE table_schema = current_schema()")).scalar() == 0
    finally:
        holder.kill()
        holder.wait()
        time.sleep(0.1)
        drop_database(target)
