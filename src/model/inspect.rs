//! Looking at a model from outside: its shape and parameter counts (the paper's Table 1), a
//! fresh model in HF layout, an HF round trip checked tensor by tensor, and its logits (with an
//! adapter) written for a reference implementation to compare with (`make check-peft`,
//! `pipelines/python/check_model_dir.py`). `tailor model` and `tailor export-check` call these.

use std::path::Path;

use anyhow::{Context, Result, bail};
use burn::prelude::*;

use crate::model::hf::{self, read_tensors};
use crate::model::params::{ParamCounts, ParamGroup, table1};
use crate::model::{Backend, BartConfig, BartForConditionalGeneration, Preset, shift_tokens_right};

/// The configuration `tailor model info` describes: a model folder's `config.json`, else a
/// preset's.
pub fn config_of(preset: Option<Preset>, model: Option<&Path>) -> Result<BartConfig> {
    match (preset, model) {
        (_, Some(dir)) => BartConfig::load(&dir.join(hf::CONFIG_FILE)),
        (Some(preset), None) => Ok(BartConfig::preset(preset)),
        (None, None) => bail!("give --preset or --model"),
    }
}

/// Write a randomly initialised `preset` model (HF's init, seeded), its vocabulary resized to
/// `vocab_size` if given, as an HF folder at `out`.
pub fn init(preset: Preset, vocab_size: Option<usize>, out: &Path, seed: u64) -> Result<()> {
    let mut config = BartConfig::preset(preset);
    if let Some(vocab_size) = vocab_size {
        config.vocab_size = vocab_size;
    }
    config.validate()?;
    let device = Backend::Flex.device(false)?;
    device.seed(seed);
    let model = BartForConditionalGeneration::new(&config, &device);
    hf::save_dir(&model, out)?;
    println!(
        "wrote a {preset} BART ({} parameters) to {}",
        human(ParamCounts::of(&model).total()),
        out.display()
    );
    Ok(())
}

/// Rows of token ids (or of an attention mask), as `tensor` takes them.
type Rows = Vec<Vec<i64>>;

/// Rows of token ids from `1, 2, 3; 4 5`, padded with `pad` to the longest row, with the
/// attention mask (1 = token).
fn parse_ids(text: &str, pad: u32) -> Result<(Rows, Rows)> {
    let rows: Rows = text
        .split(';')
        .map(|row| {
            row.split(|c: char| c == ',' || c.is_whitespace())
                .filter(|t| !t.is_empty())
                .map(|t| {
                    t.parse::<u32>()
                        .map(i64::from)
                        .with_context(|| format!("token id {t:?} in {text:?}"))
                })
                .collect::<Result<Vec<i64>>>()
        })
        .collect::<Result<_>>()?;
    let width = rows.iter().map(Vec::len).max().unwrap_or(0);
    if width == 0 || rows.iter().any(Vec::is_empty) {
        bail!("empty row of token ids in {text:?}");
    }
    let mask = rows
        .iter()
        .map(|row| (0..width).map(|i| i64::from(i < row.len())).collect())
        .collect();
    let padded = rows
        .into_iter()
        .map(|mut row| {
            row.resize(width, i64::from(pad));
            row
        })
        .collect();
    Ok((padded, mask))
}

fn int_tensor(rows: Rows, device: &Device) -> Tensor<2, Int> {
    let shape = [rows.len(), rows[0].len()];
    Tensor::from_data(TensorData::new(rows.concat(), shape), device)
}

