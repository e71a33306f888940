//! Finding, reading and parsing a project's `.java` files: the walk, the byte-scan prefilter
//! and the parallel parse (one tree-sitter parser per rayon thread).

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, MatchKind};
use anyhow::{Context, Result};
use rayon::prelude::*;
use walkdir::WalkDir;

use crate::java::{Detail, JavaFile, JavaParser};

/// A `.java` file of the project.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// Relative to the project root, `/`-separated.
    pub rel: String,
    pub abs: PathBuf,
    pub size: u64,
}

/// Folders of version control and of quilt (`.pc` holds Debian's unpatched copies, which
/// would duplicate every patched class).
const SKIPPED_DIRS: [&str; 4] = [".git", ".hg", ".svn", ".pc"];

/// Every regular `.java` file under `root`, sorted by path. Symbolic links are never followed
/// (neither to files nor to folders), so nothing outside the project is read.
pub fn walk(root: &Path) -> Result<Vec<SourceFile>> {
    let mut out = Vec::new();
    let entries = WalkDir::new(root)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| {
            e.depth() == 0
                || !(e.file_type().is_dir() && SKIPPED_DIRS.iter().any(|d| e.file_name() == *d))
        });
    for entry in entries {
        let entry = entry.with_context(|| format!("walking {}", root.display()))?;
        if !entry.file_type().is_file() || entry.path().extension().is_none_or(|e| e != "java") {
            continue;
        }
        let rel = entry
            .path()
            .strip_prefix(root)
            .unwrap_or(entry.path())
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        let size = entry
            .metadata()
            .with_context(|| format!("reading the metadata of {}", entry.path().display()))?
            .len();
        out.push(SourceFile {
            rel,
            abs: entry.into_path(),
            size,
        });
    }
    Ok(out)
}

/// Byte strings one of which every file declaring a test case contains: test annotations
/// (`@Test` also covers `@TestFactory` and `@TestTemplate`), `junit` (qualified annotations
/// such as `@org.junit.Test` and every JUnit import), `testng`, and `TestCase` (JUnit 3).
/// JUnit 3 classes that extend `TestCase` only through a project base class are found by a
/// second scan for the names of those base classes.
pub const TEST_MARKERS: [&str; 7] = [
    "@Test",
    "@ParameterizedTest",
    "@RepeatedTest",
    "@Property",
    "junit",
    "testng",
    "TestCase",
];

fn test_markers() -> &'static AhoCorasick {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    AC.get_or_init(|| name_matcher(&TEST_MARKERS).expect("valid patterns"))
}

/// A matcher for a few literal strings. Leftmost-longest semantics let aho-corasick use its
/// SIMD (Teddy) prefilter, several times faster than the automaton on source text.
pub fn name_matcher<S: AsRef<[u8]>>(names: &[S]) -> Result<AhoCorasick> {
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .build(names)
        .context("building a byte-scan matcher")
}

/// Whether the file can declare a test case (see [`TEST_MARKERS`]).
pub fn may_declare_tests(bytes: &[u8]) -> bool {
    test_markers().is_match(bytes)
}

/// The simple names written after `extends` (`class A extends p.Base<T>` → `Base`), so a
/// later pass can tell which unparsed files may extend a JUnit 3 class without reading them
/// again. Generic bounds (`<T extends X>`) are included; they only cost a spurious candidate.
pub fn extended_names(bytes: &[u8]) -> Vec<String> {
    static AC: OnceLock<AhoCorasick> = OnceLock::new();
    let ac = AC.get_or_init(|| name_matcher(&["extends"]).expect("valid pattern"));
    let ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80;
    let mut out: Vec<String> = Vec::new();
    for m in ac.find_iter(bytes) {
        if m.start() > 0 && ident(bytes[m.start() - 1]) {
            continue;
        }
        let mut i = m.end();
        if bytes.get(i).is_some_and(|&b| ident(b)) {
            continue;
        }
        while bytes.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        let start = i;
        while bytes.get(i).is_some_and(|&b| ident(b) || b == b'.') {
            i += 1;
        }
        let qualified = &bytes[start..i];
        let simple = qualified.rsplit(|&b| b == b'.').next().unwrap_or(qualified);
        if !simple.is_empty() {
            let name = String::from_utf8_lossy(simple).into_owned();
            if !out.contains(&name) {
                out.push(name);
            }
        }
    }
    out
}

