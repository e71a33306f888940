//! Two output folders' runs side by side: the same strategies on the same targets and folds,
//! trained on different inputs (plain, or with the nearest existing test appended:
//! `data.retrieved`). `tailor report --beside OTHER_OUT` appends this to `results.md` and writes
//! `inputs.csv`, so "which inputs are better, and per CPU hour" is read from the data, never
//! copied from one report into another.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::evaluation::{Evaluation, fmt, mean, pct};
use super::plot::label;
use crate::evaluate::metric;
use crate::label::RunLabel;
use crate::tables::predictions::PredictionRow;

/// One side of the comparison: an output folder's evaluation, how it names itself, and its
/// [`copies_of_ir`] (empty without a predictions table).
pub struct Side<'a> {
    pub name: String,
    pub eval: &'a Evaluation,
    pub copies: Copies,
}

impl<'a> Side<'a> {
    /// The side of output folder `out`, named by its path, with the copies its predictions
    /// table shows (none without one).
    pub fn load(out: &Path, eval: &'a Evaluation) -> Result<Self> {
        let path = crate::layout::Layout::new(out).table(crate::tables::predictions::NAME);
        let copies = if path.exists() {
            copies_of_ir(&crate::tables::predictions::read_rows(&path)?)
        } else {
            Copies::new()
        };
        Ok(Self {
            name: out.display().to_string(),
            eval,
            copies,
        })
    }
}

/// Per (strategy, project): top-1 outputs equal to `ir`'s top-1 for the same test pair, and
/// test pairs compared.
pub type Copies = BTreeMap<(String, String), (usize, usize)>;

/// How often each run's top-1 output is `ir`'s top-1 (whitespace ignored, as exact match
/// compares): a model whose input carries the retrieved test and that only copies it scores
/// 100%; one that ignores it scores about what chance gives.
pub fn copies_of_ir(predictions: &[PredictionRow]) -> Copies {
    let squeeze = |text: &str| -> String { text.split_whitespace().collect() };
    let ir: HashMap<(&str, &str, u32), String> = predictions
        .iter()
        .filter(|r| r.rank == 1 && r.strategy == "ir")
        .map(|r| {
            (
                (r.project_id.as_str(), r.pair_id.as_str(), r.fold),
                squeeze(&r.text),
            )
        })
        .collect();
    let mut copies = Copies::new();
    for r in predictions
        .iter()
        .filter(|r| r.rank == 1 && r.strategy != "ir")
    {
        let Some(retrieved) = ir.get(&(r.project_id.as_str(), r.pair_id.as_str(), r.fold)) else {
            continue;
        };
        let entry = copies
            .entry((r.strategy.clone(), r.project_id.clone()))
            .or_default();
        entry.0 += usize::from(squeeze(&r.text) == *retrieved);
        entry.1 += 1;
    }
    copies
}

/// One table row: a run label on one side, over the projects both sides have for it.
#[derive(Debug, Clone, PartialEq)]
pub struct InputsRow {
    pub run: String,
    pub side: String,
    /// What the runs' recorded recipes say about `data.retrieved` ("0", "1", "0, 1", or "—"
    /// where the label trains nothing).
    pub retrieved: String,
    pub projects: usize,
    pub test_loss: Option<f64>,
    pub bleu: Option<f64>,
    pub exact_top1: Option<f64>,
    pub exact_top5: Option<f64>,
    pub abstracted_top1: Option<f64>,
    pub style: Option<f64>,
    pub parses: Option<f64>,
    /// Mean over projects of the share of top-1 outputs equal to `ir`'s ([`copies_of_ir`]).
    pub copies_ir: Option<f64>,
    pub pf_seconds: Option<f64>,
}

/// The rows of every run label either side has, each label's two rows together (this side
/// first), over the projects both sides evaluated for that label.
pub fn compare(this: &Side<'_>, other: &Side<'_>) -> Vec<InputsRow> {
    let mut labels = this.eval.strategies();
    for run in other.eval.strategies() {
        if !labels.contains(&run) {
            labels.push(run);
        }
    }
    let mut rows = Vec::new();
    for run in &labels {
        let theirs = other.eval.per_project(run, metric::BLEU_CORPUS);
        let projects: BTreeSet<String> = this
            .eval
            .per_project(run, metric::BLEU_CORPUS)
            .into_keys()
            .filter(|p| theirs.contains_key(p))
            .collect();
        if projects.is_empty() {
            continue;
        }
        for side in [this, other] {
            rows.push(row(side, run, &projects));
        }
    }
    rows
}

