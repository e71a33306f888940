//! BART in burn, numerically HF `transformers`' `BartForConditionalGeneration`, with its
//! parameter names, so `config.json` + `model.safetensors` move both ways (see [`hf`]).
//!
//! One file per part, as candle's BART: [`config`], [`activation`] (the feed-forward activation
//! `config.json` names), [`attention`] (one attention with optional cache and prefix),
//! [`encoder`], [`decoder`], [`bart`]; [`params`] names the parameter groups the paper's
//! customization strategies train (Table 1); [`lora`] adds LoRA updates to the attention
//! projections and [`adapter`] stores a selection of a model's tensors. The model has no backend
//! type parameter: burn 0.22 picks the backend from the [`Device`] at run time ([`Backend`]).
//! Strategies (which tensors train and are stored) live in `crate::strategy`, training loops in
//! `crate::train`, generation in `crate::generate`: the model does not depend on them.

pub mod activation;
pub mod adapter;
pub mod attention;
pub mod bart;
pub mod config;
pub mod decoder;
pub mod encoder;
pub mod hf;
mod init;
pub mod inspect;
pub mod lora;
pub mod mixed;
pub mod params;
pub mod prefix_mlp;

pub use activation::Activation;
pub use attention::{AttentionPrefix, BartAttention, KeyValue};
pub use bart::{BartForConditionalGeneration, BartModel, Encoded, shift_tokens_right};
pub use config::{AttentionInit, BartConfig, Preset};
pub use decoder::DecoderCache;
pub use lora::{AttentionLora, Lora};
pub use mixed::AdapterBank;

use burn::prelude::Device;

/// The compiled-in compute backends, chosen with `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    /// burn-flex: pure-Rust CPU backend (default feature `flex`).
    Flex,
    /// libtorch through burn-tch (feature `tch`): CPU, or CUDA with `--cuda`.
    Tch,
}

impl std::fmt::Display for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Backend::Flex => "flex",
            Backend::Tch => "tch",
        })
    }
}

impl Backend {
    /// The backends this binary was built with.
    pub fn compiled() -> Vec<Backend> {
        let mut backends = Vec::new();
        if cfg!(feature = "flex") {
            backends.push(Backend::Flex);
        }
        if cfg!(feature = "tch") {
            backends.push(Backend::Tch);
        }
        backends
    }

    /// The burn device for this backend; `cuda` selects GPU 0 where the backend has one.
    pub fn device(self, cuda: bool) -> anyhow::Result<Device> {
        match self {
            #[cfg(feature = "flex")]
            Backend::Flex if !cuda => Ok(Device::flex()),
            // burn-tch is deprecated upstream (gone in burn 0.23) but is our GPU path on 0.22
            // (DESIGN "Backends"); burn is pinned to =0.22.1 for it.
            #[cfg(feature = "tch")]
            #[allow(deprecated)]
            Backend::Tch => Ok(if cuda {
                Device::libtorch_cuda(0)
            } else {
                Device::libtorch()
            }),
            #[allow(unreachable_patterns)]
            _ if cuda => anyhow::bail!("backend {self} has no CUDA device; use --backend tch"),
            _ => anyhow::bail!(
                "backend {self} is not compiled in; rebuild with `--features {self}` \
                 (compiled: {:?})",
                Backend::compiled()
            ),
        }
    }

    /// Use `threads` CPU threads where the backend lets us set it (libtorch; flex uses rayon's
    /// global pool, sized by `RAYON_NUM_THREADS`).
    pub fn set_threads(self, threads: usize) {
        #[cfg(feature = "tch")]
        if self == Backend::Tch {
            tch::set_num_threads(threads as i32);
        }
        let _ = threads;
    }
}
