-- A dense integer per annotator, so the duplicate check in candidate_stats.sql is integer arithmetic.
CREATE OR REPLACE TEMP TABLE annotator_codes AS
SELECT annotator_id, (row_number() OVER (ORDER BY annotator_id) - 1)::BIGINT AS code
FROM (SELECT DISTINCT annotator_id FROM ratings WHERE annotator_id IS NOT NULL)
