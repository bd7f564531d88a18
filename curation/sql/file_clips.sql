-- Clip media given in the ratings file itself (image, audio, prompt, skeleton), one row per clip.
CREATE OR REPLACE TEMP TABLE file_clips AS
SELECT clip_id, any_value(image) AS image, any_value(audio) AS audio, any_value(prompt) AS prompt,
       any_value(skeleton) AS skeleton
FROM ratings
GROUP BY clip_id
