//! Mining: test class → focal class → focal method, plus the focal-class context
//! (Methods2Test's heuristics, with their known faults fixed and documented).
//!
//! # Extraction
//! [`mine_checkout`] walks the project's `.java` files (never following links; `.git`, `.hg`,
//! `.svn` and quilt's `.pc` folders skipped), skips files over [`MineOptions::max_file_bytes`],
//! and parses in parallel, in passes, only the files that can matter:
//! 1. files whose bytes contain a test marker ([`scan::TEST_MARKERS`]);
//! 2. while some parsed class extends `junit.framework.TestCase` (directly or through
//!    project classes), the files not parsed yet that `extends` such a class by name (their
//!    classes may be JUnit 3 tests through a base class; pass 1 noted what every file it
//!    did not parse extends, so nothing is read twice to find them);
//! 3. files whose name is a focal class name some test class points to.
//!
//! # Test cases
//! - Methods annotated `@Test` (JUnit 4 `org.junit`, JUnit 5 `org.junit.jupiter.api`, TestNG
//!   `org.testng.annotations`; the framework is the annotation's import, else what the file
//!   imports: JUnit 5, then TestNG, then JUnit 4), `@ParameterizedTest`, `@RepeatedTest`,
//!   `@TestFactory`, `@TestTemplate` (JUnit 5), `@Property` when the file imports jqwik (JUnit 5)
//!   or junit-quickcheck (JUnit 4).
//! - TestNG's class-level `@Test`: every public, non-static method with a body that is not a
//!   configuration method (`@Before*`, `@After*`, `@DataProvider`, `@Factory`).
//! - JUnit 3: in classes extending `junit.framework.TestCase` directly or through classes of
//!   the project (names resolved through the file's classes, imports and package), public void
//!   methods without parameters whose name starts with `test`.
//! - Test classes may be nested (JUnit 5 `@Nested`, JUnit 4 `Enclosed`).
//!
//! # Test class → focal class
//! [`names::focal_class_names`]: `FooTest`, `FooTests`, `FooTestCase`, `FooIT`, `FooITCase`,
//! `TestFoo` (and `TestFooTest`) → `Foo`. The focal class is a top-level class of that name in
//! the test's package (from the `package` declarations, so any layout works: Maven modules,
//! root-level `src/test/java`, Ant's `src/` + `test/`, tests beside the code), not an
//! annotation type, not itself a test class, and not in a test source root
//! ([`names::Location::is_test_root`]). The test's own module is preferred, then the first by
//! path. A nested test class whose name names nothing takes its enclosing class's focal class;
//! a top-level one, what its file's name names.
//!
//! # Test case → focal method
//! By name first ([`names::focal_method_names`]: Methods2Test's "remove every `test`", then
//! `test`/`_test` stripped at either end, then the prefix before the first `_`), among the focal
//! class's methods with a body, case-insensitively, then its constructors; otherwise by a
//! unique call: the test calls exactly one distinct method name (case-insensitive) of the focal
//! class's methods with a body. Overloads: the first whose parameter count equals the argument
//! count of a call of that name in the test, else the first declared. Identical
//! (focal method, test method) texts are kept once.
//!
//! # Deviations from Methods2Test (`scripts/find_map_test_cases.py`, `TestParser.py`)
//! Every pair the reference maps is mapped here too, except where its heuristic is wrong:
//! - Path rewriting: it lower-cases the test file's path, rewrites `/src/test/` to `/src/main/`
//!   (leading slash only) and deletes every `test` substring. So a root-level `src/test/java`
//!   maps nothing, `FooTests` (→ `foos`) and `FooIT` map nothing, a folder such as `contest/`
//!   or `testutil/` breaks the path, and `FooTestUtils` is mapped to `FooUtils`. We match class
//!   names and packages instead; infix `Test` names nothing.
//! - Test methods: it takes methods whose modifiers contain the text `@Test` (so `@Tested`,
//!   `@TestInstance`-like annotations or an `@Test` inside an annotation argument count, and
//!   `@ParameterizedTest` does not), only in top-level classes. We use the annotation names
//!   above, in nested classes too, and JUnit 3.
//! - Focal methods: it considers every method and constructor of every top-level class in the
//!   focal file, abstract ones included, and the first of overloads. We consider the focal
//!   class's methods with a body (an abstract method has no focal code) and pick the overload
//!   by arity; a unique call naming only the focal class's name (not a constructor call) is not
//!   a constructor mapping here.
//! - Focal files: it drops every file containing the text `@Test` or a `src/test` path from the
//!   focal candidates; we drop test classes and test source roots.
//! - Case: it compares lower-cased paths, so `FOOTest.java` maps to `Foo.java`; Java names are
//!   case-sensitive and so are our class-name rules (method names are compared ignoring case,
//!   as it does).
//! - Duplicates: it keeps identical (focal, test) pairs; we map them and count them in
//!   `duplicate_pairs` but store one (forked modules such as log4j's `log4j-web` and
//!   `log4j-jakarta-web` repeat whole test classes).
//! - Name before call: where our extra name rules (2 and 3 of [`names::focal_method_names`])
//!   name a method, that method wins over the unique call, so `chars_should_not_be_supported`
//!   maps to `chars` where the reference, whose name rule fails, takes the one called method.
//!
//! `tests/suite/mining.rs` re-implements the reference and checks, on the fixtures, that the pairs it
//! maps and we do not are exactly the documented cases. On 150 Debian checkouts it mapped
//! 3,476 pairs, we 8,968; the 37 of its pairs that are not ours are all of the kinds above
//! (mostly duplicates, then abstract focal methods, name-before-call and case).

