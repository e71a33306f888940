//! Model inputs and targets: the focal method with its focal context at one of Methods2Test's
//! five levels (Tufano et al., "Methods2Test", MSR 2022; AthenaTest, arXiv:2009.05617), and the
//! test case it should produce.
//!
//! Methods2Test's corpus (`corpus/json`, field `src_<level>`) lays an input out as
//!
//! ```text
//! FM           <FOCAL_METHOD>
//! FM_FC        <FOCAL_CLASS_NAME> { <FOCAL_METHOD> }
//! FM_FC_CO     <FOCAL_CLASS_NAME> { <FOCAL_METHOD> <CONSTRUCTORS> }
//! FM_FC_MS     <FOCAL_CLASS_NAME> { <FOCAL_METHOD> <CONSTRUCTORS> <METHOD_SIGNATURES> }
//! FM_FC_MS_FF  <FOCAL_CLASS_NAME> { <FOCAL_METHOD> <CONSTRUCTORS> <METHOD_SIGNATURES> <FIELDS> }
//! ```
//!
//! on one line: the focal class's name (with its type parameters, `extends` and `implements`,
//! as Methods2Test's class identifier + superclass + interfaces), then, inside braces, the
//! focal method as written, each constructor signature and each public method signature
//! followed by `;`, and the public fields as declared. Comments are removed and runs of
//! whitespace become one space, as their corpus does, so a test reads as one line of Java
//! and no tokens are spent on indentation. String and character literals are kept verbatim.
//!
//! What we deliberately do differently: the method signatures leave out the focal method's own
//! (it is already there in full), and a field counts as public when it is declared `public`
//! or belongs to an interface.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::mining::Pair;

/// How much of the focal class goes into the model input (Methods2Test's levels; AthenaTest
/// found the richest, FM_FC_MS_FF, best).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, clap::ValueEnum,
)]
pub enum ContextLevel {
    /// The focal method alone.
    #[serde(rename = "FM")]
    #[value(name = "FM")]
    Fm,
    /// + the focal class name.
    #[serde(rename = "FM_FC")]
    #[value(name = "FM_FC")]
    FmFc,
    /// + the constructors' signatures.
    #[serde(rename = "FM_FC_CO")]
    #[value(name = "FM_FC_CO")]
    FmFcCo,
    /// + the other public methods' signatures.
    #[serde(rename = "FM_FC_MS")]
    #[value(name = "FM_FC_MS")]
    FmFcMs,
    /// + the public fields.
    #[default]
    #[serde(rename = "FM_FC_MS_FF")]
    #[value(name = "FM_FC_MS_FF")]
    FmFcMsFf,
}

impl ContextLevel {
    pub const ALL: [ContextLevel; 5] = [
        ContextLevel::Fm,
        ContextLevel::FmFc,
        ContextLevel::FmFcCo,
        ContextLevel::FmFcMs,
        ContextLevel::FmFcMsFf,
    ];

    /// The name Methods2Test gives the level (`FM_FC_MS_FF`).
    pub fn as_str(self) -> &'static str {
        match self {
            ContextLevel::Fm => "FM",
            ContextLevel::FmFc => "FM_FC",
            ContextLevel::FmFcCo => "FM_FC_CO",
            ContextLevel::FmFcMs => "FM_FC_MS",
            ContextLevel::FmFcMsFf => "FM_FC_MS_FF",
        }
    }

    fn has_class(self) -> bool {
        self != ContextLevel::Fm
    }

    fn has_constructors(self) -> bool {
        matches!(
            self,
            ContextLevel::FmFcCo | ContextLevel::FmFcMs | ContextLevel::FmFcMsFf
        )
    }

    fn has_methods(self) -> bool {
        matches!(self, ContextLevel::FmFcMs | ContextLevel::FmFcMsFf)
    }

    fn has_fields(self) -> bool {
        self == ContextLevel::FmFcMsFf
    }
}

impl fmt::Display for ContextLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ContextLevel {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<Self> {
        ContextLevel::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown focal-context level `{s}`; expected one of FM, FM_FC, FM_FC_CO, \
                     FM_FC_MS, FM_FC_MS_FF"
                )
            })
    }
}

/// The columns of one `pairs` row that a model input is assembled from, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct PairContext<'a> {
    pub focal_class: &'a str,
    /// The focal class's declaration line (modifiers, name, type parameters, extends, implements).
    pub class_signature: &'a str,
    pub focal_signature: &'a str,
    /// The whole focal method as written.
    pub focal_body: &'a str,
    pub constructors: &'a [String],
    /// Public method signatures of the focal class (the focal method's included).
    pub method_signatures: &'a [String],
    /// Field declarations as written.
    pub fields: &'a [String],
}

impl<'a> From<&'a Pair> for PairContext<'a> {
    fn from(pair: &'a Pair) -> Self {
        PairContext {
            focal_class: &pair.focal_class,
            class_signature: &pair.class_signature,
            focal_signature: &pair.focal_signature,
            focal_body: &pair.focal_body,
            constructors: &pair.constructors,
            method_signatures: &pair.method_signatures,
            fields: &pair.fields,
        }
    }
}

