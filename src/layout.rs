//! Where everything lives under an output folder (`--out`, `out/` by default): the on-disk
//! contract between the stages, in one place. Stages talk to each other only through these
//! files, so a path is built here and nowhere else; a stage asks [`Layout`] (or, for one
//! training profile's runs, [`Runs`]) for it.
//!
//! ```text
//! out/
//!   tables/                      Parquet tables (schemas in `crate::tables`)
//!     <name>.parquet               projects, pairs, vocab_summary, shared_tokens, examples,
//!                                  finetune, predictions, metrics, test_scores
//!     examples.stamp.json          what examples.parquet was built from
//!   tokenizer/                   the BPE tokenizer (HF files)
//!     tailor_tokenizer_stamp.json  what it was trained from
//!   cache/                       re-creatable work (`--cache` may put it elsewhere)
//!     checkouts/<project>/         cloned or unpacked projects
//!     deb/<package>/               Debian source downloads
//!     apt/                         the project-local apt configuration
//!     mined/<project>.{parquet,json}  one project's mined pairs and counters
//!     evaluate/idioms-<tokenizer hash>-<n>.json  the idioms abstraction keeps
//!   runs/
//!     baseline/<profile>/          the baseline's run folder
//!       summary.json                 what the run measured
//!     finetune/<profile>/<project>/
//!       fold<k>.json                 the fold's parts (pair ids), as the sweep drew them
//!       <strategy>/fold<k>/          one customization's run folder
//!         fold.json                    the fold it was trained and tested on
//!     (every run folder)           config.resolved.toml, checkpoint/, curve.parquet,
//!                                  best/ (the best model: the baseline's HF folder, or an
//!                                  adapter beside the base)
//!   adapters/<name>/             a developer's own project (`tailor adapt`), see
//!                                  `crate::adapt::registry`: manifest.json (written last:
//!                                  the project is registered once it exists), adapter/,
//!                                  pairs.parquet, split.json, run/, checkout/
//!   reports/                     Markdown and CSV: table1–4, figure3–5 data, results.md,
//!                                  bench-mine.md
//!   figures/                     PNG and SVG: figure1, figure3–5, baseline-<profile>-curve
//! ```
//!
//! File names inside a model folder (`config.json`, `model.safetensors`, an adapter's files)
//! are the model format's, not this layout's: see `crate::model::hf` and `crate::model::adapter`.

use std::path::PathBuf;

/// A run folder's best model: the baseline's HF folder, or a customization's adapter.
pub const BEST_DIR: &str = "best";
/// A run folder's last checkpoint (resume state).
pub const CHECKPOINT_DIR: &str = "checkpoint";
/// A run folder's recipe: what decides its result.
pub const RESOLVED_FILE: &str = "config.resolved.toml";
/// A run folder's learning curve.
pub const CURVE_FILE: &str = "curve.parquet";
/// A customization run folder's own record of the fold it was trained and tested on.
pub const RUN_FOLD_FILE: &str = "fold.json";
/// What a tokenizer folder (`OUT/tokenizer`) was trained from, inside it.
pub const TOKENIZER_STAMP: &str = "tailor_tokenizer_stamp.json";

/// The paths under one output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    out: PathBuf,
}

impl Layout {
    pub fn new(out: impl Into<PathBuf>) -> Self {
        Self { out: out.into() }
    }

    /// `OUT/tables/<name>.parquet`.
    pub fn table(&self, name: &str) -> PathBuf {
        self.out.join("tables").join(format!("{name}.parquet"))
    }

    /// `OUT/tables/examples.stamp.json`: what the examples table was built from.
    pub fn examples_stamp(&self) -> PathBuf {
        self.out.join("tables").join("examples.stamp.json")
    }

    /// `OUT/tokenizer`.
    pub fn tokenizer_dir(&self) -> PathBuf {
        self.out.join("tokenizer")
    }

    /// `OUT/cache`, the default cache folder (`--cache` can put it elsewhere).
    pub fn cache_dir(&self) -> PathBuf {
        self.out.join("cache")
    }

