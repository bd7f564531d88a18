-- The other strategies pair any eligible candidate.
CREATE OR REPLACE TEMP VIEW members AS SELECT * FROM eligible