/// The model input for `pair` at `level`, laid out as Methods2Test's corpus (see the module doc).
pub fn model_input(pair: &PairContext, level: ContextLevel) -> String {
    let focal_method = normalize_code(pair.focal_body);
    if !level.has_class() {
        return focal_method;
    }
    let mut parts = vec![
        class_header(pair.class_signature, pair.focal_class),
        "{".into(),
    ];
    parts.push(focal_method);
    if level.has_constructors() {
        parts.extend(pair.constructors.iter().map(|c| signature_line(c)));
    }
    if level.has_methods() {
        let focal = normalize_code(pair.focal_signature);
        parts.extend(
            pair.method_signatures
                .iter()
                .map(|m| normalize_code(m))
                .filter(|m| *m != focal)
                .map(|m| signature_line(&m)),
        );
    }
    if level.has_fields() {
        let interface = is_interface(pair.class_signature);
        parts.extend(
            pair.fields
                .iter()
                .map(|f| normalize_code(f))
                .filter(|f| interface || is_public_declaration(f)),
        );
    }
    parts.push("}".into());
    parts.retain(|p| !p.is_empty());
    parts.join(" ")
}

/// The model target: the test case, normalized like the inputs.
pub fn model_target(test_body: &str) -> String {
    normalize_code(test_body)
}

/// A signature as a declaration: normalized and ending in `;`.
fn signature_line(signature: &str) -> String {
    let mut s = normalize_code(signature);
    if !s.is_empty() && !s.ends_with(';') {
        s.push(';');
    }
    s
}

const MODIFIERS: [&str; 12] = [
    "public",
    "protected",
    "private",
    "abstract",
    "static",
    "final",
    "sealed",
    "non-sealed",
    "strictfp",
    "transient",
    "volatile",
    "default",
];

const TYPE_KEYWORDS: [&str; 5] = ["class", "interface", "enum", "record", "@interface"];

/// Words of a declaration after its leading annotations, with the annotations' own
/// parenthesised arguments skipped.
fn declaration_words(declaration: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let mut depth = 0usize;
    let mut in_annotation = false;
    for word in declaration.split_whitespace() {
        if depth > 0 {
            depth = paren_depth(word, depth);
            continue;
        }
        if let Some(rest) = word.strip_prefix('@')
            && rest != "interface"
        {
            in_annotation = true;
            depth = paren_depth(word, 0);
            continue;
        }
        if in_annotation && word.starts_with('(') {
            depth = paren_depth(word, 0);
            continue;
        }
        in_annotation = false;
        words.push(word);
    }
    words
}

fn paren_depth(word: &str, mut depth: usize) -> usize {
    for c in word.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    depth
}

/// `public final class Foo<T> extends Bar implements Baz` → `Foo<T> extends Bar implements Baz`:
/// the class name with its type parameters and supertypes, as Methods2Test's focal-class
/// identifier + superclass + interfaces. Falls back to the bare class name.
fn class_header(class_signature: &str, focal_class: &str) -> String {
    let normalized = normalize_code(class_signature);
    let words = declaration_words(&normalized);
    let rest: Vec<&str> = words
        .into_iter()
        .skip_while(|w| MODIFIERS.contains(w) || TYPE_KEYWORDS.contains(w))
        .collect();
    let header = rest.join(" ");
    let header = header.trim_end_matches('{').trim_end();
    if header.starts_with(focal_class) && !focal_class.is_empty() {
        header.to_string()
    } else {
        focal_class.to_string()
    }
}

fn is_interface(class_signature: &str) -> bool {
    declaration_words(class_signature)
        .iter()
        .take_while(|w| MODIFIERS.contains(w) || TYPE_KEYWORDS.contains(w))
        .any(|w| *w == "interface" || *w == "@interface")
}

fn is_public_declaration(declaration: &str) -> bool {
    declaration_words(declaration)
        .iter()
        .take_while(|w| MODIFIERS.contains(w))
        .any(|w| *w == "public")
}

