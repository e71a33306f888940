//! Acquisition: turn a project list (corpus CSV) into checkouts on disk.
//!
//! Sources: git URLs (git2), local folders (used in place), Debian source packages
//! (`deb:NAME[=VERSION]`). Nothing from a checkout is ever executed.

use std::path::PathBuf;

/// One row of a corpus CSV (`id,name,source,revision,stars`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProjectSpec {
    pub id: String,
    pub name: String,
    /// The source as written in the list (`https://…`, `file://…`, a path, `deb:NAME`).
    pub source: String,
    /// Pinned revision (commit, tag, Debian version), if the list gives one.
    pub revision: Option<String>,
    pub stars: Option<u64>,
}

/// Measures of a checkout taken from the files themselves (not from the miner), so the
/// train/valid/test split never moves when the miner improves.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckoutStats {
    pub size_bytes: u64,
    pub java_files: u64,
    pub java_bytes: u64,
    /// `.java` files that look like tests by path or name (a `test`/`tests` folder, or a
    /// file name starting or ending with `Test`/`Tests`/`IT`/`TestCase`).
    pub test_files: u64,
}

/// A project on disk, ready to mine.
#[derive(Debug, Clone)]
pub struct Checkout {
    pub spec: ProjectSpec,
    pub path: PathBuf,
    /// The revision actually checked out (commit id, Debian version, or `local`).
    pub revision: String,
    pub stats: CheckoutStats,
}

/// What happened to one project: a checkout, or the reason there is none.
#[derive(Debug)]
pub struct Acquired {
    pub spec: ProjectSpec,
    pub result: Result<Checkout, String>,
}
