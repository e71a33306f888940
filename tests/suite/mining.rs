//! The miner on the hand-written fixture projects under `fixtures/java/`: the exact pairs,
//! the counters, and agreement with Methods2Test's heuristics (re-implemented below from
//! `scripts/find_map_test_cases.py` and `TestParser.py`) except for its documented faults.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tailor::java::{ClassKind, JavaParser};
use tailor::mining::{MineOptions, MiningStats, Pair, ProjectMining, mine_checkout, walk};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/java")
        .join(name)
}

fn mine_with(name: &str, opts: &MineOptions) -> ProjectMining {
    mine_checkout(name, &fixture(name), opts).unwrap()
}

fn mine(name: &str) -> ProjectMining {
    mine_with(name, &MineOptions::default())
}

type Row = (String, String, String, String, &'static str, &'static str);

/// (test class, test method, focal class, focal method, heuristic, framework).
fn rows(m: &ProjectMining) -> BTreeSet<Row> {
    m.pairs
        .iter()
        .map(|p| {
            (
                p.test_class.clone(),
                p.test_method.clone(),
                p.focal_class.clone(),
                p.focal_method.clone(),
                p.heuristic.as_str(),
                p.framework.as_str(),
            )
        })
        .collect()
}

fn expected(rows: &[(&str, &str, &str, &str, &'static str, &'static str)]) -> BTreeSet<Row> {
    rows.iter()
        .map(|&(a, b, c, d, h, f)| (a.into(), b.into(), c.into(), d.into(), h, f))
        .collect()
}

fn pair<'a>(m: &'a ProjectMining, test_class: &str, test_method: &str) -> &'a Pair {
    m.pairs
        .iter()
        .find(|p| p.test_class == test_class && p.test_method == test_method)
        .unwrap_or_else(|| panic!("no pair for {test_class}.{test_method}"))
}

