"""The legal clock: working days, time limits and warning levels (domain.md §5).

Two layers:

* ``WorkCalendar`` answers "is this a working day?" from the State Council's yearly holiday
  notices, and — for a year whose notice is not loaded yet — from the statutory holidays of the
  national regulation (全国年节及纪念日放假办法), marked *provisional*.
* ``due_date`` / ``days_used`` / ``clock_status`` run a case's clock on top of a calendar:
  counting starts the day after acceptance (民法典 art. 201), stops (补正, 特别程序) are skipped,
  a calendar-day limit ending on a rest day moves to the next working day (民法典 art. 203).

All functions work at day granularity; a ``datetime`` passed in is reduced to its date.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Iterable, Sequence

from lunardate import LunarDate

__all__ = [
    "WorkCalendar",
    "Stop",
    "ClockStatus",
    "due_date",
    "days_used",
    "clock_status",
    "qingming",
    "YELLOW_REMAINING_DAYS",
    "YELLOW_USED_RATIO",
    "RANGE_FIRST_YEAR",
    "RANGE_LAST_YEAR",
    "WORKING",
    "CALENDAR",
]

# Default warning thresholds (domain.md §5: a default, not law — callers pass their own).
YELLOW_REMAINING_DAYS = 2
YELLOW_USED_RATIO = 0.8

# Span of the precomputed tables; wider if the loaded data reaches beyond it.
RANGE_FIRST_YEAR = 2013
RANGE_LAST_YEAR = 2040

WORKING = "working"    # 工作日
CALENDAR = "calendar"  # 自然日
_UNITS = (WORKING, CALENDAR)


def _as_date(d: date) -> date:
    # datetime is a subclass of date but never compares equal to one, so dict look-ups would miss.
    return d.date() if isinstance(d, datetime) else d


def qingming(year: int) -> date:
    """Date of the Qingming solar term (sun at 15° longitude), Beijing time.

    The 寿星 formula [Y·D + C] − L; C = 4.81 in the 21st century, 5.59 in the 20th. Checked against
    an ephemeris for 2013–2040 and against every official notice 2013–2026.
    """
    if not 1900 <= year <= 2099:
        raise ValueError(f"no Qingming rule for year {year}")
    y = year % 100
    c = 5.59 if year < 2000 else 4.81
    return date(year, 4, int(y * 0.2422 + c) - y // 4)


def _lunar(year: int, month: int, day: int) -> date:
    return LunarDate(year, month, day).to_solar_date()


def _statutory_holidays(year: int) -> dict[date, str]:
    """Holidays fixed by the national regulation in force in ``year``, without make-up days.

    The regulation changed three times within the range an imported old system may reach back to,
    and the official notices follow the version in force — so must the stand-in:
    1999 (劳动节 3 days, no 清明/端午/中秋), 2007 (春节 = 除夕+初一+初二, 劳动节 1, + 清明 端午 中秋),
    2013 (春节 = 初一..初三), 2024 (春节 = 除夕+初一..初三, 劳动节 2).
    """
    if not 1900 <= year <= 2099:  # lunardate's range
        raise ValueError(f"no holiday rule for year {year}")
    out: dict[date, str] = {}

    def put(d: date, name: str) -> None:
        # 中秋 can fall inside 国庆 (2028-10-03, 2031-10-01): one day, both names; without a notice
        # nobody has decided to add a day for it.
        out[d] = f"{out[d]}、{name}" if d in out and name not in out[d] else name

    new_year = _lunar(year, 1, 1)  # 正月初一
    eve = new_year - timedelta(days=1)  # 除夕: the 29th or 30th of the 12th month, whichever is last
    put(date(year, 1, 1), "元旦")
    if year >= 2025:
        spring = [eve] + [new_year + timedelta(days=i) for i in range(3)]
        labour = [date(year, 5, 1), date(year, 5, 2)]
    elif year >= 2014:
        spring = [new_year + timedelta(days=i) for i in range(3)]
        labour = [date(year, 5, 1)]
    elif year >= 2008:
        spring = [eve, new_year, new_year + timedelta(days=1)]
        labour = [date(year, 5, 1)]
    else:
        spring = [new_year + timedelta(days=i) for i in range(3)]
        labour = [date(year, 5, i) for i in (1, 2, 3)]
    for d in spring:
        put(d, "春节")
    if year >= 2008:
        put(qingming(year), "清明节")
    for d in labour:
        put(d, "劳动节")
    if year >= 2008:
        put(_lunar(year, 5, 5), "端午节")
        put(_lunar(year, 8, 15), "中秋节")
    for i in (1, 2, 3):
        put(date(year, 10, i), "国庆节")
    return dict(sorted(out.items()))


class WorkCalendar:
    """Working days per the official notices, with provisional years filled in by the regulation.

    ``days`` maps a date to ``is_off_day`` exactly as the notices list it (True: holiday,
    False: make-up working day). A listed date always wins; an unlisted date in an official year
    follows the week (Mon–Fri work); an unlisted date in any other year is off when it is a
    statutory holiday of the regulation or a weekend.
    """

    def __init__(
        self,
        days: dict[date, bool],
        official_years: set[int],
        names: dict[date, str] | None = None,
    ):
        self._days = {_as_date(k): bool(v) for k, v in days.items()}
        self.official_years = frozenset(int(y) for y in official_years)
        self.names = dict(names or {})
        self._prov_cache: dict[int, dict[date, str]] = {}

        years = set(self.official_years) | {d.year for d in self._days}
        first = min([RANGE_FIRST_YEAR, *years])
        last = max([RANGE_LAST_YEAR, *years])
        self._base = date(first, 1, 1).toordinal()
        self._end = date(last, 12, 31).toordinal()  # inclusive
        n = self._end - self._base + 1

        work = bytearray(n)
        o = self._base
        for i in range(n):
            work[i] = 1 if self._is_working_slow(date.fromordinal(o + i)) else 0
        self._work = bytes(work)
        # _pre[i] = working days among the first i days of the range, so (a, b] is _pre[b+1] - _pre[a+1]
        pre = [0] * (n + 1)
        acc = 0
        for i in range(n):
            acc += work[i]
            pre[i + 1] = acc
        self._pre = pre
        # ordinals of the working days, ascending: the k-th working day of the range is _wd[k-1]
        self._wd = [o + i for i in range(n) if work[i]]

    # ---- construction -------------------------------------------------------------------------

    @classmethod
    def from_json_dir(cls, path) -> "WorkCalendar":
        """Load every ``YYYY.json`` notice file (holiday-cn format) in ``path``.

        A notice may list days of the neighbouring year (the 2019 notice carries 2018-12-29..31),
        so dates are merged across files; two files disagreeing on a date is a data error.
        """
        days: dict[date, bool] = {}
        names: dict[date, str] = {}
        years: set[int] = set()
        files = sorted(Path(path).glob("[0-9][0-9][0-9][0-9].json"))
        if not files:
            raise FileNotFoundError(f"no YYYY.json holiday files in {path}")
        for f in files:
            doc = json.loads(f.read_text(encoding="utf-8"))
            year = int(doc["year"])
            if str(year) != f.stem:
                raise ValueError(f"{f.name}: declares year {year}")
            years.add(year)
            for row in doc["days"]:
                d = date.fromisoformat(row["date"])
                off = row["isOffDay"]
                if not isinstance(off, bool):
                    raise ValueError(f"{f.name}: isOffDay of {d} is not a boolean")
                if d in days and days[d] != off:
                    raise ValueError(f"{f.name}: {d} contradicts another notice")
                days[d] = off
                names.setdefault(d, row.get("name", ""))
        return cls(days, years, names)

    @classmethod
    def from_rows(
        cls, rows: Iterable[tuple[date, bool]], official_years: Iterable[int]
    ) -> "WorkCalendar":
        """Build from ``(date, is_off_day)`` rows, e.g. the work-calendar table."""
        days: dict[date, bool] = {}
        for d, off in rows:
            d = _as_date(d)
            if d in days and days[d] != bool(off):
                raise ValueError(f"{d} listed twice with different values")
            days[d] = bool(off)
        return cls(days, set(official_years))

    def to_rows(self) -> list[tuple[date, bool]]:
        """The listed days, for storing; provisional days are derived, never stored."""
        return sorted(self._days.items())

    # ---- single days --------------------------------------------------------------------------

    def is_provisional(self, year: int) -> bool:
        """True when no official notice is loaded for ``year``."""
        return year not in self.official_years

    def provisional_days(self, year: int) -> dict[date, str]:
        """Statutory holidays of ``year`` per the national regulation (lunar dates computed).

        No make-up days and no compensation for a holiday on a weekend: only a notice can decide those.
        """
        got = self._prov_cache.get(year)
        if got is None:
            got = self._prov_cache[year] = _statutory_holidays(year)
        return dict(got)

    def _is_working_slow(self, d: date) -> bool:
        off = self._days.get(d)
        if off is not None:
            return not off
        if d.weekday() >= 5:
            return False
        if d.year in self.official_years:
            return True
        got = self._prov_cache.get(d.year)
        if got is None:
            got = self._prov_cache[d.year] = _statutory_holidays(d.year)
        return d not in got

    def is_working_day(self, d: date) -> bool:
        d = _as_date(d)
        i = d.toordinal() - self._base
        if 0 <= i < len(self._work):
            return self._work[i] == 1
        return self._is_working_slow(d)

    def holiday_name(self, d: date) -> str | None:
        """Name of the holiday or make-up day on ``d`` (provisional names for provisional years)."""
        d = _as_date(d)
        if d in self._days:
            return self.names.get(d) or None
        if self.is_provisional(d.year):
            return self.provisional_days(d.year).get(d)
        return None

    def next_working_day(self, d: date) -> date:
        """``d`` itself if it is a working day, else the first working day after it."""
        d = _as_date(d)
        o = d.toordinal()
        i = o - self._base
        if 0 <= i < len(self._work):
            if self._work[i]:
                return d
            k = self._pre[i + 1]  # working days up to and including d
            if k < len(self._wd):
                return date.fromordinal(self._wd[k])
        while not self._is_working_slow(d):
            d += timedelta(days=1)
        return d

    # ---- counting -----------------------------------------------------------------------------

    def add_working_days(self, d: date, n: int) -> date:
        """The n-th working day after ``d`` (``d`` itself never counts); n = 0 gives ``d``.

        Negative n counts backwards: the |n|-th working day before ``d``.
        """
        d = _as_date(d)
        if n == 0:
            return d
        i = d.toordinal() - self._base
        if 0 <= i < len(self._work):
            k = self._pre[i + 1] + n - 1 if n > 0 else self._pre[i] + n
            if 0 <= k < len(self._wd):
                return date.fromordinal(self._wd[k])
        step = timedelta(days=1 if n > 0 else -1)
        left = abs(n)
        while left:
            d += step
            if self.is_working_day(d):
                left -= 1
        return d

    def working_days_between(self, a: date, b: date) -> int:
        """Working days in (a, b]; negative (minus those in (b, a]) when b < a."""
        a, b = _as_date(a), _as_date(b)
        if b < a:
            return -self._between(b, a)
        return self._between(a, b)

    def _between(self, a: date, b: date) -> int:
        """Working days in (a, b] for plain dates with a <= b."""
        ia, ib = a.toordinal() - self._base, b.toordinal() - self._base
        n = len(self._work)
        if 0 <= ia and ib < n:
            return self._pre[ib + 1] - self._pre[ia + 1]
        # Partly or wholly outside the table: count the inside part fast, the rest day by day.
        total = 0
        lo, hi = max(ia, -1), min(ib, n - 1)
        if lo < hi:
            total += self._pre[hi + 1] - self._pre[lo + 1]
        one = timedelta(days=1)
        if ia < -1:  # days in (a, base - 1]
            d, stop = a + one, date.fromordinal(self._base - 1)
            while d <= min(stop, b):
                total += self._is_working_slow(d)
                d += one
        if ib > n - 1:  # days in (end, b], not already counted
            d = max(date.fromordinal(self._end + 1), a + one)
            while d <= b:
                total += self._is_working_slow(d)
                d += one
        return total

    def provisional_between(self, a: date, b: date) -> bool:
        """Whether any year from a's to b's (inclusive) is provisional."""
        lo, hi = a.year, b.year
        if lo > hi:
            lo, hi = hi, lo
        off = self.official_years
        if hi - lo <= 1:
            return lo not in off or hi not in off
        return any(y not in off for y in range(lo, hi + 1))


# ---- the case clock ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Stop:
    """The clock stopped on ``start`` and restarted on ``end`` (None: still stopped).

    Days in (start, end] are not counted: the stop day itself still counts, the restart day does not.
    """

    start: date
    end: date | None = None


@dataclass(frozen=True)
class ClockStatus:
    used: int          # days counted so far (working or calendar per unit)
    limit: int         # limit + extension
    remaining: int     # limit - used (negative when overdue)
    due: date | None   # the day the limit runs out; None while a stop holds the clock before it
    stopped: bool
    level: str         # "green" | "yellow" | "red"
    provisional: bool  # the due date depends on a year whose calendar is provisional


def _check_unit(unit: str) -> None:
    if unit not in _UNITS:
        raise ValueError(f"unit must be 'working' or 'calendar', not {unit!r}")


_Span = tuple  # (stopped_on: date, restarted_on: date | None)


def _stop_spans(stops: Sequence[Stop]) -> list[_Span]:
    out = []
    for s in stops:
        s0, s1 = _as_date(s.start), (None if s.end is None else _as_date(s.end))
        if s1 is not None and s1 < s0:
            raise ValueError(f"stop ends ({s1}) before it starts ({s0})")
        out.append((s0, s1))
    return out


def _normalise(start: date, spans: list[_Span]) -> list[_Span]:
    """Spans clipped to after ``start``, sorted, overlapping or touching ones merged."""
    items = []
    for s0, s1 in spans:
        if s1 is not None and s1 <= start:
            continue  # wholly before counting begins
        if s0 < start:
            s0 = start
        if s1 is not None and s1 == s0:
            continue  # stopped and restarted the same day: nothing skipped
        items.append((s0, s1))
    if len(items) < 2:
        return items
    items.sort(key=lambda t: t[0])
    out: list[_Span] = []
    for s0, s1 in items:
        if out:
            p0, p1 = out[-1]
            if p1 is None:
                break  # an open stop swallows everything after it
            if s0 <= p1:
                out[-1] = (p0, None if s1 is None else max(p1, s1))
                continue
        out.append((s0, s1))
    return out


def _due(cal: WorkCalendar, start: date, total: int, working: bool, norm: list[_Span]) -> date | None:
    if total == 0:
        return start  # on-the-spot item (即办件)
    left = total
    cursor = start
    for s0, s1 in norm:
        avail = cal._between(cursor, s0) if working else (s0 - cursor).days
        if left <= avail:
            break
        left -= avail
        if s1 is None:
            return None
        cursor = s1
    if working:
        return cal.add_working_days(cursor, left)
    last = cursor + timedelta(days=left)
    # 民法典 art. 203: a period ending on a rest day ends on the next working day — and a day on
    # which the clock is stopped cannot be that day either.
    d = cal.next_working_day(last)
    for s0, s1 in norm:
        if d <= s0:
            break
        if s1 is None:
            return None
        if d <= s1:
            d = cal.next_working_day(s1 + timedelta(days=1))
    return d


def _used(cal: WorkCalendar, start: date, today: date, working: bool, norm: list[_Span]) -> int:
    if today <= start:
        return 0
    used = cal._between(start, today) if working else (today - start).days
    for s0, s1 in norm:
        if s0 >= today:
            break
        hi = today if s1 is None or s1 > today else s1
        used -= cal._between(s0, hi) if working else (hi - s0).days
    return used


def due_date(
    cal: WorkCalendar,
    start: date,
    limit: int,
    unit: str = WORKING,
    stops: Sequence[Stop] = (),
    extension: int = 0,
) -> date | None:
    """The day on which ``limit + extension`` days of ``unit`` run out, counted after ``start``.

    Returns None when an open stop holds the clock before the limit is reached; a stop opened after
    the limit had already run out does not hide the due date.
    """
    _check_unit(unit)
    start = _as_date(start)
    total = limit + extension
    if total < 0:
        raise ValueError("limit + extension must not be negative")
    norm = _normalise(start, _stop_spans(stops)) if stops else []
    return _due(cal, start, total, unit == WORKING, norm)


def days_used(
    cal: WorkCalendar,
    start: date,
    today: date,
    unit: str = WORKING,
    stops: Sequence[Stop] = (),
) -> int:
    """Days of ``unit`` counted in (start, today], stopped days excluded."""
    _check_unit(unit)
    start, today = _as_date(start), _as_date(today)
    norm = _normalise(start, _stop_spans(stops)) if stops else []
    return _used(cal, start, today, unit == WORKING, norm)


def clock_status(
    cal: WorkCalendar,
    start: date,
    limit: int,
    today: date,
    unit: str = WORKING,
    stops: Sequence[Stop] = (),
    extension: int = 0,
    yellow_days: int = YELLOW_REMAINING_DAYS,
    yellow_ratio: float = YELLOW_USED_RATIO,
) -> ClockStatus:
    """The clock as it stood at the end of ``today``.

    Stops are read as of ``today`` (a stop begun later is ignored, a restart later than today is
    treated as not yet happened), so replaying a case's history gives the status each day showed.
    Red when today is past the due date; yellow when ``yellow_days`` or fewer remain or
    ``yellow_ratio`` of the limit is used; green otherwise. While stopped, used/remaining/level freeze.
    """
    _check_unit(unit)
    start, today = _as_date(start), _as_date(today)
    total = limit + extension
    if total < 0:
        raise ValueError("limit + extension must not be negative")
    stopped = False
    norm: list[_Span] = []
    if stops:
        seen = []
        for s0, s1 in _stop_spans(stops):
            if s0 > today:
                continue  # not begun yet
            if s1 is None or s1 > today:
                s1 = None  # not restarted yet
                stopped = True
            seen.append((s0, s1))
        norm = _normalise(start, seen)
    working = unit == WORKING
    used = _used(cal, start, today, working, norm)
    due = _due(cal, start, total, working, norm)
    remaining = total - used
    if due is not None and today > due:
        level = "red"
    elif remaining <= yellow_days or used >= yellow_ratio * total - 1e-9:
        level = "yellow"
    else:
        level = "green"
    # frozen: the due date will be no earlier than today, so it rests on today's year at least
    provisional = cal.provisional_between(start, due if due is not None else today)
    return ClockStatus(
        used=used,
        limit=total,
        remaining=remaining,
        due=due,
        stopped=stopped,
        level=level,
        provisional=provisional,
    )
