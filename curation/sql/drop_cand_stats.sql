-- Free cand_stats (about 50 bytes x candidates) once eligible and candidate_counts are built.
DROP TABLE cand_stats
