"""The legal clock against hand-worked dates.

Every expected date below was counted by hand from the State Council notices (the JSON files in
data/reference/holidays) and a wall calendar; the comment next to it is the count. "wd" = working day.
"""
from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from app.clock import (
    YELLOW_REMAINING_DAYS,
    YELLOW_USED_RATIO,
    ClockStatus,
    Stop,
    WorkCalendar,
    clock_status,
    days_used,
    due_date,
    qingming,
)

HOLIDAYS = Path(__file__).resolve().parents[1] / "data" / "reference" / "holidays"
D = date


@pytest.fixture(scope="module")
def cal() -> WorkCalendar:
    return WorkCalendar.from_json_dir(HOLIDAYS)


def _official_days() -> dict[date, bool]:
    """The notices read straight from the files, independent of the loader."""
    out: dict[date, bool] = {}
    for f in HOLIDAYS.glob("*.json"):
        for row in json.loads(f.read_text(encoding="utf-8"))["days"]:
            out[date.fromisoformat(row["date"])] = row["isOffDay"]
    return out


# ---- single days straight from the notices --------------------------------------------------


@pytest.mark.parametrize(
    "d, working",
    [
        (D(2026, 2, 14), True),   # Saturday, 调休 for 春节 2026
        (D(2026, 2, 28), True),   # Saturday, second 春节 2026 make-up day
        (D(2026, 2, 23), False),  # Monday, last day of the nine-day 春节 break
        (D(2026, 1, 4), True),    # Sunday, 元旦 2026 make-up day
        (D(2025, 9, 28), True),   # Sunday before 国庆 2025
        (D(2025, 10, 8), False),  # Wednesday, last day of 国庆/中秋 2025
        (D(2025, 10, 11), True),  # Saturday after 国庆 2025
        (D(2025, 10, 12), False), # an ordinary Sunday
        (D(2025, 10, 13), True),  # an ordinary Monday
        (D(2024, 2, 9), True),    # 除夕 2024 was not a holiday before the 2024 regulation took effect
        (D(2018, 12, 29), True),  # Saturday make-up day, listed only in the *2019* notice
        (D(2018, 12, 31), False), # Monday, 元旦 2019 break, also only in the 2019 notice
        (D(2020, 2, 1), False),   # Saturday: planned make-up day, cancelled by the 2020-01-27 COVID extension
        (D(2020, 1, 31), False),  # Friday, added to 春节 2020 by the same extension
        (D(2015, 9, 3), False),   # one-off holiday: 70th anniversary of the victory in the war of resistance
        (D(2015, 9, 6), True),    # Sunday, its make-up day
    ],
)
def test_notice_days(cal, d, working):
    assert cal.is_working_day(d) is working


def test_next_working_day(cal):
    # 2025-10-01..08 are holidays; Oct 9 (Thursday) is the first working day after
    assert cal.next_working_day(D(2025, 10, 1)) == D(2025, 10, 9)
    # a make-up Saturday is itself a working day
    assert cal.next_working_day(D(2025, 10, 11)) == D(2025, 10, 11)
    # ordinary weekend → Monday
    assert cal.next_working_day(D(2025, 10, 18)) == D(2025, 10, 20)


def test_add_working_days_zero_is_the_day_itself_even_on_a_holiday(cal):
    assert cal.add_working_days(D(2025, 10, 1), 0) == D(2025, 10, 1)


def test_add_working_days_start_day_not_counted(cal):
    # Monday 2026-03-02: the first working day *after* it is Tuesday, not Monday itself
    assert cal.add_working_days(D(2026, 3, 2), 1) == D(2026, 3, 3)


def test_add_working_days_backwards(cal):
    # before Thursday 2025-10-09: Oct 1–8 holidays, so Tuesday Sep 30, then Monday Sep 29,
    # then Sunday Sep 28 (make-up day)
    assert cal.add_working_days(D(2025, 10, 9), -1) == D(2025, 9, 30)
    assert cal.add_working_days(D(2025, 10, 9), -3) == D(2025, 9, 28)


