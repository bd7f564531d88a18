-- best-vs-worst pairs only involve the extremes rows: the manifest joins this small table instead of eligible.
CREATE OR REPLACE TEMP VIEW members AS SELECT * EXCLUDE (top, bottom) FROM extremes
