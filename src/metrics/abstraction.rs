//! src2abs-style abstraction of Java code, for the paper's top-k abstracted match (§4.2).
//!
//! src2abs (Tufano et al., "An Empirical Study on Learning Bug-Fixing Patches in the Wild via
//! Neural Machine Translation", TOSEM 2019) replaces identifiers and literals by typed
//! placeholders numbered per snippet, keeping a set of frequent "idioms" verbatim, so two tests
//! that differ only in names and constants abstract to the same sequence. src2abs itself needs a
//! parsable compilation unit; models emit truncated and broken code, so this works on
//! tree-sitter-java's leaf tokens (see `tokens`), which exist for any text.
//!
//! Rules, per token in source order (comments dropped):
//! - an idiom (an identifier or literal in the configured set) stays as written;
//! - literals become `STRING_n`, `CHAR_n`, `INT_n`, `FLOAT_n`;
//! - a `type_identifier`, an annotation name, and a capitalised identifier that qualifies a
//!   member (`Assert` in `Assert.assertEquals`, followed by `.` or `::`; all-caps constants
//!   excluded) become `TYPE_n`;
//! - an identifier in a method's name position (invocation or declaration), an annotation
//!   element (`expected` in `@Test(expected = …)`, a method of the annotation type), an
//!   identifier followed by `(`, or one after `::` becomes `METHOD_n`;
//! - any other identifier becomes `VAR_n`;
//! - keywords, operators and separators stay.
//!
//! Each category is numbered from 1 in order of first appearance; the same text gets the same
//! placeholder within a snippet. It does not resolve symbols (src2abs's JavaParser does some of
//! that on well-formed code): a local variable and a field of the same name share a placeholder.

use std::collections::{HashMap, HashSet};

use super::exact::{TopK, top_k_with};
use super::tokens::{JavaToken, Role, TokenKind, java_tokens};

/// The placeholder categories of src2abs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Category {
    Var,
    Method,
    Type,
    String,
    Char,
    Int,
    Float,
}

impl Category {
    fn prefix(self) -> &'static str {
        match self {
            Category::Var => "VAR",
            Category::Method => "METHOD",
            Category::Type => "TYPE",
            Category::String => "STRING",
            Category::Char => "CHAR",
            Category::Int => "INT",
            Category::Float => "FLOAT",
        }
    }
}

