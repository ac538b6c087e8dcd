-- Per case facts: working days used on the handling clock (acceptance → decision, or → the build day while
-- open) less the stops, against the promised limit plus extension; on time or not; supplements; refusal;
-- rating. Working days are differences of the calendar's running index (days in (start, end]).
CREATE OR REPLACE TABLE marts.fct_case AS
WITH stops AS (
    SELECT s.case_id, SUM(s.working_days) AS stopped_days
    FROM marts.stg_stops AS s JOIN marts.stg_cases AS c USING (case_id)
    WHERE c.accepted_day IS NOT NULL AND s.started_on >= c.accepted_day
    GROUP BY s.case_id
), refused AS (
    SELECT DISTINCT case_id FROM src_case_events WHERE action = 'refuse'
)
SELECT
    c.*,
    COALESCE(c.decided_day, CASE WHEN c.state IN ('accepted', 'under_review', 'special_procedure')
                                 THEN getvariable('build_day') END) AS clock_end_day,
    CASE WHEN c.accepted_day IS NOT NULL AND c.clock_start IS NOT NULL
              AND COALESCE(c.decided_day, CASE WHEN c.state IN ('accepted', 'under_review', 'special_procedure')
                                               THEN getvariable('build_day') END) IS NOT NULL
         THEN e.wd_index - b.wd_index - COALESCE(st.stopped_days, 0) END AS working_days_used,
    c.promised_days + c.extension_days AS days_allowed,
    r.case_id IS NOT NULL AS refused,
    c.state = 'not_accepted' AS not_accepted,
    c.supplement_count > 0 AS supplemented,
    c.channel = 'online' AS online,
    rt.level AS rating_level,
    rt.level <= 2 AS bad_review
FROM marts.stg_cases AS c
LEFT JOIN stops AS st USING (case_id)
LEFT JOIN refused AS r USING (case_id)
LEFT JOIN src_ratings AS rt USING (case_id)
LEFT JOIN marts.calendar_days AS b ON b.day = c.clock_start
LEFT JOIN marts.calendar_days AS e ON e.day = COALESCE(c.decided_day,
    CASE WHEN c.state IN ('accepted', 'under_review', 'special_procedure') THEN getvariable('build_day') END);

ALTER TABLE marts.fct_case ADD COLUMN on_time BOOLEAN;
UPDATE marts.fct_case SET on_time = (working_days_used <= days_allowed) WHERE completed_day IS NOT NULL;
