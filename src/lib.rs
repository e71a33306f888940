//! tailor: mine Java focal-method/test pairs, measure how much vocabulary projects share, and
//! train and customize BART test generators per project (Zlotchevski et al., ESEC/FSE 2022).
//!
//! Each module is one stage or one concept; stages talk to each other only through the Parquet
//! tables and model files under `out/` (see `tables`).

pub mod acquire;
pub mod adapt;
pub mod bench;
pub mod cli;
pub mod data;
pub mod evaluate;
pub mod generate;
pub mod java;
pub mod label;
pub mod layout;
pub mod metrics;
pub mod mining;
pub mod model;
pub mod pipeline;
pub mod profile;
pub mod report;
pub mod retrieve;
pub mod serve;
pub mod strategy;
pub mod suggest;
pub mod tables;
pub mod train;
pub mod vocab;
