//! `tailor finetune`: customize the baseline per target project with each strategy, k-fold.

use anyhow::{Context, Result, bail};

use super::{DeviceArgs, ProfileOverrides, RunArgs};
use crate::data::folds::FoldBy;
use crate::pipeline::finetune::run_finetune;
use crate::profile::Profile;
use crate::strategy::StrategyKind;
use crate::train::finetune::FinetuneOptions;

/// Customize the baseline to each target project with each strategy (custom, l-eo, l-ldb,
/// prefix, lora; `ir` adds retrieval's row) in k-fold cross-validation; evaluate every fold's test part against the
/// baseline; write out/tables/finetune.parquet as runs finish. Trains the baseline first when it
/// is missing; re-runs skip finished runs and resume interrupted ones.
#[derive(Debug, clap::Args)]
#[command(
    mut_arg("profile", |a| a.help(
        "Training profile: a name under pipelines/train/ (smoke, cpu, paper) or a TOML file; its \
         [finetune] section is the sweep"
    )),
    mut_arg("overrides", |a| a.help(
        "Override a profile field, `section.key=value` (repeatable): \
         `--set finetune.train.lr=1e-4`"
    )),
)]
pub struct Args {
    #[command(flatten)]
    pub run: RunArgs,
    #[command(flatten)]
    pub overrides: ProfileOverrides,
    /// Strategies, comma-separated, or `all` [default: the profile's].
    #[arg(long, value_delimiter = ',')]
    pub strategy: Vec<String>,
    /// Target project ids, comma-separated [default: the profile's, else Table 2's targets].
    #[arg(long, value_delimiter = ',')]
    pub projects: Vec<String>,
    /// Folds to run, comma-separated indices [default: the profile's, else all].
    #[arg(long, value_delimiter = ',')]
    pub folds: Vec<usize>,
    /// Group pairs into folds by pair (the paper) or by test class.
    #[arg(long, value_enum)]
    pub fold_by: Option<FoldBy>,
    #[command(flatten)]
    pub device: DeviceArgs,
    #[arg(long)]
    pub peak_tflops: Option<f64>,
}

/// What `--strategy` asks for: learned strategies, and whether the `ir` row is wanted.
#[derive(Debug, Clone, PartialEq)]
pub struct StrategyChoice {
    pub kinds: Vec<StrategyKind>,
    pub ir: bool,
}

/// `all` (every learned strategy and `ir`) or a list of names (`ir` among them or not).
pub fn parse_strategies(names: &[String]) -> Result<Option<StrategyChoice>> {
    if names.is_empty() {
        return Ok(None);
    }
    if names.iter().any(|n| n.trim() == "all") {
        return Ok(Some(StrategyChoice {
            kinds: StrategyKind::ALL.to_vec(),
            ir: true,
        }));
    }
    let ir = names.iter().any(|n| n.trim() == "ir");
    let kinds = names
        .iter()
        .filter(|n| n.trim() != "ir")
        .map(|name| {
            <StrategyKind as clap::ValueEnum>::from_str(name.trim(), true).map_err(|_| {
                anyhow::anyhow!(
                    "unknown strategy {name:?}: use custom, l-eo, l-ldb, prefix, lora, ir or all"
                )
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // A name given twice runs once, in the order first given.
    let mut seen = Vec::with_capacity(kinds.len());
    for kind in kinds {
        if !seen.contains(&kind) {
            seen.push(kind);
        }
    }
    Ok(Some(StrategyChoice { kinds: seen, ir }))
}

pub fn run(args: Args) -> Result<()> {
    let profile = args.overrides.load(&args.run.profile)?;
    let Some(mut settings) = profile.finetune.clone() else {
        bail!(
            "profile {} has no [finetune] section: it can train a baseline but does not say how to customize",
            Profile::path_of(&args.run.profile).display()
        );
    };
    if let Some(choice) = parse_strategies(&args.strategy).context("--strategy")? {
        settings.strategies = choice.kinds;
        settings.ir = choice.ir;
    }
    if !args.projects.is_empty() {
        settings.projects = args.projects.iter().map(|p| p.trim().to_string()).collect();
    }
    if !args.folds.is_empty() {
        settings.run_folds = args.folds.clone();
    }
    if let Some(fold_by) = args.fold_by {
        settings.fold_by = fold_by;
    }
    run_finetune(
        &profile,
        &settings,
        &FinetuneOptions {
            out: args.run.out,
            backend: args.device.backend,
            cuda: args.device.cuda,
            peak_tflops: args.peak_tflops,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &str) -> Vec<String> {
        list.split(',').map(String::from).collect()
    }

    #[test]
    fn strategy_lists_keep_order_drop_repeats_and_know_ir_and_all() {
        let choice = parse_strategies(&names("lora,ir, custom,lora"))
            .unwrap()
            .unwrap();
        assert_eq!(choice.kinds, vec![StrategyKind::Lora, StrategyKind::Custom]);
        assert!(choice.ir);
        let all = parse_strategies(&names("all,ir")).unwrap().unwrap();
        assert_eq!(all.kinds, StrategyKind::ALL.to_vec());
        assert!(all.ir);
        assert!(parse_strategies(&[]).unwrap().is_none());
        let err = parse_strategies(&names("custom,lorra")).unwrap_err();
        assert!(err.to_string().contains("lorra"), "{err}");
    }
}
