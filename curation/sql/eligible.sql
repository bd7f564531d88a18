-- The candidates that may be paired, with rq = round-half-up(1e6 * (w_a * alignment + w_f * fidelity)): all
-- comparisons use rq, so equal rewards tie exactly (see pairs_config.py).
CREATE OR REPLACE TEMP TABLE eligible AS
SELECT c.candidate_id, c.clip_id, c.method, c.video, c.raters,
       coalesce(s.alignment, c.alignment) AS alignment,
       coalesce(s.fidelity, c.fidelity) AS fidelity,
       floor(($w_alignment * coalesce(s.alignment, c.alignment) + $w_fidelity * coalesce(s.fidelity, c.fidelity))
             * 1000000 + 0.5)::BIGINT AS rq
FROM candidates c
LEFT JOIN scores s ON s.candidate_id = c.candidate_id
WHERE c.excluded IS NULL AND ($include_gold OR NOT c.is_gold) AND c.raters >= $min_raters