def test_working_days_between(cal):
    # (Sep 30, Oct 9]: Oct 1–8 off, Oct 9 on → 1
    assert cal.working_days_between(D(2025, 9, 30), D(2025, 10, 9)) == 1
    assert cal.working_days_between(D(2025, 10, 9), D(2025, 9, 30)) == -1
    assert cal.working_days_between(D(2025, 10, 9), D(2025, 10, 9)) == 0
    # (Sep 26, Oct 12]: Sep 28 (Sun, make-up), 29, 30, Oct 9, 10, 11 (Sat, make-up) → 6
    assert cal.working_days_between(D(2025, 9, 26), D(2025, 10, 12)) == 6


def test_notice_listing_the_previous_year_is_honoured(cal):
    # Friday 2018-12-28 + 1 wd = Saturday Dec 29 (make-up, from the 2019 notice);
    # + 2 wd: Dec 30, Dec 31, Jan 1 all off → Wednesday 2019-01-02
    assert cal.add_working_days(D(2018, 12, 28), 1) == D(2018, 12, 29)
    assert cal.add_working_days(D(2018, 12, 28), 2) == D(2019, 1, 2)


# ---- due dates: working days ----------------------------------------------------------------


def test_spring_festival_2026_with_make_up_saturday(cal):
    # accepted Thu 2026-02-12, 5 wd: Fri 13 (1), Sat 14 make-up (2), 15–23 春节 off,
    # Tue 24 (3), Wed 25 (4), Thu 26 (5)
    assert due_date(cal, D(2026, 2, 12), 5) == D(2026, 2, 26)


def test_spring_festival_2025(cal):
    # accepted Fri 2025-01-24, 5 wd: Sat 25 off, Sun 26 make-up (1), Mon 27 (2),
    # Jan 28–Feb 4 off (除夕 is a holiday from 2025), Wed Feb 5 (3), Thu 6 (4), Fri 7 (5)
    assert due_date(cal, D(2025, 1, 24), 5) == D(2025, 2, 7)


def test_spring_festival_2024_eve_was_a_working_day(cal):
    # accepted Thu 2024-02-08, 3 wd: Fri 9 (除夕, still working in 2024) (1), Feb 10–17 off,
    # Sun 18 make-up (2), Mon 19 (3)
    assert due_date(cal, D(2024, 2, 8), 3) == D(2024, 2, 19)


def test_covid_extension_2020(cal):
    # accepted Thu 2020-01-23, 1 wd: Jan 24–Feb 2 off (extended; Sat Feb 1 no longer a make-up day),
    # Mon Feb 3 (1)
    assert due_date(cal, D(2020, 1, 23), 1) == D(2020, 2, 3)


def test_national_day_2025_make_up_days(cal):
    # accepted Fri 2025-09-26: Sat 27 off, Sun 28 make-up (1), Mon 29 (2), Tue 30 (3),
    # Oct 1–8 off, Thu 9 (4), Fri 10 (5), Sat 11 make-up (6)
    assert due_date(cal, D(2025, 9, 26), 5) == D(2025, 10, 10)
    assert due_date(cal, D(2025, 9, 26), 6) == D(2025, 10, 11)


def test_year_boundary_2025_2026(cal):
    # accepted Thu 2025-12-25, 10 wd: Fri 26 (1), Mon 29 (2), Tue 30 (3), Wed 31 (4),
    # Jan 1–3 off, Sun Jan 4 make-up (5), Mon 5 (6), Tue 6 (7), Wed 7 (8), Thu 8 (9), Fri 9 (10)
    assert due_date(cal, D(2025, 12, 25), 10) == D(2026, 1, 9)


def test_on_the_spot_item_is_due_the_same_day(cal):
    assert due_date(cal, D(2026, 3, 2), 0) == D(2026, 3, 2)
    assert due_date(cal, D(2026, 3, 2), 0, unit="calendar") == D(2026, 3, 2)


def test_extension_of_ten_working_days(cal):
    # accepted Mon 2026-03-02. 20 wd: Mar 3–6 (4), 9–13 (9), 16–20 (14), 23–27 (19), Mon 30 (20).
    # +10 (art. 42): Mar 31 (21), Apr 1–3 (24), Apr 4–6 清明 off, Apr 7–10 (28), Mon 13 (29), Tue 14 (30)
    assert due_date(cal, D(2026, 3, 2), 20) == D(2026, 3, 30)
    assert due_date(cal, D(2026, 3, 2), 20, extension=10) == D(2026, 4, 14)


