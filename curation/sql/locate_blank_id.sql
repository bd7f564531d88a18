-- The first rating whose id is only whitespace: as empty as a NULL one, so never paired (issue 12 item 6).
-- A blank id is '' or starts with a byte below '!' (space, tab, line breaks): that cheap comparison (which DuckDB
-- can also answer from Parquet row-group statistics) picks the few rows the trim must confirm.
-- chr(9)..chr(13) are tab, newline, vertical tab, form feed and carriage return.
WITH suspects AS (
    SELECT _row, clip_id, candidate_id, method, annotator_id
    FROM ratings
    WHERE clip_id < '!' OR candidate_id < '!' OR method < '!' OR annotator_id < '!'
), blank AS (
    SELECT _row,
           trim(clip_id, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)) = '' AS clip_id,
           trim(candidate_id, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)) = '' AS candidate_id,
           trim(method, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)) = '' AS method,
           trim(annotator_id, ' ' || chr(9) || chr(10) || chr(11) || chr(12) || chr(13)) = '' AS annotator_id
    FROM suspects
)
SELECT _row,
       CASE WHEN clip_id THEN 'clip_id' WHEN candidate_id THEN 'candidate_id' WHEN method THEN 'method'
            ELSE 'annotator_id' END AS col
FROM blank
WHERE clip_id OR candidate_id OR method OR annotator_id
ORDER BY _row
LIMIT 1