    /// The default cache's paths.
    pub fn cache(&self) -> Cache {
        Cache::new(self.cache_dir())
    }

    /// `OUT/reports`: Markdown and CSV.
    pub fn reports_dir(&self) -> PathBuf {
        self.out.join("reports")
    }

    /// `OUT/figures`: PNG and SVG.
    pub fn figures_dir(&self) -> PathBuf {
        self.out.join("figures")
    }

    /// `OUT/figures/figure1.png` and `.svg`.
    pub fn figure1(&self) -> (PathBuf, PathBuf) {
        let dir = self.figures_dir();
        (dir.join("figure1.png"), dir.join("figure1.svg"))
    }

    /// `OUT/figures/baseline-<profile>-curve.png`.
    pub fn baseline_curve_figure(&self, profile: &str) -> PathBuf {
        self.figures_dir()
            .join(format!("baseline-{profile}-curve.png"))
    }

    /// `OUT/adapters`: every registered own project (`tailor adapt`).
    pub fn adapters_dir(&self) -> PathBuf {
        self.out.join("adapters")
    }

    /// The folder of the own project `name`: `OUT/adapters/<name>`.
    pub fn own_project(&self, name: &str) -> OwnProject {
        OwnProject {
            dir: self.adapters_dir().join(name),
        }
    }

    /// The run folders of one training profile.
    pub fn runs(&self, profile: &str) -> Runs {
        Runs {
            out: self.out.clone(),
            profile: profile.to_string(),
        }
    }
}

/// The run folders of one training profile under one output folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runs {
    out: PathBuf,
    profile: String,
}

impl Runs {
    /// `OUT/runs/baseline/<profile>`.
    pub fn baseline_dir(&self) -> PathBuf {
        self.out.join("runs").join("baseline").join(&self.profile)
    }

    /// The baseline model a finished run leaves: `OUT/runs/baseline/<profile>/best`.
    pub fn baseline_model(&self) -> PathBuf {
        self.baseline_dir().join(BEST_DIR)
    }

    /// `OUT/runs/baseline/<profile>/summary.json`.
    pub fn baseline_summary(&self) -> PathBuf {
        self.baseline_dir().join("summary.json")
    }

    /// `OUT/runs/finetune/<profile>`: every customization of the profile.
    pub fn finetune_dir(&self) -> PathBuf {
        self.out.join("runs").join("finetune").join(&self.profile)
    }

    /// `OUT/runs/finetune/<profile>/<project>/fold<k>.json`: the fold's parts as drawn.
    pub fn fold_file(&self, project: &str, fold: usize) -> PathBuf {
        self.finetune_dir()
            .join(project)
            .join(format!("fold{fold}.json"))
    }

    /// One customization's run folder:
    /// `OUT/runs/finetune/<profile>/<project>/<strategy>/fold<k>`.
    pub fn run_dir(&self, project: &str, strategy: &str, fold: usize) -> PathBuf {
        self.finetune_dir()
            .join(project)
            .join(strategy)
            .join(format!("fold{fold}"))
    }

    /// A customization's adapter: its run folder's `best/`.
    pub fn adapter_dir(&self, project: &str, strategy: &str, fold: usize) -> PathBuf {
        self.run_dir(project, strategy, fold).join(BEST_DIR)
    }

    /// The fold a customization recorded when it trained: its run folder's `fold.json`.
    pub fn run_fold_file(&self, project: &str, strategy: &str, fold: usize) -> PathBuf {
        self.run_dir(project, strategy, fold).join(RUN_FOLD_FILE)
    }

    /// A customization's learning curve: its run folder's `curve.parquet`.
    pub fn curve_file(&self, project: &str, strategy: &str, fold: usize) -> PathBuf {
        self.run_dir(project, strategy, fold).join(CURVE_FILE)
    }
}

/// The files of one own project, `OUT/adapters/<name>/` (`tailor adapt` writes them,
/// `suggest` and `serve` read them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnProject {
    dir: PathBuf,
}

