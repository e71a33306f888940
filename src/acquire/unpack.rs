//! Safe unpacking of (compressed) tar archives with the Rust archive crates.
//!
//! Source tarballs come from strangers, so every entry is checked before it touches the disk:
//! absolute paths and `..` components are refused, device files and FIFOs are refused, a
//! symbolic link is kept only if its target stays inside the folder (checked lexically when
//! it is created and again, resolved, after the whole archive is out, which catches chains of
//! links), hard links must name a file already unpacked, and nothing is ever written through
//! a link: each file's parent folder must resolve inside the destination. Refused entries are
//! reported and skipped; the rest of the archive is unpacked. Permissions are not copied
//! (no set-uid, no executable bits): nothing from an archive is run.
//!
//! The compression is sniffed from the first bytes (gzip, bzip2, xz, lzma or none), not
//! trusted from the file name.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::{Component, Path, PathBuf};

use anyhow::Context;

/// What unpacking did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnpackReport {
    pub files: u64,
    pub dirs: u64,
    pub symlinks: u64,
    /// Entries that were not unpacked: `path: reason`.
    pub refused: Vec<String>,
}

/// Unpack `archive` into `dest` (created if needed). Errors only when the archive cannot be
/// opened or decoded at all; bad entries are refused and listed in the report, and a
/// truncated archive keeps what came out before the damage (reported too).
pub fn unpack_archive(archive: &Path, dest: &Path) -> anyhow::Result<UnpackReport> {
    let file = File::open(archive).with_context(|| format!("cannot open {}", archive.display()))?;
    let reader = decoder(BufReader::new(file))
        .with_context(|| format!("cannot decode {}", archive.display()))?;
    std::fs::create_dir_all(dest).with_context(|| format!("cannot create {}", dest.display()))?;
    let root = dest
        .canonicalize()
        .with_context(|| format!("cannot resolve {}", dest.display()))?;
    let mut report = UnpackReport::default();
    let mut tar = tar::Archive::new(reader);
    let entries = tar
        .entries()
        .with_context(|| format!("{} is not a tar archive", archive.display()))?;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            Err(e) => {
                if report.files + report.dirs == 0 {
                    anyhow::bail!("{} is not a readable tar archive: {e}", archive.display());
                }
                report
                    .refused
                    .push(format!("(rest of archive): unreadable, stopped: {e}"));
                break;
            }
        };
        let raw = match entry.path() {
            Ok(p) => p.into_owned(),
            Err(e) => {
                report
                    .refused
                    .push(format!("(entry with an unreadable name): {e}"));
                continue;
            }
        };
        if let Err(reason) = unpack_entry(&mut entry, &raw, &root, &mut report) {
            report.refused.push(format!("{}: {reason}", raw.display()));
        }
    }
    remove_escaping_links(&root, &mut report);
    Ok(report)
}

/// Pick the decompressor from the magic bytes.
fn decoder<R: Read + 'static>(mut reader: BufReader<R>) -> anyhow::Result<Box<dyn Read>> {
    use std::io::BufRead;
    let head = reader.fill_buf()?.to_vec();
    Ok(if head.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::bufread::MultiGzDecoder::new(reader))
    } else if head.starts_with(b"BZh") {
        Box::new(bzip2::bufread::MultiBzDecoder::new(reader))
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(reader))
    } else if head.starts_with(&[0x5d, 0x00, 0x00]) {
        let stream = liblzma::stream::Stream::new_lzma_decoder(u64::MAX)?;
        Box::new(liblzma::bufread::XzDecoder::new_stream(reader, stream))
    } else {
        Box::new(reader)
    })
}

fn unpack_entry<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    raw: &Path,
    root: &Path,
    report: &mut UnpackReport,
) -> Result<(), String> {
    let rel = relative_inside(raw)?;
    if rel.as_os_str().is_empty() {
        return Ok(());
    }
    let target = root.join(&rel);
    use tar::EntryType as T;
    match entry.header().entry_type() {
        T::Directory => {
            make_dirs_inside(root, &target)?;
            report.dirs += 1;
        }
        T::Regular | T::Continuous | T::GNUSparse => {
            prepare_slot(root, &target)?;
            let mut out = File::create(&target).map_err(|e| format!("cannot create: {e}"))?;
            std::io::copy(entry, &mut out).map_err(|e| format!("cannot write: {e}"))?;
            report.files += 1;
        }
        T::Symlink => {
            let link = entry
                .link_name()
                .map_err(|e| format!("unreadable link target: {e}"))?
                .ok_or("symbolic link without a target")?
                .into_owned();
            link_stays_inside(&rel, &link)?;
            prepare_slot(root, &target)?;
            std::os::unix::fs::symlink(&link, &target)
                .map_err(|e| format!("cannot create link: {e}"))?;
            report.symlinks += 1;
        }
        T::Link => {
            let link = entry
                .link_name()
                .map_err(|e| format!("unreadable link target: {e}"))?
                .ok_or("hard link without a target")?
                .into_owned();
            let source = root.join(
                relative_inside(&link)
                    .map_err(|e| format!("hard link to {}: {e}", link.display()))?,
            );
            let meta = std::fs::symlink_metadata(&source)
                .map_err(|_| format!("hard link to {}, which is not unpacked", link.display()))?;
            if !meta.is_file() {
                return Err(format!(
                    "hard link to {}, which is not a regular file",
                    link.display()
                ));
            }
            prepare_slot(root, &target)?;
            std::fs::hard_link(&source, &target)
                .or_else(|_| std::fs::copy(&source, &target).map(|_| ()))
                .map_err(|e| format!("cannot link: {e}"))?;
            report.files += 1;
        }
        T::Char | T::Block => return Err("device file refused".into()),
        T::Fifo => return Err("FIFO refused".into()),
        T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink => {}
        other => return Err(format!("unsupported entry type {other:?}")),
    }
    Ok(())
}

