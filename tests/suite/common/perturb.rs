//! Noise on a strategy's trainable parameters, so that a customized model differs from its base
//! everywhere the strategy reaches (LoRA's `B` starts at zero). Shared by the adapter tests.

use std::collections::HashSet;

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::prelude::*;
use burn::tensor::Distribution;
use tailor::model::BartForConditionalGeneration;
use tailor::model::params::named_params;
use tailor::strategy::Strategy;

/// Add N(0, std) to every parameter `strategy` trains.
pub fn perturb(
    model: BartForConditionalGeneration,
    strategy: &Strategy,
    std: f64,
) -> BartForConditionalGeneration {
    struct Noise(HashSet<ParamId>, f64);
    impl ModuleMapper for Noise {
        fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
            if !self.0.contains(&param.id) {
                return param;
            }
            let std = self.1;
            param.map(|t| {
                let noise = t.random_like(Distribution::Normal(0.0, std));
                t + noise
            })
        }
    }
    let ids = named_params(&model)
        .into_iter()
        .filter(|p| strategy.trains(&p.path, &model.config))
        .map(|p| p.id)
        .collect();
    model.map(&mut Noise(ids, std))
}
