//! The evaluation tables a report reads, loaded once: the finetune table (costs, losses), the
//! metrics `tailor evaluate` wrote per (project, strategy, fold), and its per-test scores. The
//! report's tables and figures are queries over this, so they agree with each other.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};

use super::plot::order;
use crate::label::{RETRIEVAL, RunLabel};
use crate::layout::{Layout, Runs};
use crate::tables::finetune::{self as finetune_table, FinetuneRow};
use crate::tables::metrics::{self as metrics_table, MetricRow};
use crate::tables::test_scores::{self, TestScoreRow};

/// Everything evaluated for one profile in one output folder.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    pub out: PathBuf,
    pub profile: String,
    /// Finished finetune rows of the profile (baseline rows included).
    pub finetune: Vec<FinetuneRow>,
    pub metrics: Vec<MetricRow>,
    pub scores: Vec<TestScoreRow>,
}

/// What a reported row must have been measured on: the fold files and the base as they are now.
/// A row the sweep has not revisited since the base was retrained (or a fold moved) is left
/// out here, named on stderr, so no table mixes numbers of two bases or two folds.
struct Current {
    base_hash: Option<String>,
    /// Each (project, fold)'s current membership hash, read once.
    folds: std::collections::HashMap<(String, u32), Option<String>>,
}

impl Current {
    fn read(runs: &Runs) -> Result<Self> {
        let base = runs.baseline_model();
        let base_hash = if base.join(crate::model::hf::WEIGHTS_FILE).exists() {
            Some(crate::model::adapter::base_hash(&base)?)
        } else {
            None
        };
        Ok(Self {
            base_hash,
            folds: std::collections::HashMap::new(),
        })
    }

    fn admits(&mut self, runs: &Runs, row: &FinetuneRow) -> bool {
        let fold_now = self
            .folds
            .entry((row.project_id.clone(), row.fold))
            .or_insert_with(|| {
                let file = runs.fold_file(&row.project_id, row.fold as usize);
                crate::data::folds::FoldParts::read(&file)
                    .map(|parts| parts.membership_hash())
                    .ok()
            });
        let fold_ok = fold_now.as_deref() == Some(row.fold_hash.as_str());
        // Retrieval uses no base; every model row records the base it was measured with.
        let base_ok = row.base_hash.is_empty() || self.base_hash.as_deref() == Some(&row.base_hash);
        if !(fold_ok && base_ok) {
            eprintln!(
                "report: leaving out {} {} fold {}: measured on {} (run `tailor finetune` for \
                 this project again to re-measure it)",
                row.project_id,
                row.strategy,
                row.fold,
                if fold_ok {
                    "another base"
                } else {
                    "another fold"
                }
            );
        }
        fold_ok && base_ok
    }
}

/// Whether a run's metrics are reported: its finetune row is `done`, or, for a reranking run
/// (`ir+<model>`), both `ir`'s and its model's rows are.
fn is_reported(
    reported: &std::collections::HashSet<(&str, &str, u32)>,
    project: &str,
    run: &RunLabel,
    fold: u32,
) -> bool {
    match run.reranker() {
        Some(model) => {
            reported.contains(&(project, model.to_string().as_str(), fold))
                && reported.contains(&(project, RETRIEVAL, fold))
        }
        None => reported.contains(&(project, run.to_string().as_str(), fold)),
    }
}

/// The rows of a table whose run is reported; a run label that does not parse is an error
/// naming the table (labels are parsed here, at the table boundary).
fn reported_rows<R>(
    rows: Vec<R>,
    table: &Path,
    reported: &std::collections::HashSet<(&str, &str, u32)>,
    key: impl Fn(&R) -> (&str, &str, u32),
) -> Result<Vec<R>> {
    let mut kept = Vec::with_capacity(rows.len());
    for row in rows {
        let (project, strategy, fold) = key(&row);
        let run: RunLabel = strategy
            .parse()
            .with_context(|| format!("a run label in {}", table.display()))?;
        if is_reported(reported, project, &run, fold) {
            kept.push(row);
        }
    }
    Ok(kept)
}

impl Evaluation {
    /// Reads the three tables of `out`; `make evaluate` must have run.
    pub fn load(out: &Path, profile: &str) -> Result<Self> {
        let layout = Layout::new(out);
        let runs = layout.runs(profile);
        let finetune_path = layout.table(finetune_table::NAME);
        let mut current = Current::read(&runs)?;
        let finetune: Vec<FinetuneRow> = finetune_table::read_rows(&finetune_path)?
            .into_iter()
            .filter(|r| r.status == finetune_table::DONE)
            .filter(|r| runs.fold_file(&r.project_id, r.fold as usize).exists())
            .filter(|r| current.admits(&runs, r))
            .collect();
        // Only runs the finetune table still reports (not stale, capped or untrained since).
        let reported: std::collections::HashSet<(&str, &str, u32)> = finetune
            .iter()
            .map(|r| (r.project_id.as_str(), r.strategy.as_str(), r.fold))
            .collect();
        let metrics_path = layout.table(metrics_table::NAME);
        let metrics: Vec<MetricRow> = reported_rows(
            metrics_table::read_rows(&metrics_path)
                .with_context(|| format!("run `tailor evaluate --profile {profile}` first"))?,
            &metrics_path,
            &reported,
            |r| (r.project_id.as_str(), r.strategy.as_str(), r.fold),
        )?;
        ensure!(
            !metrics.is_empty(),
            "{} holds no metrics: run `tailor evaluate --profile {profile}`",
            metrics_path.display()
        );
        let scores_path = layout.table(test_scores::NAME);
        let scores: Vec<TestScoreRow> = reported_rows(
            test_scores::read_rows(&scores_path)?,
            &scores_path,
            &reported,
            |r| (r.project_id.as_str(), r.strategy.as_str(), r.fold),
        )?;
        Ok(Self {
            out: out.to_path_buf(),
            profile: profile.to_string(),
            finetune,
            metrics,
            scores,
        })
    }