def test_stop_spanning_national_day(cal):
    # accepted Mon 2025-09-15, 20 wd. Counted before the stop: Sep 16–19 (4), 22–25 (8).
    # Supplement notice Thu Sep 25, material back Mon Oct 13: (Sep 25, Oct 13] not counted —
    # it swallows Sep 26, 28, 29, 30, Oct 9, 10, 11, 13. Restart: Oct 14–17 (12), 20–24 (17),
    # Mon 27 (18), Tue 28 (19), Wed 29 (20)
    stop = Stop(D(2025, 9, 25), D(2025, 10, 13))
    assert due_date(cal, D(2025, 9, 15), 20, stops=[stop]) == D(2025, 10, 29)
    # without the stop: ... Sep 25 (8), 26 (9), 28 (10), 29 (11), 30 (12), Oct 9 (13), 10 (14),
    # 11 (15), 13 (16), 14–17 (20)
    assert due_date(cal, D(2025, 9, 15), 20) == D(2025, 10, 17)


def test_stops_overlapping_or_given_out_of_order_are_merged(cal):
    # the same skipped span as above, given as two overlapping pieces in reverse order
    stops = [Stop(D(2025, 10, 1), D(2025, 10, 13)), Stop(D(2025, 9, 25), D(2025, 10, 9))]
    assert due_date(cal, D(2025, 9, 15), 20, stops=stops) == D(2025, 10, 29)


def test_open_stop_freezes_the_due_date(cal):
    assert due_date(cal, D(2025, 9, 15), 20, stops=[Stop(D(2025, 9, 25))]) is None


def test_stop_opened_after_the_limit_ran_out_keeps_the_due_date(cal):
    # 5 wd from Mon 2026-03-02: Mar 3, 4, 5, 6, Mon 9 → due Mar 9; suspended only on Mar 11
    assert due_date(cal, D(2026, 3, 2), 5, stops=[Stop(D(2026, 3, 11))]) == D(2026, 3, 9)


def test_days_used(cal):
    stop = Stop(D(2025, 9, 25), D(2025, 10, 13))
    # Sep 16–19, 22–25 → 8; the stop day itself counts, nothing after it while stopped
    assert days_used(cal, D(2025, 9, 15), D(2025, 10, 1), stops=[stop]) == 8
    assert days_used(cal, D(2025, 9, 15), D(2025, 10, 13), stops=[stop]) == 8
    # + Oct 14, 15, 16, 17, 20 → 13
    assert days_used(cal, D(2025, 9, 15), D(2025, 10, 20), stops=[stop]) == 13
    assert days_used(cal, D(2025, 9, 15), D(2025, 9, 15)) == 0


# ---- due dates: calendar days (自然日) --------------------------------------------------------


def test_calendar_limit_ending_on_holiday_moves_to_next_working_day(cal):
    # accepted Wed 2025-09-24, 7 calendar days: Sep 25..Oct 1 → Oct 1 is 国庆;
    # Oct 1–8 off → Thu Oct 9 (民法典 art. 203)
    assert due_date(cal, D(2025, 9, 24), 7, unit="calendar") == D(2025, 10, 9)


def test_calendar_limit_ending_on_make_up_saturday_stays(cal):
    # 2025-10-01 + 10 calendar days = Sat Oct 11, a make-up working day → stays
    assert due_date(cal, D(2025, 10, 1), 10, unit="calendar") == D(2025, 10, 11)


def test_calendar_limit_ending_on_weekend(cal):
    # Mon 2026-03-02 + 5 calendar days = Sat Mar 7 → Mon Mar 9
    assert due_date(cal, D(2026, 3, 2), 5, unit="calendar") == D(2026, 3, 9)


