//! Finding test functions in Rust source without a Rust parser.
//!
//! A small lexer skips comments, string, byte-string, raw-string and character literals
//! (so a test written inside a string or a comment is not a test), and yields identifiers
//! and punctuation. A function is a test when an attribute whose path ends in `test`
//! (`#[test]`, `#[tokio::test]`, `#[tokio::test(flavor = "multi_thread")]`,
//! `#[async_std::test]`), `rstest`, `test_case` or `proptest` stands before it, with only
//! other attributes and the qualifiers `pub`, `pub(..)`, `async`, `unsafe`, `const`,
//! `extern "C"` in between. Functions written inside `proptest! { ... }` carry `#[test]`
//! themselves and are found the same way.

/// A token: an identifier or a punctuation character.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Token {
    /// An identifier and the 1-based line it is on.
    Ident(String, usize),
    Punct(char),
    /// A string or character literal (its content is irrelevant).
    Literal,
}

fn lex(src: &str) -> Vec<Token> {
    let chars: Vec<char> = src.chars().collect();
    // line_of[i]: the 1-based line of chars[i].
    let mut line_of = Vec::with_capacity(chars.len());
    let mut line = 1;
    for c in &chars {
        line_of.push(line);
        if *c == '\n' {
            line += 1;
        }
    }
    let line_at = |i: usize| line_of.get(i).copied().unwrap_or(line);
    let n = chars.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let c = chars[i];
        // Comments.
        if c == '/' && i + 1 < n && chars[i + 1] == '/' {
            while i < n && chars[i] != '\n' {
                i += 1;
            }
            continue;
        }
        if c == '/' && i + 1 < n && chars[i + 1] == '*' {
            let mut depth = 1;
            i += 2;
            while i < n && depth > 0 {
                if chars[i] == '/' && i + 1 < n && chars[i + 1] == '*' {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && i + 1 < n && chars[i + 1] == '/' {
                    depth -= 1;
                    i += 2;
                } else {
                    i += 1;
                }
            }
            continue;
        }
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        // Identifiers, and the prefixes of raw strings, byte strings and C strings.
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < n && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let prefix = matches!(word.as_str(), "r" | "br" | "cr" | "b" | "c");
            if prefix && i < n && (chars[i] == '"' || (chars[i] == '#' && word.ends_with('r'))) {
                if word.ends_with('r') {
                    // Raw string: r#*"..."#*; `r#ident` is a raw identifier.
                    let hashes = chars[i..].iter().take_while(|c| **c == '#').count();
                    if i + hashes < n && chars[i + hashes] == '"' {
                        i += hashes + 1;
                        loop {
                            if i >= n {
                                break;
                            }
                            if chars[i] == '"'
                                && chars[i + 1..]
                                    .iter()
                                    .take(hashes)
                                    .filter(|c| **c == '#')
                                    .count()
                                    == hashes
                                && i + hashes < n
                            {
                                i += 1 + hashes;
                                break;
                            }
                            i += 1;
                        }
                        out.push(Token::Literal);
                        continue;
                    }
                    if hashes == 1 && word == "r" {
                        // Raw identifier `r#name`.
                        i += 1;
                        let s = i;
                        while i < n && (chars[i].is_alphanumeric() || chars[i] == '_') {
                            i += 1;
                        }
                        out.push(Token::Ident(chars[s..i].iter().collect(), line_at(s)));
                        continue;
                    }
                } else {
                    i = skip_quoted(&chars, i, '"');
                    out.push(Token::Literal);
                    continue;
                }
            }
            if word == "b" && i < n && chars[i] == '\'' {
                i = skip_quoted(&chars, i, '\'');
                out.push(Token::Literal);
                continue;
            }
            out.push(Token::Ident(word, line_at(start)));
            continue;
        }
        if c == '"' {
            i = skip_quoted(&chars, i, '"');
            out.push(Token::Literal);
            continue;
        }
        if c == '\'' {
            // A character literal ('x', '\n', '\u{1F600}') or a lifetime ('a).
            if i + 1 < n && chars[i + 1] == '\\' {
                i = skip_quoted(&chars, i, '\'');
                out.push(Token::Literal);
            } else if i + 2 < n && chars[i + 2] == '\'' {
                i += 3;
                out.push(Token::Literal);
            } else {
                i += 1; // lifetime: the name follows as an identifier
            }
            continue;
        }
        out.push(Token::Punct(c));
        i += 1;
    }
    out
}

/// Skips a quoted literal starting at `chars[start] == quote`, honouring backslash
/// escapes; returns the index after the closing quote.
fn skip_quoted(chars: &[char], start: usize, quote: char) -> usize {
    let mut i = start + 1;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    i
}

/// Whether an attribute path (`test`, `tokio::test`, `rstest`) marks a test.
fn is_test_attribute(path: &[String]) -> bool {
    matches!(
        path.last().map(String::as_str),
        Some("test" | "rstest" | "test_case" | "proptest")
    ) && path.first().map(String::as_str) != Some("cfg")
}

