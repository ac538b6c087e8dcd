"""工作日历: reading a holiday notice (form rows, the project's JSON files, CSV) and refusing a wrong one with its
reason; loading it replaces the provisional year and moves the due dates of open cases in one transaction,
recorded in the audit log; other servers' cached calendars notice the change; the /calendar screen (AppTest)."""
from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from streamlit.testing.v1 import AppTest

from app import calendar_admin as ca
from app import calendar_store
from app import schema as s
from app.db import Database
from app.permissions import PermissionDenied
from tests.conftest import BACKENDS, drop_database, make_database
from tests.factories import file_case
from tests.apptest_support import open_page as open_screen
from tests.apptest_support import point_app_at

ROOT = Path(__file__).resolve().parent.parent
HOLIDAYS = ROOT / "data" / "reference" / "holidays"
SOURCE = "国办发明电〔2026〕9号（测试用通知）"
# A notice for 2027 (for the tests; the real one is not published yet): 春节 02-05..02-11 with a make-up Saturday.
ROWS_2027 = [
    {"name": "元旦", "first": date(2027, 1, 1), "last": date(2027, 1, 3), "makeup": ""},
    {"name": "春节", "first": date(2027, 2, 5), "last": date(2027, 2, 11), "makeup": "2027-02-20"},
    {"name": "国庆节", "first": date(2027, 10, 1), "last": date(2027, 10, 7), "makeup": "2027-09-26、2027-10-09"},
]
HOTEL = "4207-GAJ-001"     # 旅馆业特种行业许可: parallel approval by 消防 and 卫健
FILED = datetime(2027, 2, 1, 9, 0)   # a Monday: the intake window (5 working days) runs over 春节
TODAY = date(2027, 2, 1)


