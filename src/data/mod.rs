//! Dataset organisation: the project-level train/valid/test split (and, later, examples,
//! batching and folds).

pub mod split;
