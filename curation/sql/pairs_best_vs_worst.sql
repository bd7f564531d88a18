-- best-vs-worst (the paper's choice): per clip the best against the worst, one pair per clip.
CREATE OR REPLACE TEMP TABLE pairs AS
SELECT clip_id, best_id AS winner_id, worst_id AS loser_id FROM ends
