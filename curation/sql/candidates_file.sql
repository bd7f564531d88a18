-- candidates.sql without a workspace store: the same rows, minus two LEFT JOINs against empty tables that DuckDB
-- still probes for every candidate (about 0.1 s per 3M candidates).
CREATE OR REPLACE TEMP VIEW candidates AS
SELECT c.candidate_id, c.clip_id, c.method, c.raters, c.alignment, c.fidelity, c.video,
       coalesce(c.is_gold, false) AS is_gold,
       CASE WHEN c.broken THEN 'broken'
            WHEN coalesce(c.bad_status, false) THEN 'failed/flagged'
       END AS excluded
FROM cand_stats c
