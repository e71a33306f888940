//! `make bench-serve` (being written).
