"""Calendar administration (工作日历, domain.md §5): which years hold an official holiday notice and which are
provisional, the holidays of a year, and loading a new year's notice (国务院办公厅关于XXXX年部分节假日安排的通知).

A notice arrives either as form rows (holiday name, first and last day off, make-up working days) or as a
file in the format of data/reference/holidays (holiday-cn JSON: year, papers, days[name, date, isOffDay]) or a
CSV with the same three columns (name,date,isOffDay). Both become one `Notice`, checked by one function; a
refused notice changes nothing. Loading is one transaction: the year's rows are replaced, calendar_years marks
the year official with its source, the deadlines of open cases (intake window, promised and statutory due
dates) and of open tasks tied to them (parallel-approval tasks, unpaid payment notices, unanswered
complaints, open bad-review follow-ups) are recomputed with the new calendar, and each case whose dates moved
gets an audit entry (old → new), with one summary entry for the load. The case record (hash chain) is not
touched: no workflow action moves a due date by itself.
"""
from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Iterable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from app import audit, calendar_store, clock, timeutil
from app import schema as s
from app import workflow as wf
from app.cases import clock_fields
from app.db import Database
from app.permissions import Actor, PermissionDenied
from app.supervision import CLOCK_STATES

FIRST_YEAR, LAST_YEAR = 2013, 2099
MAX_FILE_BYTES = 256 * 1024
MAX_RANGE_DAYS = 15          # the longest run of days off a notice has arranged is 10 (春节 2020, extended)
BRIDGE_FROM_DAY = 25         # a notice may arrange the New Year holiday from the previous 25 December on
CSV_COLUMNS = ["name", "date", "isOffDay"]
HOLIDAY_NAMES = ("元旦", "春节", "清明节", "劳动节", "端午节", "中秋节", "国庆节")


class CalendarError(ValueError):
    """A notice or a file the calendar refuses; `key` names the i18n message."""

    def __init__(self, key: str, **params: Any):
        super().__init__(key)
        self.key = key
        self.params = params


@dataclass(frozen=True)
class NoticeDay:
    day: date
    name: str
    is_off_day: bool     # False: an official make-up working day (调休上班)


@dataclass(frozen=True)
class Notice:
    year: int
    source: str
    days: tuple[NoticeDay, ...]

    @property
    def off_days(self) -> int:
        return sum(1 for d in self.days if d.is_off_day)

    @property
    def makeup_days(self) -> int:
        return sum(1 for d in self.days if not d.is_off_day)


@dataclass
class LoadResult:
    year: int
    replaced: str                 # "provisional" or "official"
    off_days: int
    makeup_days: int
    cases_checked: int
    cases_moved: int
    deadlines_moved: int          # tasks, payment notices, complaints, follow-ups
    moved: list[dict[str, Any]] = field(default_factory=list)   # the cases: case_no, old and new dates


# -- reading a notice ------------------------------------------------------------------------------------------
def _check_year(year: Any) -> int:
    if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
        raise CalendarError("calendar_admin.year_range", first=FIRST_YEAR, last=LAST_YEAR)
    return year


