//! The trust split is made of crates: the crates the operator's server is built from have
//! no code path that decrypts (SEAL-11). The first test runs the very command an auditor
//! would, `cargo tree -e normal -p <crate>`. The second reads their source: `ring`, which
//! `rustls` needs for TLS, implements X25519 and ChaCha20-Poly1305, so its presence in the
//! tree is allowed, and what the operator's own code calls of it is checked instead.

use std::collections::BTreeSet;

/// The normal (not dev, not build) dependencies of a workspace crate, by name.
fn normal_dependencies(krate: &str) -> BTreeSet<String> {
    dependencies_with(krate, &[])
}

/// As [`normal_dependencies`], with more `cargo tree` flags (features).
fn dependencies_with(krate: &str, flags: &[&str]) -> BTreeSet<String> {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}", "-p", krate])
        .args(flags)
        .current_dir(crate::root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let deps: BTreeSet<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    assert!(deps.contains(krate), "cargo tree listed {krate}: {deps:?}");
    deps
}

#[test]
fn seal_11_svc_17_svc_40_verifying_crates_cannot_decrypt() {
    // The operator's server and every crate it is built from, the service toolkit every
    // listener shares and the wire contract every client and service shares included.
    for krate in [
        "minimis-server",
        "minimis-proto",
        "minimis-crypto",
        "minimis-log",
        "minimis-service",
        "minimis-wire",
    ] {
        let deps = normal_dependencies(krate);
        for forbidden in [
            "age",
            "age-core",
            "minimis-seal",
            "x25519-dalek",
            "chacha20poly1305",
        ] {
            assert!(
                !deps.contains(forbidden),
                "{krate} depends on {forbidden}: the operator side must have no code path that decrypts"
            );
        }
    }
    // The check is not vacuous: the sealing crate does depend on age and x25519.
    let seal = normal_dependencies("minimis-seal");
    assert!(
        seal.contains("age") && seal.contains("x25519-dalek"),
        "{seal:?}"
    );
}

/// The crates the operator's server is built from (SEAL-11), the service toolkit (SVC-17),
/// the wire contract (SVC-40) and the operator's binary (SEAL-25) included.
const OPERATOR_CRATES: [&str; 7] = [
    "server", "proto", "crypto", "log", "service", "wire", "operator",
];

/// The modules of `ring` that the operator's own code may use: hashing, tags, randomness
/// and signatures. Not `agreement` (X25519) or `aead` (ChaCha20-Poly1305), which only
/// `rustls` calls, for TLS.
const RING_MODULES_ALLOWED: [&str; 5] = ["digest", "hmac", "rand", "signature", "error"];

/// Every module of `ring` that the Rust files under `dir` name: `ring::m::...`,
/// `use ring::m`, `use ring::{m, n::...}`. A path inside another crate
/// (`rustls::crypto::ring::...`) is that crate's module, not `ring`'s. Line comments are
/// skipped, so prose about X25519 does not count.
fn ring_modules_named(dir: &std::path::Path) -> BTreeSet<String> {
    fn is_ident(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b == b'_'
    }
    fn ident(s: &str) -> String {
        s.trim_start()
            .bytes()
            .take_while(|b| is_ident(*b))
            .map(char::from)
            .collect()
    }
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let code: String = text
                .lines()
                .map(|l| l.split("//").next().unwrap_or(""))
                .collect::<Vec<_>>()
                .join("\n");
            let bytes = code.as_bytes();
            let mut from = 0;
            while let Some(pos) = code[from..].find("ring::") {
                let at = from + pos;
                from = at + "ring::".len();
                // `ring` must be a path's first segment, not the end of a word
                // (`String::`) or a module of another crate (`...::ring::`).
                if at > 0 && (is_ident(bytes[at - 1]) || bytes[at - 1] == b':') {
                    continue;
                }
                let rest = &code[from..];
                if let Some(group) = rest.trim_start().strip_prefix('{') {
                    let inner = group.split('}').next().unwrap_or("");
                    for item in inner.split(',') {
                        let name = ident(item);
                        if !name.is_empty() {
                            found.insert(name);
                        }
                    }
                } else {
                    let name = ident(rest);
                    if !name.is_empty() {
                        found.insert(name);
                    }
                }
            }
        }
    }
    found
}

