-- better-vs-worst: per clip every candidate at least min_gap higher than the worst, against the worst.
CREATE OR REPLACE TEMP TABLE pairs AS
SELECT n.clip_id, w.candidate_id AS winner_id, n.worst_id AS loser_id
FROM ends n
JOIN eligible w ON w.clip_id = n.clip_id
WHERE w.rq - n.bottom >= $min_gap
