//! Tokenization as in the paper: gensim's `utils.tokenize(text, lower=True)`, then Java
//! keywords removed.
//!
//! gensim lowercases the whole text and then takes every maximal match of
//! `((?!\d)\w)+`. We take maximal runs of Unicode alphabetic characters of the lowercased
//! text, which agrees with gensim on everything Java source contains in practice: digits
//! split tokens (`http2client` → `http`, `client`) and nothing splits camelCase (gensim
//! lowercases first, so `getHTTPResponse` is one token, `gethttpresponse`). Two deliberate or
//! unavoidable differences, both documented in docs/vocabulary.md:
//! - `_` splits tokens, as the issue specifies (`MAX_VALUE` → `max`, `value`); gensim's `\w`
//!   keeps `max_value` whole. [`Options::underscore_joins`] restores gensim's behaviour.
//! - Rust's `char::is_alphabetic` (Unicode `Alphabetic`) also counts combining vowel signs of
//!   some scripts, and Python's `\w` also counts non-decimal numerals such as `²`; neither
//!   occurs in Java identifiers outside string literals.

/// Java's reserved words that survive tokenization, removed like stopwords (paper §2).
///
/// - The 50 reserved keywords of JLS 17 §3.9 (`const` and `goto` included; `_` is not a
///   letter run and `non-sealed` tokenizes to `non`, `sealed`).
/// - The literals `true`, `false`, `null` (§3.10.3, §3.10.8).
/// - The contextual keywords that are keywords in ordinary code: `var`, `yield`, `record`,
///   `sealed`, `permits` (§3.9). The module-declaration ones (`module`, `open`, `opens`,
///   `exports`, `requires`, `transitive`, `to`, `uses`, `provides`, `with`) are kept as
///   tokens: outside `module-info.java` they are ordinary identifiers (`to`, `with`, `open`).
///
/// Sorted, for binary search.
pub const JAVA_KEYWORDS: [&str; 58] = [
    "abstract",
    "assert",
    "boolean",
    "break",
    "byte",
    "case",
    "catch",
    "char",
    "class",
    "const",
    "continue",
    "default",
    "do",
    "double",
    "else",
    "enum",
    "extends",
    "false",
    "final",
    "finally",
    "float",
    "for",
    "goto",
    "if",
    "implements",
    "import",
    "instanceof",
    "int",
    "interface",
    "long",
    "native",
    "new",
    "null",
    "package",
    "permits",
    "private",
    "protected",
    "public",
    "record",
    "return",
    "sealed",
    "short",
    "static",
    "strictfp",
    "super",
    "switch",
    "synchronized",
    "this",
    "throw",
    "throws",
    "transient",
    "true",
    "try",
    "var",
    "void",
    "volatile",
    "while",
    "yield",
];

/// Whether a (lowercased) token is one of [`JAVA_KEYWORDS`].
pub fn is_java_keyword(token: &str) -> bool {
    JAVA_KEYWORDS.binary_search(&token).is_ok()
}

/// Tokenizer settings.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Treat `_` as part of a token, as gensim's `\w` does (`max_value` stays one token).
    pub underscore_joins: bool,
}

impl Options {
    fn is_token_char(self, c: char) -> bool {
        if c.is_ascii() {
            c.is_ascii_alphabetic() || (self.underscore_joins && c == '_')
        } else {
            c.is_alphabetic()
        }
    }
}

/// Calls `f` with each token of `text`: lowercased maximal runs of letters, keywords included.
pub fn for_each_token(text: &str, opts: Options, mut f: impl FnMut(&str)) {
    let lower = text.to_lowercase();
    let mut start = None;
    for (i, c) in lower.char_indices() {
        match (opts.is_token_char(c), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                f(&lower[s..i]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        f(&lower[s..]);
    }
}

/// The tokens of `text` in order, keywords included (gensim's `tokenize(text, lower=True)`
/// with our rule for `_`).
pub fn tokenize(text: &str, opts: Options) -> Vec<String> {
    let mut tokens = Vec::new();
    for_each_token(text, opts, |t| tokens.push(t.to_string()));
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(text: &str) -> Vec<String> {
        tokenize(text, Options::default())
    }

    #[test]
    fn the_keyword_list_is_sorted_and_unique() {
        assert!(JAVA_KEYWORDS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn digits_and_underscores_split_tokens_and_case_is_folded() {
        // gensim lowercases before matching, so camelCase is not split.
        assert_eq!(
            toks("getHTTP2Response_value"),
            ["gethttp", "response", "value"]
        );
        assert_eq!(toks("MAX_VALUE = 0x1F;"), ["max", "value", "x", "f"]);
        assert_eq!(toks("a1b22c"), ["a", "b", "c"]);
    }

    #[test]
    fn gensim_keeps_underscores_when_asked() {
        let opts = Options {
            underscore_joins: true,
        };
        assert_eq!(
            tokenize("getHTTP2Response_value _x", opts),
            ["gethttp", "response_value", "_x"]
        );
    }

    #[test]
    fn non_ascii_letters_are_letters() {
        assert_eq!(toks("naïve café"), ["naïve", "café"]);
        assert_eq!(toks("ĞÜŞ"), ["ğüş"]);
        assert_eq!(toks("日本語テキスト, ok"), ["日本語テキスト", "ok"]);
        // Non-letters split: punctuation, symbols, emoji, digits of any script.
        assert_eq!(toks("a€b😀c٣d"), ["a", "b", "c", "d"]);
    }

    #[test]
    fn empty_and_letterless_text_has_no_tokens() {
        assert!(toks("").is_empty());
        assert!(toks("123 + 456; // {}").is_empty());
    }

    #[test]
    fn keywords_are_recognized_after_lowercasing() {
        for k in ["class", "true", "null", "var", "goto", "yield"] {
            assert!(is_java_keyword(k), "{k}");
        }
        for k in ["string", "to", "with", "module", "main", "Class"] {
            assert!(!is_java_keyword(k), "{k}");
        }
    }
}
