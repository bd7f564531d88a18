-- Without a workspace store: empty store tables, so candidates.sql and manifest.sql need no variants.
CREATE OR REPLACE TEMP TABLE store_clips (clip_id VARCHAR, image VARCHAR, audio VARCHAR, prompt VARCHAR,
                                          skeleton VARCHAR, is_gold BOOLEAN);
CREATE OR REPLACE TEMP TABLE store_candidates (candidate_id VARCHAR, video VARCHAR, candidate_status VARCHAR)
