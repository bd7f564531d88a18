-- Margin histogram in bins of 0.5 reward units: [0.5, 1.0), [1.0, 1.5), ...
SELECT floor(margin * 2) / 2 AS bin_lo, count(*) AS pairs
FROM manifest
GROUP BY ALL
ORDER BY bin_lo
