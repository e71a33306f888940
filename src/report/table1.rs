//! Table 1 (paper §3): total and trained parameters per customization strategy, measured from
//! the files a run leaves — the baseline's `model.safetensors` and each strategy's
//! `adapter.safetensors` — so the table states what storing a customized model costs here, and
//! for the `large` preset (bart-large, where the paper's 406M / 53M / 17M / 10M come from),
//! computed from the model definition, LoRA added.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, ensure};
use burn::prelude::Device;

use super::evaluation::{Evaluation, write_csv, write_text};
use super::plot::{label, order};
use crate::label::RunLabel;
use crate::model::adapter::ADAPTER_WEIGHTS;
use crate::model::hf::{TIED_ALIASES, WEIGHTS_FILE};
use crate::model::params::table1;
use crate::model::{BartConfig, BartForConditionalGeneration, Preset};
use crate::strategy::{LoraSettings, Strategy};

/// The paper's Table 1 for bart-large, as published (parameters in millions, share trained).
pub const PAPER_TABLE1: [(&str, f64, f64, &str); 4] = [
    ("Custom", 406.0, 406.0, "100%"),
    ("L-EO", 406.0, 53.0, "13%"),
    ("L-LDB", 406.0, 17.0, "4.2%"),
    ("Prefix", 416.0, 10.0, "2.4%"),
];

/// Element counts of every tensor of a safetensors file, read from its header only (a model
/// file can be gigabytes; the header says every shape).
pub fn tensor_sizes(path: &Path) -> Result<BTreeMap<String, usize>> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut len = [0u8; 8];
    file.read_exact(&mut len)
        .with_context(|| format!("reading the safetensors header of {}", path.display()))?;
    let len = u64::from_le_bytes(len);
    ensure!(
        len < 100_000_000,
        "{} has an implausible header ({len} bytes)",
        path.display()
    );
    let mut header = vec![0u8; len as usize];
    file.read_exact(&mut header)
        .with_context(|| format!("reading the safetensors header of {}", path.display()))?;
    let json: serde_json::Value = serde_json::from_slice(&header)
        .with_context(|| format!("parsing the safetensors header of {}", path.display()))?;
    let map = json
        .as_object()
        .with_context(|| format!("{}: the header is not a JSON object", path.display()))?;
    Ok(map
        .iter()
        .filter(|(key, _)| *key != "__metadata__")
        .map(|(key, info)| {
            let numel = info["shape"].as_array().map_or(0, |dims| {
                dims.iter().filter_map(|d| d.as_u64()).product::<u64>()
            }) as usize;
            (key.clone(), numel)
        })
        .collect())
}

/// Parameters as HF counts them: no `final_logits_bias` buffer, the tied embedding once.
fn hf_total(sizes: &BTreeMap<String, usize>) -> usize {
    sizes
        .iter()
        .filter(|(k, _)| *k != "final_logits_bias" && !TIED_ALIASES.contains(&k.as_str()))
        .map(|(_, n)| n)
        .sum()
}

/// An added (not base) tensor of an adapter: a prefix or a LoRA matrix.
fn is_added(key: &str) -> bool {
    key.split('.')
        .any(|p| p == "prefix" || p.starts_with("lora_"))
}

/// One measured row.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasuredRow {
    pub strategy: RunLabel,
    pub total: usize,
    pub trained: usize,
    /// Mean size of the stored customization (adapter file; the whole model file for the
    /// baseline).
    pub bytes: f64,
    /// Adapters measured.
    pub adapters: usize,
    /// Whether the finetune table's `trainable_params` agree with the adapter files.
    pub agrees_with_table: bool,
}

/// Table 1 measured on the profile's files.
pub fn measure(eval: &Evaluation) -> Result<Vec<MeasuredRow>> {
    let runs = eval.runs();
    let base_dir = runs.baseline_model();
    let base_file = base_dir.join(WEIGHTS_FILE);
    let base = tensor_sizes(&base_file)?;
    let total = hf_total(&base);
    let base_bytes = std::fs::metadata(&base_file)
        .with_context(|| format!("reading {}", base_file.display()))?
        .len() as f64;
    let mut rows = vec![MeasuredRow {
        strategy: RunLabel::Baseline,
        total,
        trained: 0,
        bytes: base_bytes,
        adapters: 0,
        agrees_with_table: true,
    }];
    let mut by_strategy: BTreeMap<&str, Vec<(usize, usize, f64, u64)>> = BTreeMap::new();
    for row in eval
        .finetune
        .iter()
        .filter(|r| RunLabel::Baseline != r.strategy)
    {
        let file = runs
            .adapter_dir(&row.project_id, &row.strategy, row.fold as usize)
            .join(ADAPTER_WEIGHTS);
        if !file.exists() {
            continue;
        }
        let sizes = tensor_sizes(&file)?;
        let trained: usize = sizes.values().sum();
        let added: usize = sizes
            .iter()
            .filter(|(k, _)| is_added(k))
            .map(|(_, n)| n)
            .sum();
        let bytes = std::fs::metadata(&file)
            .with_context(|| format!("reading {}", file.display()))?
            .len() as f64;
        by_strategy.entry(row.strategy.as_str()).or_default().push((
            trained,
            added,
            bytes,
            row.trainable_params,
        ));
    }
    let mut measured: Vec<MeasuredRow> = by_strategy
        .into_iter()
        .map(|(strategy, runs)| {
            let (trained, added, _, _) = runs[0];
            Ok(MeasuredRow {
                strategy: strategy.parse()?,
                total: total + added,
                trained,
                bytes: runs.iter().map(|r| r.2).sum::<f64>() / runs.len() as f64,
                adapters: runs.len(),
                agrees_with_table: runs.iter().all(|r| r.0 == trained && r.3 as usize == r.0),
            })
        })
        .collect::<Result<_>>()?;
    measured.sort_by_key(|r| order(&r.strategy));
    rows.extend(measured);
    Ok(rows)
}