/// Compute the logits of `model` (loaded on the flex device, an adapter attached or not: the
/// caller loads it, so the model knows nothing of strategies) for token ids written as in
/// `tailor model logits --input-ids`, and write inputs and logits to `out` ([`write_logits`]).
pub fn logits(
    model: BartForConditionalGeneration,
    input_ids: &str,
    decoder_input_ids: Option<&str>,
    out: &Path,
) -> Result<()> {
    let device = Backend::Flex.device(false)?;
    let pad = model.config.pad_token_id;
    let (ids, mask) = parse_ids(input_ids, pad)?;
    let (ids, mask) = (int_tensor(ids, &device), int_tensor(mask, &device));
    let dec = match decoder_input_ids {
        Some(text) => int_tensor(parse_ids(text, pad)?.0, &device),
        None => shift_tokens_right(
            ids.clone(),
            model.config.pad_token_id,
            model.config.decoder_start_token_id,
        ),
    };
    let logits = model.forward(ids.clone(), Some(mask.clone()), dec.clone());
    let dims = logits.dims();
    write_logits(out, ids, Some(mask), dec, logits)?;
    println!("wrote logits {dims:?} to {}", out.display());
    Ok(())
}

/// Write a batch and its logits as safetensors: `input_ids`, `attention_mask` (if any),
/// `decoder_input_ids` as i64 and `logits` as f32, the names HF's `forward` takes and returns.
pub fn write_logits(
    path: &Path,
    input_ids: Tensor<2, Int>,
    attention_mask: Option<Tensor<2, Int>>,
    decoder_input_ids: Tensor<2, Int>,
    logits: Tensor<3>,
) -> Result<()> {
    use safetensors::{Dtype, tensor::TensorView};
    let ints = |t: Tensor<2, Int>| -> (Vec<usize>, Vec<u8>) {
        let data = t.into_data().convert::<i64>();
        let shape = data.shape().to_vec();
        let values = data.try_into_vec::<i64>().expect("converted to i64");
        (shape, values.iter().flat_map(|v| v.to_le_bytes()).collect())
    };
    let mut tensors = vec![
        ("input_ids", Dtype::I64, ints(input_ids)),
        ("decoder_input_ids", Dtype::I64, ints(decoder_input_ids)),
    ];
    if let Some(mask) = attention_mask {
        tensors.push(("attention_mask", Dtype::I64, ints(mask)));
    }
    let data = logits.into_data().convert::<f32>();
    let shape = data.shape().to_vec();
    let values = data.try_into_vec::<f32>().expect("converted to f32");
    let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    tensors.push(("logits", Dtype::F32, (shape, bytes)));
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .map(|(name, dtype, (shape, bytes))| {
            TensorView::new(*dtype, shape.clone(), bytes)
                .map(|view| (*name, view))
                .with_context(|| format!("tensor {name}"))
        })
        .collect::<Result<_>>()?;
    safetensors::serialize_to_file(views, None, path)
        .with_context(|| format!("writing {}", path.display()))
}

/// The model's shape, its parameters per group, and Table 1.
pub fn info(config: &BartConfig, prefix_len: usize) -> String {
    use std::fmt::Write;
    let device = Device::default();
    let counts = ParamCounts::of(&BartForConditionalGeneration::new(config, &device));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "BART d_model {} · {} encoder + {} decoder layers · {} heads · ffn {} · vocab {} · {} positions",
        config.d_model,
        config.encoder_layers,
        config.decoder_layers,
        config.encoder_attention_heads,
        config.encoder_ffn_dim,
        config.vocab_size,
        config.max_position_embeddings
    );
    let _ = writeln!(out, "\n| parameter group | parameters |\n|---|---:|");
    let blocks = |select: fn(&ParamGroup) -> bool| -> (usize, usize) {
        let matching: Vec<usize> = counts
            .groups
            .iter()
            .filter(|(g, _)| select(g))
            .map(|(_, n)| *n)
            .collect();
        (matching.len(), matching.first().copied().unwrap_or(0))
    };
    for (group, n) in &counts.groups {
        if matches!(
            group,
            ParamGroup::EncoderBlock(_) | ParamGroup::DecoderBlock(_)
        ) {
            continue;
        }
        let _ = writeln!(out, "| {group} | {} |", thousands(*n));
    }
    let (enc, enc_each) = blocks(|g| matches!(g, ParamGroup::EncoderBlock(_)));
    let (dec, dec_each) = blocks(|g| matches!(g, ParamGroup::DecoderBlock(_)));
    let _ = writeln!(
        out,
        "| encoder blocks ({enc} × {}) | {} |",
        thousands(enc_each),
        thousands(enc * enc_each)
    );
    let _ = writeln!(
        out,
        "| decoder blocks ({dec} × {}) | {} |",
        thousands(dec_each),
        thousands(dec * dec_each)
    );
    let _ = writeln!(
        out,
        "| **total** (HF `num_parameters`, without the bias buffer) | {} |",
        thousands(counts.total())
    );

    let _ = writeln!(
        out,
        "\nTable 1 — trainable parameters per customization process (prefix length {prefix_len}):\n\n\
         | process | total | trained |\n|---|---:|---:|"
    );
    for row in table1(config, prefix_len) {
        let _ = writeln!(
            out,
            "| {} | {} | {} ({:.1}%) |",
            row.process,
            human(row.total),
            human(row.trained),
            100.0 * row.trained as f64 / row.total as f64
        );
    }
    out
}

