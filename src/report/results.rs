//! `results.md`: our numbers beside the paper's, and a reading of them that is computed from
//! the data — which strategies beat the baseline and on how many projects, what the tests can
//! and cannot show with this many projects, where the compute went — so the text stays true
//! when the runs change. The paper's values come from [`super::paper`] and are labelled.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::evaluation::{Evaluation, fmt, mean, pct, write_text};
use super::figure3::{Block, Figure3};
use super::paper;
use super::plot::{label, order};
use super::table4::{PairTest, fmt_p, pair_tests, smallest_p};
use crate::evaluate::metric;
use crate::label::RunLabel;
use crate::layout::Layout;
use crate::model::BartConfig;
use crate::model::hf::CONFIG_FILE;
use crate::tables::finetune::{self as table, FinetuneRow};

/// What the report knows about the setup besides the tables.
#[derive(Debug, Clone, Default)]
pub struct Setup {
    pub parameters: Option<usize>,
    pub config: Option<BartConfig>,
    /// From the baseline run's `summary.json`.
    pub train_examples: Option<u64>,
    pub baseline_pf_seconds: Option<f64>,
    pub baseline_steps: Option<u64>,
    /// The baseline's loss on validation targets with matched and with swapped inputs.
    pub baseline_input_check: Option<crate::train::baseline::InputCheck>,
}

impl Setup {
    /// Reads the baseline folder's config and the run summary, where present.
    pub fn load(out: &Path, profile: &str) -> Self {
        let runs = Layout::new(out).runs(profile);
        let config = BartConfig::load(&runs.baseline_model().join(CONFIG_FILE)).ok();
        let summary: Option<serde_json::Value> = std::fs::read_to_string(runs.baseline_summary())
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        let field = |k: &str| summary.as_ref().and_then(|s| s.get(k).cloned());
        Self {
            parameters: field("parameters")
                .and_then(|v| v.as_u64())
                .map(|v| v as usize),
            config,
            train_examples: field("train_examples").and_then(|v| v.as_u64()),
            baseline_pf_seconds: field("pf_seconds").and_then(|v| v.as_f64()),
            baseline_steps: field("steps").and_then(|v| v.as_u64()),
            baseline_input_check: field("input_check").and_then(|v| serde_json::from_value(v).ok()),
        }
    }
}

/// What every section compares: the runs with metrics, in the paper's order, and the pair
/// tests of Table 4.
struct Compared {
    strategies: Vec<RunLabel>,
    /// Every run but the baseline (retrieval and rerankings included).
    customs: Vec<RunLabel>,
    projects: Vec<String>,
    bleu_tests: Vec<PairTest>,
    ppl_tests: Vec<PairTest>,
}

impl Compared {
    fn new(eval: &Evaluation) -> Self {
        let strategies = eval.strategies();
        let customs = strategies
            .iter()
            .filter(|s| **s != RunLabel::Baseline)
            .cloned()
            .collect();
        Self {
            strategies,
            customs,
            projects: eval.projects(),
            bleu_tests: pair_tests(eval, metric::BLEU_CORPUS),
            ppl_tests: pair_tests(eval, metric::PERPLEXITY),
        }
    }

    /// `s` tested against the baseline.
    fn vs_base(tests: &[PairTest], s: &RunLabel) -> Option<PairTest> {
        tests
            .iter()
            .find(|t| t.a == *s && t.b == RunLabel::Baseline)
            .cloned()
    }

    /// The smallest exact p a test between two runs can reach with this many projects.
    fn floor(&self) -> Option<f64> {
        smallest_p(self.projects.len())
    }
}

