//! tree-sitter-java → [`JavaFile`].
//!
//! The extraction visits the declaration structure once and, inside each method body, every
//! node once with a cursor (no recursion, so deeply nested expressions such as generated
//! string concatenations cannot overflow a thread's stack). Node kinds are compared by id,
//! not by name. The cost beyond tree-sitter's own parse is therefore linear in the file.

use std::sync::OnceLock;

use anyhow::{Context, Result};
use tree_sitter::{Language, Node, Parser, Tree};

use super::model::{
    Annotation, Call, Class, ClassKind, Import, JavaFile, MAX_RECEIVER_BYTES, Method, Parameter,
    erase_type_arguments, simple_name,
};

/// The tree-sitter-java grammar.
pub fn language() -> Language {
    tree_sitter_java::LANGUAGE.into()
}

/// The id of a named node kind of the grammar; a name the grammar lacks is a programming error
/// (a typo or a grammar upgrade), caught the first time the kinds are looked up.
pub fn kind_id(lang: &Language, name: &str) -> u16 {
    let id = lang.id_for_node_kind(name, true);
    assert_ne!(id, 0, "tree-sitter-java has no node kind `{name}`");
    id
}

/// Node kind ids of the grammar, looked up once.
struct Kinds {
    package_declaration: u16,
    import_declaration: u16,
    class_declaration: u16,
    interface_declaration: u16,
    enum_declaration: u16,
    record_declaration: u16,
    annotation_type_declaration: u16,
    method_declaration: u16,
    constructor_declaration: u16,
    compact_constructor_declaration: u16,
    field_declaration: u16,
    constant_declaration: u16,
    enum_body_declarations: u16,
    modifiers: u16,
    annotation: u16,
    marker_annotation: u16,
    formal_parameter: u16,
    spread_parameter: u16,
    variable_declarator: u16,
    method_invocation: u16,
    object_creation_expression: u16,
    extends_interfaces: u16,
    asterisk: u16,
    error: u16,
    /// Field ids (looked up once: by name, every lookup scans the grammar's field names).
    f: Fields,
}

struct Fields {
    name: u16,
    body: u16,
    ty: u16,
    parameters: u16,
    superclass: u16,
    interfaces: u16,
    type_parameters: u16,
    arguments: u16,
    object: u16,
    dimensions: u16,
}

fn kinds() -> &'static Kinds {
    static KINDS: OnceLock<Kinds> = OnceLock::new();
    KINDS.get_or_init(|| {
        let lang = language();
        let id = |name: &str| kind_id(&lang, name);
        Kinds {
            package_declaration: id("package_declaration"),
            import_declaration: id("import_declaration"),
            class_declaration: id("class_declaration"),
            interface_declaration: id("interface_declaration"),
            enum_declaration: id("enum_declaration"),
            record_declaration: id("record_declaration"),
            annotation_type_declaration: id("annotation_type_declaration"),
            method_declaration: id("method_declaration"),
            constructor_declaration: id("constructor_declaration"),
            compact_constructor_declaration: id("compact_constructor_declaration"),
            field_declaration: id("field_declaration"),
            constant_declaration: id("constant_declaration"),
            enum_body_declarations: id("enum_body_declarations"),
            modifiers: id("modifiers"),
            annotation: id("annotation"),
            marker_annotation: id("marker_annotation"),
            formal_parameter: id("formal_parameter"),
            spread_parameter: id("spread_parameter"),
            variable_declarator: id("variable_declarator"),
            method_invocation: id("method_invocation"),
            object_creation_expression: id("object_creation_expression"),
            extends_interfaces: id("extends_interfaces"),
            asterisk: id("asterisk"),
            error: id("ERROR"),
            f: {
                let field = |name: &str| {
                    lang.field_id_for_name(name)
                        .unwrap_or_else(|| panic!("tree-sitter-java has no field `{name}`"))
                        .get()
                };
                Fields {
                    name: field("name"),
                    body: field("body"),
                    ty: field("type"),
                    parameters: field("parameters"),
                    superclass: field("superclass"),
                    interfaces: field("interfaces"),
                    type_parameters: field("type_parameters"),
                    arguments: field("arguments"),
                    object: field("object"),
                    dimensions: field("dimensions"),
                }
            },
        }
    })
}

