-- Per-axis mean of standardised scores: each annotator's scores become (x - their mean) / their population
-- standard deviation, over the ratings that pass the exclusions (before --min-raters), which cancels lenient and
-- harsh raters. An annotator whose scores on an axis never vary gives 0 there: no preference information.
CREATE OR REPLACE TEMP TABLE scores AS
WITH kept AS (
    SELECT r.candidate_id, r.annotator_id, r.alignment, r.fidelity
    FROM ratings r
    SEMI JOIN candidates c ON c.candidate_id = r.candidate_id
                          AND c.excluded IS NULL AND ($include_gold OR NOT c.is_gold)
),
annotators AS (
    SELECT annotator_id,
           avg(alignment) AS mu_a, stddev_pop(alignment) AS sd_a,
           avg(fidelity) AS mu_f, stddev_pop(fidelity) AS sd_f
    FROM kept GROUP BY annotator_id
)
SELECT k.candidate_id,
       avg(CASE WHEN a.sd_a > 0 THEN (k.alignment - a.mu_a) / a.sd_a ELSE 0 END)::DOUBLE AS alignment,
       avg(CASE WHEN a.sd_f > 0 THEN (k.fidelity - a.mu_f) / a.sd_f ELSE 0 END)::DOUBLE AS fidelity
FROM kept k JOIN annotators a USING (annotator_id)
GROUP BY k.candidate_id
