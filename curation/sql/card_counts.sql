-- Counts for the dataset card: what came in, what was left out and why, what was paired.
WITH c AS (
    SELECT sum(raters) AS rating_rows,
           count(DISTINCT clip_id) AS clips,
           count(*) AS candidates,
           count(*) FILTER (WHERE excluded = 'broken') AS excluded_broken,
           count(*) FILTER (WHERE excluded = 'failed/flagged') AS excluded_failed_flagged,
           count(*) FILTER (WHERE excluded IS NULL AND is_gold AND NOT $include_gold) AS excluded_gold,
           count(*) FILTER (WHERE excluded IS NULL AND NOT (is_gold AND NOT $include_gold)
                              AND raters < $min_raters) AS excluded_few_raters
    FROM candidates
),
e AS (SELECT count(*) AS eligible_candidates FROM eligible),
m AS (SELECT count(*) AS pairs, count(DISTINCT clip_id) AS clips_with_pairs FROM manifest)
SELECT * FROM c, e, m
