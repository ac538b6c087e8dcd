-- key: period
-- Department ratings per week and per month (评定, domain.md §6): efficiency = on-time rate, quality = 1 − the
-- breach alarms raised in the period (intake, fee, sequence, complaint, follow-up rules) per case received in
-- it, floored at 0 (several alarms on one case each count),
-- satisfaction = mean rating / 5, each 0–100, weighted by the published weights (getvariable: default
-- 40 / 30 / 30), and graded 优秀 ≥ 90, 良好 ≥ 80, 合格 ≥ 60, else 不合格. A measure with no data that period
-- counts as full marks, so a quiet department is not punished for having nothing to rate; `scored_on` says
-- how many measures had data.
WITH breaches AS (
    SELECT p.period_kind, CAST(date_trunc(p.period_kind, raised_at) AS DATE) AS period, dept_code,
           COUNT(*) AS breaches
    FROM src_alarms CROSS JOIN (VALUES ('week'), ('month')) AS p(period_kind)
    WHERE rule NOT IN ('overdue', 'approaching') AND dept_code IS NOT NULL
    GROUP BY ALL
), measures AS (
    SELECT m.period_kind, m.period, m.key AS dept_code, m.received, m.completed,
           100 * m.on_time_rate AS efficiency,
           CASE WHEN m.received > 0 THEN 100 * GREATEST(0, 1 - COALESCE(b.breaches, 0) / m.received) END AS quality,
           100 * m.satisfaction AS satisfaction
    FROM marts.mart_measures AS m
    LEFT JOIN breaches AS b ON b.period_kind = m.period_kind AND b.period = m.period AND b.dept_code = m.key
    WHERE m.dimension = 'department' {{ affected("m.period", "m.period_kind", "any") }}
), scored AS (
    SELECT *,
           (efficiency IS NOT NULL)::INT + (quality IS NOT NULL)::INT + (satisfaction IS NOT NULL)::INT AS scored_on,
           ROUND(getvariable('w_efficiency') * COALESCE(efficiency, 100)
                 + getvariable('w_quality') * COALESCE(quality, 100)
                 + getvariable('w_satisfaction') * COALESCE(satisfaction, 100), 1) AS score
    FROM measures
)
SELECT *, CASE WHEN score >= 90 THEN '优秀' WHEN score >= 80 THEN '良好' WHEN score >= 60 THEN '合格'
               ELSE '不合格' END AS grade
FROM scored
