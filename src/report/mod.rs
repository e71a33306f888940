//! The paper's tables and figures, made from the Parquet tables under `out/`.

pub mod table2;
pub mod figure1;
