//! Which scorer should retrieval use? (`make compare-retrieval`; issue 17 asks for "BM25 with
//! documented k1/b, or tf-idf cosine, chosen by measurement".)
//!
//! On the mined pairs of `OUT` and a training profile's customization targets and folds (the
//! `cpu` profile: the 3 smallest Table 2 targets, fold 0), every scorer of a small grid (BM25
//! with k1 ∈ {0.9, 1.2, 1.5} × b ∈ {0.5, 0.75, 1.0}, tf-idf cosine with raw and with sublinear
//! tf) retrieves each test pair's 5 nearest tests from the fold's training part, adapted to the
//! test's focal method, exactly as the `ir` strategy does. They are scored the way `tailor
//! evaluate` scores the `ir` rows: each retrieved test normalised and cut to the baseline's
//! generation length (encoded, truncated, decoded), against the decoded target ids of the
//! examples table; sacrebleu corpus BLEU-4 of the top-1 and top-1 / top-5 exact match (ignoring
//! whitespace). Prints a markdown table per (target, fold) and the retrieval throughput of each
//! scorer (queries/s, one thread, every pair of the targets querying the rest of its project).
//!
//! Retrieval is `retrieve::fold_predictions` itself (the `ir` strategy's code) with the scorer
//! swapped, and where the metrics table already holds an evaluated `ir` row for a (target,
//! fold), the default scorer's numbers are compared with it. The example reads `OUT` only; it writes nothing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;

use tailor::data::context::model_target;
use tailor::data::examples::{Example, read_examples, truncate};
use tailor::data::folds::{FoldBy, split_fold};
use tailor::data::tokenizer::CodeTokenizer;
use tailor::evaluate::generation_config;
use tailor::layout::Layout;
use tailor::metrics::{TopKRates, corpus_bleu, top_k_exact};
use tailor::mining::Pair;
use tailor::model::{Backend, hf};
use tailor::profile::{FinetuneSettings, Profile};
use tailor::retrieve::{Allowed, Bm25, ProjectIndex, Scorer, TOP_K, TfIdf, fold_predictions};
use tailor::tables::metrics as metrics_table;
use tailor::tables::pairs::read_pairs;
use tailor::tables::projects::read_projects;
use tailor::train::finetune::FoldParts;

#[derive(Parser)]
#[command(about = "Compare BM25 and tf-idf cosine retrieval on the mined corpus")]
struct Args {
    /// The output folder `make mine` and `make finetune` wrote (read only).
    #[arg(long, default_value = "out")]
    out: PathBuf,
    /// The training profile whose targets and folds are compared.
    #[arg(long, default_value = "cpu")]
    profile: String,
    /// Target projects (comma-separated); default: the profile's, as `tailor finetune` picks.
    #[arg(long, value_delimiter = ',')]
    projects: Vec<String>,
    /// Folds (comma-separated); default: the profile's `run_folds`.
    #[arg(long, value_delimiter = ',')]
    folds: Vec<usize>,
}

/// The grid compared: BM25 around Lucene's defaults, and tf-idf cosine both ways.
fn scorers() -> Vec<Scorer> {
    let mut grid: Vec<Scorer> = Vec::new();
    for k1 in [0.9, 1.2, 1.5] {
        for b in [0.5, 0.75, 1.0] {
            grid.push(Bm25 { k1, b }.into());
        }
    }
    grid.push(
        TfIdf {
            sublinear_tf: false,
        }
        .into(),
    );
    grid.push(TfIdf { sublinear_tf: true }.into());
    grid
}

/// One (target, fold): its pairs, training part and test part as the sweep records them.
struct Fold<'a> {
    project: String,
    fold: usize,
    pairs: Vec<&'a Pair>,
    train: Vec<String>,
    /// Sorted, as `tailor evaluate` orders them.
    test: Vec<String>,
}

/// What one scorer scored on one fold.
#[derive(Debug, Clone, Copy)]
struct Scores {
    bleu: f64,
    exact: TopKRates,
}

