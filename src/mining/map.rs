//! Test class → focal class → focal method, and the pairs with their focal-class context.

use std::collections::{HashMap, HashSet};

use xxhash_rust::xxh3::{xxh3_64, xxh3_128};

use super::MiningStats;
use super::names::{file_stem, focal_class_names, focal_method_names};
use super::pair::{Heuristic, Pair};
use super::project::{ClassRef, Project, TestCase};
use crate::java::{Call, Class, ClassKind, Method};

/// Every test class of the project with its test cases, in path order.
pub fn find_tests(project: &Project) -> Vec<(ClassRef, Vec<TestCase>)> {
    let mut memo = HashMap::new();
    project
        .classes()
        .filter_map(|r| {
            let junit3 = project.is_junit3(r, &mut memo);
            let cases = project.test_cases(r, junit3);
            (!cases.is_empty()).then_some((r, cases))
        })
        .collect()
}

/// The simple names a test class can point to (its own name's, its file's, its enclosing
/// classes'): only files with these stems need parsing as focal candidates.
pub fn wanted_focal_names(
    project: &Project,
    tests: &[(ClassRef, Vec<TestCase>)],
) -> HashSet<String> {
    let mut out = HashSet::new();
    for &(r, _) in tests {
        let file = &project.files[r.file];
        let mut c = Some(r.class);
        while let Some(ci) = c {
            out.extend(
                focal_class_names(&file.classes[ci].name)
                    .into_iter()
                    .map(str::to_string),
            );
            c = file.classes[ci].outer;
        }
        out.extend(
            focal_class_names(file_stem(&file.path))
                .into_iter()
                .map(str::to_string),
        );
    }
    out
}

/// The focal class of test class `r`: by its own name; for nested classes (JUnit 5 `@Nested`,
/// JUnit 4 `Enclosed`) that name nothing, the enclosing class's focal class; for a top-level
/// class that names nothing, what its file's name names.
fn focal_class(project: &Project, r: ClassRef, is_test: &HashSet<ClassRef>) -> Option<ClassRef> {
    let class = project.class(r);
    for name in focal_class_names(&class.name) {
        if let Some(f) = find_focal(project, r.file, name, is_test) {
            return Some(f);
        }
    }
    match class.outer {
        Some(outer) => focal_class(
            project,
            ClassRef {
                file: r.file,
                class: outer,
            },
            is_test,
        ),
        None => {
            let stem = file_stem(&project.files[r.file].path);
            if stem == class.name {
                return None;
            }
            focal_class_names(stem)
                .into_iter()
                .find_map(|name| find_focal(project, r.file, name, is_test))
        }
    }
}

/// A top-level class `name` in the test file's package, not in a test source root, not an
/// annotation type and not itself a test class; the test's own module first, then by path.
fn find_focal(
    project: &Project,
    test_file: usize,
    name: &str,
    is_test: &HashSet<ClassRef>,
) -> Option<ClassRef> {
    let package = &project.files[test_file].package;
    let module = &project.locations[test_file].module;
    project
        .named(name)
        .iter()
        .copied()
        .filter(|&c| {
            let class = project.class(c);
            class.outer.is_none()
                && class.kind != ClassKind::Annotation
                && project.files[c.file].package == *package
                && !project.locations[c.file].is_test_root
                && !is_test.contains(&c)
        })
        .min_by_key(|&c| (project.locations[c.file].module != *module, c.file))
}

/// A method or a constructor of the focal class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Focal {
    Method(usize),
    Constructor(usize),
}

/// The focal class's methods with a body by lower-cased name (in declaration order), built
/// once per test class so mapping a test case costs its name and calls, not the class's size.
struct FocalIndex<'a> {
    class: &'a Class,
    class_lower: String,
    by_name: HashMap<String, Vec<usize>>,
}

impl<'a> FocalIndex<'a> {
    fn new(class: &'a Class) -> Self {
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, m) in class.methods.iter().enumerate().filter(|(_, m)| m.has_body) {
            by_name.entry(m.name.to_lowercase()).or_default().push(i);
        }
        Self {
            class,
            class_lower: class.name.to_lowercase(),
            by_name,
        }
    }
}

