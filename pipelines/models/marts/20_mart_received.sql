-- key: period received
-- The measures of the period a case was received in (weeks from Monday, calendar months), per department,
-- item, region node (the city, each district, town and village) and officer, in one GROUPING SETS pass:
-- received, accepted, received online, supplemented.
WITH facts AS (
    SELECT f.*, p.period_kind,
           CASE p.period_kind WHEN 'week' THEN f.received_week ELSE f.received_month END AS period
    FROM marts.fct_case AS f CROSS JOIN (VALUES ('week'), ('month')) AS p(period_kind)
    WHERE TRUE {{ affected_facts("f", "received") }}
), measured AS (
    SELECT period_kind, period, {{ dimension_columns() }},
           COUNT(*) AS received,
           COUNT(accepted_day) AS accepted,
           SUM(CASE WHEN online THEN 1 ELSE 0 END) AS received_online,
           SUM(CASE WHEN supplemented THEN 1 ELSE 0 END) AS supplemented
    FROM facts WHERE period IS NOT NULL {{ affected("period", "period_kind", "received") }}
    GROUP BY {{ grouping_sets("period") }}
)
SELECT * FROM measured WHERE key IS NOT NULL
