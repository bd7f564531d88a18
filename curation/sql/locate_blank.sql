-- The first rating with a blank id (empty, or starting with a space or a control character; see check_values.sql).
SELECT _row,
       CASE WHEN ascii(clip_id) <= 32 THEN 'clip_id'
            WHEN ascii(candidate_id) <= 32 THEN 'candidate_id'
            WHEN ascii(method) <= 32 THEN 'method'
            ELSE 'annotator_id' END AS col,
       CASE WHEN ascii(clip_id) <= 32 THEN clip_id
            WHEN ascii(candidate_id) <= 32 THEN candidate_id
            WHEN ascii(method) <= 32 THEN method
            ELSE annotator_id END AS value
FROM ratings
WHERE ascii(clip_id) <= 32 OR ascii(candidate_id) <= 32 OR ascii(method) <= 32 OR ascii(annotator_id) <= 32
ORDER BY _row
LIMIT 1
