//! Nothing the repository builds, tests or runs reads outside it: a stranger's clone, with
//! nothing beside it, must pass its own test command.
//!
//! Two checks keep this true. `.ci/run` runs everything in a copy of the tree placed in an
//! otherwise empty folder, so a read of a sibling folder fails there as it would on a
//! stranger's machine. This test is the fast, static half: it scans every source, script
//! and manifest in the repository for paths that leave it (a sibling folder, an absolute
//! path of a developer's machine, or `CARGO_MANIFEST_DIR` followed by more `..` than the
//! crate is deep).

use std::path::{Path, PathBuf};

/// Folders that are not the repository's own source: build output and vendored data.
const SKIP_DIRS: [&str; 5] = ["target", ".git", "book", "corpus", "artifacts"];

/// Files a build, a test or a script reads or runs.
fn is_checked(path: &Path) -> bool {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
    matches!(ext, "rs" | "toml" | "sh" | "py" | "js" | "json")
        || name == "run"
        || path
            .parent()
            .is_some_and(|p| p.file_name().is_some_and(|n| n == ".ci"))
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            let name = e.file_name();
            if !SKIP_DIRS.iter().any(|s| name == *s) {
                walk(&p, out);
            }
        } else if kind.is_file() && is_checked(&p) {
            out.push(p);
        }
    }
}

/// How many folders `dir` (a crate's manifest folder) lies below the repository root.
fn depth_below(root: &Path, dir: &Path) -> usize {
    dir.strip_prefix(root).map_or(0, |d| d.components().count())
}

/// The folder of the nearest `Cargo.toml` at or above `file`'s folder.
fn manifest_dir(root: &Path, file: &Path) -> PathBuf {
    let mut dir = file.parent().unwrap_or(root).to_path_buf();
    while dir.starts_with(root) {
        if dir.join("Cargo.toml").is_file() {
            return dir;
        }
        if !dir.pop() {
            break;
        }
    }
    root.to_path_buf()
}

/// Whether the `/` at byte `i` of `line` begins an absolute path, rather than continuing a
/// relative one (`fuzz/work/`) or a variable's (`$here/work/`).
fn starts_a_path(line: &str, i: usize) -> bool {
    !line[..i]
        .chars()
        .next_back()
        .is_some_and(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/' | '}' | '$'))
}

/// Every way `text`, found in a file whose crate lies `depth` folders below the root,
/// names a path outside the repository.
fn escapes(text: &str, depth: usize) -> Vec<String> {
    let mut found = Vec::new();
    // A sibling of the repository (the developers' shared folder, say), however it is
    // reached. The needles are built so that this file does not match itself.
    let sibling = ["..", "/shared"].concat();
    let workplace = ["/", "work", "/"].concat();
    // A line may say why it must look outside (CI's offline advisory database, an input
    // like the network) with the marker and a reason; nothing built or tested may.
    let allow = ["hermetic-", "allow:"].concat();
    for (n, line) in text.lines().enumerate() {
        if line
            .find(&allow)
            .is_some_and(|i| !line[i + allow.len()..].trim().is_empty())
        {
            continue;
        }
        if line.contains(&sibling) {
            found.push(format!(
                "line {}: reads a sibling folder: {}",
                n + 1,
                line.trim()
            ));
        }
        if line
            .match_indices(&workplace)
            .any(|(i, _)| starts_a_path(line, i))
        {
            found.push(format!(
                "line {}: names an absolute path of a developer's machine: {}",
                n + 1,
                line.trim()
            ));
        }
    }
    // `CARGO_MANIFEST_DIR` followed, within a few lines, by a literal that climbs out.
    let var = ["CARGO_", "MANIFEST_DIR"].concat();
    let mut at = 0;
    while let Some(i) = text[at..].find(&var) {
        let start = at + i + var.len();
        let window: String = text[start..].chars().take(240).collect();
        if let Some(q) = window.find("\"/") {
            let lit: String = window[q + 1..].chars().take_while(|c| *c != '"').collect();
            let ups = lit
                .split('/')
                .filter(|s| !s.is_empty())
                .take_while(|s| *s == "..")
                .count();
            if ups > depth {
                let line = text[..start].lines().count();
                found.push(format!(
                    "line {line}: {var} + \"{lit}\" climbs {ups} folders from a crate {depth} below the root"
                ));
            }
        }
        at = start;
    }
    found
}

#[test]
fn nothing_in_the_repository_reads_outside_it() {
    let root = crate::root();
    let mut files = Vec::new();
    walk(&root, &mut files);
    assert!(
        files.len() > 100,
        "the scan found only {} files: is the root right?",
        files.len()
    );
    let mut problems = Vec::new();
    for f in &files {
        let Ok(text) = std::fs::read_to_string(f) else {
            continue;
        };
        let depth = depth_below(&root, &manifest_dir(&root, f));
        for p in escapes(&text, depth) {
            problems.push(format!(
                "{}: {p}",
                f.strip_prefix(&root).unwrap_or(f).display()
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "paths outside the repository (a stranger's clone has nothing beside it):\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_scan_catches_the_ways_a_path_leaves_the_repository() {
    // The very lines that once made a fresh clone fail (crates/log, two folders deep).
    let sibling = ["\"/../../..", "/shared/vectors/signed-note/\""].concat();
    let var = ["CARGO_", "MANIFEST_DIR"].concat();
    let old = format!("concat!(\n    env!(\"{var}\"),\n    {sibling}\n)");
    assert_eq!(escapes(&old, 2).len(), 2, "{:?}", escapes(&old, 2));
    // Three folders up from a crate two deep leaves the repository, even to another name.
    let other = format!("concat!(env!(\"{var}\"), \"/../../../vectors/x.json\")");
    assert_eq!(escapes(&other, 2).len(), 1);
    // Two folders up from a crate two deep is the root: allowed.
    let spec = format!("concat!(env!(\"{var}\"), \"/../../spec/log.md\")");
    assert!(escapes(&spec, 2).is_empty());
    // The crate's own folder: allowed.
    let own = format!("concat!(env!(\"{var}\"), \"/testdata/signed-note/\")");
    assert!(escapes(&own, 2).is_empty());
    // From the root package, one folder up already leaves.
    let up = format!("Path::new(env!(\"{var}\")).join(\"/../x\")");
    assert_eq!(escapes(&up, 0).len(), 1);
    // An absolute path of this workplace.
    let abs = ["let p = \"/", "work/", "shared/advisory-db\";"].concat();
    assert_eq!(escapes(&abs, 0).len(), 1);
    let arg = ["cd ", "/work", "/main && cargo test"].concat();
    assert_eq!(escapes(&arg, 0).len(), 1);
    // A folder of that name inside the repository, or below a variable, is not one.
    let inside = ["mkdir -p \"$here/", "work/logs\" fuzz/", "work/x"].concat();
    assert!(escapes(&inside, 0).is_empty(), "{:?}", escapes(&inside, 0));
    // A line that says why it must look outside is let through; only with a reason.
    let ci = [
        "db=../",
        "shared/advisory-db  # hermetic-",
        "allow: CI's advisory input",
    ]
    .concat();
    assert!(escapes(&ci, 0).is_empty());
    let bare = ["db=../", "shared/advisory-db  # hermetic-", "allow:"].concat();
    assert_eq!(escapes(&bare, 0).len(), 1);
}
