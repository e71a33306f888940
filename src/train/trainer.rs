//! The one training loop. The baseline and every customization strategy run through
//! [`train`]; what trains is decided before it (the strategy freezes the rest: frozen tensors
//! get no gradient and no optimizer state), so the loop never branches on a strategy.
//!
//! Per step: a token-budget batch of the seeded epoch plan, teacher-forced cross-entropy,
//! backward, global gradient-norm clipping, AdamW (β 0.9/0.999, ε 1e-8, decoupled weight decay
//! 0.01 except on biases and layer norms, as HF's Trainer), warm-up then linear/cosine decay.
//! Every `eval_every_steps` (or `evals_per_epoch` times an epoch): validation loss, a curve row, the best model kept (early stopping
//! with patience), a checkpoint. Dropout is re-seeded from (seed, step) at every step and the
//! batch order is a function of (seed, epoch), so a run resumed from a checkpoint replays
//! exactly what an uninterrupted run does.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use burn::module::{Module, ParamGroup as BurnParamGroup, ParamId};
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;
use indicatif::{MultiProgress, ProgressBar, ProgressStyle};

use super::batch::{SeqPair, collate, nll_sum};
use super::checkpoint::{self, CHECKPOINT_DIR, MODEL_FILE, OPTIMIZER_FILE, TrainState};
use super::compute::ComputeModel;
use super::schedule::learning_rate;
use super::settings::TrainSettings;
use crate::data::batches::{BatchPlan, plan_epoch, plan_eval};
use crate::model::BartForConditionalGeneration;
use crate::model::params::{NamedParam, named_params};
use crate::tables::curves::{self, CurvePoint};

/// What a run trains on and where it writes.
pub struct Run<'a, E: SeqPair> {
    /// The run folder: `config.resolved.toml`, `checkpoint/`, `best/`, `curve.parquet`.
    pub dir: PathBuf,
    /// Shown before the progress bar (`baseline`, `spring/l-ldb/fold2`).
    pub label: String,
    pub settings: &'a TrainSettings,
    pub train: &'a [E],
    pub valid: &'a [E],
    /// Parent of this run's progress bar (a sweep over many runs), if any.
    pub progress: Option<&'a MultiProgress>,
    /// Peak TFLOP/s of the hardware, for model-FLOP utilisation.
    pub peak_tflops: Option<f64>,
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub state: TrainState,
    /// Trainable parameters (tensors the optimizer updates) and all parameters.
    pub trainable_params: usize,
    pub total_params: usize,
    /// Whether this call found the run already finished and did nothing.
    pub already_done: bool,
}

/// `TrainState::stopped` of a run that the `max_minutes` guard ended: it had not reached its
/// best validation loss by the recipe's own rules, so reports mark it and a re-run with a
/// larger guard continues it.
pub const STOPPED_BY_GUARD: &str = "max_minutes";

/// Where the best model of a run is kept.
pub const BEST_DIR: &str = crate::layout::BEST_DIR;

/// The hooks a caller supplies: freezing (the strategy) and saving the best model (an HF folder
/// for full models, an adapter for the others).
pub trait RunModel {
    /// Apply the strategy's `require_grad` selection (after every load: loading keeps ids, and
    /// this keeps the selection whatever the record held).
    fn freeze(&self, model: BartForConditionalGeneration) -> BartForConditionalGeneration;
    /// Whether the parameter at `path` trains (for compute accounting and weight decay).
    fn trains(&self, path: &str) -> bool;
    /// Write the best model so far into `dir` (a fresh folder).
    fn save_best(&self, model: &BartForConditionalGeneration, dir: &Path) -> Result<()>;
}

/// Validation-loss sample: a seeded subset of `n` indices (all when `n` is 0 or larger).
fn eval_indices(len: usize, n: usize, seed: u64) -> Vec<usize> {
    let mut indices: Vec<usize> = (0..len).collect();
    if n == 0 || n >= len {
        return indices;
    }
    let mut state = seed ^ 0x9E37_79B9_7F4A_7C15;
    // Fisher-Yates with splitmix64: deterministic, no OS entropy.
    for i in (1..len).rev() {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        indices.swap(i, (z % (i as u64 + 1)) as usize);
    }
    indices.truncate(n);
    indices.sort_unstable();
    indices
}