fn main() -> Result<()> {
    let args = Args::parse();
    let profile = Profile::load(&args.profile, &[])?;
    let settings = profile
        .finetune
        .as_ref()
        .with_context(|| format!("profile {} has no [finetune] section", profile.name))?;
    let layout = Layout::new(&args.out);
    let runs = layout.runs(&profile.name);

    let pairs = read_pairs(&layout.table("pairs")).context("run `make mine` first")?;
    let examples = read_examples(&args.out).context("run `make examples` first")?;
    let targets = if args.projects.is_empty() {
        target_projects(&args.out, settings)?
    } else {
        args.projects.clone()
    };
    let folds = if !args.folds.is_empty() {
        args.folds.clone()
    } else if settings.run_folds.is_empty() {
        (0..settings.folds).collect()
    } else {
        settings.run_folds.clone()
    };
    let folds = fold_parts(
        &pairs,
        &examples,
        &targets,
        &folds,
        settings,
        &args.out,
        &profile.name,
    )?;

    // References and length limit as `tailor evaluate` has them.
    let base_dir = runs.baseline_model();
    let tokenizer = CodeTokenizer::load(&base_dir).with_context(|| {
        format!(
            "loading the baseline's tokenizer from {}",
            base_dir.display()
        )
    })?;
    // The length `tailor evaluate` cuts outputs to, from the same function.
    let device = Backend::Flex.device(false)?;
    let base = hf::load_dir(&base_dir, &device)?;
    let max_length = generation_config(&base_dir, &base)?.max_length;
    let targets_by_id: HashMap<&str, &Example> =
        examples.iter().map(|e| (e.pair_id.as_str(), e)).collect();
    let recorded = recorded_ir_rows(&args.out)?;

    let grid = scorers();
    println!(
        "retrieval scorers on {} ({} pairs), profile {}: {} target fold(s), top-{TOP_K}, outputs \
         cut to {max_length} tokens as `tailor evaluate` cuts them\n",
        args.out.display(),
        pairs.len(),
        profile.name,
        folds.len()
    );
    let mut results: Vec<Vec<Scores>> = Vec::with_capacity(folds.len());
    for fold in &folds {
        let references = fold
            .test
            .iter()
            .map(|id| {
                let example = targets_by_id
                    .get(id.as_str())
                    .with_context(|| format!("test pair {id} has no example"))?;
                tokenizer.decode(&example.target_ids)
            })
            .collect::<Result<Vec<String>>>()?;
        let mut row = Vec::with_capacity(grid.len());
        for &scorer in &grid {
            let retrieved = retrieve(fold, scorer)?;
            let outputs = retrieved
                .iter()
                .map(|tests| {
                    tests
                        .iter()
                        .map(|test| {
                            let ids = tokenizer.encode(&model_target(test))?;
                            tokenizer.decode(&truncate(ids, max_length).0)
                        })
                        .collect::<Result<Vec<String>>>()
                })
                .collect::<Result<Vec<_>>>()?;
            row.push(score(&outputs, &references)?);
        }
        results.push(row);
    }

    print_table(&folds, &grid, &results, &recorded);
    println!();
    print_throughput(&folds, &grid);
    Ok(())
}

/// The target projects as `tailor finetune` picks them: the profile's list, else the projects
/// table's Table 2 targets, smallest (fewest pairs) first, at most `max_projects`.
fn target_projects(out: &Path, settings: &FinetuneSettings) -> Result<Vec<String>> {
    if !settings.projects.is_empty() {
        return Ok(settings.projects.clone());
    }
    let path = Layout::new(out).table("projects");
    let mut targets: Vec<(u64, String)> = read_projects(&path)?
        .into_iter()
        .filter(|r| r.target)
        .map(|r| (r.pairs, r.project_id))
        .collect();
    ensure!(
        !targets.is_empty(),
        "{} marks no Table 2 target",
        path.display()
    );
    targets.sort();
    let mut ids: Vec<String> = targets.into_iter().map(|(_, id)| id).collect();
    if settings.max_projects > 0 {
        ids.truncate(settings.max_projects);
    }
    Ok(ids)
}