def _parse_day(value: Any, where: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise CalendarError("calendar_admin.bad_date", where=where, value=text[:40])
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CalendarError("calendar_admin.bad_date", where=where, value=text) from None


def parse_makeup(text: str | None, where: str) -> list[date]:
    """Make-up working days typed as 2027-02-06、2027-02-20 (any of , ， 、 ; or spaces between)."""
    parts = [p for p in re.split(r"[\s,，、;；]+", (text or "").strip()) if p]
    return [_parse_day(p, where) for p in parts]


def notice_from_rows(year: int, source: str, rows: Iterable[dict[str, Any]]) -> Notice:
    """The form: one row per holiday — name, first and last day off, make-up working days (dates or text).
    Rows left wholly blank are skipped."""
    year = _check_year(year)
    days: list[NoticeDay] = []
    for n, row in enumerate(rows, start=1):
        name = str(row.get("name") or "").strip()
        first, last = row.get("first"), row.get("last")
        makeup = row.get("makeup")
        if not name and first is None and last is None and not makeup:
            continue
        where = f"#{n}"
        if not name:
            raise CalendarError("calendar_admin.name_required", where=where)
        if first is None or last is None:
            raise CalendarError("calendar_admin.range_required", where=where, name=name)
        first, last = _parse_day(first, where), _parse_day(last, where)
        if last < first:
            raise CalendarError("calendar_admin.range_reversed", where=where, name=name)
        if (last - first).days + 1 > MAX_RANGE_DAYS:
            raise CalendarError("calendar_admin.range_too_long", where=where, name=name, most=MAX_RANGE_DAYS)
        d = first
        while d <= last:
            days.append(NoticeDay(d, name, True))
            d += timedelta(days=1)
        extra = makeup if isinstance(makeup, (list, tuple)) else parse_makeup(makeup, where)
        days.extend(NoticeDay(_parse_day(m, where), name, False) for m in extra)
    notice = Notice(year, (source or "").strip(), tuple(sorted(days, key=lambda x: x.day)))
    check_notice(notice)
    return notice


def notice_from_file(file_name: str, data: bytes, *, year: int | None = None, source: str | None = None) -> Notice:
    """A notice file: holiday-cn JSON (as data/reference/holidays/YYYY.json) or CSV name,date,isOffDay.

    `year` (the year the administrator chose) must agree with a JSON file's own year; a CSV carries no year,
    so it needs one. The source is the form's, else the JSON file's papers."""
    if not data or not data.strip():
        raise CalendarError("calendar_admin.file_empty")
    if len(data) > MAX_FILE_BYTES:
        raise CalendarError("calendar_admin.file_too_big", kb=MAX_FILE_BYTES // 1024)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise CalendarError("calendar_admin.file_encoding") from None
    lower = (file_name or "").lower()
    if lower.endswith(".json"):
        file_year, papers, entries = _read_json(text)
        if year is not None and year != file_year:
            raise CalendarError("calendar_admin.file_year_mismatch", file_year=file_year, year=year)
        year = file_year
        source = (source or "").strip() or "；".join(papers)
    elif lower.endswith(".csv"):
        if year is None:
            raise CalendarError("calendar_admin.year_range", first=FIRST_YEAR, last=LAST_YEAR)
        entries = _read_csv(text)
    else:
        raise CalendarError("calendar_admin.file_type")
    year = _check_year(year)
    if not entries:
        raise CalendarError("calendar_admin.empty")
    notice = Notice(year, (source or "").strip(), tuple(sorted(entries, key=lambda x: x.day)))
    check_notice(notice)
    return notice


def _read_json(text: str) -> tuple[int, list[str], list[NoticeDay]]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CalendarError("calendar_admin.bad_json", line=exc.lineno) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("days"), list) or "year" not in doc:
        raise CalendarError("calendar_admin.json_keys")
    year = doc["year"]
    if isinstance(year, str) and year.isdigit():
        year = int(year)
    year = _check_year(year)
    papers = [str(p) for p in doc.get("papers") or [] if isinstance(p, str)]
    entries = []
    for n, row in enumerate(doc["days"], start=1):
        where = f"days[{n}]"
        if not isinstance(row, dict) or set(CSV_COLUMNS) - set(row):
            raise CalendarError("calendar_admin.json_day_keys", where=where)
        entries.append(_entry(row["name"], row["date"], row["isOffDay"], where))
    return year, papers, entries


def _read_csv(text: str) -> list[NoticeDay]:
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    got = [h.strip() for h in header or []]
    if got != CSV_COLUMNS:
        raise CalendarError("calendar_admin.columns", expected=",".join(CSV_COLUMNS), got=",".join(got)[:80])
    entries = []
    for n, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"CSV:{n}"
        if len(row) != len(CSV_COLUMNS):
            raise CalendarError("calendar_admin.row_cells", where=where, expected=len(CSV_COLUMNS))
        flag = row[2].strip().lower()
        if flag not in ("true", "false"):
            raise CalendarError("calendar_admin.bad_flag", where=where, value=row[2][:20])
        entries.append(_entry(row[0], row[1], flag == "true", where))
    return entries


def _entry(name: Any, day: Any, off: Any, where: str) -> NoticeDay:
    if not isinstance(off, bool):
        raise CalendarError("calendar_admin.bad_flag", where=where, value=str(off)[:20])
    name = str(name or "").strip()
    if not name:
        raise CalendarError("calendar_admin.name_required", where=where)
    return NoticeDay(_parse_day(day, where), name[:40], off)


def check_notice(notice: Notice) -> None:
    """The rules every notice meets, whichever way it came in."""
    if not notice.source:
        raise CalendarError("calendar_admin.source_required")
    if len(notice.source) > 500:
        raise CalendarError("calendar_admin.source_too_long")
    if not notice.days:
        raise CalendarError("calendar_admin.empty")
    seen: set[date] = set()
    bridge_from = date(notice.year - 1, 12, BRIDGE_FROM_DAY)
    for d in notice.days:
        if d.day in seen:
            raise CalendarError("calendar_admin.day_twice", day=d.day.isoformat())
        seen.add(d.day)
        if d.day.year != notice.year and not bridge_from <= d.day < date(notice.year, 1, 1):
            raise CalendarError("calendar_admin.outside_year", day=d.day.isoformat(), year=notice.year)
        if not d.is_off_day and d.day.weekday() < 5:
            raise CalendarError("calendar_admin.makeup_not_weekend", day=d.day.isoformat())
    if notice.off_days == 0:
        raise CalendarError("calendar_admin.no_off_day")


# -- what the screen shows -------------------------------------------------------------------------------------
def years_overview(db: Database, today: date | None = None) -> list[dict[str, Any]]:
    """Every year from the first loaded to next year (or the furthest open due date): official or provisional."""
    today = today or timeutil.today()
    cy, h = s.calendar_years.c, s.holidays.c
    with db.read() as conn:
        listed = {r.year: r for r in conn.execute(sa.select(cy.year, cy.official, cy.source, cy.loaded_at))}
        counts = {(r.year, bool(r.is_off_day)): int(r.n) for r in conn.execute(
            sa.select(h.year, h.is_off_day, sa.func.count().label("n")).group_by(h.year, h.is_off_day))}
        furthest = conn.execute(sa.select(sa.func.max(s.cases.c.statutory_due))
                                .where(s.cases.c.state.in_(CLOCK_STATES))).scalar()
    last = max([today.year + 1, *listed, *([furthest.year] if furthest else [])])
    first = min([today.year, *listed])
    cal = clock.WorkCalendar({}, set())
    out = []
    for year in range(last, first - 1, -1):
        row = listed.get(year)
        official = bool(row and row.official)
        out.append({
            "year": year,
            "official": official,
            "source": row.source if official else None,
            "loaded_at": row.loaded_at if official else None,
            "off_days": counts.get((year, True), 0) if official else len(cal.provisional_days(year)),
            "makeup_days": counts.get((year, False), 0) if official else 0,
        })
    return out


def year_holidays(db: Database, year: int) -> list[dict[str, Any]]:
    """The holidays of a year as the notice reads: name, first and last day off, days off, make-up days.
    A provisional year shows the statutory holidays of the national regulation (no make-up days)."""
    _check_year(year)
    with db.read() as conn:
        official = conn.execute(sa.select(s.calendar_years.c.official)
                                .where(s.calendar_years.c.year == year)).fetchall()
        rows = conn.execute(sa.select(s.holidays.c.day, s.holidays.c.name, s.holidays.c.is_off_day)
                            .where(s.holidays.c.year == year).order_by(s.holidays.c.day)).fetchall()
    if official and official[0][0]:
        days = [NoticeDay(r.day, r.name, bool(r.is_off_day)) for r in rows]
    else:
        days = [NoticeDay(d, name, True) for d, name in clock.WorkCalendar({}, set()).provisional_days(year).items()]
    return group_days(days)


def group_days(days: Iterable[NoticeDay]) -> list[dict[str, Any]]:
    """Runs of consecutive days off under one name, each with that name's make-up days (on its first run)."""
    days = sorted(days, key=lambda d: d.day)
    makeup: dict[str, list[date]] = defaultdict(list)
    for d in days:
        if not d.is_off_day:
            makeup[d.name].append(d.day)
    out: list[dict[str, Any]] = []
    for d in (d for d in days if d.is_off_day):
        last = out[-1] if out else None
        if last and last["name"] == d.name and last["last_off"] + timedelta(days=1) == d.day:
            last["last_off"] = d.day
            last["days_off"] += 1
            continue
        first_run = not any(r["name"] == d.name for r in out)
        out.append({"name": d.name, "first_off": d.day, "last_off": d.day, "days_off": 1,
                    "makeup": "、".join(m.isoformat() for m in makeup.pop(d.name, [])) if first_run else ""})
    for name, left in makeup.items():   # make-up days of a name with no day off (seen in no notice so far)
        out.append({"name": name, "first_off": None, "last_off": None, "days_off": 0,
                    "makeup": "、".join(m.isoformat() for m in left)})
    return out


# -- loading a notice ------------------------------------------------------------------------------------------
def load_notice(db: Database, actor: Actor, notice: Notice, *, replace_official: bool = False,
                today: date | None = None) -> LoadResult:
    """Load an official notice for its year and recompute every open deadline, in one transaction."""
    if actor.role != wf.ADMIN:
        raise PermissionDenied("perm.denied")
    check_notice(notice)
    today = today or timeutil.today()
    year = notice.year

    def work(conn: Connection) -> LoadResult:
        cy, h = s.calendar_years.c, s.holidays.c
        existing = conn.execute(sa.select(cy.official, cy.loaded_at).where(cy.year == year)).fetchall()
        was_official = bool(existing and existing[0].official)
        if was_official and not replace_official:
            raise CalendarError("calendar_admin.already_official", year=year)
        old = calendar_store.calendar_from(conn)

        # Days of a neighbouring notice (the New Year bridge) stay with it when they agree; a contradiction
        # with an official year is refused rather than silently overwritten.
        others = {r.day: r for r in conn.execute(
            sa.select(h.day, h.is_off_day, h.year).where(h.year != year, h.day.in_([d.day for d in notice.days])))}
        official_years = {r[0] for r in conn.execute(sa.select(cy.year).where(cy.official))}
        keep: set[date] = set()
        for d in notice.days:
            other = others.get(d.day)
            if other is None:
                continue
            if bool(other.is_off_day) == d.is_off_day:
                keep.add(d.day)
            elif other.year in official_years:
                raise CalendarError("calendar_admin.contradicts", day=d.day.isoformat(), year=other.year)
        conn.execute(s.holidays.delete().where(h.year == year))
        conn.execute(s.holidays.delete().where(h.day.in_([d.day for d in notice.days if d.day not in keep])))
        conn.execute(s.holidays.insert(), [
            {"day": d.day, "name": d.name, "is_off_day": d.is_off_day, "year": year}
            for d in notice.days if d.day not in keep])

        # loaded_at moves strictly forward, so that every server's cached calendar sees a new stamp even for
        # two loads within one second (timeutil.now has whole seconds).
        latest = conn.execute(sa.select(sa.func.max(cy.loaded_at))).scalar()
        loaded_at = timeutil.now()
        if latest is not None and loaded_at <= latest:
            loaded_at = latest + timedelta(microseconds=1)
        conn.execute(s.calendar_years.delete().where(cy.year == year))
        conn.execute(s.calendar_years.insert().values(year=year, official=True, source=notice.source,
                                                      loaded_at=loaded_at))
        new = calendar_store.calendar_from(conn)

        result = LoadResult(year=year, replaced="official" if was_official else "provisional",
                            off_days=notice.off_days, makeup_days=notice.makeup_days,
                            cases_checked=0, cases_moved=0, deadlines_moved=0)
        _recompute_open_deadlines(conn, old, new, today, result)
        for moved in result.moved:
            audit.record(conn, "calendar_due_moved", user_id=actor.user_id, username=actor.username,
                         detail={"year": year, **moved})
        audit.record(conn, "calendar_load", user_id=actor.user_id, username=actor.username, detail={
            "year": year, "source": notice.source, "replaced": result.replaced, "off_days": notice.off_days,
            "makeup_days": notice.makeup_days, "cases_checked": result.cases_checked,
            "cases_moved": result.cases_moved, "deadlines_moved": result.deadlines_moved})
        return result

    result = db.write(work)
    calendar_store.invalidate()
    return result


def _recompute_open_deadlines(conn: Connection, old: clock.WorkCalendar, new: clock.WorkCalendar, today: date,
                              result: LoadResult) -> None:
    c = s.cases.c
    rows = conn.execute(sa.select(c.case_id, c.case_no, c.version, c.state, c.clock_start, c.promised_days,
                                  c.statutory_limit, c.statutory_unit, c.extension_days, c.promised_due,
                                  c.statutory_due, c.warning_level)
                        .where(c.state.in_(CLOCK_STATES))).fetchall()
    stops: dict[int, list[clock.Stop]] = defaultdict(list)
    for r in conn.execute(
            sa.select(s.clock_stops.c.case_id, s.clock_stops.c.started_on, s.clock_stops.c.ended_on)
            .select_from(s.clock_stops.join(s.cases, c.case_id == s.clock_stops.c.case_id))
            .where(c.state.in_(CLOCK_STATES)).order_by(s.clock_stops.c.case_id, s.clock_stops.c.seq)):
        stops[r.case_id].append(clock.Stop(r.started_on, r.ended_on))

    moved: dict[int, dict[str, Any]] = {}
    updates = []
    for row in rows:
        case = dict(row._mapping)
        before = clock_fields(old, case, stops.get(row.case_id, []), today)
        after = clock_fields(new, case, stops.get(row.case_id, []), today)
        fields = {"promised_due": after.get("promised_due", row.promised_due),
                  "statutory_due": after.get("statutory_due", row.statutory_due),
                  "warning_level": after.get("warning_level")}
        if (before.get("promised_due"), before.get("statutory_due")) != (after.get("promised_due"),
                                                                          after.get("statutory_due")):
            moved[row.case_id] = {
                "case_id": row.case_id, "case_no": row.case_no,
                "promised_due": [_iso(row.promised_due), _iso(fields["promised_due"])],
                "statutory_due": [_iso(row.statutory_due), _iso(fields["statutory_due"])]}
        if (fields["promised_due"], fields["statutory_due"], fields["warning_level"]) != (
                row.promised_due, row.statutory_due, row.warning_level):
            updates.append({"cid": row.case_id, "ver": row.version, **fields})
    result.cases_checked = len(rows)
    if updates:
        # Not a user's change: the version stays (an officer's open screen is not made stale); updated_at moves
        # so that the marts' refresh picks the case up.
        conn.execute(s.cases.update()
                     .where(c.case_id == sa.bindparam("cid"), c.version == sa.bindparam("ver"))
                     .values(promised_due=sa.bindparam("promised_due"),
                             statutory_due=sa.bindparam("statutory_due"),
                             warning_level=sa.bindparam("warning_level"), updated_at=timeutil.now()),
                     updates)

    # Other deadlines counted in working days from a start: the same number of working days on the new calendar.
    others = [
        ("parallel_tasks", s.parallel_tasks, s.parallel_tasks.c.task_id, s.parallel_tasks.c.opened_at,
         s.parallel_tasks.c.state == "open"),
        ("fee_notices", s.fee_notices, s.fee_notices.c.notice_no, s.fee_notices.c.issued_at,
         s.fee_notices.c.state == "unpaid"),
        ("complaints", s.complaints, s.complaints.c.complaint_id, s.complaints.c.created_at,
         s.complaints.c.answered_at.is_(None)),
        ("review_followups", s.review_followups, s.review_followups.c.case_id, s.review_followups.c.opened_at,
         s.review_followups.c.state == "open"),
    ]
    for name, table, key, started, open_cond in others:
        changes = []
        for r in conn.execute(sa.select(key.label("k"), table.c.case_id, started.label("started"),
                                        table.c.due_on).where(open_cond)):
            start = r.started.date() if isinstance(r.started, datetime) else r.started
            n = old.working_days_between(start, r.due_on)
            due = new.add_working_days(start, n) if n > 0 else r.due_on
            if due != r.due_on:
                changes.append({"k": r.k, "due": due})
                entry = moved.setdefault(r.case_id, {"case_id": r.case_id}) if r.case_id is not None else {}
                entry.setdefault(name, []).append({"id": r.k, "due_on": [_iso(r.due_on), _iso(due)]})
        if changes:
            conn.execute(table.update().where(key == sa.bindparam("k")).values(due_on=sa.bindparam("due")), changes)
        result.deadlines_moved += len(changes)

    result.cases_moved = sum(1 for m in moved.values() if "promised_due" in m)
    result.moved = sorted(moved.values(), key=lambda m: m["case_id"])
    if any("case_no" not in m for m in result.moved):
        numbers = dict(conn.execute(sa.select(c.case_id, c.case_no).where(
            c.case_id.in_([m["case_id"] for m in result.moved if "case_no" not in m]))).fetchall())
        for m in result.moved:
            m.setdefault("case_no", numbers.get(m["case_id"]))


def _iso(d: date | None) -> str | None:
    return None if d is None else d.isoformat()
