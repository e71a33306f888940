//! The `examples` table: one row per pair of a split project, as token ids ready for training,
//! with the lengths before and after truncation so every report can say what was cut, and, for
//! retrieval-augmented inputs, which pair's test was appended and its BM25 score, so every
//! prediction can be traced to what the model was shown.

use std::path::Path;

use anyhow::Result;
use polars::prelude::*;

use super::{Columns, TableSchema, columns};

/// Bumped whenever a column is added, removed or changes meaning. 2: `retrieved_pair_id` and
/// `retrieved_score` (issue 17).
pub const VERSION: u32 = 2;

/// One row of `examples`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExampleRow {
    pub pair_id: String,
    pub project_id: String,
    /// `train`, `valid` or `test`, from the project's split.
    pub split: String,
    /// The focal-context level of the input (`FM_FC_MS_FF`, …).
    pub level: String,
    /// `<s> … </s>`, at most the `max_input` of the settings.
    pub input_ids: Vec<u32>,
    pub target_ids: Vec<u32>,
    /// Token counts before truncation.
    pub input_full_len: u32,
    pub target_full_len: u32,
    /// The pair whose (adapted) test follows the focal context in the input; `None` for plain
    /// inputs, and for augmented ones where no allowed pair shares a term with the focal method.
    pub retrieved_pair_id: Option<String>,
    /// Its BM25 score for this example's focal method; `None` exactly when the id is.
    pub retrieved_score: Option<f64>,
}

impl ExampleRow {
    pub fn input_truncated(&self) -> bool {
        self.input_full_len as usize > self.input_ids.len()
    }

    pub fn target_truncated(&self) -> bool {
        self.target_full_len as usize > self.target_ids.len()
    }
}

columns! {
    ExampleRow {
        pair_id,
        project_id,
        split,
        level,
        input_ids,
        target_ids,
        input_len = |r| r.input_ids.len() as u32,
        target_len = |r| r.target_ids.len() as u32,
        input_full_len,
        target_full_len,
        input_truncated = ExampleRow::input_truncated,
        target_truncated = ExampleRow::target_truncated,
        retrieved_pair_id,
        retrieved_score,
    }
}

/// The declared schema of `examples`.
pub fn schema() -> TableSchema {
    TableSchema::of::<ExampleRow>("examples", VERSION)
}

/// Builds the table's DataFrame.
pub fn to_frame(rows: &[ExampleRow]) -> Result<DataFrame> {
    super::to_frame(rows)
}

/// Parses the table's DataFrame back into rows.
pub fn from_frame(df: &DataFrame) -> Result<Vec<ExampleRow>> {
    ExampleRow::read(df)
}

/// Writes `examples` atomically.
pub fn write_examples(rows: &[ExampleRow], path: &Path) -> Result<()> {
    super::write_rows(rows, path, &schema())
}

/// Reads and checks `examples`.
pub fn read_examples(path: &Path) -> Result<Vec<ExampleRow>> {
    super::read_rows(path, &schema())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{read_table, table_path};

    #[test]
    fn examples_survive_a_round_trip_with_their_truncation_flags() {
        let dir = tempfile::tempdir().unwrap();
        let path = table_path(dir.path(), "examples");
        let rows = vec![
            ExampleRow {
                pair_id: "a".into(),
                project_id: "p".into(),
                split: "train".into(),
                level: "FM".into(),
                input_ids: vec![0, 7, 2],
                target_ids: vec![0, 9, 9, 2],
                input_full_len: 5,
                target_full_len: 4,
                retrieved_pair_id: Some("c".into()),
                retrieved_score: Some(3.25),
            },
            ExampleRow {
                pair_id: "b".into(),
                project_id: "p".into(),
                split: "valid".into(),
                level: "FM".into(),
                input_ids: vec![],
                target_ids: vec![0, 2],
                input_full_len: 0,
                target_full_len: 2,
                retrieved_pair_id: None,
                retrieved_score: None,
            },
        ];
        write_examples(&rows, &path).unwrap();
        assert_eq!(read_examples(&path).unwrap(), rows);
        let df = read_table(&path, &schema()).unwrap();
        let flags: Vec<Option<bool>> = df
            .column("input_truncated")
            .unwrap()
            .bool()
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(flags, vec![Some(true), Some(false)]);
        // A plain input's retrieval columns are null, not an empty id and a zero score.
        let scores: Vec<Option<f64>> = df
            .column("retrieved_score")
            .unwrap()
            .f64()
            .unwrap()
            .into_iter()
            .collect();
        assert_eq!(scores, vec![Some(3.25), None]);
    }

    #[test]
    fn an_empty_examples_table_keeps_its_schema() {
        let dir = tempfile::tempdir().unwrap();
        let path = table_path(dir.path(), "examples");
        write_examples(&[], &path).unwrap();
        assert!(read_examples(&path).unwrap().is_empty());
    }
}
