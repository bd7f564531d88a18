-- Every value the pairs use, read (never the Parquet footer's statistics: see _duck.SETTINGS), in two cheap
-- passes: the ratings' annotator and score columns, and the (clip_id, candidate_id, method) keys of cand_stats,
-- each key once. Counts only; rows are located by the locate_*.sql queries when one is not zero.
-- NaN counts as a bad score: DuckDB orders NaN above every number, so it is not BETWEEN 1 AND 5.
-- Ids follow storage/ids.py's rule ($id_re, $candidate_id_re: bound from curation/pairs/build.py's ID_PARAMS): a blank id
-- would be paired like any other, and " a1" would count as another annotator than "a1". Annotator ids are matched
-- once per distinct id, not once per rating (the regular expression costs more than the DISTINCT).
SELECT r.nulls + k.nulls AS nulls, r.bad_ids + k.bad_ids AS bad_ids, r.bad_scores
FROM (
    SELECT 3 * count(*) - count(annotator_id) - count(alignment) - count(fidelity) AS nulls,
           (SELECT count(*) FROM (SELECT DISTINCT annotator_id AS a FROM ratings)
            WHERE NOT regexp_full_match(a, $id_re)) AS bad_ids,
           count(*) FILTER (WHERE NOT (alignment BETWEEN 1 AND 5 AND alignment = round(alignment))
                               OR NOT (fidelity BETWEEN 1 AND 5 AND fidelity = round(fidelity))) AS bad_scores
    FROM ratings
) r, (
    SELECT 3 * count(*) - count(clip_id) - count(candidate_id) - count(method) AS nulls,
           count(*) FILTER (WHERE NOT regexp_full_match(clip_id, $id_re)
                               OR NOT regexp_full_match(candidate_id, $candidate_id_re)
                               OR NOT regexp_full_match(method, $id_re)) AS bad_ids
    FROM cand_stats
) k
