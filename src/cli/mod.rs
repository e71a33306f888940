//! One file per subcommand: each parses its arguments and calls its stage.

pub mod acquire;
pub mod bench_heatmap;
pub mod bench_mine;
pub mod bench_model;
pub mod corpus;
pub mod examples;
pub mod generate;
pub mod heatmap;
pub mod mine;
pub mod model;
pub mod table2;
