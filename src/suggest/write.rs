//! `tailor suggest --write`: a chosen test method put into the focal class's test class file,
//! the way a developer would: `src/main/java/a/b/Foo.java` → `src/test/java/a/b/FooTest.java`
//! (or wherever the project's own tests show its test root to be), inserted before the class's
//! closing brace when the file exists, a new file with the package, the test framework's
//! imports and the class when it does not.
//!
//! What it never does: change a byte of what the file already holds (the method is inserted,
//! nothing is rewritten or reformatted), overwrite or replace a developer's method (a test
//! whose name is taken is renamed `testBar2`, `testBar3`, …), or edit a file that does not
//! parse (a broken file is reported, not patched).

use std::collections::{HashMap, HashSet};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};

use crate::java::{JavaParser, extract};
use crate::metrics::tokens::{Role, TokenKind, java_tokens};
use crate::mining::{Framework, Pair};

/// How the project writes its tests, learned from its mined pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestConventions {
    /// The source root of focal classes and of their tests, as path components relative to
    /// the repository (`src/main/java` and `src/test/java`); equal when tests sit beside the
    /// code.
    pub focal_root: Vec<String>,
    pub test_root: Vec<String>,
    /// The framework most of its tests use.
    pub framework: Framework,
    /// Whether test classes are named `TestFoo` rather than `FooTest`.
    pub prefix_naming: bool,
}

impl Default for TestConventions {
    /// Maven's and Gradle's layout with JUnit 4, for a project whose pairs say nothing.
    fn default() -> Self {
        Self {
            focal_root: ["src", "main", "java"].map(String::from).to_vec(),
            test_root: ["src", "test", "java"].map(String::from).to_vec(),
            framework: Framework::Junit4,
            prefix_naming: false,
        }
    }
}

impl TestConventions {
    /// The conventions most of `pairs` follow (each one's majority; ties go to the default's).
    pub fn learn(pairs: &[Pair]) -> Self {
        let default = Self::default();
        let roots = majority(
            pairs
                .iter()
                .filter_map(|p| source_roots(Path::new(&p.focal_file), Path::new(&p.test_file))),
        );
        let framework = majority(pairs.iter().map(|p| p.framework));
        let prefix = majority(pairs.iter().filter_map(|p| {
            let focal = p.focal_class.rsplit('.').next().unwrap_or(&p.focal_class);
            let test = p.test_class.rsplit('.').next().unwrap_or(&p.test_class);
            if test == format!("Test{focal}") {
                Some(true)
            } else if test == format!("{focal}Test") || test == format!("{focal}Tests") {
                Some(false)
            } else {
                None
            }
        }));
        let (focal_root, test_root) = roots.unwrap_or((default.focal_root, default.test_root));
        Self {
            focal_root,
            test_root,
            framework: framework.unwrap_or(default.framework),
            prefix_naming: prefix.unwrap_or(false),
        }
    }

    /// The test class name for the focal class `class` (`FooTest`, or `TestFoo`).
    pub fn test_class(&self, class: &str) -> String {
        if self.prefix_naming {
            format!("Test{class}")
        } else {
            format!("{class}Test")
        }
    }

