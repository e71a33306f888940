//! `tailor adapt`: a developer's own repository, outside the corpus, mined with the base's
//! tokenizer and settings, indexed for retrieval, customized on its own pairs and registered
//! under `OUT/adapters/<name>/` ([`registry`]).

pub mod registry;