pub(crate) mod map;
mod names;
mod pair;
mod project;
mod scan;

use std::collections::HashSet;
use std::path::Path;

use anyhow::{Context, Result};

pub use names::{Location, file_stem, focal_class_names, focal_method_names};
pub use pair::{Framework, Heuristic, Pair};
pub use scan::{
    SourceFile, TEST_MARKERS, decode, may_declare_tests, name_matcher, walk, with_parser,
};

use crate::java::{Detail, JavaFile};
use project::Project;

/// Extraction settings.
#[derive(Debug, Clone)]
pub struct MineOptions {
    /// Files larger than this are skipped and counted (default 2 MiB).
    pub max_file_bytes: u64,
}

impl Default for MineOptions {
    fn default() -> Self {
        Self {
            max_file_bytes: 2 * 1024 * 1024,
        }
    }
}

/// Counts for one project, so nothing is dropped silently.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MiningStats {
    pub java_files: u64,
    pub java_bytes: u64,
    /// Files given to tree-sitter (the rest were ruled out by the byte scan).
    pub files_parsed: u64,
    pub bytes_parsed: u64,
    pub files_too_large: u64,
    pub files_lossy_utf8: u64,
    /// Files whose tree has ERROR/MISSING nodes (still mined where usable).
    pub files_with_syntax_errors: u64,
    pub test_classes: u64,
    pub mapped_test_classes: u64,
    pub test_cases: u64,
    pub mapped_test_cases: u64,
    pub duplicate_pairs: u64,
}

/// The pairs of one project and how they were found.
#[derive(Debug, Clone, Default)]
pub struct ProjectMining {
    pub pairs: Vec<Pair>,
    pub stats: MiningStats,
    /// The files given to tree-sitter, relative to the root, sorted (for `bench-mine`).
    pub parsed_files: Vec<String>,
}

/// Mines the checkout at `root` (see the module docs). Runs on the current rayon pool.
pub fn mine_checkout(project_id: &str, root: &Path, opts: &MineOptions) -> Result<ProjectMining> {
    mine(project_id, root, opts)
        .with_context(|| format!("mining {project_id} at {}", root.display()))
}

