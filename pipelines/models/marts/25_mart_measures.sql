-- view
-- Weekly and monthly measures per department, item, region node (city, district, town, village) and
-- officer: the three sides side by side, with the rates. A view: the sides are small tables.
SELECT period_kind, period, dimension, key,
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
FROM marts.mart_received AS r
FULL JOIN marts.mart_completed AS c USING (period_kind, period, dimension, key)
FULL JOIN marts.mart_alarms AS a USING (period_kind, period, dimension, key)
