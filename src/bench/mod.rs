//! Benchmarks: each stage's speed measured on its own code paths, one file per benchmark
//! (`tailor bench-*`, `make bench-*`).
//!
//! They live in the library, not in the command layer, because they drive library internals
//! directly (the trainer's step and loop, the miner, the shared-token matrix, the adapter bank)
//! and their measuring code is tested like the stages themselves; a `tailor bench-*` command only
//! parses its options and calls one `run` here. A benchmark prints its table; none writes a table
//! another stage reads (`mine` keeps its report under `OUT/reports/`).
//!
//! [`model`]: training-step and beam-search throughput per backend, beside PyTorch;
//! [`train`]: the training loop and each strategy's step on real batches; [`mine`]: extraction;
//! [`heatmap`]: the shared-token matrix on synthetic corpora; [`mixed`]: one base serving many
//! projects' adapters in mixed batches vs one project at a time.

pub mod heatmap;
pub mod mine;
pub mod mixed;
pub mod model;
pub mod train;
