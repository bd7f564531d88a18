"""Named DuckDB queries of pair building, one per file (loaded by curation._duck)."""
