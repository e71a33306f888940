//! Name adaptation: a retrieved test rewritten for the query's focal method, the retrieved
//! focal method's name replaced by the query's, and the focal class's where it differs.
//!
//! A retrieved test calls the *retrieved* focal method (`calc.add(1, 2)`) and is named after it
//! (`testAdd`); the developer's test for the query calls the query's method. Replacing the name
//! is the one edit every retrieved test needs, so the `ir` strategy makes it (the issue's "no
//! learning at all" baseline does the same).
//!
//! What is replaced, in identifiers only (string and character literals, text blocks and
//! comments are copied as written):
//! - the method name as a whole identifier: `add(` → `sub(`, a method reference `::add`;
//! - the method name as a later word of a compound identifier, capitalised: `testAdd` →
//!   `testSub`, `shouldAddTwoNumbers` → `shouldSubTwoNumbers`, or after `_`: `test_add` →
//!   `test_sub`; as the *first* word only when `_` follows (`add_returnsSum`), because a leading
//!   word is usually another name (`addAll`, `getValue` for a method `get`);
//! - the class name as a word anywhere (`Calculator`, `CalculatorTest`, `newCalculator`), and
//!   its decapitalised form as the first word or after `_` (`calculator`, `calculatorUnderTest`).
//!
//! A word matches only where words start and end (camelCase boundaries, `_`, `$`, digits), so
//! `add` is not replaced inside `address` or `addAll`, nor `Foo` inside `Food`. Longer names are
//! tried first, so a method `addAll` wins over a class `Add` where both could match.

/// The simple names a test is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FocalNames<'a> {
    /// The focal method's name (`add`).
    pub method: &'a str,
    /// The focal class's simple name (`Calculator`; `Outer.Inner` is reduced to `Inner`).
    pub class: &'a str,
}

impl<'a> FocalNames<'a> {
    /// Names from a pair's `focal_method` and `focal_class` columns (a nested class's
    /// `Outer.Inner` becomes `Inner`, the name the test uses).
    pub fn new(method: &'a str, class: &'a str) -> Self {
        FocalNames {
            method,
            class: class.rsplit('.').next().unwrap_or(class),
        }
    }
}

/// Where in an identifier a rule may match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The whole identifier, its first word when `_` follows, or a word after `_`.
    Snake,
    /// The first word, whatever follows, or a word after `_`.
    First,
    /// A word after the first (a camelCase boundary, or after `_`, `$`, a digit).
    Inner,
    /// Any word.
    Anywhere,
}

#[derive(Debug, Clone)]
struct Rule {
    pattern: String,
    replacement: String,
    place: Place,
}

/// The retrieved test `test`, written for the focal method `from`, adapted to the focal method
/// `to` (see the module doc for exactly what is replaced).
pub fn adapt_test(test: &str, from: FocalNames<'_>, to: FocalNames<'_>) -> String {
    let rules = rules(from, to);
    if rules.is_empty() {
        return test.to_string();
    }
    let b = test.as_bytes();
    let mut out = String::with_capacity(test.len() + 16);
    let mut copied = 0;
    let mut i = 0;
    // Delimiters are ASCII, so byte positions found here are char boundaries.
    while i < b.len() {
        let c = b[i];
        let skip_to = match c {
            b'/' if b.get(i + 1) == Some(&b'/') => Some(find(b, i + 2, b"\n").unwrap_or(b.len())),
            b'/' if b.get(i + 1) == Some(&b'*') => {
                Some(find(b, i + 2, b"*/").map_or(b.len(), |p| p + 2))
            }
            b'"' if b[i..].starts_with(b"\"\"\"") => {
                Some(find_unescaped(b, i + 3, b"\"\"\"").map_or(b.len(), |p| p + 3))
            }
            b'"' | b'\'' => Some(find_unescaped(b, i + 1, &[c]).map_or(b.len(), |p| p + 1)),
            _ => None,
        };
        if let Some(end) = skip_to {
            i = end;
            continue;
        }
        let ch = test[i..].chars().next().expect("i is a char boundary");
        if is_identifier_start(ch) {
            let end = test[i..]
                .char_indices()
                .find(|&(_, c)| !is_identifier_part(c))
                .map_or(test.len(), |(j, _)| i + j);
            if let Some(adapted) = adapt_identifier(&test[i..end], &rules) {
                out.push_str(&test[copied..i]);
                out.push_str(&adapted);
                copied = end;
            }
            i = end;
        } else {
            i += ch.len_utf8();
        }
    }
    out.push_str(&test[copied..]);
    out
}

