//! The terms a focal method is indexed and queried by: its identifiers, lowercased, and the
//! camelCase / snake_case words they are made of, Java keywords left out.
//!
//! One byte-level pass, no parse: a project's focal methods are tokenized once per index, and a
//! tree-sitter parse per method would cost more than all of retrieval (see `benches/retrieve.rs`).
//! The words are those of the shared-vocabulary study (`crate::vocab::tokenize`: letters,
//! lowercased, [`is_java_keyword`] removed), with two changes that matter for retrieval: a
//! compound identifier is kept whole *and* split into its words (`getUserName` → `getusername`,
//! `get`, `user`, `name`), so `getUserName` is close to `setUserName` and closest to itself; and
//! digits stay inside identifiers (`utf8`). Words inside string literals and comments count too:
//! a message names what a method does as well as its identifiers do.

use crate::vocab::tokenize::is_java_keyword;

/// Whether `c` continues a Java identifier (JLS §3.8, for the characters that occur in practice).
fn is_identifier_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

/// Calls `f` with every term of `text`, in order, repeats included (BM25 counts them).
pub fn for_each_term(text: &str, mut f: impl FnMut(&str)) {
    let mut lower = String::new();
    let mut start = None;
    for (i, c) in text
        .char_indices()
        .chain(std::iter::once((text.len(), ' ')))
    {
        if is_identifier_char(c) {
            start.get_or_insert(i);
            continue;
        }
        let Some(s) = start.take() else { continue };
        let word = &text[s..i];
        if word.starts_with(|c: char| c.is_ascii_digit()) {
            continue; // a number, not a name
        }
        lower.clear();
        lower.extend(word.chars().flat_map(char::to_lowercase));
        if is_java_keyword(&lower) {
            continue;
        }
        f(&lower);
        let parts = split_words(word);
        if parts.len() > 1 {
            for part in parts {
                lower.clear();
                lower.extend(part.chars().flat_map(char::to_lowercase));
                if !is_java_keyword(&lower) {
                    f(&lower);
                }
            }
        }
    }
}

/// The terms of `text` as owned strings (tests and one-off queries; indexing uses
/// [`for_each_term`]).
pub fn terms(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for_each_term(text, |t| out.push(t.to_string()));
    out
}

/// The words of one identifier: split at `_`, `$`, digits and camelCase boundaries, an acronym
/// kept together (`parseHTTPResponse` → `parse`, `HTTP`, `Response`). Only runs of letters come
/// back.
pub fn split_words(identifier: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = identifier.char_indices().collect();
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    for (j, &(i, c)) in chars.iter().enumerate() {
        if !c.is_alphabetic() {
            if let Some(s) = start.take() {
                words.push(&identifier[s..i]);
            }
            continue;
        }
        let Some(s) = start else {
            start = Some(i);
            continue;
        };
        let prev = chars[j - 1].1;
        let next = chars.get(j + 1).map(|&(_, c)| c);
        // `aB`: a new word at B; `ABc`: a new word at B (the acronym ends before it).
        let boundary = c.is_uppercase()
            && (prev.is_lowercase()
                || (prev.is_uppercase() && next.is_some_and(char::is_lowercase)));
        if boundary {
            words.push(&identifier[s..i]);
            start = Some(i);
        }
    }
    if let Some(s) = start {
        words.push(&identifier[s..]);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_kept_whole_and_split_into_their_words() {
        assert_eq!(
            terms("public String getUserName() { return name; }"),
            ["string", "getusername", "get", "user", "name", "name"]
        );
    }

    #[test]
    fn acronyms_digits_and_underscores_split_words() {
        assert_eq!(
            split_words("parseHTTPResponse"),
            ["parse", "HTTP", "Response"]
        );
        assert_eq!(split_words("MAX_VALUE"), ["MAX", "VALUE"]);
        assert_eq!(split_words("utf8Decode"), ["utf", "Decode"]);
        assert_eq!(split_words("x"), ["x"]);
        assert!(split_words("_1").is_empty());
    }

    #[test]
    fn keywords_and_numbers_are_not_terms() {
        assert_eq!(terms("if (x > 0x1F && y != null) return 42;"), ["x", "y"]);
    }

    #[test]
    fn words_of_string_literals_count() {
        assert_eq!(
            terms(r#"throw new Error("bad input");"#),
            ["error", "bad", "input"]
        );
    }
}
