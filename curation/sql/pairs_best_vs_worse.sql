-- best-vs-worse: per clip the best against every candidate at least min_gap lower.
CREATE OR REPLACE TEMP TABLE pairs AS
SELECT n.clip_id, n.best_id AS winner_id, l.candidate_id AS loser_id
FROM ends n
JOIN eligible l ON l.clip_id = n.clip_id
WHERE n.top - l.rq >= $min_gap