/// Writes `results.md` under `dir`: one section after another, each a function below, then
/// `appendix` (another folder's runs beside these, [`super::inputs`]; empty for none).
pub fn write_results(
    eval: &Evaluation,
    setup: &Setup,
    fig3: &Figure3,
    appendix: &str,
    dir: &Path,
) -> Result<PathBuf> {
    let compared = Compared::new(eval);
    let mut md = String::new();
    write_setup(&mut md, eval, setup, &compared);
    write_runs(&mut md, eval)?;
    write_beside_paper(&mut md, eval, &compared);
    let _ = writeln!(md, "\n## Reading the numbers\n");
    write_rq1(&mut md, eval, &compared);
    write_significance(&mut md, &compared);
    write_rq2(&mut md, eval, &compared);
    write_rq3(&mut md, eval, &compared);
    write_figure3(&mut md, fig3);
    write_model_size(&mut md, eval);
    write_differences(&mut md, setup, eval, &compared);
    super::samples::write_samples(&mut md, eval)?;
    md.push_str(appendix);
    write_text(dir, "results.md", &md)
}

/// The title, where the numbers come from, and the setup they were measured in.
fn write_setup(md: &mut String, eval: &Evaluation, setup: &Setup, c: &Compared) {
    let _ = writeln!(
        md,
        "# Results: our runs beside the paper's (profile {})\n",
        eval.profile
    );
    let _ = writeln!(
        md,
        "Numbers marked *paper* are Zlotchevski et al. (FSE 2022), Tables 1, 3, 4 and §5, as \
         published; every other number is computed by `tailor report` from `out/tables` \
         (`finetune`, `metrics`, `test_scores`). BLEU-4 is sacrebleu's corpus BLEU of the top-1 \
         output per fold (mean over folds, then over projects); CodeXGLUE's sentence BLEU is in \
         the second column.\n"
    );
    let _ = writeln!(md, "## Setup\n");
    let folds: Vec<usize> = c
        .projects
        .iter()
        .map(|p| eval.folds(p, &RunLabel::Baseline))
        .collect();
    let _ = writeln!(
        md,
        "- Target projects: {} ({}); paper: {} projects × 4 folds.",
        c.projects.len(),
        c.projects.join(", "),
        paper::PROJECTS
    );
    let _ = writeln!(
        md,
        "- Folds evaluated per project: {}; test pairs evaluated per strategy: {}.",
        folds
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        eval.tests(c.strategies.first().unwrap_or(&RunLabel::Baseline))
    );
    if let Some(m) = &setup.config {
        let _ = writeln!(
            md,
            "- Model: BART with d_model {}, {}+{} layers, vocabulary {}{}; paper: bart-large, {:.0}M parameters, pretrained.",
            m.d_model,
            m.encoder_layers,
            m.decoder_layers,
            m.vocab_size,
            setup.parameters.map_or(String::new(), |p| format!(
                ", {:.2}M parameters",
                p as f64 / 1e6
            )),
            paper::PARAMETERS / 1e6
        );
    }
    if let Some(n) = setup.train_examples {
        let _ = writeln!(
            md,
            "- Baseline: trained from scratch here on {n} training pairs for {} steps ({} PF-s), \
             no pretraining.{}",
            setup.baseline_steps.map_or("?".into(), |s| s.to_string()),
            setup
                .baseline_pf_seconds
                .map_or("?".into(), |pf| format!("{pf:.3e}")),
            match setup.baseline_input_check {
                Some(check) => format!(
                    " On its first {} validation examples, loss {:.4}; {:.4} with every input \
                     swapped for another pair's ({:+.4} nats): {}.",
                    check.examples,
                    check.matched_loss,
                    check.swapped_loss,
                    check.swapped_loss - check.matched_loss,
                    crate::train::baseline::reads_input(check.matched_loss, check.swapped_loss)
                ),
                None => String::new(),
            }
        );
    }
}

