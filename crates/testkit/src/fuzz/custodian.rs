//! The target for the custodians' request and answer bodies.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_custodian::protocol::{
    AccessRequest, HoldRequest, HoldRewrapResponse, LoggedEntry, OuterRequest, OuterResponse,
    PlaceHoldRequest,
};
use minimis_custodian::rewrap::{self, HeldHeader};
use minimis_log::LogEntry;
use minimis_log::entry::RecordSet;
use minimis_proto::RecordId;
use minimis_proto::payload::NOTE_CAPACITY;

use super::{Outcome, json_round_trip, keys};

/// Record ids as an officer writes them: 1 to 1,024 distinct ids of 64 lowercase hex.
fn records(ids: &[String]) -> bool {
    let Ok(parsed) = ids
        .iter()
        .map(|s| s.parse::<RecordId>())
        .collect::<Result<Vec<_>, _>>()
    else {
        return false;
    };
    for (s, id) in ids.iter().zip(&parsed) {
        assert_eq!(&id.to_string(), s, "a record id has one encoding");
    }
    RecordSet::new(parsed).is_ok()
}

/// What a custodian checks of an entry another custodian says it logged: the entry
/// decodes and its tlog-proof verifies under the log's and the witness's keys.
fn logged(l: &LoggedEntry) -> bool {
    let Ok(bytes) = l.entry_bytes() else {
        return false;
    };
    let decoded = LogEntry::decode(&bytes);
    let verified = minimis_log::verify_tlog_proof(
        l.proof.as_bytes(),
        &bytes,
        keys::log_key(),
        std::slice::from_ref(keys::witness_key()),
    );
    if let (Ok(e), Ok(v)) = (&decoded, &verified) {
        assert_eq!(LoggedEntry::new(e, l.proof.clone()), *l, "one encoding");
        assert!(v.leaf_index < v.checkpoint.tree_size());
        return true;
    }
    false
}

/// The custodians' request bodies (`spec/access.md`; **ACC-1**, **ACC-7**, **ACC-13**,
/// **RET-31**, **RET-32**) and the oversight custodian's answers, which the agency
/// custodian reads: each JSON type decodes or is refused and round-trips; record ids,
/// logged entries and their proofs, inner files and inner headers are read as the
/// custodian reads them, with the fixed keys.
pub fn custodian_request(data: &[u8]) -> Outcome {
    let mut outcome = Outcome::Refused;
    if let Ok(r) = serde_json::from_slice::<AccessRequest>(data) {
        json_round_trip(&r);
        if records(&r.records) {
            outcome = Outcome::Accepted;
        }
        let _ = minimis_log::CaseRef::new(&r.case_reference);
    }
    if let Ok(r) = serde_json::from_slice::<PlaceHoldRequest>(data) {
        json_round_trip(&r);
        if records(&r.records) {
            outcome = Outcome::Accepted;
        }
    }
    if let Ok(r) = serde_json::from_slice::<OuterRequest>(data) {
        json_round_trip(&r);
        let _ = RecordSet::new(r.records.iter().copied());
        let _ = minimis_log::entry::OfficerId::new(&r.officer);
        for l in &r.logged {
            if logged(l) {
                outcome = Outcome::Accepted;
            }
        }
    }
    if let Ok(r) = serde_json::from_slice::<HoldRequest>(data) {
        json_round_trip(&r);
        if logged(&r.logged) {
            outcome = Outcome::Accepted;
        }
    }
    if let Ok(r) = serde_json::from_slice::<OuterResponse>(data) {
        json_round_trip(&r);
        let agency = keys::agency_keyring()
            .identity(keys::epoch())
            .unwrap_or_else(|_| unreachable!("a live identity"));
        for f in &r.inner {
            if let Ok(file) = B64.decode(f.file.as_bytes())
                && minimis_seal::open_inner(&file, agency, NOTE_CAPACITY).is_ok()
            {
                outcome = Outcome::Accepted;
            }
        }
        for l in &r.logged {
            logged(l);
        }
    }
    if let Ok(r) = serde_json::from_slice::<HoldRewrapResponse>(data) {
        json_round_trip(&r);
        let hold = keys::oversight_age_identity();
        for h in &r.headers {
            if let Ok(header) = B64.decode(h.inner_header.as_bytes()) {
                let _ = HeldHeader::from_bytes(header.clone());
                if rewrap::rewrap_header(&header, &keys::agency_age_identity(), &hold.to_public())
                    .is_ok()
                {
                    outcome = Outcome::Accepted;
                }
            }
        }
    }
    outcome
}
