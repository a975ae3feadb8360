//! The custodians' protocol in process: two real nodes (keystores on disk), a real log
//! witnessed by the oversight custodian, real seals. Test names carry requirement IDs.

use std::sync::Arc;

use minimis_crypto::{SigningKey, TagKey};
use minimis_log::entry::{CustodianId, OfficerId};
use minimis_log::{DenialReason, LogEntry};
use minimis_proto::{
    ChallengeId, CheckInPayload, EpochId, Note, PresenceResult, Pseudonym, RecordId, UnixTime,
    ZoneResult, default_policy,
};

use crate::InProcessDeployment;
use crate::clock::{Clock, ManualClock};
use crate::node::{NodeOptions, Review, Reviewer, Verdict};
use crate::protocol::{AccessRequest, LoggedEntry, OuterRequest, PlaceHoldRequest, Refusal};

/// Thursday 2026-11-26T16:00:00Z (epoch 2968).
const NOW: UnixTime = UnixTime(1_795_708_800);

struct T {
    _dir: tempfile::TempDir,
    d: InProcessDeployment,
    device: SigningKey,
    tags: TagKey,
    p: Pseudonym,
    other: Pseudonym,
}

async fn world_with(tweak: impl Fn(&mut NodeOptions)) -> T {
    let dir = tempfile::tempdir().unwrap();
    let d = InProcessDeployment::open(dir.path(), default_policy(), ManualClock::new(NOW), tweak)
        .await
        .unwrap();
    let p = Pseudonym::from_bytes([0x11; 16]);
    let other = Pseudonym::from_bytes([0x22; 16]);
    d.set_caseload(&[("officer-1", &[p]), ("officer-2", &[other])])
        .unwrap();
    T {
        _dir: dir,
        d,
        device: SigningKey::generate().unwrap(),
        tags: TagKey::generate().unwrap(),
        p,
        other,
    }
}

async fn world() -> T {
    world_with(|_| {}).await
}

fn payload(note: &str) -> CheckInPayload {
    CheckInPayload {
        challenge_id: ChallengeId::from_bytes(minimis_crypto::random_bytes().unwrap()),
        zone: ZoneResult::Outside,
        presence: PresenceResult::Confirmed,
        device_time: NOW,
        note: Note::new(note, minimis_proto::payload::NOTE_CAPACITY).unwrap(),
    }
}

impl T {
    fn now(&self) -> UnixTime {
        self.d.clock.now()
    }

    fn epoch(&self) -> EpochId {
        self.d.agency.policy().epoch_at(self.now()).unwrap()
    }

    fn check_in(&self, who: Pseudonym, note: &str) -> (RecordId, CheckInPayload) {
        let pl = payload(note);
        let tag = self.tags.tag(&who, self.epoch());
        let id = self.d.check_in(&self.device, who, tag, &pl).unwrap();
        (id, pl)
    }

    fn request(records: &[RecordId], purpose: &str, basis: &str) -> AccessRequest {
        AccessRequest {
            records: records.iter().map(ToString::to_string).collect(),
            purpose: purpose.into(),
            legal_basis: basis.into(),
            case_reference: "HOU-2025-004211".into(),
        }
    }

    async fn open(
        &self,
        officer: &str,
        records: &[RecordId],
    ) -> Result<crate::node::Opened, Refusal> {
        self.d
            .agency
            .access(
                &OfficerId::new(officer).unwrap(),
                Self::request(records, "compliance-review", "release-conditions"),
            )
            .await
    }

    fn denials(&self) -> Vec<(String, DenialReason)> {
        self.d
            .operator
            .entries()
            .into_iter()
            .filter_map(|e| match e {
                LogEntry::AccessDenied { access, reason } => {
                    Some((access.custodian.to_string(), reason))
                }
                _ => None,
            })
            .collect()
    }

    fn accessed(&self) -> Vec<String> {
        self.d
            .operator
            .entries()
            .into_iter()
            .filter_map(|e| match e {
                LogEntry::ContentAccessed(a) => Some(a.custodian.to_string()),
                _ => None,
            })
            .collect()
    }
}

