"""Load the reference data in data/reference into the operational tables. Idempotent: run it any number
of times and the tables hold the same rows.

Reference tables the platform does not edit (regions, departments, units, windows) are replaced as a whole
in one transaction. Items are versioned and edited later by the item designer, so the seed only adds an
item (as version 1, published) when its code is not there at all. The official calendar replaces the
years it covers.

    python -m pipelines.seed_reference            # uses EZZ_DATABASE_URL or data/ezz.duckdb
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app import audit, calendar_store, fees, forms, policies, reference, timeutil
from app import schema as s
from app.db import Database, get_database


def _replace(conn: Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    conn.execute(table.delete())
    if rows:
        cols = {c.name for c in table.columns}
        conn.execute(table.insert(), [{k: v for k, v in r.items() if k in cols} for r in rows])


def _add_missing(conn: Connection, table: sa.Table, key: str, rows: list[dict[str, Any]]) -> None:
    have = {r[0] for r in conn.execute(sa.select(table.c[key]))}
    fresh = [r for r in rows if r[key] not in have]
    if fresh:
        cols = {c.name for c in table.columns}
        conn.execute(table.insert(), [{k: v for k, v in r.items() if k in cols} for r in fresh])


def seed_reference(db: Database) -> dict[str, int]:
    regions = reference.load_regions()
    departments = reference.load_departments()
    bodies = reference.load_coordinating_bodies()
    items = reference.load_items()
    materials = reference.load_materials()
    holidays = reference.load_holidays()
    official = reference.official_years()
    field_sets, field_rules = forms.load_field_sets()
    units = reference.derive_units(regions, departments, items)
    windows = reference.derive_windows(units, departments, items)
    fee_standards = fees.load_fee_standards()
    now = timeutil.now()

    def work(conn: Connection) -> dict[str, int]:
        _replace(conn, s.regions, regions)
        _replace(conn, s.departments, departments)
        _replace(conn, s.coordinating_bodies, bodies)
        # Units and windows are kept by the administrators afterwards (/org): a re-run adds what is missing and
        # never undoes their renames, moves or new units.
        _add_missing(conn, s.org_units, "unit_id", units)
        _add_missing(conn, s.service_windows, "window_id", windows)
        _replace(conn, s.fee_standards, fee_standards)

        existing = {r[0] for r in conn.execute(sa.select(s.items.c.item_code).distinct())}
        new_items = [
            {**it, "version": 1, "status": "published", "is_current": True, "published_at": now,
             # the item's review steps (审查 → 审核; the head's 决定 follows): an on-the-spot item has one
             "review_steps": ["审查"] if it["immediate"] else ["审查", "审核"]}
            for it in items if it["item_code"] not in existing
        ]
        if new_items:
            conn.execute(s.items.insert(), new_items)
            new_codes = {it["item_code"] for it in new_items}
            conn.execute(s.item_materials.insert(),
                         [{**m, "version": 1} for m in materials if m["item_code"] in new_codes])

        # Every item version without a form gets the generated one (items added before forms existed too).
        with_form = {(r[0], r[1]) for r in conn.execute(
            sa.select(s.item_form_fields.c.item_code, s.item_form_fields.c.version).distinct())}
        versions = conn.execute(sa.select(s.items.c.item_code, s.items.c.version, s.items.c.name,
                                          s.items.c.category)).fetchall()
        form_rows = [row for v in versions if (v.item_code, v.version) not in with_form
                     for row in forms.expand_fields(dict(v._mapping), field_sets, field_rules)]
        if form_rows:
            conn.execute(s.item_form_fields.insert(), form_rows)

        # The official notices replace whatever the years they cover held (a provisional year included).
        years = sorted(official)
        conn.execute(s.holidays.delete().where(s.holidays.c.year.in_(years)))
        conn.execute(s.holidays.delete().where(s.holidays.c.day.in_([h["day"] for h in holidays])))
        conn.execute(s.holidays.insert(), holidays)
        # A year already loaded as official keeps its load time (and so the seed is idempotent).
        known = {r[0] for r in conn.execute(sa.select(s.calendar_years.c.year).where(s.calendar_years.c.official))}
        fresh = [y for y in years if y not in known]
        conn.execute(s.calendar_years.delete().where(s.calendar_years.c.year.in_(fresh)))
        if fresh:
            conn.execute(s.calendar_years.insert(), [
                {"year": y, "official": True, "source": "国务院办公厅节假日安排通知 (data/reference/holidays)",
                 "loaded_at": now} for y in fresh
            ])
        # The policy and law library: the documents the items' basis texts cite (app/policies.py).
        policy_counts = policies.seed_from_catalogue(conn, now)
        counts = {
            "regions": len(regions), "departments": len(departments), "coordinating_bodies": len(bodies),
            "org_units": len(units), "service_windows": len(windows), "items_added": len(new_items),
            "holidays": len(holidays), "calendar_years": len(years), "form_fields_added": len(form_rows),
            **policy_counts,
        }
        audit.record(conn, "seed_reference", detail=counts)
        return counts

    counts = db.write(work, retries=0)
    calendar_store.invalidate()
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args(argv)
    db = get_database(args.database_url)
    db.migrate()
    counts = seed_reference(db)
    for key, value in counts.items():
        print(f"{key:22s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
