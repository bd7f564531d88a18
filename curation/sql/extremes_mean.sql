-- extremes.sql for --aggregate mean with best-vs-worst, which needs no eligible table: eligible_mean.sql's rows
-- as a CTE that DuckDB does not materialise, read straight from cand_stats. Copying 3.3M wide rows into a table
-- cost more than computing the filter and rq twice (10M ratings: 1.4 against 1.9 CPU s for eligible + extremes).
CREATE OR REPLACE TEMP TABLE extremes AS
WITH eligible AS NOT MATERIALIZED (
    SELECT c.candidate_id, c.clip_id, c.method, c.video, c.raters, c.alignment, c.fidelity,
           floor(($w_alignment * c.alignment + $w_fidelity * c.fidelity) * 1000000 + 0.5)::BIGINT AS rq
    FROM candidates c
    WHERE c.excluded IS NULL AND ($include_gold OR NOT c.is_gold) AND c.raters >= $min_raters
),
spread AS (
    SELECT clip_id, max(rq) AS top, min(rq) AS bottom
    FROM eligible
    GROUP BY clip_id
    HAVING max(rq) - min(rq) >= $min_gap
)
SELECT e.*, s.top, s.bottom
FROM eligible e
JOIN spread s ON s.clip_id = e.clip_id
WHERE e.rq = s.top OR e.rq = s.bottom