/// Java source on one line: comments removed, every run of whitespace outside string and
/// character literals turned into one space, trimmed. Literals (text blocks included) are
/// copied verbatim, so the code means what it meant.
///
/// Hand-written rather than through tree-sitter because it must also accept fragments that
/// are not a compilation unit (a signature, a field, a user's snippet) and never fail.
pub fn normalize_code(code: &str) -> String {
    let bytes = code.as_bytes();
    let mut out = String::with_capacity(code.len());
    let mut pending_space = false;
    let mut i = 0;
    // Literal and comment delimiters are ASCII, so byte indexes stay on char boundaries.
    let push_space = |out: &mut String, pending: &mut bool| {
        if *pending && !out.is_empty() {
            out.push(' ');
        }
        *pending = false;
    };
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_whitespace() {
            pending_space = true;
            i += 1;
        } else if code[i..].starts_with("//") {
            i = code[i..].find('\n').map_or(bytes.len(), |n| i + n);
            pending_space = true;
        } else if code[i..].starts_with("/*") {
            i = code[i + 2..]
                .find("*/")
                .map_or(bytes.len(), |n| i + 2 + n + 2);
            pending_space = true;
        } else if code[i..].starts_with("\"\"\"") {
            push_space(&mut out, &mut pending_space);
            let end = literal_end(bytes, i + 3, b"\"\"\"", false);
            out.push_str(&code[i..end]);
            i = end;
        } else if b == b'"' || b == b'\'' {
            push_space(&mut out, &mut pending_space);
            let end = literal_end(bytes, i + 1, &[b], true);
            out.push_str(&code[i..end]);
            i = end;
        } else {
            push_space(&mut out, &mut pending_space);
            let start = i;
            i += 1;
            while i < bytes.len()
                && !bytes[i].is_ascii_whitespace()
                && !matches!(bytes[i], b'"' | b'\'' | b'/')
            {
                i += 1;
            }
            out.push_str(&code[start..i]);
        }
    }
    out
}

/// The index just past the literal's closing delimiter (backslash escapes honoured), or the end
/// of the line (`stop_at_newline`, for an unterminated plain literal) or of the text.
fn literal_end(bytes: &[u8], mut i: usize, close: &[u8], stop_at_newline: bool) -> usize {
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            i += 2;
        } else if bytes[i..].starts_with(close) {
            return i + close.len();
        } else if stop_at_newline && bytes[i] == b'\n' {
            return i;
        } else {
            i += 1;
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context<'a>(
        constructors: &'a [String],
        methods: &'a [String],
        fields: &'a [String],
    ) -> PairContext<'a> {
        PairContext {
            focal_class: "Calculator",
            class_signature: "@Deprecated(since = \"2\")\npublic final class Calculator<T> extends Base implements Api",
            focal_signature: "public int add(int a, int b)",
            focal_body: "public int add(int a, int b) {\n    // sum\n    return a + b; /* done */\n}",
            constructors,
            method_signatures: methods,
            fields,
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_level_adds_its_part_in_methods2test_order() {
        let co = strings(&["public Calculator()", "Calculator(int memory)"]);
        let ms = strings(&["public int add(int a, int b)", "public int negate(int a)"]);
        let ff = strings(&["private int memory;", "public static final int ZERO = 0;"]);
        let pair = context(&co, &ms, &ff);
        let fm = "public int add(int a, int b) { return a + b; }";
        let fc = "Calculator<T> extends Base implements Api";
        assert_eq!(model_input(&pair, ContextLevel::Fm), fm);
        assert_eq!(
            model_input(&pair, ContextLevel::FmFc),
            format!("{fc} {{ {fm} }}")
        );
        assert_eq!(
            model_input(&pair, ContextLevel::FmFcCo),
            format!("{fc} {{ {fm} public Calculator(); Calculator(int memory); }}")
        );
        assert_eq!(
            model_input(&pair, ContextLevel::FmFcMs),
            format!(
                "{fc} {{ {fm} public Calculator(); Calculator(int memory); public int negate(int a); }}"
            )
        );
        assert_eq!(
            model_input(&pair, ContextLevel::FmFcMsFf),
            format!(
                "{fc} {{ {fm} public Calculator(); Calculator(int memory); public int negate(int a); \
                 public static final int ZERO = 0; }}"
            )
        );
    }

    #[test]
    fn interface_fields_are_public_without_the_keyword() {
        let ff = strings(&["int LIMIT = 3;"]);
        let mut pair = context(&[], &[], &ff);
        pair.class_signature = "public interface Calculator";
        assert!(model_input(&pair, ContextLevel::FmFcMsFf).ends_with("int LIMIT = 3; }"));
    }

    #[test]
    fn normalizing_keeps_literals_and_drops_comments() {
        let code = "@Test\n\tpublic void t() {\n  // a comment\n  assertEquals(\"a  // b\", f('\\'', \"x\\\"  y\")); /* gone */\n}";
        assert_eq!(
            normalize_code(code),
            "@Test public void t() { assertEquals(\"a  // b\", f('\\'', \"x\\\"  y\")); }"
        );
        assert_eq!(normalize_code("a/b / c"), "a/b / c");
        assert_eq!(
            normalize_code("String s = \"\"\"\n  two  lines\n\"\"\";"),
            "String s = \"\"\"\n  two  lines\n\"\"\";"
        );
        assert_eq!(normalize_code("  "), "");
    }

    #[test]
    fn levels_parse_and_print_as_methods2test_names() {
        for level in ContextLevel::ALL {
            assert_eq!(level.to_string().parse::<ContextLevel>().unwrap(), level);
            let json = serde_json::to_string(&level).unwrap();
            assert_eq!(json, format!("\"{level}\""));
        }
        assert_eq!(ContextLevel::default(), ContextLevel::FmFcMsFf);
        assert!("FM_XX".parse::<ContextLevel>().is_err());
    }
}
