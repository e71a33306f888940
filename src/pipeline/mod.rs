//! Stages that chain other stages: `mine` = acquire + extract + split + Table 2.

pub mod mine;