#[test]
fn maven_multi_module() {
    let m = mine("maven-multi");
    assert_eq!(
        rows(&m),
        expected(&[
            (
                "CalculatorTest",
                "testAdd",
                "Calculator",
                "add",
                "name",
                "junit5"
            ),
            (
                "CalculatorTest",
                "subtractTest",
                "Calculator",
                "subtract",
                "name",
                "junit5"
            ),
            (
                "CalculatorTest",
                "test_isEven",
                "Calculator",
                "isEven",
                "name",
                "junit5"
            ),
            (
                "CalculatorTest",
                "add_whenNegative",
                "Calculator",
                "add",
                "name",
                "junit5"
            ),
            (
                "CalculatorTest",
                "productOfTwo",
                "Calculator",
                "multiply",
                "unique_call",
                "junit5"
            ),
            (
                "CalculatorTest",
                "evens",
                "Calculator",
                "isEven",
                "unique_call",
                "junit5"
            ),
            (
                "CalculatorTest",
                "recallsMemory",
                "Calculator",
                "recall",
                "unique_call",
                "junit5"
            ),
            (
                "CalculatorTest",
                "testCalculator",
                "Calculator",
                "Calculator",
                "name",
                "junit5"
            ),
            (
                "CalculatorTest.WhenZero",
                "addsZero",
                "Calculator",
                "add",
                "unique_call",
                "junit5"
            ),
            (
                "CalculatorIT",
                "addsDoubles",
                "Calculator",
                "add",
                "unique_call",
                "junit4"
            ),
            (
                "TestParser",
                "tokensSplitOnSpaces",
                "Parser",
                "tokens",
                "unique_call",
                "junit4"
            ),
            (
                "TestParser",
                "testCount",
                "Parser",
                "count",
                "name",
                "junit4"
            ),
            ("BoxTests", "testPut", "Box", "put", "name", "junit3"),
            ("BoxTests", "testMax", "Box", "max", "name", "junit3"),
            (
                "BoxTests",
                "testMaxOfNothing",
                "Box",
                "max",
                "unique_call",
                "junit3"
            ),
            ("BoxTestCase", "size", "Box", "size", "name", "testng"),
            (
                "BoxTestCase",
                "readsBack",
                "Box",
                "get",
                "unique_call",
                "testng"
            ),
            (
                "BoxTestCase",
                "get_outOfRange",
                "Box",
                "get",
                "name",
                "testng"
            ),
            (
                "ShapeTest",
                "testDescribe",
                "Shape",
                "describe",
                "name",
                "junit5"
            ),
            (
                "StringsTests",
                "reverse",
                "Strings",
                "reverse",
                "name",
                "junit4"
            ),
            (
                "StringsTests",
                "blankWhenSpaces",
                "Strings",
                "isBlank",
                "unique_call",
                "junit4"
            ),
            (
                "RankingTest",
                "testBest",
                "Ranking",
                "best",
                "name",
                "junit5"
            ),
        ])
    );
    assert_eq!(
        m.stats,
        MiningStats {
            java_files: 19,
            java_bytes: m.stats.java_bytes,
            files_parsed: 18,
            bytes_parsed: m.stats.bytes_parsed,
            files_too_large: 0,
            files_lossy_utf8: 0,
            files_with_syntax_errors: 0,
            test_classes: 11,
            mapped_test_classes: 10,
            test_cases: 26,
            mapped_test_cases: 23,
            duplicate_pairs: 1,
        }
    );
    assert!(m.stats.bytes_parsed < m.stats.java_bytes);
    // The only file never parsed: nothing tests StringsUtils by name.
    assert!(
        !m.parsed_files
            .iter()
            .any(|f| f.ends_with("StringsUtils.java"))
    );

    // Overloads by arity, modules, the duplicate kept once (from the first file by path).
    let add = pair(&m, "CalculatorTest", "testAdd");
    assert_eq!(add.focal_signature, "public int add(int a, int b, int c)");
    assert_eq!(
        add.test_file,
        "core/src/test/java/com/acme/core/CalculatorTest.java"
    );
    assert_eq!(
        add.focal_file,
        "core/src/main/java/com/acme/core/Calculator.java"
    );
    assert!(add.test_body.starts_with("@Test\n    void testAdd() {"));
    assert_eq!(
        pair(&m, "CalculatorTest", "add_whenNegative").focal_signature,
        "public int add(int a, int b)"
    );
    assert_eq!(
        pair(&m, "CalculatorIT", "addsDoubles").focal_file,
        "app/src/main/java/com/acme/core/Calculator.java"
    );
    assert_eq!(
        pair(&m, "CalculatorTest", "testCalculator").focal_signature,
        "public Calculator(int memory)"
    );
    assert!(!m.pairs.iter().any(|p| p.test_class == "CalculatorTests"));

    // The focal-class context of a generic class with a nested class.
    let put = pair(&m, "BoxTests", "testPut");
    assert_eq!(
        put.class_signature,
        "public class Box<T extends Comparable<T>> implements Iterable<T>"
    );
    assert_eq!(
        put.method_signatures,
        [
            "public void put(T item)",
            "public T get(int index)",
            "public int size()",
            "public T max()",
            "public java.util.Iterator<T> iterator()",
        ]
    );
    assert!(put.constructors.is_empty());
    assert_eq!(
        put.fields,
        ["private final List<T> items = new ArrayList<>();"]
    );
    assert_eq!(
        put.focal_body,
        "public void put(T item) {\n        items.add(item);\n    }"
    );
    let calc = pair(&m, "CalculatorTest", "subtractTest");
    assert_eq!(
        calc.constructors,
        ["public Calculator()", "public Calculator(int memory)"]
    );
    assert_eq!(
        calc.fields,
        [
            "private int memory;",
            "public static final String NAME = \"calc\";"
        ]
    );
    assert!(!calc.method_signatures.iter().any(|s| s.contains("recall")));

    // Ids are unique and stable across runs.
    let ids: BTreeSet<&str> = m.pairs.iter().map(|p| p.pair_id.as_str()).collect();
    assert_eq!(ids.len(), m.pairs.len());
    let again = mine("maven-multi");
    assert_eq!(again.pairs, m.pairs);
}

#[test]
fn root_level_src_test_java() {
    let m = mine("root-layout");
    assert_eq!(
        rows(&m),
        expected(&[
            (
                "GreeterTest",
                "testGreet",
                "Greeter",
                "greet",
                "name",
                "junit4"
            ),
            (
                "GreeterTest",
                "greetsTheWorld",
                "Greeter",
                "greet",
                "unique_call",
                "junit4"
            ),
            (
                "GreeterTest",
                "testShout",
                "Greeter",
                "shout",
                "name",
                "junit4"
            ),
            (
                "FarewellTest",
                "byeTest",
                "Farewell",
                "bye",
                "name",
                "testng"
            ),
        ])
    );
    assert_eq!(
        pair(&m, "GreeterTest", "testGreet").focal_signature,
        "public String greet(String name)"
    );
    assert_eq!(
        pair(&m, "GreeterTest", "greetsTheWorld").focal_signature,
        "public String greet()"
    );
    let s = &m.stats;
    assert_eq!(
        (
            s.java_files,
            s.files_parsed,
            s.test_classes,
            s.mapped_test_classes,
            s.test_cases,
            s.mapped_test_cases
        ),
        (4, 4, 2, 2, 4, 4)
    );
}

