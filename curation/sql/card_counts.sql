-- Counts for the dataset card: candidate_counts.sql plus what was paired.
SELECT c.*, m.pairs, m.clips_with_pairs
FROM candidate_counts c,
     (SELECT count(*) AS pairs, count(DISTINCT clip_id) AS clips_with_pairs FROM manifest) m
