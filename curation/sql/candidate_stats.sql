-- One pass over the ratings: per candidate its mean scores, what the exclusions need, and a duplicate check.
-- The key is (clip_id, candidate_id, method): a candidate under two clips (or methods) becomes two rows, which
-- check_keys.sql reports. Score ranges and empty cells are checked from the Parquet statistics (pairs.py).
--
-- Duplicates without a GROUP BY (candidate, annotator), which costs more than this whole pass: with integer
-- annotator codes, n = 2 ratings are distinct iff lo < hi, n = 3 iff lo < (sum - lo - hi) < hi. Larger n is
-- only "suspected"; check_duplicates.sql settles every suspect exactly.
CREATE OR REPLACE TEMP TABLE cand_stats AS
SELECT r.clip_id,
       r.candidate_id,
       r.method,
       count(*) AS raters,
       avg(r.alignment)::DOUBLE AS alignment,
       avg(r.fidelity)::DOUBLE AS fidelity,
       count(*) > 3
         OR (count(*) = 2 AND min(a.code) = max(a.code))
         OR (count(*) = 3 AND NOT (min(a.code) < sum(a.code) - min(a.code) - max(a.code)
                                   AND sum(a.code) - min(a.code) - max(a.code) < max(a.code))) AS dup_suspect,
       any_value(r.video) AS video,
       bool_or(r.broken) AS broken,
       bool_or(r.candidate_status IN ('failed', 'flagged')) AS bad_status,
       bool_or(r.is_gold) AS is_gold
FROM ratings r
LEFT JOIN annotator_codes a ON a.annotator_id = r.annotator_id
GROUP BY r.clip_id, r.candidate_id, r.method