#[test]
fn edge_cases_ant_layout_errors_encodings_and_sizes() {
    let all = expected(&[
        (
            "WidgetTest",
            "testClicks",
            "Widget",
            "clicks",
            "name",
            "junit4",
        ),
        (
            "CounterTest",
            "testIncrement",
            "Counter",
            "increment",
            "name",
            "junit3",
        ),
        (
            "CounterTest",
            "testResetClears",
            "Counter",
            "reset",
            "unique_call",
            "junit3",
        ),
        ("BrokenTest", "testOk", "Broken", "ok", "name", "junit4"),
        (
            "BrokenTest",
            "testAlsoOk",
            "Broken",
            "alsoOk",
            "name",
            "junit4",
        ),
        ("LatinTest", "testWord", "Latin", "word", "name", "junit4"),
        ("HugeTest", "testSize", "Huge", "size", "name", "junit4"),
        ("ModeTest", "testNext", "Mode", "next", "name", "junit5"),
        (
            "PointTest",
            "manhattan_isSumOfAbsolutes",
            "Point",
            "manhattan",
            "name",
            "junit5",
        ),
    ]);
    let m = mine("edge-cases");
    assert_eq!(rows(&m), all);
    assert_eq!(
        m.stats,
        MiningStats {
            java_files: 16,
            java_bytes: m.stats.java_bytes,
            files_parsed: 16,
            bytes_parsed: m.stats.java_bytes,
            files_too_large: 0,
            files_lossy_utf8: 1,
            files_with_syntax_errors: 1,
            test_classes: 8,
            mapped_test_classes: 7,
            test_cases: 11,
            mapped_test_cases: 9,
            duplicate_pairs: 0,
        }
    );
    let latin = pair(&m, "LatinTest", "testWord");
    assert!(latin.focal_body.contains("caf\u{FFFD}"));
    assert_eq!(
        pair(&m, "PointTest", "manhattan_isSumOfAbsolutes").class_signature,
        "public record Point(int x, int y)"
    );

    // Under a 4 KiB limit Huge.java is skipped, counted, and HugeTest maps nothing.
    let small = mine_with(
        "edge-cases",
        &MineOptions {
            max_file_bytes: 4096,
        },
    );
    let mut without_huge = all.clone();
    without_huge.retain(|r| r.0 != "HugeTest");
    assert_eq!(rows(&small), without_huge);
    assert_eq!(small.stats.files_too_large, 1);
    assert_eq!(small.stats.files_parsed, 15);
    assert_eq!(small.stats.mapped_test_classes, 6);
    assert_eq!(small.stats.java_files, 16);
}

#[test]
fn a_folder_without_java_mines_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("README"), "no java here").unwrap();
    let m = mine_checkout("none", dir.path(), &MineOptions::default()).unwrap();
    assert!(m.pairs.is_empty());
    assert_eq!(m.stats, MiningStats::default());
    assert!(mine_checkout("missing", &dir.path().join("nope"), &MineOptions::default()).is_err());
}

// ---- Methods2Test, re-implemented: (test file, test method, focal file, focal method) ----

type RefPair = (String, String, String, String);

