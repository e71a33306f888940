//! Parquet tables under `out/tables/`: schemas declared once, versioned, checked on read.
