//! The paper's tables and figures, made from the Parquet tables under `out/`.

pub mod curves;
pub mod figure1;
pub mod table2;