fn row(side: &Side<'_>, run: &RunLabel, projects: &BTreeSet<String>) -> InputsRow {
    let eval = side.eval;
    let over = |metric: &str| {
        mean(
            eval.per_project(run, metric)
                .into_iter()
                .filter(|(p, _)| projects.contains(p))
                .map(|(_, v)| v),
        )
    };
    let trained: Vec<_> = eval
        .finetune
        .iter()
        .filter(|r| *run == r.strategy && projects.contains(&r.project_id) && r.steps > 0)
        .collect();
    let settings: BTreeSet<String> = trained
        .iter()
        .map(|r| retrieved_setting(Path::new(&r.run_dir)))
        .collect();
    InputsRow {
        run: label(run),
        side: side.name.clone(),
        retrieved: if settings.is_empty() {
            "—".into()
        } else {
            settings.into_iter().collect::<Vec<_>>().join(", ")
        },
        projects: projects.len(),
        test_loss: over(metric::TEST_LOSS),
        bleu: over(metric::BLEU_CORPUS),
        exact_top1: over(&metric::exact(1)),
        exact_top5: over(&metric::exact(5)),
        abstracted_top1: over(&metric::abstracted(1)),
        style: over(metric::STYLE_MEAN),
        parses: over(metric::VALID),
        copies_ir: mean(
            side.copies
                .iter()
                .filter(|((s, p), (_, n))| *run == *s && projects.contains(p) && *n > 0)
                .map(|(_, (copied, n))| *copied as f64 / *n as f64),
        ),
        pf_seconds: mean(trained.iter().map(|r| r.pf_seconds)),
    }
}

/// `[data] retrieved` of a run's recorded recipe (0 when the recipe predates the field);
/// `?` when the recipe cannot be read, so a missing file shows instead of passing for plain.
fn retrieved_setting(run_dir: &Path) -> String {
    let path = run_dir.join("config.resolved.toml");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return "?".into();
    };
    let Ok(value) = text.parse::<toml::Table>() else {
        return "?".into();
    };
    value
        .get("data")
        .and_then(|d| d.get("retrieved"))
        .and_then(toml::Value::as_integer)
        .unwrap_or(0)
        .to_string()
}

/// The section of `results.md`: the table and, per label trained on both sides, which side
/// has the lower test loss and the higher BLEU-4 on how many projects.
pub fn write_section(md: &mut String, this: &Side<'_>, other: &Side<'_>, rows: &[InputsRow]) {
    let _ = writeln!(md, "\n## Beside `{}`\n", other.name);
    let _ = writeln!(
        md,
        "The same run labels in this folder (`{}`) and in `{}`, each averaged over the projects \
         both evaluated (per project first, as in Table 3). `retrieved` is `data.retrieved` of \
         the runs' recorded recipes: 1 when every input carries the project's nearest existing \
         test. `top-1 is ir's`: the share of top-1 outputs that are `ir`'s top-1 for the same \
         test pair (the retrieved test an augmented input carries), whitespace ignored: 100% is \
         a model that only copies it. Also in `inputs.csv`.\n",
        this.name, other.name
    );
    let _ = writeln!(
        md,
        "| run | folder | retrieved | projects | test loss | BLEU-4 | top-1 exact | top-5 exact | \
         top-1 abstracted | identifier similarity | parses | top-1 is ir's | PF-s per run |"
    );
    let _ = writeln!(
        md,
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
    );
    for r in rows {
        let bleu_digits = if r.bleu.is_some_and(|b| b < 1.0) {
            2
        } else {
            1
        };
        let _ = writeln!(
            md,
            "| {} | `{}` | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.run,
            r.side,
            r.retrieved,
            r.projects,
            fmt(r.test_loss, 3),
            fmt(r.bleu, bleu_digits),
            pct(r.exact_top1),
            pct(r.exact_top5),
            pct(r.abstracted_top1),
            fmt(r.style, 3),
            pct(r.parses),
            pct(r.copies_ir),
            r.pf_seconds.map_or("—".into(), |v| format!("{v:.4}")),
        );
    }
    let _ = writeln!(md);
    for run in this.eval.strategies() {
        let name = label(&run);
        let Some(pair) = rows
            .chunks(2)
            .find(|c| c.len() == 2 && c[0].run == name && c[1].run == name)
        else {
            continue;
        };
        let wins = |metric: &str, lower: bool| {
            let ours = this.eval.per_project(&run, metric);
            let theirs = other.eval.per_project(&run, metric);
            let (mut won, mut n) = (0, 0);
            for (p, a) in &ours {
                if let Some(b) = theirs.get(p) {
                    n += 1;
                    if (lower && a < b) || (!lower && a > b) {
                        won += 1;
                    }
                }
            }
            (won, n)
        };
        let (loss_won, loss_n) = wins(metric::TEST_LOSS, true);
        let (bleu_won, bleu_n) = wins(metric::BLEU_CORPUS, false);
        let loss_text = if pair[0].test_loss.is_some() && pair[1].test_loss.is_some() {
            format!("lower test loss on {loss_won}/{loss_n} projects and ")
        } else {
            String::new()
        };
        let _ = writeln!(
            md,
            "- **{name}** in `{}`: {loss_text}higher BLEU-4 on {bleu_won}/{bleu_n} projects \
             than in `{}`.",
            this.name, other.name
        );
    }
}

