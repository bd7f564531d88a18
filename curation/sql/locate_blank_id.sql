-- The first rating whose id is only whitespace: as empty as a NULL one, so never paired (issue 12 item 6).
-- chr(9)..chr(13) are tab, newline, vertical tab, form feed and carriage return.
SELECT _row,
       CASE WHEN trim(clip_id, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)) = '' THEN 'clip_id'
            WHEN trim(candidate_id, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)) = '' THEN 'candidate_id'
            WHEN trim(method, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)) = '' THEN 'method'
            ELSE 'annotator_id' END AS col
FROM ratings
WHERE trim(clip_id, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)) = ''
   OR trim(candidate_id, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)) = ''
   OR trim(method, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)) = ''
   OR trim(annotator_id, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)) = ''
ORDER BY _row
LIMIT 1
