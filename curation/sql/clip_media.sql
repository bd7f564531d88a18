-- Per clip its conditioning media: from the ratings file where it has them, else from the store.
CREATE OR REPLACE TEMP TABLE clip_media AS
SELECT coalesce(f.clip_id, s.clip_id) AS clip_id,
       coalesce(f.image, s.image) AS image,
       coalesce(f.audio, s.audio) AS audio,
       coalesce(f.prompt, s.prompt) AS prompt,
       coalesce(f.skeleton, s.skeleton) AS skeleton
FROM file_clips f
FULL OUTER JOIN store_clips s ON s.clip_id = f.clip_id
