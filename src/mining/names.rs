//! The naming rules: test class name → focal class names, test method name → focal method
//! names, and where a file sits (source root, module) so candidates can be ranked.

/// Focal class names a test class name points to, most specific first.
///
/// `FooTest`, `FooTests`, `FooTestCase`, `FooIT`, `FooITCase` → `Foo`; `TestFoo` → `Foo`
/// (`Test` followed by an upper-case letter, so `Testimony` names nothing). The affixes are
/// case-sensitive and only at the ends: `FooTestUtils` names nothing (Methods2Test would map
/// it to `FooUtils`).
pub fn focal_class_names(test_class: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for suffix in ["TestCase", "Tests", "Test", "ITCase", "IT"] {
        if let Some(stem) = test_class.strip_suffix(suffix)
            && is_class_name(stem)
        {
            out.push(stem);
        }
    }
    if let Some(stem) = test_class.strip_prefix("Test")
        && stem.starts_with(|c: char| c.is_uppercase())
    {
        out.push(stem);
        // `TestFooTest` (seen in the wild) → `Foo` too.
        if let Some(inner) = stem.strip_suffix("Test")
            && is_class_name(inner)
        {
            out.push(inner);
        }
    }
    out.dedup();
    out
}

fn is_class_name(s: &str) -> bool {
    s.chars()
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
}

/// Lower-cased focal method names a test method name points to, most specific first.
/// Matching against the focal class's methods is case-insensitive.
///
/// 1. Methods2Test's rule: the name with every `test` removed (`testFoo`, `fooTest`,
///    `testFooTest` → `foo`).
/// 2. `test` (then any `_`) stripped from the start, `test` (then any `_`) from the end, then
///    both (`test_foo`, `foo_test` → `foo`; `testGetLatest` → `getlatest`, which rule 1 breaks).
/// 3. The part before the first `_` (unless it is `test`), and that part with rule 1 applied
///    (`foo_whenEmpty` → `foo`; `testFoo_returnsNull` → `testfoo`, `foo`).
pub fn focal_method_names(test_method: &str) -> Vec<String> {
    let lower = test_method.to_lowercase();
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: &str| {
        if !s.is_empty() && !out.iter().any(|o| o == s) {
            out.push(s.to_string());
        }
    };
    push(&lower.replace("test", ""));
    let prefixed = lower
        .strip_prefix("test")
        .map(|rest| rest.trim_start_matches('_'));
    let suffixed = |s: &str| {
        s.strip_suffix("test")
            .map(|rest| rest.trim_end_matches('_').to_string())
    };
    if let Some(p) = prefixed {
        push(p);
    }
    if let Some(s) = suffixed(&lower) {
        push(&s);
    }
    if let Some(both) = prefixed.and_then(suffixed) {
        push(&both);
    }
    if let Some(idx) = lower.find('_').filter(|&i| i > 0) {
        let prefix = &lower[..idx];
        if prefix != "test" {
            push(prefix);
            push(&prefix.replace("test", ""));
        }
    }
    out
}

/// Where a file sits: its source root (the folder its package folders hang from) and module.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// `a/src/test/java` for `a/src/test/java/p/FooTest.java` in package `p`.
    pub source_root: String,
    /// The source root without its conventional tail (`java`, then `main`/`test`/`tests`/`it`,
    /// then `src`): `a` for both `a/src/main/java` and `a/src/test/java`, `` for `src` and `test`.
    pub module: String,
    /// Tests live here: the root contains `src/test`, or its last folder (after a `java`) is
    /// `test` or `tests`. Focal classes are never taken from such roots.
    pub is_test_root: bool,
}

