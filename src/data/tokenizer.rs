//! The byte-level BPE tokenizer of BART/RoBERTa, trained with HuggingFace's own `tokenizers`
//! crate on the train split, saved as `tokenizer.json` so Python's `tokenizers` and
//! `transformers` load it and give the same ids (`make check-tokenizer`).
//!
//! Layout, as `facebook/bart-base`'s: no normalizer; the GPT-2 byte-level pre-tokenizer
//! without a prefix space (Java has no sentence start to mark); the byte-level decoder; a
//! RoBERTa post-processor that wraps every encoding in `<s> … </s>`. Special tokens: `<s>`=0,
//! `<pad>`=1, `</s>`=2, `<unk>`=3 (never produced: every byte has a token) and `<mask>` last,
//! where BART's denoising pretraining expects it.
//!
//! Training is deterministic: the trainer's alphabet is the 256 byte symbols, seeded up front in
//! a fixed order, and ties between equally frequent merges break on the pair's ids, so the same
//! texts give the same `tokenizer.json` bytes whatever their order or the thread count.
//! This module does not decide *which* texts train it (that is `examples`).

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, Result, bail};
use tokenizers::models::TrainerWrapper;
use tokenizers::models::bpe::{BPE, BpeTrainer};
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::processors::roberta::RobertaProcessing;
use tokenizers::{AddedToken, Tokenizer};
use xxhash_rust::xxh3::xxh3_64;

pub const BOS: u32 = 0;
pub const PAD: u32 = 1;
pub const EOS: u32 = 2;
pub const UNK: u32 = 3;
pub const TOKENIZER_FILE: &str = "tokenizer.json";

/// The special tokens trained into the vocabulary first, in id order.
const SPECIALS: [(&str, u32); 4] = [("<s>", BOS), ("<pad>", PAD), ("</s>", EOS), ("<unk>", UNK)];
const MASK: &str = "<mask>";

/// Smallest vocabulary worth training: the specials, the 256 byte symbols and `<mask>`.
pub const MIN_VOCAB_SIZE: usize = SPECIALS.len() + 256 + 1;

/// A trained or loaded byte-level BPE tokenizer with BART's special tokens.
#[derive(Clone)]
pub struct CodeTokenizer {
    inner: Tokenizer,
    /// xxh3 of the compact serialization, computed once: it names this tokenizer in stamps.
    hash: String,
}

impl std::fmt::Debug for CodeTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CodeTokenizer")
            .field("vocab_size", &self.vocab_size())
            .field("hash", &self.hash)
            .finish()
    }
}

fn tk_err(e: tokenizers::Error) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

impl CodeTokenizer {
    /// Trains a tokenizer of `vocab_size` tokens (the specials and `<mask>` included) on `texts`;
    /// pairs of symbols seen fewer than `min_frequency` times are never merged, so a small
    /// corpus may yield fewer tokens than asked for ([`Self::vocab_size`] says how many).
    pub fn train<I: Iterator<Item = String> + Send>(
        texts: I,
        vocab_size: usize,
        min_frequency: u64,
    ) -> Result<Self> {
        if vocab_size < MIN_VOCAB_SIZE {
            bail!(
                "vocabulary size {vocab_size} is too small: a byte-level BPE needs at least \
                 {MIN_VOCAB_SIZE} (4 specials, 256 bytes, <mask>)"
            );
        }
        let alphabet: HashSet<char> = ByteLevel::alphabet().into_iter().collect();
        let specials: Vec<AddedToken> = SPECIALS
            .iter()
            .map(|(t, _)| AddedToken::from(*t, true))
            .collect();
        let mut trainer: TrainerWrapper = BpeTrainer::builder()
            .vocab_size(vocab_size - 1) // `<mask>` comes after the trained tokens
            .min_frequency(min_frequency)
            .special_tokens(specials)
            .initial_alphabet(alphabet)
            .show_progress(false)
            .build()
            .into();
        let mut tokenizer = Tokenizer::new(BPE::default());
        tokenizer
            .with_pre_tokenizer(Some(ByteLevel::new(false, true, true)))
            .with_decoder(Some(ByteLevel::new(false, true, true)))
            .with_post_processor(Some(
                RobertaProcessing::new(("</s>".into(), EOS), ("<s>".into(), BOS))
                    .trim_offsets(true)
                    .add_prefix_space(false),
            ));
        tokenizer
            .train(&mut trainer, texts)
            .map_err(tk_err)
            .context("training the BPE tokenizer")?;
        tokenizer
            .add_special_tokens([AddedToken::from(MASK, true)])
            .map_err(tk_err)?;
        Self::checked(tokenizer).context("the freshly trained tokenizer")
    }

    /// Loads `tokenizer.json` from a folder (a model folder, `OUT/tokenizer`) or a file path.
    pub fn load(dir_or_file: &Path) -> Result<Self> {
        let path = if dir_or_file.is_dir() {
            dir_or_file.join(TOKENIZER_FILE)
        } else {
            dir_or_file.to_path_buf()
        };
        let bytes = std::fs::read(&path)
            .with_context(|| format!("reading the tokenizer {}", path.display()))?;
        let inner = Tokenizer::from_bytes(&bytes)
            .map_err(tk_err)
            .with_context(|| format!("{} is not a tokenizers `tokenizer.json`", path.display()))?;
        Self::checked(inner).with_context(|| format!("in {}", path.display()))
    }

