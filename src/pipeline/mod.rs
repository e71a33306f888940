//! Stages that chain other stages: `mine` = acquire + extract + split + Table 2; `heatmap` =
//! tokenize + shared-token matrix + Figure 1; `corpus` = apt's index or a census → a project
//! list; `export_check` = examples + tokenizer + logits for the HF reference check; `baseline` =
//! training + its learning curve + its report; `finetune` = the baseline when missing + the
//! customization sweep.

pub mod baseline;
pub mod corpus;
pub mod export_check;
pub mod finetune;
pub mod heatmap;
pub mod mine;
