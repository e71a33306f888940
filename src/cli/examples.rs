//! `tailor examples`: train the BPE tokenizer and encode every split pair as token ids.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;

use crate::data::context::ContextLevel;
use crate::data::examples::{ExampleSettings, dump_texts, ensure_examples};

/// Train the byte-level BPE tokenizer on the train split (OUT/tokenizer/tokenizer.json) and
/// write every pair of a split project as token ids (OUT/tables/examples.parquet), with the
/// focal method's context at one of Methods2Test's levels. Only what is stale for the given
/// settings and the current pairs/projects tables is rebuilt.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output folder holding `tables/pairs.parquet` and `tables/projects.parquet` (`tailor mine`).
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// Focal context in the model input: FM (focal method), FM_FC (+ class name), FM_FC_CO
    /// (+ constructors), FM_FC_MS (+ public method signatures), FM_FC_MS_FF (+ public fields).
    #[arg(long, value_enum, default_value_t = ContextLevel::FmFcMsFf)]
    pub level: ContextLevel,
    /// Longest input in tokens (<s> and </s> included); longer ones keep their first
    /// max − 1 tokens and </s>.
    #[arg(long, default_value_t = 512)]
    pub max_input: usize,
    /// Longest target (test case) in tokens, truncated like inputs.
    #[arg(long, default_value_t = 256)]
    pub max_target: usize,
    /// Tokens in the BPE vocabulary, the 4 specials and <mask> included.
    #[arg(long, default_value_t = 16384)]
    pub vocab_size: usize,
    /// Symbol pairs seen fewer times than this in the train split are not merged.
    #[arg(long, default_value_t = 2)]
    pub min_frequency: u64,
    /// Retrieved tests per input: 0 (plain inputs) or 1, the most similar other test of the
    /// same project (BM25 over focal methods, its names adapted) after the focal context behind
    /// `</s></s>`, taking at most half of --max-input when both do not fit. The profile field
    /// `data.retrieved`.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=1))]
    pub retrieved: u8,
    /// Also write real examples' input and target texts with tailor's ids to this JSON lines
    /// file ({"pair_id", "split", "kind", "text", "ids"}), for `make check-tokenizer`.
    #[arg(long, value_name = "FILE")]
    pub dump_texts: Option<PathBuf>,
    /// How many examples --dump-texts writes (two lines each: input and target).
    #[arg(long, default_value_t = 1000)]
    pub dump_count: usize,
}

pub fn run(args: Args) -> Result<()> {
    let settings = ExampleSettings {
        level: args.level,
        max_input: args.max_input,
        max_target: args.max_target,
        vocab_size: args.vocab_size,
        min_frequency: args.min_frequency,
        retrieved: usize::from(args.retrieved),
    };
    let summary = ensure_examples(&args.out, &settings, std::io::stderr().is_terminal())?;
    println!("{summary}");
    if let Some(file) = &args.dump_texts {
        let lines = dump_texts(&args.out, settings.level, args.dump_count, file)?;
        println!("{lines} texts with their ids → {}", file.display());
    }
    Ok(())
}
