//! Comment removal for Java source by an exact lexer.
//!
//! The paper removed "licensing information and comments using regex". A line regex cannot
//! tell `"http://x"` or `'/'` from a comment, so this is a small lexer that knows exactly the
//! four things that can hide a comment opener in Java: string literals, character literals,
//! text blocks (`"""`, Java 15) and comments themselves. It does not tokenize anything else.
//!
//! It follows the JLS (§3.3, §3.7, §3.10):
//! - Unicode escapes (`\u002F`, also `\uuuu002F`) are translated first, as javac does, so an
//!   escaped `//` is a comment and an escaped letter joins its identifier. A backslash is
//!   eligible to start an escape only when preceded by an even number of raw backslashes, so
//!   `"\\u0041"` stays six characters. A UTF-16 surrogate pair of escapes becomes one char; a
//!   lone surrogate becomes U+FFFD. A malformed escape (`\u12`) is left as written.
//! - `//` runs to the end of the line (the line terminator is kept); `/* … */` ends at the
//!   first `*/` (comments do not nest: in `/* a /* b */ c */` the text ` c */` is code).
//!   An unterminated block comment runs to the end of the file.
//! - Inside `"…"` and `'…'` a backslash escapes the next character; an unterminated literal
//!   ends at the line end, as javac's error recovery does. A text block runs from `"""` to the
//!   next unescaped `"""`.
//!
//! License headers need no special case: in Java source they are comments.
//! Each comment is replaced by one space, so `a/*x*/b` is still two words.

use std::borrow::Cow;

/// The source with every comment replaced by a space; literals and code are kept verbatim
/// (after Unicode-escape translation).
pub fn strip_comments(src: &str) -> String {
    let text = translate_unicode_escapes(src);
    let b = text.as_bytes();
    let mut out = String::with_capacity(b.len());
    // All delimiters are ASCII, and UTF-8 never uses ASCII bytes inside a multi-byte
    // character, so scanning bytes is exact and every slice boundary is a char boundary.
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                out.push_str(&text[copied..i]);
                out.push(' ');
                i = b[i..]
                    .iter()
                    .position(|&c| c == b'\n' || c == b'\r')
                    .map_or(b.len(), |p| i + p);
                copied = i;
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                out.push_str(&text[copied..i]);
                out.push(' ');
                i = b[i + 2..]
                    .windows(2)
                    .position(|w| w == b"*/")
                    .map_or(b.len(), |p| i + 2 + p + 2);
                copied = i;
            }
            b'"' if b[i..].starts_with(b"\"\"\"") => i = skip_text_block(b, i + 3),
            b'"' => i = skip_literal(b, i + 1, b'"'),
            b'\'' => i = skip_literal(b, i + 1, b'\''),
            _ => i += 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// The index just past the closing `quote` of a string or char literal whose body starts at
/// `i`; at a line terminator (unterminated literal) the index of that terminator.
fn skip_literal(b: &[u8], mut i: usize, quote: u8) -> usize {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'\n' | b'\r' => return i,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// The index just past the closing `"""` of a text block whose body starts at `i`.
fn skip_text_block(b: &[u8], mut i: usize) -> usize {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' if b[i..].starts_with(b"\"\"\"") => return i + 3,
            _ => i += 1,
        }
    }
    b.len()
}

/// JLS §3.3: replaces each Unicode escape by the character it denotes.
pub fn translate_unicode_escapes(src: &str) -> Cow<'_, str> {
    if !src.contains("\\u") {
        return Cow::Borrowed(src);
    }
    let b = src.as_bytes();
    let mut out = String::with_capacity(src.len());
    let mut copied = 0;
    let mut i = 0;
    // Raw backslashes immediately before `i`; a translated `\u005c` does not count (JLS:
    // the character an escape produces takes no part in further escapes).
    let mut backslashes = 0usize;
    while i < b.len() {
        if b[i] != b'\\' {
            backslashes = 0;
            i += 1;
            continue;
        }
        let escape = if backslashes.is_multiple_of(2) {
            parse_escape(b, i)
        } else {
            None
        };
        let Some((unit, end)) = escape else {
            backslashes += 1;
            i += 1;
            continue;
        };
        out.push_str(&src[copied..i]);
        let (ch, end) = match unit {
            0xD800..=0xDBFF => match parse_escape(b, end) {
                Some((low @ 0xDC00..=0xDFFF, after)) => {
                    let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                    (char::from_u32(code).unwrap_or('\u{FFFD}'), after)
                }
                _ => ('\u{FFFD}', end),
            },
            _ => (char::from_u32(unit).unwrap_or('\u{FFFD}'), end),
        };
        out.push(ch);
        i = end;
        copied = end;
        backslashes = 0;
    }
    out.push_str(&src[copied..]);
    Cow::Owned(out)
}

