-- Rows in the source (for a Parquet file DuckDB answers from the footer, without a scan).
SELECT count(*) AS n FROM src