/// Every customization run of the profile, reported or not: how many each strategy has, why
/// the others are left out (untrained, capped by the guard, stale, failed), where runs started
/// and stopped. A reader sees what the tables below rest on.
fn write_runs(md: &mut String, eval: &Evaluation) -> Result<()> {
    let path = Layout::new(&eval.out).table(table::NAME);
    let Ok(rows) = table::read_rows(&path) else {
        return Ok(());
    };
    let runs = eval.runs();
    let rows: Vec<FinetuneRow> = rows
        .into_iter()
        .filter(|r| runs.fold_file(&r.project_id, r.fold as usize).exists())
        .collect();
    let mut names: Vec<&str> = rows.iter().map(|r| r.strategy.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let mut labels: Vec<(RunLabel, &str)> = names
        .into_iter()
        .map(|name| Ok((name.parse()?, name)))
        .collect::<Result<_>>()
        .with_context(|| format!("a run label in {}", path.display()))?;
    labels.sort_by(|a, b| order(&a.0).cmp(&order(&b.0)).then(a.1.cmp(b.1)));
    let baseline: HashMap<(&str, u32), f64> = rows
        .iter()
        .filter(|r| RunLabel::Baseline == r.strategy && r.status == table::DONE)
        .map(|r| ((r.project_id.as_str(), r.fold), r.test_loss))
        .collect();
    let _ = writeln!(md, "\n## Runs\n");
    let _ = writeln!(
        md,
        "Every (project, fold) run of the finetune table. Only `done` runs are reported below: a \
         run whose best validation loss is its step-0 loss is `untrained`, one the wall-time guard \
         stopped before early stopping is `capped`, one trained on another fold or base is \
         `stale`.\n"
    );
    let _ = writeln!(
        md,
        "| Strategy | reported | not reported | step-0 val loss | best val loss | best step / steps | epochs | test loss | beats baseline | stopped by |"
    );
    let _ = writeln!(md, "|---|---:|---|---:|---:|---:|---:|---:|---:|---|");
    for (run, name) in &labels {
        let of: Vec<&FinetuneRow> = rows.iter().filter(|r| r.strategy == *name).collect();
        let _ = writeln!(md, "{}", runs_row(run, &of, &baseline));
    }
    Ok(())
}

/// One strategy's row of the runs table, from its finetune rows `of` and the baseline's test
/// loss per (project, fold).
fn runs_row(run: &RunLabel, of: &[&FinetuneRow], baseline: &HashMap<(&str, u32), f64>) -> String {
    let done: Vec<&FinetuneRow> = of
        .iter()
        .copied()
        .filter(|r| r.status == table::DONE)
        .collect();
    let left_out: Vec<String> = [table::UNTRAINED, table::CAPPED, table::STALE, table::ERROR]
        .iter()
        .filter_map(|status| {
            let n = of.iter().filter(|r| r.status == *status).count();
            (n > 0).then(|| format!("{n} {status}"))
        })
        .collect();
    let avg = |f: fn(&FinetuneRow) -> f64| mean(done.iter().map(|r| f(r)));
    let trained = !matches!(run, RunLabel::Baseline | RunLabel::Retrieval);
    let if_trained = |cell: String| if trained { cell } else { "—".into() };
    let wins = done
        .iter()
        .filter(|r| {
            baseline
                .get(&(r.project_id.as_str(), r.fold))
                .is_some_and(|&b| r.test_loss < b)
        })
        .count();
    let mut stops: Vec<&str> = done
        .iter()
        .map(|r| r.stopped.as_str())
        .filter(|s| !s.is_empty())
        .collect();
    stops.sort_unstable();
    stops.dedup();
    let or_dash = |items: Vec<String>| {
        if items.is_empty() {
            "—".into()
        } else {
            items.join(", ")
        }
    };
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
        label(run),
        done.len(),
        or_dash(left_out),
        if_trained(fmt(avg(|r| r.step0_val_loss), 3)),
        if *run == RunLabel::Retrieval {
            "—".into()
        } else {
            fmt(avg(|r| r.best_val_loss), 3)
        },
        if_trained(format!(
            "{} / {}",
            fmt(avg(|r| r.best_step as f64), 0),
            fmt(avg(|r| r.steps as f64), 0)
        )),
        if_trained(fmt(avg(|r| r.epochs), 1)),
        fmt(avg(|r| r.test_loss), 3),
        if_trained(format!("{wins}/{}", done.len())),
        or_dash(stops.into_iter().map(String::from).collect()),
    )
}

