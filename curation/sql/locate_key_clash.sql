-- The first row of each (clip_id, method, video) under which candidate $candidate_id is listed.
SELECT clip_id, method, video, min(_row) AS first_row
FROM ratings
WHERE candidate_id = $candidate_id
GROUP BY clip_id, method, video
ORDER BY first_row
LIMIT 2
