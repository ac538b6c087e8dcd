-- ephemeral
-- One row per case that left the draft: the dates as days (the week and month a case was received or completed
-- in are taken from them where they are counted: not stored with 10M facts), the officer who holds it (or else the one who accepted it), whether it was refused, and the
-- region path city → district → town → village. The accepting officer and the refusal come from the events;
-- a refresh reads the events only of cases submitted, accepted or decided since the last build
-- (`_needs_events`) and keeps the earlier answer for the others (`_old`: their facts before the refresh),
-- since only those moves can change it.
WITH ev AS (
    SELECT case_id, arg_max(actor_user_id, seq) FILTER (WHERE action = 'accept') AS accepted_by,
           bool_or(action = 'refuse') AS refused
    FROM src_case_events
    WHERE action IN ('accept', 'refuse') {% if is_incremental %}AND case_id IN (SELECT case_id FROM _needs_events){% endif %}
    GROUP BY case_id
{% if is_incremental %}
), kept AS (
    -- The answer per changed case in one narrow table (read again from the events, or as staged before), so
    -- the wide case rows meet it in a single join.
    SELECT n.case_id, ev.accepted_by, COALESCE(ev.refused, FALSE) AS refused
    FROM _needs_events AS n LEFT JOIN ev USING (case_id)
    UNION ALL
    SELECT o.case_id, o.accepted_by, o.refused
    FROM _old AS o WHERE o.case_id NOT IN (SELECT case_id FROM _needs_events)
{% endif %}
), staged AS (
    SELECT
        c.case_id, c.item_code, c.dept_code, c.unit_id, c.region_code,
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
        c.assigned_user_id,
{% if is_incremental %}
        k.accepted_by, k.refused
{% else %}
        ev.accepted_by, COALESCE(ev.refused, FALSE) AS refused
{% endif %}
    FROM src_cases AS c
{% if is_incremental %}
    LEFT JOIN kept AS k ON k.case_id = c.case_id
{% else %}
    LEFT JOIN ev ON ev.case_id = c.case_id
{% endif %}
    WHERE c.state <> 'draft' AND c.submitted_at IS NOT NULL {{ changed("c.case_id") }}
)
SELECT * EXCLUDE (assigned_user_id), COALESCE(assigned_user_id, accepted_by) AS officer_user_id FROM staged
