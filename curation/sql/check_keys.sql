-- A candidate listed under two clips (or two methods, or two video paths): the smallest such candidate_id, if any.
SELECT candidate_id
FROM cand_stats
GROUP BY candidate_id
HAVING count(*) > 1
ORDER BY candidate_id
LIMIT 1
