//! The parsed files of one project with a class index: name resolution (imports, package,
//! nesting), JUnit 3 inheritance across the project, and test case detection.

use std::collections::HashMap;

use super::names::Location;
use super::pair::Framework;
use crate::java::{Annotation, Class, JavaFile, Method, erase_type_arguments, simple_name};

/// A class of the project: file index and class index in that file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClassRef {
    pub file: usize,
    pub class: usize,
}

/// What a type name in some file refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Resolved {
    Project(ClassRef),
    /// `junit.framework.TestCase`.
    JunitTestCase,
    Unknown,
}

/// A method that is a test case, and for which framework.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestCase {
    pub method: usize,
    pub framework: Framework,
}

/// Parsed files (sorted by path) and their classes by qualified and simple name.
pub struct Project {
    pub files: Vec<JavaFile>,
    pub locations: Vec<Location>,
    by_qualified: HashMap<String, ClassRef>,
    by_simple: HashMap<String, Vec<ClassRef>>,
    frameworks: Vec<Frameworks>,
}

/// The test libraries a file imports from.
#[derive(Debug, Clone, Copy, Default)]
struct Frameworks {
    junit5: bool,
    junit4: bool,
    testng: bool,
    jqwik: bool,
    quickcheck: bool,
    /// The framework of `@Test` by the file's imports of it (explicit, or on demand).
    test_import: Option<Framework>,
}

impl Frameworks {
    fn of(file: &JavaFile) -> Self {
        let mut f = Self::default();
        for import in &file.imports {
            let p = import.path.as_str();
            if p.starts_with("org.junit.jupiter") {
                f.junit5 = true;
            } else if p.starts_with("org.junit") {
                f.junit4 = true;
            } else if p.starts_with("org.testng") {
                f.testng = true;
            } else if p.starts_with("net.jqwik") {
                f.jqwik = true;
            } else if p.starts_with("com.pholser.junit.quickcheck") {
                f.quickcheck = true;
            }
            if f.test_import.is_none() && !import.is_static {
                f.test_import = match (import.is_wildcard, p) {
                    (false, "org.junit.Test") | (true, "org.junit") => Some(Framework::Junit4),
                    (false, "org.junit.jupiter.api.Test") | (true, "org.junit.jupiter.api") => {
                        Some(Framework::Junit5)
                    }
                    (false, "org.testng.annotations.Test") | (true, "org.testng.annotations") => {
                        Some(Framework::Testng)
                    }
                    _ => None,
                };
            }
        }
        f
    }

    /// The framework of a plain `@Test` when the import does not say: what the file imports,
    /// JUnit 5 before TestNG before JUnit 4, and JUnit 4 when it imports none (the annotation
    /// then comes from the same package or a base class's package, most often JUnit 4's).
    fn default_for_test(self) -> Framework {
        if self.junit5 {
            Framework::Junit5
        } else if self.testng {
            Framework::Testng
        } else {
            Framework::Junit4
        }
    }
}

impl Project {
    /// Indexes `files` (sorted here by path, so every result is in a stable order).
    pub fn new(mut files: Vec<JavaFile>) -> Self {
        files.sort_by(|a, b| a.path.cmp(&b.path));
        let mut by_qualified = HashMap::new();
        let mut by_simple: HashMap<String, Vec<ClassRef>> = HashMap::new();
        for (fi, file) in files.iter().enumerate() {
            for (ci, class) in file.classes.iter().enumerate() {
                let r = ClassRef {
                    file: fi,
                    class: ci,
                };
                by_qualified
                    .entry(class.qualified_name.clone())
                    .or_insert(r);
                by_simple.entry(class.name.clone()).or_default().push(r);
            }
        }
        let locations = files
            .iter()
            .map(|f| Location::of(&f.path, &f.package))
            .collect();
        let frameworks = files.iter().map(Frameworks::of).collect();
        Self {
            files,
            locations,
            by_qualified,
            by_simple,
            frameworks,
        }
    }

    pub fn class(&self, r: ClassRef) -> &Class {
        &self.files[r.file].classes[r.class]
    }

