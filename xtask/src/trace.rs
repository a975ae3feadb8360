//! The traceability matrix: requirements from `spec/`, tests from the Rust sources, the
//! checks that tie them together, and `spec/traceability.md`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::ids::ReqId;
use crate::rust::test_functions_with_lines;
use crate::spec::{Definition, Level, Status, parse_markdown};

/// The generated file, relative to the repository root.
pub(crate) const MATRIX_PATH: &str = "spec/traceability.md";

/// Where tests are looked for, relative to the repository root.
const TEST_ROOTS: [&str; 3] = ["crates", "tests", "src"];
/// Where requirements are defined.
const SPEC_ROOT: &str = "spec";
/// Documents whose references and cited tests are checked but which define nothing.
const CITING_ROOTS: [&str; 1] = ["threat-model"];

/// A Markdown or Rust file, with its path relative to the repository root (`/`-separated).
#[derive(Clone, Debug)]
pub(crate) struct SourceFile {
    /// Relative path with `/` separators.
    pub(crate) path: String,
    /// Contents.
    pub(crate) text: String,
}

/// All inputs, read from disk (or built in a test).
#[derive(Clone, Debug, Default)]
pub(crate) struct Inputs {
    /// `spec/**/*.md` except the generated matrix.
    pub(crate) spec: Vec<SourceFile>,
    /// `threat-model/**/*.md`.
    pub(crate) citing: Vec<SourceFile>,
    /// `crates/**/*.rs`, `tests/**/*.rs`, `src/**/*.rs`.
    pub(crate) rust: Vec<SourceFile>,
}

/// A requirement with where it is defined.
#[derive(Clone, Debug)]
pub(crate) struct Requirement {
    /// The definition.
    pub(crate) def: Definition,
    /// The spec file, relative to `spec/`.
    pub(crate) file: String,
}

/// A test that names requirement IDs.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct TestRef {
    /// File relative to the repository root.
    pub(crate) file: String,
    /// Function name.
    pub(crate) name: String,
}

/// The result of a trace: the matrix text and every problem found.
#[derive(Debug)]
pub(crate) struct Trace {
    /// The contents `spec/traceability.md` should have.
    pub(crate) matrix: String,
    /// Problems; the trace fails if this is not empty.
    pub(crate) problems: Vec<String>,
    /// Counts for the summary line.
    pub(crate) summary: String,
}

/// Reads the inputs below `root`.
pub(crate) fn read_inputs(root: &Path) -> Result<Inputs> {
    let mut inputs = Inputs::default();
    for f in walk(root, SPEC_ROOT, "md")? {
        if f.path != MATRIX_PATH {
            inputs.spec.push(f);
        }
    }
    for r in CITING_ROOTS {
        inputs.citing.extend(walk(root, r, "md")?);
    }
    for r in TEST_ROOTS {
        inputs.rust.extend(walk(root, r, "rs")?);
    }
    Ok(inputs)
}

