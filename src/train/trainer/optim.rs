//! The update part of the loop: AdamW with HF Trainer's parameter groups, global gradient-norm
//! clipping, and the learning-rate schedule.

use burn::module::{ParamGroup as BurnParamGroup, ParamId};
use burn::optim::{AdamWConfig, GradientsParams, ModuleOptimizer};
use burn::prelude::*;

use crate::model::BartForConditionalGeneration;
use crate::model::params::NamedParam;
use crate::profile::TrainSettings;
use crate::train::schedule::learning_rate;

/// Parameters AdamW does not decay: biases and layer norms (HF Trainer's
/// `get_decay_parameter_names`).
fn no_decay(param: &NamedParam) -> bool {
    param.owner == "LayerNorm" || param.path.ends_with(".bias") || param.path.ends_with(".beta")
}

/// AdamW with the settings' betas, ε and weight decay, and a group of `params` exempt from
/// decay ([`no_decay`]).
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

/// What turns a loss into an update: the optimizer (and its state), the trainable parameters
/// whose gradients are clipped, and the schedule's warm-up and span.
pub(super) struct Optimization<'a> {
    optim: ModuleOptimizer,
    trainable: &'a [NamedParam],
    settings: &'a TrainSettings,
    warmup_steps: u64,
    total_steps: u64,
}

impl<'a> Optimization<'a> {
    /// `optim` (fresh or restored from a checkpoint) over a schedule of `total_steps`.
    pub(super) fn new(
        optim: ModuleOptimizer,
        trainable: &'a [NamedParam],
        settings: &'a TrainSettings,
        total_steps: u64,
    ) -> Self {
        Self {
            optim,
            trainable,
            settings,
            warmup_steps: settings.warmup(total_steps),
            total_steps,
        }
    }

    /// The optimizer, for checkpoints.
    pub(super) fn optimizer(&self) -> &ModuleOptimizer {
        &self.optim
    }

    /// Backward from `loss`, clip, and take AdamW step `step` at the scheduled rate. Returns the
    /// updated model and the rate it used.
    pub(super) fn step(
        &mut self,
        model: BartForConditionalGeneration,
        loss: Tensor<1>,
        step: u64,
    ) -> (BartForConditionalGeneration, f64) {
        let mut grads = GradientsParams::from_grads(loss.backward(), &model);
        clip_global_norm(&mut grads, self.trainable, self.settings.grad_clip);
        let lr = learning_rate(
            self.settings.schedule,
            self.settings.lr,
            step,
            self.warmup_steps,
            self.total_steps,
        );
        (self.optim.step(lr, model, grads), lr)
    }
}
