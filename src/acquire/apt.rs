//! A project-local apt configuration for fetching Debian source packages.
//!
//! The machine's own apt sources (`/etc/apt/sources.list`, `sources.list.d/*.list` and deb822
//! `*.sources`) are read, never written: every repository they name is turned into a
//! `deb-src` line in `cache_dir/apt/sources.list`, and apt is pointed at project-local state
//! and cache folders with `-o` options. So `apt-get update` fetches the Sources indexes into
//! our folder and `apt-get source --download-only` works on a machine whose /etc has no
//! `deb-src` entry, without touching /etc or the system's package lists. No mirror host is
//! ever written into the repository: it comes from the machine at run time.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;

/// The system files apt reads its sources from.
const SYSTEM_SOURCE_LIST: &str = "/etc/apt/sources.list";
const SYSTEM_SOURCE_PARTS: &str = "/etc/apt/sources.list.d";

/// A prepared project-local apt: its folder holds `sources.list`, `state/` and `cache/`.
#[derive(Debug, Clone)]
pub struct AptConfig {
    dir: PathBuf,
}

impl AptConfig {
    /// Write the derived `sources.list` under `dir` and run `apt-get update` against it.
    /// A failing repository does not stop us as long as some Sources index arrived.
    pub fn prepare(dir: &Path) -> anyhow::Result<AptConfig> {
        let lines = system_deb_src_lines()?;
        anyhow::ensure!(
            !lines.is_empty(),
            "no apt repository found in {SYSTEM_SOURCE_LIST} or {SYSTEM_SOURCE_PARTS}/*.{{list,sources}}"
        );
        let config = AptConfig::at(dir)?;
        let text = format!(
            "# Derived by tailor from this machine's apt sources, with deb-src enabled.\n{}\n",
            lines.join("\n")
        );
        std::fs::write(config.dir.join("sources.list"), text).with_context(|| {
            format!("cannot write {}", config.dir.join("sources.list").display())
        })?;
        let output = config
            .command()
            .arg("update")
            .output()
            .context("cannot run apt-get (is this a Debian-based machine?)")?;
        let indexes = config.sources_indexes()?;
        if indexes.is_empty() {
            anyhow::bail!(
                "`apt-get update` fetched no Sources index ({}): {}",
                output.status,
                tail(&String::from_utf8_lossy(&output.stderr), 6)
            );
        }
        Ok(config)
    }

    /// Use an already prepared folder (creating its layout) without running `apt-get update`.
    pub fn at(dir: &Path) -> anyhow::Result<AptConfig> {
        for sub in [
            "state/lists/partial",
            "cache/archives/partial",
            "sources.list.d",
        ] {
            let d = dir.join(sub);
            std::fs::create_dir_all(&d)
                .with_context(|| format!("cannot create {}", d.display()))?;
        }
        let dir = std::path::absolute(dir)
            .with_context(|| format!("bad apt folder {}", dir.display()))?;
        Ok(AptConfig { dir })
    }

    /// `apt-get` with every path pointed into our folder. Sources indexes are kept
    /// uncompressed so we can read them; downloads run as root (the `_apt` sandbox user
    /// cannot write into our folders).
    pub fn command(&self) -> Command {
        let d = |sub: &str| self.dir.join(sub).display().to_string();
        let mut cmd = Command::new("apt-get");
        for (key, value) in [
            ("Dir::State", d("state")),
            ("Dir::Cache", d("cache")),
            ("Dir::Etc::SourceList", d("sources.list")),
            ("Dir::Etc::SourceParts", d("sources.list.d")),
            ("Acquire::GzipIndexes", "false".into()),
            ("APT::Sandbox::User", "root".into()),
            ("Acquire::Retries", "3".into()),
        ] {
            cmd.arg("-o").arg(format!("{key}={value}"));
        }
        cmd.arg("-q")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .env("LC_ALL", "C");
        cmd
    }

    /// The Sources index files `apt-get update` left in our lists folder.
    pub fn sources_indexes(&self) -> anyhow::Result<Vec<PathBuf>> {
        let lists = self.dir.join("state/lists");
        let mut out = Vec::new();
        for entry in
            std::fs::read_dir(&lists).with_context(|| format!("cannot list {}", lists.display()))?
        {
            let path = entry?.path();
            if path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.ends_with("_Sources"))
            {
                out.push(path);
            }
        }
        out.sort();
        Ok(out)
    }
}

/// The `deb-src` lines for every repository configured on this machine.
fn system_deb_src_lines() -> anyhow::Result<Vec<String>> {
    let mut lines = Vec::new();
    let mut push = |new: Vec<String>| {
        for l in new {
            if !lines.contains(&l) {
                lines.push(l);
            }
        }
    };
    if let Ok(text) = std::fs::read_to_string(SYSTEM_SOURCE_LIST) {
        push(deb_src_lines_from_one_line(&text));
    }
    if let Ok(dir) = std::fs::read_dir(SYSTEM_SOURCE_PARTS) {
        let mut parts: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        parts.sort();
        for path in parts {
            let Some(ext) = path.extension().and_then(|e| e.to_str()) else {
                continue;
            };
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            match ext {
                "list" => push(deb_src_lines_from_one_line(&text)),
                "sources" => push(deb_src_lines_from_deb822(&text)),
                _ => {}
            }
        }
    }
    Ok(lines)
}

