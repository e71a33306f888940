//! Mining: test class → focal class → focal method, plus the focal-class context
//! (Methods2Test's heuristics, with their known faults fixed and documented).

mod pair;

pub use pair::{Framework, Heuristic, Pair};

/// Extraction settings.
#[derive(Debug, Clone)]
pub struct MineOptions {
    /// Files larger than this are skipped and counted (default 2 MiB).
    pub max_file_bytes: u64,
}

impl Default for MineOptions {
    fn default() -> Self {
        Self {
            max_file_bytes: 2 * 1024 * 1024,
        }
    }
}

/// Counts for one project, so nothing is dropped silently.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MiningStats {
    pub java_files: u64,
    pub java_bytes: u64,
    /// Files given to tree-sitter (the rest were ruled out by the byte scan).
    pub files_parsed: u64,
    pub bytes_parsed: u64,
    pub files_too_large: u64,
    pub files_lossy_utf8: u64,
    /// Files whose tree has ERROR/MISSING nodes (still mined where usable).
    pub files_with_syntax_errors: u64,
    pub test_classes: u64,
    pub mapped_test_classes: u64,
    pub test_cases: u64,
    pub mapped_test_cases: u64,
    pub duplicate_pairs: u64,
}

/// The pairs of one project and how they were found.
#[derive(Debug, Clone, Default)]
pub struct ProjectMining {
    pub pairs: Vec<Pair>,
    pub stats: MiningStats,
}
