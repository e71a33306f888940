//! Finding the focal method in a Java source text: by name, or by `name(Type, …)` when the
//! name is overloaded, with errors that name the file and say what it declares instead; and
//! the model input for it, assembled from the same columns the miner records for a pair
//! (`crate::mining`), so that a method of a developer's file reads to the model like the
//! training pairs did.
//!
//! A file with syntax errors is refused rather than half-read: tree-sitter recovers from
//! errors, but a method taken from a recovered tree may be cut or merged with its neighbour,
//! and a suggestion for the wrong text is worse than a clear error.

use crate::data::context::{ContextLevel, PairContext, model_input};
use crate::java::{Class, JavaFile, JavaParser, Method, erase_type_arguments};

/// The focal method found, with its class's context.
#[derive(Debug, Clone, PartialEq)]
pub struct FoundMethod {
    /// The class's name inside its file, outer classes first (`Outer.Inner`), as the pairs
    /// table's `focal_class`.
    pub class: String,
    /// The class's declaration (`public final class Foo<T> extends Bar`).
    pub class_signature: String,
    /// The file's package (empty for the default package).
    pub package: String,
    pub method: Method,
    /// Constructors' signatures, public methods' signatures, fields: the focal context.
    pub constructors: Vec<String>,
    pub method_signatures: Vec<String>,
    pub fields: Vec<String>,
}

impl FoundMethod {
    /// The class's simple name (`Inner` for `Outer.Inner`).
    pub fn simple_class(&self) -> &str {
        self.class.rsplit('.').next().unwrap_or(&self.class)
    }

    /// The model input at `level`, as [`model_input`] builds it for a mined pair.
    pub fn model_input(&self, level: ContextLevel) -> String {
        model_input(
            &PairContext {
                focal_class: &self.class,
                class_signature: &self.class_signature,
                focal_signature: &self.method.signature,
                focal_body: &self.method.text,
                constructors: &self.constructors,
                method_signatures: &self.method_signatures,
                fields: &self.fields,
            },
            level,
        )
    }
}

/// What the caller asked for: `bar`, or `bar(int, List<String>)`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MethodSpec<'a> {
    name: &'a str,
    /// The parameter types, comparable by [`type_key`]; `None` when only a name was given.
    parameters: Option<Vec<String>>,
}

/// Parses `name` or `name(Type, …)`; `None` when it is neither.
fn parse_spec(spec: &str) -> Option<MethodSpec<'_>> {
    let spec = spec.trim();
    let Some(open) = spec.find('(') else {
        return is_identifier(spec).then_some(MethodSpec {
            name: spec,
            parameters: None,
        });
    };
    let name = spec[..open].trim();
    let inner = spec[open + 1..].trim_end().strip_suffix(')')?;
    if !is_identifier(name) {
        return None;
    }
    let parameters = split_top_level(inner)
        .into_iter()
        .filter(|p| !p.trim().is_empty())
        .map(|p| type_key(parameter_type(p)))
        .collect();
    Some(MethodSpec {
        name,
        parameters: Some(parameters),
    })
}

fn is_identifier(text: &str) -> bool {
    let mut chars = text.chars();
    chars
        .next()
        .is_some_and(|c| c.is_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '$')
}

/// `a, Map<K, V>, b` → `["a", "Map<K, V>", "b"]`: commas inside type arguments do not split.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A parameter as a user may write it, with or without its name (`final int count` → `int`):
/// the type is everything before a trailing identifier, when there is one after a space.
fn parameter_type(parameter: &str) -> &str {
    let parameter = parameter.trim();
    let parameter = parameter.strip_prefix("final ").unwrap_or(parameter).trim();
    match parameter.rsplit_once(char::is_whitespace) {
        Some((ty, name))
            if is_identifier(name) && !ty.trim_end().ends_with([',', '<']) && !ty.is_empty() =>
        {
            ty.trim()
        }
        _ => parameter,
    }
}

/// How parameter types compare: without type arguments, package or whitespace, arrays and
/// varargs kept (`java.util.List<String>` and `List` match; `int[]` and `int` do not; `T...`
/// and `T[]` do, as Java treats them).
fn type_key(ty: &str) -> String {
    let compact: String = ty.chars().filter(|c| !c.is_whitespace()).collect();
    let compact = compact.replace("...", "[]");
    let mut erased = String::with_capacity(compact.len());
    let mut depth = 0usize;
    for c in compact.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth = depth.saturating_sub(1),
            _ if depth == 0 => erased.push(c),
            _ => {}
        }
    }
    let dims = erased.matches("[]").count();
    let base = erase_type_arguments(erased.trim_end_matches("[]"));
    let simple = base.rsplit('.').next().unwrap_or(base);
    format!("{simple}{}", "[]".repeat(dims))
}