/// `\u+XXXX` at `i`: the UTF-16 code unit and the index after it.
fn parse_escape(b: &[u8], i: usize) -> Option<(u32, usize)> {
    if b.get(i) != Some(&b'\\') || b.get(i + 1) != Some(&b'u') {
        return None;
    }
    let mut j = i + 1;
    while b.get(j) == Some(&b'u') {
        j += 1;
    }
    let hex = b.get(j..j + 4)?;
    if !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let unit = hex.iter().fold(0u32, |acc, &h| {
        acc * 16 + (h as char).to_digit(16).unwrap_or(0)
    });
    Some((unit, j + 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(src: &str) -> Vec<String> {
        strip_comments(src)
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn a_license_header_and_javadoc_are_removed() {
        let src = "/*\n * Copyright 2020 ACME\n * Licensed under the Apache License\n */\n\
                   package p;\n/** Docs for {@link Foo}. */\nclass Foo {}\n";
        let out = strip_comments(src);
        assert!(!out.contains("Copyright") && !out.contains("Apache") && !out.contains("Docs"));
        assert!(out.contains("package p;") && out.contains("class Foo {}"));
    }

    #[test]
    fn slashes_inside_a_string_are_not_a_comment() {
        let src = r#"String u = "http://example.org/*x*/"; // trailing note"#;
        assert_eq!(
            strip_comments(src),
            r#"String u = "http://example.org/*x*/";  "#
        );
    }

    #[test]
    fn escaped_quotes_do_not_end_a_string() {
        let src = r#"s = "a \" // still string"; t = 1; // gone"#;
        assert_eq!(
            strip_comments(src),
            r#"s = "a \" // still string"; t = 1;  "#
        );
        let src = r#"s = "ends with backslash \\"; // gone"#;
        assert_eq!(strip_comments(src), r#"s = "ends with backslash \\";  "#);
    }

    #[test]
    fn char_literals_hide_quotes_and_slashes() {
        let src = "c = '\"'; d = '/'; e = '\\''; // gone\nf = '/' / 2;";
        assert_eq!(
            strip_comments(src),
            "c = '\"'; d = '/'; e = '\\'';  \nf = '/' / 2;"
        );
    }

    #[test]
    fn a_text_block_keeps_comment_like_text_and_inner_quotes() {
        let src = "String q = \"\"\"\n    // not a comment\n    \"quoted\" /* kept */\n    \"\"\"; // gone\nint x;";
        let out = strip_comments(src);
        assert!(out.contains("// not a comment") && out.contains("/* kept */"));
        assert!(out.contains("\"quoted\"") && !out.contains("gone") && out.ends_with("int x;"));
    }

    #[test]
    fn block_comments_do_not_nest() {
        assert_eq!(words("a /* b /* c */ d */ e"), ["a", "d", "*/", "e"]);
        assert_eq!(words("a /* // b */ c"), ["a", "c"]);
        assert_eq!(words("a // b /* c\nd */"), ["a", "d", "*/"]);
    }

    #[test]
    fn a_comment_separates_words() {
        assert_eq!(words("foo/*x*/bar"), ["foo", "bar"]);
    }

    #[test]
    fn unterminated_comments_and_literals_stop_sensibly() {
        assert_eq!(words("a /* never closed\nb"), ["a"]);
        // An unterminated string ends at the line: the next line's comment is still a comment.
        assert_eq!(words("s = \"open\nb // c"), ["s", "=", "\"open", "b"]);
    }

    #[test]
    fn unicode_escapes_are_translated_before_lexing() {
        // javac reads `\u002F\u002F` as `//`: the rest of the line is a comment.
        assert_eq!(
            words("int a; \\u002F\\u002F hidden\nint b;"),
            ["int", "a;", "int", "b;"]
        );
        assert_eq!(strip_comments("caf\\u00e9 = 1;"), "café = 1;");
        assert_eq!(strip_comments("x\\uuuu0041"), "xA");
        // An escaped backslash before `u` is not an escape.
        assert_eq!(strip_comments(r#""\\u0041""#), r#""\\u0041""#);
        // A surrogate pair of escapes is one character; a lone surrogate is replaced.
        assert_eq!(strip_comments("\\uD83D\\uDE00"), "😀");
        assert_eq!(strip_comments("\\uD83Dx"), "\u{FFFD}x");
        // Malformed: left as written.
        assert_eq!(strip_comments("\\u12 z"), "\\u12 z");
    }

    #[test]
    fn non_ascii_text_survives_byte_scanning() {
        let src = "String s = \"naïve — ünïcödé\"; /* ü */ int ß;";
        assert_eq!(
            strip_comments(src),
            "String s = \"naïve — ünïcödé\";   int ß;"
        );
    }

    #[test]
    fn line_terminators_are_kept() {
        assert_eq!(strip_comments("a // x\r\nb // y\rc"), "a  \r\nb  \rc");
    }
}
