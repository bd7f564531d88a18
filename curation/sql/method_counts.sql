-- Per method: eligible candidates and their mean reward, kept for the card after eligible is dropped.
CREATE OR REPLACE TEMP TABLE method_counts AS
SELECT method, count(*) AS candidates, avg(rq) / 1000000 AS mean_reward
FROM eligible
GROUP BY method
