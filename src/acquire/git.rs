//! git sources, cloned with libgit2 (git2): shallow (depth 1) where the transport allows,
//! at a pinned revision when the list gives one.
//!
//! A pinned revision is first fetched on its own, shallowly (a commit id, a tag, or a
//! branch); when the server will not hand it out that way, everything is fetched and the
//! revision resolved locally. Network errors are retried with backoff; authentication and
//! not-found errors are not. libgit2 runs no hooks and knows no filter drivers, and
//! submodules are never initialised, so nothing from the repository is executed.

use std::cell::Cell;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use git2::{AutotagOption, ErrorClass, ErrorCode, FetchOptions, RemoteCallbacks, Repository};

use super::{FETCHED_TREE, Fetched};

/// How many times a transient network failure is tried before giving up.
const TRIES: u32 = 3;
/// The local ref a fetched revision is stored under.
const PIN_REF: &str = "refs/tailor/pin";

/// Clone `url` at `revision` (or the remote's HEAD) into a temporary folder in `checkouts_dir`.
pub(crate) fn fetch(
    url: &str,
    revision: Option<&str>,
    checkouts_dir: &Path,
    id: &str,
) -> anyhow::Result<Fetched> {
    let tmp = super::fetch_tempdir(checkouts_dir, id)?;
    let tree = tmp.path().join(FETCHED_TREE);
    let repo = Repository::init(&tree)
        .with_context(|| format!("cannot create a repository in {}", tree.display()))?;
    repo.remote("origin", url)
        .with_context(|| format!("bad git URL `{url}`"))?;
    let mut received = 0u64;
    let mut warnings = Vec::new();

    let commit_id = match revision {
        Some(rev) => {
            let shallow = pin_refspecs(rev).iter().find_map(|spec| {
                fetch_with_retries(&repo, &[spec.as_str()], Some(1), &mut received).ok()
            });
            match shallow.and_then(|_| resolve(&repo, PIN_REF)) {
                Some(id) => id,
                None => {
                    fetch_with_retries(&repo, &ALL_REFS, None, &mut received)
                        .with_context(|| format!("cannot fetch {url}"))?;
                    let candidates = [
                        rev.to_string(),
                        format!("refs/remotes/origin/{rev}"),
                        format!("refs/tags/{rev}"),
                    ];
                    candidates
                        .iter()
                        .find_map(|c| resolve(&repo, c))
                        .with_context(|| format!("revision `{rev}` is not in {url}"))?
                }
            }
        }
        None => {
            let spec = format!("+HEAD:{PIN_REF}");
            match fetch_with_retries(&repo, &[spec.as_str()], Some(1), &mut received) {
                Ok(()) => {}
                Err(e) if !is_final(&e) => {
                    warnings.push(format!(
                        "shallow clone refused ({}), fetched full history",
                        e.message()
                    ));
                    fetch_with_retries(&repo, &[spec.as_str()], None, &mut received)
                        .with_context(|| format!("cannot fetch {url}"))?;
                }
                Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot fetch {url}"))),
            }
            resolve(&repo, PIN_REF).with_context(|| format!("{url} has no HEAD commit"))?
        }
    };

    let commit = repo
        .find_commit(commit_id)
        .with_context(|| format!("{commit_id} is not a commit"))?;
    let mut checkout = git2::build::CheckoutBuilder::new();
    checkout.force();
    repo.checkout_tree(commit.as_object(), Some(&mut checkout))
        .with_context(|| format!("cannot check out {commit_id}"))?;
    repo.set_head_detached(commit_id)
        .with_context(|| format!("cannot set HEAD to {commit_id}"))?;
    drop(commit);
    drop(repo);
    Ok(Fetched {
        tmp,
        revision: commit_id.to_string(),
        download_bytes: received,
        warnings,
    })
}

/// Everything, for resolving a revision the server would not send on its own.
const ALL_REFS: [&str; 3] = [
    "+refs/heads/*:refs/remotes/origin/*",
    "+refs/tags/*:refs/tags/*",
    "+HEAD:refs/remotes/origin/HEAD",
];

/// Ways to ask for `rev` alone: as a commit id, a tag, or a branch.
fn pin_refspecs(rev: &str) -> Vec<String> {
    if rev.len() == 40 && rev.chars().all(|c| c.is_ascii_hexdigit()) {
        vec![format!("+{rev}:{PIN_REF}")]
    } else {
        vec![
            format!("+refs/tags/{rev}:{PIN_REF}"),
            format!("+refs/heads/{rev}:{PIN_REF}"),
        ]
    }
}

/// The commit `name` resolves to (a ref, a commit id, an annotated tag peeled), if any.
fn resolve(repo: &Repository, name: &str) -> Option<git2::Oid> {
    let object = repo.revparse_single(name).ok()?;
    object.peel_to_commit().ok().map(|c| c.id())
}

fn fetch_with_retries(
    repo: &Repository,
    refspecs: &[&str],
    depth: Option<i32>,
    received: &mut u64,
) -> Result<(), git2::Error> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match fetch_once(repo, refspecs, depth, received) {
            Ok(()) => return Ok(()),
            Err(e) if attempt < TRIES && is_transient(&e) => {
                std::thread::sleep(Duration::from_secs(1 << attempt));
            }
            Err(e) => return Err(e),
        }
    }
}

fn fetch_once(
    repo: &Repository,
    refspecs: &[&str],
    depth: Option<i32>,
    received: &mut u64,
) -> Result<(), git2::Error> {
    let mut remote = repo.find_remote("origin")?;
    let tries = Cell::new(0);
    let mut callbacks = RemoteCallbacks::new();
    callbacks.credentials(move |_url, username, allowed| {
        // libgit2 asks again after a rejected credential: give up after one attempt each.
        tries.set(tries.get() + 1);
        if tries.get() > 2 {
            return Err(git2::Error::new(
                ErrorCode::Auth,
                ErrorClass::Net,
                "authentication failed",
            ));
        }
        if allowed.contains(git2::CredentialType::SSH_KEY) {
            git2::Cred::ssh_key_from_agent(username.unwrap_or("git"))
        } else {
            git2::Cred::default()
        }
    });
    let mut options = FetchOptions::new();
    options
        .remote_callbacks(callbacks)
        .download_tags(AutotagOption::None);
    if let Some(d) = depth {
        options.depth(d);
    }
    remote.fetch(refspecs, Some(&mut options), None)?;
    *received += remote.stats().received_bytes() as u64;
    Ok(())
}

/// Worth another try: the network or the server hiccuped.
fn is_transient(e: &git2::Error) -> bool {
    matches!(
        e.class(),
        ErrorClass::Net | ErrorClass::Http | ErrorClass::Ssh | ErrorClass::Os
    ) && !is_final(e)
}

/// Retrying cannot help: the repository or revision is not there, or we may not read it.
fn is_final(e: &git2::Error) -> bool {
    let message = e.message().to_ascii_lowercase();
    matches!(
        e.code(),
        ErrorCode::Auth | ErrorCode::NotFound | ErrorCode::Certificate
    ) || [
        "401",
        "403",
        "404",
        "not found",
        "authentication",
        "could not find repository",
        "does not appear to be",
    ]
    .iter()
    .any(|m| message.contains(m))
}
