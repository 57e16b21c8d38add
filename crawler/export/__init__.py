"""`storewatch export`: a store's models, versions or counters as Parquet, CSV or JSONL, for pandas, DuckDB, R."""
