//! Cross-crate and end-to-end tests: one binary, a module per area. Test names start with
//! the requirement IDs they check (see `spec/traceability.md`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod audit;
mod audit_https;
mod bench;
mod cli;
mod client;
mod compare;
mod crash;
mod custodian;
mod demo;
mod deps;
mod export;
mod hermetic;
mod report;
mod schema;
mod server;
mod services;
mod token;
mod vectors;

/// The repository root.
pub(crate) fn root() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `minimis` binary built for this test run.
pub(crate) fn minimis() -> std::process::Command {
    std::process::Command::new(env!("CARGO_BIN_EXE_minimis"))
}
