//! Dataset organisation: the project-level train/valid/test split, model inputs at every
//! focal-context level, the BPE tokenizer, the encoded examples and their batching, and the
//! cross-validation folds within a target project, and retrieval-augmented inputs.

pub mod augment;
pub mod batches;
pub mod context;
pub mod examples;
pub mod folds;
pub mod split;
pub mod tokenizer;

pub use augment::{augment_fold, read_project_pairs};
pub use batches::{BatchPlan, padding_ratio, plan_epoch, plan_eval};
pub use context::{ContextLevel, PairContext, model_input, model_target};
pub use examples::{
    Example, ExampleSettings, ExamplesSummary, SplitSummary, ensure_examples, read_examples,
    tokenizer_dir,
};
pub use tokenizer::{BOS, CodeTokenizer, EOS, PAD, TOKENIZER_FILE, UNK};
