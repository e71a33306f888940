//! The `pairs` table: one row per focal-method/test-case pair, with the focal-class context
//! that every focal-context level (FM … FM_FC_MS_FF) is assembled from.

use std::path::Path;

use anyhow::{Context, Result, bail};
use polars::prelude::*;

use super::{TableSchema, read_string_lists, read_strings, read_table, string_lists, write_table};
use crate::mining::{Framework, Heuristic, Pair};

/// Bumped whenever a column is added, removed or changes meaning.
pub const VERSION: u32 = 1;

/// The declared schema of `pairs`.
pub fn schema() -> TableSchema {
    let list = DataType::List(Box::new(DataType::String));
    let mut columns: Vec<(&'static str, DataType)> = STRING_COLUMNS
        .iter()
        .map(|name| (*name, DataType::String))
        .collect();
    columns.extend(LIST_COLUMNS.iter().map(|name| (*name, list.clone())));
    TableSchema {
        name: "pairs",
        version: VERSION,
        columns,
    }
}

const STRING_COLUMNS: [&str; 14] = [
    "pair_id",
    "project_id",
    "test_file",
    "test_class",
    "test_method",
    "test_body",
    "focal_file",
    "focal_class",
    "focal_method",
    "focal_signature",
    "focal_body",
    "heuristic",
    "framework",
    "class_signature",
];

const LIST_COLUMNS: [&str; 3] = ["constructors", "method_signatures", "fields"];

fn string_field<'a>(pair: &'a Pair, column: &str) -> &'a str {
    match column {
        "pair_id" => &pair.pair_id,
        "project_id" => &pair.project_id,
        "test_file" => &pair.test_file,
        "test_class" => &pair.test_class,
        "test_method" => &pair.test_method,
        "test_body" => &pair.test_body,
        "focal_file" => &pair.focal_file,
        "focal_class" => &pair.focal_class,
        "focal_method" => &pair.focal_method,
        "focal_signature" => &pair.focal_signature,
        "focal_body" => &pair.focal_body,
        "heuristic" => pair.heuristic.as_str(),
        "framework" => pair.framework.as_str(),
        "class_signature" => &pair.class_signature,
        other => unreachable!("no string column `{other}` in pairs"),
    }
}

fn list_field<'a>(pair: &'a Pair, column: &str) -> &'a [String] {
    match column {
        "constructors" => &pair.constructors,
        "method_signatures" => &pair.method_signatures,
        "fields" => &pair.fields,
        other => unreachable!("no list column `{other}` in pairs"),
    }
}

/// Builds the table's DataFrame.
pub fn to_frame(pairs: &[Pair]) -> Result<DataFrame> {
    let mut columns: Vec<Column> = STRING_COLUMNS
        .iter()
        .map(|name| {
            let values: Vec<&str> = pairs.iter().map(|p| string_field(p, name)).collect();
            Column::new((*name).into(), values)
        })
        .collect();
    for name in LIST_COLUMNS {
        columns.push(string_lists(name, pairs.iter().map(|p| list_field(p, name).to_vec())).into());
    }
    Ok(DataFrame::new(columns)?)
}

fn parse_heuristic(s: &str) -> Result<Heuristic> {
    match s {
        "name" => Ok(Heuristic::Name),
        "unique_call" => Ok(Heuristic::UniqueCall),
        other => bail!("unknown heuristic `{other}`"),
    }
}

fn parse_framework(s: &str) -> Result<Framework> {
    match s {
        "junit3" => Ok(Framework::Junit3),
        "junit4" => Ok(Framework::Junit4),
        "junit5" => Ok(Framework::Junit5),
        "testng" => Ok(Framework::Testng),
        other => bail!("unknown test framework `{other}`"),
    }
}

/// Parses the table's DataFrame back into pairs.
pub fn from_frame(df: &DataFrame) -> Result<Vec<Pair>> {
    let mut strings: Vec<Vec<String>> = STRING_COLUMNS
        .iter()
        .map(|name| read_strings(df, name))
        .collect::<Result<_>>()?;
    let mut lists: Vec<Vec<Vec<String>>> = LIST_COLUMNS
        .iter()
        .map(|name| read_string_lists(df, name))
        .collect::<Result<_>>()?;
    let mut take = |i: usize, row: usize| std::mem::take(&mut strings[i][row]);
    let mut pairs = Vec::with_capacity(df.height());
    for row in 0..df.height() {
        let pair_id = take(0, row);
        let heuristic =
            parse_heuristic(&take(11, row)).with_context(|| format!("pair {pair_id}"))?;
        let framework =
            parse_framework(&take(12, row)).with_context(|| format!("pair {pair_id}"))?;
        pairs.push(Pair {
            project_id: take(1, row),
            test_file: take(2, row),
            test_class: take(3, row),
            test_method: take(4, row),
            test_body: take(5, row),
            focal_file: take(6, row),
            focal_class: take(7, row),
            focal_method: take(8, row),
            focal_signature: take(9, row),
            focal_body: take(10, row),
            heuristic,
            framework,
            class_signature: take(13, row),
            constructors: std::mem::take(&mut lists[0][row]),
            method_signatures: std::mem::take(&mut lists[1][row]),
            fields: std::mem::take(&mut lists[2][row]),
            pair_id,
        });
    }
    Ok(pairs)
}

/// Writes `pairs` atomically.
pub fn write_pairs(pairs: &[Pair], path: &Path) -> Result<()> {
    write_table(&mut to_frame(pairs)?, path, &schema())
}

/// Reads and checks `pairs`.
pub fn read_pairs(path: &Path) -> Result<Vec<Pair>> {
    from_frame(&read_table(path, &schema())?).with_context(|| format!("in {}", path.display()))
}
