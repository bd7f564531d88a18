-- The manifest in the order its contract promises. The ORDER BY must be on the query that hands the rows out: with
-- preserve_insertion_order off, a table created with ORDER BY is not read back in that order.
SELECT * FROM manifest ORDER BY clip_id, winner_candidate_id, loser_candidate_id