/// `bar(int, String)`: a method's name and parameter types, as a user would write it.
pub fn short_signature(method: &Method) -> String {
    let types: Vec<&str> = method.parameters.iter().map(|p| p.ty.as_str()).collect();
    format!("{}({})", method.name, types.join(", "))
}

/// Why a method could not be found: the message names `origin` and the method.
pub type FocalError = String;

/// Parses `source` (named `origin` in errors) and finds the method `spec` (`name` or
/// `name(Type, …)`) with a body, among every class of the file (nested ones included).
pub fn find_method(source: &str, origin: &str, spec: &str) -> Result<FoundMethod, FocalError> {
    let wanted = parse_spec(spec).ok_or_else(|| {
        format!("{spec:?} is not a method name or `name(Type, …)` (looking in {origin})")
    })?;
    let file = parse(source, origin)?;
    let named: Vec<(&Class, &Method)> = file
        .classes
        .iter()
        .flat_map(|c| c.methods.iter().chain(&c.constructors).map(move |m| (c, m)))
        .filter(|(_, m)| m.name == wanted.name)
        .collect();
    if named.is_empty() {
        let mut declared: Vec<&str> = file
            .classes
            .iter()
            .flat_map(|c| c.methods.iter().map(|m| m.name.as_str()))
            .collect();
        declared.sort_unstable();
        declared.dedup();
        return Err(format!(
            "{origin} declares no method `{}` ({})",
            wanted.name,
            if declared.is_empty() {
                "it declares no method".to_string()
            } else {
                format!("it declares: {}", declared.join(", "))
            }
        ));
    }
    // Qualified by class only where the methods are of several classes.
    let listed = |found: &[(&Class, &Method)]| {
        let several = found
            .iter()
            .any(|(c, _)| c.nested_name != found[0].0.nested_name);
        found
            .iter()
            .map(|(c, m)| {
                if several {
                    format!("{}.{}", c.nested_name, short_signature(m))
                } else {
                    short_signature(m)
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let matching: Vec<(&Class, &Method)> = match &wanted.parameters {
        None => named.clone(),
        Some(types) => named
            .iter()
            .filter(|(_, m)| {
                m.parameters.len() == types.len()
                    && m.parameters
                        .iter()
                        .zip(types)
                        .all(|(p, t)| type_key(&p.ty) == *t)
            })
            .copied()
            .collect(),
    };
    match matching.as_slice() {
        [] => Err(format!(
            "{origin} declares no `{}`; its `{}` takes: {}",
            spec.trim(),
            wanted.name,
            listed(&named)
        )),
        [(_, method)] if !method.has_body => Err(format!(
            "`{}` in {origin} has no body (abstract, interface or native): there is no code to \
             test",
            short_signature(method)
        )),
        [(class, method)] => Ok(found(&file, class, method)),
        many => Err(format!(
            "`{}` is overloaded in {origin} ({} declarations): name one with its parameter \
             types, one of: {}",
            wanted.name,
            many.len(),
            listed(many)
        )),
    }
}

/// `source` parsed, or an error naming `origin` and the first line tree-sitter could not read.
fn parse(source: &str, origin: &str) -> Result<JavaFile, FocalError> {
    let mut parser = JavaParser::new().map_err(|e| format!("{e:#}"))?;
    let tree = parser
        .parse_tree(source)
        .ok_or_else(|| format!("{origin} could not be parsed as Java"))?;
    if tree.root_node().has_error() {
        let line = first_error_line(&tree).map_or(String::new(), |l| format!(" at line {l}"));
        return Err(format!(
            "{origin} does not parse as Java (a syntax error{line}); fix it or pass the method's \
             text instead"
        ));
    }
    let file = crate::java::extract(&tree, origin, source, crate::java::Detail::Full);
    if file.classes.is_empty() {
        return Err(format!("{origin} declares no class"));
    }
    Ok(file)
}

/// The 1-based line of the first ERROR or MISSING node, in document order.
fn first_error_line(tree: &tree_sitter::Tree) -> Option<usize> {
    let mut cursor = tree.walk();
    loop {
        let node = cursor.node();
        if node.is_error() || node.is_missing() {
            return Some(node.start_position().row + 1);
        }
        // Descend only into subtrees that hold an error.
        if node.has_error() && cursor.goto_first_child() {
            continue;
        }
        while !cursor.goto_next_sibling() {
            if !cursor.goto_parent() {
                return None;
            }
        }
    }
}

/// The focal context the miner would record for `method` of `class` (`src/mining/map.rs`):
/// public methods' signatures (for an interface, every non-private one), constructors, fields.
fn found(file: &JavaFile, class: &Class, method: &Method) -> FoundMethod {
    let context = crate::mining::map::FocalContext::of(class);
    FoundMethod {
        class: class.nested_name.clone(),
        class_signature: class.signature.clone(),
        package: file.package.clone(),
        method: method.clone(),
        constructors: context.constructors,
        method_signatures: context.method_signatures,
        fields: class.fields.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = r#"package a.b;

import java.util.List;

public class Calc {
    private int total;

    public Calc(int start) { total = start; }

    public int add(int x) { return total += x; }

    public int add(int x, int y) { return x + y; }

    public int add(java.util.List<Integer> xs) { return xs.size(); }

    public int twice(int x) { return 2 * x; }

    static class Inner {
        void helper() {}
    }
}
"#;

    #[test]
    fn a_unique_name_finds_its_method_with_the_miners_context() {
        let found = find_method(SOURCE, "Calc.java", "twice").unwrap();
        assert_eq!(found.class, "Calc");
        assert_eq!(found.package, "a.b");
        assert_eq!(found.method.signature, "public int twice(int x)");
        assert_eq!(found.constructors, ["public Calc(int start)"]);
        assert_eq!(found.method_signatures.len(), 4);
        let input = found.model_input(ContextLevel::FmFcMsFf);
        assert!(
            input.starts_with("Calc { public int twice(int x)"),
            "{input}"
        );
        // A nested class's method, by name.
        assert_eq!(
            find_method(SOURCE, "Calc.java", "helper").unwrap().class,
            "Calc.Inner"
        );
    }

    #[test]
    fn an_overloaded_name_needs_its_parameter_types() {
        let err = find_method(SOURCE, "Calc.java", "add").unwrap_err();
        assert!(err.contains("overloaded in Calc.java"), "{err}");
        for sig in ["add(int)", "add(int, int)", "add(java.util.List<Integer>)"] {
            assert!(err.contains(sig), "{err} lacks {sig}");
        }
        let two = find_method(SOURCE, "Calc.java", "add(int, int)").unwrap();
        assert_eq!(two.method.signature, "public int add(int x, int y)");
        // Names, packages, type arguments and spacing do not matter; arity and arrays do.
        for spec in ["add(int x)", " add( int ) ", "add(final int x)"] {
            let one = find_method(SOURCE, "Calc.java", spec).unwrap();
            assert_eq!(one.method.signature, "public int add(int x)", "{spec}");
        }
        let list = find_method(SOURCE, "Calc.java", "add(List)").unwrap();
        assert_eq!(list.method.parameters[0].name, "xs");
        let err = find_method(SOURCE, "Calc.java", "add(int[])").unwrap_err();
        assert!(
            err.contains("its `add` takes: add(int), add(int, int)"),
            "{err}"
        );
    }

    #[test]
    fn missing_methods_and_broken_files_are_named() {
        let err = find_method(SOURCE, "Calc.java", "sub").unwrap_err();
        assert!(
            err.contains("Calc.java declares no method `sub`") && err.contains("add, helper"),
            "{err}"
        );
        let broken = "public class X {\n  void a() {\n    int x = ;\n  }\n}\n";
        let err = find_method(broken, "X.java", "a").unwrap_err();
        assert!(
            err.contains("X.java does not parse") && err.contains("line 3"),
            "{err}"
        );
        let err = find_method(SOURCE, "Calc.java", "add(").unwrap_err();
        assert!(err.contains("is not a method name"), "{err}");
        let abstract_source = "abstract class A { abstract void run(); }";
        let err = find_method(abstract_source, "A.java", "run").unwrap_err();
        assert!(err.contains("has no body"), "{err}");
    }

    #[test]
    fn parameter_types_compare_without_names_packages_or_type_arguments() {
        assert_eq!(type_key("java.util.Map<K, List<V>>"), "Map");
        assert_eq!(type_key("String ..."), "String[]");
        assert_eq!(type_key("int [] []"), "int[][]");
        assert_eq!(parameter_type("Map<K, V> m"), "Map<K, V>");
        assert_eq!(parameter_type("int"), "int");
        assert_eq!(split_top_level("Map<K, V>, int"), vec!["Map<K, V>", " int"]);
    }
}