#[test]
fn seal_11_operator_code_uses_ring_only_for_digests_hmac_randomness_and_signatures() {
    let mut all = BTreeSet::new();
    for krate in OPERATOR_CRATES {
        let dir = crate::root().join("crates").join(krate).join("src");
        let named = ring_modules_named(&dir);
        for module in &named {
            assert!(
                RING_MODULES_ALLOWED.contains(&module.as_str()),
                "crates/{krate} uses ring::{module}: the operator's own code may use ring only \
                 for {RING_MODULES_ALLOWED:?}; key agreement and AEADs are for TLS, through rustls"
            );
        }
        all.extend(named);
    }
    // The scan sees what is there: the operator's crates do hash and sign with ring...
    assert!(
        all.contains("digest") && all.contains("signature"),
        "{all:?}"
    );
    // ...and it would see a module outside the list: the participant's device derives its
    // PIN check with ring's PBKDF2, which the operator's code must not need.
    let client = ring_modules_named(&crate::root().join("crates/client/src"));
    assert!(client.contains("pbkdf2"), "{client:?}");
}

#[test]
fn svc_15_without_the_development_pki_the_services_link_no_certificate_generator() {
    for krate in ["minimis-server", "minimis-custodian", "minimis-service"] {
        let production = dependencies_with(krate, &["--no-default-features"]);
        assert!(
            !production.contains("rcgen"),
            "{krate} built with --no-default-features still links rcgen"
        );
        assert!(production.contains("minimis-service") || krate == "minimis-service");
    }
    // The check is not vacuous: the default build (development, tests, the demo) has it.
    for krate in ["minimis-server", "minimis-custodian"] {
        assert!(normal_dependencies(krate).contains("rcgen"), "{krate}");
    }
}

#[test]
fn svc_40_the_wire_contract_is_shared_by_every_side_and_its_https_client_is_optional() {
    // Every side of every HTTP interface builds on the one contract.
    for krate in [
        "minimis-server",
        "minimis-custodian",
        "minimis-client",
        "minimis",
    ] {
        assert!(
            normal_dependencies(krate).contains("minimis-wire"),
            "{krate} does not use the wire contract"
        );
    }
    // A mobile app that brings its own HTTP stack builds the device library without
    // the HTTPS client, and so without hyper, rustls or tokio.
    let bare = dependencies_with("minimis-client", &["--no-default-features"]);
    for heavy in ["hyper", "rustls", "tokio"] {
        assert!(
            !bare.contains(heavy),
            "minimis-client without its https feature links {heavy}"
        );
    }
    assert!(normal_dependencies("minimis-client").contains("rustls"));
}

#[test]
fn svc_16_the_services_build_no_http2() {
    // Both services speak HTTP/1.1 only; hyper's HTTP/2 (h2) is not compiled in.
    for krate in [
        "minimis-server",
        "minimis-custodian",
        "minimis-service",
        "minimis-wire",
    ] {
        assert!(
            !normal_dependencies(krate).contains("h2"),
            "{krate} links h2"
        );
    }
}

