//! The bodies of the fuzz targets, one function per target, shared by the libFuzzer
//! harness (`fuzz/fuzz_targets/<name>.rs`, one line each) and by the regression test
//! that replays every file of `fuzz/corpus/<name>/` and `fuzz/regressions/<name>/`
//! (`tests/fuzz_corpus.rs`), so that the two cannot drift apart.
//!
//! Each target takes any bytes, runs a decoder of outside input on them and what a
//! party does next with the result (verify, open, audit, compare), and checks a
//! property where there is one: what decodes encodes to the same bytes, or decodes
//! again to the same value. A panic is a finding; a refusal is an [`Outcome`].
//! Signatures are verified against the fixed public test keys of [`keys`]; where a
//! party that signs is not trusted (the operator, the log), the target also signs what
//! it was given with that party's key, so that the fuzzer reaches past the signature.
//!
//! `CONTRIBUTING.md` § Fuzzing says how to add a target; `TESTING.md` has the figures.

pub mod keys;
pub mod seeds;

mod audit;
pub(crate) mod client;
mod custodian;
mod log;
mod proto;
mod sealed;

pub use audit::inventory;
pub use client::{bundle, zone};
pub use custodian::custodian_request;
pub use log::{
    Files, checkpoint, cosignature, entry, entry_bundle, malicious_checkpoint, note, tiles,
    tlog_policy, tlog_proof,
};
pub use proto::{envelope, messages, obligations, payload, policy, schedule};
pub use sealed::sealed;

use std::sync::LazyLock;

use minimis_log::NoteSigner;
use minimis_proto::Policy;
use minimis_seal::SealingKeys;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// What a target made of its input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The input passed the decoder's whole check (parsed and, where it is signed,
    /// verified), so what lies behind it ran.
    Accepted,
    /// The input was refused, with a typed error.
    Refused,
}

/// A fuzz target: its name (that of `fuzz/fuzz_targets/<name>.rs` and of its corpus
/// folder) and its body.
#[derive(Clone, Copy, Debug)]
pub struct Target {
    /// The name.
    pub name: &'static str,
    /// The body.
    pub run: fn(&[u8]) -> Outcome,
}

/// Every target, in the order `fuzz/run` runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "payload",
        run: payload,
    },
    Target {
        name: "envelope",
        run: envelope,
    },
    Target {
        name: "messages",
        run: messages,
    },
    Target {
        name: "schedule",
        run: schedule,
    },
    Target {
        name: "policy",
        run: policy,
    },
    Target {
        name: "obligations",
        run: obligations,
    },
    Target {
        name: "sealed",
        run: sealed,
    },
    Target {
        name: "note",
        run: note,
    },
    Target {
        name: "checkpoint",
        run: checkpoint,
    },
    Target {
        name: "cosignature",
        run: cosignature,
    },
    Target {
        name: "tlog_proof",
        run: tlog_proof,
    },
    Target {
        name: "tlog_policy",
        run: tlog_policy,
    },
    Target {
        name: "entry",
        run: entry,
    },
    Target {
        name: "entry_bundle",
        run: entry_bundle,
    },
    Target {
        name: "tiles",
        run: tiles,
    },
    Target {
        name: "bundle",
        run: bundle,
    },
    Target {
        name: "zone",
        run: zone,
    },
    Target {
        name: "custodian_request",
        run: custodian_request,
    },
    Target {
        name: "inventory",
        run: inventory,
    },
];

/// The target named `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}

/// The bytes as UTF-8, for the text formats.
pub(crate) fn utf8(data: &[u8]) -> Option<&str> {
    std::str::from_utf8(data).ok()
}

/// Checks that `v` encodes as JSON, and that what it encodes to decodes and encodes to
/// the same JSON.
pub(crate) fn json_round_trip<T: Serialize + DeserializeOwned>(v: &T) {
    let first = serde_json::to_value(v).unwrap_or_else(|e| panic!("a decoded value encodes: {e}"));
    let again: T = serde_json::from_value(first.clone())
        .unwrap_or_else(|e| panic!("what a value encodes to decodes: {e}"));
    let second =
        serde_json::to_value(&again).unwrap_or_else(|e| panic!("a decoded value encodes: {e}"));
    assert_eq!(first, second, "JSON round trip");
}

/// `text` as a note signed by `signer`, if it can be a note's text.
pub(crate) fn signed_note(text: &str, signer: &NoteSigner) -> Option<String> {
    signer.sign_note(text).ok().map(|n| n.to_string())
}

/// The reference policy, parsed once.
pub(crate) fn reference_policy() -> &'static Policy {
    static P: LazyLock<Policy> = LazyLock::new(minimis_proto::default_policy);
    &P
}

/// The sealing keys a device verifies from the custodians' recipients at
/// [`crate::NOW`].
pub(crate) fn sealing_keys() -> SealingKeys {
    SealingKeys::verify(
        reference_policy(),
        crate::NOW,
        client::recipients(),
        &keys::custodian_keys(),
    )
    .unwrap_or_else(|e| panic!("the fixed recipients verify: {e}"))
}
