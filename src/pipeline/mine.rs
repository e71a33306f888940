//! The `mine` stage: acquire a corpus, extract each project's pairs, split projects, write the
//! `projects` and `pairs` tables and choose Table 2's targets.
//!
//! Projects are mined one at a time (each in parallel inside), so memory holds one project's
//! parse at a time plus the pairs. Each project's result is cached under
//! `<cache>/mined/<project_id>.parquet` + `.json`, keyed by the checkout's revision, the
//! miner's source hash and the options, so a re-run, or a run interrupted half-way, redoes
//! only what changed. A project that fails to acquire or mine is a row with `status=error`
//! and its cause; the run goes on.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::acquire::AcquireOptions;
use crate::data::split::{SizeClass, Split, assign};
use crate::layout::{Cache, Layout};
use crate::mining::{MineOptions, MiningStats, Pair, mine_checkout};
use crate::report::table2::{Table2, Table2Options, select_targets};
use crate::tables::projects::{ProjectRow, Status, write_projects};
use crate::tables::{pairs, projects, table_path};

/// Identifies the miner that produced a cached result.
const MINER_HASH: &str = env!("TAILOR_MINER_HASH");

/// Everything `tailor mine` needs.
#[derive(Debug, Clone)]
pub struct MineConfig {
    pub corpus: PathBuf,
    pub out: PathBuf,
    pub acquire: AcquireOptions,
    pub mine: MineOptions,
    pub table2: Table2Options,
}

/// What a run produced, for the summary and the exit status.
#[derive(Debug)]
pub struct MineReport {
    pub projects: Vec<ProjectRow>,
    pub pairs: usize,
    pub table2: Table2,
    pub seconds: f64,
}

impl MineReport {
    pub fn ok(&self) -> usize {
        self.projects
            .iter()
            .filter(|p| p.status == Status::Ok)
            .count()
    }

    pub fn failed(&self) -> impl Iterator<Item = &ProjectRow> {
        self.projects.iter().filter(|p| p.status == Status::Error)
    }
}

/// The key a cached mining result must match to be reused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct CacheKey {
    miner: String,
    revision: String,
    checkout: String,
    max_file_bytes: u64,
}

#[derive(Debug, Serialize, Deserialize)]
struct CachedStats {
    key: CacheKey,
    stats: StatsRecord,
}

/// `MiningStats` as stored in the cache (the struct itself stays serde-free).
#[derive(Debug, Serialize, Deserialize)]
struct StatsRecord(BTreeMap<String, u64>);

impl StatsRecord {
    fn from_stats(stats: &MiningStats) -> Self {
        StatsRecord(
            projects::mining_counters(stats)
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
        )
    }

    fn to_stats(&self) -> MiningStats {
        let mut stats = MiningStats::default();
        for (k, v) in &self.0 {
            projects::set_mining_counter(&mut stats, k, *v);
        }
        stats
    }
}

fn cache_paths(cache: &Path, project_id: &str) -> (PathBuf, PathBuf) {
    Cache::new(cache).mined(project_id)
}

fn load_cached(cache: &Path, project_id: &str, key: &CacheKey) -> Option<(Vec<Pair>, MiningStats)> {
    let (pairs_path, stats_path) = cache_paths(cache, project_id);
    let stored: CachedStats = serde_json::from_slice(&std::fs::read(&stats_path).ok()?).ok()?;
    if &stored.key != key {
        return None;
    }
    let pairs = pairs::read_pairs(&pairs_path).ok()?;
    Some((pairs, stored.stats.to_stats()))
}

fn store_cached(
    cache: &Path,
    project_id: &str,
    key: CacheKey,
    pairs_found: &[Pair],
    stats: &MiningStats,
) -> Result<()> {
    let (pairs_path, stats_path) = cache_paths(cache, project_id);
    pairs::write_pairs(pairs_found, &pairs_path)?;
    let record = CachedStats {
        key,
        stats: StatsRecord::from_stats(stats),
    };
    // The stats file is written last: it is what marks the cache entry complete.
    let tmp = stats_path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_vec_pretty(&record)?)
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &stats_path).with_context(|| format!("writing {}", stats_path.display()))
}

