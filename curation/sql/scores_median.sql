-- Per-axis median over a candidate's annotators (the mean of the two middle scores for an even count).
CREATE OR REPLACE TEMP TABLE scores AS
SELECT r.candidate_id, median(r.alignment)::DOUBLE AS alignment, median(r.fidelity)::DOUBLE AS fidelity
FROM ratings r
SEMI JOIN candidates c ON c.candidate_id = r.candidate_id
GROUP BY r.candidate_id
