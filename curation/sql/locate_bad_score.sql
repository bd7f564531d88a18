-- The first score that is not an integer 1-5 (NaN compares greater than 5 in DuckDB, so it is caught too).
SELECT _row,
       CASE WHEN NOT (alignment BETWEEN 1 AND 5 AND alignment = round(alignment)) THEN 'alignment'
            ELSE 'fidelity' END AS col,
       CASE WHEN NOT (alignment BETWEEN 1 AND 5 AND alignment = round(alignment)) THEN alignment::VARCHAR
            ELSE fidelity::VARCHAR END AS value
FROM ratings
WHERE NOT (alignment BETWEEN 1 AND 5 AND alignment = round(alignment))
   OR NOT (fidelity BETWEEN 1 AND 5 AND fidelity = round(fidelity))
ORDER BY _row
LIMIT 1
