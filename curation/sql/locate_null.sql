-- The first rating with an empty required cell.
SELECT _row,
       CASE WHEN clip_id IS NULL THEN 'clip_id'
            WHEN candidate_id IS NULL THEN 'candidate_id'
            WHEN method IS NULL THEN 'method'
            WHEN annotator_id IS NULL THEN 'annotator_id'
            WHEN alignment IS NULL THEN 'alignment'
            ELSE 'fidelity' END AS col
FROM ratings
WHERE clip_id IS NULL OR candidate_id IS NULL OR method IS NULL OR annotator_id IS NULL
   OR alignment IS NULL OR fidelity IS NULL
ORDER BY _row
LIMIT 1
