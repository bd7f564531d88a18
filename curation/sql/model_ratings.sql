-- The ratings the annotator model is fitted to (--reward model): those of the candidates that may be paired,
-- by eligible.sql's filter, so that each clip's posterior is over exactly the candidates the pairs come from.
SELECT r.clip_id, r.candidate_id, r.annotator_id, r.alignment::INTEGER AS alignment,
       r.fidelity::INTEGER AS fidelity
FROM ratings r
SEMI JOIN candidates c ON c.candidate_id = r.candidate_id
                      AND c.excluded IS NULL AND ($include_gold OR NOT c.is_gold) AND c.raters >= $min_raters
ORDER BY r.clip_id, r.candidate_id, r.annotator_id