/// The replacement rules from `from` to `to`, longest pattern first.
fn rules(from: FocalNames<'_>, to: FocalNames<'_>) -> Vec<Rule> {
    let mut rules = Vec::new();
    let mut add = |pattern: String, replacement: String, place| {
        if !pattern.is_empty() && pattern != replacement {
            rules.push(Rule {
                pattern,
                replacement,
                place,
            });
        }
    };
    if !to.method.is_empty() {
        add(from.method.into(), to.method.into(), Place::Snake);
        add(capitalise(from.method), capitalise(to.method), Place::Inner);
    }
    if !to.class.is_empty() {
        add(from.class.into(), to.class.into(), Place::Anywhere);
        add(
            decapitalise(from.class),
            decapitalise(to.class),
            Place::First,
        );
    }
    // Stable: for equal lengths the method's rules, added first, win.
    rules.sort_by_key(|rule| std::cmp::Reverse(rule.pattern.len()));
    rules
}

/// `ident` with its matching words replaced; `None` when nothing matches.
fn adapt_identifier(ident: &str, rules: &[Rule]) -> Option<String> {
    let chars: Vec<(usize, char)> = ident.char_indices().collect();
    let mut out = String::new();
    let mut copied = 0;
    let mut j = 0;
    while j < chars.len() {
        let (i, _) = chars[j];
        if !word_starts_at(&chars, j) {
            j += 1;
            continue;
        }
        let hit = rules.iter().find(|rule| {
            let end = i + rule.pattern.len();
            if !ident[i..].starts_with(&rule.pattern) || !word_ends_at(ident, end) {
                return false;
            }
            let after_underscore = ident[..i].ends_with('_');
            match rule.place {
                Place::Anywhere => true,
                Place::Inner => i > 0,
                Place::First => i == 0 || after_underscore,
                Place::Snake => {
                    after_underscore
                        || (i == 0 && (end == ident.len() || ident[end..].starts_with('_')))
                }
            }
        });
        match hit {
            Some(rule) => {
                out.push_str(&ident[copied..i]);
                out.push_str(&rule.replacement);
                copied = i + rule.pattern.len();
                while j < chars.len() && chars[j].0 < copied {
                    j += 1;
                }
            }
            None => j += 1,
        }
    }
    (copied > 0).then(|| {
        out.push_str(&ident[copied..]);
        out
    })
}

/// Whether a word of the identifier starts at char `j`.
fn word_starts_at(chars: &[(usize, char)], j: usize) -> bool {
    if j == 0 {
        return true;
    }
    let (c, prev) = (chars[j].1, chars[j - 1].1);
    if !c.is_alphabetic() {
        return false;
    }
    if !prev.is_alphabetic() {
        return true; // after `_`, `$` or a digit
    }
    let next = chars.get(j + 1).map(|&(_, c)| c);
    c.is_uppercase()
        && (prev.is_lowercase() || (prev.is_uppercase() && next.is_some_and(char::is_lowercase)))
}

/// Whether a word can end at byte `end` of `ident`: at its end, or before a character that does
/// not continue a lowercase word.
fn word_ends_at(ident: &str, end: usize) -> bool {
    match ident[end..].chars().next() {
        None => true,
        Some(next) => !next.is_lowercase(),
    }
}

fn is_identifier_start(c: char) -> bool {
    c.is_alphabetic() || c == '_' || c == '$'
}

fn is_identifier_part(c: char) -> bool {
    c.is_alphanumeric() || c == '_' || c == '$'
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn decapitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The first index ≥ `from` where `needle` starts.
fn find(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    (from..b.len()).find(|&p| b[p..].starts_with(needle))
}

/// The first index ≥ `from` where `needle` starts outside a backslash escape; a line break
/// ends a one-line literal (unterminated, as javac's error recovery reads it).
fn find_unescaped(b: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let mut p = from;
    while p < b.len() {
        if b[p] == b'\\' {
            p += 2;
            continue;
        }
        if b[p..].starts_with(needle) {
            return Some(p);
        }
        if needle.len() == 1 && b[p] == b'\n' {
            return Some(p);
        }
        p += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capitalise_and_decapitalise_change_only_the_first_letter() {
        assert_eq!(capitalise("addAll"), "AddAll");
        assert_eq!(decapitalise("URLParser"), "uRLParser");
        assert_eq!(capitalise(""), "");
    }

    #[test]
    fn word_boundaries_follow_camel_case_and_acronyms() {
        let chars: Vec<(usize, char)> = "parseHTTPResponse".char_indices().collect();
        let starts: Vec<usize> = (0..chars.len())
            .filter(|&j| word_starts_at(&chars, j))
            .collect();
        assert_eq!(starts, [0, 5, 9]);
    }
}
