-- Every rated candidate with what the file lacked filled in from the workspace store (store_candidates and
-- store_clips are empty without one), and why it is left out of the pairs, if it is.
CREATE OR REPLACE TEMP VIEW candidates AS
SELECT c.candidate_id, c.clip_id, c.method, c.raters, c.alignment, c.fidelity,
       coalesce(c.video, sc.video) AS video,
       coalesce(c.is_gold, sl.is_gold, false) AS is_gold,
       CASE WHEN c.broken THEN 'broken'
            WHEN coalesce(c.bad_status, sc.candidate_status IN ('failed', 'flagged'), false) THEN 'failed/flagged'
       END AS excluded
FROM cand_stats c
LEFT JOIN store_candidates sc ON sc.candidate_id = c.candidate_id
LEFT JOIN store_clips sl ON sl.clip_id = c.clip_id