#[test]
fn obl_1_the_agency_case_system_holds_no_epoch_key_and_nothing_else_links_it() {
    // The case system links no custodian, no operator and no device crate: it cannot hold
    // or reach a custodian's epoch key, the operator's keys or a device key.
    let agency = normal_dependencies("minimis-agency");
    for forbidden in [
        "minimis-custodian",
        "minimis-server",
        "minimis-service",
        "minimis-client",
    ] {
        assert!(
            !agency.contains(forbidden),
            "minimis-agency depends on {forbidden}"
        );
    }
    // It does open condition results and filings: the check is not vacuous.
    assert!(
        agency.contains("minimis-seal") && agency.contains("age"),
        "{agency:?}"
    );
    // And no other party links it: the case identity never reaches the operator, a
    // custodian or the device (OBL-1).
    for krate in [
        "minimis-server",
        "minimis-custodian",
        "minimis-client",
        "minimis-service",
        "minimis-wire",
        "minimis-log",
        "minimis-audit",
    ] {
        assert!(
            !normal_dependencies(krate).contains("minimis-agency"),
            "{krate} depends on minimis-agency"
        );
    }
    // Its own code names none of the epoch-key types or the custodians' opening steps.
    let mut names = BTreeSet::new();
    let mut stack = vec![crate::root().join("crates/agency/src")];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for epoch_key in [
                    "EpochKeyring",
                    "EpochIdentity",
                    "SealingKeys",
                    "open_inner",
                    "remove_outer",
                    "minimis_seal::open(",
                ] {
                    if text.contains(epoch_key) {
                        names.insert(format!("{}: {epoch_key}", path.display()));
                    }
                }
            }
        }
    }
    assert!(names.is_empty(), "{names:?}");
    // The scan would see them: the custodians' code names them.
    let keystore =
        std::fs::read_to_string(crate::root().join("crates/custodian/src/keystore.rs")).unwrap();
    assert!(
        keystore.contains("EpochKeyring") && keystore.contains("EpochIdentity"),
        "the scan's words are the custodians' types"
    );
}

/// The names that hash an RFC 9162 tree or lay out its tiles. Only `minimis-log` may use
/// them: every client follows the log through its `Follower` (LOG-57).
const TREE_HASHING: &[&str] = &[
    "node_hash",
    "leaf_hash",
    "empty_root",
    "const TILE_WIDTH",
    "struct Frontier",
];

