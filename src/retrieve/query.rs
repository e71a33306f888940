//! `tailor retrieve`: the nearest existing tests of a project for a focal method given as text
//! or as a method of a Java file, adapted to it.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::{Allowed, Bm25, FocalNames, ProjectPairs};
use crate::java::{Detail, JavaParser};
use crate::metrics::tokens::{Role, TokenKind, java_tokens};
use crate::tables::{pairs::read_pairs, table_path};

/// The focal method to find tests for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FocalQuery {
    /// A method declaration as text; `class` names its class, for adapting class names.
    Text { text: String, class: Option<String> },
    /// The method named `method` in the Java file `file` (it must be declared exactly once).
    JavaMethod { file: PathBuf, method: String },
}

/// One existing test of the project, nearest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    pub pair_id: String,
    pub score: f64,
    /// The retrieved pair's focal class, focal method and test method.
    pub focal_class: String,
    pub focal_method: String,
    pub test_method: String,
    /// The retrieved test as written.
    pub test: String,
    /// The retrieved test adapted to the query's method (and class) name.
    pub adapted: String,
}

/// The `k` tests of `project` (from `OUT/tables/pairs.parquet`) whose focal methods are nearest
/// to `query`, adapted to it, best first. An unknown project, a method not in the file or an
/// overloaded one are errors naming it.
pub fn retrieve(
    out: &Path,
    project: &str,
    query: &FocalQuery,
    k: usize,
) -> Result<Vec<Suggestion>> {
    let (text, method, class) = focal_text(query)?;
    let path = table_path(out, "pairs");
    let pairs = read_pairs(&path).with_context(|| "run `tailor mine` first".to_string())?;
    let mine: Vec<_> = pairs.iter().filter(|p| p.project_id == project).collect();
    if mine.is_empty() {
        let mut known: Vec<&str> = pairs.iter().map(|p| p.project_id.as_str()).collect();
        known.sort_unstable();
        known.dedup();
        let shown = known
            .iter()
            .take(20)
            .copied()
            .collect::<Vec<_>>()
            .join(", ");
        bail!(
            "project {project:?} has no pairs in {} ({} projects have some: {shown}{})",
            path.display(),
            known.len(),
            if known.len() > 20 { ", …" } else { "" }
        );
    }
    let project_pairs = ProjectPairs::new(mine, Bm25::default());
    let names = FocalNames::new(&method, class.as_deref().unwrap_or(""));
    let hits = project_pairs.index.search_text(&text, k, Allowed::All);
    Ok(hits
        .iter()
        .map(|hit| {
            let pair = project_pairs.pairs[hit.doc];
            Suggestion {
                pair_id: hit.pair_id.clone(),
                score: hit.score,
                focal_class: pair.focal_class.clone(),
                focal_method: pair.focal_method.clone(),
                test_method: pair.test_method.clone(),
                test: pair.test_body.clone(),
                adapted: project_pairs.adapted(hit, names),
            }
        })
        .collect())
}

/// The query's text, method name and class name (if known).
fn focal_text(query: &FocalQuery) -> Result<(String, String, Option<String>)> {
    match query {
        FocalQuery::Text { text, class } => {
            let method = declared_name(text)
                .with_context(|| format!("no method declaration found in --focal {text:?}"))?;
            Ok((text.clone(), method, class.clone()))
        }
        FocalQuery::JavaMethod { file, method } => {
            let source = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            let parsed = JavaParser::new()?
                .parse_with(&file.display().to_string(), &source, Detail::Declarations)
                .with_context(|| format!("parsing {}", file.display()))?;
            let found: Vec<_> = parsed
                .classes
                .iter()
                .flat_map(|c| c.methods.iter().chain(&c.constructors).map(move |m| (c, m)))
                .filter(|(_, m)| m.name == *method)
                .collect();
            match found.as_slice() {
                [] => {
                    let mut names: Vec<&str> = parsed
                        .classes
                        .iter()
                        .flat_map(|c| c.methods.iter().map(|m| m.name.as_str()))
                        .collect();
                    names.sort_unstable();
                    names.dedup();
                    bail!(
                        "no method {method:?} in {} (it declares: {})",
                        file.display(),
                        names.join(", ")
                    )
                }
                [(class, m)] => Ok((m.text.clone(), m.name.clone(), Some(class.name.clone()))),
                many => bail!(
                    "method {method:?} is overloaded in {} ({} declarations: {}); pass the one \
                     you mean with --focal",
                    file.display(),
                    many.len(),
                    many.iter()
                        .map(|(c, m)| format!("{}: {}", c.name, m.signature))
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            }
        }
    }
}

/// The name a method or constructor declaration declares: the identifier before the first `(`
/// that does not open an annotation's arguments.
pub fn declared_name(text: &str) -> Option<String> {
    let tokens = java_tokens(text);
    tokens
        .windows(2)
        .find(|w| {
            w[1].text == "("
                && matches!(w[0].kind, TokenKind::Identifier | TokenKind::TypeIdentifier)
                && w[0].role != Role::AnnotationName
        })
        .map(|w| w[0].text.to_string())
}