/// What token `i` of `tokens` (comments already removed) abstracts to, ignoring idioms;
/// `None` for keywords, operators and separators.
pub(crate) fn category(tokens: &[JavaToken<'_>], i: usize) -> Option<Category> {
    let token = &tokens[i];
    let next = tokens.get(i + 1).map(|t| t.text);
    let prev = i.checked_sub(1).map(|j| tokens[j].text);
    Some(match token.kind {
        TokenKind::String => Category::String,
        TokenKind::Char => Category::Char,
        TokenKind::Int => Category::Int,
        TokenKind::Float => Category::Float,
        TokenKind::TypeIdentifier => Category::Type,
        TokenKind::Identifier => {
            if token.role == Role::AnnotationName {
                Category::Type
            } else if matches!(token.role, Role::MethodName | Role::AnnotationElement)
                || next == Some("(")
                || prev == Some("::")
            {
                Category::Method
            } else if matches!(next, Some(".") | Some("::")) && is_type_like(token.text) {
                Category::Type
            } else {
                Category::Var
            }
        }
        TokenKind::Comment | TokenKind::Other => return None,
    })
}

/// `Assert`, `StringUtils`: capitalised and not an all-caps constant such as `MAX_VALUE`.
fn is_type_like(name: &str) -> bool {
    name.chars().next().is_some_and(char::is_uppercase) && name.chars().any(char::is_lowercase)
}

/// The identifiers and literals kept verbatim by abstraction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Idioms(HashSet<String>);

impl Idioms {
    /// An explicit idiom set (e.g. src2abs's published list, or a configuration file).
    pub fn new<S: Into<String>>(idioms: impl IntoIterator<Item = S>) -> Self {
        Self(idioms.into_iter().map(Into::into).collect())
    }

    pub fn contains(&self, text: &str) -> bool {
        self.0.contains(text)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The idioms in lexicographic order (for reports and configuration files).
    pub fn sorted(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.0.iter().map(String::as_str).collect();
        v.sort_unstable();
        v
    }
}

/// The `top_n` most frequent identifiers and literals (by occurrences) of `texts`, the training
/// split's tests: src2abs keeps such idioms because frequent names (`assertEquals`, `size`, `0`)
/// carry meaning a placeholder would erase. Ties are broken by text, so the set is deterministic.
pub fn idioms_from<S: AsRef<str>>(texts: impl IntoIterator<Item = S>, top_n: usize) -> Idioms {
    let mut counts: HashMap<String, u64> = HashMap::new();
    for text in texts {
        for token in java_tokens(text.as_ref()) {
            if token.is_name_or_literal() {
                match counts.get_mut(token.text) {
                    Some(c) => *c += 1,
                    None => {
                        counts.insert(token.text.to_string(), 1);
                    }
                }
            }
        }
    }
    let mut ranked: Vec<(String, u64)> = counts.into_iter().collect();
    ranked.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    Idioms(ranked.into_iter().take(top_n).map(|(t, _)| t).collect())
}

/// Abstracts snippets with one idiom set.
#[derive(Debug, Clone, Default)]
pub struct Abstractor {
    idioms: Idioms,
}

impl Abstractor {
    pub fn new(idioms: Idioms) -> Self {
        Self { idioms }
    }

    pub fn idioms(&self) -> &Idioms {
        &self.idioms
    }

    /// The abstracted token sequence of `code`.
    pub fn abstract_tokens(&self, code: &str) -> Vec<String> {
        let tokens: Vec<JavaToken<'_>> = java_tokens(code)
            .into_iter()
            .filter(|t| t.kind != TokenKind::Comment)
            .collect();
        let mut numbers: HashMap<(Category, &str), usize> = HashMap::new();
        let mut next_number: HashMap<Category, usize> = HashMap::new();
        let mut out = Vec::with_capacity(tokens.len());
        for (i, token) in tokens.iter().enumerate() {
            let category = match category(&tokens, i) {
                Some(c) if !self.idioms.contains(token.text) => c,
                _ => {
                    out.push(token.text.to_string());
                    continue;
                }
            };
            let n = *numbers.entry((category, token.text)).or_insert_with(|| {
                let counter = next_number.entry(category).or_insert(0);
                *counter += 1;
                *counter
            });
            out.push(format!("{}_{n}", category.prefix()));
        }
        out
    }

    /// The abstracted code as one line, tokens separated by single spaces.
    pub fn abstract_code(&self, code: &str) -> String {
        self.abstract_tokens(code).join(" ")
    }

    /// Two snippets match when their abstracted token sequences are equal.
    pub fn matches(&self, prediction: &str, reference: &str) -> bool {
        self.abstract_tokens(prediction) == self.abstract_tokens(reference)
    }

    /// Top-k abstracted match of ranked `predictions` against `reference`.
    pub fn top_k<S: AsRef<str>>(&self, predictions: &[S], reference: &str) -> TopK {
        top_k_with(predictions, reference, |code| self.abstract_tokens(code))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn abs(code: &str) -> String {
        Abstractor::default().abstract_code(code)
    }

    #[test]
    fn identifiers_are_numbered_in_order_of_first_appearance() {
        assert_eq!(
            abs("void t() { int b = 1; int a = b + 2; a = b; }"),
            "void METHOD_1 ( ) { int VAR_1 = INT_1 ; int VAR_2 = VAR_1 + INT_2 ; VAR_2 = VAR_1 ; }"
        );
    }

    #[test]
    fn each_category_has_its_own_numbering() {
        assert_eq!(
            abs(r#"void t() { Foo foo = new Foo("x", 'c', 2.5); foo.bar("x"); }"#),
            "void METHOD_1 ( ) { TYPE_1 VAR_1 = new TYPE_1 ( STRING_1 , CHAR_1 , FLOAT_1 ) ; \
             VAR_1 . METHOD_2 ( STRING_1 ) ; }"
        );
    }

    #[test]
    fn annotation_elements_are_methods() {
        assert_eq!(
            abs("@Test(expected = Foo.class) void t() {}"),
            "@ TYPE_1 ( METHOD_1 = TYPE_2 . class ) void METHOD_2 ( ) { }"
        );
    }

    #[test]
    fn static_qualifiers_are_types_and_constants_are_variables() {
        assert_eq!(
            abs("@Test void t() { Assert.assertEquals(Integer.MAX_VALUE, x); }"),
            "@ TYPE_1 void METHOD_1 ( ) { TYPE_2 . METHOD_2 ( TYPE_3 . VAR_1 , VAR_2 ) ; }"
        );
    }

    #[test]
    fn idioms_are_kept_verbatim() {
        let a = Abstractor::new(Idioms::new(["assertEquals", "0", "Test"]));
        assert_eq!(
            a.abstract_code("@Test void t() { assertEquals(0, size(1)); }"),
            "@ Test void METHOD_1 ( ) { assertEquals ( 0 , METHOD_2 ( INT_1 ) ) ; }"
        );
    }

    #[test]
    fn broken_code_still_abstracts() {
        assert_eq!(
            abs(r#"void t() { assertEquals("a", foo.bar(x"#),
            r#"void METHOD_1 ( ) { METHOD_2 ( STRING_1 , VAR_1 . METHOD_3 ( VAR_2"#
        );
    }

    #[test]
    fn comments_and_whitespace_do_not_matter() {
        let a = Abstractor::default();
        assert!(a.matches(
            "void t() {\n  // set up\n  int x = 1;\n}",
            "void t(){int x=1;}"
        ));
    }

    #[test]
    fn renamed_identifiers_and_changed_literals_match() {
        let a = Abstractor::default();
        assert!(a.matches(
            r#"void testA() { Foo f = new Foo(); assertEquals("x", f.get(1)); }"#,
            r#"void testB() { Bar b = new Bar(); assertEquals("y", b.get(2)); }"#
        ));
        assert!(!a.matches(
            "void t() { int x = 1; int y = x; }",
            "void t() { int x = 1; int y = 2; }"
        ));
    }

    #[test]
    fn idioms_from_counts_occurrences_and_breaks_ties_by_text() {
        let idioms = idioms_from(
            [
                "void t() { assertEquals(1, a); }",
                "void u() { assertEquals(1, b); assertTrue(c); }",
            ],
            3,
        );
        // assertEquals ×2, 1 ×2, then the ties a, assertTrue, b, c, t, u (one each): `a` wins.
        assert_eq!(idioms.sorted(), ["1", "a", "assertEquals"]);
    }
}
