-- Exact duplicate check over the suspects of candidate_stats.sql only: the earliest second rating wins.
SELECT r.candidate_id, r.annotator_id, min(r._row) AS first_row, list_sort(list(r._row))[2] AS second_row
FROM ratings r
SEMI JOIN (SELECT candidate_id FROM cand_stats WHERE dup_suspect) s ON s.candidate_id = r.candidate_id
GROUP BY r.candidate_id, r.annotator_id
HAVING count(*) > 1
ORDER BY second_row
LIMIT 1