/// Our averages beside the paper's, with each run's exact p against the baseline.
fn write_beside_paper(md: &mut String, eval: &Evaluation, c: &Compared) {
    let _ = writeln!(md, "\n## Ours beside the paper\n");
    let _ = writeln!(
        md,
        "| Strategy | BLEU-4 | sentence BLEU | BLEU-4 *paper* | Perplexity | Perplexity *paper* | \
         top-1 exact | top-1 abstracted | top-1 *paper* | exact p vs baseline, BLEU (A12) | exact p vs baseline, PPL (A12) | χ² p *paper* |"
    );
    let _ = writeln!(
        md,
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"
    );
    let p_cell = |t: Option<PairTest>| match t {
        Some(t) => format!(
            "{} ({})",
            fmt_p(t.p_value),
            t.a12.map_or("—".into(), |v| format!("{v:.2}"))
        ),
        None => "—".into(),
    };
    for s in &c.strategies {
        let base = *s == RunLabel::Baseline;
        let vs_base = |tests: &[PairTest]| {
            if base {
                "—".into()
            } else {
                p_cell(Compared::vs_base(tests, s))
            }
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            label(s),
            fmt(eval.average(s, metric::BLEU_CORPUS), 1),
            fmt(eval.average(s, metric::BLEU_SENTENCE), 1),
            fmt(paper::bleu(s), 1),
            fmt(eval.average(s, metric::PERPLEXITY), 3),
            fmt(paper::perplexity(s), 3),
            pct(eval.pooled(s, &metric::exact(1))),
            pct(eval.pooled(s, &metric::abstracted(1))),
            paper::top1_text(s),
            vs_base(&c.bleu_tests),
            vs_base(&c.ppl_tests),
            if base || paper::bleu(s).is_none() {
                "—".into()
            } else {
                fmt_p(Some(paper::P_VS_BASELINE))
            },
        );
    }
}

/// RQ1: each run's BLEU-4 and perplexity against the baseline's, project by project.
fn write_rq1(md: &mut String, eval: &Evaluation, c: &Compared) {
    let base = RunLabel::Baseline;
    let base_bleu = eval.per_project(&base, metric::BLEU_CORPUS);
    let base_ppl = eval.per_project(&base, metric::PERPLEXITY);
    let _ = writeln!(md, "### RQ1: BLEU and perplexity (Table 3, Table 4)\n");
    for s in &c.customs {
        let b = eval.per_project(s, metric::BLEU_CORPUS);
        let p = eval.per_project(s, metric::PERPLEXITY);
        let bleu_wins = b
            .iter()
            .filter(|(k, v)| base_bleu.get(*k).is_some_and(|x| *v > x))
            .count();
        let ppl_wins = p
            .iter()
            .filter(|(k, v)| base_ppl.get(*k).is_some_and(|x| *v < x))
            .count();
        let (mb, mbb) = (
            eval.average(s, metric::BLEU_CORPUS),
            eval.average(&base, metric::BLEU_CORPUS),
        );
        let (mp, mpb) = (
            eval.average(s, metric::PERPLEXITY),
            eval.average(&base, metric::PERPLEXITY),
        );
        let paper_text = match (paper::bleu(s), paper::perplexity(s)) {
            (Some(b), Some(p)) => format!(
                "Paper: {} → {b:.1}, {} → {p:.3}, better on every project.",
                fmt(paper::bleu(&base), 1),
                fmt(paper::perplexity(&base), 3)
            ),
            _ => "Not in the paper.".to_string(),
        };
        // Scores under one point get two decimals, so that "higher on 3/3" never sits beside
        // "+0.0".
        let digits = if [mb, mbb].iter().flatten().all(|v| *v < 1.0) {
            2
        } else {
            1
        };
        let perplexity = if p.is_empty() {
            "no perplexity (it scores retrieved tests, it does not generate)".to_string()
        } else {
            format!(
                "perplexity {} → {} (lower on {ppl_wins}/{} projects)",
                fmt(mpb, 3),
                fmt(mp, 3),
                p.len()
            )
        };
        let _ = writeln!(
            md,
            "- **{}**: BLEU-4 {} → {} ({}; higher on {bleu_wins}/{} projects), {perplexity}. \
             {paper_text}",
            label(s),
            fmt(mbb, digits),
            fmt(mb, digits),
            match (mb, mbb) {
                // A ratio to a baseline under one point says nothing (×5000 of 0.01).
                (Some(a), Some(b)) if b >= 1.0 => format!("{:+.1} points, ×{:.2}", a - b, a / b),
                (Some(a), Some(b)) => format!("{:+.digits$} points", a - b),
                _ => "—".into(),
            },
            b.len(),
        );
    }
}