def test_calendar_limit_with_stop(cal):
    # accepted Mon 2025-03-03, 10 calendar days; stop (Mar 5, Mar 8] skips Mar 6, 7, 8.
    # Counted: Mar 4 (1), 5 (2), 9 (3) … 16 (10) = Sunday → Mon Mar 17
    stop = Stop(D(2025, 3, 5), D(2025, 3, 8))
    assert due_date(cal, D(2025, 3, 3), 10, unit="calendar", stops=[stop]) == D(2025, 3, 17)
    # used by Wed Mar 12: Mar 4, 5, 9, 10, 11, 12 → 6
    assert days_used(cal, D(2025, 3, 3), D(2025, 3, 12), unit="calendar", stops=[stop]) == 6


def test_calendar_roll_forward_skips_stopped_days(cal):
    # Mon 2026-03-02 + 5 calendar days = Sat Mar 7 (the stop day itself still counts).
    # Roll forward would give Mon Mar 9, but (Mar 7, Tue Mar 10] is stopped → Wed Mar 11
    stop = Stop(D(2026, 3, 7), D(2026, 3, 10))
    assert due_date(cal, D(2026, 3, 2), 5, unit="calendar", stops=[stop]) == D(2026, 3, 11)


def test_calendar_extension(cal):
    # Mon 2026-03-02 + (20 + 10) calendar days = Wed Apr 1, a working day
    assert due_date(cal, D(2026, 3, 2), 20, unit="calendar", extension=10) == D(2026, 4, 1)


# ---- provisional years ----------------------------------------------------------------------


def test_provisional_years(cal):
    assert cal.is_provisional(2027) is True
    assert cal.is_provisional(2026) is False
    assert cal.is_provisional(2013) is False
    assert cal.is_provisional(2012) is True


def test_provisional_days_2027(cal):
    # 正月初一 2027 = Sat Feb 6, so 除夕 = Feb 5; 端午 (五月初五) = Jun 9; 中秋 (八月十五) = Sep 15;
    # 清明 = Apr 5
    spring = {D(2027, 2, 5), D(2027, 2, 6), D(2027, 2, 7), D(2027, 2, 8)}
    expected = {D(2027, 1, 1): "元旦"}
    expected |= {d: "春节" for d in spring}
    expected |= {
        D(2027, 4, 5): "清明节",
        D(2027, 5, 1): "劳动节",
        D(2027, 5, 2): "劳动节",
        D(2027, 6, 9): "端午节",
        D(2027, 9, 15): "中秋节",
        D(2027, 10, 1): "国庆节",
        D(2027, 10, 2): "国庆节",
        D(2027, 10, 3): "国庆节",
    }
    assert cal.provisional_days(2027) == expected


def test_provisional_working_days_2027(cal):
    assert cal.is_working_day(D(2027, 2, 5)) is False   # 除夕, Friday
    assert cal.is_working_day(D(2027, 2, 8)) is False   # 初三, Monday
    assert cal.is_working_day(D(2027, 2, 9)) is True    # 初四, Tuesday
    assert cal.is_working_day(D(2027, 4, 5)) is False   # 清明, Monday
    assert cal.is_working_day(D(2027, 2, 20)) is False  # no make-up Saturdays without a notice


@pytest.mark.parametrize(
    "year, day",
    # Qingming 2027–2035 from the ephemeris: Apr 5, 4, 4, 5, 5, 4, 4, 5, 5
    [(2027, 5), (2028, 4), (2029, 4), (2030, 5), (2031, 5), (2032, 4), (2033, 4), (2034, 5), (2035, 5)],
)
def test_qingming(year, day):
    assert qingming(year) == D(year, 4, day)


def test_provisional_rule_agrees_with_every_notice(cal):
    """For each year with a notice, the regulation's own holidays must all be days off in it.

    This checks the lunar arithmetic, Qingming and the regulation in force each year (e.g. 除夕 is
    not a holiday 2014–2024 and 2018-05-02 was a working day) against 14 independent notices.
    """
    official = _official_days()
    for year in range(2013, 2027):
        for d, name in cal.provisional_days(year).items():
            assert official.get(d) is True, f"{d} ({name}) is not a holiday in the {year} notice"