    /// The test class file for the focal file `focal`: its path with the focal root replaced
    /// by the test root (the last place the root occurs) and the class renamed; where the path
    /// holds no focal root, Maven's `src/main/java` is tried, then `main` → `test`.
    pub fn test_file(&self, focal: &Path) -> Result<PathBuf> {
        let stem = focal
            .file_stem()
            .and_then(|s| s.to_str())
            .with_context(|| format!("{} has no file name", focal.display()))?;
        let file = format!("{}.java", self.test_class(stem));
        let dir: Vec<String> = focal
            .parent()
            .map(|p| {
                p.components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        let maven = Self::default();
        let tries = [
            (&self.focal_root, &self.test_root),
            (&maven.focal_root, &maven.test_root),
            (&vec!["main".to_string()], &vec!["test".to_string()]),
        ];
        for (from, to) in tries {
            if from == to {
                // Tests beside the code: the same folder.
                return Ok(focal.with_file_name(file));
            }
            if let Some(at) = last_occurrence(&dir, from) {
                // `dir` starts with the root component of an absolute path, which `push` keeps.
                let mut path = PathBuf::new();
                for part in dir[..at].iter().chain(to).chain(&dir[at + from.len()..]) {
                    path.push(part);
                }
                path.push(file);
                return Ok(path);
            }
        }
        bail!(
            "cannot tell where the tests of {} go: its path has no {} (where this project's \
             focal classes live; its tests are under {}) nor src/main/java",
            focal.display(),
            self.focal_root.join("/"),
            self.test_root.join("/")
        )
    }
}

/// The most frequent item, ties broken by first appearance; `None` for no items.
fn majority<T: Eq + std::hash::Hash>(items: impl Iterator<Item = T>) -> Option<T> {
    let mut counts: HashMap<T, (usize, usize)> = HashMap::new();
    for (order, item) in items.enumerate() {
        counts.entry(item).or_insert((0, order)).0 += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.0.cmp(&b.1.0).then(b.1.1.cmp(&a.1.1)))
        .map(|(item, _)| item)
}

/// The roots of a focal file and its test file: their folders with the common trailing part
/// (the package's folders) removed. `None` when either has no folder.
fn source_roots(focal: &Path, test: &Path) -> Option<(Vec<String>, Vec<String>)> {
    let parts = |p: &Path| -> Option<Vec<String>> {
        Some(
            p.parent()?
                .components()
                .filter_map(|c| match c {
                    Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                    _ => None,
                })
                .collect(),
        )
    };
    let (mut f, mut t) = (parts(focal)?, parts(test)?);
    while let (Some(a), Some(b)) = (f.last(), t.last()) {
        if a != b {
            break;
        }
        f.pop();
        t.pop();
    }
    Some((f, t))
}

fn last_occurrence(haystack: &[String], needle: &[String]) -> Option<usize> {
    if needle.is_empty() || needle.len() > haystack.len() {
        return None;
    }
    (0..=haystack.len() - needle.len())
        .rev()
        .find(|&i| haystack[i..i + needle.len()] == *needle)
}

/// What `--write` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub path: PathBuf,
    /// The test method's name as written (renamed when the candidate's was taken).
    pub method: String,
    /// Whether the file was created.
    pub created: bool,
}

/// Writes `test` (a test method's Java text) into the test class `class` of `path`: inserted
/// before the class's closing brace when the file exists, else a new file in `package` with
/// the imports of `framework`.
pub fn write_test(
    path: &Path,
    class: &str,
    package: &str,
    framework: Framework,
    test: &str,
) -> Result<Written> {
    if path.exists() {
        let source =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let (updated, method) = insert_method(&source, class, test)
            .with_context(|| format!("adding a test to {}", path.display()))?;
        std::fs::write(path, updated).with_context(|| format!("writing {}", path.display()))?;
        return Ok(Written {
            path: path.to_path_buf(),
            method,
            created: false,
        });
    }
    let method = method_name(test)?;
    let text = new_test_class(package, class, framework, test);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    // `create_new`: a file that appeared since the check is never overwritten.
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(Written {
        path: path.to_path_buf(),
        method,
        created: true,
    })
}

/// `source` with `test` inserted as the last member of its class `class` (or of its first
/// top-level class when none has that name), and the method's name as inserted. Every byte of
/// `source` is kept: the result is `source[..at] + inserted + source[at..]`.
pub fn insert_method(source: &str, class: &str, test: &str) -> Result<(String, String)> {
    let mut parser = JavaParser::new()?;
    let tree = parser
        .parse_tree(source)
        .context("tree-sitter returned no tree")?;
    let root = tree.root_node();
    ensure!(
        !root.has_error(),
        "the file does not parse as Java; fix it first (nothing was written)"
    );
    let mut cursor = root.walk();
    let declarations: Vec<tree_sitter::Node> = root
        .children(&mut cursor)
        .filter(|n| n.kind() == "class_declaration")
        .collect();
    let name_of = |n: &tree_sitter::Node| {
        n.child_by_field_name("name")
            .map(|name| &source[name.byte_range()])
    };
    let declaration = declarations
        .iter()
        .find(|n| name_of(n) == Some(class))
        .or(declarations.first())
        .context("the file declares no class to add a test to")?;
    let body = declaration
        .child_by_field_name("body")
        .context("the class has no body")?;
    let close = body.end_byte() - 1;
    ensure!(
        &source[close..=close] == "}",
        "the class body does not end in `}}`"
    );
    let class_name = name_of(declaration).unwrap_or(class).to_string();

    let model = extract(&tree, "test", source, crate::java::Detail::Declarations);
    let taken: HashSet<&str> = model
        .classes
        .iter()
        .filter(|c| c.nested_name == class_name)
        .flat_map(|c| c.methods.iter().map(|m| m.name.as_str()))
        .collect();
    let wanted = method_name(test)?;
    let name = unique_name(&wanted, &taken);
    let test = if name == wanted {
        test.to_string()
    } else {
        rename_method(test, &wanted, &name)?
    };

    let indent = member_indent(source, &body);
    let method = format_method(&test, &indent);
    let line_start = source[..close].rfind('\n').map_or(0, |i| i + 1);
    let (at, inserted) = if source[line_start..close].trim().is_empty() {
        // The brace on its own line: a blank line, the method, and the brace's line as it was.
        (line_start, format!("\n{method}\n"))
    } else {
        (close, format!("\n{method}\n"))
    };
    let mut out = String::with_capacity(source.len() + inserted.len());
    out.push_str(&source[..at]);
    out.push_str(&inserted);
    out.push_str(&source[at..]);
    Ok((out, name))
}

/// `wanted`, or `wanted2`, `wanted3`, … : the first not in `taken`.
fn unique_name(wanted: &str, taken: &HashSet<&str>) -> String {
    if !taken.contains(wanted) {
        return wanted.to_string();
    }
    (2..)
        .map(|n| format!("{wanted}{n}"))
        .find(|name| !taken.contains(name.as_str()))
        .expect("an unused name exists")
}

/// What ranking needs to know of a candidate test, read from one parse of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TestShape {
    /// [`parses_as_method`].
    pub well_formed: bool,
    /// [`body_is_empty`].
    pub empty: bool,
    /// [`calls_method`].
    pub calls_focal: bool,
}

