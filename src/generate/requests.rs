//! Generation for a list of requests, each for one of several customized models of one base:
//! either one model at a time (a project's requests batched together) or, for prefix and LoRA
//! adapters, batches that mix projects through an [`AdapterBank`] (one base, many projects).
//! Both give each request the outputs its own model gives it; the mixed way keeps batches full
//! when each project has only a few requests.

use anyhow::{Result, ensure};
use burn::prelude::*;

use super::{GenerationConfig, generate};
use crate::model::{AdapterBank, BartForConditionalGeneration};

/// One input to generate for, with the model (adapter index) it is meant for.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    pub adapter: usize,
    pub input_ids: &'a [u32],
}

/// The models requests can use.
pub enum Models<'a> {
    /// One model per adapter index (base + adapter attached, or the base itself): batches hold
    /// requests of one model only.
    Separate(&'a [&'a BartForConditionalGeneration]),
    /// The base and a bank of its prefix/LoRA adapters: batches mix adapters.
    Mixed {
        base: &'a BartForConditionalGeneration,
        bank: &'a AdapterBank,
    },
}

impl Models<'_> {
    fn count(&self) -> usize {
        match self {
            Models::Separate(models) => models.len(),
            Models::Mixed { bank, .. } => bank.len(),
        }
    }

    fn base(&self) -> &BartForConditionalGeneration {
        match self {
            Models::Separate(models) => models[0],
            Models::Mixed { base, .. } => base,
        }
    }
}

/// A request's returned sequences (best first) with their scores.
pub type Outputs = Vec<(Vec<u32>, f32)>;

/// Generate for every request, `batch_size` inputs at a time (inputs sorted by length within
/// what may share a batch, to keep padding small; inputs longer than the model's positions are
/// cut). `done(n)` is called after each batch with its size (progress bars). Returns each
/// request's outputs, in request order.
pub fn generate_requests(
    models: &Models<'_>,
    requests: &[Request<'_>],
    config: &GenerationConfig,
    batch_size: usize,
    device: &Device,
    mut done: impl FnMut(usize),
) -> Result<Vec<Outputs>> {
    ensure!(models.count() > 0, "no model to generate with");
    if let Some(bad) = requests.iter().find(|r| r.adapter >= models.count()) {
        anyhow::bail!(
            "request for adapter {} of only {}",
            bad.adapter,
            models.count()
        );
    }
    let base = models.base();
    let max_input = base.config.max_position_embeddings;
    let pad = base.config.pad_token_id;
    let input = |i: usize| {
        let ids = requests[i].input_ids;
        &ids[..ids.len().min(max_input)]
    };
    // Groups that may share a batch: everything when mixing, else one per adapter.
    let mut groups: Vec<Vec<usize>> = match models {
        Models::Mixed { .. } => vec![(0..requests.len()).collect()],
        Models::Separate(_) => {
            let mut groups = vec![Vec::new(); models.count()];
            for (i, r) in requests.iter().enumerate() {
                groups[r.adapter].push(i);
            }
            groups
        }
    };
    let mut outputs: Vec<Outputs> = vec![Vec::new(); requests.len()];
    for group in &mut groups {
        group.sort_by_key(|&i| input(i).len());
        for chunk in group.chunks(batch_size.max(1)) {
            let len = chunk
                .iter()
                .map(|&i| input(i).len())
                .max()
                .unwrap_or(1)
                .max(1);
            let mut ids = Vec::with_capacity(chunk.len() * len);
            let mut mask = Vec::with_capacity(chunk.len() * len);
            for &i in chunk {
                let row = input(i);
                for p in 0..len {
                    ids.push(i64::from(row.get(p).copied().unwrap_or(pad)));
                    mask.push(i64::from(p < row.len()));
                }
            }
            let shape = [chunk.len(), len];
            let ids = Tensor::<2, Int>::from_data(TensorData::new(ids, shape), device);
            let mask = Tensor::<2, Int>::from_data(TensorData::new(mask, shape), device);
            let generated = match models {
                Models::Separate(models) => {
                    generate(models[requests[chunk[0]].adapter], ids, Some(mask), config)?
                }
                Models::Mixed { base, bank } => {
                    let rows: Vec<usize> = chunk.iter().map(|&i| requests[i].adapter).collect();
                    generate(&bank.bind(base, &rows), ids, Some(mask), config)?
                }
            };
            let per_input = config.num_return_sequences;
            for (row, (mut sequence, score)) in generated
                .sequences
                .into_iter()
                .zip(generated.scores)
                .enumerate()
            {
                // Batch padding after a sequence's end is not part of it.
                while sequence.len() > 1 && sequence.last() == Some(&config.pad_token_id) {
                    sequence.pop();
                }
                outputs[chunk[row / per_input]].push((sequence, score));
            }
            done(chunk.len());
        }
    }
    Ok(outputs)
}
