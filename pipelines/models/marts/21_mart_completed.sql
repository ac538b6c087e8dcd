-- key: period completed
-- The measures of the period a case was completed in, per department, item, region node and officer:
-- completed, on time, working days used (mean, median, p90), refused, rated, rating points, bad reviews.
WITH facts AS (
    SELECT f.*, p.period_kind, CAST(date_trunc(p.period_kind, f.completed_day) AS DATE) AS period
    FROM marts.fct_case AS f CROSS JOIN (VALUES ('week'), ('month')) AS p(period_kind)
    WHERE f.completed_day IS NOT NULL {{ affected_facts("f", "completed") }}
), measured AS (
    SELECT period_kind, period, {{ dimension_columns() }},
           COUNT(*) AS completed,
           SUM(CASE WHEN on_time THEN 1 ELSE 0 END) AS completed_on_time,
           AVG(working_days_used) AS mean_working_days,
           QUANTILE_CONT(working_days_used, [0.5, 0.9]) AS quantiles,   -- one sort for both
           SUM(CASE WHEN refused THEN 1 ELSE 0 END) AS refused,
           COUNT(rating_level) AS rated,
           SUM(rating_level) AS rating_points,
           SUM(CASE WHEN rating_level <= 2 THEN 1 ELSE 0 END) AS bad_reviews
    FROM facts WHERE TRUE {{ affected("period", "period_kind", "completed") }}
    GROUP BY {{ grouping_sets("period") }}
)
SELECT * EXCLUDE (quantiles), quantiles[1] AS median_working_days, quantiles[2] AS p90_working_days
FROM measured WHERE key IS NOT NULL
