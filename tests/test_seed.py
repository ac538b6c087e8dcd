"""The reference seed on both databases: exact counts and idempotence (run twice, same rows)."""
from __future__ import annotations

import sqlalchemy as sa

from app import calendar_store
from app import schema as s
from pipelines.seed_reference import seed_reference

TABLES = [s.regions, s.departments, s.coordinating_bodies, s.org_units, s.service_windows, s.items,
          s.item_materials, s.holidays, s.calendar_years]


def _snapshot(db):  # noqa: ANN001, ANN202
    out = {}
    with db.read() as conn:
        for table in TABLES:
            pk = list(table.primary_key.columns)
            rows = conn.execute(sa.select(table).order_by(*pk)).fetchall()
            out[table.name] = [tuple(r) for r in rows]
    return out


def test_seed_counts_and_idempotence(empty_db):
    empty_db.migrate()
    first = seed_reference(empty_db)
    snap1 = _snapshot(empty_db)
    second = seed_reference(empty_db)
    snap2 = _snapshot(empty_db)
    assert snap1 == snap2
    assert first["items_added"] == 133 and second["items_added"] == 0

    with empty_db.read() as conn:
        levels = dict(conn.execute(sa.select(s.regions.c.level, sa.func.count()).group_by(s.regions.c.level)).fetchall())
        cats = dict(conn.execute(sa.select(s.items.c.category, sa.func.count()).group_by(s.items.c.category)).fetchall())
        kinds = dict(conn.execute(sa.select(s.items.c.kind, sa.func.count()).where(s.items.c.category == "approval")
                                  .group_by(s.items.c.kind)).fetchall())
        approval_materials = conn.execute(
            sa.select(sa.func.count()).select_from(s.item_materials.join(
                s.items, sa.and_(s.items.c.item_code == s.item_materials.c.item_code,
                                 s.items.c.version == s.item_materials.c.version)))
            .where(s.items.c.category == "approval")).scalar()
        official = [r[0] for r in conn.execute(sa.select(s.calendar_years.c.year).where(s.calendar_years.c.official)
                                               .order_by(s.calendar_years.c.year))]
        city_units = conn.execute(sa.select(sa.func.count()).select_from(s.org_units)
                                  .where(s.org_units.c.kind == "department", s.org_units.c.region_code == "4207")).scalar()
        names = dict(conn.execute(sa.select(s.regions.c.code, s.regions.c.name)
                                  .where(s.regions.c.code.in_(["42", "4207", "420702", "420703", "420704"]))).fetchall())
    # The five levels: 湖北省 → 鄂州市 → 3 districts → 28 towns/streets/zones → 358 villages/communities.
    assert levels == {1: 1, 2: 1, 3: 3, 4: 28, 5: 358}
    assert names == {"42": "湖北省", "4207": "鄂州市", "420702": "梁子湖区", "420703": "华容区", "420704": "鄂城区"}
    assert len(snap1["departments"]) == 29 and len(snap1["coordinating_bodies"]) == 8
    assert cats == {"approval": 74, "public": 33, "convenience": 26}
    assert kinds == {"行政许可": 66, "行政确认": 4, "其他行政权力": 4}
    assert approval_materials == 407
    assert official == list(range(2013, 2027))
    assert city_units == 29  # every department has its city-level unit


def test_seeded_calendar_drives_the_clock(empty_db):
    empty_db.migrate()
    seed_reference(empty_db)
    calendar_store.invalidate()
    cal = calendar_store.load_calendar(empty_db)
    from datetime import date

    # 2026-02-14 (Saturday) is a make-up working day and 2026-02-16 (Monday) is 春节 in the notice.
    assert cal.is_working_day(date(2026, 2, 14)) and not cal.is_working_day(date(2026, 2, 16))
    assert not cal.is_provisional(2026) and cal.is_provisional(2027)


def test_seed_rerun_keeps_what_the_administrators_changed(empty_db):
    """Units and windows are the administrators' after the first seed (/org): a re-run adds what is missing and
    leaves a renamed unit and an added window as they are."""
    empty_db.migrate()
    seed_reference(empty_db)
    with empty_db.engine.begin() as conn:
        unit_id = conn.execute(sa.select(s.org_units.c.unit_id).order_by(s.org_units.c.unit_id).limit(1)).fetchall()[0][0]
        conn.execute(s.org_units.update().where(s.org_units.c.unit_id == unit_id).values(name="改名后的单位"))
        conn.execute(s.service_windows.insert().values(window_id="W-NEW-1", unit_id=unit_id, name="新增窗口",
                                                       region_code="4207"))
        conn.execute(s.service_windows.delete().where(s.service_windows.c.window_id == "W-4207-ZH"))
    seed_reference(empty_db)
    with empty_db.read() as conn:
        name = conn.execute(sa.select(s.org_units.c.name).where(s.org_units.c.unit_id == unit_id)).fetchall()[0][0]
        windows = {r[0] for r in conn.execute(sa.select(s.service_windows.c.window_id))}
    assert name == "改名后的单位"
    assert "W-NEW-1" in windows and "W-4207-ZH" in windows   # the missing seeded window comes back
