//! The comparison and how it is written: a table for a terminal, JSON and an HTML
//! fragment (**AUD-24**), each with the two groups apart and their counts per tier
//! (**CMP-3**, **CMP-4**).

use std::collections::BTreeSet;
use std::fmt;
use std::fmt::Write as _;

use minimis_proto::PolicyHash;
use serde::Serialize;
use serde_json::{Value, json};

use crate::format::{About, COMPARE_FORMAT, Evidence, Verification};

/// What a gap is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Finding {
    /// The declared value fails the rule.
    Contrary,
    /// The value is declared `"unknown"` (not declared): the rule is not shown to hold
    /// (**AUD-22**).
    NotShown,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Contrary => "contrary",
            Self::NotShown => "not shown (not declared)",
        })
    }
}

/// The two groups of rules, reported apart (**CMP-3**).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Group {
    /// Legal and minimum-standard rules: what any lawful design must show, whatever its
    /// architecture (**CMP-10** to **CMP-20**).
    Baseline,
    /// minimis conformance: the design choices of this specification, which another
    /// architecture may meet otherwise.
    Conformance,
}

impl Group {
    /// Both groups, in the order they are reported.
    pub const ALL: [Self; 2] = [Self::Baseline, Self::Conformance];

    /// The group's heading.
    pub const fn title(self) -> &'static str {
        match self {
            Self::Baseline => "legal and minimum standard (any lawful design must pass)",
            Self::Conformance => {
                "minimis conformance (design choices; another architecture may meet them otherwise)"
            }
        }
    }

    const fn key(self) -> &'static str {
        match self {
            Self::Baseline => "baseline",
            Self::Conformance => "conformance",
        }
    }
}

/// How severe a gap is (**CMP-4**).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Tier {
    /// Prohibited collection: data that should not be collected at all, or collected
    /// without authority.
    A,
    /// Retention and access: how long data is kept, who can read it and be given it.
    B,
    /// Verifiability: whether anyone can check what is declared.
    C,
}

impl Tier {
    /// The three tiers, most severe first.
    pub const ALL: [Self; 3] = [Self::A, Self::B, Self::C];

    /// The tier's meaning.
    pub const fn meaning(self) -> &'static str {
        match self {
            Self::A => "prohibited collection",
            Self::B => "retention and access",
            Self::C => "verifiability",
        }
    }

    const fn letter(self) -> &'static str {
        match self {
            Self::A => "A",
            Self::B => "B",
            Self::C => "C",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.letter())
    }
}

/// One gap between the inventory and a rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// The entry: `data.<id>`, or a section (`location`, `log`, …).
    pub entry: String,
    /// The property compared.
    pub property: &'static str,
    /// What the inventory declares, in words.
    pub declared: String,
    /// Contrary, or not shown.
    pub finding: Finding,
    /// The rule's group.
    pub group: Group,
    /// The rule's tier.
    pub tier: Tier,
    /// The requirement IDs the rule rests on.
    pub requirements: &'static [&'static str],
    /// What the rule requires instead, in words.
    pub requires: String,
    /// The citation for the property: its own, or its entry's.
    pub source: Option<String>,
    /// How good that evidence is: the property's own, or its entry's.
    pub evidence: Evidence,
    /// How a reader can check the declaration: the property's own, or its entry's.
    pub verify: Vec<Verification>,
    /// The property's own note, if any.
    pub note: Option<String>,
}

/// The counts of one group.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupCounts {
    /// Properties compared.
    pub compared: usize,
    /// Gaps.
    pub gaps: usize,
    /// Gaps whose declared value fails a rule.
    pub contrary: usize,
    /// Gaps whose value is unknown.
    pub not_shown: usize,
    /// Gaps per tier: A, B, C.
    pub tiers: [usize; 3],
}

/// The result of a comparison: every gap, in inventory order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    /// The inventory's `[about]`.
    pub about: About,
    /// The policy's name.
    pub policy_name: String,
    /// The policy's hash.
    pub policy_hash: PolicyHash,
    /// How many properties the legal and minimum-standard rules compared.
    pub compared_baseline: usize,
    /// How many properties the minimis rules compared.
    pub compared_conformance: usize,
    /// The gaps.
    pub gaps: Vec<Gap>,
}

impl Comparison {
    /// Whether any gap was found.
    pub fn has_gaps(&self) -> bool {
        !self.gaps.is_empty()
    }

