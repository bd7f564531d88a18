-- Every value the pairs use, read (never the Parquet footer's statistics: see _duck.SETTINGS), in two cheap
-- passes: the ratings' annotator and score columns, and the (clip_id, candidate_id, method) keys of cand_stats,
-- each key once. Counts only; rows are located by the locate_*.sql queries when one is not zero.
-- NaN counts as a bad score: DuckDB orders NaN above every number, so it is not BETWEEN 1 AND 5.
-- An id is "blank" when it is empty or starts with a space or a control character (ascii() <= 32): every id
-- starts with a letter or digit (storage/ids.py), and a blank one would be paired like any other.
SELECT r.nulls + k.nulls AS nulls, r.blanks + k.blanks AS blanks, r.bad_scores
FROM (
    SELECT 3 * count(*) - count(annotator_id) - count(alignment) - count(fidelity) AS nulls,
           count(*) FILTER (WHERE ascii(annotator_id) <= 32) AS blanks,
           count(*) FILTER (WHERE NOT (alignment BETWEEN 1 AND 5 AND alignment = round(alignment))
                               OR NOT (fidelity BETWEEN 1 AND 5 AND fidelity = round(fidelity))) AS bad_scores
    FROM ratings
) r, (
    SELECT 3 * count(*) - count(clip_id) - count(candidate_id) - count(method) AS nulls,
           count(*) FILTER (WHERE ascii(clip_id) <= 32 OR ascii(candidate_id) <= 32 OR ascii(method) <= 32) AS blanks
    FROM cand_stats
) k