/// [`TestShape`] of `test` for the focal method `focal` ("" when unknown): one parse, where
/// ranking a candidate would otherwise parse it once per question.
pub fn test_shape(test: &str, focal: &str) -> TestShape {
    let wrapped = format!("class Wrapper {{\n{test}\n}}");
    let Ok(mut parser) = JavaParser::new() else {
        return TestShape::default();
    };
    let Some(tree) = parser.parse_tree(&wrapped) else {
        return TestShape::default();
    };
    let root = tree.root_node();
    let Some(class_body) = root
        .named_child(0)
        .and_then(|class| class.child_by_field_name("body"))
    else {
        return TestShape::default();
    };
    let mut cursor = class_body.walk();
    let members: Vec<_> = class_body
        .named_children(&mut cursor)
        .filter(|n| !n.kind().ends_with("comment"))
        .collect();
    let methods: Vec<_> = members
        .iter()
        .filter(|n| n.kind() == "method_declaration")
        .collect();
    let empty = match methods.as_slice() {
        [method] => method.child_by_field_name("body").is_some_and(|block| {
            let mut cursor = block.walk();
            block
                .named_children(&mut cursor)
                .all(|n| n.kind().ends_with("comment"))
        }),
        _ => false,
    };
    let calls_focal = !focal.is_empty() && {
        let file = crate::java::extract(&tree, "candidate", &wrapped, crate::java::Detail::Full);
        file.classes
            .iter()
            .flat_map(|c| &c.methods)
            .any(|m| m.calls.iter().any(|call| call.name == focal))
    };
    TestShape {
        well_formed: !root.has_error()
            && members.len() == 1
            && members[0].kind() == "method_declaration",
        empty,
        calls_focal,
    }
}