    /// The exit code of `minimis compare` (**AUD-24**): 0 with no gap, 1 with gaps.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.has_gaps())
    }

    /// How many properties were compared, in both groups.
    pub fn compared(&self) -> usize {
        self.compared_baseline + self.compared_conformance
    }

    /// Gaps whose declared value fails a rule.
    pub fn contrary(&self) -> usize {
        self.gaps
            .iter()
            .filter(|g| g.finding == Finding::Contrary)
            .count()
    }

    /// Gaps whose value is unknown.
    pub fn not_shown(&self) -> usize {
        self.gaps
            .iter()
            .filter(|g| g.finding == Finding::NotShown)
            .count()
    }

    /// The gaps of one group, in inventory order.
    pub fn gaps_in(&self, group: Group) -> impl Iterator<Item = &Gap> {
        self.gaps.iter().filter(move |g| g.group == group)
    }

    /// The counts of one group (**CMP-4**).
    pub fn counts(&self, group: Group) -> GroupCounts {
        let mut c = GroupCounts {
            compared: match group {
                Group::Baseline => self.compared_baseline,
                Group::Conformance => self.compared_conformance,
            },
            ..GroupCounts::default()
        };
        for g in self.gaps_in(group) {
            c.gaps += 1;
            match g.finding {
                Finding::Contrary => c.contrary += 1,
                Finding::NotShown => c.not_shown += 1,
            }
            c.tiers[g.tier as usize] += 1;
        }
        c
    }

    /// Every requirement ID named by a gap, once, sorted.
    pub fn requirements(&self) -> BTreeSet<&'static str> {
        self.gaps
            .iter()
            .flat_map(|g| g.requirements.iter().copied())
            .collect()
    }

    fn group_line(&self, group: Group) -> String {
        let c = self.counts(group);
        if c.gaps == 0 {
            format!("no gap in {} properties compared", c.compared)
        } else {
            format!(
                "{} gaps in {} properties compared (tier A {}, B {}, C {}): {} contrary, {} not shown (not declared)",
                c.gaps, c.compared, c.tiers[0], c.tiers[1], c.tiers[2], c.contrary, c.not_shown
            )
        }
    }

    fn verdict(&self) -> String {
        if self.gaps.is_empty() {
            format!(
                "no gap: all {} properties compared meet every rule",
                self.compared()
            )
        } else {
            format!(
                "{} gaps in {} properties compared: {} contrary, {} not shown (not declared)",
                self.gaps.len(),
                self.compared(),
                self.contrary(),
                self.not_shown()
            )
        }
    }

    /// The comparison as text for a terminal (**AUD-24**): the legal and minimum-standard
    /// gaps first, then the minimis ones, each group with its counts per tier.
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let a = &self.about;
        let _ = writeln!(out, "inventory   {}", a.system);
        let _ = writeln!(
            out,
            "            operator {}; agency {}",
            a.operator, a.agency
        );
        let _ = writeln!(
            out,
            "            prepared by {}, as of {}",
            a.prepared_by, a.as_of
        );
        let _ = writeln!(
            out,
            "policy      sha256:{}  \"{}\"",
            self.policy_hash, self.policy_name
        );
        let _ = writeln!(
            out,
            "tiers       A {}; B {}; C {}",
            Tier::A.meaning(),
            Tier::B.meaning(),
            Tier::C.meaning()
        );
        for group in Group::ALL {
            let _ = writeln!(out);
            let _ = writeln!(out, "== {}", group.title());
            for g in self.gaps_in(group) {
                let tag = match g.finding {
                    Finding::Contrary => "GAP",
                    Finding::NotShown => "GAP (not shown)",
                };
                let _ = writeln!(
                    out,
                    "{tag:<16} {}  {:<20} {}.{} = {}",
                    g.tier,
                    g.requirements.join(", "),
                    g.entry,
                    g.property,
                    g.declared
                );
                let _ = writeln!(out, "{:19} requires: {}", "", g.requires);
                let mut evidence = format!("evidence: {}", g.evidence);
                if !g.verify.is_empty() {
                    let v: Vec<&str> = g.verify.iter().map(|v| v.as_str()).collect();
                    let _ = write!(evidence, "; verify: {}", v.join(", "));
                }
                match &g.source {
                    Some(s) => {
                        let _ = writeln!(out, "{:19} source: {s} ({evidence})", "");
                    }
                    None => {
                        let _ = writeln!(out, "{:19} {evidence}", "");
                    }
                }
                if let Some(n) = &g.note {
                    let _ = writeln!(out, "{:19} note: {n}", "");
                }
            }
            let _ = writeln!(out, "{}: {}", group.key(), self.group_line(group));
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<66}  exit {}",
            format!("verdict: {}", self.verdict()),
            self.exit_code()
        );
        out
    }

    /// The comparison as JSON (**AUD-24**), format `minimis-compare/2`.
    pub fn to_json(&self) -> Value {
        let a = &self.about;
        let mut groups = serde_json::Map::new();
        for group in Group::ALL {
            let c = self.counts(group);
            groups.insert(
                group.key().to_owned(),
                json!({
                    "title": group.title(),
                    "compared": c.compared,
                    "gaps": c.gaps,
                    "contrary": c.contrary,
                    "not_shown": c.not_shown,
                    "tiers": { "A": c.tiers[0], "B": c.tiers[1], "C": c.tiers[2] },
                }),
            );
        }
        json!({
            "format": COMPARE_FORMAT,
            "inventory": {
                "system": a.system,
                "operator": a.operator,
                "agency": a.agency,
                "prepared_by": a.prepared_by,
                "as_of": a.as_of,
            },
            "policy": { "name": self.policy_name, "hash": self.policy_hash },
            "tiers": {
                "A": Tier::A.meaning(),
                "B": Tier::B.meaning(),
                "C": Tier::C.meaning(),
            },
            "groups": groups,
            "compared": self.compared(),
            "gaps": self.gaps,
            "contrary": self.contrary(),
            "not_shown": self.not_shown(),
            "requirements": self.requirements(),
            "verdict": if self.gaps.is_empty() { "no-gaps" } else { "gaps-found" },
            "exit": self.exit_code(),
        })
    }

    /// The comparison as an HTML fragment (a `<section>`), every string escaped, for
    /// the audit report or any page: one table per group, with its counts per tier.
    pub fn to_html(&self) -> String {
        let mut out = String::new();
        let a = &self.about;
        let _ = writeln!(
            out,
            "<section class=\"compare\" aria-labelledby=\"compare-title\">"
        );
        let _ = writeln!(
            out,
            "<h2 id=\"compare-title\">{} held against the legal minimum and minimis</h2>",
            escape(&a.system)
        );
        let _ = writeln!(
            out,
            "<p>The inventory below was prepared by {} (as of {}); it describes the system run by {} for {}. \
             Each row is a property it declares that a rule fails. Legal and minimum-standard rules are what any lawful design must show; \
             minimis conformance rules are this specification's design choices, which another architecture may meet otherwise. \
             Tiers: A {}, B {}, C {}. \
             “Not shown” means the inventory does not declare the property: a rule that cannot be shown to hold does not hold. \
             Compared with the policy “{}”.</p>",
            escape(&a.prepared_by),
            escape(&a.as_of),
            escape(&a.operator),
            escape(&a.agency),
            Tier::A.meaning(),
            Tier::B.meaning(),
            Tier::C.meaning(),
            escape(&self.policy_name),
        );
        let _ = writeln!(
            out,
            "<p class=\"verdict {}\"><strong>{}</strong></p>",
            if self.gaps.is_empty() { "ok" } else { "bad" },
            escape(&self.verdict())
        );
        for group in Group::ALL {
            let c = self.counts(group);
            let _ = writeln!(
                out,
                "<h3>{}</h3>\n<p class=\"tiers\">{}</p>",
                escape(group.title()),
                escape(&self.group_line(group))
            );
            if c.gaps == 0 {
                continue;
            }
            let _ = writeln!(out, "<table class=\"gaps\">");
            let _ = writeln!(
                out,
                "<caption>{}: gaps in {}, with the rule each fails</caption>",
                escape(group.title()),
                escape(&a.system)
            );
            let _ = writeln!(
                out,
                "<thead><tr><th scope=\"col\">what</th><th scope=\"col\">declared</th><th scope=\"col\">required</th><th scope=\"col\">tier</th><th scope=\"col\">requirement</th><th scope=\"col\">finding</th><th scope=\"col\">source</th></tr></thead>"
            );
            let _ = writeln!(out, "<tbody>");
            for g in self.gaps_in(group) {
                let mut source = match &g.source {
                    Some(s) => format!(
                        "{} <span class=\"evidence\">({})</span>",
                        escape(s),
                        g.evidence
                    ),
                    None => format!("<span class=\"evidence\">({})</span>", g.evidence),
                };
                if !g.verify.is_empty() {
                    let v: Vec<&str> = g.verify.iter().map(|v| v.as_str()).collect();
                    let _ = write!(
                        source,
                        " <span class=\"verify\">verify: {}</span>",
                        v.join(", ")
                    );
                }
                if let Some(n) = &g.note {
                    let _ = write!(source, "<br><span class=\"note\">{}</span>", escape(n));
                }
                let _ = writeln!(
                    out,
                    "<tr><th scope=\"row\">{}<br><span class=\"property\">{}</span></th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&g.entry),
                    g.property.replace('_', " "),
                    escape(&g.declared),
                    escape(&g.requires),
                    g.tier,
                    g.requirements.join(", "),
                    g.finding,
                    source
                );
            }
            let _ = writeln!(out, "</tbody>\n</table>");
        }
        let _ = writeln!(out, "</section>");
        out
    }
}

/// `s` with the five characters HTML gives a meaning escaped, for text and attribute
/// values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
