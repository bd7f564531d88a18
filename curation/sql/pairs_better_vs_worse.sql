-- better-vs-worse: every ordered pair of a clip's candidates whose rewards differ by at least min_gap.
CREATE OR REPLACE TEMP TABLE pairs AS
SELECT w.clip_id, w.candidate_id AS winner_id, l.candidate_id AS loser_id
FROM eligible w
JOIN eligible l ON l.clip_id = w.clip_id
WHERE w.rq - l.rq >= $min_gap
