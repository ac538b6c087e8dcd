-- key: period received
-- The measures of the period a case was received in (weeks from Monday, calendar months), per department,
-- item, region node (the city, each district, town and village) and officer: received, accepted, received
-- online, supplemented.
-- In two steps: the facts are counted per day along the two branches of the dimensions (department, item and
-- officer; district, town and village), one read of the facts into two small tables, and the weeks and months
-- of every dimension are sums of those days. GROUPING SETS straight over the facts hashed every fact once per
-- dimension and period kind (fourteen times).
WITH days AS (
    SELECT submitted_day AS day, {{ branch_columns() }},
           COUNT(*) AS received,
           COUNT(accepted_day) AS accepted,
           SUM(CASE WHEN online THEN 1 ELSE 0 END) AS received_online,
           SUM(CASE WHEN supplemented THEN 1 ELSE 0 END) AS supplemented
    FROM marts.fct_case AS f
    WHERE submitted_day IS NOT NULL {{ affected_facts("f", "received") }}
    GROUP BY {{ branches("submitted_day") }}
), measured AS (
    SELECT period_kind, period, by_place, {{ dimension_columns() }},
           -- (the sums of counts as the counts they were: BIGINT, not HUGEINT)
           CAST(SUM(received) AS BIGINT) AS received,
           CAST(SUM(accepted) AS BIGINT) AS accepted,
           SUM(received_online) AS received_online,
           SUM(supplemented) AS supplemented
    FROM {{ day_periods("days") }}
    WHERE TRUE {{ affected("period", "period_kind", "received") }}
    GROUP BY {{ grouping_sets("period", "by_place") }}
)
SELECT * EXCLUDE (by_place) FROM measured WHERE {{ branch_kept() }}
