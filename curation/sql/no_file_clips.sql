-- The ratings file has no clip media columns: an empty file_clips (the store, if any, fills them).
CREATE OR REPLACE TEMP TABLE file_clips (clip_id VARCHAR, image VARCHAR, audio VARCHAR, prompt VARCHAR,
                                         skeleton VARCHAR)