/// `inputs.csv` under `dir`: the rows of [`write_section`].
pub fn write_csv(rows: &[InputsRow], dir: &Path) -> Result<PathBuf> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let path = dir.join("inputs.csv");
    let mut writer =
        csv::Writer::from_path(&path).with_context(|| format!("writing {}", path.display()))?;
    writer.write_record([
        "run",
        "folder",
        "retrieved",
        "projects",
        "test_loss",
        "bleu4_corpus",
        "exact_top1",
        "exact_top5",
        "abstract_top1",
        "style_similarity_mean",
        "syntax_valid",
        "top1_is_ir_top1",
        "pf_seconds_per_run",
    ])?;
    let cell = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
    for r in rows {
        writer.write_record([
            r.run.clone(),
            r.side.clone(),
            r.retrieved.clone(),
            r.projects.to_string(),
            cell(r.test_loss),
            cell(r.bleu),
            cell(r.exact_top1),
            cell(r.exact_top5),
            cell(r.abstracted_top1),
            cell(r.style),
            cell(r.parses),
            cell(r.copies_ir),
            cell(r.pf_seconds),
        ])?;
    }
    writer
        .flush()
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_rows::{finetune_row, metric_row};
    use crate::tables::finetune::FinetuneRow;

    fn evaluation(rows: &[(&str, &str, &str, f64)], finetune: Vec<FinetuneRow>) -> Evaluation {
        Evaluation {
            out: PathBuf::new(),
            profile: "test".into(),
            finetune,
            metrics: rows
                .iter()
                .map(|(project, strategy, metric, value)| {
                    metric_row(project, strategy, metric, *value)
                })
                .collect(),
            scores: Vec::new(),
        }
    }

    fn trained(project: &str, strategy: &str, run_dir: &Path, retrieved: u8) -> FinetuneRow {
        std::fs::create_dir_all(run_dir).unwrap();
        std::fs::write(
            run_dir.join("config.resolved.toml"),
            format!("profile = \"test\"\n\n[data]\nretrieved = {retrieved}\n"),
        )
        .unwrap();
        FinetuneRow {
            pf_seconds: if retrieved == 1 { 0.04 } else { 0.03 },
            run_dir: run_dir.to_string_lossy().into_owned(),
            ..finetune_row(project, strategy)
        }
    }

    #[test]
    fn runs_pair_up_over_the_projects_both_folders_have() {
        let dir = tempfile::tempdir().unwrap();
        let bleu = metric::BLEU_CORPUS;
        let loss = metric::TEST_LOSS;
        // `gamma` is only in the augmented folder: it must not move the averages.
        let augmented = evaluation(
            &[
                ("alpha", "custom", bleu, 4.0),
                ("beta", "custom", bleu, 6.0),
                ("gamma", "custom", bleu, 90.0),
                ("alpha", "custom", loss, 2.0),
                ("beta", "custom", loss, 3.0),
                ("alpha", "ir", bleu, 50.0),
                ("beta", "ir", bleu, 40.0),
            ],
            vec![
                trained("alpha", "custom", &dir.path().join("a/alpha"), 1),
                trained("beta", "custom", &dir.path().join("a/beta"), 1),
            ],
        );
        let plain = evaluation(
            &[
                ("alpha", "custom", bleu, 8.0),
                ("beta", "custom", bleu, 10.0),
                ("alpha", "custom", loss, 2.5),
                ("beta", "custom", loss, 3.5),
                ("alpha", "ir", bleu, 50.0),
                ("beta", "ir", bleu, 40.0),
            ],
            vec![
                trained("alpha", "custom", &dir.path().join("p/alpha"), 0),
                trained("beta", "custom", &dir.path().join("p/beta"), 0),
            ],
        );
        let this = Side {
            name: "out/augmented".into(),
            eval: &augmented,
            copies: Copies::from([(("custom".into(), "alpha".into()), (1, 4))]),
        };
        let other = Side {
            name: "out".into(),
            eval: &plain,
            copies: Copies::new(),
        };
        let rows = compare(&this, &other);
        let custom: Vec<_> = rows.iter().filter(|r| r.run == "Custom").collect();
        assert_eq!(custom.len(), 2);
        assert_eq!(
            (custom[0].side.as_str(), custom[0].retrieved.as_str()),
            ("out/augmented", "1")
        );
        assert_eq!(
            (custom[1].side.as_str(), custom[1].retrieved.as_str()),
            ("out", "0")
        );
        assert_eq!(custom[0].projects, 2);
        assert_eq!(custom[0].bleu, Some(5.0));
        assert_eq!(custom[1].bleu, Some(9.0));
        assert_eq!(custom[0].test_loss, Some(2.5));
        assert_eq!(custom[0].pf_seconds, Some(0.04));
        assert_eq!(custom[0].copies_ir, Some(0.25));
        assert_eq!(custom[1].copies_ir, None);
        let ir: Vec<_> = rows.iter().filter(|r| r.run == "IR").collect();
        assert_eq!(ir.len(), 2);
        assert_eq!(ir[0].retrieved, "—", "ir trains nothing");

        let mut md = String::new();
        write_section(&mut md, &this, &other, &rows);
        assert!(md.contains("## Beside `out`"), "{md}");
        assert!(
            md.contains("| Custom | `out/augmented` | 1 | 2 | 2.500 | 5.0 |"),
            "{md}"
        );
        assert!(
            md.contains(
                "- **Custom** in `out/augmented`: lower test loss on 2/2 projects and higher \
                 BLEU-4 on 0/2 projects than in `out`."
            ),
            "{md}"
        );
        let csv = std::fs::read_to_string(write_csv(&rows, dir.path()).unwrap()).unwrap();
        assert_eq!(csv.lines().count(), 1 + rows.len());
        assert!(csv.contains("Custom,out,0,2,3,9,"), "{csv}");
    }

    #[test]
    fn copies_count_top1_outputs_equal_to_irs_for_the_same_pair_and_fold() {
        let row = |strategy: &str, pair: &str, fold: u32, rank: u32, text: &str| PredictionRow {
            pair_id: pair.into(),
            project_id: "alpha".into(),
            strategy: strategy.into(),
            fold,
            rank,
            text: text.into(),
            score: 0.0,
            source_pair_id: None,
            source_score: None,
        };
        let copies = copies_of_ir(&[
            row("ir", "a", 0, 1, "@Test void t() { f(); }"),
            row("ir", "b", 0, 1, "@Test void u() { g(); }"),
            row("ir", "a", 1, 1, "@Test void v() { h(); }"),
            // Whitespace aside, the same as ir's: a copy.
            row("custom", "a", 0, 1, "@Test  void t() {\n f(); }"),
            // ir's text for another pair, or ir's for this pair in another fold: not a copy.
            row("custom", "b", 0, 1, "@Test void t() { f(); }"),
            row("custom", "a", 1, 1, "@Test void t() { f(); }"),
            // Only the top-1 output counts.
            row("custom", "b", 0, 2, "@Test void u() { g(); }"),
            // No ir prediction for this pair: not compared.
            row("custom", "c", 0, 1, "@Test void t() { f(); }"),
        ]);
        assert_eq!(
            copies,
            Copies::from([(("custom".into(), "alpha".into()), (1, 3))])
        );
    }

    #[test]
    fn an_unreadable_recipe_shows_as_unknown_not_as_plain() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(retrieved_setting(&dir.path().join("missing")), "?");
        std::fs::write(dir.path().join("config.resolved.toml"), "profile = \"x\"\n").unwrap();
        assert_eq!(retrieved_setting(dir.path()), "0");
    }
}