/// The focal method of test method `test` in `focal`, and how it was found.
///
/// By name (see [`focal_method_names`]): the first candidate name that some method with a
/// body has (case-insensitively), else a constructor (Methods2Test counts constructors as
/// potential focal methods, so `testFoo` in `FooTest` maps to `Foo(…)` when there is no `foo`).
/// Otherwise by unique call: the distinct method names (case-insensitive) the test calls that
/// name a method with a body of the focal class; exactly one → that method.
/// Among overloads, the first whose parameter count equals the argument count of a call of
/// that name in the test (exact counts before varargs), else the first declared.
fn focal_method(test: &Method, focal: &FocalIndex) -> Option<(Focal, Heuristic)> {
    let class = focal.class;
    for candidate in focal_method_names(&test.name) {
        if let Some(group) = focal.by_name.get(&candidate) {
            let m = choose_overload(group, &class.methods, &test.calls, &candidate);
            return Some((Focal::Method(m), Heuristic::Name));
        }
        if candidate == focal.class_lower && !class.constructors.is_empty() {
            let group: Vec<usize> = (0..class.constructors.len()).collect();
            let c = choose_overload(&group, &class.constructors, &test.creations, &candidate);
            return Some((Focal::Constructor(c), Heuristic::Name));
        }
    }
    let mut called: Option<(String, &[usize])> = None;
    for call in &test.calls {
        let lower = call.name.to_lowercase();
        if let Some(group) = focal.by_name.get(&lower) {
            match &called {
                None => called = Some((lower, group)),
                Some((name, _)) if *name == lower => {}
                Some(_) => return None,
            }
        }
    }
    let (name, group) = called?;
    let m = choose_overload(group, &class.methods, &test.calls, &name);
    Some((Focal::Method(m), Heuristic::UniqueCall))
}

fn choose_overload(group: &[usize], methods: &[Method], calls: &[Call], lower_name: &str) -> usize {
    if group.len() == 1 {
        return group[0];
    }
    let counts: Vec<usize> = calls
        .iter()
        .filter(|c| c.name.to_lowercase() == lower_name)
        .map(|c| c.args)
        .collect();
    let exact = group
        .iter()
        .copied()
        .find(|&i| !methods[i].is_varargs() && counts.contains(&methods[i].parameters.len()));
    let loose = || {
        group
            .iter()
            .copied()
            .find(|&i| counts.iter().any(|&n| methods[i].accepts(n)))
    };
    exact.or_else(loose).unwrap_or(group[0])
}

/// Maps every test case of `tests` and builds the deduplicated pairs; fills the test counters
/// of `stats`.
pub fn pairs(
    project_id: &str,
    project: &Project,
    tests: &[(ClassRef, Vec<TestCase>)],
    stats: &mut MiningStats,
) -> Vec<Pair> {
    let is_test: HashSet<ClassRef> = tests.iter().map(|(r, _)| *r).collect();
    let mut seen: HashSet<(u128, u128)> = HashSet::new();
    let mut out = Vec::new();
    for (r, cases) in tests {
        stats.test_classes += 1;
        stats.test_cases += cases.len() as u64;
        let Some(fr) = focal_class(project, *r, &is_test) else {
            continue;
        };
        stats.mapped_test_classes += 1;
        let test_file = &project.files[r.file];
        let test_class = project.class(*r);
        let focal_file = &project.files[fr.file];
        let focal = project.class(fr);
        let context = FocalContext::of(focal);
        let index = FocalIndex::new(focal);
        for case in cases {
            let test = &test_class.methods[case.method];
            let Some((f, heuristic)) = focal_method(test, &index) else {
                continue;
            };
            stats.mapped_test_cases += 1;
            let fm = match f {
                Focal::Method(i) => &focal.methods[i],
                Focal::Constructor(i) => &focal.constructors[i],
            };
            if !seen.insert((xxh3_128(fm.text.as_bytes()), xxh3_128(test.text.as_bytes()))) {
                stats.duplicate_pairs += 1;
                continue;
            }
            out.push(Pair {
                pair_id: pair_id(
                    project_id,
                    &test_file.path,
                    &test_class.nested_name,
                    &test.name,
                    test.line,
                ),
                project_id: project_id.to_string(),
                test_file: test_file.path.clone(),
                test_class: test_class.nested_name.clone(),
                test_method: test.name.clone(),
                test_body: test.text.clone(),
                focal_file: focal_file.path.clone(),
                focal_class: focal.nested_name.clone(),
                focal_method: fm.name.clone(),
                focal_signature: fm.signature.clone(),
                focal_body: fm.text.clone(),
                heuristic,
                framework: case.framework,
                class_signature: focal.signature.clone(),
                constructors: context.constructors.clone(),
                method_signatures: context.method_signatures.clone(),
                fields: focal.fields.clone(),
            });
        }
    }
    out
}

