//! One file per subcommand: each parses its arguments and calls its stage.

pub mod acquire;
pub mod baseline;
pub mod bench_heatmap;
pub mod bench_mine;
pub mod bench_mixed;
pub mod bench_model;
pub mod bench_train;
pub mod corpus;
pub mod evaluate;
pub mod examples;
pub mod export_check;
pub mod finetune;
pub mod generate;
pub mod heatmap;
pub mod mine;
pub mod model;
pub mod report;
pub mod retrieve;
pub mod table2;