def test_provisional_days_follow_the_regulation_in_force(cal):
    # 2013 regulation (2014–2024): 春节 = 初一..初三 only. 正月初一 2024 = Feb 10
    spring_2024 = {d for d, n in cal.provisional_days(2024).items() if n == "春节"}
    assert spring_2024 == {D(2024, 2, 10), D(2024, 2, 11), D(2024, 2, 12)}
    labour_2024 = {d for d, n in cal.provisional_days(2024).items() if n == "劳动节"}
    assert labour_2024 == {D(2024, 5, 1)}


def test_mid_autumn_on_national_day_is_one_day(cal):
    # 中秋 2028 = Oct 3, inside 国庆 Oct 1–3: without a notice the days simply coincide.
    # 2028: 元旦 1 + 春节 4 + 清明 1 + 劳动节 2 + 端午 1 + 国庆 3 (one shared with 中秋) = 12
    days = cal.provisional_days(2028)
    assert len(days) == 12
    assert "中秋节" in days[D(2028, 10, 3)] and "国庆节" in days[D(2028, 10, 3)]


def test_due_date_crossing_into_provisional_2027(cal):
    # accepted Thu 2026-12-24, 10 wd: Fri 25 (1), Mon 28 (2), 29 (3), 30 (4), Thu 31 (5),
    # Fri 2027-01-01 元旦 (provisional), weekend, Mon Jan 4 (6) … Fri Jan 8 (10)
    start = D(2026, 12, 24)
    assert due_date(cal, start, 10) == D(2027, 1, 8)
    st = clock_status(cal, start, 10, D(2026, 12, 28))
    assert st.due == D(2027, 1, 8)
    assert st.provisional is True
    # 3 wd: Dec 25, 28, 29 → stays inside the official 2026 calendar
    assert clock_status(cal, start, 3, D(2026, 12, 28)).provisional is False


def test_spring_festival_2027_provisional(cal):
    # accepted Wed 2027-02-03, 3 wd: Thu 4 (1), Feb 5–8 off (除夕..初三 incl. weekend),
    # Tue 9 (2), Wed 10 (3)
    assert due_date(cal, D(2027, 2, 3), 3) == D(2027, 2, 10)


def test_beyond_the_table(cal):
    # Fri 2040-12-28 + 3 wd: Sat/Sun off, Mon 31 (1), Tue 2041-01-01 元旦 (provisional),
    # Wed Jan 2 (2), Thu Jan 3 (3) — 2041 lies outside the precomputed range
    assert cal.add_working_days(D(2040, 12, 28), 3) == D(2041, 1, 3)
    # (Dec 28, Jan 7]: Dec 31, Jan 2, 3, 4, 7 → 5
    assert cal.working_days_between(D(2040, 12, 28), D(2041, 1, 7)) == 5
    # wholly outside: (Jan 1, Jan 7] 2041 → Jan 2, 3, 4, 7
    assert cal.working_days_between(D(2041, 1, 1), D(2041, 1, 7)) == 4


def test_before_the_table_uses_the_2007_regulation(cal):
    # 2012 has no notice loaded: 2007 regulation, 中秋 2012 = Sun Sep 30, 国庆 Oct 1–3.
    # Fri 2012-09-28 + 1 wd: Sat 29 (no make-up day provisionally), Sun 30, Mon–Wed Oct 1–3 off → Thu Oct 4
    assert cal.add_working_days(D(2012, 9, 28), 1) == D(2012, 10, 4)
    assert cal.working_days_between(D(2012, 9, 28), D(2013, 1, 4)) == cal.working_days_between(
        D(2012, 9, 28), D(2012, 12, 31)
    ) + 1  # 2013-01-01..03 are holidays in the 2013 notice, Jan 4 (Fri) works


# ---- warning levels -------------------------------------------------------------------------


