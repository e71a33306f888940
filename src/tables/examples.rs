//! The `examples` table: one row per pair of a split project, as token ids ready for training,
//! with the lengths before and after truncation so every report can say what was cut, and, for
//! retrieval-augmented inputs, which pair's test was appended and its BM25 score, so every
//! prediction can be traced to what the model was shown.

use std::path::Path;

use anyhow::{Context, Result};
use polars::prelude::*;

use super::{TableSchema, column, read_opt_strings, read_strings, read_table, write_table};

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

/// The declared schema of `examples`.
pub fn schema() -> TableSchema {
    use DataType::{Boolean, Float64, String as Str, UInt32};
    let ids = DataType::List(Box::new(UInt32));
    TableSchema {
        name: "examples",
        version: VERSION,
        columns: vec![
            ("pair_id", Str),
            ("project_id", Str),
            ("split", Str),
            ("level", Str),
            ("input_ids", ids.clone()),
            ("target_ids", ids),
            ("input_len", UInt32),
            ("target_len", UInt32),
            ("input_full_len", UInt32),
            ("target_full_len", UInt32),
            ("input_truncated", Boolean),
            ("target_truncated", Boolean),
            ("retrieved_pair_id", Str),
            ("retrieved_score", Float64),
        ],
    }
}

fn id_lists(name: &str, rows: &[ExampleRow], ids: fn(&ExampleRow) -> &[u32]) -> Series {
    let values: usize = rows.iter().map(|r| ids(r).len()).sum();
    let mut builder = ListPrimitiveChunkedBuilder::<UInt32Type>::new(
        name.into(),
        rows.len(),
        values,
        DataType::UInt32,
    );
    for row in rows {
        builder.append_slice(ids(row));
    }
    builder.finish().into_series()
}

/// Builds the table's DataFrame.
pub fn to_frame(rows: &[ExampleRow]) -> Result<DataFrame> {
    let strs = |f: fn(&ExampleRow) -> &str| rows.iter().map(f).collect::<Vec<_>>();
    let nums = |f: fn(&ExampleRow) -> u32| rows.iter().map(f).collect::<Vec<u32>>();
    let flags = |f: fn(&ExampleRow) -> bool| rows.iter().map(f).collect::<Vec<bool>>();
    let columns: Vec<Column> = vec![
        Column::new("pair_id".into(), strs(|r| &r.pair_id)),
        Column::new("project_id".into(), strs(|r| &r.project_id)),
        Column::new("split".into(), strs(|r| &r.split)),
        Column::new("level".into(), strs(|r| &r.level)),
        id_lists("input_ids", rows, |r| &r.input_ids).into(),
        id_lists("target_ids", rows, |r| &r.target_ids).into(),
        Column::new("input_len".into(), nums(|r| r.input_ids.len() as u32)),
        Column::new("target_len".into(), nums(|r| r.target_ids.len() as u32)),
        Column::new("input_full_len".into(), nums(|r| r.input_full_len)),
        Column::new("target_full_len".into(), nums(|r| r.target_full_len)),
        Column::new("input_truncated".into(), flags(ExampleRow::input_truncated)),
        Column::new(
            "target_truncated".into(),
            flags(ExampleRow::target_truncated),
        ),
        Column::new(
            "retrieved_pair_id".into(),
            rows.iter()
                .map(|r| r.retrieved_pair_id.as_deref())
                .collect::<Vec<Option<&str>>>(),
        ),
        Column::new(
            "retrieved_score".into(),
            rows.iter()
                .map(|r| r.retrieved_score)
                .collect::<Vec<Option<f64>>>(),
        ),
    ];
    Ok(DataFrame::new(columns)?)
}

fn read_id_lists(df: &DataFrame, name: &str) -> Result<Vec<Vec<u32>>> {
    let lists = column(df, name)?
        .list()
        .with_context(|| format!("column `{name}` is not a list"))?;
    lists
        .into_iter()
        .map(|row| match row {
            None => Ok(Vec::new()),
            Some(series) => Ok(series
                .u32()
                .with_context(|| format!("column `{name}` is not a list of u32"))?
                .into_no_null_iter()
                .collect()),
        })
        .collect()
}

fn read_u32(df: &DataFrame, name: &str) -> Result<Vec<u32>> {
    Ok(column(df, name)?
        .u32()
        .with_context(|| format!("column `{name}` is not a u32 column"))?
        .into_iter()
        .map(Option::unwrap_or_default)
        .collect())
}

/// Parses the table's DataFrame back into rows.
pub fn from_frame(df: &DataFrame) -> Result<Vec<ExampleRow>> {
    let pair_ids = read_strings(df, "pair_id")?;
    let project_ids = read_strings(df, "project_id")?;
    let splits = read_strings(df, "split")?;
    let levels = read_strings(df, "level")?;
    let inputs = read_id_lists(df, "input_ids")?;
    let targets = read_id_lists(df, "target_ids")?;
    let input_full = read_u32(df, "input_full_len")?;
    let target_full = read_u32(df, "target_full_len")?;
    let retrieved_ids = read_opt_strings(df, "retrieved_pair_id")?;
    let retrieved_scores: Vec<Option<f64>> = column(df, "retrieved_score")?
        .f64()
        .context("column `retrieved_score` is not a Float64 column")?
        .into_iter()
        .collect();
    let mut rows = Vec::with_capacity(pair_ids.len());
    let columns = pair_ids
        .into_iter()
        .zip(project_ids)
        .zip(splits)
        .zip(levels)
        .zip(inputs.into_iter().zip(targets))
        .zip(input_full.into_iter().zip(target_full))
        .zip(retrieved_ids.into_iter().zip(retrieved_scores));
    for ((((((pair_id, project_id), split), level), (input_ids, target_ids)), (i, t)), retrieved) in
        columns
    {
        let (retrieved_pair_id, retrieved_score) = retrieved;
        rows.push(ExampleRow {
            pair_id,
            project_id,
            split,
            level,
            input_ids,
            target_ids,
            input_full_len: i,
            target_full_len: t,
            retrieved_pair_id,
            retrieved_score,
        });
    }
    Ok(rows)
}

/// Writes `examples` atomically.
pub fn write_examples(rows: &[ExampleRow], path: &Path) -> Result<()> {
    write_table(&mut to_frame(rows)?, path, &schema())
}

/// Reads and checks `examples`.
pub fn read_examples(path: &Path) -> Result<Vec<ExampleRow>> {
    from_frame(&read_table(path, &schema())?).with_context(|| format!("in {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::table_path;

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
