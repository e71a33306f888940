//! The registry of own projects: `OUT/adapters/<name>/` folders (paths in
//! [`crate::layout::OwnProject`]), each registered by its `manifest.json`. `tailor adapt` writes
//! a folder and its manifest last; `suggest` and `serve` read only folders whose manifest exists
//! and names their base, so a half-written adapt (interrupted, or still running) is never
//! served, and a project adapted to another base is never attached to this one.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use serde::{Deserialize, Serialize};

use crate::data::examples::ExampleSettings;
use crate::layout::{Layout, OwnProject};

/// One split part's held-out numbers for one way of writing tests (the adapted model, the
/// un-customized base, or retrieval from the training part). `None` where it does not apply
/// (retrieval has no loss).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeldOut {
    /// Mean token cross-entropy on the test part (nats).
    pub test_loss: Option<f64>,
    /// sacrebleu-style corpus BLEU-4 of the top-1 outputs, 0–100.
    pub bleu: Option<f64>,
    /// Share of test pairs whose top-1 / any of the top-5 outputs equals the real test
    /// (whitespace ignored), 0–1.
    pub exact_top1: Option<f64>,
    pub exact_top5: Option<f64>,
}

/// The held-out test part measured three ways, so a user sees whether the adapter is worth it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdaptMetrics {
    pub adapted: HeldOut,
    pub base: HeldOut,
    pub retrieval: HeldOut,
}

/// How many pairs each part had.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartSizes {
    pub train: u64,
    pub valid: u64,
    pub test: u64,
}

/// `manifest.json`: what an own project's adapter is, what it was made from and how it tested.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The project's name (its folder's name), as `suggest --project` and the API take it.
    pub name: String,
    /// The base model folder, absolute (informational; `base_hash` decides).
    pub base_dir: PathBuf,
    /// [`crate::model::adapter::base_hash`] of the base folder.
    pub base_hash: String,
    /// The strategy's name (`lora`, `prefix`, `l-ldb`, `custom`, `l-eo`).
    pub strategy: String,
    /// The training profile whose data and customization settings were used.
    pub profile: String,
    /// How model inputs were built (focal-context level, lengths): `suggest` builds its inputs
    /// the same way.
    pub examples: ExampleSettings,
    /// The repository as given to `adapt` (a path or a git URL).
    pub repo: String,
    /// The commit that was mined, when the repository is a git repository.
    pub commit: Option<String>,
    /// Pairs mined from the repository, and how many went to each part.
    pub pairs: u64,
    pub parts: PartSizes,
    pub metrics: AdaptMetrics,
    /// Wall seconds the customization took (mining and evaluation excluded).
    pub train_seconds: f64,
    /// When the manifest was written, UTC, `YYYY-MM-DDTHH:MM:SSZ`.
    pub created: String,
    pub tailor_version: String,
}

/// A registered own project: its folder and its manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Registered {
    pub paths: OwnProject,
    pub manifest: Manifest,
}

/// Refuses a name that cannot be a folder name on every system or a URL path segment: ASCII
/// letters, digits, `.`, `_`, `-`, not starting with `.`, at most 100 characters.
pub fn check_name(name: &str) -> Result<()> {
    ensure!(
        !name.is_empty()
            && name.len() <= 100
            && !name.starts_with('.')
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')),
        "project name {name:?} must be 1–100 ASCII letters, digits, '.', '_' or '-', not \
         starting with '.'"
    );
    Ok(())
}

impl Manifest {
    /// Reads `path`, naming it in every error.
    pub fn read(path: &Path) -> Result<Self> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))
    }

    /// Writes the manifest into its project's folder atomically: from then on the project is
    /// registered.
    pub fn write(&self, paths: &OwnProject) -> Result<()> {
        let json = serde_json::to_string_pretty(self)?;
        crate::tables::write_atomic(&paths.manifest(), json.as_bytes())
    }
}

/// The registered project `name` under `out`; an unknown name is an error listing the known ones.
pub fn read(out: &Path, name: &str) -> Result<Registered> {
    check_name(name)?;
    let paths = Layout::new(out).own_project(name);
    if !paths.manifest().exists() {
        let known: Vec<String> = list(out)?.into_iter().map(|r| r.manifest.name).collect();
        bail!(
            "no project {name:?} is registered in {} ({}); run `tailor adapt --repo … --name \
             {name}` first",
            Layout::new(out).adapters_dir().display(),
            if known.is_empty() {
                "none is".to_string()
            } else {
                format!("registered: {}", known.join(", "))
            }
        );
    }
    let manifest = Manifest::read(&paths.manifest())?;
    ensure!(
        manifest.name == name,
        "{} names the project {:?}, but its folder is {name:?}",
        paths.manifest().display(),
        manifest.name
    );
    Ok(Registered { paths, manifest })
}

