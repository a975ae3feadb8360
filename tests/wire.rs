//! The wire contract against the specification and the tree (SVC-41, SVC-42): the error
//! tables of spec/operator.md and spec/access.md are the refusal enums, and the workspace
//! builds one client TLS configuration.

use std::collections::BTreeSet;

use minimis_wire::{CustodianRefusal, OperatorRefusal, Refusal};

/// The `(status, code)` pairs of the rows of the tables in `text` whose first cell is a
/// status (or statuses) and whose second cell holds backticked codes.
fn table_pairs(text: &str, columns: usize) -> BTreeSet<(u16, String)> {
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let cells: Vec<&str> = line
            .trim()
            .trim_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        if cells.len() != columns {
            continue;
        }
        let statuses: Vec<u16> = cells[0]
            .split(',')
            .filter_map(|s| s.trim().parse().ok())
            .collect();
        if statuses.is_empty() {
            continue;
        }
        for code in cells[1].split('`').skip(1).step_by(2) {
            for s in &statuses {
                out.insert((*s, code.to_owned()));
            }
        }
    }
    out
}

fn ours<R: Refusal>() -> BTreeSet<(u16, String)> {
    R::ALL
        .iter()
        .map(|r| (r.status(), r.code().to_owned()))
        .collect()
}

fn spec(name: &str) -> String {
    std::fs::read_to_string(crate::root().join("spec").join(name)).unwrap()
}

#[test]
fn svc_41_the_specs_error_tables_are_the_refusal_enums() {
    // spec/operator.md, CHK-16: status, code, when. Exactly the operator's enum.
    let operator = spec("operator.md");
    let section = operator
        .split("**CHK-16.**")
        .nth(1)
        .and_then(|s| s.split("**CHK-17.**").next())
        .unwrap();
    assert_eq!(table_pairs(section, 3), ours::<OperatorRefusal>());

    // spec/access.md § Errors: status, code, log byte, when, requirement; then the
    // failures that are not denials, named in its text with their statuses
    // (`404 hold_unknown`); the transport's and the witness's in spec/services.md.
    let access = spec("access.md");
    let errors = access.split("## Errors").nth(1).unwrap();
    let table = table_pairs(errors, 5);
    for (s, code) in &table {
        assert_eq!(
            CustodianRefusal::from_code(code).map(CustodianRefusal::status),
            Some(*s),
            "spec/access.md's row for {code}"
        );
    }
    let services = spec("services.md");
    // A code is named as `code`, or with its status as `404 hold_unknown`.
    let tokens: Vec<&str> = [errors, services.as_str()]
        .into_iter()
        .flat_map(|t| t.split('`').skip(1).step_by(2))
        .collect();
    let mut documented = BTreeSet::new();
    for t in tokens {
        let (status, code) = match t.split_once(' ') {
            Some((n, c)) if n.len() == 3 => (n.parse::<u16>().ok(), c),
            _ => (None, t),
        };
        let Some(r) = CustodianRefusal::from_code(code) else {
            continue;
        };
        if let Some(n) = status {
            assert_eq!(n, r.status(), "the specs give `{t}`");
        }
        documented.insert(code);
    }
    let all: BTreeSet<&str> = CustodianRefusal::ALL.iter().map(|r| r.code()).collect();
    assert_eq!(documented, all, "the custodians' codes the specs name");
    // No kebab-case code is left: the old style parses as no refusal.
    assert_eq!(CustodianRefusal::from_code("purpose-not-allowed"), None);
}

/// Every `.rs` file under `dir`, with its text.
fn rust_files(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, String)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            if !path.ends_with("target") {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            out.push((path, text));
        }
    }
}

#[test]
fn svc_42_one_https_client_configuration_in_the_workspace() {
    let root = crate::root();
    let mut files = Vec::new();
    rust_files(&root.join("crates"), &mut files);
    rust_files(&root.join("src"), &mut files);
    let builders: Vec<String> = files
        .iter()
        .filter(|(_, text)| text.contains(&["ClientConfig", "::builder"].concat()))
        .map(|(p, _)| p.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    // The wire contract's, and the test kit's TLS 1.2 client that checks the services
    // refuse it.
    let allowed = ["crates/wire/src/https.rs", "crates/testkit/src/https.rs"];
    for b in &builders {
        assert!(
            allowed.contains(&b.as_str()),
            "{b} builds its own TLS client configuration: use minimis_wire::https"
        );
    }
    assert!(builders.contains(&allowed[0].to_owned()), "{builders:?}");
    // And nothing else speaks HTTP over its own connection: no hyper client handshake
    // outside the wire contract, the test kit and the operator's witness client.
    let hyper_clients: BTreeSet<String> = files
        .iter()
        .filter(|(_, text)| text.contains(&["client::conn::", "http1::handshake"].concat()))
        .map(|(p, _)| p.strip_prefix(&root).unwrap().display().to_string())
        .collect();
    assert!(
        hyper_clients.is_subset(
            &[
                "crates/wire/src/https.rs",
                "crates/testkit/src/https.rs",
                "crates/server/src/witness.rs",
            ]
            .map(str::to_owned)
            .into_iter()
            .collect()
        ),
        "{hyper_clients:?}"
    );
    assert!(hyper_clients.contains("crates/wire/src/https.rs"));
}
