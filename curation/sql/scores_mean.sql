-- The mean is already in cand_stats; an empty table keeps eligible.sql one query for all aggregates.
CREATE OR REPLACE TEMP TABLE scores (candidate_id VARCHAR, alignment DOUBLE, fidelity DOUBLE)
