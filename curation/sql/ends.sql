-- Per pairable clip the ids of its best and worst candidate and their rq. Ties: the smallest candidate_id among
-- those with the highest (lowest) rq. Plain min() over the few extremes rows is several times faster than one
-- arg_min over a (rq, candidate_id) key across all candidates.
CREATE OR REPLACE TEMP TABLE ends AS
SELECT clip_id,
       min(candidate_id) FILTER (WHERE rq = top) AS best_id,
       any_value(top) AS top,
       min(candidate_id) FILTER (WHERE rq = bottom) AS worst_id,
       any_value(bottom) AS bottom
FROM extremes
GROUP BY clip_id