    pub fn classes(&self) -> impl Iterator<Item = ClassRef> + '_ {
        self.files.iter().enumerate().flat_map(|(fi, f)| {
            (0..f.classes.len()).map(move |ci| ClassRef {
                file: fi,
                class: ci,
            })
        })
    }

    /// Classes named `name` (simple name), in path order.
    pub fn named(&self, name: &str) -> &[ClassRef] {
        self.by_simple.get(name).map_or(&[], Vec::as_slice)
    }

    /// What the type `name` written in file `file` refers to: a class of this file, an explicit
    /// import, the file's package, an on-demand import, in Java's order of precedence.
    fn resolve(&self, file: usize, name: &str) -> Resolved {
        let name = erase_type_arguments(name);
        if name == "junit.framework.TestCase" {
            return Resolved::JunitTestCase;
        }
        if let Some((first, rest)) = name.split_once('.') {
            if let Some(&r) = self.by_qualified.get(name) {
                return Resolved::Project(r);
            }
            // `Outer.Inner` where `Outer` is resolvable.
            if let Resolved::Project(outer) = self.resolve(file, first) {
                let q = format!("{}.{rest}", self.class(outer).qualified_name);
                if let Some(&r) = self.by_qualified.get(&q) {
                    return Resolved::Project(r);
                }
            }
            return Resolved::Unknown;
        }
        let f = &self.files[file];
        if let Some(ci) = f.classes.iter().position(|c| c.name == name) {
            return Resolved::Project(ClassRef { file, class: ci });
        }
        let qualify = |pkg: &str| {
            if pkg.is_empty() {
                name.to_string()
            } else {
                format!("{pkg}.{name}")
            }
        };
        for import in f.imports.iter().filter(|i| !i.is_static && !i.is_wildcard) {
            if simple_name(&import.path) == name {
                if import.path == "junit.framework.TestCase" {
                    return Resolved::JunitTestCase;
                }
                return self
                    .by_qualified
                    .get(&import.path)
                    .map_or(Resolved::Unknown, |&r| Resolved::Project(r));
            }
        }
        if let Some(&r) = self.by_qualified.get(&qualify(&f.package)) {
            return Resolved::Project(r);
        }
        for import in f.imports.iter().filter(|i| !i.is_static && i.is_wildcard) {
            if import.path == "junit.framework" && name == "TestCase" {
                return Resolved::JunitTestCase;
            }
            if let Some(&r) = self.by_qualified.get(&qualify(&import.path)) {
                return Resolved::Project(r);
            }
        }
        Resolved::Unknown
    }

    /// Whether `r` extends `junit.framework.TestCase`, directly or through classes of this
    /// project (cycles, which do not compile, count as no).
    pub fn is_junit3(&self, r: ClassRef, memo: &mut HashMap<ClassRef, Option<bool>>) -> bool {
        match memo.get(&r) {
            Some(Some(known)) => return *known,
            Some(None) => return false,
            None => {}
        }
        memo.insert(r, None);
        let answer = match self.class(r).superclass_name() {
            None => false,
            Some(sup) => match self.resolve(r.file, sup) {
                Resolved::JunitTestCase => true,
                Resolved::Project(base) => self.is_junit3(base, memo),
                Resolved::Unknown => false,
            },
        };
        memo.insert(r, Some(answer));
        answer
    }

    /// The test cases declared in class `r` (see the module docs of `mining` for the rules).
    pub fn test_cases(&self, r: ClassRef, junit3: bool) -> Vec<TestCase> {
        let class = self.class(r);
        let fw = self.frameworks[r.file];
        let class_level_testng = class
            .annotations
            .iter()
            .any(|a| test_annotation(a, fw) == Some(Framework::Testng));
        let mut out = Vec::new();
        for (mi, m) in class.methods.iter().enumerate() {
            let framework = m
                .annotations
                .iter()
                .find_map(|a| test_annotation(a, fw))
                .or_else(|| {
                    (class_level_testng && is_testng_class_level_test(m))
                        .then_some(Framework::Testng)
                })
                .or_else(|| (junit3 && is_junit3_test(m)).then_some(Framework::Junit3));
            if let Some(framework) = framework {
                out.push(TestCase {
                    method: mi,
                    framework,
                });
            }
        }
        out
    }
}

/// The framework of a test annotation, or `None` if `a` does not make a method a test.
/// `@Test` (JUnit 4, JUnit 5, TestNG: by import), `@ParameterizedTest`, `@RepeatedTest`,
/// `@TestFactory`, `@TestTemplate` (JUnit 5) and `@Property` when the file imports jqwik (JUnit 5
/// platform) or junit-quickcheck (JUnit 4 runner) — a bare `@Property` is too common a name.
fn test_annotation(a: &Annotation, fw: Frameworks) -> Option<Framework> {
    match a.name.as_str() {
        "org.junit.Test" => return Some(Framework::Junit4),
        "org.junit.jupiter.api.Test" => return Some(Framework::Junit5),
        "org.testng.annotations.Test" => return Some(Framework::Testng),
        "net.jqwik.api.Property" => return Some(Framework::Junit5),
        "com.pholser.junit.quickcheck.Property" => return Some(Framework::Junit4),
        n if n.contains('.') => {
            return matches!(
                n,
                "org.junit.jupiter.params.ParameterizedTest"
                    | "org.junit.jupiter.api.RepeatedTest"
                    | "org.junit.jupiter.api.TestFactory"
                    | "org.junit.jupiter.api.TestTemplate"
            )
            .then_some(Framework::Junit5);
        }
        _ => {}
    }
    match a.name.as_str() {
        "Test" => Some(fw.test_import.unwrap_or(fw.default_for_test())),
        "ParameterizedTest" | "RepeatedTest" | "TestFactory" | "TestTemplate" => {
            Some(Framework::Junit5)
        }
        "Property" if fw.jqwik => Some(Framework::Junit5),
        "Property" if fw.quickcheck => Some(Framework::Junit4),
        _ => None,
    }
}

