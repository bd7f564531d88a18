-- method_counts.sql without an eligible table (--aggregate mean, best-vs-worst): eligible_mean.sql's filter and rq
-- computed on the fly from the candidates.
CREATE OR REPLACE TEMP TABLE method_counts AS
SELECT method, count(*) AS candidates,
       avg(floor(($w_alignment * alignment + $w_fidelity * fidelity) * 1000000 + 0.5)::BIGINT) / 1000000
         AS mean_reward
FROM candidates
WHERE excluded IS NULL AND ($include_gold OR NOT is_gold) AND raters >= $min_raters
GROUP BY method
