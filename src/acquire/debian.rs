//! Debian source packages (`deb:NAME[=VERSION]`): download with `apt-get source
//! --download-only` through our [`AptConfig`], then unpack the upstream tarballs safely.
//!
//! The archive often answers 404 for some of a package's files (measured here: ~85% of the
//! Java source packages miss at least one, often the `.debian.tar.xz`). Only the upstream
//! source matters to us, so a package is usable whenever its upstream tarball
//! (`*.orig.tar.*`, plus `*.orig-COMPONENT.tar.*`, or a native `NAME_VERSION.tar.*`) arrived;
//! it is an error only when none did, and the error says which files failed. The Debian
//! packaging (`debian/`) is not unpacked and no patch is applied: nothing is executed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::Fetched;
use super::apt::{AptConfig, tail};
use super::unpack::unpack_archive;

/// A Debian source package name and optional version, as in `deb:NAME=VERSION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebianSpec {
    pub name: String,
    pub version: Option<String>,
}

impl DebianSpec {
    /// Parse `NAME` or `NAME=VERSION` (the part after `deb:`).
    pub fn parse(text: &str) -> anyhow::Result<DebianSpec> {
        let (name, version) = match text.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (text.trim(), None),
        };
        let valid_name = name.len() >= 2
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
            && name.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '-' | '.')
            });
        anyhow::ensure!(
            valid_name,
            "`deb:{text}`: `{name}` is not a Debian source package name"
        );
        if let Some(v) = version {
            let valid_version = !v.is_empty()
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-' | '~' | ':'));
            anyhow::ensure!(valid_version, "`deb:{text}`: `{v}` is not a Debian version");
        }
        Ok(DebianSpec {
            name: name.to_string(),
            version: version.map(str::to_string),
        })
    }

    /// Merge the list's `revision` column into the spec: it pins the version when the source
    /// does not; both given and different is an error.
    pub fn pinned(&self, revision: Option<&str>) -> anyhow::Result<DebianSpec> {
        match (&self.version, revision) {
            (Some(v), Some(r)) if v != r => {
                anyhow::bail!(
                    "deb:{}: source pins version {v} but revision column says {r}",
                    self.name
                )
            }
            (None, Some(r)) => DebianSpec::parse(&format!("{}={r}", self.name)),
            _ => Ok(self.clone()),
        }
    }

    fn apt_arg(&self) -> String {
        match &self.version {
            Some(v) => format!("{}={v}", self.name),
            None => self.name.clone(),
        }
    }
}

/// One file of a source package as `apt-get source --print-uris` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct SourceFile {
    uri: String,
    name: String,
    size: u64,
}

/// The role a file plays in a source package.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Role {
    Dsc,
    /// The upstream tarball (or a native package's only tarball).
    Upstream,
    /// An additional upstream tarball `NAME_V.orig-COMPONENT.tar.*`, unpacked into COMPONENT/.
    Component(String),
    /// Debian packaging, signatures and anything else we do not unpack.
    Other,
}

fn role(file: &str) -> Role {
    if file.ends_with(".dsc") {
        return Role::Dsc;
    }
    let is_tar = [".tar", ".tar.gz", ".tar.xz", ".tar.bz2", ".tar.lzma"]
        .iter()
        .any(|e| file.ends_with(e));
    if !is_tar || file.contains(".debian.tar") {
        return Role::Other;
    }
    if let Some(pos) = file.find(".orig-") {
        let rest = &file[pos + ".orig-".len()..];
        if let Some(end) = rest.find(".tar") {
            return Role::Component(rest[..end].to_string());
        }
    }
    Role::Upstream
}