/// `deb-src` lines for the repositories of a one-line-style `sources.list`: every `deb` or
/// `deb-src` entry, with its `signed-by`/`trusted` options kept (architectures are irrelevant
/// to sources) and comments dropped.
pub fn deb_src_lines_from_one_line(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        let Some((kind, rest)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        if kind != "deb" && kind != "deb-src" {
            continue;
        }
        let rest = rest.trim_start();
        let (options, rest) = match rest.strip_prefix('[') {
            Some(r) => match r.split_once(']') {
                Some((opts, after)) => {
                    (opts.split_whitespace().map(str::to_string).collect(), after)
                }
                None => continue,
            },
            None => (Vec::new(), rest),
        };
        let kept: Vec<(String, String)> = options
            .iter()
            .filter_map(|o| o.split_once('='))
            .filter(|(k, _)| matches!(k.to_ascii_lowercase().as_str(), "signed-by" | "trusted"))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
            .collect();
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        let components: Vec<&str> = words.collect();
        if let Some(l) = format_deb_src(&kept, uri, suite, &components)
            && !out.contains(&l)
        {
            out.push(l);
        }
    }
    out
}

/// `deb-src` lines for the repositories of a deb822 `.sources` file (stanzas of
/// `Types`/`URIs`/`Suites`/`Components`/`Signed-By`, `Enabled: no` honoured). An inline key
/// block in `Signed-By` cannot be written on one line; apt's trusted keyrings then apply.
pub fn deb_src_lines_from_deb822(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for stanza in deb822_stanzas(text) {
        let get = |key: &str| {
            stanza
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str())
                .unwrap_or("")
        };
        let types: Vec<&str> = get("Types").split_whitespace().collect();
        if !types.iter().any(|t| *t == "deb" || *t == "deb-src")
            || get("Enabled").trim().eq_ignore_ascii_case("no")
        {
            continue;
        }
        let mut options = Vec::new();
        let signed_by = get("Signed-By").trim();
        if !signed_by.is_empty() && !signed_by.contains('\n') && !signed_by.contains("BEGIN PGP") {
            options.push((
                "signed-by".to_string(),
                signed_by.split_whitespace().collect::<Vec<_>>().join(","),
            ));
        }
        let trusted = get("Trusted").trim();
        if !trusted.is_empty() {
            options.push(("trusted".to_string(), trusted.to_string()));
        }
        let components: Vec<&str> = get("Components").split_whitespace().collect();
        for uri in get("URIs").split_whitespace() {
            for suite in get("Suites").split_whitespace() {
                if let Some(l) = format_deb_src(&options, uri, suite, &components)
                    && !out.contains(&l)
                {
                    out.push(l);
                }
            }
        }
    }
    out
}

fn format_deb_src(
    options: &[(String, String)],
    uri: &str,
    suite: &str,
    components: &[&str],
) -> Option<String> {
    if uri.starts_with("cdrom:") {
        return None;
    }
    let mut line = String::from("deb-src ");
    if !options.is_empty() {
        let opts: Vec<String> = options.iter().map(|(k, v)| format!("{k}={v}")).collect();
        line.push_str(&format!("[ {} ] ", opts.join(" ")));
    }
    line.push_str(uri);
    line.push(' ');
    line.push_str(suite);
    for c in components {
        line.push(' ');
        line.push_str(c);
    }
    Some(line)
}

/// Split deb822 text into stanzas of (field, value); continuation lines are joined with `\n`,
/// comment lines dropped.
pub(crate) fn deb822_stanzas(text: &str) -> Vec<Vec<(String, String)>> {
    let mut stanzas = Vec::new();
    let mut current: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !current.is_empty() {
                stanzas.push(std::mem::take(&mut current));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some((_, value)) = current.last_mut() {
                value.push('\n');
                value.push_str(line.trim());
            }
            continue;
        }
        if let Some((key, value)) = line.split_once(':') {
            current.push((key.trim().to_string(), value.trim().to_string()));
        }
    }
    if !current.is_empty() {
        stanzas.push(current);
    }
    stanzas
}

/// The last `n` non-empty lines of a command's output, for error messages.
pub(crate) fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_sources_become_deb_src_lines() {
        let text = "\
# main archive
deb http://mirror.example/debian bookworm main contrib
deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] https://repo.example/apt stable main # trailing
deb-src http://mirror.example/debian bookworm main contrib
deb cdrom:[Debian]/ bookworm main
rpm http://nope/ x y
";
        assert_eq!(
            deb_src_lines_from_one_line(text),
            vec![
                "deb-src http://mirror.example/debian bookworm main contrib",
                "deb-src [ signed-by=/usr/share/keyrings/x.gpg ] https://repo.example/apt stable main",
            ]
        );
    }

    #[test]
    fn deb822_sources_become_deb_src_lines_per_uri_and_suite() {
        let text = "\
Types: deb
# http://snapshot.example/archive/debian/20250520T000000Z
URIs: http://mirror.example/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb deb-src
URIs: http://mirror.example/debian-security
Suites: bookworm-security
Components: main contrib

Types: deb
URIs: http://disabled.example/
Suites: x
Components: main
Enabled: no

Types: deb
URIs: https://inline.example/
Suites: ./
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 abc
";
        assert_eq!(
            deb_src_lines_from_deb822(text),
            vec![
                "deb-src [ signed-by=/usr/share/keyrings/debian-archive-keyring.gpg ] http://mirror.example/debian bookworm main",
                "deb-src [ signed-by=/usr/share/keyrings/debian-archive-keyring.gpg ] http://mirror.example/debian bookworm-updates main",
                "deb-src http://mirror.example/debian-security bookworm-security main contrib",
                "deb-src https://inline.example/ ./",
            ]
        );
    }
}
