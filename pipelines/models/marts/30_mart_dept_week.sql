-- key: week
-- Weekly measures per department (the scorecard's figures): the department rows of mart_measures.
SELECT key AS dept_code, period AS week, * EXCLUDE (period_kind, period, dimension, key)
FROM marts.mart_measures
WHERE period_kind = 'week' AND dimension = 'department' {{ affected("period", "'week'", "any") }}