/// `find_map_test_cases.py`: test files are those containing `@Test`; focal files the others
/// not under `src/test`; a test file maps to the focal file whose lower-cased path equals its
/// own lower-cased with `/src/test/` → `/src/main/` and every `test` deleted. Test cases are
/// methods of top-level classes whose modifiers contain `@Test`; focal methods are the
/// methods and constructors of the focal file's top-level classes, in file order; a test maps
/// by its lower-cased name minus every `test`, else by the single lower-cased invoked name
/// shared with the focal methods. Files that are not UTF-8 yield no classes (Python's read fails).
fn methods2test(root: &Path) -> BTreeSet<RefPair> {
    let files = walk(root).unwrap();
    let read = |rel: &str| std::fs::read(root.join(rel)).unwrap();
    let tests: Vec<&str> = files
        .iter()
        .map(|f| f.rel.as_str())
        .filter(|rel| read(rel).windows(5).any(|w| w == b"@Test"))
        .collect();
    let focals: Vec<&str> = files
        .iter()
        .map(|f| f.rel.as_str())
        .filter(|rel| !tests.contains(rel) && !rel.contains("src/test"))
        .collect();
    let mut parser = JavaParser::new().unwrap();
    let mut parse = |rel: &str| match String::from_utf8(read(rel)) {
        Ok(text) => parser.parse(rel, &text).unwrap().classes,
        Err(_) => Vec::new(),
    };
    let mut out = BTreeSet::new();
    for test in &tests {
        let norm = test
            .to_lowercase()
            .replace("/src/test/", "/src/main/")
            .replace("test", "");
        let Some(focal) = focals.iter().find(|f| f.to_lowercase() == norm) else {
            continue;
        };
        let top = |c: &tailor::java::Class| c.outer.is_none() && c.kind == ClassKind::Class;
        let test_classes = parse(test);
        let focal_classes = parse(focal);
        let mut focal_methods: Vec<(usize, String)> = focal_classes
            .iter()
            .filter(|c| top(c))
            .flat_map(|c| c.methods.iter().chain(&c.constructors))
            .map(|m| (m.line, m.name.to_lowercase()))
            .collect();
        focal_methods.sort_by_key(|(line, _)| *line);
        let names: Vec<&str> = focal_methods.iter().map(|(_, n)| n.as_str()).collect();
        for class in test_classes.iter().filter(|c| top(c)) {
            for m in &class.methods {
                if !m.annotations.iter().any(|a| a.name.starts_with("Test")) {
                    continue;
                }
                let by_name = m.name.to_lowercase().replace("test", "");
                let found = if names.contains(&by_name.as_str()) {
                    Some(by_name)
                } else {
                    let called: BTreeSet<String> =
                        m.calls.iter().map(|c| c.name.to_lowercase()).collect();
                    let shared: Vec<&String> = called
                        .iter()
                        .filter(|c| names.contains(&c.as_str()))
                        .collect();
                    (shared.len() == 1).then(|| shared[0].clone())
                };
                if let Some(f) = found {
                    out.insert((test.to_string(), m.name.clone(), focal.to_string(), f));
                }
            }
        }
    }
    out
}

fn ours(m: &ProjectMining) -> BTreeSet<RefPair> {
    m.pairs
        .iter()
        .map(|p| {
            (
                p.test_file.clone(),
                p.test_method.clone(),
                p.focal_file.clone(),
                p.focal_method.to_lowercase(),
            )
        })
        .collect()
}

#[test]
fn agreement_with_methods2test() {
    let p = |a: &str, b: &str, c: &str, d: &str| {
        (a.to_string(), b.to_string(), c.to_string(), d.to_string())
    };
    // maven-multi: Methods2Test maps 11 pairs; we map all but two, where its rules are wrong:
    // an abstract method (no focal code), and a class named by an infix `Test`.
    let reference = methods2test(&fixture("maven-multi"));
    assert_eq!(reference.len(), 11);
    let missing: BTreeSet<RefPair> = reference
        .difference(&ours(&mine("maven-multi")))
        .cloned()
        .collect();
    assert_eq!(
        missing,
        BTreeSet::from([
            p(
                "core/src/test/java/com/acme/core/ShapeTest.java",
                "testArea",
                "core/src/main/java/com/acme/core/Shape.java",
                "area"
            ),
            p(
                "util/src/test/java/com/acme/util/StringsTestUtils.java",
                "twiceRepeats",
                "util/src/main/java/com/acme/util/StringsUtils.java",
                "twice"
            ),
        ])
    );
    // A root-level src/test/java gets nothing from Methods2Test (no leading slash to rewrite).
    assert!(methods2test(&fixture("root-layout")).is_empty());
    assert_eq!(mine("root-layout").pairs.len(), 4);
    // Ant layout: only the test beside its class is found by path; we agree on it.
    let reference = methods2test(&fixture("edge-cases"));
    assert_eq!(
        reference,
        BTreeSet::from([p(
            "src/net/edge/WidgetTest.java",
            "testClicks",
            "src/net/edge/Widget.java",
            "clicks"
        )])
    );
    assert!(reference.is_subset(&ours(&mine("edge-cases"))));
}
