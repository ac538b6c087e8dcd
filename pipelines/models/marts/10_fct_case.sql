-- key: case_id
-- Per case facts: working days used on the handling clock (acceptance → decision, or → the build day while
-- open) less the stops, against the promised limit plus extension; on time or not; supplements; refusal;
-- rating. Working days are differences of the calendar's running index (days in (start, end]).
-- The stops count from the day a case was accepted, read from the cases table itself: staging (wide, with the
-- events) is then read once, not materialised for a second use (a pass over every case saved). Stops of cases
-- staging leaves out (drafts) find no case below, as before.
WITH c AS (
    SELECT * FROM stg_cases
), accepted AS (
    SELECT case_id, CAST(accepted_at AS DATE) AS accepted_day
    FROM src_cases WHERE accepted_at IS NOT NULL {{ changed("case_id") }}
), stops AS (
    SELECT s.case_id, SUM(s.working_days) AS stopped_days
    FROM stg_stops AS s JOIN accepted AS a USING (case_id)
    WHERE s.started_on >= a.accepted_day
    GROUP BY s.case_id
), facts AS (
    SELECT
        c.*,
        COALESCE(c.decided_day, CASE WHEN c.state IN ('accepted', 'under_review', 'special_procedure')
                                     THEN getvariable('build_day') END) AS clock_end_day,
        c.promised_days + c.extension_days AS days_allowed,
        c.state = 'not_accepted' AS not_accepted,
        c.supplement_count > 0 AS supplemented,
        c.channel = 'online' AS online,
        rt.level AS rating_level,
        COALESCE(st.stopped_days, 0) AS stopped_days
    FROM c
    LEFT JOIN stops AS st USING (case_id)
    -- (a refresh picks the changed cases' ratings first: the join then holds those, not the wide case rows)
    LEFT JOIN (SELECT case_id, level FROM src_ratings WHERE TRUE {{ changed("case_id") }}) AS rt USING (case_id)
), used AS (
    -- An INTEGER: the sum of the stops would make it a 128-bit HUGEINT, four times the width to store, and
    -- slow in every AVG and quantile over it (the explorer, mart_completed); working days fit 32 bits.
    SELECT f.* EXCLUDE (stopped_days),
           CAST(CASE WHEN f.accepted_day IS NOT NULL AND f.clock_start IS NOT NULL AND f.clock_end_day IS NOT NULL
                     THEN e.wd_index - b.wd_index - f.stopped_days END AS INTEGER) AS working_days_used
    FROM facts AS f
    LEFT JOIN marts.calendar_days AS b ON b.day = f.clock_start
    LEFT JOIN marts.calendar_days AS e ON e.day = f.clock_end_day
)
-- Only what the marts, the explorer and the public page read is kept: a narrower table is faster to write
-- (writing the 10M rows costs more than computing them: about 0.1 s per column at 10M on two cores). What is
-- cheaply derived where it is read is not stored: the weeks and months of the days, a bad review (rating ≤ 2).
-- (The case number, unique text and the costliest column to store, is read from marts.case_numbers; staging
-- does not read it.) The coded columns as ENUMs (pipelines/marts.py, `_enum_types`): faster to write and to group.
SELECT * EXCLUDE (unit_id, region_code, channel, supplement_count, promised_days,
                  extension_days, clock_start, decided_day, clock_end_day, not_accepted)
         REPLACE ({{ as_enum("item_code") }}, {{ as_enum("dept_code") }}, {{ as_enum("district_code") }},
                  {{ as_enum("town_code") }}, {{ as_enum("village_code") }}, {{ as_enum("level") }},
                  {{ as_enum("state") }}, {{ as_enum("warning_level") }}),
       CASE WHEN completed_day IS NOT NULL THEN working_days_used <= days_allowed END AS on_time
FROM used
