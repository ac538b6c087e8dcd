"""End-to-end: a supervisor drills from the city to a village in 指标探索 and opens a red case's record — in a real
browser (Chromium) against the REAL server (`streamlit run server.py`).

One server for the module, on a temporary seeded DuckDB file. Before it starts, three 食品经营许可 cases are filed
with the real services: one accepted long ago in 吴都社区 (凤凰街道, 鄂城区) whose promised limit has passed (red, set
by the app's own recomputation of warning levels), one submitted today in the same village (green) and one
submitted today in a village of 华容区 (green); then the marts are built for today (the explorer reads them, and a
DuckDB file is opened by one process at a time). The red case was received before the explorer's default period,
so the supervisor has to choose a period that covers it.

In the browser the supervisor signs in through /signin, opens /explore, chooses the period, drills 全市 → 区 →
乡镇街道 → 村社区 with the page's own drop-down and button (the breadcrumb names each step), sees the village's
cases with the red one first and labelled 红灯（超期）, and follows 查看办件档案 → to the case screen, which shows the
case number, the red warning and the case record (受理 in 办理记录).

    .venv/bin/python -m pytest tests/test_browser_supervisor.py -q
"""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path

import pytest

pytest.importorskip("playwright.sync_api")
from playwright.sync_api import Locator, Page, expect

from app.i18n import t
from app.validators import make_resident_id
from tests import browser_support
from tests.browser_support import (  # noqa: F401 - fixtures are used by name
    USERS,
    chromium,
    download_from,
    main,
    new_page,
    seed_database_with,
    serve,
    sign_in,
)
from tests.test_browser_officer import WATCH_RUN
from tests.test_browser_portal import Steps, choose, idle, shot_on_failure, widget

FOOD_CODE = "4207-SCJG-003"          # 食品经营许可: promised in 3 working days
FOOD_NAME = "食品经营许可"
VILLAGE = "420704001002"              # 吴都社区 › 凤凰街道 (420704001) › 鄂城区 (420704)
OTHER_VILLAGE_TOWN = "420703100"      # a town of 华容区: the green case "elsewhere" is in one of its villages
RED_AGE_DAYS = 120                    # before the explorer's default period (the last 90 days)
PERIOD_DAYS = 150
SUPERVISOR = USERS["supervisor"]
APPLICANT = browser_support.TestUser("e2e_food_owner", "刘食品", "applicant",
                                     id_number=make_resident_id("420704", date(1982, 4, 12), 318))
OFFICER = browser_support.TestUser("e2e_food_officer", "鄂城区市监承办员", "officer", "U-420704-SCJG")
_seeded: dict = {}