fn mine(project_id: &str, root: &Path, opts: &MineOptions) -> Result<ProjectMining> {
    let mut stats = MiningStats::default();
    let files = walk(root)?;
    stats.java_files = files.len() as u64;
    stats.java_bytes = files.iter().map(|f| f.size).sum();
    let eligible: Vec<&SourceFile> = files
        .iter()
        .filter(|f| f.size <= opts.max_file_bytes)
        .collect();
    stats.files_too_large = stats.java_files - eligible.len() as u64;
    let mut parsed = vec![false; eligible.len()];

    // Pass 1: files that may declare tests. Every eligible file is read once here, so this
    // pass also counts the files that are not UTF-8 and notes what the others extend.
    let mut models = Vec::new();
    let mut extends: Vec<Vec<String>> = vec![Vec::new(); eligible.len()];
    for outcome in scan::parse_selected(&eligible, Detail::Full, may_declare_tests)? {
        stats.files_lossy_utf8 += u64::from(outcome.lossy);
        match outcome.parsed {
            Some(model) => {
                parsed[outcome.index] = true;
                models.push(model);
            }
            None => extends[outcome.index] = outcome.extends,
        }
    }
    let mut project = Project::new(models);

    // Pass 2: JUnit 3 tests whose files name only a project base class, to a fixed point.
    let mut searched: HashSet<String> = HashSet::new();
    loop {
        let mut memo = Default::default();
        let names: HashSet<String> = project
            .classes()
            .filter(|&r| project.is_junit3(r, &mut memo))
            .map(|r| project.class(r).name.clone())
            .filter(|n| !searched.contains(n))
            .collect();
        if names.is_empty() {
            break;
        }
        let added = parse_more(&eligible, &mut parsed, Detail::Full, |i| {
            extends[i].iter().any(|n| names.contains(n))
        })?;
        searched.extend(names);
        if added.is_empty() {
            break;
        }
        project = extend(project, added);
    }
    drop(extends);

    // Pass 3: the focal candidates the test classes name. No test case is declared in these
    // files (they have no marker and extend no JUnit 3 class), so their calls are never
    // looked at: their method bodies are not walked.
    let tests = map::find_tests(&project);
    let wanted = map::wanted_focal_names(&project, &tests);
    let added = parse_more(&eligible, &mut parsed, Detail::Declarations, |i| {
        wanted.contains(file_stem(&eligible[i].rel))
    })?;
    if !added.is_empty() {
        project = extend(project, added);
    }

    stats.files_parsed = parsed.iter().filter(|&&p| p).count() as u64;
    stats.bytes_parsed = eligible
        .iter()
        .zip(&parsed)
        .filter(|(_, p)| **p)
        .map(|(f, _)| f.size)
        .sum();
    stats.files_with_syntax_errors =
        project.files.iter().filter(|f| f.has_syntax_errors).count() as u64;

    let tests = map::find_tests(&project);
    let pairs = map::pairs(project_id, &project, &tests, &mut stats);
    Ok(ProjectMining {
        pairs,
        stats,
        parsed_files: project.files.iter().map(|f| f.path.clone()).collect(),
    })
}

/// Parses (at `detail`) the eligible files not yet marked in `parsed` that `pick` accepts
/// (by index), and marks them.
fn parse_more(
    eligible: &[&SourceFile],
    parsed: &mut [bool],
    detail: Detail,
    pick: impl Fn(usize) -> bool,
) -> Result<Vec<JavaFile>> {
    let todo: Vec<usize> = (0..eligible.len())
        .filter(|&i| !parsed[i] && pick(i))
        .collect();
    let files: Vec<&SourceFile> = todo.iter().map(|&i| eligible[i]).collect();
    let mut added = Vec::new();
    for outcome in scan::parse_selected(&files, detail, |_| true)? {
        if let Some(model) = outcome.parsed {
            parsed[todo[outcome.index]] = true;
            added.push(model);
        }
    }
    Ok(added)
}

fn extend(project: Project, added: Vec<JavaFile>) -> Project {
    let mut files = project.files;
    files.extend(added);
    Project::new(files)
}
