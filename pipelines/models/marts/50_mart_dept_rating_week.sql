-- view
-- The weekly ratings the scorecard and the public page read.
SELECT period AS week, * EXCLUDE (period_kind, period) FROM marts.mart_dept_rating WHERE period_kind = 'week'
