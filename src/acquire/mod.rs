//! Acquisition: turn a project list (corpus CSV) into checkouts on disk.
//!
//! Sources: git URLs (git2: `https://`, `git+https://`, `file://`, `ssh://`, `git@host:path`),
//! local folders (used in place), and Debian source packages (`deb:NAME[=VERSION]`, fetched with
//! `apt-get source --download-only` through a project-local apt configuration and unpacked with
//! Rust archive crates).
//!
//! What it deliberately does not do: nothing from a checkout is ever executed (libgit2 runs no
//! hooks, submodules are never initialised, no build script or `debian/rules` is run), symbolic
//! links are never followed out of a project, and archive entries cannot escape their folder.
//!
//! Every fetched checkout lands in `cache_dir/checkouts/<project_id>` through a temporary folder
//! and a rename, so an interrupted run never leaves a half checkout; a marker file next to it
//! (`<project_id>.acquired.json`) records the source and revision, and a later run that asks for
//! the same source and revision reuses the checkout instead of fetching again.

mod apt;
mod cache;
mod corpus;
mod debian;
pub(crate) mod git;
mod report;
pub mod select;
mod sources_index;
mod stats;
mod unpack;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use indicatif::{ParallelProgressIterator, ProgressBar, ProgressStyle};
use rayon::prelude::*;

use crate::layout::Cache;

pub use apt::{AptConfig, deb_src_lines_from_deb822, deb_src_lines_from_one_line};
pub use corpus::{read_corpus, write_corpus};
pub use debian::{DebianSpec, version_compare};
pub use report::{acquire_corpus, summary};
pub use sources_index::{JavaSourcePackage, java_source_packages, parse_sources_index};
pub use stats::checkout_stats;
pub use unpack::{UnpackReport, unpack_archive};

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
    /// Bytes fetched over the network to build this checkout (Debian files that arrived, git
    /// pack bytes); 0 for local folders. Recorded in the cache marker, so a reused checkout
    /// reports what its first acquisition cost: the default corpus is chosen by it.
    pub download_bytes: u64,
    /// True when this run reused a cached checkout instead of fetching it.
    pub reused: bool,
    /// Things that did not stop the checkout but a user should know: archive entries refused
    /// by the safe unpacker, Debian files that answered 404 while the upstream source arrived.
    pub warnings: Vec<String>,
}

/// What happened to one project: a checkout, or the reason there is none.
#[derive(Debug)]
pub struct Acquired {
    pub spec: ProjectSpec,
    pub result: Result<Checkout, String>,
}

/// Where and how to acquire.
#[derive(Debug, Clone)]
pub struct AcquireOptions {
    /// Checkouts go to `cache_dir/checkouts/<project_id>`, Debian downloads to
    /// `cache_dir/deb/<package>`, the project-local apt configuration to `cache_dir/apt`.
    pub cache_dir: PathBuf,
    /// How many projects are fetched at once.
    pub jobs: usize,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

impl AcquireOptions {
    pub fn new(cache_dir: impl Into<PathBuf>, jobs: usize) -> Self {
        Self {
            cache_dir: cache_dir.into(),
            jobs: jobs.max(1),
            progress: true,
        }
    }

    pub fn checkouts_dir(&self) -> PathBuf {
        Cache::new(&self.cache_dir).checkouts_dir()
    }

    pub fn deb_dir(&self) -> PathBuf {
        Cache::new(&self.cache_dir).deb_dir()
    }

    pub fn apt_dir(&self) -> PathBuf {
        Cache::new(&self.cache_dir).apt_dir()
    }
}

/// Where a project comes from, parsed from the `source` column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A URL libgit2 can clone (the `git+` prefix already stripped).
    Git(String),
    /// A folder on this machine, used in place.
    Local(PathBuf),
    /// A Debian source package, optionally pinned to a version.
    Debian(DebianSpec),
}

impl Source {
    /// Classify a `source` column value. Anything that is neither a known URL scheme, an
    /// scp-like ssh address nor `deb:` is a local path.
    pub fn parse(source: &str) -> anyhow::Result<Source> {
        let s = source.trim();
        anyhow::ensure!(!s.is_empty(), "empty source");
        if let Some(rest) = s.strip_prefix("deb:") {
            return Ok(Source::Debian(DebianSpec::parse(rest)?));
        }
        if let Some(rest) = s.strip_prefix("git+") {
            anyhow::ensure!(
                rest.contains("://"),
                "`{s}`: `git+` must be followed by a URL such as https://…"
            );
            return Ok(Source::Git(rest.to_string()));
        }
        for scheme in ["https://", "http://", "file://", "ssh://", "git://"] {
            if s.starts_with(scheme) {
                return Ok(Source::Git(s.to_string()));
            }
        }
        if let Some(scheme_end) = s.find("://") {
            anyhow::bail!("`{s}`: unsupported URL scheme `{}`", &s[..scheme_end]);
        }
        if is_scp_like(s) {
            return Ok(Source::Git(s.to_string()));
        }
        Ok(Source::Local(PathBuf::from(s)))
    }
}

/// `user@host:path` (git's scp-like ssh syntax), but not a Windows-ish `C:\` or a plain path.
fn is_scp_like(s: &str) -> bool {
    let Some((left, right)) = s.split_once(':') else {
        return false;
    };
    left.contains('@') && !left.contains('/') && !right.is_empty()
}