/// Download `deb` into `deb_dir/<name>` and unpack its upstream source into a temporary
/// folder inside `checkouts_dir`.
pub(crate) fn fetch(
    apt: &AptConfig,
    deb: &DebianSpec,
    deb_dir: &Path,
    checkouts_dir: &Path,
    id: &str,
) -> anyhow::Result<Fetched> {
    let dl = deb_dir.join(&deb.name);
    std::fs::create_dir_all(&dl).with_context(|| format!("cannot create {}", dl.display()))?;
    let files = print_uris(apt, deb, &dl)?;
    let dsc = files
        .iter()
        .find(|f| role(&f.name) == Role::Dsc)
        .with_context(|| format!("apt lists no .dsc for {}", deb.apt_arg()))?;
    let revision = revision(deb, dsc);
    let missing = download(apt, deb, &dl, &files)?;
    let download_bytes = files
        .iter()
        .filter(|f| present(&dl, f))
        .map(|f| f.size)
        .sum();

    let upstream: Vec<&SourceFile> = files
        .iter()
        .filter(|f| matches!(role(&f.name), Role::Upstream) && present(&dl, f))
        .collect();
    if upstream.is_empty() {
        return Err(no_upstream(deb, &files, &missing));
    }

    let mut warnings: Vec<String> = missing
        .iter()
        .map(|m| format!("not downloaded: {m}"))
        .collect();
    let tmp = super::fetch_tempdir(checkouts_dir, id)?;
    let tree = tmp.path().join(super::FETCHED_TREE);
    let main = unpack_stripped(
        &dl.join(&upstream[0].name),
        &tmp.path().join("main"),
        &mut warnings,
    )?;
    std::fs::rename(&main, &tree)
        .with_context(|| format!("cannot move {} into place", main.display()))?;
    for extra in &upstream[1..] {
        warnings.push(format!(
            "several upstream tarballs; unpacked only {}, not {}",
            upstream[0].name, extra.name
        ));
    }
    unpack_components(&dl, &files, tmp.path(), &tree, &mut warnings)?;
    Ok(Fetched {
        tmp,
        revision,
        download_bytes,
        warnings,
    })
}

/// The package's Debian revision: the pinned version, else the one in the `.dsc`'s name
/// (`NAME_VERSION.dsc`), so that an unpinned fetch still records what it got.
fn revision(deb: &DebianSpec, dsc: &SourceFile) -> String {
    match &deb.version {
        Some(v) => v.clone(),
        None => dsc
            .name
            .trim_end_matches(".dsc")
            .rsplit_once('_')
            .map(|(_, v)| v.to_string())
            .unwrap_or_default(),
    }
}

/// Whether `f` is already in `dl` at its listed size; a partial download counts as missing.
fn present(dl: &Path, f: &SourceFile) -> bool {
    std::fs::metadata(dl.join(&f.name)).is_ok_and(|m| m.len() == f.size)
}

/// Run `apt-get source --download-only` in `dl` unless every file is already there, and list
/// the files still missing after it as `NAME (why)`, so that a partial package is usable
/// (see the module docs) and its warnings say what failed.
fn download(
    apt: &AptConfig,
    deb: &DebianSpec,
    dl: &Path,
    files: &[SourceFile],
) -> anyhow::Result<Vec<String>> {
    let mut failures: BTreeMap<String, String> = BTreeMap::new();
    if !files.iter().all(|f| present(dl, f)) {
        let output = apt
            .command()
            .args(["source", "--download-only"])
            .arg(deb.apt_arg())
            .current_dir(dl)
            .output()
            .context("cannot run apt-get source")?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        failures = fetch_failures(&stderr);
        for f in files.iter().filter(|f| !present(dl, f)) {
            failures.entry(f.name.clone()).or_insert_with(|| {
                if output.status.success() {
                    "missing after download".into()
                } else {
                    tail(&stderr, 2)
                }
            });
        }
    }
    Ok(files
        .iter()
        .filter(|f| !present(dl, f))
        .map(|f| {
            format!(
                "{} ({})",
                f.name,
                failures
                    .get(&f.name)
                    .map(String::as_str)
                    .unwrap_or("missing")
            )
        })
        .collect())
}

/// The error for a package none of whose upstream tarballs arrived: which were wanted and
/// why each file failed, since only the upstream source makes a package usable.
fn no_upstream(deb: &DebianSpec, files: &[SourceFile], missing: &[String]) -> anyhow::Error {
    let wanted: Vec<&str> = files
        .iter()
        .filter(|f| matches!(role(&f.name), Role::Upstream | Role::Component(_)))
        .map(|f| f.name.as_str())
        .collect();
    anyhow::anyhow!(
        "no upstream source arrived for {} (wanted {}); failed: {}",
        deb.apt_arg(),
        if wanted.is_empty() {
            "an upstream tarball, none listed".to_string()
        } else {
            wanted.join(", ")
        },
        if missing.is_empty() {
            "nothing reported".to_string()
        } else {
            missing.join("; ")
        }
    )
}

/// Unpack each downloaded `NAME_V.orig-COMPONENT.tar.*` into `tree/COMPONENT`, as
/// dpkg-source does; a component whose name is unsafe as a folder name or already taken by
/// the main tarball is skipped with a warning rather than overwriting anything.
fn unpack_components(
    dl: &Path,
    files: &[SourceFile],
    staging: &Path,
    tree: &Path,
    warnings: &mut Vec<String>,
) -> anyhow::Result<()> {
    for f in files.iter().filter(|f| present(dl, f)) {
        let Role::Component(component) = role(&f.name) else {
            continue;
        };
        let safe = !component.is_empty()
            && component
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '+' | '-'))
            && !component.starts_with('.');
        let target = tree.join(&component);
        if !safe || target.exists() {
            warnings.push(format!(
                "component tarball {} not unpacked: `{component}` is taken or unsafe",
                f.name
            ));
            continue;
        }
        let dir = unpack_stripped(
            &dl.join(&f.name),
            &staging.join(format!("component-{component}")),
            warnings,
        )?;
        std::fs::rename(&dir, &target)
            .with_context(|| format!("cannot move {} into place", dir.display()))?;
    }
    Ok(())
}

