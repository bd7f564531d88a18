-- Per pairable clip the ids of its best and worst candidate and their rq. Ties: the smallest candidate_id among
-- those with the highest (lowest) rq. Plain min() over the few extremes rows is several times faster than one
-- arg_min over a (rq, candidate_id) key across all candidates.
CREATE OR REPLACE TEMP TABLE ends AS
WITH spread AS (
    SELECT clip_id, max(rq) AS top, min(rq) AS bottom FROM extremes GROUP BY clip_id
)
SELECT x.clip_id,
       min(x.candidate_id) FILTER (WHERE x.rq = s.top) AS best_id,
       any_value(s.top) AS top,
       min(x.candidate_id) FILTER (WHERE x.rq = s.bottom) AS worst_id,
       any_value(s.bottom) AS bottom
FROM extremes x
JOIN spread s ON s.clip_id = x.clip_id
GROUP BY x.clip_id