/// Acquire every project, at most `opts.jobs` at a time, with a progress bar; results come
/// back in input order. A failing project becomes an error row; the others go on.
pub fn acquire_all(specs: &[ProjectSpec], opts: &AcquireOptions) -> Vec<Acquired> {
    let apt = OnceLock::new();
    let work = || {
        let bar = if opts.progress {
            ProgressBar::new(specs.len() as u64)
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "acquire {bar:40} {pos}/{len} [{elapsed_precise}<{eta_precise}] {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let out: Vec<Acquired> = specs
            .par_iter()
            .progress_with(bar.clone())
            .map(|spec| {
                bar.set_message(spec.id.clone());
                Acquired {
                    spec: spec.clone(),
                    result: acquire_one(spec, opts, &apt).map_err(|e| format!("{e:#}")),
                }
            })
            .collect();
        bar.finish_and_clear();
        out
    };
    match rayon::ThreadPoolBuilder::new()
        .num_threads(opts.jobs.max(1))
        .build()
    {
        Ok(pool) => pool.install(work),
        Err(_) => work(),
    }
}

/// Acquire one project. `apt` is prepared (written and `apt-get update`d) the first time a
/// Debian package actually needs downloading, once per run.
fn acquire_one(
    spec: &ProjectSpec,
    opts: &AcquireOptions,
    apt: &OnceLock<Result<AptConfig, String>>,
) -> anyhow::Result<Checkout> {
    corpus::check_id(&spec.id)?;
    let source = Source::parse(&spec.source)?;
    if let Source::Local(path) = &source {
        return local_checkout(spec, path);
    }
    let dest = opts.checkouts_dir().join(&spec.id);
    if let Some(checkout) = cache::reuse(spec, &dest)? {
        return Ok(checkout);
    }
    std::fs::create_dir_all(opts.checkouts_dir())
        .map_err(|e| anyhow::anyhow!("cannot create {}: {e}", opts.checkouts_dir().display()))?;
    let fetched = match &source {
        Source::Git(url) => git::fetch(
            url,
            spec.revision.as_deref(),
            &opts.checkouts_dir(),
            &spec.id,
        )?,
        Source::Debian(deb) => {
            let deb = deb.pinned(spec.revision.as_deref())?;
            let apt = apt
                .get_or_init(|| AptConfig::prepare(&opts.apt_dir()).map_err(|e| format!("{e:#}")))
                .as_ref()
                .map_err(|e| anyhow::anyhow!("apt is not usable: {e}"))?;
            debian::fetch(apt, &deb, &opts.deb_dir(), &opts.checkouts_dir(), &spec.id)?
        }
        Source::Local(_) => unreachable!("handled above"),
    };
    cache::install(spec, fetched, &dest)
}

/// A local folder: used in place, never copied.
fn local_checkout(spec: &ProjectSpec, path: &Path) -> anyhow::Result<Checkout> {
    let meta = std::fs::metadata(path)
        .map_err(|e| anyhow::anyhow!("local folder {}: {e}", path.display()))?;
    anyhow::ensure!(
        meta.is_dir(),
        "local source {} is not a folder",
        path.display()
    );
    let path = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let stats = checkout_stats(&path)?;
    Ok(Checkout {
        spec: spec.clone(),
        path,
        revision: "local".to_string(),
        stats,
        download_bytes: 0,
        reused: false,
        warnings: Vec::new(),
    })
}

/// What a fetcher hands back: a finished tree in a temporary folder beside its destination.
pub(crate) struct Fetched {
    /// A folder in the same parent as the destination; its [`FETCHED_TREE`] child is renamed
    /// into place by `cache::install`, and the rest is removed when it drops.
    pub tmp: tempfile::TempDir,
    pub revision: String,
    pub download_bytes: u64,
    pub warnings: Vec<String>,
}

/// The name of the finished tree inside [`Fetched::tmp`].
pub(crate) const FETCHED_TREE: &str = "tree";

/// A temporary folder for fetching project `id`, beside the checkouts so the finished tree
/// is renamed into place (same file system) and a crash leaves only a `.tmp-*` folder.
pub(crate) fn fetch_tempdir(checkouts_dir: &Path, id: &str) -> anyhow::Result<tempfile::TempDir> {
    use anyhow::Context;
    tempfile::Builder::new()
        .prefix(&format!(".tmp-{id}-"))
        .tempdir_in(checkouts_dir)
        .with_context(|| {
            format!(
                "cannot create a temporary folder in {}",
                checkouts_dir.display()
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_classified_by_their_form() {
        assert_eq!(
            Source::parse("git+https://example.org/a.git").unwrap(),
            Source::Git("https://example.org/a.git".into())
        );
        assert_eq!(
            Source::parse("file:///tmp/x").unwrap(),
            Source::Git("file:///tmp/x".into())
        );
        assert_eq!(
            Source::parse("git@github.com:apache/dubbo.git").unwrap(),
            Source::Git("git@github.com:apache/dubbo.git".into())
        );
        assert_eq!(
            Source::parse("fixtures/p1").unwrap(),
            Source::Local("fixtures/p1".into())
        );
        assert!(matches!(
            Source::parse("deb:guava-libraries=31.1-1").unwrap(),
            Source::Debian(_)
        ));
        assert!(Source::parse("ftp://x/y").is_err());
        assert!(Source::parse("  ").is_err());
    }
}