/// Unpack an archive into `staging`; a single top-level folder (the usual `pkg-1.0/`) is
/// stripped by returning it instead of `staging`.
fn unpack_stripped(
    archive: &Path,
    staging: &Path,
    warnings: &mut Vec<String>,
) -> anyhow::Result<PathBuf> {
    let report = unpack_archive(archive, staging)?;
    let name = archive
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    warnings.extend(
        report
            .refused
            .iter()
            .map(|r| format!("{name}: refused {r}")),
    );
    let mut entries = std::fs::read_dir(staging)
        .with_context(|| format!("cannot list {}", staging.display()))?
        .filter_map(|e| e.ok())
        .collect::<Vec<_>>();
    if entries.len() == 1 && entries[0].file_type().is_ok_and(|t| t.is_dir()) {
        return Ok(entries.remove(0).path());
    }
    Ok(staging.to_path_buf())
}

/// The files of a source package: `'URI' NAME SIZE HASH` lines of `--print-uris`. apt leaves
/// out files already in the current folder, so it is asked from an empty one.
fn print_uris(apt: &AptConfig, deb: &DebianSpec, dl: &Path) -> anyhow::Result<Vec<SourceFile>> {
    let empty = tempfile::Builder::new()
        .prefix(".print-uris-")
        .tempdir_in(dl)
        .with_context(|| format!("cannot create a temporary folder in {}", dl.display()))?;
    let output = apt
        .command()
        .args(["source", "--download-only", "--print-uris"])
        .arg(deb.apt_arg())
        .current_dir(empty.path())
        .output()
        .context("cannot run apt-get source --print-uris")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let files = parse_print_uris(&stdout);
    if !output.status.success() || files.is_empty() {
        anyhow::bail!(
            "apt-get source {} failed ({}): {}",
            deb.apt_arg(),
            output.status,
            tail(&String::from_utf8_lossy(&output.stderr), 3)
        );
    }
    Ok(files)
}

fn parse_print_uris(stdout: &str) -> Vec<SourceFile> {
    stdout
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix('\'')?;
            let (uri, rest) = rest.split_once('\'')?;
            let mut words = rest.split_whitespace();
            let name = words.next()?;
            let size = words.next()?.parse().ok()?;
            // Never trust a file name that could step out of the download folder.
            if name.contains('/') || name.starts_with('.') {
                return None;
            }
            Some(SourceFile {
                uri: uri.to_string(),
                name: name.to_string(),
                size,
            })
        })
        .collect()
}

/// `E: Failed to fetch URI  404  Not Found [IP: …]` lines, by file name.
fn fetch_failures(stderr: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for line in stderr.lines() {
        let Some(rest) = line.split("Failed to fetch ").nth(1) else {
            continue;
        };
        let mut parts = rest.splitn(2, char::is_whitespace);
        let uri = parts.next().unwrap_or("");
        let reason = parts
            .next()
            .unwrap_or("")
            .split("[IP")
            .next()
            .unwrap_or("")
            .trim();
        let name = uri.rsplit('/').next().unwrap_or(uri).to_string();
        let name = percent_decode(&name);
        out.insert(
            name,
            reason.split_whitespace().collect::<Vec<_>>().join(" "),
        );
    }
    out
}

