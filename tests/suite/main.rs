//! The integration tests, as one test binary with one module per area (as ripgrep does): each
//! separate binary linked the whole crate with polars and burn, so one binary builds and links
//! once. `cargo test --test suite <module>::` runs one area, e.g. `strategies::`.

mod adapt;
mod common;
mod data;
mod finetune_records;
mod heatmap;
mod learnable;
mod metrics;
mod mine;
mod mining;
mod mixed;
mod model;
mod model_activations;
mod report;
mod retrieve;
mod serve;
mod strategies;
mod suggest;
mod train;