/// The stable id of a pair: xxh3-64 (hex) of project id, test file, test class, test method
/// and line, separated by NUL bytes.
pub fn pair_id(
    project_id: &str,
    test_file: &str,
    test_class: &str,
    test_method: &str,
    line: usize,
) -> String {
    let key = format!("{project_id}\0{test_file}\0{test_class}\0{test_method}\0{line}");
    format!("{:016x}", xxh3_64(key.as_bytes()))
}

/// The focal-class context shared by all pairs of one focal class (and what `suggest` builds
/// for a method with no test yet, so its input is the one the miner would have recorded).
pub(crate) struct FocalContext {
    pub(crate) constructors: Vec<String>,
    /// Public methods: declared `public`, or not `private` in an interface.
    pub(crate) method_signatures: Vec<String>,
}

impl FocalContext {
    pub(crate) fn of(class: &Class) -> Self {
        let interface = class.kind == ClassKind::Interface;
        Self {
            constructors: class
                .constructors
                .iter()
                .map(|c| c.signature.clone())
                .collect(),
            method_signatures: class
                .methods
                .iter()
                .filter(|m| m.has_modifier("public") || (interface && !m.has_modifier("private")))
                .map(|m| m.signature.clone())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::java::JavaParser;

    fn class(src: &str) -> Class {
        JavaParser::new()
            .unwrap()
            .parse("A.java", src)
            .unwrap()
            .classes
            .remove(0)
    }

    fn method(src: &str) -> Method {
        class(&format!("class T {{ {src} }}")).methods.remove(0)
    }

    fn map(test: &str, focal: &Class) -> Option<(String, usize, Heuristic)> {
        focal_method(&method(test), &FocalIndex::new(focal)).map(|(f, h)| match f {
            Focal::Method(i) => (
                focal.methods[i].name.clone(),
                focal.methods[i].parameters.len(),
                h,
            ),
            Focal::Constructor(i) => (
                focal.name.clone(),
                focal.constructors[i].parameters.len(),
                h,
            ),
        })
    }

    #[test]
    fn names_before_calls_and_overloads_by_arity() {
        let foo = class(
            "class Foo { Foo() {} Foo(int a) {} int add(int a) { return a; } int add(int a, int b) { return a + b; } \
             void getLatest() {} abstract void gone(); static int of(int... xs) { return 0; } private void hidden() {} }",
        );
        use Heuristic::*;
        assert_eq!(
            map("void testAdd() { f.add(1, 2); }", &foo),
            Some(("add".into(), 2, Name))
        );
        assert_eq!(
            map("void testAdd() { }", &foo),
            Some(("add".into(), 1, Name))
        );
        assert_eq!(
            map("void add_whenNegative() { f.add(-1); }", &foo),
            Some(("add".into(), 1, Name))
        );
        assert_eq!(
            map("void test_add() { f.add(1, 2); }", &foo),
            Some(("add".into(), 2, Name))
        );
        assert_eq!(
            map("void testGetLatest() { }", &foo),
            Some(("getLatest".into(), 0, Name))
        );
        assert_eq!(
            map("void sums() { f.add(1, 2); f.add(1); }", &foo),
            Some(("add".into(), 1, UniqueCall))
        );
        assert_eq!(
            map("void sums() { f.add(1, 2); f.getLatest(); }", &foo),
            None
        );
        assert_eq!(
            map("void sums() { assertEquals(1, f.hidden()); }", &foo),
            Some(("hidden".into(), 0, UniqueCall))
        );
        assert_eq!(
            map("void testGone() { f.gone(); }", &foo),
            None,
            "no body, nothing to map to"
        );
        assert_eq!(
            map("void testOf() { Foo.of(1, 2, 3); }", &foo),
            Some(("of".into(), 1, Name))
        );
        assert_eq!(
            map("void testFoo() { new Foo(3); }", &foo),
            Some(("Foo".into(), 1, Name))
        );
        assert_eq!(map("void nothing() { other(); }", &foo), None);
    }

    #[test]
    fn pair_ids_are_stable() {
        assert_eq!(
            pair_id("p", "a/FooTest.java", "FooTest", "testX", 3),
            pair_id("p", "a/FooTest.java", "FooTest", "testX", 3)
        );
        assert_ne!(
            pair_id("p", "a/FooTest.java", "FooTest", "testX", 3),
            pair_id("p", "a/FooTest.java", "FooTest", "testX", 4)
        );
        assert_eq!(pair_id("p", "a", "b", "c", 1).len(), 16);
    }
}