def test_levels_over_a_20_day_limit(cal):
    start = D(2026, 3, 2)  # Monday; 20 wd → due Mon Mar 30 (see the extension test)
    # Mon Mar 23: used Mar 3–6, 9–13, 16–20, 23 = 15 of 20 (< 16 = 80 %), 5 left → green
    st = clock_status(cal, start, 20, D(2026, 3, 23))
    assert st == ClockStatus(used=15, limit=20, remaining=5, due=D(2026, 3, 30),
                             stopped=False, level="green", provisional=False)
    # Tue Mar 24: 16 used = 80 %, 4 left → yellow by the ratio alone
    st = clock_status(cal, start, 20, D(2026, 3, 24))
    assert (st.used, st.remaining, st.level) == (16, 4, "yellow")
    # Mon Mar 30, the due day: 20 used, 0 left → still yellow, not yet late
    st = clock_status(cal, start, 20, D(2026, 3, 30))
    assert (st.used, st.remaining, st.level) == (20, 0, "yellow")
    # Tue Mar 31: past due → red
    st = clock_status(cal, start, 20, D(2026, 3, 31))
    assert (st.used, st.remaining, st.level) == (21, -1, "red")


def test_yellow_by_remaining_days_alone(cal):
    start = D(2026, 3, 2)  # 5 wd: Mar 3, 4, 5, 6, Mon 9 → due Mar 9
    # Wed Mar 4: 2 used, 3 left, 40 % → green
    assert clock_status(cal, start, 5, D(2026, 3, 4)).level == "green"
    # Thu Mar 5: 3 used (60 % < 80 %), 2 left → yellow by the remaining days
    st = clock_status(cal, start, 5, D(2026, 3, 5))
    assert (st.used, st.remaining, st.level) == (3, 2, "yellow")


def test_thresholds_are_configurable(cal):
    assert (YELLOW_REMAINING_DAYS, YELLOW_USED_RATIO) == (2, 0.8)
    start = D(2026, 3, 2)
    # Thu Mar 5 on a 5-day limit: 2 left, 60 % used — green once yellow starts at 1 left
    assert clock_status(cal, start, 5, D(2026, 3, 5), yellow_days=1).level == "green"
    # Mon Mar 23 on a 20-day limit: 15 used = 75 % — yellow once the ratio is 70 %
    assert clock_status(cal, start, 20, D(2026, 3, 23), yellow_ratio=0.7).level == "yellow"


def test_extension_counts_in_the_limit(cal):
    # Mon Mar 30 on 20+10: 20 used of 30 (67 %), 10 left, due Apr 14 → green
    st = clock_status(cal, D(2026, 3, 2), 20, D(2026, 3, 30), extension=10)
    assert (st.limit, st.used, st.remaining, st.due, st.level) == (30, 20, 10, D(2026, 4, 14), "green")


def test_frozen_while_stopped(cal):
    start = D(2025, 9, 15)
    open_stop = [Stop(D(2025, 9, 25))]
    # Sep 16–19, 22–25 = 8 counted before the stop; nothing moves afterwards
    for today in (D(2025, 9, 26), D(2025, 10, 9), D(2025, 11, 30)):
        st = clock_status(cal, start, 20, today, stops=open_stop)
        assert st == ClockStatus(used=8, limit=20, remaining=12, due=None,
                                 stopped=True, level="green", provisional=False)


def test_status_reads_stops_as_of_today(cal):
    start = D(2025, 9, 15)
    stops = [Stop(D(2025, 9, 25), D(2025, 10, 13))]
    # on Oct 1 the material had not come back yet: still stopped, no due date
    st = clock_status(cal, start, 20, D(2025, 10, 1), stops=stops)
    assert (st.stopped, st.due, st.used) == (True, None, 8)
    # on Mon Oct 20: 8 + Oct 14–17, 20 = 13 used, 7 left, due Oct 29 (stop-spanning test) → green
    st = clock_status(cal, start, 20, D(2025, 10, 20), stops=stops)
    assert (st.stopped, st.due, st.used, st.remaining, st.level) == (False, D(2025, 10, 29), 13, 7, "green")
    # on Sep 24 the stop had not begun: plain count, due Oct 17 (see the stop-spanning test)
    st = clock_status(cal, start, 20, D(2025, 9, 24), stops=stops)
    assert (st.stopped, st.due, st.used) == (False, D(2025, 10, 17), 7)


