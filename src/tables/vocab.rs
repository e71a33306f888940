//! The `shared_tokens` and `vocab_summary` tables (being built).
