-- One row per case that left the draft: the dates as days, the week it was received (ISO, Monday), the officer
-- who holds it (or accepted it), and the region path city → district → town → village.
CREATE OR REPLACE TABLE marts.stg_cases AS
SELECT
    c.case_id, c.case_no, c.item_code, c.dept_code, c.unit_id, c.accepted_unit_id, c.region_code,
    substr(c.region_code, 1, 6) AS district_code,
    CASE WHEN length(c.region_code) >= 9 THEN substr(c.region_code, 1, 9) END AS town_code,
    CASE WHEN length(c.region_code) >= 12 THEN substr(c.region_code, 1, 12) END AS village_code,
    CASE length(split_part(c.unit_id, '-', 2)) WHEN 4 THEN '市' WHEN 6 THEN '区' WHEN 9 THEN '乡镇街道'
         ELSE '村社区' END AS level,
    c.channel, c.state, c.warning_level, c.supplement_count, c.promised_days, c.extension_days, c.clock_start,
    CAST(c.submitted_at AS DATE) AS submitted_day,
    CAST(c.accepted_at AS DATE) AS accepted_day,
    CAST(c.decided_at AS DATE) AS decided_day,
    CAST(c.completed_at AS DATE) AS completed_day,
    CAST(date_trunc('week', c.submitted_at) AS DATE) AS received_week,
    CAST(date_trunc('week', c.completed_at) AS DATE) AS completed_week,
    COALESCE(c.assigned_user_id, acc.actor_user_id) AS officer_user_id
FROM src_cases AS c
LEFT JOIN (
    SELECT case_id, arg_max(actor_user_id, seq) AS actor_user_id
    FROM src_case_events WHERE action = 'accept' GROUP BY case_id
) AS acc ON acc.case_id = c.case_id
WHERE c.state <> 'draft' AND c.submitted_at IS NOT NULL;
