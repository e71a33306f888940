//! `tailor corpus`: build the project lists of `pipelines/corpora/` from data, never by hand:
//! every Java source package in apt's index, or a default chosen from a measured census.

use std::path::PathBuf;

use crate::pipeline::corpus;

/// Build project lists: every Java source package in apt's index, or a default chosen from a census.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Every Java source package of this machine's apt sources (with deb-src enabled in a
    /// project-local apt configuration), pinned to the indexed version.
    Debian(DebianArgs),
    /// Choose a pinned, diverse default corpus from a census (`projects.parquet` of a `tailor
    /// mine` run over the full Debian list) within a download budget.
    SelectDefault(SelectArgs),
}

#[derive(Debug, clap::Args)]
pub struct DebianArgs {
    /// Where to write the list.
    #[arg(long, default_value = "pipelines/corpora/debian-java-all.csv")]
    pub out: PathBuf,
    /// Cache folder; the apt configuration and its indexes go to CACHE/apt.
    #[arg(long, default_value = "out/cache")]
    pub cache: PathBuf,
}

#[derive(Debug, clap::Args)]
pub struct SelectArgs {
    /// The census: projects.parquet of a `tailor mine` run over debian-java-all.csv.
    #[arg(long)]
    pub projects: PathBuf,
    /// Where to write the list.
    #[arg(long, default_value = "pipelines/corpora/debian-java-default.csv")]
    pub out: PathBuf,
    /// Download budget in MB (decimal) for the whole default corpus.
    #[arg(long, default_value_t = crate::acquire::select::DEFAULT_BUDGET_MB)]
    pub budget_mb: f64,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        Command::Debian(a) => corpus::debian(&a.out, &a.cache),
        Command::SelectDefault(a) => corpus::select_default(&a.projects, &a.out, a.budget_mb),
    }
}