/// Every registered project under `out`, by name. Folders without a manifest (an adapt in
/// progress or interrupted) are not registered and are left out; a manifest that cannot be read
/// is said on stderr and left out, so one broken folder does not take the others down.
pub fn list(out: &Path) -> Result<Vec<Registered>> {
    let dir = Layout::new(out).adapters_dir();
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .with_context(|| format!("listing {}", dir.display()))?
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_dir())
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect();
    names.sort();
    let mut registered = Vec::new();
    for name in names {
        let paths = Layout::new(out).own_project(&name);
        if !paths.manifest().exists() {
            continue;
        }
        match Manifest::read(&paths.manifest()) {
            Ok(manifest) if manifest.name == name => {
                registered.push(Registered { paths, manifest })
            }
            Ok(manifest) => eprintln!(
                "registry: {} names the project {:?} but its folder is {name:?}; left out",
                paths.manifest().display(),
                manifest.name
            ),
            Err(err) => eprintln!("registry: {err:#}; left out"),
        }
    }
    Ok(registered)
}

/// The registered projects adapted to the base whose hash is `base_hash`.
pub fn for_base(out: &Path, base_hash: &str) -> Result<Vec<Registered>> {
    Ok(list(out)?
        .into_iter()
        .filter(|r| r.manifest.base_hash == base_hash)
        .collect())
}

/// Now as `YYYY-MM-DDTHH:MM:SSZ` (UTC), for manifests.
pub fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    utc_timestamp(secs)
}

/// `secs` since the Unix epoch as `YYYY-MM-DDTHH:MM:SSZ` (the proleptic Gregorian calendar,
/// Howard Hinnant's days-to-civil algorithm).
pub fn utc_timestamp(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest(name: &str, base_hash: &str) -> Manifest {
        Manifest {
            name: name.into(),
            base_dir: "/base".into(),
            base_hash: base_hash.into(),
            strategy: "lora".into(),
            profile: "smoke".into(),
            examples: ExampleSettings::default(),
            repo: "/repo".into(),
            commit: Some("abc".into()),
            pairs: 10,
            parts: PartSizes {
                train: 8,
                valid: 1,
                test: 1,
            },
            metrics: AdaptMetrics::default(),
            train_seconds: 1.5,
            created: utc_timestamp(0),
            tailor_version: "0".into(),
        }
    }

    #[test]
    fn timestamps_are_utc_calendar_dates() {
        assert_eq!(utc_timestamp(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_timestamp(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(utc_timestamp(1_796_601_599), "2026-12-06T23:59:59Z");
    }

    #[test]
    fn names_are_folder_and_url_safe() {
        for good in ["commons-lang", "my_proj.v2", "A1"] {
            check_name(good).unwrap();
        }
        for bad in ["", ".hidden", "a/b", "..", "a b", "é", &"x".repeat(101)] {
            assert!(check_name(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn only_projects_with_a_manifest_of_their_own_name_are_registered() {
        let out = tempfile::tempdir().unwrap();
        let layout = Layout::new(out.path());
        assert!(list(out.path()).unwrap().is_empty());
        for (name, base) in [("alpha", "h1"), ("beta", "h2")] {
            let paths = layout.own_project(name);
            std::fs::create_dir_all(paths.dir()).unwrap();
            manifest(name, base).write(&paths).unwrap();
        }
        // In progress: no manifest yet.
        std::fs::create_dir_all(layout.own_project("gamma").dir()).unwrap();
        // Renamed folder: its manifest names another project.
        let moved = layout.own_project("delta");
        std::fs::create_dir_all(moved.dir()).unwrap();
        manifest("alpha", "h1").write(&moved).unwrap();

        let names: Vec<String> = list(out.path())
            .unwrap()
            .into_iter()
            .map(|r| r.manifest.name)
            .collect();
        assert_eq!(names, ["alpha", "beta"]);
        assert_eq!(for_base(out.path(), "h2").unwrap()[0].manifest.name, "beta");
        let read_back = read(out.path(), "alpha").unwrap();
        assert_eq!(read_back.manifest, manifest("alpha", "h1"));
        let err = format!("{:#}", read(out.path(), "gamma").unwrap_err());
        assert!(err.contains("registered: alpha, beta"), "{err}");
        assert!(read(out.path(), "delta").is_err());
    }
}