#[tokio::test]
async fn acc_1_acc_4_acc_7_acc_8_a_justified_request_is_logged_by_both_custodians_then_opened() {
    let t = world().await;
    let (id, pl) = t.check_in(t.p, "bus was late");
    let before = t.d.operator.entries().len();
    let opened = t.open("officer-1", &[id]).await.unwrap();
    assert_eq!(opened.records.len(), 1);
    assert_eq!(opened.records[0].record_id, id);
    assert_eq!(opened.records[0].payload, pl);
    // Both custodians' entries are in the log, the agency's first, each verified
    // against a checkpoint the oversight custodian cosigned.
    let entries = t.d.operator.entries();
    let after: Vec<&LogEntry> = entries[before..].iter().collect();
    assert_eq!(after.len(), 2, "{after:?}");
    match (after[0], after[1]) {
        (LogEntry::ContentAccessed(a), LogEntry::ContentAccessed(o)) => {
            assert_eq!(a.custodian.as_str(), "agency");
            assert_eq!(o.custodian.as_str(), "oversight");
            assert_eq!(a.officer.as_str(), "officer-1");
            assert_eq!(a.records.as_slice(), &[id]);
            assert_eq!((a.case, a.epoch), (o.case, o.epoch));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(opened.log.len(), 2);
    assert!(opened.log[0].index < opened.log[1].index);
    assert!(
        t.d.operator
            .checkpoint()
            .contains("— oversight.minimis/witness ")
    );
    assert!(t.denials().is_empty());
}

#[tokio::test]
async fn acc_2_acc_6_purpose_or_legal_basis_outside_the_policy_is_refused_and_logged() {
    let t = world().await;
    let (id, _) = t.check_in(t.p, "");
    let officer = OfficerId::new("officer-1").unwrap();
    let r =
        t.d.agency
            .access(
                &officer,
                T::request(&[id], "curiosity", "release-conditions"),
            )
            .await
            .unwrap_err();
    assert_eq!((r.status(), r.code()), (403, "purpose_not_allowed"));
    let r =
        t.d.agency
            .access(&officer, T::request(&[id], "compliance-review", "a-hunch"))
            .await
            .unwrap_err();
    assert_eq!((r.status(), r.code()), (403, "legal_basis_not_allowed"));
    assert_eq!(
        t.denials(),
        vec![
            ("agency".into(), DenialReason::PurposeNotAllowed),
            ("agency".into(), DenialReason::LegalBasisNotAllowed)
        ]
    );
    assert!(t.accessed().is_empty(), "nothing was opened");
    // A malformed request is refused and not logged: it names nothing valid.
    let mut bad = T::request(&[id], "compliance-review", "release-conditions");
    bad.records = vec!["XYZ".into()];
    let r = t.d.agency.access(&officer, bad).await.unwrap_err();
    assert_eq!((r.status(), r.code()), (400, "request_malformed"));
    assert_eq!(t.denials().len(), 2);
}

#[tokio::test]
async fn acc_3_acc_6_an_officer_outside_the_caseload_is_refused_and_logged() {
    let t = world().await;
    let (mine, _) = t.check_in(t.p, "");
    let (theirs, _) = t.check_in(t.other, "");
    let r = t.open("officer-2", &[mine]).await.unwrap_err();
    assert_eq!((r.status(), r.code()), (403, "not_in_caseload"));
    // Every record must be in the caseload.
    let r = t.open("officer-1", &[mine, theirs]).await.unwrap_err();
    assert_eq!(r.code(), "not_in_caseload");
    let r = t.open("officer-9", &[mine]).await.unwrap_err();
    assert_eq!(r.code(), "not_in_caseload");
    assert_eq!(t.denials().len(), 3);
    assert!(
        t.denials()
            .iter()
            .all(|d| d == &("agency".to_owned(), DenialReason::NotInCaseload))
    );
    assert!(t.accessed().is_empty());
    // An unknown record is refused and logged too.
    let r = t
        .open("officer-1", &[RecordId::from_bytes([7; 32])])
        .await
        .unwrap_err();
    assert_eq!((r.status(), r.code()), (404, "record_unknown"));
    assert_eq!(t.denials().last().unwrap().1, DenialReason::RecordUnknown);
}

#[tokio::test]
async fn acc_10_acc_6_ret_8_at_the_deadline_both_keys_are_destroyed_logged_and_access_is_refused() {
    let t = world().await;
    let e = t.epoch();
    let (id, _) = t.check_in(t.p, "");
    let deadline = t.d.agency.policy().content_deadline(e);
    // Destroyed by the last tick before the deadline (ticks are at most a minute
    // apart), so that the destruction time is never after it; not earlier than that.
    let ahead = crate::node::DESTROY_AHEAD_SECONDS;
    t.d.clock.set(UnixTime(deadline.seconds() - ahead - 1));
    let (a, o) = t.d.tick().await;
    assert!(
        a.destroyed.is_empty() && o.unwrap().destroyed.is_empty(),
        "not more than a tick early"
    );
    t.d.clock.set(UnixTime(deadline.seconds() - ahead));
    let (a, o) = t.d.tick().await;
    assert_eq!(a.destroyed, vec![e]);
    assert_eq!(o.unwrap().destroyed, vec![e]);
    let mut destroyed: Vec<(String, EpochId, UnixTime)> =
        t.d.operator
            .entries()
            .into_iter()
            .filter_map(|x| match x {
                LogEntry::EpochKeyDestroyed {
                    custodian,
                    epoch,
                    destroyed_at,
                } => Some((custodian.to_string(), epoch, destroyed_at)),
                _ => None,
            })
            .collect();
    destroyed.sort();
    assert_eq!(
        destroyed,
        vec![
            ("agency".to_owned(), e, deadline.plus(-ahead)),
            ("oversight".to_owned(), e, deadline.plus(-ahead))
        ]
    );
    let r = t.open("officer-1", &[id]).await.unwrap_err();
    assert_eq!((r.status(), r.code()), (410, "key_destroyed"));
    assert_eq!(
        t.denials(),
        vec![("agency".into(), DenialReason::KeyDestroyed)]
    );
    // A destroyed epoch is never keyed again, and a second tick changes nothing.
    let (a, o) = t.d.tick().await;
    assert!(a.destroyed.is_empty() && o.unwrap().destroyed.is_empty());
}

#[tokio::test]
async fn ret_3_acc_10_either_custodian_alone_destroying_its_key_erases_the_epoch() {
    for which in ["oversight", "agency"] {
        let t = world().await;
        let e = t.epoch();
        let (id, _) = t.check_in(t.p, "");
        let node = if which == "oversight" {
            t.d.oversight.clone().unwrap()
        } else {
            t.d.agency.clone()
        };
        node.destroy_epoch(e).await.unwrap();
        let r = t.open("officer-1", &[id]).await.unwrap_err();
        assert_eq!(r.code(), "key_destroyed", "{which}");
        // The refusal is logged by the custodian whose key is gone.
        assert_eq!(
            t.denials(),
            vec![(which.to_owned(), DenialReason::KeyDestroyed)],
            "{which}"
        );
    }
}

#[tokio::test]
async fn acc_5_acc_6_a_log_outage_opens_nothing_and_the_refusal_is_logged_when_the_log_is_back() {
    let t = world().await;
    let (id, _) = t.check_in(t.p, "");
    t.d.operator.set_available(false);
    let r = t.open("officer-1", &[id]).await.unwrap_err();
    assert_eq!((r.status(), r.code()), (503, "log_unavailable"));
    assert_eq!(t.d.agency.pending_entries().len(), 1);
    t.d.operator.set_available(true);
    let (a, _) = t.d.tick().await;
    assert_eq!(a.logged, 1);
    assert_eq!(a.pending, 0);
    assert_eq!(
        t.denials(),
        vec![("agency".into(), DenialReason::LogUnavailable)]
    );
    assert!(t.accessed().is_empty());

    // A proof that does not verify is no better than no proof.
    t.d.operator.set_corrupt_proofs(true);
    let r = t.open("officer-1", &[id]).await.unwrap_err();
    assert_eq!(r.code(), "log_unavailable");
    t.d.operator.set_corrupt_proofs(false);
    // The entry was appended, but the custodian could not verify it: it opened nothing
    // and logged the refusal as well.
    t.d.tick().await;
    assert_eq!(t.denials().len(), 2);
    // Back to normal: it opens.
    assert!(t.open("officer-1", &[id]).await.is_ok());
}

#[tokio::test]
async fn acc_7_the_oversight_custodian_removes_its_layer_only_for_a_logged_matching_request() {
    let t = world().await;
    let (id, _) = t.check_in(t.p, "");
    let oversight = t.d.oversight.clone().unwrap();
    let agency_id = CustodianId::new("agency").unwrap();
    // A genuine logged access, and its proof.
    t.open("officer-1", &[id]).await.unwrap();
    let entries = t.d.operator.entries();
    let index = entries
        .iter()
        .position(|e| matches!(e, LogEntry::ContentAccessed(a) if a.custodian.as_str() == "agency"))
        .unwrap();
    let real = entries[index].clone();
    let proof = t.d.operator.tlog_proof(index as u64).unwrap();
    let LogEntry::ContentAccessed(a) = real.clone() else {
        unreachable!()
    };
    let request = |officer: &str, records: Vec<RecordId>, logged: Vec<LoggedEntry>| OuterRequest {
        officer: officer.into(),
        purpose: a.purpose.to_string(),
        legal_basis: a.legal_basis.to_string(),
        records,
        logged,
    };
    // The real entry and proof are accepted.
    let ok = oversight
        .remove_outer(
            &agency_id,
            request(
                "officer-1",
                vec![id],
                vec![LoggedEntry::new(&real, proof.clone())],
            ),
        )
        .await
        .unwrap();
    assert_eq!(ok.inner.len(), 1);
    // A forged entry (another officer) with the real entry's proof: not in the log.
    let mut forged = a.clone();
    forged.officer = OfficerId::new("officer-2").unwrap();
    let r = oversight
        .remove_outer(
            &agency_id,
            request(
                "officer-2",
                vec![id],
                vec![LoggedEntry::new(
                    &LogEntry::ContentAccessed(forged),
                    proof.clone(),
                )],
            ),
        )
        .await
        .unwrap_err();
    assert_eq!((r.status(), r.code()), (409, "access_not_logged"));
    // The real entry, but a request for other records or by another officer.
    for (officer, records) in [
        ("officer-1", vec![RecordId::from_bytes([9; 32])]),
        ("officer-2", vec![id]),
    ] {
        let r = oversight
            .remove_outer(
                &agency_id,
                request(
                    officer,
                    records,
                    vec![LoggedEntry::new(&real, proof.clone())],
                ),
            )
            .await
            .unwrap_err();
        assert_eq!(r.code(), "access_not_logged");
    }
    assert_eq!(
        t.denials(),
        vec![("oversight".into(), DenialReason::AccessNotLogged); 3]
    );
    // No entry at all is malformed; only the agency custodian may ask.
    let r = oversight
        .remove_outer(&agency_id, request("officer-1", vec![id], vec![]))
        .await
        .unwrap_err();
    assert_eq!(r.code(), "request_malformed");
    let r = oversight
        .remove_outer(
            &CustodianId::new("someone").unwrap(),
            request("officer-1", vec![id], vec![LoggedEntry::new(&real, proof)]),
        )
        .await
        .unwrap_err();
    assert_eq!(r.code(), "not_allowed");
}

struct RefuseAll;

impl Reviewer for RefuseAll {
    fn review(&self, _: &Review<'_>) -> Verdict {
        Verdict::Refuse
    }
}

#[tokio::test]
async fn acc_16_the_oversight_reviewer_may_refuse_and_the_refusal_is_logged() {
    let t = world_with(|o| {
        if o.role == minimis_proto::CustodianRole::Oversight {
            o.reviewer = Some(Arc::new(RefuseAll));
        }
    })
    .await;
    let (id, _) = t.check_in(t.p, "");
    let r = t.open("officer-1", &[id]).await.unwrap_err();
    assert_eq!((r.status(), r.code()), (403, "oversight_refused"));
    assert_eq!(
        t.denials(),
        vec![("oversight".into(), DenialReason::OversightRefused)]
    );
}

#[tokio::test]
async fn acc_9_log_33_the_log_carries_a_salted_commitment_that_only_the_agency_can_open() {
    let t = world().await;
    let (id, _) = t.check_in(t.p, "");
    t.open("officer-1", &[id]).await.unwrap();
    t.open("officer-1", &[id]).await.unwrap();
    let cases: Vec<_> =
        t.d.operator
            .entries()
            .into_iter()
            .filter_map(|e| match e {
                LogEntry::ContentAccessed(a) if a.custodian.as_str() == "agency" => Some(a.case),
                _ => None,
            })
            .collect();
    assert_eq!(cases.len(), 2);
    assert_ne!(cases[0], cases[1], "a fresh salt per entry");
    for c in &cases {
        let (_, reference) = t.d.agency.open_case(c).unwrap().unwrap();
        assert_eq!(reference.as_str(), "HOU-2025-004211");
        assert!(
            t.d.oversight
                .as_ref()
                .unwrap()
                .open_case(c)
                .unwrap()
                .is_none()
        );
    }
    for e in t.d.operator.entries() {
        let bytes = e.encode();
        assert!(!bytes.windows(15).any(|w| w == b"HOU-2025-004211"));
    }
}

#[test]
fn acc_13_a_request_names_records_and_nothing_else() {
    // No query by participant, time, zone, presence or note: unknown fields are refused.
    for field in ["participant", "pseudonym", "from", "zone", "note", "query"] {
        let json = format!(
            r#"{{"records":[],"purpose":"p","legal_basis":"b","case_reference":"c","{field}":"x"}}"#
        );
        assert!(
            serde_json::from_str::<AccessRequest>(&json).is_err(),
            "{field}"
        );
    }
}

#[test]
fn acc_17_the_agency_custodian_cannot_hand_the_oversight_custodian_a_ciphertext() {
    // The request names records by id and shows logged entries; there is no field for
    // a ciphertext: the oversight custodian fetches what it opens from the operator.
    let ok = r#"{"officer":"o","purpose":"p","legal_basis":"b","records":[],"logged":[]}"#;
    assert!(serde_json::from_str::<OuterRequest>(ok).is_ok());
    let smuggled = r#"{"officer":"o","purpose":"p","legal_basis":"b","records":[],"logged":[],"ciphertext":"YWdl"}"#;
    assert!(serde_json::from_str::<OuterRequest>(smuggled).is_err());
}

#[tokio::test]
async fn ret_9_identities_are_made_ahead_and_their_signed_recipients_published() {
    let t = world().await;
    let e = t.epoch();
    let next = e.next().unwrap();
    for node in [&t.d.agency, t.d.oversight.as_ref().unwrap()] {
        let live: Vec<EpochId> = node
            .with_keystore(|k| k.keyring().live_epochs().collect())
            .unwrap();
        assert_eq!(live, vec![e, next]);
    }
    let published: Vec<_> =
        t.d.operator
            .recipients()
            .iter()
            .map(|r| (r.recipient.epoch, r.recipient.role))
            .collect();
    assert_eq!(published.len(), 4, "{published:?}");
    // A device verifies them (SEAL-7) now and in the next epoch.
    assert!(t.d.sealing_keys(t.now()).is_ok());
    let start_next = t.d.agency.policy().epoch_start(next);
    assert!(t.d.sealing_keys(start_next).is_ok());
    // A week on, the tick makes and publishes the one after.
    t.d.clock.set(start_next);
    let (a, _) = t.d.tick().await;
    assert_eq!(a.generated, vec![next.next().unwrap()]);
    assert_eq!(a.published, vec![next.next().unwrap()]);
}

#[tokio::test]
async fn seal_23_a_custodian_whose_recipient_conflicts_says_so_once_and_stops_sending_it() {
    use crate::operator::OperatorLink as _;
    use minimis_proto::CustodianRole;
    let t = world().await;
    let next = t.epoch().next().unwrap();
    let after = next.next().unwrap();
    // Someone has already published a different recipient of the agency custodian for the
    // epoch after next (a restored keystore, a copied key: the operator cannot tell).
    let mut first =
        t.d.operator
            .recipients()
            .into_iter()
            .find(|r| r.recipient.role == CustodianRole::Agency)
            .unwrap();
    first.recipient.epoch = after;
    t.d.operator
        .link(CustodianRole::Agency)
        .publish(&first)
        .await
        .unwrap();
    t.d.clock.set(t.d.agency.policy().epoch_start(next));
    let (a, o) = t.d.tick().await;
    assert_eq!(a.generated, vec![after]);
    assert!(a.published.is_empty(), "{a:?}");
    assert_eq!(a.conflicting, vec![after], "reported");
    assert_eq!(
        o.unwrap().published,
        vec![after],
        "the other custodian is not affected"
    );
    // The next tick does not send it again (a resend would be refused and reported again).
    let (a, _) = t.d.tick().await;
    assert!(a.conflicting.is_empty() && a.published.is_empty(), "{a:?}");
    let at_operator: Vec<_> =
        t.d.operator
            .recipients()
            .into_iter()
            .filter(|r| (r.recipient.epoch, r.recipient.role) == (after, CustodianRole::Agency))
            .collect();
    assert_eq!(at_operator, vec![first], "the operator keeps the first");
}

#[tokio::test]
async fn ret_30_ret_31_ret_32_ret_33_a_hold_keeps_named_records_past_the_deadline_and_no_others() {
    let t = world().await;
    let e = t.epoch();
    let (held, pl) = t.check_in(t.p, "held");
    let (not_held, _) = t.check_in(t.p, "not held");
    let officer = OfficerId::new("officer-1").unwrap();
    let deadline = t.d.agency.policy().content_deadline(e);
    let until = deadline.plus(30 * 86_400);
    let placed =
        t.d.agency
            .place_hold(
                &officer,
                PlaceHoldRequest {
                    records: vec![held.to_string()],
                    legal_basis: "court-order".into(),
                    until: until.seconds(),
                },
            )
            .await
            .unwrap();
    assert!(placed.complete);
    assert_eq!(t.d.operator.held_until(held), Some(until));
    assert_eq!(t.d.operator.held_until(not_held), None);
    assert!(t.d.operator.entries().iter().any(
        |x| matches!(x, LogEntry::LegalHoldPlaced(h) if h.hold == placed.hold && h.expires == until)
    ));
    for node in [&t.d.agency, t.d.oversight.as_ref().unwrap()] {
        assert!(
            node.with_keystore(|k| k.hold(placed.hold).is_some())
                .unwrap()
        );
    }

    // The deadline: the epoch keys go; the held record still opens, the other does not.
    t.d.clock.set(deadline);
    t.d.tick().await;
    assert_eq!(
        t.d.operator.purge_due().unwrap(),
        1,
        "the operator keeps the held one"
    );
    let opened = t.open("officer-1", &[held]).await.unwrap();
    assert_eq!(opened.records[0].payload, pl);
    let r = t.open("officer-1", &[not_held]).await.unwrap_err();
    assert_eq!(
        r.code(),
        "record_unknown",
        "purged, and its key is gone anyway"
    );

    // Released early: both hold keys go, and nothing opens it any more.
    let log = t.d.agency.release_hold(placed.hold).await.unwrap();
    assert_eq!(log.len(), 1);
    for node in [&t.d.agency, t.d.oversight.as_ref().unwrap()] {
        assert!(
            node.with_keystore(|k| k.hold(placed.hold).is_none())
                .unwrap()
        );
        assert!(
            node.with_keystore(|k| k.hold_destroyed(placed.hold))
                .unwrap()
        );
    }
    let r = t.open("officer-1", &[held]).await.unwrap_err();
    assert_eq!(r.code(), "key_destroyed");
    assert!(
        t.d.operator
            .entries()
            .iter()
            .any(|x| matches!(x, LogEntry::LegalHoldReleased(h) if h.hold == placed.hold))
    );
    let r = t.d.agency.release_hold(placed.hold).await.unwrap_err();
    assert_eq!(r.code(), "hold_unknown");
}

#[tokio::test]
async fn ret_33_a_hold_ends_at_its_expiry_at_both_custodians() {
    let t = world().await;
    let (held, _) = t.check_in(t.p, "held");
    let until = t.now().plus(86_400);
    let placed =
        t.d.agency
            .place_hold(
                &OfficerId::new("officer-1").unwrap(),
                PlaceHoldRequest {
                    records: vec![held.to_string()],
                    legal_basis: "court-order".into(),
                    until: until.seconds(),
                },
            )
            .await
            .unwrap();
    t.d.clock.set(until);
    let (a, o) = t.d.tick().await;
    assert_eq!(a.holds_ended, vec![placed.hold]);
    assert_eq!(o.unwrap().holds_ended, vec![placed.hold]);
    assert!(
        t.d.operator
            .entries()
            .iter()
            .any(|x| matches!(x, LogEntry::LegalHoldReleased(h) if h.hold == placed.hold))
    );
    // The epoch keys are still live (the deadline is later): the record opens normally.
    assert!(t.open("officer-1", &[held]).await.is_ok());
}

#[tokio::test]
async fn ret_32_a_hold_needs_a_legal_basis_the_caseload_and_a_live_key() {
    let t = world().await;
    let (id, _) = t.check_in(t.p, "");
    let officer = OfficerId::new("officer-1").unwrap();
    let req = |basis: &str, until: i64, who: RecordId| PlaceHoldRequest {
        records: vec![who.to_string()],
        legal_basis: basis.into(),
        until,
    };
    let later = t.now().plus(86_400).seconds();
    let r =
        t.d.agency
            .place_hold(&officer, req("a-hunch", later, id))
            .await
            .unwrap_err();
    assert_eq!(r.code(), "legal_basis_not_allowed");
    let r =
        t.d.agency
            .place_hold(&officer, req("court-order", t.now().seconds(), id))
            .await
            .unwrap_err();
    assert_eq!(r.code(), "request_malformed");
    let r =
        t.d.agency
            .place_hold(
                &OfficerId::new("officer-2").unwrap(),
                req("court-order", later, id),
            )
            .await
            .unwrap_err();
    assert_eq!(r.code(), "not_in_caseload");
    t.d.agency.destroy_epoch(t.epoch()).await.unwrap();
    let r =
        t.d.agency
            .place_hold(&officer, req("court-order", later, id))
            .await
            .unwrap_err();
    assert_eq!(r.code(), "key_destroyed");
    assert!(
        !t.d.operator
            .entries()
            .iter()
            .any(|x| matches!(x, LogEntry::LegalHoldPlaced(_)))
    );
}

#[tokio::test]
async fn acc_4_acc_10_ret_32_with_one_custodian_the_agency_logs_then_opens_the_single_layer() {
    let text = minimis_proto::DEFAULT_POLICY_TOML;
    let cut = text.find("[[custodians]]\nid = \"oversight\"").unwrap();
    let policy = minimis_proto::Policy::from_toml_str(&text[..cut]).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = InProcessDeployment::open(dir.path(), policy.clone(), ManualClock::new(NOW), |_| {})
        .await
        .unwrap();
    assert!(d.oversight.is_none());
    let p = Pseudonym::from_bytes([3; 16]);
    d.set_caseload(&[("officer-1", &[p])]).unwrap();
    let e = policy.epoch_at(NOW).unwrap();
    let pl = payload("one layer");
    let tags = TagKey::generate().unwrap();
    let id = d
        .check_in(&SigningKey::generate().unwrap(), p, tags.tag(&p, e), &pl)
        .unwrap();
    let officer = OfficerId::new("officer-1").unwrap();
    let opened = d
        .agency
        .access(
            &officer,
            T::request(&[id], "compliance-review", "release-conditions"),
        )
        .await
        .unwrap();
    assert_eq!(opened.records[0].payload, pl);
    assert_eq!(opened.log.len(), 1);
    // A hold re-wraps the single layer; it outlives the epoch's key.
    let placed = d
        .agency
        .place_hold(
            &officer,
            PlaceHoldRequest {
                records: vec![id.to_string()],
                legal_basis: "court-order".into(),
                until: policy.content_deadline(e).plus(86_400).seconds(),
            },
        )
        .await
        .unwrap();
    assert!(placed.complete);
    d.clock.set(policy.content_deadline(e));
    assert_eq!(d.tick().await.0.destroyed, vec![e]);
    let again = d
        .agency
        .access(&officer, T::request(&[id], "court-order", "court-order"))
        .await
        .unwrap();
    assert_eq!(again.records[0].payload, pl);
    d.agency.release_hold(placed.hold).await.unwrap();
    let r = d
        .agency
        .access(&officer, T::request(&[id], "court-order", "court-order"))
        .await
        .unwrap_err();
    assert_eq!(r.code(), "key_destroyed");
}
