//! Reading requirement definitions, ID references and cited test names out of Markdown.
//!
//! A definition is `**FAM-N.**` (bold, with the period inside) followed by an optional
//! status marker, `(planned: reason)` or `(process: reason)`, which may span lines. Its
//! text runs to the next definition or the next heading (a requirement may have several
//! paragraphs and a code block), or, in a table, to the end of its row; its level is the
//! strongest BCP 14 keyword in that text, outside code. Fenced code blocks and inline code spans are
//! never read as definitions or references, so examples can show the syntax.

use std::fmt;

use crate::ids::{FAMILIES, ReqId, parse_number, test_name_ids};

/// A requirement's level, from the BCP 14 keyword in its sentence.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Level {
    /// MAY, OPTIONAL.
    May,
    /// SHOULD, SHOULD NOT, RECOMMENDED, NOT RECOMMENDED.
    Should,
    /// MUST, MUST NOT, REQUIRED, SHALL, SHALL NOT.
    Must,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Must => "MUST",
            Level::Should => "SHOULD",
            Level::May => "MAY",
        })
    }
}

/// A requirement's status marker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Status {
    /// No marker: the code has landed and tests must check it (if MUST).
    Normative,
    /// `(planned: reason)`: its code has not landed yet.
    Planned(String),
    /// `(process: reason)`: checked by a process, not by a test.
    Process(String),
}

/// One requirement definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Definition {
    /// The ID.
    pub(crate) id: ReqId,
    /// 1-based line of the definition.
    pub(crate) line: usize,
    /// The level, or `None` if the text has no BCP 14 keyword (an error).
    pub(crate) level: Option<Level>,
    /// The status marker.
    pub(crate) status: Status,
}

/// A problem found while reading one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParseProblem {
    /// 1-based line.
    pub(crate) line: usize,
    /// What is wrong and how to fix it.
    pub(crate) message: String,
}

/// Everything read from one Markdown file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MarkdownFacts {
    /// Requirement definitions, in file order.
    pub(crate) definitions: Vec<Definition>,
    /// IDs mentioned anywhere outside code (definitions included), with their line.
    pub(crate) references: Vec<(ReqId, usize)>,
    /// Test names cited in inline code spans (`` `ret_2_...` ``), with their line.
    pub(crate) cited_tests: Vec<(String, usize)>,
    /// Malformed markers and the like.
    pub(crate) problems: Vec<ParseProblem>,
}

/// One line of prose with its inline code spans blanked out, plus the code spans.
struct Line {
    number: usize,
    /// The line as written. Byte offsets into it are offsets into `prose` too: a code
    /// span is blanked with as many spaces as it has bytes.
    raw: String,
    prose: String,
    code_spans: Vec<String>,
    /// A Markdown heading (`#` to `######`).
    heading: bool,
    /// A table row (`| ... |`).
    table_row: bool,
}

