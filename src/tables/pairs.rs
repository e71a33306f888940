//! The `pairs` table: one row per focal-method/test-case pair, with the focal-class context
//! that every focal-context level (FM … FM_FC_MS_FF) is assembled from.

use std::path::Path;

use anyhow::{Result, bail};
use polars::prelude::*;

use super::{Columns, Label, TableSchema, columns};
use crate::mining::{Framework, Heuristic, Pair};

/// Bumped whenever a column is added, removed or changes meaning.
pub const VERSION: u32 = 1;

columns! {
    Pair {
        pair_id,
        project_id,
        test_file,
        test_class,
        test_method,
        test_body,
        focal_file,
        focal_class,
        focal_method,
        focal_signature,
        focal_body,
        heuristic,
        framework,
        class_signature,
        constructors,
        method_signatures,
        fields,
    }
}

impl Label for Heuristic {
    fn label(&self) -> &'static str {
        self.as_str()
    }

    fn parse(label: &str) -> Result<Self> {
        match label {
            "name" => Ok(Heuristic::Name),
            "unique_call" => Ok(Heuristic::UniqueCall),
            other => bail!("unknown heuristic `{other}`"),
        }
    }
}

impl Label for Framework {
    fn label(&self) -> &'static str {
        self.as_str()
    }

    fn parse(label: &str) -> Result<Self> {
        match label {
            "junit3" => Ok(Framework::Junit3),
            "junit4" => Ok(Framework::Junit4),
            "junit5" => Ok(Framework::Junit5),
            "testng" => Ok(Framework::Testng),
            other => bail!("unknown test framework `{other}`"),
        }
    }
}

/// The declared schema of `pairs`.
pub fn schema() -> TableSchema {
    TableSchema::of::<Pair>("pairs", VERSION)
}

/// Builds the table's DataFrame.
pub fn to_frame(pairs: &[Pair]) -> Result<DataFrame> {
    super::to_frame(pairs)
}

/// Parses the table's DataFrame back into pairs.
pub fn from_frame(df: &DataFrame) -> Result<Vec<Pair>> {
    Pair::read(df)
}

/// Writes `pairs` atomically.
pub fn write_pairs(pairs: &[Pair], path: &Path) -> Result<()> {
    super::write_rows(pairs, path, &schema())
}

/// Reads and checks `pairs`.
pub fn read_pairs(path: &Path) -> Result<Vec<Pair>> {
    super::read_rows(path, &schema())
}