/// Every `.rs` file under `dir` with the lines that name one of `TREE_HASHING`.
fn tree_hashing_in(dir: &std::path::Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        if path.is_dir() {
            tree_hashing_in(&path, out);
        } else if path.extension().is_some_and(|x| x == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for (n, line) in text.lines().enumerate() {
                if TREE_HASHING.iter().any(|name| line.contains(name)) {
                    out.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
}

#[test]
fn log_57_nothing_outside_minimis_log_hashes_the_tree() {
    let root = crate::root();
    let mut found = Vec::new();
    // The production code of every other crate and of the `minimis` command. (Tests,
    // benches and fuzz bodies may compute a leaf hash to check an inclusion proof.)
    for entry in std::fs::read_dir(root.join("crates")).unwrap().flatten() {
        if entry.file_name() == "log" || entry.file_name() == "testkit" {
            continue;
        }
        tree_hashing_in(&entry.path().join("src"), &mut found);
    }
    tree_hashing_in(&root.join("src"), &mut found);
    assert!(
        found.is_empty(),
        "only minimis-log hashes the tree; follow the log with minimis_log::Follower:\n{}",
        found.join("\n")
    );
    // The scan sees what is there: minimis-log itself names them all.
    let mut in_log = Vec::new();
    tree_hashing_in(&root.join("crates/log/src"), &mut in_log);
    for name in TREE_HASHING {
        assert!(
            in_log.iter().any(|l| l.contains(name)),
            "the scan does not see `{name}` in crates/log/src"
        );
    }
}

#[test]
fn wit_9_the_witness_links_nothing_that_decrypts_and_no_other_party() {
    // The witness is its own trust domain: a signing key and checkpoints. It links no
    // content decryption, no other party's crate, no database.
    let w = normal_dependencies("minimis-witness");
    for forbidden in [
        "age",
        "minimis-seal",
        "minimis-server",
        "minimis-custodian",
        "minimis-client",
        "minimis-agency",
        "rusqlite",
        "h2",
    ] {
        assert!(
            !w.contains(forbidden),
            "minimis-witness depends on {forbidden}"
        );
    }
    // The check is not vacuous: it does build on the log and the service toolkit.
    assert!(
        w.contains("minimis-log") && w.contains("minimis-service"),
        "{w:?}"
    );
    // A production build makes no certificate (SVC-15).
    assert!(!dependencies_with("minimis-witness", &["--no-default-features"]).contains("rcgen"));
    assert!(w.contains("rcgen"));
}

/// What the operator's binary must never link (SEAL-25): content decryption (age, its
/// header crate, the sealing crate, the X25519 and ChaCha20-Poly1305 implementations age
/// uses and the curve under that X25519) and every other party's crate.
const NOT_IN_THE_OPERATOR_BINARY: [&str; 12] = [
    "minimis-seal",
    "age",
    "age-core",
    "x25519-dalek",
    "curve25519-dalek",
    "chacha20poly1305",
    "chacha20",
    "minimis-custodian",
    "minimis-client",
    "minimis-agency",
    "minimis-audit",
    "minimis-testkit",
];

#[test]
fn seal_25_the_operator_binary_links_no_content_decryption() {
    // The binary the operator deploys, as built by default (with the development PKI) and
    // for production (without it, SVC-15).
    for flags in [&[][..], &["--no-default-features"][..]] {
        let deps = dependencies_with("minimis-operator", flags);
        for forbidden in NOT_IN_THE_OPERATOR_BINARY {
            assert!(
                !deps.contains(forbidden),
                "minimis-operator {flags:?} links {forbidden}: the operator's binary must have no code path that decrypts"
            );
        }
        // What it is built from: the operator's crates, and TLS on rustls with ring as
        // its only provider (no second implementation of the TLS primitives).
        for needed in [
            "minimis-server",
            "minimis-service",
            "minimis-wire",
            "minimis-log",
            "minimis-proto",
            "minimis-crypto",
            "rustls",
            "ring",
        ] {
            assert!(
                deps.contains(needed),
                "minimis-operator {flags:?}: {needed}"
            );
        }
        for other_provider in ["aws-lc-rs", "aws-lc-sys", "openssl", "openssl-sys"] {
            assert!(
                !deps.contains(other_provider),
                "minimis-operator {flags:?} links {other_provider}"
            );
        }
        // `rand_chacha` (the PostgreSQL client's random numbers) is a ChaCha random number
        // generator, not ChaCha20-Poly1305: it encrypts nothing.
    }
    // The check is not vacuous: the umbrella `minimis` binary (demo, tools) links them.
    let umbrella = normal_dependencies("minimis");
    for linked in [
        "age",
        "x25519-dalek",
        "curve25519-dalek",
        "minimis-custodian",
    ] {
        assert!(umbrella.contains(linked), "minimis: {linked}");
    }
    // What ring provides the operator's own code, exactly: SHA-256 (`digest`),
    // HMAC-SHA-256 (`hmac`), the system's random numbers (`rand`) and Ed25519 signing and
    // verification (`signature`). TLS 1.3 reaches ring through rustls only (a path inside
    // rustls, `rustls::crypto::ring`, is not a use of ring by the operator's code).
    let mut named = BTreeSet::new();
    for krate in OPERATOR_CRATES {
        named.extend(ring_modules_named(
            &crate::root().join("crates").join(krate).join("src"),
        ));
    }
    let exactly: BTreeSet<String> = ["digest", "hmac", "rand", "signature"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        named, exactly,
        "what ring provides the operator changed: update SEAL-25 and minimis-operator's docs"
    );
}

/// Lines of `cargo tree -e normal,features` for `krate`, with `flags`.
fn feature_graph(krate: &str, flags: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal,features",
            "--prefix",
            "none",
            "-p",
            krate,
        ])
        .args(flags)
        .current_dir(crate::root())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Rust source under `dir`, line comments left out.
fn code_under(dir: &std::path::Path) -> String {
    let mut code = String::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                for line in std::fs::read_to_string(&path).unwrap().lines() {
                    code.push_str(line.split("//").next().unwrap_or(""));
                    code.push('\n');
                }
            }
        }
    }
    code
}

