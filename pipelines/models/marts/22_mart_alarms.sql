-- key: period raised
-- Alarms by the period they were raised in, per department, item, region node and officer (the case's
-- item and place; the alarm's own department and officer).
WITH facts AS (
    SELECT p.period_kind, CAST(date_trunc(p.period_kind, a.raised_at) AS DATE) AS period,
           a.dept_code, f.item_code, f.district_code, f.town_code, f.village_code, a.officer_user_id
    FROM src_alarms AS a LEFT JOIN marts.fct_case AS f USING (case_id)
    CROSS JOIN (VALUES ('week'), ('month')) AS p(period_kind)
    WHERE a.dept_code IS NOT NULL
), measured AS (
    SELECT period_kind, period, {{ dimension_columns() }}, COUNT(*) AS alarms
    FROM facts WHERE TRUE {{ affected("period", "period_kind", "raised") }}
    GROUP BY {{ grouping_sets("period") }}
)
SELECT * FROM measured WHERE key IS NOT NULL
