-- One pass over the ratings: per candidate its mean scores, what the exclusions need, and a duplicate check.
-- The key is (clip_id, candidate_id, method, video): a candidate under two clips, methods or video paths becomes
-- two rows, which check_keys.sql reports. The video path is in the key rather than taken with any_value(video),
-- which would pick an arbitrary one of two different paths (and not the same one on every run, with threads).
-- At 10M ratings both cost the same.
-- Empty cells, blank ids and score ranges are checked afterwards from the values (check_values.sql).
--
-- Duplicates without a GROUP BY (candidate, annotator), which costs more than this whole pass: with h the 64-bit
-- hash of annotator_id, n = 2 ratings are surely distinct if lo < hi, n = 3 if lo < (sum - lo - hi) < hi (distinct
-- hashes mean distinct ids). Anything else, a hash collision or n > 3, is only "suspected";
-- check_duplicates.sql settles every suspect exactly. Hashing in the pass is cheaper than joining to integer codes.
CREATE OR REPLACE TEMP TABLE cand_stats AS
SELECT clip_id,
       candidate_id,
       method,
       video,
       count(*) AS raters,
       avg(alignment)::DOUBLE AS alignment,
       avg(fidelity)::DOUBLE AS fidelity,
       count(*) > 3
         OR (count(*) = 2 AND min(h) = max(h))
         OR (count(*) = 3 AND NOT (min(h) < sum(h) - min(h) - max(h) AND sum(h) - min(h) - max(h) < max(h)))
         AS dup_suspect,
       bool_or(broken) AS broken,
       bool_or(candidate_status IN ('failed', 'flagged')) AS bad_status,
       bool_or(is_gold) AS is_gold
FROM (SELECT *, hash(annotator_id) AS h FROM ratings)
GROUP BY clip_id, candidate_id, method, video
