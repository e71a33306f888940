//! What a run is, as the tables' `strategy` column names it: the baseline, retrieval (`ir`), a
//! customization strategy (`custom`, `lora`, …) or retrieval reranked by a model (`ir+custom`).
//!
//! The tables keep storing the strings; evaluation and the report parse them once, at the table
//! boundary, and compare [`RunLabel`]s, so "is this the baseline?" or "is this a learned
//! strategy?" is a match, not a string compared in many places. [`RunLabel`]'s `FromStr` and
//! `Display` round-trip the stored strings exactly.

use std::fmt;
use std::str::FromStr;

use anyhow::{Error, bail};

/// The label of the un-customized base evaluated on a fold's parts.
pub const BASELINE: &str = "baseline";
/// The label of retrieval: the fold's most similar training tests, no model.
pub const RETRIEVAL: &str = "ir";
/// The prefix of a reranking run's label: `ir+custom` is retrieval's candidates ordered by the
/// customized model's likelihood (`crate::generate::rerank`).
pub const RERANK_PREFIX: &str = "ir+";

/// One run's label in the finetune, predictions, metrics and test-score tables.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RunLabel {
    /// The base model, not customized.
    Baseline,
    /// Retrieval without a model (`ir`).
    Retrieval,
    /// A customization strategy, by its name (`custom`, `l-eo`, `l-ldb`, `prefix`, `lora`, …).
    Strategy(String),
    /// Retrieval's candidates reranked by a model: the baseline or a strategy, never retrieval.
    Rerank(Box<RunLabel>),
}

impl RunLabel {
    /// The model a reranking run orders retrieval's candidates by, if this is one.
    pub fn reranker(&self) -> Option<&RunLabel> {
        match self {
            RunLabel::Rerank(model) => Some(model),
            _ => None,
        }
    }

    /// Whether this is a learned customization strategy (not the baseline, retrieval or a
    /// reranking): what the paper compares "between customization strategies".
    pub fn is_strategy(&self) -> bool {
        matches!(self, RunLabel::Strategy(_))
    }

    /// The reranking of retrieval's candidates by this model (`ir+<self>`), if it is a model.
    pub fn reranked(&self) -> Option<RunLabel> {
        matches!(self, RunLabel::Baseline | RunLabel::Strategy(_))
            .then(|| RunLabel::Rerank(Box::new(self.clone())))
    }

    /// Whether `stored` (a table's `strategy` cell) names this run, without parsing it.
    fn names(&self, stored: &str) -> bool {
        match self {
            RunLabel::Baseline => stored == BASELINE,
            RunLabel::Retrieval => stored == RETRIEVAL,
            RunLabel::Strategy(name) => stored == name,
            RunLabel::Rerank(model) => stored
                .strip_prefix(RERANK_PREFIX)
                .is_some_and(|inner| model.names(inner)),
        }
    }
}

impl FromStr for RunLabel {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "" => bail!("an empty run label"),
            BASELINE => RunLabel::Baseline,
            RETRIEVAL => RunLabel::Retrieval,
            _ => match s.strip_prefix(RERANK_PREFIX) {
                Some(model) => match model.parse()? {
                    label @ (RunLabel::Baseline | RunLabel::Strategy(_)) => {
                        RunLabel::Rerank(Box::new(label))
                    }
                    _ => {
                        bail!("run label `{s}`: only a model (the baseline or a strategy) reranks")
                    }
                },
                None => RunLabel::Strategy(s.to_string()),
            },
        })
    }
}

impl fmt::Display for RunLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunLabel::Baseline => f.write_str(BASELINE),
            RunLabel::Retrieval => f.write_str(RETRIEVAL),
            RunLabel::Strategy(name) => f.write_str(name),
            RunLabel::Rerank(model) => write!(f, "{RERANK_PREFIX}{model}"),
        }
    }
}

impl PartialEq<str> for RunLabel {
    fn eq(&self, other: &str) -> bool {
        self.names(other)
    }
}

impl PartialEq<&str> for RunLabel {
    fn eq(&self, other: &&str) -> bool {
        self.names(other)
    }
}

impl PartialEq<String> for RunLabel {
    fn eq(&self, other: &String) -> bool {
        self.names(other)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_the_stored_strings() {
        for stored in [
            "baseline",
            "ir",
            "custom",
            "l-eo",
            "l-ldb",
            "prefix",
            "lora",
            "ir+baseline",
            "ir+custom",
            "ir+lora",
        ] {
            let label: RunLabel = stored.parse().unwrap();
            assert_eq!(label.to_string(), stored);
            assert!(label == stored);
        }
    }

    #[test]
    fn a_reranking_names_its_model_and_only_a_model_reranks() {
        let label: RunLabel = "ir+custom".parse().unwrap();
        assert_eq!(label.reranker(), Some(&RunLabel::Strategy("custom".into())));
        assert_eq!(RunLabel::Strategy("custom".into()).reranked(), Some(label));
        assert_eq!(RunLabel::Retrieval.reranked(), None);
        assert!("ir+ir".parse::<RunLabel>().is_err());
        assert!("ir+ir+custom".parse::<RunLabel>().is_err());
        assert!("ir+".parse::<RunLabel>().is_err());
        assert!("".parse::<RunLabel>().is_err());
    }

    #[test]
    fn only_strategies_are_learned_and_comparison_needs_no_parse() {
        assert!(RunLabel::Strategy("lora".into()).is_strategy());
        for label in [RunLabel::Baseline, RunLabel::Retrieval] {
            assert!(!label.is_strategy());
        }
        assert!(!"ir+custom".parse::<RunLabel>().unwrap().is_strategy());
        assert!(RunLabel::Baseline != "ir");
        assert!("ir+custom".parse::<RunLabel>().unwrap() != "ir+lora");
    }
}
