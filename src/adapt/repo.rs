//! The repository `tailor adapt` mines: a local folder, used in place, or a git URL, cloned
//! with the corpus's own fetcher ([`crate::acquire`]'s git2 clone: shallow, retried, no hooks
//! run) into the project's `checkout/` and fetched again on later runs.
//!
//! An update fetches the remote's HEAD afresh into a temporary folder beside the checkout and
//! swaps it in when HEAD moved: the checkout is tailor's own copy, never edited, so this ends
//! where a fast-forward would (and also follows a force-pushed branch), through the one fetch
//! code path the corpus uses.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::acquire::{FETCHED_TREE, Source};
use crate::layout::OwnProject;

/// A repository as given on the command line, before anything is fetched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepoSpec {
    /// A folder on this machine, mined where it is.
    Local(PathBuf),
    /// A URL libgit2 can clone (`https://`, `ssh://`, `file://`, `user@host:path`).
    Git(String),
}

impl RepoSpec {
    /// Classifies `--repo` as the corpus list classifies a `source` (a URL scheme or an
    /// scp-like address is git; anything else a local path).
    pub fn parse(repo: &str) -> Result<Self> {
        match Source::parse(repo).with_context(|| format!("--repo {repo:?}"))? {
            Source::Git(url) => Ok(RepoSpec::Git(url)),
            Source::Local(path) => Ok(RepoSpec::Local(path)),
            Source::Debian(_) => bail!(
                "--repo {repo:?}: Debian source packages are for the corpus; give the unpacked \
                 folder or a git URL"
            ),
        }
    }

    /// The project name a repository gets when `--name` is not given: the folder's name, or
    /// the URL's last path segment without `.git`.
    pub fn default_name(&self) -> Result<String> {
        let name = match self {
            RepoSpec::Local(path) => {
                let absolute = std::path::absolute(path)
                    .with_context(|| format!("resolving {}", path.display()))?;
                absolute
                    .components()
                    .next_back()
                    .and_then(|c| c.as_os_str().to_str())
                    .map(str::to_string)
                    .unwrap_or_default()
            }
            RepoSpec::Git(url) => {
                let trimmed = url.trim_end_matches('/');
                let last = trimmed
                    .rsplit(['/', ':'])
                    .next()
                    .unwrap_or(trimmed)
                    .to_string();
                last.strip_suffix(".git").unwrap_or(&last).to_string()
            }
        };
        if name.is_empty() {
            bail!("cannot name a project after {self}; give --name");
        }
        Ok(name)
    }
}

impl std::fmt::Display for RepoSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RepoSpec::Local(path) => write!(f, "{}", path.display()),
            RepoSpec::Git(url) => f.write_str(url),
        }
    }
}

/// A repository ready to mine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkout {
    /// The folder to mine: the local folder, or the project's `checkout/`.
    pub root: PathBuf,
    /// The HEAD commit, when the folder is (inside) a git repository.
    pub commit: Option<String>,
    /// What was done to get it, for the progress line (`used in place`, `cloned`, …).
    pub how: String,
}

/// Makes `spec` ready to mine for the project `paths`: a local folder is checked and used in
/// place; a URL is cloned into `paths.checkout_dir()`, or, when already cloned, fetched again
/// and replaced when its HEAD moved.
pub fn resolve(spec: &RepoSpec, paths: &OwnProject) -> Result<Checkout> {
    match spec {
        RepoSpec::Local(path) => {
            let meta = std::fs::metadata(path)
                .with_context(|| format!("repository folder {}", path.display()))?;
            if !meta.is_dir() {
                bail!("repository {} is not a folder", path.display());
            }
            let root = std::path::absolute(path)
                .with_context(|| format!("resolving {}", path.display()))?;
            Ok(Checkout {
                commit: head_commit(&root),
                root,
                how: "used in place".into(),
            })
        }
        RepoSpec::Git(url) => fetch(url, paths),
    }
}