/// Mean token cross-entropy of `examples` (no dropout, no gradients), batched by length.
pub fn evaluate<E: SeqPair>(
    model: &BartForConditionalGeneration,
    examples: &[&E],
    batch_tokens: usize,
    device: &Device,
) -> Result<(f64, u64)> {
    let lengths: Vec<(usize, usize)> = examples
        .iter()
        .map(|e| (e.input_ids().len(), e.target_ids().len()))
        .collect();
    let plan = plan_eval(&lengths, batch_tokens);
    let (mut nll, mut tokens) = (0f64, 0u64);
    for indices in &plan.batches {
        let rows: Vec<&E> = indices.iter().map(|&i| examples[i]).collect();
        let batch = collate(&rows, model.config.decoder_start_token_id, device);
        nll += f64::from(nll_sum(model, &batch).into_scalar::<f32>());
        tokens += batch.target_tokens as u64;
    }
    ensure!(tokens > 0, "no validation tokens to evaluate on");
    Ok((nll / tokens as f64, tokens))
}

/// Parameters AdamW does not decay: biases and layer norms (HF Trainer's
/// `get_decay_parameter_names`).
fn no_decay(param: &NamedParam) -> bool {
    param.owner == "LayerNorm" || param.path.ends_with(".bias") || param.path.ends_with(".beta")
}

pub(crate) fn optimizer(settings: &TrainSettings, params: &[NamedParam]) -> ModuleOptimizer {
    let adamw = |decay: f64| {
        AdamWConfig::new()
            .with_beta_1(settings.beta1 as f32)
            .with_beta_2(settings.beta2 as f32)
            .with_epsilon(settings.eps as f32)
            .with_weight_decay(decay as f32)
    };
    let exempt: Vec<ParamId> = params
        .iter()
        .filter(|p| no_decay(p))
        .map(|p| p.id)
        .collect();
    adamw(settings.weight_decay).init().with_group(
        BurnParamGroup::from_ids(exempt),
        adamw(0.0).build(),
        None,
    )
}

/// Scale all gradients so that their global L2 norm is at most `max_norm` (PyTorch's
/// `clip_grad_norm_`); returns the norm before clipping.
pub(crate) fn clip_global_norm(
    grads: &mut GradientsParams,
    params: &[NamedParam],
    max_norm: f64,
) -> f64 {
    let mut squares: Option<Tensor<1>> = None;
    let mut add = |t: Tensor<1>| {
        squares = Some(match squares.take() {
            Some(acc) => acc + t,
            None => t,
        })
    };
    for param in params {
        match param.shape.len() {
            1 => {
                if let Some(g) = grads.get::<1>(param.id) {
                    add(g.square().sum())
                }
            }
            2 => {
                if let Some(g) = grads.get::<2>(param.id) {
                    add(g.square().sum())
                }
            }
            _ => {}
        }
    }
    let Some(squares) = squares else {
        return 0.0;
    };
    let norm = f64::from(squares.into_scalar::<f32>()).sqrt();
    if max_norm > 0.0 && norm > max_norm {
        let scale = max_norm / (norm + 1e-6);
        for param in params {
            match param.shape.len() {
                1 => {
                    if let Some(g) = grads.remove::<1>(param.id) {
                        grads.register(param.id, g.mul_scalar(scale));
                    }
                }
                2 => {
                    if let Some(g) = grads.remove::<2>(param.id) {
                        grads.register(param.id, g.mul_scalar(scale));
                    }
                }
                _ => {}
            }
        }
    }
    norm
}

/// Steps the schedule spans: `max_steps`, or `max_epochs` epochs of the plan.
fn scheduled_steps(settings: &TrainSettings, batches_per_epoch: usize) -> u64 {
    if settings.max_steps > 0 {
        settings.max_steps
    } else {
        settings.max_epochs * batches_per_epoch as u64
    }
}