/// Reads a Markdown file.
pub(crate) fn parse_markdown(text: &str) -> MarkdownFacts {
    let lines = prose_lines(text);
    let mut facts = MarkdownFacts::default();

    for line in &lines {
        for (id, _) in find_references(&line.prose) {
            facts.references.push((id, line.number));
        }
        for span in &line.code_spans {
            let s = span.trim();
            if looks_like_test_name(s) {
                facts.cited_tests.push((s.to_string(), line.number));
            }
        }
    }

    // Definitions: find each `**FAM-N.**`, then read its text up to the end of its block.
    let mut i = 0;
    while i < lines.len() {
        let line = &lines[i];
        let starts = find_definitions(&line.prose);
        if starts.is_empty() {
            i += 1;
            continue;
        }
        for (k, (_, end, id)) in starts.iter().enumerate() {
            // Text on this line up to the next definition on the same line; the last
            // definition on a line continues onto the following lines of its block.
            // `text` is the prose (code blanked), `raw` the same bytes as written: the
            // marker is found in the prose and its reason read from the raw text, so that
            // a reason keeps the code spans it cites.
            let stop = starts.get(k + 1).map_or(line.prose.len(), |s| s.0);
            let mut text = line.prose[*end..stop].to_string();
            let mut raw = line.raw[*end..stop].to_string();
            if k + 1 == starts.len() && !line.table_row {
                let mut j = i + 1;
                while j < lines.len() && !lines[j].heading {
                    text.push(' ');
                    raw.push(' ');
                    if let Some(next) = find_definitions(&lines[j].prose).first() {
                        // A definition on a continuation line ends this one.
                        text.push_str(&lines[j].prose[..next.0]);
                        raw.push_str(&lines[j].raw[..next.0]);
                        break;
                    }
                    text.push_str(&lines[j].prose);
                    raw.push_str(&lines[j].raw);
                    j += 1;
                }
            }
            let (status, body, problem) = read_marker(&text, &raw);
            if let Some(message) = problem {
                facts.problems.push(ParseProblem {
                    line: line.number,
                    message: format!("{id}: {message}"),
                });
            }
            facts.definitions.push(Definition {
                id: id.clone(),
                line: line.number,
                level: level_of(body),
                status,
            });
        }
        i += 1;
    }
    facts
}

/// Splits the file into lines, drops fenced code blocks and blanks inline code spans.
fn prose_lines(text: &str) -> Vec<Line> {
    let mut out = Vec::new();
    let mut fence: Option<String> = None;
    for (n, raw) in text.lines().enumerate() {
        let trimmed = raw.trim_start();
        if let Some(marker) = &fence {
            if trimmed.starts_with(marker.as_str()) {
                fence = None;
            }
            // Lines inside a fence (and the closing fence) are not prose.
            out.push(Line {
                number: n + 1,
                raw: String::new(),
                prose: String::new(),
                code_spans: Vec::new(),
                heading: false,
                table_row: false,
            });
            continue;
        }
        if trimmed.starts_with("```") || trimmed.starts_with("~~~") {
            let ch = trimmed.as_bytes()[0] as char;
            let len = trimmed.chars().take_while(|c| *c == ch).count();
            fence = Some(std::iter::repeat_n(ch, len).collect());
            out.push(Line {
                number: n + 1,
                raw: String::new(),
                prose: String::new(),
                code_spans: Vec::new(),
                heading: false,
                table_row: false,
            });
            continue;
        }
        let (prose, code_spans) = split_code_spans(raw);
        out.push(Line {
            number: n + 1,
            heading: trimmed.starts_with('#'),
            table_row: trimmed.starts_with('|'),
            raw: raw.to_string(),
            prose,
            code_spans,
        });
    }
    out
}

/// Replaces each inline code span (backtick run to the same-length run) by spaces and
/// returns the spans' contents. An unmatched backtick run is kept as prose.
fn split_code_spans(line: &str) -> (String, Vec<String>) {
    let bytes = line.as_bytes();
    let mut prose = String::with_capacity(line.len());
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let run = bytes[i..].iter().take_while(|b| **b == b'`').count();
            let content_start = i + run;
            // Find a closing run of exactly the same length.
            let mut j = content_start;
            let mut close = None;
            while j < bytes.len() {
                if bytes[j] == b'`' {
                    let r = bytes[j..].iter().take_while(|b| **b == b'`').count();
                    if r == run {
                        close = Some(j);
                        break;
                    }
                    j += r;
                } else {
                    j += 1;
                }
            }
            match close {
                Some(j) => {
                    spans.push(line[content_start..j].to_string());
                    prose.extend(std::iter::repeat_n(' ', j + run - i));
                    i = j + run;
                }
                None => {
                    prose.push_str(&line[i..content_start]);
                    i = content_start;
                }
            }
        } else {
            let ch = line[i..].chars().next().unwrap_or(' ');
            prose.push(ch);
            i += ch.len_utf8();
        }
    }
    (prose, spans)
}