/// Whether `test` is one well-formed method declaration (a generated candidate may not be):
/// it parses without error as the only member of a class.
pub fn parses_as_method(test: &str) -> bool {
    test_shape(test, "").well_formed
}

/// Whether `test` is a method whose body holds no statement (comments aside): an empty test
/// checks nothing. Text that is not one method, or has no body, is not "empty" here; whether it
/// parses is [`parses_as_method`]'s question.
pub fn body_is_empty(test: &str) -> bool {
    test_shape(test, "").empty
}

/// Whether the one method in `test` invokes a method named `focal` (`x.focal(…)`, `focal(…)`):
/// Methods2Test's own sign that a test exercises its focal method. A generic test that never
/// calls the method (`assertThat(0);`) can have a lower mean NLL than one that does.
pub fn calls_method(test: &str, focal: &str) -> bool {
    test_shape(test, focal).calls_focal
}

/// The name a test method's text declares.
pub fn method_name(test: &str) -> Result<String> {
    crate::retrieve::query::declared_name(test)
        .with_context(|| format!("the test {test:?} declares no method"))
}

/// `test` with its declared name `from` (the first identifier before `(` that is not an
/// annotation's) replaced by `to`; nothing else changes.
fn rename_method(test: &str, from: &str, to: &str) -> Result<String> {
    let tokens = java_tokens(test);
    let at = tokens
        .windows(2)
        .find(|w| {
            w[1].text == "("
                && matches!(w[0].kind, TokenKind::Identifier | TokenKind::TypeIdentifier)
                && w[0].role != Role::AnnotationName
        })
        .map(|w| w[0].text)
        .filter(|name| *name == from)
        .with_context(|| format!("the test does not declare `{from}`"))?;
    // A token's text is a slice of `test`: its offset is where it starts.
    let start = at.as_ptr() as usize - test.as_ptr() as usize;
    Ok(format!(
        "{}{to}{}",
        &test[..start],
        &test[start + from.len()..]
    ))
}

/// The indentation of the class's members (its first member's), else the class's own plus
/// four spaces.
fn member_indent(source: &str, body: &tree_sitter::Node) -> String {
    let indent_of = |byte: usize| -> String {
        let line_start = source[..byte].rfind('\n').map_or(0, |i| i + 1);
        source[line_start..byte]
            .chars()
            .take_while(|c| *c == ' ' || *c == '\t')
            .collect()
    };
    let mut cursor = body.walk();
    let first = body
        .named_children(&mut cursor)
        .find(|n| n.kind() != "line_comment" && n.kind() != "block_comment");
    match first {
        Some(member) => indent_of(member.start_byte()),
        None => {
            let parent = body.parent().map_or(0, |p| p.start_byte());
            format!("{}    ", indent_of(parent))
        }
    }
}

/// A new test class file: package, the framework's imports, the class holding `test`.
pub fn new_test_class(package: &str, class: &str, framework: Framework, test: &str) -> String {
    let mut text = String::new();
    if !package.is_empty() {
        text.push_str(&format!("package {package};\n\n"));
    }
    let (imports, extends): (&[&str], &str) = match framework {
        Framework::Junit3 => (&["junit.framework.TestCase"], " extends TestCase"),
        Framework::Junit4 => (&["static org.junit.Assert.*", "org.junit.Test"], ""),
        Framework::Junit5 => (
            &[
                "static org.junit.jupiter.api.Assertions.*",
                "org.junit.jupiter.api.Test",
            ],
            "",
        ),
        Framework::Testng => (
            &["static org.testng.Assert.*", "org.testng.annotations.Test"],
            "",
        ),
    };
    for import in imports {
        text.push_str(&format!("import {import};\n"));
    }
    text.push_str(&format!(
        "\npublic class {class}{extends} {{\n\n{}\n}}\n",
        format_method(test, "    ")
    ));
    text
}