def csv_bytes(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


GOOD_CSV = csv_bytes("name,date,isOffDay", "元旦,2027-01-01,true", "春节,2027-02-05,true", "春节,2027-02-20,false")


# -- reading a notice (no database) ------------------------------------------------------------------------------
def test_the_projects_own_notice_files_are_read_as_they_are():
    for year in (2019, 2023, 2026):   # 2019 and 2023 arrange days of the December before (the New Year bridge)
        data = (HOLIDAYS / f"{year}.json").read_bytes()
        notice = ca.notice_from_file(f"{year}.json", data, year=year)
        doc = json.loads(data)
        assert notice.year == year and len(notice.days) == len(doc["days"])
        assert notice.source == "；".join(doc["papers"])
    notice = ca.notice_from_file("2026.json", (HOLIDAYS / "2026.json").read_bytes())
    spring = [g for g in ca.group_days(notice.days) if g["name"] == "春节"][0]
    assert (spring["first_off"], spring["last_off"], spring["days_off"]) == (date(2026, 2, 15), date(2026, 2, 23), 9)
    assert spring["makeup"] == "2026-02-14、2026-02-28"


def test_form_rows_become_the_days_of_the_notice():
    notice = ca.notice_from_rows(2027, SOURCE, ROWS_2027 + [{"name": "", "first": None, "last": None, "makeup": ""}])
    assert notice.off_days == 3 + 7 + 7 and notice.makeup_days == 3
    assert ca.NoticeDay(date(2027, 9, 26), "国庆节", False) in notice.days
    assert ca.notice_from_file("2027.csv", GOOD_CSV, year=2027, source=SOURCE).makeup_days == 1


@pytest.mark.parametrize("name,data,key", [
    ("2027.csv", b"", "calendar_admin.file_empty"),
    ("2027.csv", csv_bytes("name,date,isOffDay"), "calendar_admin.empty"),
    ("2027.csv", csv_bytes("holiday,day,off", "元旦,2027-01-01,true"), "calendar_admin.columns"),
    ("2027.csv", csv_bytes("name,date,isOffDay", "元旦,2027/01/01,true"), "calendar_admin.bad_date"),
    ("2027.csv", csv_bytes("name,date,isOffDay", "元旦,2027-02-30,true"), "calendar_admin.bad_date"),
    ("2027.csv", csv_bytes("name,date,isOffDay", "元旦,2027-01-01,yes"), "calendar_admin.bad_flag"),
    ("2027.csv", csv_bytes("name,date,isOffDay", "国庆节,2028-10-01,true"), "calendar_admin.outside_year"),
    ("2027.csv", csv_bytes("name,date,isOffDay", "元旦,2026-11-30,true"), "calendar_admin.outside_year"),
    ("2027.csv", csv_bytes("name,date,isOffDay", "春节,2027-02-05,true", "春节,2027-02-17,false"),
     "calendar_admin.makeup_not_weekend"),   # a Wednesday
    ("2027.csv", csv_bytes("name,date,isOffDay", "春节,2027-02-05,true", "其他,2027-02-05,true"),
     "calendar_admin.day_twice"),
    ("2027.csv", csv_bytes("name,date,isOffDay", "春节,2027-02-20,false"), "calendar_admin.no_off_day"),
    ("2027.csv", "name,date,isOffDay\n元旦,2027-01-01,true\n".encode("gbk") + "春节".encode("gbk"),
     "calendar_admin.file_encoding"),
    ("2027.xlsx", GOOD_CSV, "calendar_admin.file_type"),
    ("2027.json", b"{\"year\": 2027, \"days\": [", "calendar_admin.bad_json"),
    ("2027.json", b"{\"days\": []}", "calendar_admin.json_keys"),
    ("2027.json", json.dumps({"year": 2027, "days": [{"name": "元旦", "date": "2027-01-01"}]}).encode(),
     "calendar_admin.json_day_keys"),
    ("2026.json", (HOLIDAYS / "2026.json").read_bytes(), "calendar_admin.file_year_mismatch"),
])
def test_a_wrong_file_is_refused_with_its_reason(name, data, key):
    with pytest.raises(ca.CalendarError) as refused:
        ca.notice_from_file(name, data, year=2027, source=SOURCE)
    assert refused.value.key == key


@pytest.mark.parametrize("rows,source,key", [
    ([{"name": "春节", "first": date(2027, 2, 11), "last": date(2027, 2, 5), "makeup": ""}], SOURCE,
     "calendar_admin.range_reversed"),
    ([{"name": "春节", "first": None, "last": None, "makeup": ""}], SOURCE, "calendar_admin.range_required"),
    ([{"name": "", "first": date(2027, 2, 5), "last": date(2027, 2, 6), "makeup": ""}], SOURCE,
     "calendar_admin.name_required"),
    ([{"name": "春节", "first": date(2027, 2, 5), "last": date(2027, 2, 11), "makeup": "2月20日"}], SOURCE,
     "calendar_admin.bad_date"),
    ([{"name": "春节", "first": date(2027, 2, 5), "last": date(2027, 2, 11), "makeup": "2027-02-17"}], SOURCE,
     "calendar_admin.makeup_not_weekend"),
    ([{"name": "春节", "first": date(2027, 2, 5), "last": date(2027, 2, 11), "makeup": ""},
      {"name": "元宵", "first": date(2027, 2, 11), "last": date(2027, 2, 12), "makeup": ""}], SOURCE,
     "calendar_admin.day_twice"),
    ([{"name": "春节", "first": date(2027, 1, 1), "last": date(2027, 3, 1), "makeup": ""}], SOURCE,
     "calendar_admin.range_too_long"),
    (ROWS_2027, "  ", "calendar_admin.source_required"),
    ([], SOURCE, "calendar_admin.empty"),
])
def test_a_wrong_form_is_refused_with_its_reason(rows, source, key):
    with pytest.raises(ca.CalendarError) as refused:
        ca.notice_from_rows(2027, source, rows)
    assert refused.value.key == key


# -- loading a notice (DuckDB and PostgreSQL) ---------------------------------------------------------------------
@pytest.fixture(params=BACKENDS)
def cal_db(request, tmp_path):  # noqa: ANN001, ANN201
    """A fresh seeded database of its own: these tests change the calendar, which the shared one must keep."""
    from pipelines.seed_reference import seed_reference
    from tests.factories import create_users

    db = make_database(request.param, tmp_path)
    db.migrate()
    seed_reference(db)
    calendar_store.invalidate()
    db.actors = create_users(db)  # type: ignore[attr-defined]
    yield db
    drop_database(db)
    calendar_store.invalidate()


def case_row(db: Database, case_id: int):  # noqa: ANN201
    with db.read() as conn:
        return conn.execute(sa.select(s.cases).where(s.cases.c.case_id == case_id)).fetchall()[0]


def audit_rows(db: Database, action: str) -> list[dict]:
    with db.read() as conn:
        rows = conn.execute(sa.select(s.audit_log.c.detail, s.audit_log.c.username)
                            .where(s.audit_log.c.action == action)).fetchall()
    return [{"username": r.username, **json.loads(r.detail)} for r in rows]


def calendar_state(db: Database) -> tuple:
    with db.read() as conn:
        return (conn.execute(sa.select(s.holidays).order_by(s.holidays.c.day)).fetchall(),
                conn.execute(sa.select(s.calendar_years).order_by(s.calendar_years.c.year)).fetchall(),
                conn.execute(sa.select(s.cases.c.case_id, s.cases.c.promised_due, s.cases.c.statutory_due)
                             .order_by(s.cases.c.case_id)).fetchall(),
                conn.execute(sa.select(sa.func.count()).select_from(s.audit_log)).scalar())


def test_an_official_notice_replaces_the_provisional_year_and_moves_open_due_dates(cal_db):
    db, a = cal_db, cal_db.actors
    assert calendar_store.load_calendar(db).is_provisional(2027)
    case = file_case(db, a["applicant"], at=FILED)
    # provisional 2027: 除夕 02-05 and 初三 02-08 off; intake days 02-02, 03, 04, 09, 10
    assert case_row(db, case["case_id"]).promised_due == date(2027, 2, 10)
    closed = file_case(db, a["applicant"], at=FILED)
    decided_due = case_row(db, closed["case_id"]).promised_due
    from app import cases
    cases.perform(db, a["applicant"], closed["case_id"], "withdraw", expected_version=closed["version"],
                  comment="不办了", at=FILED)

    notice = ca.notice_from_rows(2027, SOURCE, ROWS_2027)
    result = ca.load_notice(db, a["admin"], notice, today=TODAY)

    assert result.replaced == "provisional" and result.cases_moved >= 1
    row = case_row(db, case["case_id"])
    # official: 02-05..02-11 off, so 02-02, 03, 04, 12, 15
    assert (row.promised_due, row.statutory_due) == (date(2027, 2, 15), date(2027, 2, 15))
    assert case_row(db, closed["case_id"]).promised_due == decided_due   # a closed case keeps its dates
    with db.read() as conn:
        year = conn.execute(sa.select(s.calendar_years).where(s.calendar_years.c.year == 2027)).fetchall()[0]
        days = conn.execute(sa.select(sa.func.count()).select_from(s.holidays)
                            .where(s.holidays.c.year == 2027)).scalar()
    assert year.official and year.source == SOURCE and days == notice.off_days + notice.makeup_days
    cal = calendar_store.load_calendar(db)
    assert not cal.is_provisional(2027) and cal.is_working_day(date(2027, 2, 20))   # the make-up Saturday

    moved = {m["case_no"]: m for m in audit_rows(db, "calendar_due_moved")}
    assert moved[case["case_no"]]["promised_due"] == ["2027-02-10", "2027-02-15"]
    assert moved[case["case_no"]]["username"] == a["admin"].username
    [summary] = audit_rows(db, "calendar_load")
    assert summary["year"] == 2027 and summary["cases_moved"] == result.cases_moved and summary["source"] == SOURCE
    with db.read() as conn:   # the case record (hash chain) gets no event from a calendar change
        actions = [r[0] for r in conn.execute(sa.select(s.case_events.c.action)
                                              .where(s.case_events.c.case_id == case["case_id"]))]
    assert actions == ["create", "submit"]


def test_a_parallel_task_deadline_moves_with_the_calendar(cal_db):
    from app import cases

    db, a = cal_db, cal_db.actors
    case = file_case(db, a["applicant"], item_code=HOTEL, at=FILED)   # co-departments: 消防, 卫健
    accepted = cases.perform(db, a["gaj_officer"], case["case_id"], "accept", expected_version=case["version"],
                             at=FILED)
    with db.read() as conn:
        before = conn.execute(sa.select(s.parallel_tasks.c.task_id, s.parallel_tasks.c.due_on)
                              .where(s.parallel_tasks.c.case_id == accepted["case_id"])).fetchall()
    assert len(before) == 2
    provisional = calendar_store.load_calendar(db)
    ca.load_notice(db, a["admin"], ca.notice_from_rows(2027, SOURCE, ROWS_2027), today=TODAY)
    with db.read() as conn:
        after = dict(conn.execute(sa.select(s.parallel_tasks.c.task_id, s.parallel_tasks.c.due_on)
                                  .where(s.parallel_tasks.c.case_id == accepted["case_id"])).fetchall())
    new = calendar_store.load_calendar(db)
    for task_id, old_due in before:   # the same number of working days after acceptance, on the new calendar
        assert after[task_id] == new.add_working_days(TODAY, provisional.working_days_between(TODAY, old_due))
        assert after[task_id] > old_due
    moved = {m["case_no"]: m for m in audit_rows(db, "calendar_due_moved")}
    assert len(moved[case["case_no"]]["parallel_tasks"]) == 2


def test_a_refused_load_changes_nothing(cal_db, monkeypatch):
    db, a = cal_db, cal_db.actors
    file_case(db, a["applicant"], at=FILED)
    before = calendar_state(db)
    # 2026 is official already: loading it again needs the explicit "replace"
    notice_2026 = ca.notice_from_file("2026.json", (HOLIDAYS / "2026.json").read_bytes())
    with pytest.raises(ca.CalendarError) as refused:
        ca.load_notice(db, a["admin"], notice_2026, today=TODAY)
    assert refused.value.key == "calendar_admin.already_official"
    # a 2027 notice contradicting a day the 2026 notice fixed (the bridge days of December are checked)
    contradicting = ca.Notice(2027, SOURCE, (ca.NoticeDay(date(2026, 12, 26), "元旦", False),
                                             ca.NoticeDay(date(2027, 1, 1), "元旦", True)))
    with db.read() as conn:
        conn_days = conn.execute(sa.select(s.holidays.c.day).where(s.holidays.c.day == date(2026, 12, 26))).fetchall()
    if not conn_days:   # the 2026 notice does not list 26 December: make it (as a correction would)
        def put(conn):  # noqa: ANN001, ANN202
            conn.execute(s.holidays.insert().values(day=date(2026, 12, 26), name="元旦", is_off_day=True, year=2026))
        db.write(put)
        before = calendar_state(db)
    with pytest.raises(ca.CalendarError) as refused:
        ca.load_notice(db, a["admin"], contradicting, today=TODAY)
    assert refused.value.key == "calendar_admin.contradicts"
    # a failure at the very end (the summary audit entry) undoes the whole load
    from app import audit
    real = audit.record

    def failing(conn, action, **kw):  # noqa: ANN001, ANN003, ANN202
        if action == "calendar_load":
            raise RuntimeError("disk full")
        return real(conn, action, **kw)

    monkeypatch.setattr(audit, "record", failing)
    with pytest.raises(RuntimeError):
        ca.load_notice(db, a["admin"], ca.notice_from_rows(2027, SOURCE, ROWS_2027), today=TODAY)
    monkeypatch.setattr(audit, "record", real)
    with pytest.raises(PermissionDenied):
        ca.load_notice(db, a["officer"], ca.notice_from_rows(2027, SOURCE, ROWS_2027), today=TODAY)
    assert calendar_state(db) == before
    assert calendar_store.load_calendar(db).is_provisional(2027)


def test_an_official_year_can_be_replaced_by_a_correction(cal_db):
    db, a = cal_db, cal_db.actors
    ca.load_notice(db, a["admin"], ca.notice_from_rows(2027, SOURCE, ROWS_2027), today=TODAY)
    case = file_case(db, a["applicant"], at=FILED)
    assert case_row(db, case["case_id"]).promised_due == date(2027, 2, 15)
    # a supplementary notice extends 春节 by two working days (as 2020's did)
    longer = [dict(r) for r in ROWS_2027]
    longer[1]["last"] = date(2027, 2, 15)
    result = ca.load_notice(db, a["admin"], ca.notice_from_rows(2027, "补充通知", longer), replace_official=True,
                            today=TODAY)
    assert result.replaced == "official" and result.cases_moved >= 1
    assert case_row(db, case["case_id"]).promised_due == date(2027, 2, 17)   # 02, 03, 04, 16, 17
    assert [y["year"] for y in ca.years_overview(db, TODAY) if y["year"] == 2027 and y["official"]] == [2027]
    assert [h["days_off"] for h in ca.year_holidays(db, 2027) if h["name"] == "春节"] == [11]


def test_other_servers_notice_a_new_notice_without_being_told(cal_db, monkeypatch):
    """Two Database objects stand for two app servers; the loading server's invalidate() reaches only its own
    process, so the other must see the change from the database itself."""
    db = cal_db
    other = Database(db.url, schema=db.schema)
    try:
        cached = calendar_store.load_calendar(other)
        assert cached.is_provisional(2027)
        assert calendar_store.load_calendar(other) is cached   # unchanged: the cached calendar is reused
        monkeypatch.setattr(calendar_store, "invalidate", lambda: None)
        ca.load_notice(db, db.actors["admin"], ca.notice_from_rows(2027, SOURCE, ROWS_2027), today=TODAY)
        fresh = calendar_store.load_calendar(other)
        assert fresh is not cached and not fresh.is_provisional(2027)
        assert not fresh.is_working_day(date(2027, 2, 10))
        # a correction within the same second still changes the stamp (loaded_at moves strictly forward)
        longer = [dict(r) for r in ROWS_2027]
        longer[1]["last"] = date(2027, 2, 15)
        ca.load_notice(db, db.actors["admin"], ca.notice_from_rows(2027, SOURCE, longer), replace_official=True,
                       today=TODAY)
        assert not calendar_store.load_calendar(other).is_working_day(date(2027, 2, 15))
    finally:
        other.dispose()


# -- the screen (AppTest) -----------------------------------------------------------------------------------------
@pytest.fixture
def page_db(cal_db, monkeypatch):  # noqa: ANN001, ANN201
    point_app_at(cal_db, monkeypatch)
    yield cal_db
    st.cache_resource.clear()


def open_page(actor) -> AppTest:  # noqa: ANN001
    return open_screen("admin_calendar.py", actor)


def status_of(at: AppTest, year: int) -> str:
    [df] = [d.value for d in at.dataframe if "年份" in d.value.columns]   # pandas
    return df[df["年份"] == str(year)]["状态"].iloc[0]


def test_calendar_screen_loads_a_notice_by_hand_and_refuses_a_wrong_file(page_db):
    db, a = page_db, page_db.actors
    case = file_case(db, a["applicant"], at=FILED)
    at = open_page(a["admin"])
    assert at.title[0].value == "工作日历"
    assert status_of(at, 2026) == "官方" and status_of(at, 2027).startswith("临时")

    # a wrong file: refused with its reason, nothing loaded
    at.number_input(key="cal-file-year").set_value(2027)
    at.text_input(key="cal-file-source").input(SOURCE)
    at.get("file_uploader")[0].set_value(("2027.csv", csv_bytes("name,date,isOffDay", "春节,2027-02-17,false",
                                                               "春节,2027-02-05,true"), "text/csv"))
    at.button(key="cal-file-load").click().run()
    assert not at.exception, at.exception
    assert any("不是星期六或星期日" in e.value for e in at.error)
    assert status_of(at, 2027).startswith("临时")

    # the form: 2027's notice by hand
    at.number_input(key="cal-form-year").set_value(2027)
    at.text_input(key="cal-form-source").input(SOURCE)
    for i, row in enumerate(ROWS_2027):
        at.text_input(key=f"cal-row-{i}-name").input(row["name"])
        at.date_input(key=f"cal-row-{i}-first").set_value(row["first"])
        at.date_input(key=f"cal-row-{i}-last").set_value(row["last"])
        at.text_input(key=f"cal-row-{i}-makeup").input(row["makeup"])
    for i in range(len(ROWS_2027), 9):   # the other prefilled names are cleared: this notice has three holidays
        at.text_input(key=f"cal-row-{i}-name").input("")
    at.button[0].click().run()   # the form's submit button
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("2027年官方节假日安排已载入" in m.value for m in at.success)
    moved = {m.label: m.value for m in at.metric}
    assert int(moved["期限变动的在办件"]) >= 1
    assert status_of(at, 2027) == "官方"
    assert case_row(db, case["case_id"]).promised_due == date(2027, 2, 15)


def test_calendar_screen_is_for_administrators_only(page_db):
    at = open_page(page_db.actors["officer"])
    assert any("不对您的角色开放" in e.value for e in at.error)
    assert not at.dataframe