/// Each (target, fold)'s parts, split as `tailor finetune` splits them (the project's examples in
/// pair-id order, keyed by `fold_by`); where the sweep already wrote the fold's record, the
/// split must equal it.
fn fold_parts<'a>(
    pairs: &'a [Pair],
    examples: &[Example],
    targets: &[String],
    folds: &[usize],
    settings: &FinetuneSettings,
    out: &Path,
    profile: &str,
) -> Result<Vec<Fold<'a>>> {
    let runs = Layout::new(out).runs(profile);
    let mut parts = Vec::new();
    for project in targets {
        let project_pairs: Vec<&Pair> = pairs.iter().filter(|p| &p.project_id == project).collect();
        let by_id: HashMap<&str, &Pair> = project_pairs
            .iter()
            .map(|p| (p.pair_id.as_str(), *p))
            .collect();
        let mut ids: Vec<&str> = examples
            .iter()
            .filter(|e| &e.project_id == project)
            .map(|e| e.pair_id.as_str())
            .collect();
        ensure!(!ids.is_empty(), "target {project} has no examples");
        ids.sort_unstable();
        let keys: Vec<String> = ids
            .iter()
            .map(|id| match (settings.fold_by, by_id.get(id)) {
                (FoldBy::TestClass, Some(p)) => {
                    settings.fold_by.key(id, &p.test_file, &p.test_class)
                }
                _ => id.to_string(),
            })
            .collect();
        for &fold in folds {
            ensure!(
                fold < settings.folds,
                "fold {fold} is not below {}",
                settings.folds
            );
            let split = split_fold(
                &keys,
                fold,
                settings.folds,
                settings.valid_fraction,
                settings.fold_seed,
            );
            let part = |rows: &[usize]| -> Vec<String> {
                rows.iter().map(|&i| ids[i].to_string()).collect()
            };
            let (train, mut test) = (part(&split.train), part(&split.test));
            let record = runs.fold_file(project, fold);
            if record.exists() {
                let recorded = FoldParts::read(&record)?;
                if recorded.train != train || recorded.test != test {
                    bail!(
                        "{} differs from the split of profile {profile} now (examples or fold \
                         settings changed since the sweep?)",
                        record.display()
                    );
                }
            }
            test.sort();
            parts.push(Fold {
                project: project.clone(),
                fold,
                pairs: project_pairs.clone(),
                train,
                test,
            });
        }
    }
    Ok(parts)
}

/// Per test pair of `fold`, its `TOP_K` nearest training tests under `scorer`, adapted: the
/// `ir` strategy's own retrieval (`retrieve::fold_predictions`), with the scorer swapped.
fn retrieve(fold: &Fold<'_>, scorer: Scorer) -> Result<Vec<Vec<String>>> {
    Ok(fold_predictions(
        fold.pairs.iter().copied(),
        &fold.train,
        &fold.test,
        TOP_K,
        scorer,
    )?
    .into_iter()
    .map(|p| p.retrieved.into_iter().map(|r| r.test).collect())
    .collect())
}

/// BLEU of the top-1 outputs and top-k exact match, as `evaluate::score_run` computes them.
fn score(outputs: &[Vec<String>], references: &[String]) -> Result<Scores> {
    let top1: Vec<&str> = outputs
        .iter()
        .map(|o| o.first().map_or("", String::as_str))
        .collect();
    let bleu = corpus_bleu(&top1, references).context("corpus BLEU")?.score;
    let exact = outputs
        .iter()
        .zip(references)
        .map(|(o, r)| top_k_exact(o, r))
        .collect();
    Ok(Scores { bleu, exact })
}

/// Per (project, fold): the evaluated `ir` row's BLEU, top-1 and top-5 exact match, as far as
/// the metrics table has them.
type RecordedIr = HashMap<(String, usize), [Option<f64>; 3]>;

/// The metrics table's `ir` rows, if any.
fn recorded_ir_rows(out: &Path) -> Result<RecordedIr> {
    let path = Layout::new(out).table(metrics_table::NAME);
    let mut rows = RecordedIr::new();
    if !path.exists() {
        return Ok(rows);
    }
    for row in metrics_table::read_rows(&path)? {
        if row.strategy != "ir" {
            continue;
        }
        let slot = match row.metric.as_str() {
            "bleu4_corpus" => 0,
            "exact_top1" => 1,
            "exact_top5" => 2,
            _ => continue,
        };
        rows.entry((row.project_id, row.fold as usize)).or_default()[slot] = Some(row.value);
    }
    Ok(rows)
}

