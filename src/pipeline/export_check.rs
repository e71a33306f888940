//! What a reference implementation needs to check one of our model folders on real data
//! (`tailor export-check`): for examples of the examples table, the texts, the ids tailor's
//! tokenizer gives them, and a batch with tailor's logits; `pipelines/python/check_model_dir.py`
//! (`make check-hf-export MODEL_DIR=… OUT=…`) then loads the folder with `tokenizers`,
//! `transformers`' `PreTrainedTokenizerFast` and `BartForConditionalGeneration` and requires the
//! same ids and logits.

use std::path::PathBuf;

use anyhow::{Context, Result, ensure};

use crate::data::examples::{Example, read_examples};
use crate::data::tokenizer::{CodeTokenizer, PAD};
use crate::model::inspect::write_logits;
use crate::model::{Backend, hf};
use crate::train::batch::collate;

/// What to check and where to write it.
#[derive(Debug, Clone)]
pub struct ExportCheck {
    /// The model folder (config.json, model.safetensors, tokenizer.json).
    pub model: PathBuf,
    /// Output folder holding tables/examples.parquet.
    pub out: PathBuf,
    /// Examples whose texts and ids to compare (untruncated, from the valid split first).
    pub texts: usize,
    /// Examples in the logits batch.
    pub batch: usize,
    /// Where to write `texts.json` and `logits.safetensors`.
    pub dump: PathBuf,
    pub backend: Backend,
}

/// Write `texts.json` (texts and tailor's ids of untruncated examples, validation first) and
/// `logits.safetensors` (a batch with tailor's logits) into `check.dump`.
pub fn run(check: &ExportCheck) -> Result<()> {
    let tokenizer = CodeTokenizer::load(&check.model)?;
    let mut examples = read_examples(&check.out)?;
    // Validation examples first, then the rest; untruncated ones, whose text re-encodes exactly.
    examples.sort_by_key(|e| (e.split != "valid", e.pair_id.clone()));
    let whole: Vec<&Example> = examples
        .iter()
        .filter(|e| !e.input_truncated && !e.target_truncated)
        .collect();
    ensure!(
        !whole.is_empty(),
        "no untruncated example in {}",
        check.out.display()
    );
    let mut records = Vec::new();
    for example in whole.iter().take(check.texts) {
        for (kind, ids) in [
            ("input", &example.input_ids),
            ("target", &example.target_ids),
        ] {
            let text = tokenizer.decode(ids)?;
            records.push(serde_json::json!({
                "pair_id": example.pair_id,
                "kind": kind,
                "text": text,
                "ids": ids,
            }));
        }
    }
    std::fs::create_dir_all(&check.dump)
        .with_context(|| format!("creating {}", check.dump.display()))?;
    let texts = check.dump.join("texts.json");
    std::fs::write(&texts, serde_json::to_string(&records)?)
        .with_context(|| format!("writing {}", texts.display()))?;

    let device = check.backend.device(false)?;
    let model = hf::load_dir(&check.model, &device)?;
    let rows: Vec<&Example> = examples.iter().take(check.batch.max(1)).collect();
    let batch = collate(&rows, model.config.decoder_start_token_id, &device);
    let logits = model.forward(
        batch.input_ids.clone(),
        Some(batch.attention_mask.clone()),
        batch.decoder_input_ids.clone(),
    );
    let path = check.dump.join("logits.safetensors");
    write_logits(
        &path,
        batch.input_ids,
        Some(batch.attention_mask),
        batch.decoder_input_ids,
        logits,
    )?;
    println!(
        "wrote {} texts ({} examples) to {} and the logits of {} examples (pad {PAD}) to {}",
        records.len(),
        records.len() / 2,
        texts.display(),
        rows.len(),
        path.display()
    );
    Ok(())
}
