-- eligible.sql for --aggregate mean: the means are already in candidates, so no join to a scores table.
CREATE OR REPLACE TEMP TABLE eligible AS
SELECT c.candidate_id, c.clip_id, c.method, c.video, c.raters, c.alignment, c.fidelity,
       floor(($w_alignment * c.alignment + $w_fidelity * c.fidelity) * 1000000 + 0.5)::BIGINT AS rq
FROM candidates c
WHERE c.excluded IS NULL AND ($include_gold OR NOT c.is_gold) AND c.raters >= $min_raters