impl Kinds {
    fn class_kind(&self, id: u16) -> Option<ClassKind> {
        Some(match id {
            x if x == self.class_declaration => ClassKind::Class,
            x if x == self.interface_declaration => ClassKind::Interface,
            x if x == self.enum_declaration => ClassKind::Enum,
            x if x == self.record_declaration => ClassKind::Record,
            x if x == self.annotation_type_declaration => ClassKind::Annotation,
            _ => return None,
        })
    }
}

/// A tree-sitter parser set to Java. Not `Sync`: keep one per thread.
pub struct JavaParser {
    parser: Parser,
}

impl JavaParser {
    pub fn new() -> Result<Self> {
        let mut parser = Parser::new();
        parser
            .set_language(&language())
            .context("loading the tree-sitter-java grammar")?;
        Ok(Self { parser })
    }

    /// Only tree-sitter's parse (what `bench-mine` compares extraction against).
    pub fn parse_tree(&mut self, source: &str) -> Option<Tree> {
        self.parser.parse(source, None)
    }

    /// Parses `source` (the file at `path`, relative to its project) into the full model.
    pub fn parse(&mut self, path: &str, source: &str) -> Result<JavaFile> {
        self.parse_with(path, source, Detail::Full)
    }

    /// Parses `source` into the model at the given level of detail.
    pub fn parse_with(&mut self, path: &str, source: &str, detail: Detail) -> Result<JavaFile> {
        let tree = self
            .parse_tree(source)
            .with_context(|| format!("tree-sitter returned no tree for {path}"))?;
        Ok(extract(&tree, path, source, detail))
    }
}

/// How much of method bodies to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Everything, calls and creations in method bodies included.
    Full,
    /// No calls or creations: method bodies are not walked, which is most of the extraction's
    /// cost beyond the parse. For files whose calls nobody looks at (the miner's focal files).
    Declarations,
}

/// Builds the model of one file from its tree.
pub fn extract(tree: &Tree, path: &str, source: &str, detail: Detail) -> JavaFile {
    let root = tree.root_node();
    let mut file = JavaFile {
        path: path.to_string(),
        has_syntax_errors: root.has_error(),
        ..JavaFile::default()
    };
    let ex = Extractor {
        src: source,
        k: kinds(),
        calls: detail == Detail::Full,
    };
    ex.top_level(root, &mut file, 0);
    file
}

/// ERROR nodes are searched this deep for declarations tree-sitter could still recognise.
const MAX_ERROR_DEPTH: usize = 3;

struct Extractor<'s> {
    src: &'s str,
    k: &'static Kinds,
    /// Walk method bodies for calls.
    calls: bool,
}

