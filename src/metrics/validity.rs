//! Syntactic validity (beyond the paper): the share of outputs that tree-sitter-java parses as
//! one method declaration without ERROR or MISSING nodes.
//!
//! An output is parsed as the only member of a class body (`class T { … }`), where a test method
//! lives; it is valid when the class body then holds exactly one member, a `method_declaration`,
//! and the tree has no error. This is a syntax check only: it does not resolve names or types,
//! so a valid output may still not compile.

use std::sync::OnceLock;

use super::tokens::parse_wrapped;

struct Ids {
    class_declaration: u16,
    method_declaration: u16,
    line_comment: u16,
    block_comment: u16,
}

fn ids() -> &'static Ids {
    static IDS: OnceLock<Ids> = OnceLock::new();
    IDS.get_or_init(|| {
        let lang = crate::java::language();
        let id = |name: &str| crate::java::kind_id(&lang, name);
        Ids {
            class_declaration: id("class_declaration"),
            method_declaration: id("method_declaration"),
            line_comment: id("line_comment"),
            block_comment: id("block_comment"),
        }
    })
}

/// Whether `output` parses as exactly one method declaration, with no ERROR or MISSING node.
pub fn is_valid_method(output: &str) -> bool {
    let Some(tree) = parse_wrapped(output) else {
        return false;
    };
    let root = tree.root_node();
    if root.has_error() {
        return false;
    }
    let ids = ids();
    let is_comment = |k: u16| k == ids.line_comment || k == ids.block_comment;
    let mut cursor = root.walk();
    let top: Vec<_> = root
        .named_children(&mut cursor)
        .filter(|n| !is_comment(n.kind_id()))
        .collect();
    let [class] = top.as_slice() else {
        return false;
    };
    if class.kind_id() != ids.class_declaration {
        return false;
    }
    let Some(body) = class.child_by_field_name("body") else {
        return false;
    };
    let mut cursor = body.walk();
    let members: Vec<_> = body
        .named_children(&mut cursor)
        .filter(|n| !is_comment(n.kind_id()))
        .collect();
    matches!(members.as_slice(), [m] if m.kind_id() == ids.method_declaration)
}

/// Counts of syntactically valid outputs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Validity {
    pub valid: u64,
    pub total: u64,
}

impl Validity {
    /// Checks every output.
    pub fn of<S: AsRef<str>>(outputs: &[S]) -> Self {
        let mut v = Validity::default();
        outputs.iter().for_each(|o| v.add(o.as_ref()));
        v
    }

    pub fn add(&mut self, output: &str) {
        self.total += 1;
        self.valid += u64::from(is_valid_method(output));
    }

    /// The share of valid outputs (0 when there are none).
    pub fn rate(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.valid as f64 / self.total as f64
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_complete_test_method_is_valid() {
        assert!(is_valid_method(
            "@Test\npublic void testAdd() throws Exception {\n  // adds\n  assertEquals(2, add(1, 1));\n}"
        ));
    }

    #[test]
    fn truncated_code_is_invalid() {
        assert!(!is_valid_method(
            "@Test public void testAdd() { assertEquals(2, add(1,"
        ));
        assert!(!is_valid_method(
            "@Test public void testAdd() { int x = 1; "
        ));
    }

    #[test]
    fn an_extra_closing_brace_is_invalid() {
        assert!(!is_valid_method("void t() { } }"));
    }

    #[test]
    fn empty_output_and_non_methods_are_invalid() {
        assert!(!is_valid_method(""));
        assert!(!is_valid_method("int x = 1;"));
        assert!(!is_valid_method("assertEquals(1, x);"));
        assert!(!is_valid_method("void a() {} void b() {}"));
        assert!(
            !is_valid_method("T() {}"),
            "a constructor is not a method declaration"
        );
    }

    #[test]
    fn the_rate_is_the_share_of_valid_outputs() {
        let v = Validity::of(&["void t() {}", "void t() {", ""]);
        assert_eq!((v.valid, v.total), (1, 3));
        assert!((v.rate() - 1.0 / 3.0).abs() < 1e-15);
        assert_eq!(Validity::default().rate(), 0.0);
    }
}
