//! The one training loop. The baseline and every customization strategy run through
//! [`train`]; what trains is decided before it (the strategy freezes the rest: frozen tensors
//! get no gradient and no optimizer state), so the loop never branches on a strategy.
//!
//! Per step: a token-budget batch of the seeded epoch plan, teacher-forced cross-entropy,
//! backward, global gradient-norm clipping, AdamW (β 0.9/0.999, ε 1e-8, decoupled weight decay
//! 0.01 except on biases and layer norms, as HF's Trainer), warm-up then linear/cosine decay.
//! Every `eval_every_steps` (or `evals_per_epoch` times an epoch): validation loss, a curve row,
//! the best model kept (early stopping with patience), a checkpoint. Dropout is re-seeded from
//! (seed, step) at every step and the batch order is a function of (seed, epoch), so a run
//! resumed from a checkpoint replays exactly what an uninterrupted run does.
//!
//! The loop is assembled from parts with one job each, as burn-train's `Learner` is:
//! `evaluation` (the validation sample and the curve), `early_stopping` (the best model and
//! patience), `checkpointer` (resume and save), `optim` (AdamW, clipping, the schedule),
//! `progress` (the bar and its lines), and [`Epochs`] here (the batch plans and the limits), so
//! that [`train`] reads as the recipe. The `Learner` itself does not fit, and burn-train is not
//! among our dependencies: it evaluates, checkpoints and stops early at epoch ends and resumes
//! at an epoch boundary, where we evaluate several times an epoch and resume mid-epoch,
//! replaying the batches and the dropout exactly; it batches through data loaders rather than
//! token-budget plans; it has no account of the compute that frozen parameters still cost
//! (PF-s, `compute`), no wall-time guard whose stop a later call continues, and keeps its best
//! model as a burn record where we keep an HF folder or an adapter ([`RunModel::save_best`]).

mod checkpointer;
mod early_stopping;
mod evaluation;
mod optim;
mod progress;

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Result, ensure};
use burn::optim::ModuleOptimizer;
use burn::prelude::*;
use indicatif::MultiProgress;

use super::batch::{SeqPair, collate, nll_sum};
use super::checkpoint::TrainState;
use super::compute::ComputeModel;
use super::settings::TrainSettings;
use crate::data::batches::{BatchPlan, plan_epoch};
use crate::model::BartForConditionalGeneration;
use crate::model::params::{NamedParam, named_params};
use checkpointer::Checkpointer;
use early_stopping::EarlyStopping;
use evaluation::Evaluation;
pub use evaluation::evaluate;
use optim::Optimization;
pub(crate) use optim::{clip_global_norm, optimizer};
use progress::Progress;

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
    check_inputs(run, device)?;
    let checkpointer = Checkpointer::new(&run.dir, settings.checkpoint_every_steps);
    let (mut model, mut state) = checkpointer.resume(model, hooks)?;
    let params = Params::of(&model, hooks);
    if !goes_on(&mut state, settings) {
        return Ok(params.outcome(state, true));
    }
    ensure!(
        params.trainable_count > 0,
        "{}: the strategy trains no parameter",
        run.label
    );
    let optim = checkpointer.resume_optimizer(optimizer(settings, &params.all))?;
    let compute = ComputeModel::new(&model.config, &params.all, &|p| hooks.trains(p));
    let mut epochs = Epochs::new(run.train, settings, state.epoch);
    let optimization = Optimization::new(optim, &params.trainable, settings, epochs.total_steps);
    let mut steps = Steps::new(run, optimization, compute);
    let evaluation = Evaluation::new(run, epochs.batches_per_epoch, device);
    let early_stopping = EarlyStopping::new(settings.patience, run.dir.join(BEST_DIR), hooks);
    let progress = Progress::new(&run.label, epochs.total_steps, run.progress, state.step);
    if checkpointer.resumes() {
        progress.say(&checkpointer.resuming(&run.label, &state));
    }
    let clock = Clock::start(state.wall_seconds);
    // An evaluation, and what early stopping makes of it: whether patience has run out.
    let validate = |model: &BartForConditionalGeneration, state: &mut TrainState, lr, wall| {
        let inference = model.valid();
        let val_loss = evaluation.record(&inference, state, lr, wall, &progress)?;
        early_stopping.update(&inference, state, val_loss)
    };

    // The starting point of the curve: the untrained (or not yet customized) model.
    if state.step == 0 && state.curve.is_empty() {
        validate(&model, &mut state, 0.0, 0.0)?;
    }
    let stop = loop {
        if let Some(stop) = epochs.stop_or_advance(&mut state, &clock) {
            break stop;
        }
        let batch = epochs.batch(&state, run.train);
        let (loss, tokens);
        (model, loss, tokens) = steps.take(model, &batch, &mut state, device)?;
        progress.step(&state, loss, tokens);
        if state.step % epochs.eval_every == 0 {
            let patience_over = validate(&model, &mut state, steps.lr, clock.wall())?;
            checkpointer.save(&model, steps.optimizer(), &state, clock.wall())?;
            if patience_over {
                break "early_stopping";
            }
        } else if checkpointer.due(state.step) {
            checkpointer.save(&model, steps.optimizer(), &state, clock.wall())?;
        }
    };

    // A final evaluation unless the last step had one.
    if state.curve.last().is_none_or(|p| p.step != state.step) && state.step > 0 {
        validate(&model, &mut state, steps.lr, clock.wall())?;
    }
    state.stopped = Some(stop.to_string());
    state.wall_seconds = clock.wall();
    checkpointer.save(&model, steps.optimizer(), &state, clock.wall())?;
    progress.finish();
    report_mfu(run, &state);
    Ok(params.outcome(state, false))
}

