//! Java snippets → their lexical tokens, read off tree-sitter-java's leaves.
//!
//! What a model emits is often not a well-formed method: it is cut off at the length limit, or it
//! misses a brace. The abstracted match and the coding-style metric must still see its tokens, so
//! this module works on the leaves of whatever tree tree-sitter builds (its error recovery keeps
//! every token it could lex, inside ERROR nodes), not on a well-formed syntax tree. The snippet
//! is parsed inside a class body (`class T { … }`), where a test method belongs; tokens of the
//! wrapper are dropped, so only the snippet's own text comes back.
//!
//! It does not decide what a token means for a metric (see `abstraction`); it only says what kind
//! of lexical token each one is and where the grammar put the identifiers it recognised as names
//! of methods and annotations.

use std::cell::RefCell;
use std::sync::OnceLock;

use tree_sitter::{Node, Parser, Tree};

/// Text put before a snippet so it parses as a class member.
pub(crate) const WRAP_PREFIX: &str = "class T {\n";
/// Text put after a snippet; the newline ends an unterminated line comment.
pub(crate) const WRAP_SUFFIX: &str = "\n}";

/// The lexical kind of one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A name tree-sitter-java calls `identifier` (variables, fields, methods, packages, and the
    /// qualifiers of static calls such as `Assert` in `Assert.assertEquals`).
    Identifier,
    /// A name in a type position (`type_identifier`): declared types, `new Foo()`, generics.
    TypeIdentifier,
    /// A string literal or text block, quotes included, as one token.
    String,
    /// A character literal, quotes included.
    Char,
    /// An integer literal in any base (`42`, `0x2A`, `052`, `0b101010`, `42L`).
    Int,
    /// A floating-point literal (`4.2`, `4.2f`, `1e3`, `0x1p3`).
    Float,
    /// A line or block comment.
    Comment,
    /// Everything else: keywords, operators, separators, `true`/`false`/`null`, and text that
    /// error recovery could not lex.
    Other,
}

/// Where the grammar placed an identifier, when that tells what it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The `name` of a method invocation or method declaration.
    MethodName,
    /// The name of an annotation (`Test` in `@Test`).
    AnnotationName,
    /// The element an annotation argument sets (`expected` in `@Test(expected = …)`): a method
    /// of the annotation type, in Java's terms.
    AnnotationElement,
    /// Anywhere else.
    Other,
}

/// One token of a snippet, borrowing its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JavaToken<'a> {
    pub text: &'a str,
    pub kind: TokenKind,
    pub role: Role,
}

impl JavaToken<'_> {
    /// Identifiers and literals: the tokens abstraction replaces and idioms are made of.
    pub fn is_name_or_literal(&self) -> bool {
        !matches!(self.kind, TokenKind::Comment | TokenKind::Other)
    }
}

/// Node kind and field ids, looked up once.
struct Ids {
    identifier: u16,
    type_identifier: u16,
    string_literal: u16,
    character_literal: u16,
    ints: [u16; 4],
    floats: [u16; 2],
    line_comment: u16,
    block_comment: u16,
    method_invocation: u16,
    method_declaration: u16,
    annotation: u16,
    marker_annotation: u16,
    element_value_pair: u16,
    name_field: u16,
    key_field: u16,
}

fn ids() -> &'static Ids {
    static IDS: OnceLock<Ids> = OnceLock::new();
    IDS.get_or_init(|| {
        let lang = crate::java::language();
        let id = |name: &str| crate::java::kind_id(&lang, name);
        Ids {
            identifier: id("identifier"),
            type_identifier: id("type_identifier"),
            string_literal: id("string_literal"),
            character_literal: id("character_literal"),
            ints: [
                id("decimal_integer_literal"),
                id("hex_integer_literal"),
                id("octal_integer_literal"),
                id("binary_integer_literal"),
            ],
            floats: [
                id("decimal_floating_point_literal"),
                id("hex_floating_point_literal"),
            ],
            line_comment: id("line_comment"),
            block_comment: id("block_comment"),
            method_invocation: id("method_invocation"),
            method_declaration: id("method_declaration"),
            annotation: id("annotation"),
            marker_annotation: id("marker_annotation"),
            element_value_pair: id("element_value_pair"),
            name_field: lang
                .field_id_for_name("name")
                .expect("tree-sitter-java has a `name` field")
                .get(),
            key_field: lang
                .field_id_for_name("key")
                .expect("tree-sitter-java has a `key` field")
                .get(),
        }
    })
}

impl Ids {
    fn kind(&self, id: u16) -> TokenKind {
        match id {
            x if x == self.identifier => TokenKind::Identifier,
            x if x == self.type_identifier => TokenKind::TypeIdentifier,
            x if x == self.string_literal => TokenKind::String,
            x if x == self.character_literal => TokenKind::Char,
            x if self.ints.contains(&x) => TokenKind::Int,
            x if self.floats.contains(&x) => TokenKind::Float,
            x if x == self.line_comment || x == self.block_comment => TokenKind::Comment,
            _ => TokenKind::Other,
        }
    }

    fn role(&self, parent: Option<u16>, field: Option<u16>) -> Role {
        let (Some(parent), Some(field)) = (parent, field) else {
            return Role::Other;
        };
        if field == self.key_field && parent == self.element_value_pair {
            Role::AnnotationElement
        } else if field != self.name_field {
            Role::Other
        } else if parent == self.method_invocation || parent == self.method_declaration {
            Role::MethodName
        } else if parent == self.annotation || parent == self.marker_annotation {
            Role::AnnotationName
        } else {
            Role::Other
        }
    }
}

