//! The `finetune` stage: the baseline first when it is missing (as the `baseline` stage trains
//! and reports it, without sample tests), the examples brought up to the profile's `[data]`
//! settings when it exists (so `--set data.retrieved=1` customizes on retrieval-augmented
//! inputs from the plain baseline), then the customization sweep ([`crate::train::finetune`]).

use std::io::IsTerminal;

use anyhow::Result;

use super::baseline::run_baseline;
use crate::data::examples::ensure_examples;
use crate::model::hf;
use crate::profile::{FinetuneSettings, Profile};
use crate::train::baseline::{BaselineOptions, model_dir};
use crate::train::finetune::{FinetuneOptions, run_sweep};

/// Run every (project, fold, strategy) of the profile's `finetune` section (narrowed by the
/// caller through `settings`), training the baseline first when there is none.
pub fn run_finetune(
    profile: &Profile,
    settings: &FinetuneSettings,
    options: &FinetuneOptions,
) -> Result<()> {
    let base_dir = model_dir(&options.out, &profile.name);
    if !base_dir.join(hf::WEIGHTS_FILE).exists() {
        println!(
            "finetune: no baseline at {} yet: training it first (profile {})",
            base_dir.display(),
            profile.name
        );
        run_baseline(
            profile,
            &BaselineOptions {
                out: options.out.clone(),
                backend: options.backend,
                cuda: options.cuda,
                peak_tflops: options.peak_tflops,
                samples: 0,
            },
        )?;
    } else {
        // The baseline trains on its own examples; the sweep reads the examples table, which
        // must hold the profile's settings (rebuilt, saying why, only when it does not).
        ensure_examples(&options.out, &profile.data, std::io::stderr().is_terminal())?;
    }
    run_sweep(profile, settings, options)
}
