"""Verify the case record (every event's hash and link, every case's event count): the command behind the
supervisor's 办件记录核验 page. Exit status 1 when anything is wrong, so it can run from cron.

    python -m pipelines.verify_record                 # EZZ_DATABASE_URL or data/ezz.duckdb
    python -m pipelines.verify_record --case 420700-20261126-000123
"""
from __future__ import annotations

import argparse
import sys

import sqlalchemy as sa

from app import record_check
from app import schema as s
from app.config import load_settings
from app.db import get_database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--case", action="append", default=None, help="a case number (repeatable)")
    args = parser.parse_args(argv)
    settings = load_settings()
    db = get_database(args.database_url or settings.database_url, schema=settings.database_schema)
    ids = None
    if args.case:
        with db.read() as conn:
            ids = [r[0] for r in conn.execute(sa.select(s.cases.c.case_id).where(s.cases.c.case_no.in_(args.case)))]

    def show(done: int, total: int) -> None:
        print(f"\r{done:,}/{total:,} cases", end="", file=sys.stderr, flush=True)

    n_cases, n_events, problems = record_check.verify(db, case_ids=ids, progress=show)
    print(file=sys.stderr)
    for p in problems:
        print(f"{p.case_no}\tseq {p.seq if p.seq is not None else '-'}\t{p.problem}")
    print(f"{n_cases:,} cases, {n_events:,} events checked: "
          + ("the record is intact" if not problems else f"{len(problems)} problems"))
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