/// The text of a file, decoded lossily if it is not UTF-8, without a byte-order mark.
pub fn decode(bytes: Vec<u8>) -> (String, bool) {
    let (mut text, lossy) = match String::from_utf8(bytes) {
        Ok(s) => (s, false),
        Err(e) => (String::from_utf8_lossy(e.as_bytes()).into_owned(), true),
    };
    if text.starts_with('\u{feff}') {
        text.replace_range(..'\u{feff}'.len_utf8(), "");
    }
    (text, lossy)
}

thread_local! {
    static PARSER: RefCell<Option<JavaParser>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's parser (made on first use).
pub fn with_parser<T>(f: impl FnOnce(&mut JavaParser) -> Result<T>) -> Result<T> {
    PARSER.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.is_none() {
            *slot = Some(JavaParser::new()?);
        }
        f(slot.as_mut().expect("parser just made"))
    })
}

/// What happened to one file in a parse pass.
pub struct Outcome {
    /// Index into the slice given to [`parse_selected`].
    pub index: usize,
    /// The file is not valid UTF-8.
    pub lossy: bool,
    /// The model, if `select` wanted the file.
    pub parsed: Option<JavaFile>,
    /// Otherwise, what the file `extends` ([`extended_names`]).
    pub extends: Vec<String>,
}

/// Reads `files` in parallel and parses those whose bytes `select` accepts, at `detail`.
/// Each file's bytes and tree are dropped as soon as its model is built.
pub fn parse_selected(
    files: &[&SourceFile],
    detail: Detail,
    select: impl Fn(&[u8]) -> bool + Sync,
) -> Result<Vec<Outcome>> {
    files
        .par_iter()
        .enumerate()
        .map(|(index, file)| {
            let bytes = std::fs::read(&file.abs)
                .with_context(|| format!("reading {}", file.abs.display()))?;
            if !select(&bytes) {
                return Ok(Outcome {
                    index,
                    lossy: std::str::from_utf8(&bytes).is_err(),
                    parsed: None,
                    extends: extended_names(&bytes),
                });
            }
            let (text, lossy) = decode(bytes);
            let parsed = with_parser(|p| p.parse_with(&file.rel, &text, detail))?;
            Ok(Outcome {
                index,
                lossy,
                parsed: Some(parsed),
                extends: Vec::new(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_and_mentions() {
        assert!(may_declare_tests(b"class A { @Test void t() {} }"));
        assert!(may_declare_tests(
            b"class A { @org.junit.Test void t() {} }"
        ));
        assert!(may_declare_tests(b"class A extends TestCase {}"));
        assert!(!may_declare_tests(b"class A { void t() {} }"));
        assert_eq!(
            extended_names(b"class A extends\n  p.q.BaseTest<X> { <T extends Comparable<T>> }"),
            ["BaseTest", "Comparable"]
        );
        assert_eq!(
            extended_names(b"class A extends B {} class C extends B {}"),
            ["B"]
        );
        assert!(extended_names(b"xextends B; extendsB; extends").is_empty());
    }

    #[test]
    fn decoding() {
        assert_eq!(
            decode(b"\xEF\xBB\xBFclass A {}".to_vec()),
            ("class A {}".to_string(), false)
        );
        let (text, lossy) = decode(b"// caf\xE9\nclass A {}".to_vec());
        assert!(lossy);
        assert!(text.ends_with("class A {}"));
    }

    #[cfg(unix)]
    #[test]
    fn walk_skips_links_and_vcs_folders() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("Out.java"), "class Out {}").unwrap();
        std::fs::create_dir_all(dir.path().join("p/.pc/x")).unwrap();
        std::fs::write(dir.path().join("p/A.java"), "class A {}").unwrap();
        std::fs::write(dir.path().join("p/.pc/x/A.java"), "class A {}").unwrap();
        std::fs::write(dir.path().join("p/notes.txt"), "x").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("linked")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("Out.java"), dir.path().join("p/L.java"))
            .unwrap();
        let files = walk(dir.path()).unwrap();
        let rels: Vec<&str> = files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, ["p/A.java"]);
        assert_eq!(files[0].size, 10);
    }
}
