//! One project's token set Ti: every `.java` file read once, comments removed, tokenized,
//! keywords dropped.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, Result};

use super::lexer::strip_comments;
use super::tokenize::{Options, for_each_token, is_java_keyword};

/// The unique tokens of one project and what was read to get them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectTokens {
    /// Ti, sorted.
    pub tokens: Vec<String>,
    pub java_files: u64,
    pub java_bytes: u64,
    /// Files that were not valid UTF-8 (read lossily: invalid bytes become U+FFFD).
    pub lossy_files: u64,
    /// Files that could not be read, with the reason; they are skipped.
    pub unreadable: Vec<String>,
}

/// Walks `root` without following links and without entering `.git` (like the acquisition
/// stats), and collects the token set of its `.java` files.
pub fn project_tokens(root: &Path, opts: Options) -> Result<ProjectTokens> {
    let meta = std::fs::metadata(root)
        .with_context(|| format!("cannot read checkout {}", root.display()))?;
    anyhow::ensure!(meta.is_dir(), "checkout {} is not a folder", root.display());
    let mut set: HashSet<String> = HashSet::new();
    let mut out = ProjectTokens::default();
    let walk = walkdir::WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| !(e.depth() > 0 && e.file_type().is_dir() && e.file_name() == ".git"));
    for entry in walk {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                out.unreadable.push(e.to_string());
                continue;
            }
        };
        if !entry.file_type().is_file() || !entry.file_name().to_string_lossy().ends_with(".java") {
            continue;
        }
        let bytes = match std::fs::read(entry.path()) {
            Ok(bytes) => bytes,
            Err(e) => {
                out.unreadable
                    .push(format!("{}: {e}", entry.path().display()));
                continue;
            }
        };
        out.java_files += 1;
        out.java_bytes += bytes.len() as u64;
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                out.lossy_files += 1;
                String::from_utf8_lossy(e.as_bytes()).into_owned()
            }
        };
        add_tokens(&text, opts, &mut set);
    }
    out.tokens = set.into_iter().collect();
    out.tokens.sort_unstable();
    Ok(out)
}

/// Adds the non-keyword tokens of one Java source text to `set`.
pub fn add_tokens(source: &str, opts: Options, set: &mut HashSet<String>) {
    for_each_token(&strip_comments(source), opts, |t| {
        if !set.contains(t) && !is_java_keyword(t) {
            set.insert(t.to_string());
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_project_set_has_identifiers_and_literal_words_but_no_comments_or_keywords() {
        let dir = tempfile::tempdir().unwrap();
        let src = dir.path().join("src/main/java/p");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(
            src.join("Foo.java"),
            "/* Licensed under the Apache License */\npackage p;\n\
             public class Foo { // a helper\n  String url = \"http://host\";\n  int x2y;\n}\n",
        )
        .unwrap();
        std::fs::write(src.join("Notes.txt"), "ignored words").unwrap();
        std::fs::write(dir.path().join("Bar.java"), b"class Bar { int caf\xe9; }").unwrap();
        let got = project_tokens(dir.path(), Options::default()).unwrap();
        assert_eq!(
            got.tokens,
            [
                "bar", "caf", "foo", "host", "http", "p", "string", "url", "x", "y"
            ]
        );
        assert_eq!((got.java_files, got.lossy_files), (2, 1));
    }

    #[cfg(unix)]
    #[test]
    fn links_out_of_the_checkout_are_not_followed() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("Secret.java"), "class Secret {}").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("link")).unwrap();
        std::os::unix::fs::symlink(
            outside.path().join("Secret.java"),
            dir.path().join("Linked.java"),
        )
        .unwrap();
        let got = project_tokens(dir.path(), Options::default()).unwrap();
        assert!(got.tokens.is_empty());
        assert_eq!(got.java_files, 0);
    }

    #[test]
    fn a_missing_checkout_is_an_error_naming_it() {
        let err = project_tokens(Path::new("/nonexistent/x"), Options::default()).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x"));
    }
}