    /// The profile's run folders.
    pub fn runs(&self) -> Runs {
        Layout::new(&self.out).runs(&self.profile)
    }

    /// The runs with metrics (baseline, strategies, retrieval, rerankings), in the paper's
    /// order. [`Evaluation::load`] refuses a label that does not parse.
    pub fn strategies(&self) -> Vec<RunLabel> {
        let names: std::collections::BTreeSet<&str> =
            self.metrics.iter().map(|r| r.strategy.as_str()).collect();
        let mut runs: Vec<(RunLabel, &str)> = names
            .into_iter()
            .filter_map(|name| Some((name.parse().ok()?, name)))
            .collect();
        runs.sort_by(|a, b| order(&a.0).cmp(&order(&b.0)).then(a.1.cmp(b.1)));
        runs.into_iter().map(|(run, _)| run).collect()
    }

    /// The projects with metrics, sorted.
    pub fn projects(&self) -> Vec<String> {
        let mut names: Vec<String> = self.metrics.iter().map(|r| r.project_id.clone()).collect();
        names.sort();
        names.dedup();
        names
    }

    /// The folds evaluated per (project, strategy).
    pub fn folds(&self, project: &str, run: &RunLabel) -> usize {
        let mut folds: Vec<u32> = self
            .metrics
            .iter()
            .filter(|r| r.project_id == project && *run == r.strategy)
            .map(|r| r.fold)
            .collect();
        folds.sort_unstable();
        folds.dedup();
        folds.len()
    }

    /// Mean over folds of `metric` per (project, strategy); NaN values are left out, so a fold
    /// whose metric is undefined does not hide the others.
    pub fn project_means(&self, metric: &str) -> BTreeMap<(String, String), f64> {
        let mut sums: BTreeMap<(String, String), (f64, usize)> = BTreeMap::new();
        for row in self
            .metrics
            .iter()
            .filter(|r| r.metric == metric && r.value.is_finite())
        {
            let entry = sums
                .entry((row.project_id.clone(), row.strategy.clone()))
                .or_default();
            entry.0 += row.value;
            entry.1 += 1;
        }
        sums.into_iter()
            .map(|(k, (s, n))| (k, s / n as f64))
            .collect()
    }

    /// One run's per-project means of `metric`, by project.
    pub fn per_project(&self, run: &RunLabel, metric: &str) -> BTreeMap<String, f64> {
        self.project_means(metric)
            .into_iter()
            .filter(|((_, s), _)| run == s)
            .map(|((p, _), v)| (p, v))
            .collect()
    }

    /// The mean over projects of the per-project means (Table 3's average row).
    pub fn average(&self, run: &RunLabel, metric: &str) -> Option<f64> {
        mean(self.per_project(run, metric).values().copied())
    }

    /// `metric` pooled over every test of a strategy: the run values weighted by their test
    /// counts (for rates such as top-k match, "aggregated over the projects" as in Figure 4).
    pub fn pooled(&self, run: &RunLabel, metric: &str) -> Option<f64> {
        let mut n: BTreeMap<(&str, u32), f64> = BTreeMap::new();
        for row in self
            .metrics
            .iter()
            .filter(|r| *run == r.strategy && r.metric == "n")
        {
            n.insert((row.project_id.as_str(), row.fold), row.value);
        }
        let (mut sum, mut weight) = (0.0, 0.0);
        for row in self
            .metrics
            .iter()
            .filter(|r| *run == r.strategy && r.metric == metric && r.value.is_finite())
        {
            let w = n
                .get(&(row.project_id.as_str(), row.fold))
                .copied()
                .unwrap_or(0.0);
            sum += row.value * w;
            weight += w;
        }
        (weight > 0.0).then(|| sum / weight)
    }

    /// Test pairs evaluated for a run label, over all its runs.
    pub fn tests(&self, run: &RunLabel) -> usize {
        self.metrics
            .iter()
            .filter(|r| *run == r.strategy && r.metric == "n")
            .map(|r| r.value as usize)
            .sum()
    }
}

/// Mean of finite values; `None` when there are none.
pub fn mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (s, n) = values
        .into_iter()
        .filter(|v| v.is_finite())
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| s / n as f64)
}

/// A number for a Markdown table, `—` when missing.
pub fn fmt(value: Option<f64>, decimals: usize) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v:.decimals$}"),
        _ => "—".to_string(),
    }
}

/// A share (0–1) as a percentage with one decimal for a Markdown table, `—` when missing.
pub fn pct(v: Option<f64>) -> String {
    fmt(v.map(|v| v * 100.0), 1) + if v.is_some() { "%" } else { "" }
}

/// Writes `text` to `dir/name`, creating `dir`.
pub fn write_text(dir: &Path, name: &str, text: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// Writes CSV `rows` under `header` to `dir/name`.
pub fn write_csv(dir: &Path, name: &str, header: &[&str], rows: &[Vec<String>]) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join(name);
    let mut writer =
        csv::Writer::from_path(&path).with_context(|| format!("creating {}", path.display()))?;
    writer
        .write_record(header)
        .with_context(|| format!("writing {}", path.display()))?;
    for row in rows {
        writer
            .write_record(row)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    writer
        .flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

/// A CSV cell: empty for a missing or non-finite number.
pub fn cell(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() => format!("{v}"),
        _ => String::new(),
    }
}