    /// Refuses a tokenizer whose special tokens are not BART's ids: ids are the contract with
    /// the model's embeddings, so a mismatch must fail here, not as garbage generations.
    fn checked(inner: Tokenizer) -> Result<Self> {
        for (token, id) in SPECIALS {
            match inner.token_to_id(token) {
                Some(found) if found == id => {}
                Some(found) => bail!("special token {token} has id {found}, expected {id}"),
                None => bail!("special token {token} is missing"),
            }
        }
        let last = inner.get_vocab_size(true) as u32 - 1;
        match inner.token_to_id(MASK) {
            Some(id) if id == last => {}
            Some(id) => bail!("{MASK} has id {id}, expected the last id {last}"),
            None => bail!("special token {MASK} is missing"),
        }
        let json = inner.to_string(false).map_err(tk_err)?;
        let hash = format!("{:016x}", xxh3_64(json.as_bytes()));
        Ok(Self { inner, hash })
    }

    /// Writes `tokenizer.json`, plus `tokenizer_config.json` and `special_tokens_map.json` so
    /// that `transformers`' `AutoTokenizer` / `PreTrainedTokenizerFast.from_pretrained(dir)`
    /// load it with the right special tokens and decode without re-spacing punctuation.
    pub fn save(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let json = self.inner.to_string(true).map_err(tk_err)?;
        crate::tables::write_atomic(&dir.join(TOKENIZER_FILE), json.as_bytes())?;
        let specials = serde_json::json!({
            "bos_token": "<s>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "sep_token": "</s>",
            "pad_token": "<pad>",
            "cls_token": "<s>",
            "mask_token": MASK,
        });
        let mut config = specials.clone();
        let extra = serde_json::json!({
            "tokenizer_class": "PreTrainedTokenizerFast",
            "add_prefix_space": false,
            "clean_up_tokenization_spaces": false,
            "model_input_names": ["input_ids", "attention_mask"],
        });
        config
            .as_object_mut()
            .expect("an object")
            .extend(extra.as_object().expect("an object").clone());
        crate::tables::write_atomic(
            &dir.join("tokenizer_config.json"),
            serde_json::to_string_pretty(&config)?.as_bytes(),
        )?;
        crate::tables::write_atomic(
            &dir.join("special_tokens_map.json"),
            serde_json::to_string_pretty(&specials)?.as_bytes(),
        )?;
        Ok(())
    }

    /// Token ids of `text`, wrapped in `<s> … </s>`. Offsets are not tracked (`encode_fast`):
    /// nothing here needs them, and skipping them is faster.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        Ok(self
            .inner
            .encode_fast(text, true)
            .map_err(tk_err)
            .context("encoding a text")?
            .get_ids()
            .to_vec())
    }

    /// [`Self::encode`] for many texts, in parallel.
    pub fn encode_batch(&self, texts: &[String]) -> Result<Vec<Vec<u32>>> {
        let inputs: Vec<&str> = texts.iter().map(String::as_str).collect();
        Ok(self
            .inner
            .encode_batch_fast(inputs, true)
            .map_err(tk_err)
            .context("encoding a batch of texts")?
            .into_iter()
            .map(|e| e.get_ids().to_vec())
            .collect())
    }

    /// The text of `ids`, special tokens skipped.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        self.inner
            .decode(ids, true)
            .map_err(tk_err)
            .context("decoding token ids")
    }

    /// Tokens in the vocabulary, `<mask>` included: the model's `vocab_size`.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// A stable hash of the serialized tokenizer: equal hashes, equal ids.
    pub fn content_hash(&self) -> String {
        self.hash.clone()
    }

    /// The token string of `id` (byte-level symbols, `Ġ` for a space), for reports.
    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// The id of a token string, if it is in the vocabulary.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> Vec<String> {
        (0..60)
            .map(|i| {
                format!(
                    "@Test public void testAdd{i}() {{ assertEquals({i}, new Calculator().add({i}, 0)); }}"
                )
            })
            .chain((0..30).map(|i| {
                format!("Calculator {{ public int add(int a, int b) {{ return a + b + {i}; }} }}")
            }))
            .collect()
    }

    #[test]
    fn specials_have_barts_ids_and_mask_is_last() {
        let tok = CodeTokenizer::train(corpus().into_iter(), 300, 2).unwrap();
        assert_eq!(tok.token_to_id("<s>"), Some(BOS));
        assert_eq!(tok.token_to_id("<pad>"), Some(PAD));
        assert_eq!(tok.token_to_id("</s>"), Some(EOS));
        assert_eq!(tok.token_to_id("<unk>"), Some(UNK));
        assert_eq!(tok.token_to_id(MASK), Some(tok.vocab_size() as u32 - 1));
        let ids = tok.encode("int a = 1;").unwrap();
        assert_eq!((ids[0], *ids.last().unwrap()), (BOS, EOS));
        assert_eq!(tok.decode(&ids).unwrap(), "int a = 1;");
    }

    #[test]
    fn too_small_a_vocabulary_is_refused() {
        let err = CodeTokenizer::train(corpus().into_iter(), 100, 2).unwrap_err();
        assert!(err.to_string().contains("too small"), "{err}");
    }
}