def test_overdue_case_stays_red_when_suspended(cal):
    # 5 wd from Mon 2026-03-02 → due Mon Mar 9; suspended Wed Mar 11.
    # Used: Mar 3, 4, 5, 6, 9, 10, 11 = 7 (stop day counts), 5 − 7 = −2
    st = clock_status(cal, D(2026, 3, 2), 5, D(2026, 3, 12), stops=[Stop(D(2026, 3, 11))])
    assert (st.due, st.stopped, st.used, st.remaining, st.level) == (D(2026, 3, 9), True, 7, -2, "red")


def test_on_the_spot_item_levels(cal):
    # limit 0: due on the acceptance day, late from the next day on
    assert clock_status(cal, D(2026, 3, 2), 0, D(2026, 3, 2)).level == "yellow"
    assert clock_status(cal, D(2026, 3, 2), 0, D(2026, 3, 3)).level == "red"


# ---- construction and inputs ----------------------------------------------------------------


def test_from_rows_matches_from_json(cal):
    rows = list(_official_days().items())
    other = WorkCalendar.from_rows(rows, range(2013, 2027))
    d = D(2013, 1, 1)
    while d <= D(2027, 12, 31):
        assert other.is_working_day(d) == cal.is_working_day(d), d
        d += timedelta(days=1)


def test_from_rows_without_official_years_is_all_provisional():
    bare = WorkCalendar.from_rows([], [])
    assert bare.is_provisional(2026) is True
    # 2026 regulation days: 正月初一 Feb 17, 除夕 Tue Feb 16 — off; the notice's make-up Sat Feb 14 is not known
    assert bare.is_working_day(D(2026, 2, 16)) is False
    assert bare.is_working_day(D(2026, 2, 14)) is False
    # 初四 Fri Feb 20 was off by the notice but is a working day by the regulation alone
    assert bare.is_working_day(D(2026, 2, 20)) is True


def test_contradicting_notices_are_rejected(tmp_path):
    for year, off in ((2018, True), (2019, False)):
        doc = {"year": year, "days": [{"name": "元旦", "date": "2018-12-31", "isOffDay": off}]}
        (tmp_path / f"{year}.json").write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ValueError):
        WorkCalendar.from_json_dir(tmp_path)


def test_datetime_inputs_are_reduced_to_dates(cal):
    assert cal.is_working_day(datetime(2026, 2, 14, 9, 30)) is True
    assert due_date(cal, datetime(2026, 2, 12, 16, 0), 5) == D(2026, 2, 26)


def test_bad_inputs(cal):
    with pytest.raises(ValueError):
        due_date(cal, D(2026, 3, 2), 5, unit="hours")
    with pytest.raises(ValueError):
        due_date(cal, D(2026, 3, 2), 5, stops=[Stop(D(2026, 3, 5), D(2026, 3, 4))])


def test_fast_paths_agree_with_day_by_day_counting(cal):
    """The prefix-sum answers against a plain walk over is_working_day."""
    rng = random.Random(20260311)
    lo, hi = D(2012, 6, 1).toordinal(), D(2041, 6, 1).toordinal()
    for _ in range(300):
        d = date.fromordinal(rng.randint(lo, hi))
        n = rng.randint(0, 40)
        walk, left = d, n
        while left:
            walk += timedelta(days=1)
            left -= cal.is_working_day(walk)
        assert cal.add_working_days(d, n) == walk, (d, n)
        e = d + timedelta(days=rng.randint(-90, 90))
        a, b = min(d, e), max(d, e)
        count = sum(cal.is_working_day(a + timedelta(days=i)) for i in range(1, (b - a).days + 1))
        assert cal.working_days_between(a, b) == count
        assert cal.working_days_between(b, a) == -count


def test_calendar_limit_not_red_before_the_moved_due_date(cal):
    # 5 calendar days from Mon 2026-03-02 run out on Sat Mar 7; due moves to Mon Mar 9.
    # On Sun Mar 8 six days are used (remaining −1) but the case is not late yet.
    st = clock_status(cal, D(2026, 3, 2), 5, D(2026, 3, 8), unit="calendar")
    assert (st.used, st.remaining, st.due, st.level) == (6, -1, D(2026, 3, 9), "yellow")
    assert clock_status(cal, D(2026, 3, 2), 5, D(2026, 3, 10), unit="calendar").level == "red"