/// One markdown table: a row per scorer, BLEU / top-1 / top-5 per (target, fold) and their
/// means; the best value of each column in bold.
fn print_table(
    folds: &[Fold<'_>],
    grid: &[Scorer],
    results: &[Vec<Scores>],
    recorded: &RecordedIr,
) {
    let mut header = String::from("| scorer |");
    let mut rule = String::from("|---|");
    for fold in folds {
        header += &format!(" {} f{} BLEU | top-1 | top-5 |", fold.project, fold.fold);
        rule += "---:|---:|---:|";
    }
    header += " mean BLEU | top-1 (all) | top-5 (all) | BLEU above default |";
    rule += "---:|---:|---:|---:|";
    let default = grid.iter().position(|s| *s == Scorer::default());
    // Per scorer: the cells, then the means; each column's best for bold.
    let rows: Vec<Vec<f64>> = (0..grid.len())
        .map(|s| {
            let mut cells = Vec::new();
            let mut all = TopKRates::default();
            for per_fold in results {
                let scores = per_fold[s];
                cells.extend([
                    scores.bleu,
                    100.0 * scores.exact.rate(1),
                    100.0 * scores.exact.rate(5),
                ]);
                all.merge(&scores.exact);
            }
            let mean = results.iter().map(|r| r[s].bleu).sum::<f64>() / results.len() as f64;
            cells.extend([mean, 100.0 * all.rate(1), 100.0 * all.rate(5)]);
            cells
        })
        .collect();
    let best: Vec<f64> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r[c]).fold(f64::MIN, f64::max))
        .collect();
    println!("{header}\n{rule}");
    for (s, (scorer, cells)) in grid.iter().zip(&rows).enumerate() {
        // On how many of the (target, fold)s this scorer's BLEU beats the default's.
        let above = default.map_or(String::new(), |d| {
            let wins = results.iter().filter(|r| r[s].bleu > r[d].bleu).count();
            format!("{wins}/{}", results.len())
        });
        let mark = if *scorer == Scorer::default() {
            " (default)"
        } else {
            ""
        };
        let cells: Vec<String> = cells
            .iter()
            .zip(&best)
            .map(|(v, b)| {
                if v == b {
                    format!("**{v:.2}**")
                } else {
                    format!("{v:.2}")
                }
            })
            .collect();
        println!("| {scorer}{mark} | {} | {above} |", cells.join(" | "));
    }
    println!(
        "\ntests per fold: {}; top-1/top-5 in %",
        folds
            .iter()
            .map(|f| format!("{} f{} {}", f.project, f.fold, f.test.len()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (fold, per_fold) in folds.iter().zip(results) {
        let (Some(d), Some(row)) = (default, recorded.get(&(fold.project.clone(), fold.fold)))
        else {
            continue;
        };
        let here = [
            per_fold[d].bleu,
            per_fold[d].exact.rate(1),
            per_fold[d].exact.rate(5),
        ];
        let same = row
            .iter()
            .zip(here)
            .all(|(r, h)| r.is_some_and(|r| (r - h).abs() < 1e-9));
        println!(
            "{} f{}: the default scorer {} the evaluated ir row of the metrics table",
            fold.project,
            fold.fold,
            if same { "reproduces" } else { "DIFFERS FROM" }
        );
    }
}

/// Queries/s of each scorer on one thread: every pair of each target project queries the rest
/// of its project for its 5 nearest, indexing included, repeated for at least half a second.
fn print_throughput(folds: &[Fold<'_>], grid: &[Scorer]) {
    let mut projects: Vec<&Fold<'_>> = Vec::new();
    for fold in folds {
        if !projects.iter().any(|f| f.project == fold.project) {
            projects.push(fold);
        }
    }
    let queries: usize = projects.iter().map(|f| f.pairs.len()).sum();
    println!("| scorer | queries/s (1 thread, all pairs of the targets, indexing included) |");
    println!("|---|---:|");
    for &scorer in grid {
        let started = Instant::now();
        let mut rounds = 0u32;
        while rounds == 0 || started.elapsed() < Duration::from_millis(500) {
            for fold in &projects {
                let index = ProjectIndex::build(
                    fold.pairs
                        .iter()
                        .map(|p| (p.pair_id.as_str(), p.focal_body.as_str())),
                    scorer,
                );
                let mut scratch = Vec::new();
                for doc in 0..index.len() {
                    std::hint::black_box(index.search_doc_with(
                        doc,
                        TOP_K,
                        Allowed::All,
                        &mut scratch,
                    ));
                }
            }
            rounds += 1;
        }
        let per_second = f64::from(rounds) * queries as f64 / started.elapsed().as_secs_f64();
        println!("| {scorer} | {per_second:.0} |");
    }
}