/// `406291456` → `406.3M`.
pub fn human(n: usize) -> String {
    match n {
        n if n >= 1_000_000_000 => format!("{:.1}B", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.1}M", n as f64 / 1e6),
        n if n >= 1_000 => format!("{:.1}k", n as f64 / 1e3),
        n => n.to_string(),
    }
}

fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Load the HF folder `model_dir`, write it to `out`, and check that every tensor survives bit
/// for bit and the written folder loads again.
pub fn convert(model_dir: &Path, out: &Path) -> Result<()> {
    let device = Backend::Flex.device(false)?;
    let model = hf::load_dir(model_dir, &device)?;
    hf::save_dir(&model, out)?;
    let original = read_tensors(&model_dir.join(hf::WEIGHTS_FILE))?;
    let written = read_tensors(&out.join(hf::WEIGHTS_FILE))?;
    let mut checked = 0;
    for (key, data) in &written {
        let source = original
            .get(key)
            .with_context(|| format!("{key} was written but is not in the source"))?;
        if source.shape() != data.shape() || source.as_bytes() != data.as_bytes() {
            bail!("{key} changed in the round trip");
        }
        checked += 1;
    }
    let skipped: Vec<&String> = original
        .keys()
        .filter(|k| !written.contains_key(*k))
        .collect();
    hf::load_dir(out, &device).context("re-loading the written model")?;
    println!(
        "{} → {}: {checked} tensors identical{}",
        model_dir.display(),
        out.display(),
        if skipped.is_empty() {
            String::new()
        } else {
            format!("; tied aliases not rewritten: {skipped:?}")
        }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_id_rows_are_padded_and_masked() {
        let (ids, mask) = parse_ids("0, 5 6 2; 0 7 2", 1).unwrap();
        assert_eq!(ids, vec![vec![0, 5, 6, 2], vec![0, 7, 2, 1]]);
        assert_eq!(mask, vec![vec![1, 1, 1, 1], vec![1, 1, 1, 0]]);
        assert!(
            parse_ids("0 x", 1)
                .unwrap_err()
                .to_string()
                .contains("\"x\"")
        );
    }

    #[test]
    fn large_info_prints_table_1() {
        let text = info(&BartConfig::preset(Preset::Large), 200);
        assert!(
            text.contains("| Custom | 406.3M | 406.3M (100.0%) |"),
            "{text}"
        );
        assert!(text.contains("| L-EO | 406.3M | 53.6M (13.2%) |"), "{text}");
        assert!(text.contains("| L-LDB | 406.3M | 16.8M (4.1%) |"), "{text}");
        assert!(text.contains("| Prefix | 416.1M | 9.8M (2.4%) |"), "{text}");
        assert!(text.contains("decoder blocks (12 × 16,796,672)"), "{text}");
    }
}