/// apt percent-encodes `:`, `+` and `~` in URIs (`%3a`); file names have them plain.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Compare two Debian versions the way dpkg does (`[epoch:]upstream[-revision]`, `~` sorts
/// before everything, digits compare numerically).
pub fn version_compare(a: &str, b: &str) -> std::cmp::Ordering {
    fn split(v: &str) -> (u64, &str, &str) {
        let (epoch, rest) = match v.split_once(':') {
            Some((e, r)) if e.chars().all(|c| c.is_ascii_digit()) => (e.parse().unwrap_or(0), r),
            _ => (0, v),
        };
        match rest.rsplit_once('-') {
            Some((up, rev)) => (epoch, up, rev),
            None => (epoch, rest, ""),
        }
    }
    fn order(c: Option<u8>) -> i32 {
        match c {
            None => 0,
            Some(b'~') => -1,
            Some(c) if c.is_ascii_digit() => 0,
            Some(c) if c.is_ascii_alphabetic() => c as i32,
            Some(c) => c as i32 + 256,
        }
    }
    fn part(a: &str, b: &str) -> std::cmp::Ordering {
        let (a, b) = (a.as_bytes(), b.as_bytes());
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit())
            {
                let ac = order(a.get(i).copied().filter(|c| !c.is_ascii_digit()));
                let bc = order(b.get(j).copied().filter(|c| !c.is_ascii_digit()));
                if ac != bc {
                    return ac.cmp(&bc);
                }
                if i < a.len() && !a[i].is_ascii_digit() {
                    i += 1;
                }
                if j < b.len() && !b[j].is_ascii_digit() {
                    j += 1;
                }
            }
            while i < a.len() && a[i] == b'0' {
                i += 1;
            }
            while j < b.len() && b[j] == b'0' {
                j += 1;
            }
            let (si, sj) = (i, j);
            while i < a.len() && a[i].is_ascii_digit() {
                i += 1;
            }
            while j < b.len() && b[j].is_ascii_digit() {
                j += 1;
            }
            let (na, nb) = (&a[si..i], &b[sj..j]);
            let by_len = na.len().cmp(&nb.len());
            if by_len != std::cmp::Ordering::Equal {
                return by_len;
            }
            let by_digits = na.cmp(nb);
            if by_digits != std::cmp::Ordering::Equal {
                return by_digits;
            }
        }
        std::cmp::Ordering::Equal
    }
    let (ea, ua, ra) = split(a);
    let (eb, ub, rb) = split(b);
    ea.cmp(&eb)
        .then_with(|| part(ua, ub))
        .then_with(|| part(ra, rb))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering::*;

    #[test]
    fn debian_versions_order_like_dpkg() {
        assert_eq!(version_compare("1.0-1", "1.0-1"), Equal);
        assert_eq!(version_compare("1.0-1", "1.0-2"), Less);
        assert_eq!(version_compare("1.10", "1.9"), Greater);
        assert_eq!(version_compare("1.0~rc1", "1.0"), Less);
        assert_eq!(version_compare("1:0.1", "2.0"), Greater);
        assert_eq!(version_compare("3.12.0-2+deb12u1", "3.12.0-2"), Greater);
        assert_eq!(version_compare("1.0a", "1.0+"), Less);
        assert_eq!(version_compare("2.0-1", "2.0"), Greater);
    }

    #[test]
    fn files_are_sorted_into_upstream_components_and_packaging() {
        assert_eq!(role("x_1.0.orig.tar.xz"), Role::Upstream);
        assert_eq!(role("x_1.0.tar.gz"), Role::Upstream);
        assert_eq!(
            role("x_1.0.orig-docs.tar.gz"),
            Role::Component("docs".into())
        );
        assert_eq!(role("x_1.0-1.debian.tar.xz"), Role::Other);
        assert_eq!(role("x_1.0.orig.tar.xz.asc"), Role::Other);
        assert_eq!(role("x_1.0-1.diff.gz"), Role::Other);
        assert_eq!(role("x_1.0-1.dsc"), Role::Dsc);
    }

    #[test]
    fn print_uris_and_fetch_failures_are_parsed() {
        let out = "'http://m/pool/main/g/g/g_31.1-1.dsc' g_31.1-1.dsc 2331 SHA256:ab\n\
                   'http://m/pool/main/g/g/g_31.1.orig.tar.xz' g_31.1.orig.tar.xz 3357924 SHA256:cd\n\
                   'http://m/evil' ../evil 3 SHA256:ef\n";
        let files = parse_print_uris(out);
        assert_eq!(files.len(), 2);
        assert_eq!(files[1].size, 3357924);
        let err = "E: Failed to fetch http://m/pool/main/l/l/l_1%3a2.0-1.debian.tar.xz  404  Not Found [IP: 1.2.3.4 80]\n";
        let f = fetch_failures(err);
        assert_eq!(
            f.get("l_1:2.0-1.debian.tar.xz").map(String::as_str),
            Some("404 Not Found")
        );
    }

    #[test]
    fn deb_specs_parse_and_pin() {
        let d = DebianSpec::parse("libfoo-java=1:2.0-1").unwrap();
        assert_eq!(d.version.as_deref(), Some("1:2.0-1"));
        assert!(DebianSpec::parse("Bad Name").is_err());
        assert!(DebianSpec::parse("x=1.0;rm").is_err());
        let unpinned = DebianSpec::parse("libfoo-java").unwrap();
        assert_eq!(
            unpinned.pinned(Some("1.0-1")).unwrap().version.as_deref(),
            Some("1.0-1")
        );
        assert!(d.pinned(Some("1.0")).is_err());
    }
}