/// Every `**FAM-N.**` on a line: (start of `**`, end of the closing `**`, id).
fn find_definitions(prose: &str) -> Vec<(usize, usize, ReqId)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = prose[from..].find("**") {
        let start = from + pos;
        let inner_start = start + 2;
        if let Some(len) = prose[inner_start..].find("**") {
            let inner = &prose[inner_start..inner_start + len];
            if let Some(id) = inner.strip_suffix('.').and_then(ReqId::parse) {
                let end = inner_start + len + 2;
                out.push((start, end, id));
                from = end;
                continue;
            }
        }
        from = inner_start;
    }
    out
}

/// Reads an optional status marker at the start of `rest`, the prose of a definition with
/// its code spans blanked. `raw` is the same text as written (byte for byte the same
/// length): the reason is read from it, so that it keeps its code spans. Returns the
/// status, the prose after the marker, and a problem if the marker is malformed.
fn read_marker<'a>(rest: &'a str, raw: &str) -> (Status, &'a str, Option<String>) {
    debug_assert_eq!(rest.len(), raw.len());
    let t = rest.trim_start();
    let offset = rest.len() - t.len();
    if !t.starts_with('(') {
        return (Status::Normative, rest, None);
    }
    // Find the matching parenthesis.
    let mut depth = 0usize;
    let mut close = None;
    for (i, c) in t.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            _ => {}
        }
    }
    let Some(close) = close else {
        return (Status::Normative, rest, None);
    };
    let inner = t[1..close].trim();
    let inner_raw = raw.get(offset + 1..offset + close).unwrap_or(inner).trim();
    let after = &t[close + 1..];
    for (word, make) in [
        ("planned", Status::Planned as fn(String) -> Status),
        ("process", Status::Process as fn(String) -> Status),
    ] {
        if inner.starts_with(word) {
            let r = inner_raw
                .strip_prefix(word)
                .unwrap_or_default()
                .trim_start();
            return match r.strip_prefix(':').map(str::trim) {
                Some(reason) if !reason.is_empty() => {
                    let reason = reason.split_whitespace().collect::<Vec<_>>().join(" ");
                    (make(reason), after, None)
                }
                _ => (
                    make(String::new()),
                    after,
                    Some(format!(
                        "the `({word}` marker needs a reason: write `({word}: <reason>)`"
                    )),
                ),
            };
        }
    }
    // Some other parenthesis (for example an aside): not a marker.
    (Status::Normative, rest, None)
}

/// The strongest BCP 14 keyword in `text`, or `None`.
pub(crate) fn level_of(text: &str) -> Option<Level> {
    let mut level = None;
    for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        let l = match word {
            "MUST" | "REQUIRED" | "SHALL" => Some(Level::Must),
            "SHOULD" | "RECOMMENDED" => Some(Level::Should),
            "MAY" | "OPTIONAL" => Some(Level::May),
            _ => None,
        };
        if l > level {
            level = l;
        }
    }
    level
}

