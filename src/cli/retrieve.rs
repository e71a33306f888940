//! `tailor retrieve`: the nearest existing tests of a project for a focal method, with their
//! BM25 scores and each test adapted to the method's name.

use std::path::PathBuf;

use anyhow::{Result, bail};

use crate::retrieve::{FocalQuery, TOP_K, retrieve};

/// Find the project's existing tests whose focal methods are most similar to a focal method
/// (BM25 over code tokens, within the project; see DESIGN "Retrieval"), from
/// OUT/tables/pairs.parquet. Give the method as text (`--focal`) or as a method of a Java file
/// (`--java FILE --method NAME`; it must be declared once in the file).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[arg(long, default_value = "out")]
    pub out: PathBuf,
    /// The project whose tests to search (its `project_id` in the pairs table).
    #[arg(long)]
    pub project: String,
    /// The focal method's declaration as text.
    #[arg(long, conflicts_with_all = ["java", "method"])]
    pub focal: Option<String>,
    /// With --focal: the focal method's class, so class names are adapted too.
    #[arg(long, requires = "focal")]
    pub class: Option<String>,
    /// A Java file that declares the focal method.
    #[arg(long, requires = "method")]
    pub java: Option<PathBuf>,
    /// The focal method's name in --java.
    #[arg(long, requires = "java")]
    pub method: Option<String>,
    /// How many tests to print.
    #[arg(short, long, default_value_t = TOP_K)]
    pub k: usize,
}

pub fn run(args: Args) -> Result<()> {
    let query = match (args.focal, args.java, args.method) {
        (Some(text), None, None) => FocalQuery::Text {
            text,
            class: args.class,
        },
        (None, Some(file), Some(method)) => FocalQuery::JavaMethod { file, method },
        _ => bail!("give the focal method with --focal TEXT or with --java FILE --method NAME"),
    };
    let found = retrieve(&args.out, &args.project, &query, args.k)?;
    if found.is_empty() {
        println!(
            "retrieve: no focal method of {} shares a term with the query",
            args.project
        );
        return Ok(());
    }
    for (rank, s) in found.iter().enumerate() {
        println!(
            "#{} score {:.3}  pair {}  {}.{} ← {}",
            rank + 1,
            s.score,
            s.pair_id,
            s.focal_class,
            s.focal_method,
            s.test_method
        );
        println!("{}\n", s.adapted.trim_end());
    }
    Ok(())
}
