-- Counts for the dataset card taken while cand_stats is still there: what came in, what was left out and why.
-- eligible_candidates is eligible.sql's filter counted here, so that this needs no eligible table.
CREATE OR REPLACE TEMP TABLE candidate_counts AS
SELECT sum(raters) AS rating_rows,
       count(DISTINCT clip_id) AS clips,
       count(*) AS candidates,
       count(*) FILTER (WHERE excluded = 'broken') AS excluded_broken,
       count(*) FILTER (WHERE excluded = 'failed/flagged') AS excluded_failed_flagged,
       count(*) FILTER (WHERE excluded IS NULL AND is_gold AND NOT $include_gold) AS excluded_gold,
       count(*) FILTER (WHERE excluded IS NULL AND NOT (is_gold AND NOT $include_gold)
                          AND raters < $min_raters) AS excluded_few_raters,
       count(*) FILTER (WHERE excluded IS NULL AND ($include_gold OR NOT is_gold)
                          AND raters >= $min_raters) AS eligible_candidates
FROM candidates