/// The entry path as a plain relative path: no root, no prefix, no `..`.
fn relative_inside(path: &Path) -> Result<PathBuf, String> {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("path with `..` would escape the folder".into()),
            Component::RootDir | Component::Prefix(_) => return Err("absolute path refused".into()),
        }
    }
    Ok(out)
}

/// A link at `rel` pointing to `target` must, read lexically from the link's folder, stay
/// inside the root.
fn link_stays_inside(rel: &Path, target: &Path) -> Result<(), String> {
    let mut depth: usize = rel.parent().map(|p| p.components().count()).unwrap_or(0);
    for c in target.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => {
                depth = depth.checked_sub(1).ok_or_else(|| {
                    format!("link to {} points outside the folder", target.display())
                })?;
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "link to absolute path {} refused",
                    target.display()
                ));
            }
        }
    }
    Ok(())
}

/// Create `dir` and its parents, then check that it resolves inside `root` (a link planted
/// by an earlier entry must not carry us out).
fn make_dirs_inside(root: &Path, dir: &Path) -> Result<(), String> {
    if let Some(parent) = dir.parent() {
        ensure_resolves_inside(root, parent)?;
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create folder: {e}"))?;
    ensure_resolves_inside(root, dir)
}

/// Make room for a file or link at `target`: its folder exists and resolves inside `root`,
/// and whatever was there before (a file, or a link we must not write through) is removed.
fn prepare_slot(root: &Path, target: &Path) -> Result<(), String> {
    let parent = target.parent().ok_or("no parent folder")?;
    make_dirs_inside(root, parent)?;
    if let Ok(meta) = std::fs::symlink_metadata(target) {
        if meta.is_dir() {
            return Err("a folder of the same name is already unpacked".into());
        }
        std::fs::remove_file(target).map_err(|e| format!("cannot replace: {e}"))?;
    }
    Ok(())
}

/// The deepest existing ancestor of `path` must resolve inside `root`.
fn ensure_resolves_inside(root: &Path, path: &Path) -> Result<(), String> {
    let mut probe = path;
    loop {
        if let Ok(real) = probe.canonicalize() {
            return if real.starts_with(root) {
                Ok(())
            } else {
                Err("a link would carry it outside the folder".into())
            };
        }
        probe = probe.parent().ok_or("no existing ancestor")?;
    }
}

/// After unpacking: remove every link that resolves (possibly through other links) outside
/// the folder. Links that dangle inside are harmless and kept.
fn remove_escaping_links(root: &Path, report: &mut UnpackReport) {
    for entry in walkdir::WalkDir::new(root)
        .follow_links(false)
        .into_iter()
        .filter_map(|e| e.ok())
    {
        if !entry.path_is_symlink() {
            continue;
        }
        let escapes = match entry.path().canonicalize() {
            Ok(real) => !real.starts_with(root),
            // Dangling or looping: harmless unless the lexical target leaves the folder,
            // which was refused when the link was made.
            Err(_) => false,
        };
        if escapes {
            let rel = entry
                .path()
                .strip_prefix(root)
                .unwrap_or(entry.path())
                .to_path_buf();
            let _ = std::fs::remove_file(entry.path());
            report.symlinks = report.symlinks.saturating_sub(1);
            report.refused.push(format!(
                "{}: link resolves outside the folder, removed",
                rel.display()
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_targets_are_judged_from_the_links_folder() {
        assert!(link_stays_inside(Path::new("a/b/l"), Path::new("../c")).is_ok());
        assert!(link_stays_inside(Path::new("a/l"), Path::new("../c")).is_ok());
        assert!(link_stays_inside(Path::new("l"), Path::new("../c")).is_err());
        assert!(link_stays_inside(Path::new("a/l"), Path::new("/etc/passwd")).is_err());
        assert!(relative_inside(Path::new("./x/../y")).is_err());
        assert_eq!(
            relative_inside(Path::new("./x/y")).unwrap(),
            PathBuf::from("x/y")
        );
    }
}