fn bar(run_label: &str, total: u64, parent: Option<&MultiProgress>) -> ProgressBar {
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template(
            "{prefix} {bar:25} {pos}/{len} steps · {msg} · {elapsed_precise} (ETA {eta})",
        )
        .expect("valid template"),
    );
    bar.set_prefix(run_label.to_string());
    match parent {
        Some(multi) => multi.add(bar),
        None => bar,
    }
}

/// Train `model` (on an autodiff device, strategy modules attached) on `run.train`, resuming
/// from `run.dir/checkpoint` when there is one. Returns when the run stops (early stopping,
/// `max_steps`, `max_epochs` or `max_minutes`); a finished run returns at once.
pub fn train<E: SeqPair>(
    run: &Run<'_, E>,
    model: BartForConditionalGeneration,
    hooks: &dyn RunModel,
    device: &Device,
) -> Result<Outcome> {
    let settings = run.settings;
    ensure!(!run.train.is_empty(), "{}: no training examples", run.label);
    ensure!(
        !run.valid.is_empty(),
        "{}: no validation examples",
        run.label
    );
    ensure!(device.is_autodiff(), "training needs an autodiff device");

    let mut model = hooks.freeze(model);
    let checkpoint_dir = run.dir.join(CHECKPOINT_DIR);
    let mut state = TrainState::default();
    let resumed_from = checkpoint::existing_dir(&checkpoint_dir);
    if let Some(dir) = &resumed_from {
        model = model
            .try_load_file(dir.join(MODEL_FILE))
            .with_context(|| format!("loading the checkpoint in {}", dir.display()))?;
        model = hooks.freeze(model);
        state = checkpoint::read_state(dir)?;
    }
    let params = named_params(&model);
    let trainable: Vec<NamedParam> = params
        .iter()
        .filter(|p| hooks.trains(&p.path))
        .cloned()
        .collect();
    let trainable_count: usize = trainable.iter().map(NamedParam::numel).sum();
    let total_count: usize = params
        .iter()
        .filter(|p| p.path != "final_logits_bias")
        .map(NamedParam::numel)
        .sum();
    let outcome = |state: TrainState, already_done: bool| Outcome {
        state,
        trainable_params: trainable_count,
        total_params: total_count,
        already_done,
    };
    // A run the wall-time guard stopped goes on when the guard now allows more time (a guard
    // is a budget, not part of the recipe); every other stop is final.
    if state.stopped.as_deref() == Some(STOPPED_BY_GUARD)
        && (settings.max_minutes <= 0.0 || state.wall_seconds < settings.max_minutes * 60.0)
    {
        state.stopped = None;
    }
    if state.stopped.is_some() {
        return Ok(outcome(state, true));
    }
    ensure!(
        trainable_count > 0,
        "{}: the strategy trains no parameter",
        run.label
    );

    let mut optim = optimizer(settings, &params);
    if let Some(dir) = &resumed_from {
        optim = optim
            .load(dir.join(OPTIMIZER_FILE))
            .with_context(|| format!("loading optimizer state from {}", dir.display()))?;
    }
    let compute = ComputeModel::new(&model.config, &params, &|p| hooks.trains(p));

    let lengths: Vec<(usize, usize)> = run
        .train
        .iter()
        .map(|e| (e.input_ids().len(), e.target_ids().len()))
        .collect();
    let valid: Vec<&E> = eval_indices(run.valid.len(), settings.eval_examples, settings.seed)
        .into_iter()
        .map(|i| &run.valid[i])
        .collect();
    let mut plan: BatchPlan =
        plan_epoch(&lengths, settings.batch_tokens, settings.seed, state.epoch);
    let batches_per_epoch = plan.batches.len();
    let total_steps = scheduled_steps(settings, batches_per_epoch);
    let warmup_steps = settings.warmup(total_steps);
    let eval_every = settings.eval_every(batches_per_epoch);
    let max_steps = if settings.max_steps > 0 {
        settings.max_steps
    } else {
        u64::MAX
    };

    let progress = bar(&run.label, total_steps, run.progress);
    progress.set_position(state.step);
    if resumed_from.is_some() {
        progress.suspend(|| {
            eprintln!(
                "{}: resuming at step {} (epoch {}, batch {}) from {}",
                run.label,
                state.step,
                state.epoch,
                state.batch_in_epoch,
                checkpoint_dir.display()
            )
        });
    }
    let started = Instant::now();
    let wall_before = state.wall_seconds;
    let wall = |started: &Instant| wall_before + started.elapsed().as_secs_f64();
    let mut last_lr = 0.0;
    let mut window = (Instant::now(), 0u64); // tokens/s over the recent steps

    // The starting point of the curve: the untrained (or not yet customized) model.
    if state.step == 0 && state.curve.is_empty() {
        evaluation(
            run,
            &model,
            hooks,
            &valid,
            &mut state,
            0.0,
            0.0,
            batches_per_epoch,
            device,
            &progress,
        )?;
    }
    let stop = loop {
        if state.epoch >= settings.max_epochs && settings.max_epochs > 0 {
            break "max_epochs";
        }
        if state.batch_in_epoch >= plan.batches.len() {
            state.epoch += 1;
            state.batch_in_epoch = 0;
            plan = plan_epoch(&lengths, settings.batch_tokens, settings.seed, state.epoch);
            continue;
        }
        if state.step >= max_steps {
            break "max_steps";
        }
        if settings.max_minutes > 0.0 && wall(&started) >= settings.max_minutes * 60.0 {
            break STOPPED_BY_GUARD;
        }

        // One step.
        device.seed(
            settings
                .seed
                .wrapping_mul(1_000_003)
                .wrapping_add(state.step),
        );
        let rows: Vec<&E> = plan.batches[state.batch_in_epoch]
            .iter()
            .map(|&i| &run.train[i])
            .collect();
        let batch = collate(&rows, model.config.decoder_start_token_id, device);
        let nll = nll_sum(&model, &batch);
        let loss = nll.clone().div_scalar(batch.target_tokens.max(1) as f64);
        let mut grads = GradientsParams::from_grads(loss.backward(), &model);
        clip_global_norm(&mut grads, &trainable, settings.grad_clip);
        last_lr = learning_rate(
            settings.schedule,
            settings.lr,
            state.step,
            warmup_steps,
            total_steps,
        );
        model = optim.step(last_lr, model, grads);
        let nll = f64::from(nll.into_scalar::<f32>());
        if !nll.is_finite() {
            bail!(
                "{}: the training loss became {nll} at step {}",
                run.label,
                state.step
            );
        }
        state.train_nll += nll;
        state.train_tokens += batch.target_tokens as u64;
        let tokens = (batch.input_tokens + batch.target_tokens) as u64;
        state.tokens += tokens;
        state.flops += compute
            .batch(
                rows.iter()
                    .map(|e| (e.input_ids().len(), e.target_ids().len())),
            )
            .total();
        state.step += 1;
        state.batch_in_epoch += 1;
        window.1 += tokens;
        progress.set_position(state.step);
        let rate = window.1 as f64 / window.0.elapsed().as_secs_f64().max(1e-9);
        progress.set_message(format!(
            "loss {:.3} · best val {} · {:.0} tok/s",
            nll / batch.target_tokens.max(1) as f64,
            state
                .best_val_loss
                .map_or("—".into(), |v| format!("{v:.3}")),
            rate
        ));
        if window.0.elapsed().as_secs_f64() > 30.0 {
            window = (Instant::now(), 0);
        }

        let evaluate_now = state.step % eval_every == 0;
        if evaluate_now {
            let patience_over = evaluation(
                run,
                &model,
                hooks,
                &valid,
                &mut state,
                last_lr,
                wall(&started),
                batches_per_epoch,
                device,
                &progress,
            )?;
            save_checkpoint(&checkpoint_dir, &model, &optim, &state, wall(&started))?;
            if patience_over {
                break "early_stopping";
            }
        } else if settings.checkpoint_every_steps > 0
            && state.step % settings.checkpoint_every_steps == 0
        {
            save_checkpoint(&checkpoint_dir, &model, &optim, &state, wall(&started))?;
        }
    };

    // A final evaluation unless the last step had one.
    if state.curve.last().is_none_or(|p| p.step != state.step) && state.step > 0 {
        evaluation(
            run,
            &model,
            hooks,
            &valid,
            &mut state,
            last_lr,
            wall(&started),
            batches_per_epoch,
            device,
            &progress,
        )?;
    }
    state.stopped = Some(stop.to_string());
    state.wall_seconds = wall(&started);
    save_checkpoint(&checkpoint_dir, &model, &optim, &state, wall(&started))?;
    progress.finish_and_clear();
    if let Some(mfu) = run
        .peak_tflops
        .and_then(|peak| super::compute::mfu(state.flops, state.wall_seconds, peak))
    {
        eprintln!("{}: model-FLOP utilisation {:.1}%", run.label, 100.0 * mfu);
    }
    Ok(outcome(state, false))
}