/// RQ1's tests: how many differences reach p < 0.05, against the baseline and between the
/// learned strategies, and the smallest p this many projects allow.
fn write_significance(md: &mut String, c: &Compared) {
    let floor = c.floor();
    // "Between customization strategies" counts the learned ones only, as the paper's does:
    // not retrieval (`ir`) nor its reranking by a model (`ir+<model>`).
    let significant = |tests: &[PairTest], among: bool| {
        tests
            .iter()
            .filter(|t| t.a < t.b)
            .filter(|t| {
                if among {
                    t.a.is_strategy() && t.b.is_strategy()
                } else {
                    t.a == RunLabel::Baseline || t.b == RunLabel::Baseline
                }
            })
            .filter(|t| t.p_value.is_some_and(|p| p < 0.05))
            .count()
    };
    let learned_count = c.customs.iter().filter(|s| s.is_strategy()).count();
    let among_pairs = learned_count * learned_count.saturating_sub(1) / 2;
    let _ = writeln!(
        md,
        "\nSignificance (exact two-sided permutation p of Kruskal-Wallis H; Table 4 has the \
         one-sided p, the chi-square p and, where it ran, the comparisons with `ir`): with {} \
         project(s) per group, the smallest p-value a test between two strategies can reach is {} \
         (complete separation){}. Against the baseline, {}/{} strategies differ at p < 0.05 in \
         BLEU-4 and {}/{} in perplexity (paper: all, chi-square p = 3e-08). Between customization \
         strategies, {}/{} pairs differ at p < 0.05 in BLEU-4 and {}/{} in perplexity (paper: \
         none, smallest p = {}).",
        c.projects.len(),
        fmt_p(floor),
        if floor.is_some_and(|p| p >= 0.05) {
            ": no difference can be significant at 0.05 with this few projects, whatever the models do"
        } else {
            ""
        },
        significant(&c.bleu_tests, false),
        c.customs.len(),
        significant(&c.ppl_tests, false),
        c.customs.len(),
        significant(&c.bleu_tests, true),
        among_pairs,
        significant(&c.ppl_tests, true),
        among_pairs,
        paper::MIN_P_BETWEEN_STRATEGIES,
    );
}