/// Under TestNG's class-level `@Test`, every public method is a test, except configuration
/// methods (`@Before*`, `@After*`, `@DataProvider`, `@Factory`), static and abstract ones.
fn is_testng_class_level_test(m: &Method) -> bool {
    m.has_modifier("public")
        && !m.has_modifier("static")
        && m.has_body
        && !m.annotations.iter().any(|a| {
            let n = a.simple_name();
            n.starts_with("Before")
                || n.starts_with("After")
                || n == "DataProvider"
                || n == "Factory"
        })
}

/// JUnit 3 runs public void no-argument methods whose name starts with `test`.
fn is_junit3_test(m: &Method) -> bool {
    m.name.starts_with("test")
        && m.has_modifier("public")
        && m.has_body
        && m.parameters.is_empty()
        && m.return_type.as_deref() == Some("void")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::java::JavaParser;

    fn project(files: &[(&str, &str)]) -> Project {
        let mut p = JavaParser::new().unwrap();
        Project::new(
            files
                .iter()
                .map(|(path, src)| p.parse(path, src).unwrap())
                .collect(),
        )
    }

    fn find(p: &Project, name: &str) -> ClassRef {
        p.classes()
            .find(|&r| p.class(r).nested_name == name)
            .unwrap()
    }

    fn cases(p: &Project, name: &str) -> Vec<(String, Framework)> {
        let r = find(p, name);
        let j3 = p.is_junit3(r, &mut HashMap::new());
        p.test_cases(r, j3)
            .into_iter()
            .map(|t| (p.class(r).methods[t.method].name.clone(), t.framework))
            .collect()
    }

    #[test]
    fn junit3_through_project_base_classes() {
        let p = project(&[
            (
                "t/a/Base.java",
                "package a; import junit.framework.TestCase; public abstract class Base extends TestCase { public void testBase() {} }",
            ),
            (
                "t/a/Mid.java",
                "package a; public abstract class Mid extends Base {}",
            ),
            (
                "t/b/FooTest.java",
                "package b; import a.Mid; public class FooTest extends Mid { public void testA() {} public void testB(int x) {} void testC() {} public int testD() { return 1; } public void helper() {} public static void testE() {} }",
            ),
            (
                "t/c/Star.java",
                "package c; import junit.framework.*; class Star extends TestCase { public void testS() {} }",
            ),
            (
                "t/d/Q.java",
                "package d; class Q extends junit.framework.TestCase { public void testQ() {} }",
            ),
            (
                "t/d/Not.java",
                "package d; class Not extends Other { public void testN() {} }",
            ),
            (
                "t/d/Cycle.java",
                "package d; class Cycle extends Cycle2 { public void testN() {} } class Cycle2 extends Cycle {}",
            ),
        ]);
        assert_eq!(
            cases(&p, "FooTest"),
            [
                ("testA".into(), Framework::Junit3),
                ("testE".into(), Framework::Junit3)
            ]
        );
        assert_eq!(cases(&p, "Base"), [("testBase".into(), Framework::Junit3)]);
        assert_eq!(cases(&p, "Star").len(), 1);
        assert_eq!(cases(&p, "Q").len(), 1);
        assert!(cases(&p, "Not").is_empty());
        assert!(cases(&p, "Cycle").is_empty());
    }

    #[test]
    fn frameworks_from_imports() {
        let p = project(&[
            (
                "A.java",
                "import org.junit.Test; class A { @Test public void a() {} @org.junit.jupiter.api.Test void b() {} void c() {} }",
            ),
            (
                "B.java",
                "import org.junit.jupiter.api.*; import org.junit.jupiter.params.ParameterizedTest; class B { @Test void a() {} @ParameterizedTest void b(int x) {} @RepeatedTest(3) void c() {} @TestFactory Object d() { return null; } }",
            ),
            (
                "C.java",
                "import org.testng.annotations.Test; @Test public class C { public void a() {} @org.testng.annotations.BeforeMethod public void setUp() {} void hidden() {} public static void s() {} @Test(enabled = false) void b() {} }",
            ),
            (
                "D.java",
                "import net.jqwik.api.*; class D { @Property boolean p(int x) { return true; } }",
            ),
            (
                "E.java",
                "class E { @Property String p() { return null; } @Test void t() {} }",
            ),
        ]);
        assert_eq!(
            cases(&p, "A"),
            [
                ("a".into(), Framework::Junit4),
                ("b".into(), Framework::Junit5)
            ]
        );
        assert_eq!(cases(&p, "B").len(), 4);
        assert!(cases(&p, "B").iter().all(|c| c.1 == Framework::Junit5));
        assert_eq!(
            cases(&p, "C"),
            [
                ("a".into(), Framework::Testng),
                ("b".into(), Framework::Testng)
            ]
        );
        assert_eq!(cases(&p, "D"), [("p".into(), Framework::Junit5)]);
        assert_eq!(cases(&p, "E"), [("t".into(), Framework::Junit4)]);
    }
}
