-- Weekly measures per department (ISO weeks, Monday): received, accepted and online share by the week a case
-- was received; completed, on-time rate, working days (mean, median, p90), refusals and satisfaction by the
-- week it was completed; supplements by the week received; alarms by the week raised.
CREATE OR REPLACE TABLE marts.mart_dept_week AS
WITH received AS (
    SELECT dept_code, received_week AS week,
           COUNT(*) AS received,
           COUNT(accepted_day) AS accepted,
           SUM(CASE WHEN online THEN 1 ELSE 0 END) AS received_online,
           SUM(CASE WHEN supplemented THEN 1 ELSE 0 END) AS supplemented
    FROM marts.fct_case GROUP BY ALL
), completed AS (
    SELECT dept_code, completed_week AS week,
           COUNT(*) AS completed,
           SUM(CASE WHEN on_time THEN 1 ELSE 0 END) AS completed_on_time,
           AVG(working_days_used) AS mean_working_days,
           MEDIAN(working_days_used) AS median_working_days,
           QUANTILE_CONT(working_days_used, 0.9) AS p90_working_days,
           SUM(CASE WHEN refused THEN 1 ELSE 0 END) AS refused,
           COUNT(rating_level) AS rated,
           SUM(rating_level) AS rating_points,
           SUM(CASE WHEN bad_review THEN 1 ELSE 0 END) AS bad_reviews
    FROM marts.fct_case WHERE completed_day IS NOT NULL GROUP BY ALL
), raised AS (
    SELECT dept_code, CAST(date_trunc('week', raised_at) AS DATE) AS week, COUNT(*) AS alarms
    FROM src_alarms WHERE dept_code IS NOT NULL GROUP BY ALL
), keys AS (
    SELECT dept_code, week FROM received UNION SELECT dept_code, week FROM completed
    UNION SELECT dept_code, week FROM raised
)
SELECT k.dept_code, k.week,
       COALESCE(r.received, 0) AS received, COALESCE(r.accepted, 0) AS accepted,
       COALESCE(c.completed, 0) AS completed, COALESCE(c.completed_on_time, 0) AS completed_on_time,
       c.completed_on_time / NULLIF(c.completed, 0) AS on_time_rate,
       c.mean_working_days, c.median_working_days, c.p90_working_days,
       r.supplemented / NULLIF(r.received, 0) AS supplement_rate,
       c.refused / NULLIF(c.completed, 0) AS refusal_rate,
       r.received_online / NULLIF(r.received, 0) AS online_share,
       c.rating_points / NULLIF(c.rated * 5.0, 0) AS satisfaction,
       c.bad_reviews / NULLIF(c.rated, 0) AS bad_review_share,
       COALESCE(c.rated, 0) AS rated, COALESCE(a.alarms, 0) AS alarms
FROM keys AS k
LEFT JOIN received AS r USING (dept_code, week)
LEFT JOIN completed AS c USING (dept_code, week)
LEFT JOIN raised AS a USING (dept_code, week)
WHERE k.week IS NOT NULL;
