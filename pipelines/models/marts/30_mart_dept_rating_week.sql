-- Department ratings per week (评定, domain.md §6): efficiency = on-time rate, quality = share of the week's
-- received cases without a breach alarm (intake, fee, sequence, complaint, follow-up rules), satisfaction = mean
-- rating / 5, each 0–100, weighted by the published weights (getvariable: default 40 / 30 / 30), and graded
-- 优秀 ≥ 90, 良好 ≥ 80, 合格 ≥ 60, else 不合格. A measure with no data that week counts as full marks, so a quiet
-- department is not punished for having nothing to rate; `scored_on` says how many measures had data.
CREATE OR REPLACE TABLE marts.mart_dept_rating_week AS
WITH breaches AS (
    SELECT dept_code, CAST(date_trunc('week', raised_at) AS DATE) AS week, COUNT(*) AS breaches
    FROM src_alarms
    WHERE rule NOT IN ('overdue', 'approaching') AND dept_code IS NOT NULL
    GROUP BY ALL
), measures AS (
    SELECT w.dept_code, w.week, w.received, w.completed,
           100 * w.on_time_rate AS efficiency,
           CASE WHEN w.received > 0 THEN 100 * GREATEST(0, 1 - COALESCE(b.breaches, 0) / w.received) END AS quality,
           100 * w.satisfaction AS satisfaction
    FROM marts.mart_dept_week AS w LEFT JOIN breaches AS b USING (dept_code, week)
)
SELECT m.*,
       (m.efficiency IS NOT NULL)::INT + (m.quality IS NOT NULL)::INT + (m.satisfaction IS NOT NULL)::INT AS scored_on,
       ROUND(getvariable('w_efficiency') * COALESCE(m.efficiency, 100)
             + getvariable('w_quality') * COALESCE(m.quality, 100)
             + getvariable('w_satisfaction') * COALESCE(m.satisfaction, 100), 1) AS score
FROM measures AS m;

ALTER TABLE marts.mart_dept_rating_week ADD COLUMN grade VARCHAR;
UPDATE marts.mart_dept_rating_week SET grade = CASE WHEN score >= 90 THEN '优秀' WHEN score >= 80 THEN '良好'
                                                    WHEN score >= 60 THEN '合格' ELSE '不合格' END;
