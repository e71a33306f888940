//! [`Engine`]: one base, the registered projects' adapters and retrieval indexes.
//!
//! CONTRACT (see the module above): `Engine::load(&EngineOptions) -> anyhow::Result<Engine>`,
//! `Engine::projects(&self) -> Vec<ProjectInfo>`, `Engine::max_k(&self) -> usize`,
//! `Engine::suggest_batch(&self, &[SuggestRequest]) -> Vec<Result<Vec<Candidate>, SuggestError>>`
//! (one result per request, in order). `Engine` is `Send`: `serve` moves it into its worker.

use super::{Candidate, EngineOptions, ProjectInfo, SuggestError, SuggestRequest};

/// One base and the registered projects adapted to it, ready to answer requests.
pub struct Engine {
    options: EngineOptions,
}

impl Engine {
    /// Loads the base, every registered project adapted to it (or `options.projects`), their
    /// adapters (prefix/LoRA into one bank) and retrieval indexes.
    pub fn load(options: &EngineOptions) -> anyhow::Result<Engine> {
        unimplemented!("being written: {}", options.out.display())
    }

    /// The loaded projects, by name.
    pub fn projects(&self) -> Vec<ProjectInfo> {
        unimplemented!("being written")
    }

    /// The largest `k` a request may ask for.
    pub fn max_k(&self) -> usize {
        self.options.max_k
    }

    /// Candidates for every request, best first, one result per request in order: a bad
    /// request fails alone, never its batch.
    pub fn suggest_batch(
        &self,
        requests: &[SuggestRequest],
    ) -> Vec<Result<Vec<Candidate>, SuggestError>> {
        let _ = requests;
        unimplemented!("being written")
    }
}
