-- The candidates holding the highest or lowest reward of a clip whose rewards spread at least min_gap (in no
-- other clip can any pair form), with that clip's top and bottom rq. Usually about two rows per clip.
CREATE OR REPLACE TEMP TABLE extremes AS
WITH spread AS (
    SELECT clip_id, max(rq) AS top, min(rq) AS bottom
    FROM eligible
    GROUP BY clip_id
    HAVING max(rq) - min(rq) >= $min_gap
)
SELECT e.*, s.top, s.bottom
FROM eligible e
JOIN spread s ON s.clip_id = e.clip_id
WHERE e.rq = s.top OR e.rq = s.bottom