impl<'s> Extractor<'s> {
    fn text(&self, node: Node) -> &'s str {
        &self.src[node.byte_range()]
    }

    fn top_level(&self, node: Node, file: &mut JavaFile, error_depth: usize) {
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            let id = child.kind_id();
            if id == self.k.package_declaration {
                if let Some(name) = self.first_name(child) {
                    file.package = name.to_string();
                }
            } else if id == self.k.import_declaration {
                if let Some(import) = self.import(child) {
                    file.imports.push(import);
                }
            } else if self.k.class_kind(id).is_some() {
                self.class(child, None, file);
            } else if id == self.k.error && error_depth < MAX_ERROR_DEPTH {
                self.top_level(child, file, error_depth + 1);
            }
        }
    }

    /// The first identifier or scoped identifier child (package and import names).
    fn first_name(&self, node: Node) -> Option<&'s str> {
        let mut cursor = node.walk();
        let found = node
            .named_children(&mut cursor)
            .find(|c| matches!(c.kind(), "identifier" | "scoped_identifier"));
        found.map(|n| self.text(n))
    }

    fn import(&self, node: Node) -> Option<Import> {
        let path = self.first_name(node)?.to_string();
        let mut cursor = node.walk();
        let mut is_static = false;
        let mut is_wildcard = false;
        for child in node.children(&mut cursor) {
            if child.kind() == "static" {
                is_static = true;
            } else if child.kind_id() == self.k.asterisk {
                is_wildcard = true;
            }
        }
        Some(Import {
            path: path.split_whitespace().collect(),
            is_static,
            is_wildcard,
        })
    }

    /// Keyword modifiers, annotations and the `modifiers` node itself.
    fn modifiers(&self, node: Node<'s>) -> (Vec<String>, Vec<Annotation>, Option<Node<'s>>) {
        let Some(mods) = child_of_kind(node, self.k.modifiers) else {
            return (Vec::new(), Vec::new(), None);
        };
        let mut keywords = Vec::new();
        let mut annotations = Vec::new();
        let mut cursor = mods.walk();
        for child in mods.children(&mut cursor) {
            let id = child.kind_id();
            if id == self.k.annotation || id == self.k.marker_annotation {
                if let Some(name) = child.child_by_field_id(self.k.f.name) {
                    annotations.push(Annotation {
                        name: self.text(name).split_whitespace().collect(),
                        arguments: child
                            .child_by_field_id(self.k.f.arguments)
                            .map(|a| self.text(a).to_string()),
                    });
                }
            } else if !child.is_extra() {
                keywords.push(self.text(child).to_string());
            }
        }
        (keywords, annotations, Some(mods))
    }

    /// Keywords, then the source from after the modifiers to `end`, whitespace collapsed.
    fn signature(&self, node: Node, mods: Option<Node>, keywords: &[String], end: usize) -> String {
        let start = mods.map_or(node.start_byte(), |m| m.end_byte());
        let rest = self.src[start..end.max(start)].trim().trim_end_matches(';');
        let mut out = keywords.join(" ");
        for word in rest.split_whitespace() {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(word);
        }
        out
    }

    fn class(&self, node: Node<'s>, outer: Option<usize>, file: &mut JavaFile) {
        let Some(kind) = self.k.class_kind(node.kind_id()) else {
            return;
        };
        let Some(name_node) = node.child_by_field_id(self.k.f.name) else {
            return;
        };
        let name = self.text(name_node).to_string();
        let nested_name = match outer {
            Some(o) => format!("{}.{}", file.classes[o].nested_name, name),
            None => name.clone(),
        };
        let qualified_name = if file.package.is_empty() {
            nested_name.clone()
        } else {
            format!("{}.{}", file.package, nested_name)
        };
        let (modifiers, annotations, mods) = self.modifiers(node);
        let superclass = node.child_by_field_id(self.k.f.superclass).and_then(|s| {
            let mut cursor = s.walk();
            let ty = s.named_children(&mut cursor).find(|c| !c.is_extra());
            ty.map(|t| self.text(t).to_string())
        });
        let interface_list = node
            .child_by_field_id(self.k.f.interfaces)
            .or_else(|| child_of_kind(node, self.k.extends_interfaces));
        let interfaces = interface_list
            .map(|list| self.type_list(list))
            .unwrap_or_default();
        let body = node.child_by_field_id(self.k.f.body);
        let end = body.map_or(node.end_byte(), |b| b.start_byte());
        let signature = self.signature(node, mods, &modifiers, end);
        file.classes.push(Class {
            kind,
            name,
            nested_name,
            qualified_name,
            outer,
            modifiers,
            annotations,
            type_parameters: node
                .child_by_field_id(self.k.f.type_parameters)
                .map(|t| self.text(t).to_string()),
            superclass,
            interfaces,
            signature,
            methods: Vec::new(),
            constructors: Vec::new(),
            fields: Vec::new(),
            line: node.start_position().row + 1,
        });
        let index = file.classes.len() - 1;
        if let Some(body) = body {
            self.members(body, index, file, 0);
        }
    }

    /// The types of a `super_interfaces` / `extends_interfaces` node (through its type list).
    fn type_list(&self, node: Node) -> Vec<String> {
        let mut out = Vec::new();
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            if child.kind() == "type_list" {
                let mut inner = child.walk();
                out.extend(
                    child
                        .named_children(&mut inner)
                        .filter(|t| !t.is_extra())
                        .map(|t| self.text(t).to_string()),
                );
            }
        }
        out
    }

    fn members(&self, body: Node<'s>, class: usize, file: &mut JavaFile, error_depth: usize) {
        let mut cursor = body.walk();
        for child in body.named_children(&mut cursor) {
            let id = child.kind_id();
            if id == self.k.method_declaration {
                let method = self.method(child, false);
                file.classes[class].methods.push(method);
            } else if id == self.k.constructor_declaration
                || id == self.k.compact_constructor_declaration
            {
                let method = self.method(child, true);
                file.classes[class].constructors.push(method);
            } else if id == self.k.field_declaration || id == self.k.constant_declaration {
                file.classes[class]
                    .fields
                    .push(self.text(child).to_string());
            } else if self.k.class_kind(id).is_some() {
                self.class(child, Some(class), file);
            } else if id == self.k.enum_body_declarations {
                self.members(child, class, file, error_depth);
            } else if id == self.k.error && error_depth < MAX_ERROR_DEPTH {
                self.members(child, class, file, error_depth + 1);
            }
        }
    }

    fn method(&self, node: Node<'s>, is_constructor: bool) -> Method {
        let name = node
            .child_by_field_id(self.k.f.name)
            .map(|n| self.text(n).to_string())
            .unwrap_or_default();
        let (modifiers, annotations, mods) = self.modifiers(node);
        let return_type = if is_constructor {
            None
        } else {
            node.child_by_field_id(self.k.f.ty)
                .map(|t| self.text(t).to_string())
        };
        let parameters = node
            .child_by_field_id(self.k.f.parameters)
            .map(|p| self.parameters(p))
            .unwrap_or_default();
        let body = node.child_by_field_id(self.k.f.body);
        let end = body.map_or(node.end_byte(), |b| b.start_byte());
        let signature = self.signature(node, mods, &modifiers, end);
        let mut calls = Vec::new();
        let mut creations = Vec::new();
        if let Some(body) = body.filter(|_| self.calls) {
            self.collect_calls(body, &mut calls, &mut creations);
        }
        Method {
            name,
            parameters,
            modifiers,
            annotations,
            return_type,
            signature,
            text: self.text(node).to_string(),
            has_body: body.is_some(),
            calls,
            creations,
            line: node.start_position().row + 1,
        }
    }

    fn parameters(&self, node: Node) -> Vec<Parameter> {
        let mut out = Vec::new();
        let mut cursor = node.walk();
        for child in node.named_children(&mut cursor) {
            let id = child.kind_id();
            if id == self.k.formal_parameter {
                let ty = child
                    .child_by_field_id(self.k.f.ty)
                    .map(|t| self.text(t))
                    .unwrap_or_default();
                let dims = child
                    .child_by_field_id(self.k.f.dimensions)
                    .map(|d| self.text(d))
                    .unwrap_or_default();
                let name = child
                    .child_by_field_id(self.k.f.name)
                    .map(|n| self.text(n))
                    .unwrap_or_default();
                out.push(Parameter {
                    ty: format!("{ty}{dims}"),
                    name: name.to_string(),
                });
            } else if id == self.k.spread_parameter {
                let mut inner = child.walk();
                let mut ty = "";
                let mut name = "";
                for part in child.named_children(&mut inner) {
                    let pid = part.kind_id();
                    if pid == self.k.variable_declarator {
                        name = part
                            .child_by_field_id(self.k.f.name)
                            .map(|n| self.text(n))
                            .unwrap_or_default();
                    } else if pid != self.k.modifiers
                        && pid != self.k.annotation
                        && pid != self.k.marker_annotation
                        && !part.is_extra()
                    {
                        ty = self.text(part);
                    }
                }
                out.push(Parameter {
                    ty: format!("{ty}..."),
                    name: name.to_string(),
                });
            }
        }
        out
    }

    /// Every method invocation and instance creation under `body`, in source order.
    fn collect_calls(&self, body: Node, calls: &mut Vec<Call>, creations: &mut Vec<Call>) {
        let mut cursor = body.walk();
        let mut depth = 0usize;
        loop {
            let node = cursor.node();
            let id = node.kind_id();
            if id == self.k.method_invocation {
                if let Some(name) = node.child_by_field_id(self.k.f.name) {
                    calls.push(Call {
                        name: self.text(name).to_string(),
                        args: self.argument_count(node),
                        receiver: node
                            .child_by_field_id(self.k.f.object)
                            .map(|o| cut(self.text(o), MAX_RECEIVER_BYTES).to_string()),
                    });
                }
            } else if id == self.k.object_creation_expression
                && let Some(ty) = node.child_by_field_id(self.k.f.ty)
            {
                creations.push(Call {
                    name: simple_name(erase_type_arguments(self.text(ty))).to_string(),
                    args: self.argument_count(node),
                    receiver: None,
                });
            }
            if cursor.goto_first_child() {
                depth += 1;
                continue;
            }
            loop {
                if depth == 0 {
                    return;
                }
                if cursor.goto_next_sibling() {
                    break;
                }
                cursor.goto_parent();
                depth -= 1;
            }
        }
    }

    fn argument_count(&self, call: Node) -> usize {
        let Some(args) = call.child_by_field_id(self.k.f.arguments) else {
            return 0;
        };
        let mut cursor = args.walk();
        args.named_children(&mut cursor)
            .filter(|a| !a.is_extra())
            .count()
    }
}