/// What a run cannot start without.
fn check_inputs<E: SeqPair>(run: &Run<'_, E>, device: &Device) -> Result<()> {
    ensure!(!run.train.is_empty(), "{}: no training examples", run.label);
    ensure!(
        !run.valid.is_empty(),
        "{}: no validation examples",
        run.label
    );
    ensure!(device.is_autodiff(), "training needs an autodiff device");
    Ok(())
}

/// Model-FLOP utilisation of the run, when the hardware's peak is known.
fn report_mfu<E: SeqPair>(run: &Run<'_, E>, state: &TrainState) {
    if let Some(mfu) = run
        .peak_tflops
        .and_then(|peak| super::compute::mfu(state.flops, state.wall_seconds, peak))
    {
        eprintln!("{}: model-FLOP utilisation {:.1}%", run.label, 100.0 * mfu);
    }
}

/// Whether a run in `state` trains on under `settings`: an unfinished run does; a run the
/// wall-time guard stopped does when the guard now allows more time (a guard is a budget, not
/// part of the recipe); every other stop is final. `adapt` asks it of a checkpoint before
/// deciding to train.
pub fn would_go_on(state: &TrainState, settings: &TrainSettings) -> bool {
    match state.stopped.as_deref() {
        None => true,
        Some(STOPPED_BY_GUARD) => {
            settings.max_minutes <= 0.0 || state.wall_seconds < settings.max_minutes * 60.0
        }
        Some(_) => false,
    }
}

/// [`would_go_on`], clearing a guard stop that no longer holds so the loop resumes.
fn goes_on(state: &mut TrainState, settings: &TrainSettings) -> bool {
    let on = would_go_on(state, settings);
    if on {
        state.stopped = None;
    }
    on
}

/// The training steps of a run, one after another: dropout re-seeded from (seed, step) (so a
/// resumed run replays it), teacher-forced loss on the batch, the update, the step counted.
struct Steps<'a> {
    label: &'a str,
    seed: u64,
    optimization: Optimization<'a>,
    compute: ComputeModel,
    /// The learning rate of the last step (0 before the first).
    lr: f64,
}

impl<'a> Steps<'a> {
    fn new<E: SeqPair>(
        run: &'a Run<'a, E>,
        optimization: Optimization<'a>,
        compute: ComputeModel,
    ) -> Self {
        Self {
            label: &run.label,
            seed: run.settings.seed,
            optimization,
            compute,
            lr: 0.0,
        }
    }

    /// The optimizer, for checkpoints.
    fn optimizer(&self) -> &ModuleOptimizer {
        self.optimization.optimizer()
    }

    /// Train `model` on `rows`, the batch at `state`'s position, and count the step in `state`.
    /// Returns the model, the batch's mean loss per target token and its real tokens.
    fn take<E: SeqPair>(
        &mut self,
        model: BartForConditionalGeneration,
        rows: &[&E],
        state: &mut TrainState,
        device: &Device,
    ) -> Result<(BartForConditionalGeneration, f64, u64)> {
        device.seed(self.seed.wrapping_mul(1_000_003).wrapping_add(state.step));
        let batch = collate(rows, model.config.decoder_start_token_id, device);
        let nll = nll_sum(&model, &batch);
        let loss = nll.clone().div_scalar(batch.target_tokens.max(1) as f64);
        let (model, lr) = self.optimization.step(model, loss, state.step);
        self.lr = lr;
        let nll = f64::from(nll.into_scalar::<f32>());
        ensure!(
            nll.is_finite(),
            "{}: the training loss became {nll} at step {}",
            self.label,
            state.step
        );
        let tokens = (batch.input_tokens + batch.target_tokens) as u64;
        state.train_nll += nll;
        state.train_tokens += batch.target_tokens as u64;
        state.tokens += tokens;
        state.flops += self
            .compute
            .batch(
                rows.iter()
                    .map(|e| (e.input_ids().len(), e.target_ids().len())),
            )
            .total();
        state.step += 1;
        state.batch_in_epoch += 1;
        Ok((model, nll / batch.target_tokens.max(1) as f64, tokens))
    }
}