impl Location {
    pub fn of(path: &str, package: &str) -> Self {
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        let pkg_dirs = package.replace('.', "/");
        let source_root = if pkg_dirs.is_empty() {
            dir
        } else if dir == pkg_dirs {
            ""
        } else {
            dir.strip_suffix(pkg_dirs.as_str())
                .and_then(|d| d.strip_suffix('/'))
                .unwrap_or(dir)
        };
        let parts: Vec<&str> = source_root.split('/').filter(|s| !s.is_empty()).collect();
        let mut tail = parts.as_slice();
        if let [rest @ .., "java"] = tail {
            tail = rest;
        }
        let last_is_test = matches!(tail.last(), Some(&("test" | "tests")));
        let in_src_test = parts.windows(2).any(|w| w == ["src", "test"]);
        if let [
            rest @ ..,
            "main" | "test" | "tests" | "it" | "integration-test",
        ] = tail
        {
            tail = rest;
        }
        if let [rest @ .., "src"] = tail {
            tail = rest;
        }
        Self {
            source_root: source_root.to_string(),
            module: tail.join("/"),
            is_test_root: in_src_test || last_is_test,
        }
    }
}

/// The file name without `.java`.
pub fn file_stem(path: &str) -> &str {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_suffix(".java").unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names() {
        assert_eq!(focal_class_names("FooTest"), ["Foo"]);
        assert_eq!(focal_class_names("FooTests"), ["Foo"]);
        assert_eq!(focal_class_names("FooTestCase"), ["Foo"]);
        assert_eq!(focal_class_names("FooIT"), ["Foo"]);
        assert_eq!(focal_class_names("FooITCase"), ["Foo"]);
        assert_eq!(focal_class_names("TestFoo"), ["Foo"]);
        assert_eq!(
            focal_class_names("TestFooTest"),
            ["TestFoo", "FooTest", "Foo"]
        );
        assert!(focal_class_names("Test").is_empty());
        assert!(focal_class_names("Testimony").is_empty());
        assert!(focal_class_names("FooTestUtils").is_empty());
        assert!(focal_class_names("Foo").is_empty());
        assert_eq!(focal_class_names("TestCase"), ["Case"]);
    }

    #[test]
    fn method_names() {
        assert_eq!(focal_method_names("testFoo"), ["foo"]);
        assert_eq!(focal_method_names("fooTest"), ["foo"]);
        assert_eq!(focal_method_names("test_foo"), ["_foo", "foo"]);
        assert_eq!(focal_method_names("foo_test"), ["foo_", "foo"]);
        assert_eq!(
            focal_method_names("foo_whenEmpty"),
            ["foo_whenempty", "foo"]
        );
        assert_eq!(
            focal_method_names("testFoo_returnsNull"),
            ["foo_returnsnull", "testfoo", "foo"]
        );
        assert_eq!(
            focal_method_names("testGetLatest"),
            ["getla", "getlatest", "testgetla"]
        );
        assert!(focal_method_names("test").is_empty());
    }

    #[test]
    fn locations() {
        let l = Location::of("a/src/test/java/p/q/FooTest.java", "p.q");
        assert_eq!(l.source_root, "a/src/test/java");
        assert_eq!(l.module, "a");
        assert!(l.is_test_root);
        let l = Location::of("a/src/main/java/p/q/Foo.java", "p.q");
        assert_eq!((l.module.as_str(), l.is_test_root), ("a", false));
        let l = Location::of("src/test/java/p/FooTest.java", "p");
        assert_eq!((l.module.as_str(), l.is_test_root), ("", true));
        let l = Location::of("test/p/FooTest.java", "p");
        assert_eq!(
            (l.source_root.as_str(), l.module.as_str(), l.is_test_root),
            ("test", "", true)
        );
        let l = Location::of("src/p/Foo.java", "p");
        assert_eq!((l.module.as_str(), l.is_test_root), ("", false));
        let l = Location::of("p/Foo.java", "p");
        assert_eq!((l.source_root.as_str(), l.module.as_str()), ("", ""));
        let l = Location::of("Foo.java", "");
        assert_eq!(l.source_root, "");
        let l = Location::of("test/src/main/java/p/Foo.java", "p");
        assert_eq!((l.module.as_str(), l.is_test_root), ("test", false));
        // A package that does not match the folders: the folder is the root.
        let l = Location::of("x/y/Foo.java", "p");
        assert_eq!(l.source_root, "x/y");
        assert_eq!(file_stem("a/b/Foo.java"), "Foo");
    }
}
