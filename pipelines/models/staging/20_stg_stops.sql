-- ephemeral
-- Clock stops with the working days they held (an open stop runs to the build day).
SELECT s.case_id, s.seq, s.kind, s.started_on, COALESCE(s.ended_on, getvariable('build_day')) AS ended_on,
       e.wd_index - b.wd_index AS working_days
FROM src_clock_stops AS s
JOIN marts.calendar_days AS b ON b.day = s.started_on
JOIN marts.calendar_days AS e ON e.day = COALESCE(s.ended_on, getvariable('build_day'))
WHERE TRUE {{ changed("s.case_id") }}