/// Table 1 for bart-large from the model definition (the paper's prefix of 200 positions on
/// encoder and decoder self-attention), plus LoRA with `lora`'s settings.
pub fn large(lora: &LoraSettings) -> Vec<(String, usize, usize)> {
    let config = BartConfig::preset(Preset::Large);
    let mut rows: Vec<(String, usize, usize)> = table1(&config, 200)
        .into_iter()
        .map(|r| (r.process.to_string(), r.total, r.trained))
        .collect();
    let device = Device::default();
    let strategy = Strategy::Lora { lora: lora.clone() };
    let model = strategy.attach(BartForConditionalGeneration::new(&config, &device), &device);
    let (trained, total) = strategy.counts(&model);
    rows.push(("LoRA".into(), total, trained));
    rows
}

fn millions(n: usize) -> String {
    if n >= 1_000_000 {
        format!("{:.1}M", n as f64 / 1e6)
    } else if n >= 100_000 {
        format!("{:.2}M", n as f64 / 1e6)
    } else {
        format!("{n}")
    }
}

fn share(trained: usize, total: usize) -> String {
    if total == 0 {
        "—".into()
    } else {
        format!("{:.2}%", 100.0 * trained as f64 / total as f64)
    }
}

fn human_bytes(bytes: f64) -> String {
    match bytes {
        b if b >= 1e9 => format!("{:.2} GB", b / 1e9),
        b if b >= 1e6 => format!("{:.1} MB", b / 1e6),
        b if b >= 1e3 => format!("{:.1} kB", b / 1e3),
        b => format!("{b:.0} B"),
    }
}

/// Table 1 as Markdown and CSV under `dir`.
pub fn write_table1(eval: &Evaluation, lora: &LoraSettings, dir: &Path) -> Result<Vec<PathBuf>> {
    let measured = measure(eval)?;
    let large = large(lora);
    let mut md = format!(
        "# Table 1: parameters per customization strategy\n\n\
         ## Measured (profile {}): baseline `model.safetensors` and the `adapter.safetensors` files\n\n\
         | Process | Total | Trained | Share | Stored per project | adapters | finetune table agrees |\n\
         |---|---:|---:|---:|---:|---:|---|\n",
        eval.profile
    );
    let mut rows = Vec::new();
    for r in &measured {
        md.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            label(&r.strategy),
            millions(r.total),
            millions(r.trained),
            share(r.trained, r.total),
            if r.strategy == RunLabel::Baseline {
                format!("{} (shared)", human_bytes(r.bytes))
            } else {
                human_bytes(r.bytes)
            },
            r.adapters,
            if r.agrees_with_table { "yes" } else { "NO" },
        ));
        rows.push(vec![
            eval.profile.clone(),
            r.strategy.to_string(),
            r.total.to_string(),
            r.trained.to_string(),
            format!("{}", r.bytes),
        ]);
    }
    md.push_str(&format!(
        "\n## `large` preset (bart-large), from the model definition; LoRA r = {}, targets {:?}, every attention\n\n\
         | Process | Total | Trained | Share |\n|---|---:|---:|---:|\n",
        lora.rank, lora.targets
    ));
    for (process, total, trained) in &large {
        md.push_str(&format!(
            "| {process} | {} | {} | {} |\n",
            millions(*total),
            millions(*trained),
            share(*trained, *total)
        ));
        rows.push(vec![
            "large".into(),
            process.to_lowercase(),
            total.to_string(),
            trained.to_string(),
            String::new(),
        ]);
    }
    md.push_str(
        "\n## The paper's Table 1 (bart-large), as published\n\n\
         | Process | Total | Trained | Share |\n|---|---:|---:|---:|\n",
    );
    for (process, total, trained, pct) in PAPER_TABLE1 {
        md.push_str(&format!(
            "| {process} | {total:.0}M | {trained:.0}M | {pct} |\n"
        ));
    }
    Ok(vec![
        write_text(dir, "table1.md", &md)?,
        write_csv(
            dir,
            "table1.csv",
            &[
                "source",
                "strategy",
                "total_params",
                "trained_params",
                "stored_bytes",
            ],
            &rows,
        )?,
    ])
}
