//! The idioms abstraction keeps verbatim: the most frequent identifiers and literals of the
//! train split's tests (src2abs keeps such idioms because `assertEquals`, `size` or `0` carry
//! meaning a placeholder would erase). Decoding and counting every training test takes a while
//! on the full corpus, so the list is cached per tokenizer and size under `OUT/cache/evaluate/`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

use crate::data::examples::Example;
use crate::data::tokenizer::CodeTokenizer;
use crate::layout::Layout;
use crate::metrics::{Idioms, idioms_from};

/// What the cache file holds (the idioms sorted, and what they were computed from).
#[derive(Debug, Serialize, Deserialize)]
struct IdiomCache {
    tokenizer_hash: String,
    top_n: usize,
    train_tests: usize,
    idioms: Vec<String>,
}

fn cache_file(out: &Path, tokenizer: &CodeTokenizer, top_n: usize) -> PathBuf {
    Layout::new(out)
        .cache()
        .idioms(&tokenizer.content_hash(), top_n)
}

/// The `top_n` idioms of the train split's tests (decoded targets), from the cache when the
/// tokenizer and the number of training tests are unchanged.
pub fn train_idioms(
    out: &Path,
    examples: &[Example],
    tokenizer: &CodeTokenizer,
    top_n: usize,
) -> Result<Idioms> {
    let train: Vec<&Example> = examples.iter().filter(|e| e.split == "train").collect();
    let path = cache_file(out, tokenizer, top_n);
    if let Ok(text) = std::fs::read_to_string(&path)
        && let Ok(cache) = serde_json::from_str::<IdiomCache>(&text)
        && cache.train_tests == train.len()
        && cache.top_n == top_n
    {
        return Ok(Idioms::new(cache.idioms));
    }
    let texts = train
        .iter()
        .map(|e| tokenizer.decode(&e.target_ids))
        .collect::<Result<Vec<String>>>()
        .context("decoding the train split's tests for the idioms")?;
    let idioms = idioms_from(&texts, top_n);
    let cache = IdiomCache {
        tokenizer_hash: tokenizer.content_hash(),
        top_n,
        train_tests: train.len(),
        idioms: idioms.sorted().into_iter().map(str::to_string).collect(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, serde_json::to_string_pretty(&cache)? + "\n")
        .with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("writing {}", path.display()))?;
    Ok(idioms)
}