def tr(key: str, **kwargs: object) -> str:
    return t(key, "zh", **kwargs)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The real server on a file holding the three cases and the marts built from them (overrides
    browser_support.live_server here, so `new_page` uses it)."""
    workdir = tmp_path_factory.mktemp("supervisor")
    db_path = workdir / "supervisor.duckdb"
    seed_database_with(db_path, [SUPERVISOR, APPLICANT, OFFICER])
    _seeded.update(seed_cases(db_path))
    yield from serve(workdir, db_path)


def seed_cases(db_path: Path) -> dict:
    """File the cases with the app's services, let the app recompute their warning levels, build the marts for
    today; returns the case numbers, the names of the drill steps and the app's today."""
    import sqlalchemy as sa

    from app import auth, cases, timeutil
    from app import schema as s
    from app.db import Database, forget_databases
    from app.supervision import recompute_warning_levels
    from pipelines import marts

    db = Database(f"duckdb:///{db_path}")
    try:
        today = timeutil.today()
        with db.read() as conn:
            ids = dict(conn.execute(sa.select(s.users.c.username, s.users.c.user_id)).all())
            other_village = conn.execute(
                sa.select(s.regions.c.code).where(s.regions.c.code.like(f"{OTHER_VILLAGE_TOWN}___"))
                .order_by(s.regions.c.code).limit(1)).scalar_one()
            names = dict(conn.execute(sa.select(s.regions.c.code, s.regions.c.name).where(
                s.regions.c.code.in_([VILLAGE[:6], VILLAGE[:9], VILLAGE]))).all())
        applicant, officer = auth.actor_for(db, ids[APPLICANT.username]), auth.actor_for(db, ids[OFFICER.username])
        person = cases.Applicant(APPLICANT.display_name, "resident_id", APPLICANT.id_number, ids[APPLICANT.username])

        def file(region: str, at: datetime) -> dict:
            return cases.create_case(db, applicant, item_code=FOOD_CODE, region_code=region, applicant=person,
                                     channel="online", submit=True, at=at)

        long_ago = datetime.combine(today - timedelta(days=RED_AGE_DAYS), time(10, 0))
        red = file(VILLAGE, long_ago)
        red = cases.perform(db, officer, red["case_id"], "accept", expected_version=red["version"], at=long_ago)
        now = datetime.combine(today, time(0, 5))     # today, whatever the hour the test runs at
        green = file(VILLAGE, now)
        elsewhere = file(other_village, now)
        recompute_warning_levels(db)                  # the app's own rule, as its background job runs it
        with db.read() as conn:
            levels = dict(conn.execute(sa.select(s.cases.c.case_no, s.cases.c.warning_level)).all())
        assert levels == {red["case_no"]: "red", green["case_no"]: "green", elsewhere["case_no"]: "green"}, levels
        marts.build(db, build_day=today)
        return {"red": red["case_no"], "green": green["case_no"], "elsewhere": elsewhere["case_no"],
                "district": names[VILLAGE[:6]], "town": names[VILLAGE[:9]], "village": names[VILLAGE],
                "today": today}
    finally:
        db.dispose()
        forget_databases()


# -- what the supervisor does ------------------------------------------------------------------------------------
def breadcrumb(page: Page, *steps: str) -> Locator:
    """The caption above the figures: 全市 › 区：鄂城区 › …"""
    return main(page).get_by_test_id("stCaptionContainer").filter(
        has_text=re.compile("^" + re.escape(" › ".join([tr("explore.top_region"), *steps])) + "$"))


def choose_period(page: Page, start: date, end: date) -> None:
    """Type the first and the last day into the period field, segment by segment (年/月/日, as a person types
    into it), then click outside it: the field hands the range to the page only when it loses focus (Enter or
    Tab between its segments do not). Waits until the run that takes the range has started and ended."""
    label = tr("explore.period")
    box = widget(main(page), "stDateInput", label)
    idle(page)
    for which, day in (("start", start), ("end", end)):
        field = box.get_by_role("group", name=f"{label} {which} date", exact=True)
        for part, value in (("year", f"{day:%Y}"), ("month", f"{day:%m}"), ("day", f"{day:%d}")):
            field.get_by_role("spinbutton", name=f"{part}, {label} {which} date", exact=True).click()
            page.keyboard.type(value)
        expect(box.locator(f"[data-range-field={which}] input[type=date]")).to_have_value(day.isoformat())
    page.evaluate(WATCH_RUN)
    main(page).get_by_role("heading", name=tr("page.explorer"), exact=True).click()
    page.wait_for_function("() => window.__ezzRan === true")
    idle(page)


def drill_into(page: Page, column_key: str, name: str, trail: list[str]) -> None:
    """Pick a group in 下钻到, press 下钻, and wait for the breadcrumb to name the new step.

    The drop-down sits at the foot of a long page: opened at the bottom edge of the screen, its list scrolls the
    page and closes again at once. So the supervisor first scrolls it to the middle of the screen."""
    box = widget(main(page), "stSelectbox", tr("explore.drill_into"))
    idle(page)
    box.evaluate("element => element.scrollIntoView({block: 'center'})")
    choose(main(page), tr("explore.drill_into"), name)
    main(page).get_by_role("button", name=tr("explore.drill"), exact=True).click()
    trail.append(f"{tr(f'explore.col_{column_key}')}：{name}")
    expect(breadcrumb(page, *trail)).to_be_visible()
    idle(page)


def exported_rows(page: Page) -> list[dict[str, str]]:
    """The list on the screen as the supervisor exports it (the table itself is drawn on a canvas)."""
    text = download_from(page, main(page).get_by_role("button", name=tr("export.csv")).first).decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text)))