/// The first child of `node` of kind `kind`.
fn child_of_kind(node: Node, kind: u16) -> Option<Node> {
    let mut cursor = node.walk();
    node.children(&mut cursor).find(|c| c.kind_id() == kind)
}

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn cut(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::java::ClassKind;

    fn parse(src: &str) -> JavaFile {
        JavaParser::new().unwrap().parse("p/A.java", src).unwrap()
    }

    const SAMPLE: &str = r#"
package com.example.util;

import java.util.*;
import static org.junit.Assert.assertEquals;
import org.junit.Test;

/** Docs. */
@Deprecated
public final class Box<T extends Comparable<T>> extends Base<T> implements Comparable<Box<T>>, java.io.Serializable {
    private static final int LIMIT = 3, OTHER = 4;
    private T value;

    public Box(T value) { this.value = value; }
    Box() { this(null); }

    @Override
    public int compareTo(Box<T> other) {
        return value.compareTo(other.value);
    }

    public static <U extends Comparable<U>> Box<U> of(U u, String... names) {
        java.util.List<String> l = new ArrayList<>(names.length);
        Runnable r = () -> helper(1, 2);
        return new Box<>(u);
    }

    protected abstract void hook(int[] xs, final String s);

    private void helper(int a, /* two */ int b) { list.stream().map(x -> x).count(); }

    static class Inner implements Runnable {
        public void run() {}
        interface Deep { void go(); }
    }

    enum Color { RED, GREEN { void f() {} }; Color() {} public boolean warm() { return this == RED; } }

    record Point(int x, int y) { Point { check(x); } int sum() { return x + y; } }
}
"#;

    #[test]
    fn model_of_a_rich_class() {
        let f = parse(SAMPLE);
        assert!(!f.has_syntax_errors);
        assert_eq!(f.package, "com.example.util");
        assert_eq!(
            f.imports,
            vec![
                Import {
                    path: "java.util".into(),
                    is_static: false,
                    is_wildcard: true
                },
                Import {
                    path: "org.junit.Assert.assertEquals".into(),
                    is_static: true,
                    is_wildcard: false
                },
                Import {
                    path: "org.junit.Test".into(),
                    is_static: false,
                    is_wildcard: false
                },
            ]
        );
        let names: Vec<&str> = f
            .classes
            .iter()
            .map(|c| c.qualified_name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                "com.example.util.Box",
                "com.example.util.Box.Inner",
                "com.example.util.Box.Inner.Deep",
                "com.example.util.Box.Color",
                "com.example.util.Box.Point",
            ]
        );
        let b = &f.classes[0];
        assert_eq!(b.kind, ClassKind::Class);
        assert_eq!(b.modifiers, ["public", "final"]);
        assert_eq!(b.annotations[0].name, "Deprecated");
        assert_eq!(
            b.type_parameters.as_deref(),
            Some("<T extends Comparable<T>>")
        );
        assert_eq!(b.superclass.as_deref(), Some("Base<T>"));
        assert_eq!(b.superclass_name(), Some("Base"));
        assert_eq!(b.interfaces, ["Comparable<Box<T>>", "java.io.Serializable"]);
        assert_eq!(
            b.signature,
            "public final class Box<T extends Comparable<T>> extends Base<T> implements Comparable<Box<T>>, java.io.Serializable"
        );
        assert_eq!(
            b.fields,
            [
                "private static final int LIMIT = 3, OTHER = 4;",
                "private T value;"
            ]
        );
        assert_eq!(b.constructors.len(), 2);
        assert_eq!(b.constructors[0].signature, "public Box(T value)");
        assert_eq!(b.constructors[0].return_type, None);
        assert_eq!(b.constructors[1].parameters.len(), 0);
        let m: Vec<&str> = b.methods.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(m, ["compareTo", "of", "hook", "helper"]);

        let cmp = &b.methods[0];
        assert_eq!(cmp.signature, "public int compareTo(Box<T> other)");
        assert!(cmp.text.starts_with("@Override\n    public int compareTo"));
        assert!(cmp.text.ends_with('}'));
        assert_eq!(cmp.annotations[0].name, "Override");
        assert_eq!(cmp.return_type.as_deref(), Some("int"));
        assert_eq!(
            cmp.calls,
            [Call {
                name: "compareTo".into(),
                args: 1,
                receiver: Some("value".into())
            }]
        );
        assert_eq!(cmp.line, 17);

        let of = &b.methods[1];
        assert_eq!(
            of.signature,
            "public static <U extends Comparable<U>> Box<U> of(U u, String... names)"
        );
        assert_eq!(
            of.parameters,
            [
                Parameter {
                    ty: "U".into(),
                    name: "u".into()
                },
                Parameter {
                    ty: "String...".into(),
                    name: "names".into()
                },
            ]
        );
        assert!(of.is_varargs());
        // The lambda's call belongs to the method; creations are counted separately.
        assert_eq!(
            of.calls,
            [Call {
                name: "helper".into(),
                args: 2,
                receiver: None
            }]
        );
        let created: Vec<(&str, usize)> = of
            .creations
            .iter()
            .map(|c| (c.name.as_str(), c.args))
            .collect();
        assert_eq!(created, [("ArrayList", 1), ("Box", 1)]);

        let hook = &b.methods[2];
        assert!(!hook.has_body);
        assert_eq!(
            hook.signature,
            "protected abstract void hook(int[] xs, final String s)"
        );
        assert_eq!(hook.parameters[0].ty, "int[]");

        let helper = &b.methods[3];
        assert_eq!(helper.parameters.len(), 2);
        let chain: Vec<(&str, usize, Option<&str>)> = helper
            .calls
            .iter()
            .map(|c| (c.name.as_str(), c.args, c.receiver.as_deref()))
            .collect();
        assert_eq!(
            chain,
            [
                ("count", 0, Some("list.stream().map(x -> x)")),
                ("map", 1, Some("list.stream()")),
                ("stream", 0, Some("list"))
            ]
        );

        let color = &f.classes[3];
        assert_eq!(color.kind, ClassKind::Enum);
        assert_eq!(color.outer, Some(0));
        assert_eq!(color.constructors.len(), 1);
        assert_eq!(
            color.methods.len(),
            1,
            "the constant's body is not a member of the enum"
        );
        let point = &f.classes[4];
        assert_eq!(point.kind, ClassKind::Record);
        assert_eq!(point.constructors.len(), 1);
        assert_eq!(point.methods[0].name, "sum");
        assert_eq!(f.classes[2].kind, ClassKind::Interface);
        assert_eq!(f.classes[2].nested_name, "Box.Inner.Deep");
    }

    #[test]
    fn syntax_errors_keep_what_parses() {
        let f = parse(
            "package p;\nclass A {\n  void ok() { f(1); }\n  void broken( { \n  int x = ;\n}\n",
        );
        assert!(f.has_syntax_errors);
        assert_eq!(f.classes[0].name, "A");
        assert!(f.classes[0].methods.iter().any(|m| m.name == "ok"));
    }

    #[test]
    fn empty_and_default_package() {
        let f = parse("");
        assert!(f.classes.is_empty() && f.package.is_empty() && !f.has_syntax_errors);
        let f = parse("class A { }");
        assert_eq!(f.classes[0].qualified_name, "A");
    }

    #[test]
    fn deep_expressions_do_not_recurse() {
        let mut src = String::from("class A { String s() { return \"a\"");
        for _ in 0..20_000 {
            src.push_str(" + f(1)");
        }
        src.push_str("; } }");
        let f = parse(&src);
        assert_eq!(f.classes[0].methods[0].calls.len(), 20_000);
    }

    #[test]
    fn receivers_are_cut_on_char_boundaries() {
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("abc", 10), "abc");
    }
}