/// Runs the stage.
pub fn run(config: &MineConfig) -> Result<MineReport> {
    let start = Instant::now();
    let acquired = crate::acquire::acquire_corpus(&config.corpus, &config.acquire)?;
    let mut rows: Vec<ProjectRow> = Vec::with_capacity(acquired.len());
    let mut all_pairs: Vec<Pair> = Vec::new();

    let ok_count = acquired.iter().filter(|a| a.result.is_ok()).count();
    let bar = ProgressBar::new(ok_count as u64).with_style(
        ProgressStyle::with_template(
            "mining {bar:30} {pos}/{len} projects, {msg} [{elapsed_precise}, eta {eta}]",
        )
        .expect("valid template"),
    );
    for item in &acquired {
        let mut row = ProjectRow::from_acquired(item);
        if let Ok(checkout) = &item.result {
            bar.set_message(checkout.spec.id.clone());
            let key = CacheKey {
                miner: MINER_HASH.to_string(),
                revision: checkout.revision.clone(),
                checkout: checkout.path.display().to_string(),
                max_file_bytes: config.mine.max_file_bytes,
            };
            let cache = &config.acquire.cache_dir;
            let mined = match load_cached(cache, &checkout.spec.id, &key) {
                Some(hit) => Ok(hit),
                None => mine_checkout(&checkout.spec.id, &checkout.path, &config.mine).and_then(
                    |found| {
                        store_cached(cache, &checkout.spec.id, key, &found.pairs, &found.stats)
                            .with_context(|| {
                                format!("caching the pairs of {}", checkout.spec.id)
                            })?;
                        Ok((found.pairs, found.stats))
                    },
                ),
            };
            match mined {
                Ok((found, stats)) => {
                    row.pairs = found.len() as u64;
                    row.mining = stats;
                    all_pairs.extend(found);
                }
                Err(e) => {
                    bar.println(format!("{}: mining failed: {e:#}", checkout.spec.id));
                    row.status = Status::Error;
                    row.error = Some(format!("mining failed: {e:#}"));
                }
            }
            bar.inc(1);
        }
        if row.status == Status::Ok {
            let class = SizeClass::of_test_files(row.test_files);
            row.size_class = Some(class.as_str().to_string());
            row.split = Some(assign(&row.project_id, class).as_str().to_string());
        }
        rows.push(row);
    }
    bar.finish_and_clear();

    let table2 = select_targets(&mut rows, &config.table2);
    pairs::write_pairs(&all_pairs, &table_path(&config.out, "pairs"))?;
    write_projects(&rows, &table_path(&config.out, "projects"))?;
    table2.write(&Layout::new(&config.out).reports_dir())?;
    Ok(MineReport {
        pairs: all_pairs.len(),
        projects: rows,
        table2,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The summary printed after a run: totals, failures, and split sizes by size class.
pub fn summary(report: &MineReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let ok: Vec<&ProjectRow> = report
        .projects
        .iter()
        .filter(|p| p.status == Status::Ok)
        .collect();
    let sum = |f: fn(&MiningStats) -> u64| ok.iter().map(|p| f(&p.mining)).sum::<u64>();
    let _ = writeln!(
        s,
        "projects: {} ok, {} failed\n\
         java files: {} ({:.1} MB), parsed {} ({:.1} MB); {} too large, {} not UTF-8, {} with syntax errors\n\
         test classes: {} ({} mapped to a focal class)\n\
         test cases: {} ({} mapped to a focal method)\n\
         pairs: {} after removing {} duplicates\n\
         time: {:.1} s",
        ok.len(),
        report.projects.len() - ok.len(),
        ok.iter().map(|p| p.java_files).sum::<u64>(),
        ok.iter().map(|p| p.java_bytes).sum::<u64>() as f64 / 1e6,
        sum(|m| m.files_parsed),
        sum(|m| m.bytes_parsed) as f64 / 1e6,
        sum(|m| m.files_too_large),
        sum(|m| m.files_lossy_utf8),
        sum(|m| m.files_with_syntax_errors),
        sum(|m| m.test_classes),
        sum(|m| m.mapped_test_classes),
        sum(|m| m.test_cases),
        sum(|m| m.mapped_test_cases),
        report.pairs,
        sum(|m| m.duplicate_pairs),
        report.seconds,
    );
    let failed: Vec<&ProjectRow> = report.failed().collect();
    if !failed.is_empty() {
        let _ = writeln!(s, "\nfailed projects:");
        for p in &failed {
            let _ = writeln!(
                s,
                "  {}: {}",
                p.project_id,
                p.error.as_deref().unwrap_or("unknown error")
            );
        }
    }
    let _ = writeln!(
        s,
        "\nsplit (projects / pairs) by size class (test files in the checkout):"
    );
    let _ = writeln!(
        s,
        "  {:<10} {:>16} {:>16} {:>16}",
        "class", "train", "valid", "test"
    );
    for class in SizeClass::ALL {
        let cells: Vec<String> = Split::ALL
            .iter()
            .map(|split| {
                let in_cell = ok.iter().filter(|p| {
                    p.size_class.as_deref() == Some(class.as_str())
                        && p.split.as_deref() == Some(split.as_str())
                });
                let (n, pairs) = in_cell.fold((0, 0), |(n, pairs), p| (n + 1, pairs + p.pairs));
                format!("{n} / {pairs}")
            })
            .collect();
        let (test, valid) = class.rates();
        let _ = writeln!(
            s,
            "  {:<10} {:>16} {:>16} {:>16}   (rates: test {:.0}%, valid {:.0}%)",
            class.as_str(),
            cells[0],
            cells[1],
            cells[2],
            test * 100.0,
            valid * 100.0
        );
    }
    s
}
