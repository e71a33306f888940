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
    // Bytes first (the common, ASCII case); a run holding non-ASCII bytes is re-read by chars.
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if !is_identifier_byte(b[i]) {
            i += 1;
            continue;
        }
        let (start, mut ascii) = (i, true);
        while i < b.len() && is_identifier_byte(b[i]) {
            ascii &= b[i].is_ascii();
            i += 1;
        }
        // `i` is at an ASCII byte or the end: a char boundary.
        let run = &text[start..i];
        if ascii {
            identifier_terms(run, &mut lower, &mut f);
            continue;
        }
        let mut word_start = None;
        for (j, c) in run.char_indices().chain(std::iter::once((run.len(), ' '))) {
            if is_identifier_char(c) {
                word_start.get_or_insert(j);
            } else if let Some(s) = word_start.take() {
                identifier_terms(&run[s..j], &mut lower, &mut f);
            }
        }
    }
}

/// An identifier byte, or any byte of a non-ASCII character (sorted out by chars later).
fn is_identifier_byte(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || !c.is_ascii()
}

/// The terms of one identifier: itself, then its words if it has several (numbers have none).
fn identifier_terms(word: &str, lower: &mut String, f: &mut impl FnMut(&str)) {
    if word.starts_with(|c: char| c.is_ascii_digit()) {
        return; // a number, not a name
    }
    let mut emit = |word: &str| {
        lower.clear();
        if word.is_ascii() {
            lower.push_str(word);
            lower.make_ascii_lowercase();
        } else {
            lower.extend(word.chars().flat_map(char::to_lowercase));
        }
        if !is_java_keyword(lower) {
            f(lower);
        }
    };
    emit(word);
    let mut parts = 0;
    let mut first = "";
    for_each_word(word, |part| {
        parts += 1;
        match parts {
            1 => first = part,
            2 => {
                emit(first);
                emit(part);
            }
            _ => emit(part),
        }
    });
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
    let mut words = Vec::new();
    for_each_word(identifier, |w| words.push(w));
    words
}

/// [`split_words`] without collecting: `f` gets each word in order.
fn for_each_word<'a>(identifier: &'a str, mut f: impl FnMut(&'a str)) {
    if identifier.is_ascii() {
        return for_each_ascii_word(identifier, f);
    }
    let mut start: Option<usize> = None;
    let mut chars = identifier.char_indices().peekable();
    let mut prev: Option<char> = None;
    while let Some((i, c)) = chars.next() {
        let next = chars.peek().map(|&(_, c)| c);
        if !c.is_alphabetic() {
            if let Some(s) = start.take() {
                f(&identifier[s..i]);
            }
        } else if let (Some(s), Some(p)) = (start, prev) {
            // `aB`: a new word at B; `ABc`: a new word at B (the acronym ends before it).
            let boundary = c.is_uppercase()
                && (p.is_lowercase() || (p.is_uppercase() && next.is_some_and(char::is_lowercase)));
            if boundary {
                f(&identifier[s..i]);
                start = Some(i);
            }
        } else {
            start = Some(i);
        }
        prev = Some(c);
    }
    if let Some(s) = start {
        f(&identifier[s..]);
    }
}

/// [`for_each_word`] on bytes, for ASCII identifiers (the same rules).
fn for_each_ascii_word<'a>(identifier: &'a str, mut f: impl FnMut(&'a str)) {
    let b = identifier.as_bytes();
    let mut start: Option<usize> = None;
    for i in 0..b.len() {
        let c = b[i];
        if !c.is_ascii_alphabetic() {
            if let Some(s) = start.take() {
                f(&identifier[s..i]);
            }
        } else if let Some(s) = start {
            let (p, next) = (b[i - 1], b.get(i + 1));
            let boundary = c.is_ascii_uppercase()
                && (p.is_ascii_lowercase()
                    || (p.is_ascii_uppercase() && next.is_some_and(u8::is_ascii_lowercase)));
            if boundary {
                f(&identifier[s..i]);
                start = Some(i);
            }
        } else {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        f(&identifier[s..]);
    }
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
    fn non_ascii_identifiers_split_like_ascii_ones() {
        assert_eq!(
            split_words("größeHTTPÄnderung"),
            ["größe", "HTTP", "Änderung"]
        );
        assert_eq!(
            terms("int größeÄndern = 1; // café→x"),
            ["größeändern", "größe", "ändern", "café", "x"]
        );
    }

    #[test]
    fn words_of_string_literals_count() {
        assert_eq!(
            terms(r#"throw new Error("bad input");"#),
            ["error", "bad", "input"]
        );
    }
}
