//! Table 2 of the paper: the customization targets, sampled from the test split.
//!
//! The sample is stored in the `projects` table (`target` column) so fine-tuning customizes
//! exactly these projects and never re-samples them differently.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::tables::projects::{ProjectRow, Status};

/// How targets are chosen (paper §4: 20 projects from the test split; ≥ 300 pairs so four
/// folds each have enough to train and test on).
#[derive(Debug, Clone, clap::Args)]
pub struct Table2Options {
    /// Number of target projects.
    #[arg(long = "n", default_value_t = 20)]
    pub n: usize,
    /// Minimum number of pairs a target must have.
    #[arg(long, default_value_t = 300)]
    pub min_pairs: u64,
    /// Seed of the sample among eligible test-split projects.
    #[arg(long, default_value_t = 2022)]
    pub seed: u64,
}

/// The outcome of a selection: the chosen rows (sorted as in the paper) and how many were
/// eligible.
#[derive(Debug, Clone)]
pub struct Table2 {
    pub targets: Vec<ProjectRow>,
    pub eligible: usize,
    pub requested: usize,
    pub min_pairs: u64,
}

/// Marks the targets in `rows` (clearing earlier marks) and returns the table.
pub fn select_targets(rows: &mut [ProjectRow], opts: &Table2Options) -> Table2 {
    let mut eligible: Vec<usize> = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.status == Status::Ok
                && r.split.as_deref() == Some("test")
                && r.pairs >= opts.min_pairs
        })
        .map(|(i, _)| i)
        .collect();
    // A seeded permutation that does not depend on row order.
    eligible.sort_by_key(|&i| {
        (
            xxh3_64_with_seed(rows[i].project_id.as_bytes(), opts.seed),
            rows[i].project_id.clone(),
        )
    });
    let n_eligible = eligible.len();
    eligible.truncate(opts.n);
    for row in rows.iter_mut() {
        row.target = false;
    }
    for &i in &eligible {
        rows[i].target = true;
    }
    let mut targets: Vec<ProjectRow> = eligible.iter().map(|&i| rows[i].clone()).collect();
    targets.sort_by(|a, b| a.pairs.cmp(&b.pairs).then(a.project_id.cmp(&b.project_id)));
    Table2 {
        targets,
        eligible: n_eligible,
        requested: opts.n,
        min_pairs: opts.min_pairs,
    }
}

fn size_mb(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / 1e6)
}

impl Table2 {
    /// The table as Markdown, with a line saying how the sample was drawn.
    pub fn to_markdown(&self) -> String {
        let mut md = String::from("Table 2: Dataset - Projects used for customization\n\n");
        md.push_str("| Project ID | Name | Size (MB) | Stars | Dataset Size |\n");
        md.push_str("|---|---|---:|---:|---:|\n");
        for t in &self.targets {
            let stars = t.stars.map_or_else(|| "–".to_string(), |s| s.to_string());
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                t.project_id,
                t.name,
                size_mb(t.size_bytes),
                stars,
                t.pairs
            );
        }
        let _ = writeln!(
            md,
            "\n{} of {} eligible test-split projects with ≥ {} pairs (requested {}).",
            self.targets.len(),
            self.eligible,
            self.min_pairs,
            self.requested
        );
        md
    }

    /// Writes `table2.md` and `table2.csv` into `dir`.
    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let md = dir.join("table2.md");
        std::fs::write(&md, self.to_markdown())
            .with_context(|| format!("writing {}", md.display()))?;
        let csv_path = dir.join("table2.csv");
        let mut w = csv::Writer::from_path(&csv_path)
            .with_context(|| format!("writing {}", csv_path.display()))?;
        w.write_record(["project_id", "name", "size_mb", "stars", "dataset_size"])?;
        for t in &self.targets {
            w.write_record([
                t.project_id.clone(),
                t.name.clone(),
                size_mb(t.size_bytes),
                t.stars.map(|s| s.to_string()).unwrap_or_default(),
                t.pairs.to_string(),
            ])?;
        }
        w.flush()
            .with_context(|| format!("writing {}", csv_path.display()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mining::MiningStats;

    fn row(id: &str, split: &str, pairs: u64) -> ProjectRow {
        ProjectRow {
            project_id: id.into(),
            name: format!("Project {id}"),
            source: format!("deb:{id}"),
            revision: None,
            checkout: None,
            size_bytes: 5_300_000,
            java_files: 1,
            java_bytes: 1,
            test_files: 1,
            download_bytes: 0,
            stars: (id.len() % 2 == 0).then_some(6),
            status: Status::Ok,
            error: None,
            split: Some(split.into()),
            size_class: Some("huge".into()),
            target: false,
            mining: MiningStats::default(),
            pairs,
        }
    }

    fn corpus() -> Vec<ProjectRow> {
        let mut rows: Vec<ProjectRow> = (0..30)
            .map(|i| row(&format!("t{i}"), "test", 300 + i * 10))
            .collect();
        rows.push(row("small", "test", 299));
        rows.push(row("trainee", "train", 5000));
        rows
    }

    #[test]
    fn targets_come_from_the_test_split_with_enough_pairs_sorted_by_dataset_size() {
        let mut rows = corpus();
        let opts = Table2Options {
            n: 20,
            min_pairs: 300,
            seed: 1,
        };
        let table = select_targets(&mut rows, &opts);
        assert_eq!(table.targets.len(), 20);
        assert_eq!(table.eligible, 30);
        assert!(
            table
                .targets
                .iter()
                .all(|t| t.pairs >= 300 && t.split.as_deref() == Some("test"))
        );
        assert!(table.targets.windows(2).all(|w| w[0].pairs <= w[1].pairs));
        assert_eq!(rows.iter().filter(|r| r.target).count(), 20);
        assert!(
            !rows
                .iter()
                .any(|r| r.target && (r.project_id == "small" || r.project_id == "trainee"))
        );
    }

    #[test]
    fn the_sample_depends_on_the_seed_not_on_row_order() {
        let opts = Table2Options {
            n: 10,
            min_pairs: 300,
            seed: 7,
        };
        let mut a = corpus();
        let mut b = corpus();
        b.reverse();
        let ids = |t: &Table2| {
            t.targets
                .iter()
                .map(|r| r.project_id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(
            ids(&select_targets(&mut a, &opts)),
            ids(&select_targets(&mut b, &opts))
        );
        let other = Table2Options { seed: 8, ..opts };
        assert_ne!(
            ids(&select_targets(&mut a, &opts)),
            ids(&select_targets(&mut a, &other))
        );
    }

    #[test]
    fn the_table_has_the_papers_columns() {
        let mut rows = corpus();
        let table = select_targets(
            &mut rows,
            &Table2Options {
                n: 2,
                min_pairs: 300,
                seed: 1,
            },
        );
        let md = table.to_markdown();
        assert!(md.contains("| Project ID | Name | Size (MB) | Stars | Dataset Size |"));
        assert!(md.contains("| 5.3 |"));
        assert!(md.contains("2 of 30 eligible"));
    }
}