/// A test method's text laid out one statement a line, every line prefixed by `indent`. Text
/// that already has lines (a retrieved test, as written) keeps them, re-indented; a one-line
/// text (a generated test, or a normalized one) is broken after `{`, `;` and `}` outside
/// parentheses and literals, with annotations on their own lines.
pub fn format_method(test: &str, indent: &str) -> String {
    let test = test.trim();
    let lines: Vec<String> = if test.contains('\n') {
        reindent(test)
    } else {
        layout_one_line(test)
    };
    lines
        .iter()
        .map(|l| {
            if l.is_empty() {
                String::new()
            } else {
                format!("{indent}{l}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Lines of a multi-line method with their shared indentation removed (the first line, which
/// a pair's text starts mid-line, is taken as it is).
fn reindent(test: &str) -> Vec<String> {
    let mut lines = test.lines();
    let first = lines.next().unwrap_or("").trim().to_string();
    let rest: Vec<&str> = lines.map(str::trim_end).collect();
    let shared = rest
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    std::iter::once(first)
        .chain(
            rest.iter()
                .map(|l| l.get(shared..).unwrap_or("").to_string()),
        )
        .collect()
}

/// A one-line method broken into indented lines (four spaces a level).
fn layout_one_line(test: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut rest = test;
    // Leading annotations, each on its own line.
    while let Some(after) = rest.strip_prefix('@') {
        let name_end = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '.' || c == '$'))
            .unwrap_or(after.len());
        let mut end = 1 + name_end;
        if rest[end..].trim_start().starts_with('(') {
            let open = end + (rest[end..].len() - rest[end..].trim_start().len());
            end = matching_paren(rest, open).map_or(rest.len(), |close| close + 1);
        }
        lines.push(rest[..end].trim().to_string());
        rest = rest[end..].trim_start();
    }
    let mut depth = 0usize;
    let mut parens = 0usize;
    // Braces opened inline (array initialisers, lambdas inside calls): not broken.
    let mut inline: Vec<bool> = Vec::new();
    let mut line = String::new();
    let mut chars = rest.char_indices().peekable();
    let flush = |line: &mut String, lines: &mut Vec<String>, depth: usize| {
        let text = line.trim();
        if !text.is_empty() {
            lines.push(format!("{}{text}", "    ".repeat(depth)));
        }
        line.clear();
    };
    while let Some((i, c)) = chars.next() {
        match c {
            '"' | '\'' => {
                let end = literal_end(rest, i);
                line.push_str(&rest[i..end]);
                while chars.peek().is_some_and(|&(j, _)| j < end) {
                    chars.next();
                }
            }
            '(' => {
                parens += 1;
                line.push(c);
            }
            ')' => {
                parens = parens.saturating_sub(1);
                line.push(c);
            }
            '{' => {
                let before = line.trim_end();
                let is_inline = parens > 0
                    || inline.last() == Some(&true)
                    || before.ends_with(']')
                    || before.ends_with('=')
                    || before.ends_with(',');
                inline.push(is_inline);
                line.push(c);
                if !is_inline {
                    flush(&mut line, &mut lines, depth);
                    depth += 1;
                }
            }
            '}' => {
                if inline.pop().unwrap_or(false) {
                    line.push(c);
                    continue;
                }
                flush(&mut line, &mut lines, depth);
                depth = depth.saturating_sub(1);
                line.push(c);
                let next = rest[i + 1..].trim_start();
                let joins = [")", ";", ",", "else", "catch", "finally", "while"]
                    .iter()
                    .any(|w| next.starts_with(w));
                // `} else {`, `});`: the rest of the line follows (its space comes with it).
                if !joins {
                    flush(&mut line, &mut lines, depth);
                }
            }
            ';' if parens == 0 && inline.last() != Some(&true) => {
                line.push(c);
                flush(&mut line, &mut lines, depth);
            }
            ' ' if line.trim().is_empty() => {}
            _ => line.push(c),
        }
    }
    flush(&mut line, &mut lines, depth);
    lines
}

/// The byte after the string or character literal starting at `start` (escapes honoured).
fn literal_end(text: &str, start: usize) -> usize {
    let bytes = text.as_bytes();
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b if b == quote => return i + 1,
            _ => i += 1,
        }
    }
    text.len()
}

/// The `)` matching the `(` at `open`, skipping literals.
fn matching_paren(text: &str, open: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'\'' => {
                i = literal_end(text, i);
                continue;
            }
            b'(' => depth += 1,
            b')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXISTING: &str = "package a.b;\n\nimport org.junit.Test;\n\npublic class FooTest {\n    \
                            // keep me\n    @Test\n    public void testBar() {\n        \
                            new Foo().bar();\n    }\n}\n";

    #[test]
    fn a_method_is_inserted_before_the_closing_brace_and_nothing_else_changes() {
        let test = "@Test public void testBaz() { Foo f = new Foo(); assertEquals(1, f.baz()); }";
        let (out, name) = insert_method(EXISTING, "FooTest", test).unwrap();
        assert_eq!(name, "testBaz");
        let at = EXISTING.rfind("}\n").unwrap();
        let inserted = out.len() - EXISTING.len();
        assert_eq!(&out[..at], &EXISTING[..at]);
        assert_eq!(&out[at + inserted..], &EXISTING[at..]);
        assert!(
            out.contains(
                "    }\n\n    @Test\n    public void testBaz() {\n        Foo f = new Foo();\n        \
                 assertEquals(1, f.baz());\n    }\n}\n"
            ),
            "{out}"
        );
        // A taken name is renamed, not replaced; again and again.
        let (twice, second) =
            insert_method(&out, "FooTest", "@Test public void testBar() { }").unwrap();
        assert_eq!(second, "testBar2");
        assert!(twice.contains("public void testBar() {\n        new Foo().bar();"));
        let (_, third) =
            insert_method(&twice, "FooTest", "@Test public void testBar() {}").unwrap();
        assert_eq!(third, "testBar3");
    }

    #[test]
    fn a_method_without_statements_is_empty() {
        assert!(body_is_empty(
            "@Test public void test() throws Exception {\n}"
        ));
        assert!(body_is_empty(
            "@Test public void t() { /* later */ // todo\n }"
        ));
        assert!(!body_is_empty("@Test public void t() { x(); }"));
        assert!(!body_is_empty("@Test public void t() { assertThat(0); }"));
        assert!(!body_is_empty("@Test public void t() { int a = 1; }"));
        // Not one method: not this function's call.
        assert!(!body_is_empty("void a() {} void b() {}"));
        assert!(!body_is_empty("assertEquals ( 1 , foo"));
        assert!(!body_is_empty("abstract void t();"));
    }

    #[test]
    fn a_test_calls_its_focal_method_by_name_not_by_its_own_name() {
        assert!(calls_method(
            "@Test public void t() { assertThat(matchers.isConstructor().matches(m), is(true)); }",
            "isConstructor"
        ));
        assert!(calls_method(
            "@Test public void t() { isConstructor(); }",
            "isConstructor"
        ));
        // Its own name, another method, a string or an empty focal name: no call.
        assert!(!calls_method(
            "@Test public void isConstructor() { x(); }",
            "isConstructor"
        ));
        assert!(!calls_method(
            "@Test public void t() { assertThat(0); }",
            "isConstructor"
        ));
        assert!(!calls_method(
            "@Test public void t() { f(\"isConstructor()\"); }",
            "isConstructor"
        ));
        assert!(!calls_method("@Test public void t() { x(); }", ""));
    }

    #[test]
    fn only_a_single_well_formed_method_is_writable() {
        assert!(parses_as_method("@Test public void t() { x(); }"));
        assert!(parses_as_method(
            "@Test\n  public void t() {\n    // c\n    x();\n  }"
        ));
        assert!(!parses_as_method("@Test public void t() { x( }"));
        assert!(!parses_as_method("assertEquals ( 1 , foo"));
        assert!(!parses_as_method("void a() {} void b() {}"));
        assert!(!parses_as_method("} class Evil { void a() {}"));
    }

    #[test]
    fn a_file_that_does_not_parse_is_not_edited() {
        let broken = EXISTING.replace("bar();", "bar(;");
        let err = insert_method(&broken, "FooTest", "@Test public void t() {}").unwrap_err();
        assert!(format!("{err:#}").contains("does not parse"), "{err:#}");
    }

    #[test]
    fn a_new_test_class_has_its_package_imports_and_method() {
        let text = new_test_class(
            "a.b",
            "FooTest",
            Framework::Junit5,
            "@Test void testBar() { assertTrue(new Foo().bar()); }",
        );
        assert!(text.starts_with("package a.b;\n\nimport static org.junit.jupiter.api"));
        assert!(text.contains("public class FooTest {\n\n    @Test\n    void testBar() {\n"));
        assert!(
            !JavaParser::new()
                .unwrap()
                .parse_tree(&text)
                .unwrap()
                .root_node()
                .has_error()
        );
    }

    #[test]
    fn one_line_tests_are_laid_out_and_written_ones_reindented() {
        let one = "@Test(expected = X.class) public void t() { int[] a = new int[] {1, 2}; \
                   for (int i = 0; i < 2; i++) { s += \"};\"; } if (a) { x(); } else { y(); } }";
        assert_eq!(
            format_method(one, ""),
            "@Test(expected = X.class)\npublic void t() {\n    int[] a = new int[] {1, 2};\n    \
             for (int i = 0; i < 2; i++) {\n        s += \"};\";\n    }\n    if (a) {\n        \
             x();\n    } else {\n        y();\n    }\n}"
        );
        let written = "@Test\n        public void t() {\n            x();\n        }";
        assert_eq!(
            format_method(written, "  "),
            "  @Test\n  public void t() {\n      x();\n  }"
        );
    }

    #[test]
    fn the_test_file_mirrors_the_focal_file_under_the_projects_test_root() {
        let maven = TestConventions::default();
        assert_eq!(
            maven
                .test_file(Path::new("/r/src/main/java/a/b/Foo.java"))
                .unwrap(),
            PathBuf::from("/r/src/test/java/a/b/FooTest.java")
        );
        let pair = |focal: &str, test: &str| Pair {
            pair_id: test.into(),
            project_id: "p".into(),
            test_file: test.into(),
            test_class: "TestFoo".into(),
            test_method: "testBar".into(),
            test_body: String::new(),
            focal_file: focal.into(),
            focal_class: "Foo".into(),
            focal_method: "bar".into(),
            focal_signature: String::new(),
            focal_body: String::new(),
            heuristic: crate::mining::Heuristic::Name,
            framework: Framework::Junit3,
            class_signature: String::new(),
            constructors: Vec::new(),
            method_signatures: Vec::new(),
            fields: Vec::new(),
        };
        let own = TestConventions::learn(&[
            pair("lib/a/b/Foo.java", "tests/unit/a/b/TestFoo.java"),
            pair("lib/a/Bar.java", "tests/unit/a/TestBar.java"),
        ]);
        assert_eq!(own.focal_root, ["lib"]);
        assert_eq!(own.test_root, ["tests", "unit"]);
        assert_eq!(own.framework, Framework::Junit3);
        assert!(own.prefix_naming);
        assert_eq!(
            own.test_file(Path::new("repo/lib/a/c/Baz.java")).unwrap(),
            PathBuf::from("repo/tests/unit/a/c/TestBaz.java")
        );
        // A path without the project's root falls back to Maven's.
        assert_eq!(
            own.test_file(Path::new("x/src/main/java/Q.java")).unwrap(),
            PathBuf::from("x/src/test/java/TestQ.java")
        );
        assert!(own.test_file(Path::new("elsewhere/Q.java")).is_err());
        let beside = TestConventions::learn(&[pair("src/a/Foo.java", "src/a/TestFoo.java")]);
        assert_eq!(
            beside.test_file(Path::new("src/b/Q.java")).unwrap(),
            PathBuf::from("src/b/TestQ.java")
        );
    }
}
