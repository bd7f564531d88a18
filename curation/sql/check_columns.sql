-- Empty cells and score range over every rating; used where the source has no Parquet statistics.
SELECT count(*) - count(clip_id) AS clip_id,
       count(*) - count(candidate_id) AS candidate_id,
       count(*) - count(method) AS method,
       count(*) - count(annotator_id) AS annotator_id,
       count(*) - count(alignment) AS alignment,
       count(*) - count(fidelity) AS fidelity,
       min(least(alignment, fidelity)) AS score_min,
       max(greatest(alignment, fidelity)) AS score_max
FROM ratings