def timeline_rows(body: Locator) -> Locator:
    """The rows of 办理记录. The table is drawn on a canvas; once a person clicks into it the grid also lays its
    visible cells out as an accessible table (role=grid), which is what is read here."""
    grid = body.get_by_role("tabpanel", name=tr("desk.tab_timeline")).get_by_test_id("stDataFrame")
    expect(grid).to_be_visible()
    idle(body.page)
    grid.click(position={"x": 60, "y": 55})      # the first cell, under the header row
    return grid.locator("table[role=grid] tbody tr[role=row]")


# -- the flow ----------------------------------------------------------------------------------------------------
def test_supervisor_drills_from_city_to_village_and_opens_a_red_case(new_page):
    red_no, green_no = _seeded["red"], _seeded["green"]
    today: date = _seeded["today"]
    steps = Steps("supervisor explorer")
    page = new_page()
    with shot_on_failure(page, "supervisor-explore"):
        sign_in(page, SUPERVISOR)
        page.goto("/explore")
        body = main(page)
        expect(body.get_by_role("heading", name=tr("page.explorer"), exact=True)).to_be_visible()
        expect(breadcrumb(page)).to_be_visible()
        idle(page)
        steps.done("sign in, open 指标探索")

        # A period that covers the red case (received before the default last 90 days).
        choose_period(page, today - timedelta(days=PERIOD_DAYS), today)
        expect(widget(body, "stRadio", tr("explore.path")).get_by_role(
            "radio", name=tr("explore.path_region"))).to_be_checked()
        steps.done("choose the period")

        # 全市 → 区 → 乡镇街道 → 村社区, each with the page's own drop-down and button.
        trail: list[str] = []
        drill_into(page, "district_code", _seeded["district"], trail)
        drill_into(page, "town_code", _seeded["town"], trail)
        drill_into(page, "village_code", _seeded["village"], trail)
        expect(body.get_by_role("button", name=tr("explore.up"))).to_be_visible()
        steps.done("drill 全市 → 区 → 乡镇街道 → 村社区")

        # The village's cases: the red one first, labelled red; the case from 华容区 is not there.
        rows = exported_rows(page)
        numbers = [r[tr("col.case_no")] for r in rows]
        assert numbers == [red_no, green_no], rows
        assert rows[0][tr("col.level")] == tr("level.red"), rows[0]
        assert rows[1][tr("col.level")] == tr("level.green"), rows[1]
        assert rows[0][tr("col.state")] == tr("state.accepted"), rows[0]
        picker = widget(body, "stSelectbox", tr("explore.open_case")).get_by_role("combobox")
        expect(picker).to_have_value(red_no)          # the first case of the list is the one offered

        # Its record, one click away.
        body.get_by_role("link", name=tr("explore.case_record")).click()
        expect(page).to_have_url(re.compile(rf"/case\?no={re.escape(red_no)}$"))
        steps.done("case list (export), open the red case")

    with shot_on_failure(page, "supervisor-case"):
        expect(body.get_by_role("heading", name=FOOD_NAME, exact=True)).to_be_visible()
        expect(body.get_by_test_id("stCaptionContainer").filter(has_text=red_no)).to_contain_text(
            _seeded["village"])
        expect(body.get_by_test_id("stMetric").filter(has_text=tr("col.state"))).to_contain_text(
            tr("state.accepted"))
        expect(body.get_by_test_id("stAlert").filter(has_text=tr("desk.level_red_handling"))).to_be_visible()
        expect(body.get_by_text(tr("desk.no_actions"))).to_be_visible()   # a supervisor reads, never acts
        idle(page)
        body.get_by_role("tab", name=tr("desk.tab_timeline")).click()
        record = timeline_rows(body)
        expect(record).to_have_count(3)               # 创建草稿, 提交申请, 受理 — nothing since
        for n, action in enumerate(("action.create", "action.submit", "action.accept")):
            expect(record.nth(n).locator("td").nth(1)).to_have_text(tr(action))
        expect(record.nth(2)).to_contain_text(OFFICER.display_name)
        expect(record.nth(2)).to_contain_text(tr("state.accepted"))
        steps.done("case screen and its record")
    print("\n" + steps.report())
