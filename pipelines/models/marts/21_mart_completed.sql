-- key: period completed
-- The measures of the period a case was completed in, per department, item, region node and officer:
-- completed, on time, working days used (mean, median, p90), refused, rated, rating points, bad reviews.
-- The counts and sums as mart_received's: per day along the two branches of the dimensions, then rolled up
-- to weeks and months. Only the median and p90 need every fact of a group (GROUPING SETS over the facts, one
-- sort per group for both): that pass computes nothing else (the other aggregates beside the quantiles
-- made it half as long again).
WITH days AS (
    SELECT completed_day AS day, {{ branch_columns() }},
           COUNT(*) AS completed,
           SUM(CASE WHEN on_time THEN 1 ELSE 0 END) AS completed_on_time,
           SUM(working_days_used) AS used_sum,
           COUNT(working_days_used) AS used_count,
           SUM(CASE WHEN refused THEN 1 ELSE 0 END) AS refused,
           COUNT(rating_level) AS rated,
           SUM(rating_level) AS rating_points,
           SUM(CASE WHEN rating_level <= 2 THEN 1 ELSE 0 END) AS bad_reviews
    FROM marts.fct_case AS f
    WHERE completed_day IS NOT NULL {{ affected_facts("f", "completed") }}
    GROUP BY {{ branches("completed_day") }}
), summed AS (
    SELECT period_kind, period, by_place, {{ dimension_columns() }},
           -- (sums of counts as the counts they were: BIGINT, not HUGEINT; the mean as AVG over INTEGER
           -- computes it, the sum over the count as doubles)
           CAST(SUM(completed) AS BIGINT) AS completed,
           SUM(completed_on_time) AS completed_on_time,
           CAST(SUM(used_sum) AS DOUBLE) / CAST(SUM(used_count) AS DOUBLE) AS mean_working_days,
           SUM(refused) AS refused,
           CAST(SUM(rated) AS BIGINT) AS rated,
           SUM(rating_points) AS rating_points,
           SUM(bad_reviews) AS bad_reviews
    FROM {{ day_periods("days") }}
    WHERE TRUE {{ affected("period", "period_kind", "completed") }}
    GROUP BY {{ grouping_sets("period", "by_place") }}
), facts AS (
    SELECT f.*, p.period_kind, CAST(date_trunc(p.period_kind, f.completed_day) AS DATE) AS period
    FROM marts.fct_case AS f CROSS JOIN (VALUES ('week'), ('month')) AS p(period_kind)
    WHERE f.completed_day IS NOT NULL {{ affected_facts("f", "completed") }}
), quantiles AS (
    SELECT period_kind, period, {{ dimension_columns() }},
           -- One sort for both, of 16-bit values (measured a tenth faster than INTEGER, the same results):
           -- working days are differences of the calendar's index, which counts ~250 a year from 2012.
           QUANTILE_CONT(CAST(working_days_used AS SMALLINT), [0.5, 0.9]) AS quantiles
    FROM facts WHERE TRUE {{ affected("period", "period_kind", "completed") }}
    GROUP BY {{ grouping_sets("period") }}
)
SELECT s.* EXCLUDE (by_place), q.quantiles[1] AS median_working_days, q.quantiles[2] AS p90_working_days
FROM summed AS s JOIN quantiles AS q USING (period_kind, period, dimension, key)
WHERE {{ branch_kept() }}