/// RQ2: exact and abstracted matches, identifier similarity and validity per run.
fn write_rq2(md: &mut String, eval: &Evaluation, c: &Compared) {
    let _ = writeln!(
        md,
        "\n### RQ2: exact and abstracted matches, coding style (Figure 4)\n"
    );
    for s in &c.strategies {
        let e1 = eval.pooled(s, &metric::exact(1));
        let e5 = eval.pooled(s, &metric::exact(5));
        let a1 = eval.pooled(s, &metric::abstracted(1));
        let a5 = eval.pooled(s, &metric::abstracted(5));
        let style: Vec<f64> = eval
            .scores
            .iter()
            .filter(|r| *s == r.strategy && r.style_similarity.is_finite())
            .map(|r| r.style_similarity)
            .collect();
        let _ = writeln!(
            md,
            "- **{}**: exact match {} at top-1, {} at top-5; abstracted {} → {}; mean identifier \
             similarity {} over {} tests; {} of top-1 outputs parse as a method. Paper: {}.",
            label(s),
            pct(e1),
            pct(e5),
            pct(a1),
            pct(a5),
            fmt(mean(style.iter().copied()), 3),
            style.len(),
            pct(eval.pooled(s, metric::VALID)),
            paper::top1_text(s),
        );
    }
    let best = c
        .customs
        .iter()
        .filter_map(|s| eval.pooled(s, &metric::abstracted(1)).map(|v| (s, v)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let Some((base, best)) = eval
        .pooled(&RunLabel::Baseline, &metric::abstracted(1))
        .zip(best)
    else {
        return;
    };
    if best.1 > 0.0 || base > 0.0 {
        let _ = writeln!(
            md,
            "\nThe best top-1 abstracted match is {}'s {} against the baseline's {} (paper: \
             Custom ≈ 13–14% against ≈ 3%).",
            label(best.0),
            pct(Some(best.1)),
            pct(Some(base))
        );
    } else {
        let _ = writeln!(
            md,
            "\nNo model produced a single abstracted match at top-1 (paper: customized models \
             ≈ 13–14%, the baseline ≈ 3%): these models do not yet write the developers' \
             tests, so Figure 4(a) cannot separate the strategies; BLEU, perplexity and \
             validity still can."
        );
    }
}

/// RQ3: training compute and best validation loss per run label, cheapest first.
fn write_rq3(md: &mut String, eval: &Evaluation, c: &Compared) {
    let _ = writeln!(md, "\n### RQ3: compute (Figure 5)\n");
    let mut costs: Vec<(&RunLabel, f64, f64)> = c
        .customs
        .iter()
        .filter_map(|s| {
            let rows: Vec<_> = eval.finetune.iter().filter(|r| *s == r.strategy).collect();
            let pf = mean(rows.iter().map(|r| r.pf_seconds))?;
            let loss = mean(rows.iter().map(|r| r.best_val_loss))?;
            Some((s, pf, loss))
        })
        .collect();
    costs.sort_by(|a, b| a.1.total_cmp(&b.1));
    for (s, pf, loss) in &costs {
        let _ = writeln!(
            md,
            "- **{}**: {:.3e} PF-s of training per run on average, best validation loss {:.4}.",
            label(s),
            pf,
            loss
        );
    }
    let ended = how_runs_ended(eval).unwrap_or_default();
    // A cheapest and a dearest need two strategies; with one, only how the runs ended is said.
    if let [first, .., last] = costs.as_slice() {
        let _ = writeln!(
            md,
            "\n{} spent the least compute per run and {} the most (the paper finds Custom the \
             most efficient and Prefix the least). {ended}",
            label(first.0),
            label(last.0),
        );
    } else if !ended.is_empty() {
        let _ = writeln!(md, "\n{ended}");
    }
}

/// Figure 3 in words: which block Custom fine-tuning changed most, against the paper's.
fn write_figure3(md: &mut String, fig3: &Figure3) {
    if fig3.blocks.is_empty() {
        return;
    }
    let _ = writeln!(
        md,
        "\n### Figure 3: where Custom fine-tuning changes the model\n"
    );
    let blocks: Vec<_> = fig3.blocks.iter().filter(|b| b.0 != Block::Other).collect();
    let Some(max) = blocks.iter().max_by(|a, b| a.1.total_cmp(&b.1)) else {
        return;
    };
    let last_decoder = blocks
        .iter()
        .filter_map(|b| match b.0 {
            Block::Decoder(i) => Some(i),
            _ => None,
        })
        .max();
    let is_last = matches!(max.0, Block::Decoder(i) if Some(i) == last_decoder);
    let _ = writeln!(
        md,
        "Over {} Custom run(s), the block with the largest mean absolute change is {} \
         ({:.3e}){}. The paper reports the largest changes in the last decoder block, \
         its motivation for L-LDB.",
        fig3.runs,
        max.0.name(),
        max.1,
        if is_last {
            ", the last decoder block, as in the paper"
        } else {
            ", not the last decoder block"
        }
    );
    if let Some(other) = fig3.blocks.iter().find(|b| b.0 == Block::Other) {
        let _ = writeln!(
            md,
            "The parameters outside the blocks (token and position embeddings, embedding \
             norms) changed by {:.3e} on average, {} the largest block change.",
            other.1,
            if other.1 > max.1 {
                "more than"
            } else {
                "less than"
            }
        );
    }
}

/// Why L-EO's standing can differ from the paper's: its share of a small model.
fn write_model_size(md: &mut String, eval: &Evaluation) {
    let l_eo = RunLabel::Strategy("l-eo".into());
    let Some(share) = trained_share(eval, &l_eo) else {
        return;
    };
    let _ = writeln!(
        md,
        "\n### What the model size changes\n\nL-EO trains {:.1}% of this model's parameters \
         (token embeddings = tied output layer, and positions) against {:.1}% of bart-large's \
         in the paper's Table 1: with a small vocabulary-heavy model, L-EO is a much larger \
         share of the network, so its standing among the strategies need not match the \
         paper's (where it gains least: perplexity {:.3} against {:.3} for Custom and L-LDB).",
        100.0 * share,
        100.0 * paper::L_EO_SHARE,
        paper::perplexity(&l_eo).unwrap_or(f64::NAN),
        paper::perplexity(&RunLabel::Strategy("custom".into())).unwrap_or(f64::NAN),
    );
}

/// Why our numbers differ from the paper's: model, corpus, statistical power, compute.
fn write_differences(md: &mut String, setup: &Setup, eval: &Evaluation, c: &Compared) {
    let _ = writeln!(md, "\n### Why our numbers differ from the paper's\n");
    let _ = writeln!(
        md,
        "- **Model and pretraining.** The paper customizes AthenaTest, bart-large ({:.0}M \
         parameters) pretrained on English and on source code, then fine-tuned on Methods2Test's \
         ~780K pairs. Our baseline{} is trained from scratch{} with no pretraining, so it starts \
         from a far weaker model; both its absolute scores and what customization can add differ.",
        paper::PARAMETERS / 1e6,
        setup.parameters.map_or(String::new(), |p| format!(
            " ({:.2}M parameters)",
            p as f64 / 1e6
        )),
        setup
            .train_examples
            .map_or(String::new(), |n| format!(" on {n} pairs")),
    );
    let _ = writeln!(
        md,
        "- **Corpus and references.** Our projects are mined from the corpus the profile names; \
         references are the developer tests as the model sees them (tokenized and truncated to \
         the profile's target length), so exact matches count against the truncated test."
    );
    let _ = writeln!(
        md,
        "- **Statistical power.** The paper tests over 20 projects; this run has {} (smallest \
         attainable p = {}), so the absence of significance here says little about the effect.",
        c.projects.len(),
        fmt_p(c.floor())
    );
    let _ = writeln!(
        md,
        "- **Compute.** {} Runs the wall-time guard stopped are not reported. The baseline's own \
         training budget bounds what customization starts from.",
        how_runs_ended(eval).unwrap_or_default()
    );
}

/// How the reported customization runs ended, from the finetune table: by patience, at the
/// profile's epoch or step cap, and how many were still improving (best validation loss at
/// their last step), which a longer schedule could lower further.
fn how_runs_ended(eval: &Evaluation) -> Option<String> {
    let runs: Vec<&FinetuneRow> = eval.finetune.iter().filter(|r| r.steps > 0).collect();
    if runs.is_empty() {
        return None;
    }
    let count = |reason: &str| runs.iter().filter(|r| r.stopped == reason).count();
    let improving = runs.iter().filter(|r| r.best_step == r.steps).count();
    let capped = count("max_epochs") + count("max_steps");
    let mut text = format!(
        "Of the {} reported customization runs, {} ended by early stopping and {capped} at the \
         profile's epoch or step cap; {improving} had their best validation loss at their last \
         step.",
        runs.len(),
        count("early_stopping"),
    );
    if improving > 0 {
        text.push_str(
            " Those were still improving when their schedule ended: a longer schedule could \
             lower their loss, so they measure the profile's budget as much as the strategy.",
        );
    }
    Some(text)
}

/// The mean share of a strategy's trainable parameters over its reported runs.
fn trained_share(eval: &Evaluation, strategy: &RunLabel) -> Option<f64> {
    mean(
        eval.finetune
            .iter()
            .filter(|r| *strategy == r.strategy && r.total_params > 0)
            .map(|r| r.trainable_params as f64 / r.total_params as f64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_rows::{finetune_row, metric_row};

    /// BLEU-4 per project for each strategy, over the projects `alpha` and `beta`.
    fn evaluation(bleu: &[(&str, [f64; 2])], finetune: Vec<FinetuneRow>) -> Evaluation {
        let metrics = bleu
            .iter()
            .flat_map(|(strategy, values)| {
                ["alpha", "beta"]
                    .into_iter()
                    .zip(values)
                    .map(|(p, v)| metric_row(p, strategy, metric::BLEU_CORPUS, *v))
            })
            .collect();
        Evaluation {
            out: PathBuf::new(),
            profile: "test".into(),
            finetune,
            metrics,
            scores: Vec::new(),
        }
    }

    fn rq1(eval: &Evaluation) -> String {
        let mut md = String::new();
        write_rq1(&mut md, eval, &Compared::new(eval));
        md
    }

    fn rq3(eval: &Evaluation) -> String {
        let mut md = String::new();
        write_rq3(&mut md, eval, &Compared::new(eval));
        md
    }

    #[test]
    fn rq1_gives_bleu_under_one_point_two_decimals_and_no_ratio() {
        let eval = evaluation(
            &[("baseline", [0.02, 0.04]), ("lora", [0.05, 0.07])],
            vec![],
        );
        let md = rq1(&eval);
        assert!(
            md.contains("BLEU-4 0.03 → 0.06 (+0.03 points; higher on 2/2 projects)"),
            "{md}"
        );
        assert!(
            !md.contains('×'),
            "no ratio to a baseline under one point: {md}"
        );
    }

    #[test]
    fn rq1_gives_bleu_from_one_point_one_decimal_and_a_ratio() {
        let eval = evaluation(&[("baseline", [1.0, 3.0]), ("custom", [8.0, 10.0])], vec![]);
        let md = rq1(&eval);
        assert!(
            md.contains("BLEU-4 2.0 → 9.0 (+7.0 points, ×4.50; higher on 2/2 projects)"),
            "{md}"
        );
    }

    #[test]
    fn rq3_with_one_strategy_says_only_how_the_runs_ended() {
        let eval = evaluation(
            &[("baseline", [0.0, 0.0]), ("custom", [5.0, 6.0])],
            vec![
                FinetuneRow {
                    pf_seconds: 0.03,
                    ..finetune_row("alpha", "custom")
                },
                FinetuneRow {
                    pf_seconds: 0.05,
                    ..finetune_row("beta", "custom")
                },
            ],
        );
        let md = rq3(&eval);
        assert!(!md.contains("spent the least compute"), "{md}");
        assert!(
            md.contains("Of the 2 reported customization runs, 2 ended by early stopping"),
            "{md}"
        );
    }

    #[test]
    fn rq3_with_two_strategies_names_the_cheapest_and_the_dearest() {
        let eval = evaluation(
            &[
                ("baseline", [0.0, 0.0]),
                ("custom", [5.0, 6.0]),
                ("lora", [1.0, 2.0]),
            ],
            vec![
                FinetuneRow {
                    pf_seconds: 0.05,
                    ..finetune_row("alpha", "custom")
                },
                FinetuneRow {
                    pf_seconds: 0.01,
                    ..finetune_row("alpha", "lora")
                },
            ],
        );
        let md = rq3(&eval);
        assert!(
            md.contains("LoRA spent the least compute per run and Custom the most"),
            "{md}"
        );
    }
}