/// Every file with extension `ext` below `root/dir`, sorted, not following symbolic
/// links and skipping `target` and hidden directories.
fn walk(root: &Path, dir: &str, ext: &str) -> Result<Vec<SourceFile>> {
    let mut out = Vec::new();
    let mut stack = vec![root.join(dir)];
    while let Some(d) = stack.pop() {
        let entries = match fs::read_dir(&d) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e).with_context(|| format!("reading {}", d.display())),
        };
        for entry in entries {
            let entry = entry.with_context(|| format!("reading {}", d.display()))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let ft = entry.file_type()?;
            if ft.is_symlink() || name.starts_with('.') {
                continue;
            }
            if ft.is_dir() {
                if name != "target" {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == ext) {
                let text = fs::read_to_string(&path)
                    .with_context(|| format!("reading {}", path.display()))?;
                out.push(SourceFile {
                    path: relative(root, &path),
                    text,
                });
            }
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn relative(root: &Path, path: &Path) -> String {
    let rel: PathBuf = path.strip_prefix(root).unwrap_or(path).to_path_buf();
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Builds the matrix and checks it.
pub(crate) fn trace(inputs: &Inputs) -> Trace {
    let mut problems = Vec::new();

    // Requirements.
    let mut reqs: Vec<Requirement> = Vec::new();
    let mut first_def: HashMap<ReqId, String> = HashMap::new();
    let mut references: Vec<(ReqId, String)> = Vec::new();
    let mut cited_tests: Vec<(String, String)> = Vec::new();
    for f in &inputs.spec {
        let facts = parse_markdown(&f.text);
        let file = f.path.strip_prefix("spec/").unwrap_or(&f.path).to_string();
        for p in facts.problems {
            problems.push(format!("{}:{}: {}", f.path, p.line, p.message));
        }
        for d in facts.definitions {
            let here = format!("{}:{}", f.path, d.line);
            if let Some(there) = first_def.get(&d.id) {
                problems.push(format!(
                    "{here}: {} is defined twice (first at {there}); IDs are never reused: give this requirement the next free number",
                    d.id
                ));
                continue;
            }
            if d.level.is_none() {
                problems.push(format!(
                    "{here}: {} has no BCP 14 keyword (MUST, SHOULD, MAY, ...); every normative sentence needs one",
                    d.id
                ));
            }
            first_def.insert(d.id.clone(), here);
            reqs.push(Requirement {
                def: d,
                file: file.clone(),
            });
        }
        for (id, line) in facts.references {
            references.push((id, format!("{}:{line}", f.path)));
        }
        for (name, line) in facts.cited_tests {
            cited_tests.push((name, format!("{}:{line}", f.path)));
        }
    }
    for f in &inputs.citing {
        let facts = parse_markdown(&f.text);
        for d in &facts.definitions {
            problems.push(format!(
                "{}:{}: {} is defined outside spec/; define requirements in spec/ and cite them here",
                f.path, d.line, d.id
            ));
        }
        for (id, line) in facts.references {
            references.push((id, format!("{}:{line}", f.path)));
        }
        for (name, line) in facts.cited_tests {
            cited_tests.push((name, format!("{}:{line}", f.path)));
        }
    }
    reqs.sort_by_key(|r| r.def.id.sort_key());

    // Tests.
    let mut tests_by_id: HashMap<ReqId, BTreeSet<TestRef>> = HashMap::new();
    let mut all_tests: BTreeSet<String> = BTreeSet::new();
    let mut test_count = 0usize;
    for f in &inputs.rust {
        for (name, line) in test_functions_with_lines(&f.text) {
            let ids = crate::ids::test_name_ids(&name);
            all_tests.insert(name.clone());
            if ids.is_empty() {
                continue;
            }
            test_count += 1;
            for id in ids {
                if !first_def.contains_key(&id) {
                    problems.push(format!(
                        "{}:{line}: test `{name}` names {id}, which no spec file defines; rename the test or define {id}",
                        f.path
                    ));
                    continue;
                }
                tests_by_id.entry(id).or_default().insert(TestRef {
                    file: f.path.clone(),
                    name: name.clone(),
                });
            }
        }
    }

    // References and cited tests.
    let mut seen_refs = BTreeSet::new();
    for (id, at) in references {
        if !first_def.contains_key(&id) && seen_refs.insert((id.to_string(), at.clone())) {
            problems.push(format!("{at}: cites {id}, which no spec file defines"));
        }
    }
    for (name, at) in cited_tests {
        if !all_tests.contains(&name) {
            problems.push(format!(
                "{at}: cites test `{name}`, which does not exist; update the citation"
            ));
        }
    }

    // Untested MUSTs.
    for r in &reqs {
        if r.def.level == Some(Level::Must)
            && r.def.status == Status::Normative
            && !tests_by_id.contains_key(&r.def.id)
        {
            let prefix = format!(
                "{}_{}",
                r.def.id.family().to_ascii_lowercase(),
                r.def.id.number()
            );
            problems.push(format!(
                "spec/{}:{}: {} is a MUST with no test; add a test whose name starts with `{prefix}_`, or mark it `(planned: <issue>)` or `(process: <reason>)`",
                r.file, r.def.line, r.def.id
            ));
        }
    }

    let (matrix, summary) = render(&reqs, &tests_by_id, test_count);
    Trace {
        matrix,
        problems,
        summary,
    }
}

fn status_text(s: &Status) -> String {
    match s {
        Status::Normative => String::new(),
        Status::Planned(r) => format!("planned: {r}"),
        Status::Process(r) => format!("process: {r}"),
    }
}

fn render(
    reqs: &[Requirement],
    tests_by_id: &HashMap<ReqId, BTreeSet<TestRef>>,
    test_count: usize,
) -> (String, String) {
    let mut levels: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut tested, mut planned, mut process, mut untested) = (0, 0, 0, 0);
    for r in reqs {
        *levels
            .entry(match r.def.level {
                Some(Level::Must) => "MUST",
                Some(Level::Should) => "SHOULD",
                Some(Level::May) => "MAY",
                None => "none",
            })
            .or_default() += 1;
        match (&r.def.status, tests_by_id.contains_key(&r.def.id)) {
            (Status::Planned(_), _) => planned += 1,
            (Status::Process(_), _) => process += 1,
            (Status::Normative, true) => tested += 1,
            (Status::Normative, false) => untested += 1,
        }
    }
    let summary = format!(
        "{} requirements ({} MUST, {} SHOULD, {} MAY): {tested} tested, {planned} planned, {process} process, {untested} without a test; {test_count} tests name requirement IDs",
        reqs.len(),
        levels.get("MUST").copied().unwrap_or(0),
        levels.get("SHOULD").copied().unwrap_or(0),
        levels.get("MAY").copied().unwrap_or(0),
    );

    let mut s = String::new();
    s.push_str("<!-- Generated by `cargo xtask trace`. Do not edit: CI runs `cargo xtask trace --check`. -->\n\n");
    s.push_str("# Traceability matrix\n\n");
    s.push_str(
        "Every requirement defined in this specification, its level, its status and the tests \
that check it. A test checks a requirement when its function name starts with the \
requirement's ID in lower case (`ret_2_...` checks RET-2; `seal_2_ret_2_...` checks both). \
Status is empty for a requirement whose code has landed, `planned: ...` for one whose code \
has not landed yet, and `process: ...` for one that a process, not a test, checks.\n\n",
    );
    s.push_str(
        "`cargo xtask trace` writes this file and fails if a MUST requirement that is neither \
planned nor process has no test, if a test or a document names an ID that is not defined, \
if a document cites a test that does not exist, or if an ID is defined twice. \
`cargo xtask trace --check` also fails if this file is not up to date.\n\n",
    );
    let _ = writeln!(s, "{summary}.\n");
    s.push_str("| Requirement | Defined in | Level | Status | Tests |\n");
    s.push_str("| --- | --- | --- | --- | --- |\n");
    for r in reqs {
        let tests = tests_by_id
            .get(&r.def.id)
            .map(|set| {
                set.iter()
                    .map(|t| format!("`{}` ({})", t.name, t.file))
                    .collect::<Vec<_>>()
                    .join("<br>")
            })
            .unwrap_or_default();
        let level = r
            .def
            .level
            .map(|l| l.to_string())
            .unwrap_or_else(|| "none".into());
        let _ = writeln!(
            s,
            "| {id} | [{file}]({file}) | {level} | {status} | {tests} |",
            id = r.def.id,
            file = r.file,
            status = status_text(&r.def.status).replace('|', "\\|"),
        );
    }
    (s, summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str, text: &str) -> SourceFile {
        SourceFile {
            path: path.into(),
            text: text.into(),
        }
    }

    fn inputs(spec: &[(&str, &str)], rust: &[(&str, &str)], citing: &[(&str, &str)]) -> Inputs {
        Inputs {
            spec: spec.iter().map(|(p, t)| file(p, t)).collect(),
            rust: rust.iter().map(|(p, t)| file(p, t)).collect(),
            citing: citing.iter().map(|(p, t)| file(p, t)).collect(),
        }
    }

    const SPEC: &str = "\
**RET-1.** A deadline MUST be computed.

**RET-2.** (planned: custodian issue) A destroyed epoch MUST NOT open.

**ACC-1.** (process: the court reviews) Officers MUST be trained.

**AUD-1.** An auditor SHOULD keep state.
";

    #[test]
    fn a_consistent_tree_passes_and_lists_tests() {
        let t = trace(&inputs(
            &[("spec/retention.md", SPEC)],
            &[(
                "crates/seal/src/lib.rs",
                "#[test] fn ret_1_deadline() {}\n#[test] fn ret_1_ret_2_both() {}",
            )],
            &[(
                "threat-model/README.md",
                "RET-1 is checked by `ret_1_deadline`.",
            )],
        ));
        assert!(t.problems.is_empty(), "{:?}", t.problems);
        assert!(t.matrix.contains("| RET-1 | [retention.md](retention.md) | MUST |  | `ret_1_deadline` (crates/seal/src/lib.rs)<br>`ret_1_ret_2_both` (crates/seal/src/lib.rs) |"));
        assert!(t.matrix.contains("| RET-2 | [retention.md](retention.md) | MUST | planned: custodian issue | `ret_1_ret_2_both`"));
        assert!(t.matrix.contains(
            "| ACC-1 | [retention.md](retention.md) | MUST | process: the court reviews |  |"
        ));
        // Rows are in family order (ENR, CHL, CHK, LOC, SEAL, RET, ACC, LOG, AUD, POL).
        let ret = t.matrix.find("| RET-1 ").unwrap_or(usize::MAX);
        let acc = t.matrix.find("| ACC-1 ").unwrap_or(0);
        assert!(ret < acc);
    }

    #[test]
    fn an_untested_must_fails() {
        let t = trace(&inputs(&[("spec/retention.md", SPEC)], &[], &[]));
        assert_eq!(t.problems.len(), 1, "{:?}", t.problems);
        assert!(t.problems[0].contains("RET-1 is a MUST with no test"));
        assert!(t.problems[0].contains("spec/retention.md:1"));
    }

    #[test]
    fn a_test_naming_an_undefined_id_fails() {
        let t = trace(&inputs(
            &[("spec/retention.md", SPEC)],
            &[(
                "tests/tests.rs",
                "#[test] fn ret_1_ok() {}\n#[test] fn ret_9_ghost() {}",
            )],
            &[],
        ));
        assert_eq!(t.problems.len(), 1, "{:?}", t.problems);
        assert!(t.problems[0].contains("`ret_9_ghost` names RET-9"));
    }

    #[test]
    fn a_duplicate_definition_fails() {
        let t = trace(&inputs(
            &[
                ("spec/a.md", "**POL-1.** X MUST NOT happen.\n"),
                ("spec/b.md", "**POL-1.** Y MUST happen.\n"),
            ],
            &[("tests/tests.rs", "#[test] fn pol_1_x() {}")],
            &[],
        ));
        assert_eq!(t.problems.len(), 1, "{:?}", t.problems);
        assert!(t.problems[0].contains("POL-1 is defined twice (first at spec/a.md:1)"));
    }

    #[test]
    fn dangling_citations_and_missing_keywords_fail() {
        let t = trace(&inputs(
            &[(
                "spec/a.md",
                "**POL-1.** Nothing is collected.\nSee RET-7.\n",
            )],
            &[("tests/tests.rs", "#[test] fn pol_1_x() {}")],
            &[(
                "threat-model/t.md",
                "Checked by `pol_1_y`; see LOC-3.\n\n**LOC-4.** MUST.\n",
            )],
        ));
        let all = t.problems.join("\n");
        assert!(all.contains("POL-1 has no BCP 14 keyword"), "{all}");
        assert!(all.contains("spec/a.md:2: cites RET-7"), "{all}");
        assert!(
            all.contains("threat-model/t.md:1: cites test `pol_1_y`"),
            "{all}"
        );
        assert!(all.contains("threat-model/t.md:1: cites LOC-3"), "{all}");
        assert!(all.contains("LOC-4 is defined outside spec/"), "{all}");
    }

    #[test]
    fn the_matrix_is_deterministic() {
        let i = inputs(
            &[("spec/retention.md", SPEC)],
            &[
                ("b.rs", "#[test] fn ret_1_b() {}"),
                ("a.rs", "#[test] fn ret_1_a() {}"),
            ],
            &[],
        );
        let one = trace(&i).matrix;
        let mut j = i.clone();
        j.rust.reverse();
        assert_eq!(one, trace(&j).matrix);
        assert!(one.contains("`ret_1_a` (a.rs)<br>`ret_1_b` (b.rs)"));
    }

    #[test]
    fn walk_skips_target_hidden_and_symlinks() -> Result<()> {
        let root = std::env::temp_dir().join(format!("xtask-walk-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("crates/a/src"))?;
        fs::create_dir_all(root.join("crates/target"))?;
        fs::create_dir_all(root.join("crates/.hidden"))?;
        fs::write(root.join("crates/a/src/lib.rs"), "#[test] fn ret_1_x() {}")?;
        fs::write(
            root.join("crates/target/gen.rs"),
            "#[test] fn ret_1_gen() {}",
        )?;
        fs::write(root.join("crates/.hidden/h.rs"), "#[test] fn ret_1_h() {}")?;
        #[cfg(unix)]
        std::os::unix::fs::symlink(root.join("crates/a"), root.join("crates/link"))?;
        let files = walk(&root, "crates", "rs")?;
        let paths: Vec<&str> = files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["crates/a/src/lib.rs"]);
        fs::remove_dir_all(&root)?;
        Ok(())
    }
}
