-- Per-axis posterior means of the annotator model (--reward model), registered from Python as model_scores.
CREATE OR REPLACE TEMP TABLE scores AS
SELECT candidate_id, alignment::DOUBLE AS alignment, fidelity::DOUBLE AS fidelity FROM model_scores
