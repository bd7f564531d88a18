-- The manifest `curate train-dpo` reads: one row per pair. Column names are a contract; do not rename.
-- Fetched straight into Arrow, not stored as a table first: that copy cost more than the card's queries over the
-- fetched Arrow table. The ORDER BY is on the query that hands the rows out, as it must be: with
-- preserve_insertion_order off, a table created with ORDER BY is not read back in that order.
-- pair_id: the first 16 hex digits of sha256(clip_id US winner US loser), US = the unit separator chr(31).
SELECT left(sha256(p.clip_id || chr(31) || p.winner_id || chr(31) || p.loser_id), 16) AS pair_id,
       p.clip_id,
       w.candidate_id AS winner_candidate_id,
       l.candidate_id AS loser_candidate_id,
       w.method AS winner_method,
       l.method AS loser_method,
       w.video AS winner_video,
       l.video AS loser_video,
       m.image,
       m.audio,
       m.prompt,
       m.skeleton,
       w.rq / 1000000 AS winner_reward,
       l.rq / 1000000 AS loser_reward,
       (w.rq - l.rq) / 1000000 AS margin,
       w.alignment AS winner_alignment,
       w.fidelity AS winner_fidelity,
       l.alignment AS loser_alignment,
       l.fidelity AS loser_fidelity,
       w.raters::INTEGER AS winner_raters,
       l.raters::INTEGER AS loser_raters
FROM pairs p
JOIN members w ON w.candidate_id = p.winner_id
JOIN members l ON l.candidate_id = p.loser_id
LEFT JOIN clip_media m ON m.clip_id = p.clip_id
ORDER BY p.clip_id, winner_candidate_id, loser_candidate_id