/// The HEAD commit of the git repository `dir` is in, if it is in one with a commit and `dir`
/// is part of it: a folder the enclosing repository ignores (a checkout under tailor's own
/// `out/`, say) is not versioned by it, so its HEAD says nothing about the folder.
pub fn head_commit(dir: &Path) -> Option<String> {
    let repo = git2::Repository::discover(dir).ok()?;
    if let (Some(workdir), Ok(dir)) = (repo.workdir(), dir.canonicalize())
        && let Ok(workdir) = workdir.canonicalize()
        && let Ok(relative) = dir.strip_prefix(&workdir)
        && !relative.as_os_str().is_empty()
        && repo.is_path_ignored(relative).unwrap_or(false)
    {
        return None;
    }
    let commit = repo.head().ok()?.peel_to_commit().ok()?;
    Some(commit.id().to_string())
}

/// Clones `url` into the project's checkout, or refreshes the checkout.
fn fetch(url: &str, paths: &OwnProject) -> Result<Checkout> {
    let dest = paths.checkout_dir();
    std::fs::create_dir_all(paths.dir())
        .with_context(|| format!("creating {}", paths.dir().display()))?;
    let before = dest.exists().then(|| head_commit(&dest)).flatten();
    let fetched = crate::acquire::git::fetch(url, None, paths.dir(), "checkout")
        .with_context(|| format!("fetching {url} into {}", dest.display()))?;
    for warning in &fetched.warnings {
        eprintln!("adapt: {url}: {warning}");
    }
    let how = match &before {
        Some(old) if *old == fetched.revision => {
            // Up to date: the temporary clone is dropped.
            "fetched, already at the remote's HEAD".to_string()
        }
        _ => {
            let tree = fetched.tmp.path().join(FETCHED_TREE);
            crate::train::checkpoint::replace_dir(&dest, |tmp| {
                // `replace_dir` made an empty folder for us to fill: the fetched tree takes
                // its place.
                std::fs::remove_dir(tmp).with_context(|| format!("removing {}", tmp.display()))?;
                std::fs::rename(&tree, tmp)
                    .with_context(|| format!("moving the clone of {url} to {}", tmp.display()))
            })?;
            match before {
                Some(old) => format!("fetched, {} → {}", short(&old), short(&fetched.revision)),
                None => "cloned".to_string(),
            }
        }
    };
    Ok(Checkout {
        root: dest,
        commit: Some(fetched.revision),
        how,
    })
}

/// The first 12 hex digits of a commit id, as people read them.
pub fn short(commit: &str) -> &str {
    &commit[..commit.len().min(12)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_the_enclosing_repository_ignores_has_no_commit() {
        let root = tempfile::tempdir().unwrap();
        let repo = git2::Repository::init(root.path()).unwrap();
        std::fs::write(root.path().join(".gitignore"), "out/\n").unwrap();
        for dir in ["src/app", "out/cache/project"] {
            std::fs::create_dir_all(root.path().join(dir)).unwrap();
        }
        std::fs::write(root.path().join("src/app/A.java"), "class A {}\n").unwrap();
        let mut index = repo.index().unwrap();
        index
            .add_all(["."], git2::IndexAddOption::DEFAULT, None)
            .unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let who = git2::Signature::now("t", "t@example.org").unwrap();
        let id = repo
            .commit(Some("HEAD"), &who, &who, "one", &tree, &[])
            .unwrap();
        let expected = Some(id.to_string());
        assert_eq!(head_commit(root.path()), expected);
        assert_eq!(head_commit(&root.path().join("src/app")), expected);
        assert_eq!(head_commit(&root.path().join("out/cache/project")), None);
    }

    #[test]
    fn repositories_are_named_after_their_folder_or_url() {
        let name = |repo: &str| RepoSpec::parse(repo).unwrap().default_name().unwrap();
        assert_eq!(
            name("https://github.com/apache/commons-lang.git"),
            "commons-lang"
        );
        assert_eq!(
            name("https://github.com/apache/commons-lang/"),
            "commons-lang"
        );
        assert_eq!(name("git@github.com:me/widgets.git"), "widgets");
        assert_eq!(name("file:///tmp/x/my-repo"), "my-repo");
        assert_eq!(name("/work/projects/shop/"), "shop");
        assert!(matches!(
            RepoSpec::parse("file:///tmp/r").unwrap(),
            RepoSpec::Git(_)
        ));
        assert!(matches!(
            RepoSpec::parse("../code").unwrap(),
            RepoSpec::Local(_)
        ));
        assert!(RepoSpec::parse("deb:libfoo-java").is_err());
    }
}