thread_local! {
    /// tree-sitter parsers are not `Sync`: one per thread, reused across snippets.
    static PARSER: RefCell<Parser> = RefCell::new({
        let mut parser = Parser::new();
        parser
            .set_language(&crate::java::language())
            .expect("the tree-sitter-java grammar matches the tree-sitter runtime");
        parser
    });
}

/// Parses `snippet` wrapped in a class body (`WRAP_PREFIX` … `WRAP_SUFFIX`); the tree's byte
/// offsets are those of the wrapped text.
pub(crate) fn parse_wrapped(snippet: &str) -> Option<Tree> {
    let wrapped = format!("{WRAP_PREFIX}{snippet}{WRAP_SUFFIX}");
    PARSER.with(|p| p.borrow_mut().parse(&wrapped, None))
}

/// The tokens of a Java snippet in source order, comments included.
///
/// Works on any text: broken or truncated code yields the tokens tree-sitter could lex, and a
/// string literal is one token even when its quotes hold spaces.
pub fn java_tokens(snippet: &str) -> Vec<JavaToken<'_>> {
    let Some(tree) = parse_wrapped(snippet) else {
        return Vec::new();
    };
    let ids = ids();
    let (lo, hi) = (WRAP_PREFIX.len(), WRAP_PREFIX.len() + snippet.len());
    let mut tokens = Vec::new();
    // Parents' kind ids along the cursor's path; iterative, so deep expressions cannot overflow.
    let mut parents: Vec<u16> = Vec::new();
    let mut cursor = tree.walk();
    loop {
        let node: Node = cursor.node();
        let kind = node.kind_id();
        // A string literal's fragments and escapes belong to one token.
        let leaf = node.child_count() == 0 || kind == ids.string_literal;
        if leaf {
            let (start, end) = (node.start_byte().max(lo), node.end_byte().min(hi));
            if start < end && !node.is_missing() {
                let text = &snippet[start - lo..end - lo];
                let role = ids.role(parents.last().copied(), cursor.field_id().map(|f| f.get()));
                tokens.push(JavaToken {
                    text,
                    kind: ids.kind(kind),
                    role,
                });
            }
        } else if cursor.goto_first_child() {
            parents.push(kind);
            continue;
        }
        // Next sibling, or climb until one exists.
        loop {
            if cursor.goto_next_sibling() {
                break;
            }
            if !cursor.goto_parent() {
                debug_assert!(parents.is_empty());
                return tokens;
            }
            parents.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(code: &str) -> Vec<&str> {
        java_tokens(code).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn a_method_splits_into_its_tokens_without_the_wrapper() {
        assert_eq!(
            texts("void f() { int x = 1; }"),
            ["void", "f", "(", ")", "{", "int", "x", "=", "1", ";", "}"]
        );
    }

    #[test]
    fn a_string_literal_is_one_token_with_its_quotes() {
        let tokens = java_tokens(r#"void f() { s = "a b\n"; }"#);
        let s = tokens.iter().find(|t| t.kind == TokenKind::String).unwrap();
        assert_eq!(s.text, r#""a b\n""#);
    }

    #[test]
    fn literals_get_their_kinds() {
        let tokens = java_tokens("void f() { g(42, 0x2A, 4.2f, 'c', \"s\", true, null); }");
        let kind = |text: &str| tokens.iter().find(|t| t.text == text).unwrap().kind;
        assert_eq!(kind("42"), TokenKind::Int);
        assert_eq!(kind("0x2A"), TokenKind::Int);
        assert_eq!(kind("4.2f"), TokenKind::Float);
        assert_eq!(kind("'c'"), TokenKind::Char);
        assert_eq!(kind("\"s\""), TokenKind::String);
        assert_eq!(kind("true"), TokenKind::Other);
        assert_eq!(kind("null"), TokenKind::Other);
    }

    #[test]
    fn method_and_annotation_names_are_marked() {
        let tokens = java_tokens("@Test(timeout = 10) void f() { a.b(c); }");
        let role = |text: &str| tokens.iter().find(|t| t.text == text).unwrap().role;
        assert_eq!(role("Test"), Role::AnnotationName);
        assert_eq!(role("timeout"), Role::AnnotationElement);
        assert_eq!(role("f"), Role::MethodName);
        assert_eq!(role("b"), Role::MethodName);
        assert_eq!(role("a"), Role::Other);
        assert_eq!(role("c"), Role::Other);
    }

    #[test]
    fn truncated_code_still_yields_its_tokens() {
        assert_eq!(
            texts("void f() { assertEquals(\"x\", foo.bar("),
            [
                "void",
                "f",
                "(",
                ")",
                "{",
                "assertEquals",
                "(",
                "\"x\"",
                ",",
                "foo",
                ".",
                "bar",
                "("
            ]
        );
    }

    #[test]
    fn a_trailing_line_comment_does_not_swallow_the_wrapper() {
        let tokens = java_tokens("void f() { // open");
        assert_eq!(tokens.len(), 6);
        assert_eq!(tokens.last().unwrap().text, "// open");
        assert_eq!(tokens.last().unwrap().kind, TokenKind::Comment);
    }

    #[test]
    fn empty_and_blank_snippets_have_no_tokens() {
        assert!(java_tokens("").is_empty());
        assert!(java_tokens("  \n\t").is_empty());
    }
}