/// Every `FAM-N` in prose (not part of a longer word or number).
fn find_references(prose: &str) -> Vec<(ReqId, usize)> {
    let bytes = prose.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_uppercase() && (i == 0 || !is_word_byte(bytes[i - 1])) {
            let fam_len = bytes[i..]
                .iter()
                .take_while(|b| b.is_ascii_uppercase())
                .count();
            let dash = i + fam_len;
            if dash < bytes.len() && bytes[dash] == b'-' {
                let num_len = bytes[dash + 1..]
                    .iter()
                    .take_while(|b| b.is_ascii_digit())
                    .count();
                let end = dash + 1 + num_len;
                let boundary = end == bytes.len() || !is_word_byte(bytes[end]);
                // `T-DEV-3` and `GAO-22-104529` are not IDs: no dash before or after.
                let dashed = (i > 0 && bytes[i - 1] == b'-')
                    || (end < bytes.len()
                        && bytes[end] == b'-'
                        && end + 1 < bytes.len()
                        && bytes[end + 1].is_ascii_digit());
                if num_len > 0 && boundary && !dashed {
                    let fam = &prose[i..dash];
                    if FAMILIES.contains(&fam)
                        && let Some(id) =
                            parse_number(&prose[dash + 1..end]).and_then(|n| ReqId::new(fam, n))
                    {
                        out.push((id, i));
                    }
                }
                i = end.max(i + 1);
                continue;
            }
            i += fam_len;
            continue;
        }
        i += 1;
    }
    out
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// A code span that names a test by requirement ID: `ret_2_destroyed_epoch_cannot_open`.
fn looks_like_test_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        && !test_name_ids(s).is_empty()
        // A bare `ret_2` is a prefix, not a test name.
        && test_name_ids(s).len() * 2 < s.split('_').count()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defs(text: &str) -> Vec<(String, Option<Level>, Status)> {
        parse_markdown(text)
            .definitions
            .into_iter()
            .map(|d| (d.id.to_string(), d.level, d.status))
            .collect()
    }

    #[test]
    fn reads_definitions_with_level_and_status() {
        let text = "\
# Retention

**RET-2.** A destroyed epoch MUST NOT open.

- **ACC-1.** (planned: custodian issue) A request MUST name a purpose.
- **ACC-2.** (process: a court decides) The program SHOULD publish counts.

| **POL-1.** The system MUST NOT collect location. | see LOC |
";
        assert_eq!(
            defs(text),
            vec![
                ("RET-2".into(), Some(Level::Must), Status::Normative),
                (
                    "ACC-1".into(),
                    Some(Level::Must),
                    Status::Planned("custodian issue".into())
                ),
                (
                    "ACC-2".into(),
                    Some(Level::Should),
                    Status::Process("a court decides".into())
                ),
                ("POL-1".into(), Some(Level::Must), Status::Normative),
            ]
        );
    }

    #[test]
    fn level_is_the_strongest_keyword_across_continuation_lines() {
        let text = "**CHK-20.** A client MAY retry,\nbut the ledger MUST NOT record a violation.\n\nMUST elsewhere.\n";
        assert_eq!(defs(text)[0].1, Some(Level::Must));
        // A requirement may run over several paragraphs and a code block...
        let text = "**ENR-3.** The log names a tag:\n\n```\ntag = HMAC(...)\n```\n\nThe key MUST be random.\n";
        assert_eq!(defs(text)[0].1, Some(Level::Must));
        // ...up to the next heading or definition.
        let text =
            "**CHK-21.** A client MAY retry.\n\n## Next\n\nThe next section MUST not count.\n";
        assert_eq!(defs(text)[0].1, Some(Level::May));
        let text = "**CHK-22.** A client MAY retry.\n\n**CHK-23.** It MUST log.\n";
        assert_eq!(defs(text)[0].1, Some(Level::May));
        // A table row ends at its end.
        let text = "| **POL-2.** X MAY vary. |\n| other row MUST |\n";
        assert_eq!(defs(text)[0].1, Some(Level::May));
        let text = "**ENR-23.** The notice is NOT RECOMMENDED to be long.\n";
        assert_eq!(defs(text)[0].1, Some(Level::Should));
    }

    #[test]
    fn a_definition_without_keyword_has_no_level() {
        assert_eq!(defs("**RET-3.** Destruction suffices.\n")[0].1, None);
        // Lower-case "must" is not a BCP 14 keyword.
        assert_eq!(defs("**RET-3.** It must be so.\n")[0].1, None);
    }

    #[test]
    fn two_definitions_on_one_line_are_split() {
        let d = defs("**AUD-1.** It MUST hold. **AUD-2.** It MAY vary.\n");
        assert_eq!(d.len(), 2);
        assert_eq!(d[0].1, Some(Level::Must));
        assert_eq!(d[1].1, Some(Level::May));
    }

    #[test]
    fn code_is_never_a_definition_or_reference() {
        let text = "\
Write `**RET-2.** A custodian MUST ...` like this.

```text
**RET-3.** MUST inside a fence.
RET-4 here too
```
~~~
**RET-5.** MUST
~~~
";
        let facts = parse_markdown(text);
        assert!(facts.definitions.is_empty());
        assert!(facts.references.is_empty());
    }

    #[test]
    fn references_are_ids_in_prose_but_not_longer_tokens() {
        let facts = parse_markdown(
            "See RET-2, **SEAL-10** and (LOC-1). Not T-DEV-3, GAO-22-104529, RET-02, XRET-2 or FOO-1.\n",
        );
        let refs: Vec<String> = facts
            .references
            .iter()
            .map(|(id, _)| id.to_string())
            .collect();
        assert_eq!(refs, ["RET-2", "SEAL-10", "LOC-1"]);
    }

    #[test]
    fn a_marker_may_span_lines() {
        let text = "**POL-13.** (process: the reference file is reviewed\n  with each change) The file MUST ship.\n";
        let d = defs(text);
        assert_eq!(
            d[0].2,
            Status::Process("the reference file is reviewed with each change".into())
        );
        assert_eq!(d[0].1, Some(Level::Must));
        // A keyword inside the marker does not set the level.
        let d = defs("**POL-14.** (planned: MUST land soon) The file is shipped.\n");
        assert_eq!(d[0].1, None);
    }

    #[test]
    fn a_marker_keeps_the_code_it_cites() {
        // A reason that cites a test in a code span keeps it, across lines too; before,
        // the span was blanked and the reason ended in mid-sentence.
        let text = "**ENR-23.** (process: the officer confirms; the texts are tested by\n`enr_23_spanish_from_the_checked_translation`) The notice MUST exist.\n";
        let d = defs(text);
        assert_eq!(
            d[0].2,
            Status::Process(
                "the officer confirms; the texts are tested by `enr_23_spanish_from_the_checked_translation`"
                    .into()
            )
        );
        assert_eq!(d[0].1, Some(Level::Must));
        // A parenthesis inside a code span does not close the marker.
        let d = defs("**RET-9.** (planned: `f(x)` lands) A key MUST be made.\n");
        assert_eq!(d[0].2, Status::Planned("`f(x)` lands".into()));
        // A keyword in a code span of the reason does not set the level either.
        let d = defs("**RET-8.** (process: `MUST` in code) The key is destroyed.\n");
        assert_eq!(d[0].1, None);
    }

    #[test]
    fn malformed_markers_are_reported() {
        let facts = parse_markdown("**ACC-3.** (planned) A request MUST be logged.\n");
        assert_eq!(facts.problems.len(), 1);
        assert!(facts.problems[0].message.contains("needs a reason"));
        // An ordinary parenthesis is not a marker.
        let facts = parse_markdown("**ACC-4.** (For officers.) A request MUST be logged.\n");
        assert!(facts.problems.is_empty());
        assert_eq!(facts.definitions[0].status, Status::Normative);
    }

    #[test]
    fn cited_test_names_are_collected_from_code_spans() {
        let facts = parse_markdown(
            "Tests: `ret_2_destroyed_epoch_cannot_open`, `seal_9_debug_shows_no_secret`; not `ret_2`, `fn`, `cargo xtask trace`.\n",
        );
        let names: Vec<&str> = facts.cited_tests.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "ret_2_destroyed_epoch_cannot_open",
                "seal_9_debug_shows_no_secret"
            ]
        );
    }

    #[test]
    fn references_to_bold_without_period_are_not_definitions() {
        let facts = parse_markdown("As **RET-2** says, keys go.\n");
        assert!(facts.definitions.is_empty());
        assert_eq!(facts.references.len(), 1);
    }
}
