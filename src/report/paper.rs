//! The paper's published numbers (Zlotchevski et al., FSE 2022), for the comparison in
//! `results.md` only: every value here is the paper's, labelled as such where it is printed,
//! never one of ours.

use crate::label::RunLabel;

/// The name the paper's values are keyed by: the baseline's or a strategy's, none for others.
fn name(run: &RunLabel) -> &str {
    match run {
        RunLabel::Baseline => crate::label::BASELINE,
        RunLabel::Strategy(name) => name,
        RunLabel::Retrieval | RunLabel::Rerank(_) => "",
    }
}

/// Table 3's average row: BLEU-4 per strategy (`lora` is not in the paper).
pub fn bleu(run: &RunLabel) -> Option<f64> {
    match name(run) {
        "baseline" => Some(16.1),
        "custom" => Some(38.4),
        "l-eo" => Some(36.9),
        "l-ldb" => Some(37.8),
        "prefix" => Some(37.7),
        _ => None,
    }
}

/// Table 3's average row: perplexity per strategy.
pub fn perplexity(run: &RunLabel) -> Option<f64> {
    match name(run) {
        "baseline" => Some(1.262),
        "custom" => Some(1.153),
        "l-eo" => Some(1.158),
        "l-ldb" => Some(1.153),
        "prefix" => Some(1.154),
        _ => None,
    }
}

/// Table 4: every strategy against the baseline, BLEU-4 and perplexity alike.
pub const P_VS_BASELINE: f64 = 3e-8;
/// Table 4: the smallest p-value between two customization strategies (Custom vs L-EO).
pub const MIN_P_BETWEEN_STRATEGIES: f64 = 0.4;
/// Projects in the paper's evaluation (Table 2's targets), four folds each.
pub const PROJECTS: usize = 20;

/// §5.2 in words: top-1 abstracted and exact match of the customized models and the baseline.
pub fn top1_text(run: &RunLabel) -> &'static str {
    match name(run) {
        "baseline" => "≈ 3% abstracted, < 1% exact",
        "custom" | "l-eo" | "l-ldb" | "prefix" => "≈ 13–14% abstracted, ≈ 4–6% exact",
        _ => "not in the paper",
    }
}

/// bart-large's parameters (Table 1), the model the paper customizes.
pub const PARAMETERS: f64 = 406e6;

/// Table 1: L-EO's trainable share of bart-large (53.6M of 406.3M parameters).
pub const L_EO_SHARE: f64 = 53_572_608.0 / 406_291_456.0;
