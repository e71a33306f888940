//! Dataset organisation: the project-level train/valid/test split, the cross-validation folds
//! within a target project (and, later, examples and batching).

pub mod folds;
pub mod split;