/// The names of all test functions in `src` with their 1-based lines, in source order.
pub(crate) fn test_functions_with_lines(src: &str) -> Vec<(String, usize)> {
    let tokens = lex(src);
    let mut out = Vec::new();
    let mut pending = false; // a test attribute was seen and no item has started yet
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            Token::Punct('#') => {
                // `#[...]` or `#![...]`.
                let mut j = i + 1;
                let inner = matches!(tokens.get(j), Some(Token::Punct('!')));
                if inner {
                    j += 1;
                }
                if !matches!(tokens.get(j), Some(Token::Punct('['))) {
                    i += 1;
                    continue;
                }
                // The path: identifiers separated by `::`.
                let mut path = Vec::new();
                let mut k = j + 1;
                while let Some(tok) = tokens.get(k) {
                    match tok {
                        Token::Ident(s, _) => path.push(s.clone()),
                        Token::Punct(':') => {}
                        _ => break,
                    }
                    k += 1;
                }
                // Skip to the matching `]`.
                let mut depth = 0usize;
                while let Some(tok) = tokens.get(k) {
                    match tok {
                        Token::Punct('[' | '(' | '{') => depth += 1,
                        Token::Punct(']') if depth == 0 => break,
                        Token::Punct(']' | ')' | '}') => depth = depth.saturating_sub(1),
                        _ => {}
                    }
                    k += 1;
                }
                if !inner && is_test_attribute(&path) {
                    pending = true;
                }
                i = k + 1;
            }
            Token::Ident(word, _) if pending => match word.as_str() {
                "pub" | "async" | "unsafe" | "const" | "extern" => {
                    i += 1;
                    // `pub(crate)`, `pub(in path)`.
                    if word == "pub" && matches!(tokens.get(i), Some(Token::Punct('('))) {
                        while i < tokens.len() && tokens[i] != Token::Punct(')') {
                            i += 1;
                        }
                        i += 1;
                    }
                }
                "fn" => {
                    if let Some(Token::Ident(name, line)) = tokens.get(i + 1) {
                        out.push((name.clone(), *line));
                    }
                    pending = false;
                    i += 2;
                }
                _ => {
                    pending = false;
                    i += 1;
                }
            },
            Token::Literal if pending => {
                // `extern "C"`.
                i += 1;
            }
            _ => {
                pending = false;
                i += 1;
            }
        }
    }
    out
}

/// The names of all test functions in `src`, in source order.
#[cfg(test)]
fn test_functions(src: &str) -> Vec<String> {
    test_functions_with_lines(src)
        .into_iter()
        .map(|(n, _)| n)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_the_line_of_each_test() {
        let src = "// one\n#[test]\nfn ret_1_a() {}\n\n#[test] fn ret_1_b() {}\n";
        assert_eq!(
            test_functions_with_lines(src),
            [("ret_1_a".to_string(), 3), ("ret_1_b".to_string(), 5)]
        );
    }

    #[test]
    fn finds_plain_async_and_attributed_tests() {
        let src = r#"
            #[test]
            fn ret_2_destroyed_epoch_cannot_open() {}

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn chk_11_server_refuses() {}

            #[test]
            #[should_panic(expected = "boom [x]")]
            /// Doc comment.
            pub(crate) fn seal_4_bound() {}

            #[cfg(test)]
            fn not_a_test() {}

            #[rstest]
            #[case(1)]
            fn pol_10_cases(#[case] n: u8) {}

            fn helper() {}
        "#;
        assert_eq!(
            test_functions(src),
            [
                "ret_2_destroyed_epoch_cannot_open",
                "chk_11_server_refuses",
                "seal_4_bound",
                "pol_10_cases"
            ]
        );
    }

    #[test]
    fn finds_tests_inside_proptest_blocks() {
        let src = r#"
            proptest! {
                #![proptest_config(ProptestConfig::with_cases(64))]
                #[test]
                fn chk_1_round_trip(id in any::<[u8; 16]>(), note in "\\PC{0,120}") {
                    prop_assert!(true);
                }

                #[test]
                fn chk_2_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {}
            }
        "#;
        assert_eq!(
            test_functions(src),
            ["chk_1_round_trip", "chk_2_decode_never_panics"]
        );
    }

    #[test]
    fn comments_and_literals_hide_nothing_and_fake_nothing() {
        let src = r##"
            // #[test] fn ret_1_in_a_line_comment() {}
            /* #[test] fn ret_1_in_a_block /* nested */ comment() {} */
            const S: &str = "#[test] fn ret_1_in_a_string() {}";
            const R: &str = r#"#[test] fn ret_1_in_a_raw_string() {} "quoted" "#;
            const B: &[u8] = b"#[test] fn x() {}";
            const C: char = '"';
            const Q: char = '\'';
            fn lifetimes<'a>(x: &'a str) -> &'a str { x }
            #[test]
            fn ret_1_real() { let _ = '#'; let _ = "}"; }
        "##;
        assert_eq!(test_functions(src), ["ret_1_real"]);
    }

    #[test]
    fn an_item_between_attribute_and_fn_cancels_it() {
        let src = "#[test] mod m { fn inner() {} }\n#[test] struct S; fn after() {}";
        assert!(test_functions(src).is_empty());
    }

    #[test]
    fn raw_identifiers_are_identifiers() {
        let src = "#[test] fn r#chk_1_raw() {}";
        // `fn` is followed by the raw identifier's name.
        assert_eq!(test_functions(src), ["chk_1_raw"]);
    }
}
