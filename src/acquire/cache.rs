//! The checkout cache: a marker file inside each checkout records what it was made from, so a
//! re-run reuses it instead of fetching again, and a changed source or pin replaces it.
//!
//! The marker is written into the finished tree before the tree is renamed into place, so a
//! checkout and its marker appear together or not at all.

use std::path::Path;

use anyhow::Context;

use super::{Checkout, FETCHED_TREE, Fetched, ProjectSpec, checkout_stats};

/// File name of the marker inside a checkout (skipped by [`checkout_stats`]).
pub(crate) const MARKER: &str = ".tailor-acquired.json";

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Marker {
    source: String,
    requested_revision: Option<String>,
    revision: String,
    download_bytes: u64,
    #[serde(default)]
    warnings: Vec<String>,
}

/// The cached checkout at `dest`, if its marker says it was made from this spec's source and
/// pinned revision.
pub(crate) fn reuse(spec: &ProjectSpec, dest: &Path) -> anyhow::Result<Option<Checkout>> {
    let Ok(text) = std::fs::read_to_string(dest.join(MARKER)) else {
        return Ok(None);
    };
    let Ok(marker) = serde_json::from_str::<Marker>(&text) else {
        return Ok(None);
    };
    if marker.source != spec.source || marker.requested_revision != spec.revision {
        return Ok(None);
    }
    let stats = checkout_stats(dest)?;
    Ok(Some(Checkout {
        spec: spec.clone(),
        path: std::path::absolute(dest).unwrap_or_else(|_| dest.to_path_buf()),
        revision: marker.revision,
        stats,
        download_bytes: marker.download_bytes,
        reused: true,
        warnings: marker.warnings,
    }))
}

/// Mark the fetched tree and move it to `dest`, replacing an older checkout there.
pub(crate) fn install(
    spec: &ProjectSpec,
    fetched: Fetched,
    dest: &Path,
) -> anyhow::Result<Checkout> {
    let tree = fetched.tmp.path().join(FETCHED_TREE);
    let marker = Marker {
        source: spec.source.clone(),
        requested_revision: spec.revision.clone(),
        revision: fetched.revision.clone(),
        download_bytes: fetched.download_bytes,
        warnings: fetched.warnings.clone(),
    };
    let marker_path = tree.join(MARKER);
    std::fs::write(&marker_path, serde_json::to_string_pretty(&marker)?)
        .with_context(|| format!("cannot write {}", marker_path.display()))?;
    if std::fs::symlink_metadata(dest).is_ok() {
        // Move the stale checkout into the temporary folder: it is deleted with it.
        std::fs::rename(dest, fetched.tmp.path().join("stale"))
            .with_context(|| format!("cannot move the old checkout {} aside", dest.display()))?;
    }
    std::fs::rename(&tree, dest)
        .with_context(|| format!("cannot move the checkout to {}", dest.display()))?;
    let stats = checkout_stats(dest)?;
    Ok(Checkout {
        spec: spec.clone(),
        path: std::path::absolute(dest).unwrap_or_else(|_| dest.to_path_buf()),
        revision: fetched.revision,
        stats,
        download_bytes: fetched.download_bytes,
        reused: false,
        warnings: fetched.warnings,
    })
}