/// Validation loss, a curve row, the best model, patience. Returns whether patience ran out.
#[allow(clippy::too_many_arguments)]
fn evaluation<E: SeqPair>(
    run: &Run<'_, E>,
    model: &BartForConditionalGeneration,
    hooks: &dyn RunModel,
    valid: &[&E],
    state: &mut TrainState,
    lr: f64,
    wall_seconds: f64,
    batches_per_epoch: usize,
    device: &Device,
    bar: &ProgressBar,
) -> Result<bool> {
    let inference = model.valid();
    let (val_loss, _) = evaluate(
        &inference,
        valid,
        run.settings.batch_tokens,
        &device.clone().inner(),
    )?;
    let train_loss = if state.train_tokens > 0 {
        state.train_nll / state.train_tokens as f64
    } else {
        f64::NAN
    };
    state.train_nll = 0.0;
    state.train_tokens = 0;
    state.curve.push(CurvePoint {
        step: state.step,
        epoch: state.epoch as f64 + state.batch_in_epoch as f64 / batches_per_epoch.max(1) as f64,
        tokens: state.tokens,
        wall_seconds,
        train_loss,
        val_loss,
        lr,
        flops: state.flops,
    });
    curves::write_curve(&state.curve, &run.dir.join(curves::FILE))?;
    let point = state.curve.last().expect("just pushed");
    // A line per evaluation: the record of a long run in a log, where no bar is drawn.
    let line = format!(
        "{}: step {} · epoch {:.2} · train loss {:.4} · val loss {:.4} (ppl {:.2}) · {} tokens · {:.3e} PF-s · {:.0} s",
        run.label,
        point.step,
        point.epoch,
        point.train_loss,
        point.val_loss,
        point.val_loss.exp(),
        point.tokens,
        point.pf_seconds(),
        point.wall_seconds
    );
    bar.suspend(|| eprintln!("{line}"));
    if state.best_val_loss.is_none_or(|best| val_loss < best) {
        state.best_val_loss = Some(val_loss);
        state.best_step = state.step;
        state.evals_since_best = 0;
        checkpoint::replace_dir(&run.dir.join(BEST_DIR), |dir| {
            hooks.save_best(&inference, dir)
        })?;
    } else {
        state.evals_since_best += 1;
    }
    Ok(run.settings.patience > 0 && state.evals_since_best >= run.settings.patience)
}

fn save_checkpoint(
    dir: &Path,
    model: &BartForConditionalGeneration,
    optim: &ModuleOptimizer,
    state: &TrainState,
    wall_seconds: f64,
) -> Result<()> {
    let mut state = state.clone();
    state.wall_seconds = wall_seconds;
    checkpoint::replace_dir(dir, |tmp| {
        model
            .clone()
            .save_file(tmp.join(MODEL_FILE))
            .map_err(|e| anyhow::anyhow!("saving the model checkpoint: {e:?}"))?;
        optim
            .save(tmp.join(OPTIMIZER_FILE))
            .map_err(|e| anyhow::anyhow!("saving the optimizer state: {e:?}"))?;
        checkpoint::write_state(tmp, &state)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_validation_sample_is_seeded_and_sorted() {
        let a = eval_indices(100, 10, 1);
        assert_eq!(a, eval_indices(100, 10, 1));
        assert_ne!(a, eval_indices(100, 10, 2));
        assert_eq!(a.len(), 10);
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(eval_indices(5, 0, 1), vec![0, 1, 2, 3, 4]);
    }
}
