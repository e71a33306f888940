//! Five test pairs as text in `results.md`: the developer's test, retrieval's first pick and
//! each reported model's first output side by side, so a reader sees what a BLEU of 15 or 50
//! looks like (issue 17 asks for generated tests beside the retrieved and the real one).
//!
//! The pairs are chosen from the data, never by hand: the test pairs that every reported run
//! has a first output for, taken one project at a time in pair-id order (pair ids are hashes,
//! so this is an arbitrary but fixed draw).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use anyhow::Result;

use super::evaluation::Evaluation;
use super::plot;
use crate::label::RunLabel;
use crate::layout::Layout;
use crate::mining::Pair;
use crate::tables::{pairs, predictions};

/// How many pairs `results.md` shows.
pub const SAMPLES: usize = 5;
/// Longer texts are cut after this many lines (and say so).
const MAX_LINES: usize = 25;

/// Appends the "Samples" section, or nothing when no pair has an output from every reported run
/// (or no predictions table exists: reports can be drawn from metrics alone).
pub fn write_samples(md: &mut String, eval: &Evaluation) -> Result<()> {
    let layout = Layout::new(&eval.out);
    let predictions_table = layout.table(predictions::NAME);
    if !predictions_table.exists() {
        return Ok(());
    }
    let reported: BTreeSet<(String, String, u32)> = eval
        .metrics
        .iter()
        .map(|m| (m.project_id.clone(), m.strategy.clone(), m.fold))
        .collect();
    let runs = eval.strategies();
    // Per test pair, per run: the first output and, for retrieval, the pair it came from.
    let mut first: BTreeMap<String, BTreeMap<String, (String, Option<String>)>> = BTreeMap::new();
    for p in predictions::read_rows(&predictions_table)? {
        if p.rank == 1 && reported.contains(&(p.project_id.clone(), p.strategy.clone(), p.fold)) {
            first
                .entry(p.pair_id)
                .or_default()
                .insert(p.strategy, (p.text, p.source_pair_id));
        }
    }
    first.retain(|_, by_run| runs.iter().all(|r| by_run.contains_key(&r.to_string())));
    if first.is_empty() {
        return Ok(());
    }
    let pairs: BTreeMap<String, Pair> = pairs::read_pairs(&layout.table("pairs"))?
        .into_iter()
        .filter(|p| first.contains_key(&p.pair_id))
        .map(|p| (p.pair_id.clone(), p))
        .collect();
    let chosen = round_robin(pairs.values().map(|p| (p.project_id.as_str(), p)));
    let _ = writeln!(md, "\n## Samples: generated, retrieved and real tests\n");
    let _ = writeln!(
        md,
        "{} test pairs that every reported run has an output for, one project at a time in \
         pair-id order: the developer's test as written, then each run's first output as the \
         metrics score it (model outputs are detokenized, so their layout is not the developer's).",
        chosen.len()
    );
    for (n, pair) in chosen.iter().enumerate() {
        let _ = writeln!(
            md,
            "\n### {}. `{}`: `{}.{}` (pair {})\n",
            n + 1,
            pair.project_id,
            pair.focal_class,
            pair.focal_method,
            pair.pair_id
        );
        code_block(md, "Developer's test", &pair.test_body);
        for run in &runs {
            let (text, source) = &first[&pair.pair_id][&run.to_string()];
            code_block(md, &title(run, source.as_deref()), text);
        }
    }
    Ok(())
}

/// Up to [`SAMPLES`] items, taking each project's next one in turn (items in each project's
/// order as given).
fn round_robin<'a, T>(items: impl IntoIterator<Item = (&'a str, T)>) -> Vec<T> {
    let mut by_project: BTreeMap<&str, std::collections::VecDeque<T>> = BTreeMap::new();
    for (project, item) in items {
        by_project.entry(project).or_default().push_back(item);
    }
    let mut chosen = Vec::new();
    while chosen.len() < SAMPLES {
        let before = chosen.len();
        for queue in by_project.values_mut() {
            if chosen.len() < SAMPLES
                && let Some(item) = queue.pop_front()
            {
                chosen.push(item);
            }
        }
        if chosen.len() == before {
            break;
        }
    }
    chosen
}

/// A run's heading; retrieval's names the training pair it retrieved, when the table knows it
/// (predictions written before version 2 do not).
fn title(run: &RunLabel, source: Option<&str>) -> String {
    match (run, source) {
        (RunLabel::Retrieval, Some(pair)) => {
            format!("IR (retrieved from training pair `{pair}`, names adapted)")
        }
        (RunLabel::Retrieval, None) => {
            "IR (the most similar training pair's test, names adapted)".into()
        }
        _ => plot::label(run),
    }
}

fn code_block(md: &mut String, title: &str, text: &str) {
    let lines: Vec<&str> = text.trim_end().lines().collect();
    let _ = writeln!(md, "**{title}**\n\n```java");
    for line in lines.iter().take(MAX_LINES) {
        let _ = writeln!(md, "{line}");
    }
    if lines.len() > MAX_LINES {
        let _ = writeln!(md, "// … {} more lines", lines.len() - MAX_LINES);
    }
    let _ = writeln!(md, "```\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_robin_takes_each_projects_items_in_turn_and_stops_at_five() {
        let items = [
            ("a", 1),
            ("a", 2),
            ("a", 3),
            ("a", 4),
            ("b", 5),
            ("c", 6),
            ("c", 7),
        ];
        assert_eq!(round_robin(items), [1, 5, 6, 2, 7]);
        assert_eq!(round_robin([("a", 1), ("b", 2)]), [1, 2]);
    }

    #[test]
    fn long_texts_are_cut_and_say_how_much() {
        let text: String = (0..30).map(|i| format!("line {i}\n")).collect();
        let mut md = String::new();
        code_block(&mut md, "T", &text);
        assert!(md.contains("line 24\n"));
        assert!(!md.contains("line 25\n"));
        assert!(md.contains("// … 5 more lines"));
    }
}
