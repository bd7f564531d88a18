-- The first rating with an id that breaks the id rule (storage/ids.py; see check_values.sql), and which column.
SELECT _row,
       CASE WHEN NOT regexp_full_match(clip_id, $id_re) THEN 'clip_id'
            WHEN NOT regexp_full_match(candidate_id, $candidate_id_re) THEN 'candidate_id'
            WHEN NOT regexp_full_match(method, $id_re) THEN 'method'
            ELSE 'annotator_id' END AS col,
       CASE WHEN NOT regexp_full_match(clip_id, $id_re) THEN clip_id
            WHEN NOT regexp_full_match(candidate_id, $candidate_id_re) THEN candidate_id
            WHEN NOT regexp_full_match(method, $id_re) THEN method
            ELSE annotator_id END AS value
FROM ratings
WHERE NOT regexp_full_match(clip_id, $id_re) OR NOT regexp_full_match(candidate_id, $candidate_id_re)
   OR NOT regexp_full_match(method, $id_re) OR NOT regexp_full_match(annotator_id, $id_re)
ORDER BY _row
LIMIT 1