impl OwnProject {
    /// `OUT/adapters/<name>`.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// `manifest.json`: what was adapted, from what, with which result; written last.
    pub fn manifest(&self) -> PathBuf {
        self.dir.join("manifest.json")
    }

    /// `adapter/`: the registered adapter folder (`crate::strategy::adapter`'s layout).
    pub fn adapter_dir(&self) -> PathBuf {
        self.dir.join("adapter")
    }

    /// `pairs.parquet`: every pair mined from the repository (the pairs table's schema): the
    /// retrieval index of `suggest` and `serve`.
    pub fn pairs(&self) -> PathBuf {
        self.dir.join("pairs.parquet")
    }

    /// `split.json`: the pair ids of the train, validation and test parts.
    pub fn split(&self) -> PathBuf {
        self.dir.join("split.json")
    }

    /// `run/`: the customization's run folder (checkpoints, so an interrupted adapt resumes).
    pub fn run_dir(&self) -> PathBuf {
        self.dir.join("run")
    }

    /// `checkout/`: the clone, when the repository was given as a URL.
    pub fn checkout_dir(&self) -> PathBuf {
        self.dir.join("checkout")
    }
}

/// The paths under a cache folder (`OUT/cache`, or `--cache`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cache {
    root: PathBuf,
}

impl Cache {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// `CACHE/checkouts`: one folder per project.
    pub fn checkouts_dir(&self) -> PathBuf {
        self.root.join("checkouts")
    }

    /// `CACHE/deb`: Debian source downloads, one folder per package.
    pub fn deb_dir(&self) -> PathBuf {
        self.root.join("deb")
    }

    /// `CACHE/apt`: the project-local apt configuration.
    pub fn apt_dir(&self) -> PathBuf {
        self.root.join("apt")
    }

    /// `CACHE/mined/<project>.parquet` and `.json`: one project's mined pairs and counters.
    pub fn mined(&self, project_id: &str) -> (PathBuf, PathBuf) {
        let dir = self.root.join("mined");
        (
            dir.join(format!("{project_id}.parquet")),
            dir.join(format!("{project_id}.json")),
        )
    }

    /// `CACHE/evaluate/idioms-<tokenizer hash>-<n>.json`: the idioms abstraction keeps.
    pub fn idioms(&self, tokenizer_hash: &str, top_n: usize) -> PathBuf {
        self.root
            .join("evaluate")
            .join(format!("idioms-{tokenizer_hash}-{top_n}.json"))
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn the_paths_are_the_documented_tree() {
        let layout = Layout::new("out");
        let runs = layout.runs("cpu");
        let cases = [
            (layout.table("pairs"), "out/tables/pairs.parquet"),
            (layout.examples_stamp(), "out/tables/examples.stamp.json"),
            (layout.tokenizer_dir(), "out/tokenizer"),
            (layout.cache().checkouts_dir(), "out/cache/checkouts"),
            (layout.cache().mined("p").0, "out/cache/mined/p.parquet"),
            (
                layout.cache().idioms("ab", 200),
                "out/cache/evaluate/idioms-ab-200.json",
            ),
            (layout.figure1().1, "out/figures/figure1.svg"),
            (
                layout.baseline_curve_figure("cpu"),
                "out/figures/baseline-cpu-curve.png",
            ),
            (runs.baseline_model(), "out/runs/baseline/cpu/best"),
            (
                runs.baseline_summary(),
                "out/runs/baseline/cpu/summary.json",
            ),
            (runs.fold_file("p", 2), "out/runs/finetune/cpu/p/fold2.json"),
            (
                runs.adapter_dir("p", "lora", 0),
                "out/runs/finetune/cpu/p/lora/fold0/best",
            ),
            (
                runs.run_fold_file("p", "lora", 0),
                "out/runs/finetune/cpu/p/lora/fold0/fold.json",
            ),
            (
                runs.curve_file("p", "custom", 1),
                "out/runs/finetune/cpu/p/custom/fold1/curve.parquet",
            ),
        ];
        for (path, expected) in cases {
            assert_eq!(path, Path::new(expected));
        }
    }
}
