-- Per generation method: eligible candidates, their mean reward, and how often they win or lose a pair.
WITH w AS (SELECT winner_method AS method, count(*) AS wins FROM manifest GROUP BY ALL),
l AS (SELECT loser_method AS method, count(*) AS losses FROM manifest GROUP BY ALL)
SELECT e.method, e.candidates, e.mean_reward, coalesce(w.wins, 0) AS wins, coalesce(l.losses, 0) AS losses
FROM method_counts e
LEFT JOIN w USING (method)
LEFT JOIN l USING (method)
ORDER BY e.method
