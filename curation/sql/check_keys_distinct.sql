-- Fast path of check_keys.sql: if the 64-bit hashes of the candidate_ids of cand_stats' rows are all distinct, so
-- are the ids (equal ids hash alike), and no candidate is under two keys. Only when they are not (a real clash or
-- a hash collision) does check_keys.sql settle it exactly. Counting distinct integers is about half the cost of
-- grouping the strings.
SELECT count(DISTINCT hash(candidate_id)) = count(*) AS all_distinct
FROM cand_stats
