"""Pure cleaning and deduplication stages: strings and DataFrames in, DataFrames out."""
