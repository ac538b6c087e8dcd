-- key: period raised
-- Alarms by the period they were raised in, per department, item, region node and officer (the case's
-- item and place; the alarm's own department and officer).
-- The alarms of the affected periods are chosen before they meet the case facts, so a refresh joins a few
-- thousand alarms to the facts rather than all of them.
WITH raised AS (
    SELECT p.period_kind, CAST(date_trunc(p.period_kind, a.raised_at) AS DATE) AS period,
           a.case_id, a.dept_code, a.officer_user_id
    FROM src_alarms AS a CROSS JOIN (VALUES ('week'), ('month')) AS p(period_kind)
    WHERE a.dept_code IS NOT NULL
), facts AS (
    SELECT a.period_kind, a.period, a.dept_code, f.item_code, f.district_code, f.town_code, f.village_code,
           a.officer_user_id
    FROM (SELECT * FROM raised WHERE TRUE {{ affected("period", "period_kind", "raised") }}) AS a
    LEFT JOIN marts.fct_case AS f USING (case_id)
), measured AS (
    SELECT period_kind, period, {{ dimension_columns() }}, COUNT(*) AS alarms
    FROM facts
    GROUP BY {{ grouping_sets("period") }}
)
SELECT * FROM measured WHERE key IS NOT NULL