#[test]
fn seal_26_the_operator_binary_cannot_enable_the_plaintext_baseline() {
    const FEATURE: &str = "dangerous-plaintext-baseline";
    // The operator's binary, built alone as the operator builds it, compiles
    // minimis-server without the baseline's feature, with or without its own defaults.
    for flags in [&[][..], &["--no-default-features"][..]] {
        let graph = feature_graph("minimis-operator", flags);
        assert!(
            graph.contains("minimis-server"),
            "{flags:?}: the graph lists the server"
        );
        assert!(
            !graph.contains(FEATURE),
            "minimis-operator {flags:?} enables {FEATURE}:\n{graph}"
        );
    }
    // The check is not vacuous: the benchmark's `minimis` binary enables it.
    assert!(feature_graph("minimis", &[]).contains(FEATURE));
    // Nor can its code select the mode: it never names it (it has no flag, and no
    // configuration key sets it).
    let code = code_under(&crate::root().join("crates/operator/src"));
    for word in ["IngestMode", "ingest_mode", "DangerousPlaintextBaseline"] {
        assert!(!code.contains(word), "crates/operator/src names {word}");
    }
    // The scan would see it: the benchmark's code names it.
    assert!(code_under(&crate::root().join("src")).contains("DangerousPlaintextBaseline"));
    // `minimis serve`, which shares the operator's flags, has no baseline flag either.
    let out = crate::minimis()
        .args(["serve", "--baseline-plaintext"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unexpected argument"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let help = crate::minimis().args(["serve", "--help"]).output().unwrap();
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).unwrap();
    let options: Vec<&str> = help
        .lines()
        .filter(|l| l.trim_start().starts_with('-'))
        .collect();
    assert!(options.iter().any(|l| l.contains("--agency-key")), "{help}");
    assert!(
        options
            .iter()
            .all(|l| !l.to_lowercase().contains("baseline")),
        "{help}"
    );
}

#[test]
fn svc_44_the_device_library_links_no_server_side_and_no_thread_pool() {
    for flags in [&[][..], &["--no-default-features"][..]] {
        let graph = feature_graph("minimis-client", flags);
        let features: BTreeSet<&str> = graph.lines().map(str::trim).collect();
        for absent in [
            "hyper feature \"server\"",
            "tokio feature \"rt-multi-thread\"",
            "tokio feature \"signal\"",
            "tokio feature \"macros\"",
            "geo feature \"multithreading\"",
            "geo feature \"default\"",
        ] {
            assert!(
                !features.iter().any(|l| l.starts_with(absent)),
                "minimis-client {flags:?} is built with {absent}"
            );
        }
        let deps = dependencies_with("minimis-client", flags);
        for absent in ["rayon", "axum", "tower", "rcgen", "h2"] {
            assert!(
                !deps.contains(absent),
                "minimis-client {flags:?} links {absent}"
            );
        }
    }
    // The check is not vacuous: the device's HTTPS client is there with its own features,
    // and the services are built with what the device leaves out.
    let device = feature_graph("minimis-client", &[]);
    assert!(device.contains("hyper feature \"client\""), "{device}");
    assert!(device.contains("tokio feature \"net\""), "{device}");
    let service = feature_graph("minimis-service", &[]);
    for present in [
        "hyper feature \"server\"",
        "tokio feature \"rt-multi-thread\"",
        "tokio feature \"signal\"",
    ] {
        assert!(service.contains(present), "minimis-service: {present}");
    }
}