/// The model's parameters as the loop uses them: all of them (the optimizer's groups, compute),
/// the trainable ones (clipping), and the counts a run reports.
struct Params {
    all: Vec<NamedParam>,
    trainable: Vec<NamedParam>,
    trainable_count: usize,
    total_count: usize,
}

impl Params {
    fn of(model: &BartForConditionalGeneration, hooks: &dyn RunModel) -> Self {
        let all = named_params(model);
        let trainable: Vec<NamedParam> = all
            .iter()
            .filter(|p| hooks.trains(&p.path))
            .cloned()
            .collect();
        let trainable_count = trainable.iter().map(NamedParam::numel).sum();
        let total_count = all
            .iter()
            .filter(|p| p.path != "final_logits_bias")
            .map(NamedParam::numel)
            .sum();
        Self {
            all,
            trainable,
            trainable_count,
            total_count,
        }
    }

    fn outcome(&self, state: TrainState, already_done: bool) -> Outcome {
        Outcome {
            state,
            trainable_params: self.trainable_count,
            total_params: self.total_count,
            already_done,
        }
    }
}

/// Training wall time, summed over resumes: what the checkpoint recorded plus this call's.
struct Clock {
    started: Instant,
    before: f64,
}

impl Clock {
    fn start(before: f64) -> Self {
        Self {
            started: Instant::now(),
            before,
        }
    }

    fn wall(&self) -> f64 {
        self.before + self.started.elapsed().as_secs_f64()
    }
}

/// The batches of a run, epoch by epoch (each epoch's plan is seeded by (seed, epoch), so a
/// run resumed at (epoch, batch) replays it), and what the schedule, evaluation and the limits
/// derive from the plan of the epoch the run started in.
struct Epochs<'a> {
    settings: &'a TrainSettings,
    /// (input, target) length of every training example.
    lengths: Vec<(usize, usize)>,
    plan: BatchPlan,
    batches_per_epoch: usize,
    /// Steps the schedule spans: `max_steps`, or `max_epochs` epochs of the plan.
    total_steps: u64,
    eval_every: u64,
    /// `max_steps`, or no limit.
    max_steps: u64,
}

impl<'a> Epochs<'a> {
    fn new<E: SeqPair>(train: &[E], settings: &'a TrainSettings, epoch: u64) -> Self {
        let lengths: Vec<(usize, usize)> = train
            .iter()
            .map(|e| (e.input_ids().len(), e.target_ids().len()))
            .collect();
        let plan = plan_epoch(&lengths, settings.batch_tokens, settings.seed, epoch);
        let batches_per_epoch = plan.batches.len();
        let (total_steps, max_steps) = if settings.max_steps > 0 {
            (settings.max_steps, settings.max_steps)
        } else {
            (settings.max_epochs * batches_per_epoch as u64, u64::MAX)
        };
        Self {
            settings,
            lengths,
            plan,
            batches_per_epoch,
            total_steps,
            eval_every: settings.eval_every(batches_per_epoch),
            max_steps,
        }
    }

    /// Why the run stops before its next step (`max_epochs`, `max_steps`, the wall-time guard),
    /// if it does; at the end of an epoch, moves `state` to the next one and its plan.
    fn stop_or_advance(&mut self, state: &mut TrainState, clock: &Clock) -> Option<&'static str> {
        let settings = self.settings;
        loop {
            if state.epoch >= settings.max_epochs && settings.max_epochs > 0 {
                return Some("max_epochs");
            }
            if state.batch_in_epoch < self.plan.batches.len() {
                break;
            }
            state.epoch += 1;
            state.batch_in_epoch = 0;
            self.plan = plan_epoch(
                &self.lengths,
                settings.batch_tokens,
                settings.seed,
                state.epoch,
            );
        }
        if state.step >= self.max_steps {
            return Some("max_steps");
        }
        if settings.max_minutes > 0.0 && clock.wall() >= settings.max_minutes * 60.0 {
            return Some(STOPPED_BY_GUARD);
        }
        None
    }

    /// The examples of `state`'s next batch.
    fn batch<'e, E>(&self, state: &TrainState, train: &'e [E]) -> Vec<&'e E> {
        self.plan.batches[state.batch_in_epoch]
            .iter()
            .map(|&i| &train[i])
            .collect()
    }
}
