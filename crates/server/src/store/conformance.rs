//! The conformance suite every storage backend must pass.
//!
//! A backend's test calls [`run`] with a function that makes a fresh, empty store. Each
//! check panics with a message naming the rule it broke, so a backend's test suite reads:
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use minimis_server::store::{conformance, sqlite::SqliteStore};
//! let dirs: std::cell::RefCell<Vec<std::path::PathBuf>> = Default::default();
//! conformance::run(|| {
//!     let dir = std::env::temp_dir().join(format!(
//!         "minimis-conformance-doc-{}-{}",
//!         std::process::id(),
//!         dirs.borrow().len()
//!     ));
//!     let _ = std::fs::remove_dir_all(&dir);
//!     dirs.borrow_mut().push(dir.clone());
//!     SqliteStore::open(&dir).expect("a fresh store")
//! });
//! for d in dirs.into_inner() {
//!     let _ = std::fs::remove_dir_all(d);
//! }
//! # Ok(()) }
//! ```

use minimis_log::TileStorage as _;
use minimis_log::tiles::TileId;
use minimis_proto::{
    Challenge, ChallengeId, ChallengeKind, CustodianRole, EpochId, EpochRecipient, PolicyHash,
    Pseudonym, PublicKey, RecordId, Schedule, SealedCheckIn, Signature, SignedChallenge,
    SignedEpochRecipient, UnixTime, Weekday, Window,
};
use zeroize::Zeroizing;

use super::{
    FailureCategory, FailureReport, LedgerState, ParticipantRow, PurgedParticipant, RecordRow,
    Resolution, ResolutionReason, SealedTextRow, Statement, StatementCategory, Store, StoreError,
    TextRef,
};

fn schedule() -> Schedule {
    let t = |h| minimis_proto::LocalTime::new(h, 0).unwrap_or_else(|| unreachable!());
    Schedule::new(
        "UTC",
        vec![Window {
            weekday: Weekday::Monday,
            start: t(9),
            end: t(10),
        }],
        1,
        1,
    )
    .unwrap_or_else(|_| unreachable!("a valid schedule"))
}

fn participant(n: u8) -> ParticipantRow {
    ParticipantRow {
        pseudonym: Pseudonym::from_bytes([n; 16]),
        device_key: PublicKey([n; 32]),
        tag_key: Zeroizing::new([n.wrapping_add(1); 32]),
        schedule: schedule(),
        enrolled_epoch: EpochId::new(100),
        closed_at: None,
        conditions: n.is_multiple_of(2),
    }
}

fn challenge(n: u8, p: u8, issued: i64) -> SignedChallenge {
    SignedChallenge {
        challenge: Challenge {
            id: ChallengeId::from_bytes([n; 16]),
            pseudonym: Pseudonym::from_bytes([p; 16]),
            epoch: EpochId::new(100),
            kind: ChallengeKind::Scheduled,
            issued_at: UnixTime(issued),
            window_start: UnixTime(issued - 10),
            window_end: UnixTime(issued + 3_600),
            policy: PolicyHash::from_bytes([7; 32]),
        },
        signature: Signature([n; 64]),
    }
}

fn record(n: u8, p: u8, c: u8, epoch: u32) -> RecordRow {
    RecordRow {
        record_id: RecordId::from_bytes([n; 32]),
        pseudonym: Pseudonym::from_bytes([p; 16]),
        challenge_id: ChallengeId::from_bytes([c; 16]),
        epoch: EpochId::new(epoch),
        ciphertext: SealedCheckIn::try_from(vec![n; 1_000]).unwrap_or_else(|_| unreachable!()),
        signature: Signature([n; 64]),
        log_index: u64::from(n),
    }
}

fn tx<S: Store>(s: &mut S, f: impl FnOnce(&mut S) -> Result<(), StoreError>) {
    s.begin().unwrap_or_else(|e| panic!("begin: {e}"));
    f(s).unwrap_or_else(|e| panic!("write: {e}"));
    s.commit().unwrap_or_else(|e| panic!("commit: {e}"));
}

/// The error with which the store refuses the writes of `f`, in a batch of their own: at
/// the call, or, for a backend that sends a batch's writes together, at the commit
/// (**STO-12**). Either way the batch is rolled back.
fn refused<S: Store>(s: &mut S, f: impl FnOnce(&mut S) -> Result<(), StoreError>) -> StoreError {
    s.begin().unwrap_or_else(|e| panic!("begin: {e}"));
    match f(s) {
        Err(e) => {
            s.rollback().unwrap_or_else(|e| panic!("rollback: {e}"));
            e
        }
        Ok(()) => match s.commit() {
            Err(e) => e,
            Ok(()) => panic!("the store refused neither at the call nor at the commit"),
        },
    }
}

/// Runs every check against fresh stores from `fresh`, in one go. A backend's tests also
/// call each check (a public function of this module) from a test of its own, named for
/// the requirement it checks (**STO-1**), so that a failure names the behaviour it
/// breaks; [`sequencer_is_a_compare_and_swap`] needs two handles on one database and is
/// called only that way.
pub fn run<S: Store>(mut fresh: impl FnMut() -> S) {
    participants(&mut fresh());
    ledger(&mut fresh());
    records_and_purge(&mut fresh());
    rollback_discards(&mut fresh());
    recipients(&mut fresh());
    tiles_share_the_transaction(&mut fresh());
    closed_enrollments_purge(&mut fresh());
    meta_round_trips(&mut fresh());
    reports_statements_and_reads(&mut fresh());
    sealed_texts_and_purge(&mut fresh());
    conditions_and_filings(&mut fresh());
    inboxes_deliveries_and_reviews(&mut fresh());
    readers_see_committed_batches_only(&mut fresh());
}

/// Inboxes, deliveries and the case system's reviews (OBL-11, OBL-12, OBL-46): one inbox
/// per participant and epoch; deliveries served in the order stored until acknowledged,
/// when their ciphertext goes and their bookkeeping stays; expiry of an epoch's
/// deliveries and inboxes at once; a review updated in place; one conditions summary per
/// epoch.
#[doc(hidden)]
pub fn inboxes_deliveries_and_reviews<S: Store>(s: &mut S) {
    use super::{DeliveryRow, InboxRow, ReviewRow};
    use minimis_proto::{DeliveryId, ReviewId};
    let inbox = |p: u8, e: u32| InboxRow {
        pseudonym: Pseudonym::from_bytes([p; 16]),
        epoch: EpochId::new(e),
        recipient: format!("age1recipient{p}x{e}"),
        signature: Signature([p; 64]),
    };
    let delivery = |d: u8, p: u8, e: u32| DeliveryRow {
        seq: 0,
        delivery_id: DeliveryId::from_bytes([d; 32]),
        pseudonym: Pseudonym::from_bytes([p; 16]),
        epoch: EpochId::new(e),
        ciphertext: Some(vec![d; 900]),
        day: UnixTime(86_400 * 20_000),
        acknowledged: None,
    };
    let ok = |r: Result<(), StoreError>| r.unwrap_or_else(|e| panic!("{e}"));
    tx(s, |s| {
        s.insert_participant(&participant(1))?;
        s.insert_participant(&participant(2))?;
        s.insert_inbox(&inbox(1, 100))?;
        s.insert_inbox(&inbox(1, 101))?;
        s.insert_delivery(&delivery(1, 1, 100))?;
        s.insert_delivery(&delivery(2, 2, 100))?;
        s.insert_delivery(&delivery(3, 1, 101))
    });
    assert!(matches!(
        refused(s, |s| s.insert_inbox(&inbox(1, 100))),
        StoreError::Duplicate { .. }
    ));
    assert!(matches!(
        refused(s, |s| s.insert_delivery(&delivery(1, 1, 100))),
        StoreError::Duplicate { .. }
    ));
    let p1 = Pseudonym::from_bytes([1; 16]);
    let got = s
        .inbox(&p1, EpochId::new(100))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(got, Some(inbox(1, 100)));
    let pending = |s: &S, p: &Pseudonym| -> Vec<u8> {
        s.pending_deliveries(p, 10)
            .unwrap_or_else(|e| panic!("{e}"))
            .iter()
            .map(|d| d.delivery_id.as_bytes()[0])
            .collect()
    };
    assert_eq!(pending(s, &p1), [1, 3], "its own, in the order stored");
    // Acknowledged: the ciphertext goes, the bookkeeping stays; no longer pending.
    let day = UnixTime(86_400 * 20_001);
    s.begin().unwrap_or_else(|e| panic!("{e}"));
    ok(s.acknowledge_delivery(&DeliveryId::from_bytes([1; 32]), day));
    s.commit().unwrap_or_else(|e| panic!("{e}"));
    let d1 = s
        .delivery(&DeliveryId::from_bytes([1; 32]))
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("delivery 1"));
    assert_eq!((d1.ciphertext, d1.acknowledged), (None, Some(day)));
    assert_eq!(pending(s, &p1), [3]);
    // Expiry through epoch 100: its deliveries' ciphertext and its inboxes, not 101's.
    s.begin().unwrap_or_else(|e| panic!("{e}"));
    let n = s
        .expire_deliveries(EpochId::new(100))
        .unwrap_or_else(|e| panic!("{e}"));
    s.commit().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(n, 1, "delivery 2; delivery 1 was acknowledged already");
    assert_eq!(
        s.inbox(&p1, EpochId::new(100))
            .unwrap_or_else(|e| panic!("{e}")),
        None
    );
    assert!(
        s.inbox(&p1, EpochId::new(101))
            .unwrap_or_else(|e| panic!("{e}"))
            .is_some()
    );
    assert!(pending(s, &Pseudonym::from_bytes([2; 16])).is_empty());
    assert_eq!(pending(s, &p1), [3]);
    // A review, opened and then decided: one row, updated.
    let id = ReviewId::from_bytes([7; 16]);
    let mut review = ReviewRow {
        review_id: id,
        epoch: EpochId::new(100),
        opened: UnixTime(1_000),
        decided: None,
        contested: None,
        appeal_decided: None,
    };
    tx(s, |s| s.put_review(&review));
    review.decided = Some(UnixTime(2_000));
    tx(s, |s| s.put_review(&review));
    assert_eq!(
        s.review(&id).unwrap_or_else(|e| panic!("{e}")),
        Some(review)
    );
    // One conditions summary per epoch.
    assert!(
        !s.conditions_summary_logged(EpochId::new(100))
            .unwrap_or_else(|e| panic!("{e}"))
    );
    tx(s, |s| s.insert_conditions_summary(EpochId::new(100), day));
    assert!(
        s.conditions_summary_logged(EpochId::new(100))
            .unwrap_or_else(|e| panic!("{e}"))
    );
    assert!(matches!(
        refused(s, |s| s.insert_conditions_summary(EpochId::new(100), day)),
        StoreError::Duplicate { .. }
    ));
}

/// Condition results and filings (OBL-4, OBL-9): served from a cursor in the order stored,
/// one per row or filing id, acknowledged once, and deleted with the participant's ledger
/// (OBL-41), never before.
#[doc(hidden)]
pub fn conditions_and_filings<S: Store>(s: &mut S) {
    use super::{ConditionRow, FilingRow};
    use minimis_proto::FilingId;
    use minimis_proto::obligations::Addressee;
    let condition = |c: u8, p: u8| ConditionRow {
        seq: 0,
        challenge_id: ChallengeId::from_bytes([c; 16]),
        pseudonym: Pseudonym::from_bytes([p; 16]),
        epoch: EpochId::new(100),
        ciphertext: vec![c; 300],
        signature: Signature([c; 64]),
    };
    let filing = |f: u8, p: u8| FilingRow {
        seq: 0,
        filing_id: FilingId::from_bytes([f; 32]),
        pseudonym: Pseudonym::from_bytes([p; 16]),
        addressee: Addressee::AgencyAndOversight,
        ciphertext: vec![f; 1400],
        signature: Signature([f; 64]),
        day: UnixTime(86_400 * 20_000),
        log_index: u64::from(f),
        acknowledged: None,
    };
    tx(s, |s| {
        s.insert_participant(&participant(1))?;
        s.insert_participant(&participant(2))?;
        s.insert_condition(&condition(1, 1))?;
        s.insert_condition(&condition(2, 2))?;
        s.insert_condition(&condition(3, 1))?;
        s.insert_filing(&filing(1, 1))?;
        s.insert_filing(&filing(2, 2))
    });
    assert!(matches!(
        refused(s, |s| s.insert_condition(&condition(1, 1))),
        StoreError::Duplicate { .. }
    ));
    s.begin().unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        s.insert_filing(&filing(1, 1)),
        Err(StoreError::Duplicate { .. })
    ));
    s.rollback().unwrap_or_else(|e| panic!("{e}"));
    // The enrollment's flag round-trips (OBL-41).
    let flag = |s: &S, n: u8| {
        s.participant(&Pseudonym::from_bytes([n; 16]))
            .unwrap_or_else(|e| panic!("{e}"))
            .map(|p| p.conditions)
    };
    assert_eq!((flag(s, 1), flag(s, 2)), (Some(false), Some(true)));
    let all = s.conditions_after(0, 10).unwrap_or_else(|e| panic!("{e}"));
    let ids: Vec<u8> = all.iter().map(|c| c.challenge_id.as_bytes()[0]).collect();
    assert_eq!(ids, [1, 2, 3]);
    assert_eq!(all[0].ciphertext, condition(1, 1).ciphertext);
    assert_eq!(all[2].signature, condition(3, 1).signature);
    let page = s
        .conditions_after(all[0].seq, 1)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].challenge_id, all[1].challenge_id);
    let f = s
        .filing(&FilingId::from_bytes([1; 32]))
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("stored"));
    assert_eq!(
        (f.addressee, f.log_index, f.acknowledged),
        (Addressee::AgencyAndOversight, 1, None)
    );
    tx(s, |s| {
        s.acknowledge_filing(&FilingId::from_bytes([1; 32]), UnixTime(86_400 * 20_001))
    });
    let filings = s.filings_after(0, 10).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(filings.len(), 2);
    assert_eq!(filings[0].acknowledged, Some(UnixTime(86_400 * 20_001)));
    assert_eq!(filings[1].acknowledged, None);
    // Purged with the ledger, participant 1's only.
    tx(s, |s| {
        s.close_enrollment(&Pseudonym::from_bytes([1; 16]), UnixTime(2_000))?;
        s.purge_closed_before(UnixTime(2_001), UnixTime(2_001))
            .map(|_| ())
    });
    let left = s.conditions_after(0, 10).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].challenge_id, ChallengeId::from_bytes([2; 16]));
    let left = s.filings_after(0, 10).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].filing_id, FilingId::from_bytes([2; 32]));
    // A purged row's position is never reused: a new one comes after the cursor.
    tx(s, |s| s.insert_condition(&condition(4, 2)));
    let next = s
        .conditions_after(all[2].seq, 10)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(next.len(), 1);
    assert_eq!(next[0].challenge_id, ChallengeId::from_bytes([4; 16]));
}

fn text(n: u8, p: u8, c: u8, epoch: u32) -> SealedTextRow {
    SealedTextRow {
        text_id: RecordId::from_bytes([n; 32]),
        pseudonym: Pseudonym::from_bytes([p; 16]),
        challenge_id: ChallengeId::from_bytes([c; 16]),
        epoch: EpochId::new(epoch),
        ciphertext: SealedCheckIn::try_from(vec![n; 1_000]).unwrap_or_else(|_| unreachable!()),
    }
}

#[doc(hidden)]
pub fn reports_statements_and_reads<S: Store>(s: &mut S) {
    let c = ChallengeId::from_bytes([1; 16]);
    tx(s, |s| {
        s.insert_participant(&participant(1))?;
        s.insert_challenge(&challenge(1, 1, 1_000))
    });
    let t = TextRef {
        id: RecordId::from_bytes([8; 32]),
        epoch: EpochId::new(100),
    };
    tx(s, |s| s.mark_read(&c, "officer-0001"));
    assert!(s.read_by(&c, "officer-0001").unwrap_or(false));
    assert!(
        !s.read_by(&c, "officer-0002").unwrap_or(true),
        "a read is the reading officer's only"
    );
    tx(s, |s| {
        s.set_failure_report(
            &c,
            &FailureReport {
                category: FailureCategory::DeviceError,
                text: Some(t),
            },
        )
    });
    assert!(
        !s.read_by(&c, "officer-0001").unwrap_or(true),
        "a report makes the row unread"
    );
    let row = s
        .challenge(&c)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("row"));
    assert_eq!(row.failure_report, Some(FailureCategory::DeviceError));
    assert_eq!(row.failure_text, Some(t), "the text link round-trips");
    tx(s, |s| s.mark_read(&c, "officer-0001"));
    let first = Statement {
        category: StatementCategory::Dispute,
        text: None,
    };
    let second = Statement {
        category: StatementCategory::Explanation,
        text: Some(t),
    };
    tx(s, |s| {
        s.add_statement(&c, &first)?;
        s.add_statement(&c, &second)
    });
    assert_eq!(
        s.statements(&c).unwrap_or_default(),
        vec![first, second],
        "statements are kept in order, all of them"
    );
    assert!(
        !s.read_by(&c, "officer-0001").unwrap_or(true),
        "a statement makes the row unread"
    );
    tx(s, |s| {
        s.set_state(&c, LedgerState::PendingReview, None)?;
        s.resolve(
            &c,
            Resolution::NotExcused,
            ResolutionReason::NoAccount,
            "officer-0001",
        )
    });
    let row = s
        .challenge(&c)
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("row"));
    assert_eq!(row.state, LedgerState::Resolved(Resolution::NotExcused));
    assert_eq!(row.resolution_reason, Some(ResolutionReason::NoAccount));
    assert_eq!(row.resolved_by.as_deref(), Some("officer-0001"));
    assert_eq!(
        row.failure_report,
        Some(FailureCategory::DeviceError),
        "resolving keeps the report"
    );
    let missing = ChallengeId::from_bytes([9; 16]);
    s.begin().unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        s.add_statement(&missing, &first),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.mark_read(&missing, "officer-0001"),
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        s.resolve(
            &missing,
            Resolution::ExcusedOther,
            ResolutionReason::AgencyContact,
            "officer-0001"
        ),
        Err(StoreError::NotFound { .. })
    ));
    s.rollback().unwrap_or_else(|e| panic!("{e}"));
    assert!(s.statements(&missing).unwrap_or_default().is_empty());
}

#[doc(hidden)]
pub fn sealed_texts_and_purge<S: Store>(s: &mut S) {
    tx(s, |s| {
        s.insert_sealed_text(&text(1, 1, 1, 100))?;
        s.insert_sealed_text(&text(2, 1, 2, 100))?;
        s.insert_sealed_text(&text(3, 2, 3, 101))
    });
    assert_eq!(
        s.sealed_text(&RecordId::from_bytes([1; 32]))
            .unwrap_or_else(|e| panic!("{e}")),
        Some(text(1, 1, 1, 100)),
        "sealed texts round-trip exactly"
    );
    assert_eq!(
        s.epochs_with_sealed_texts().unwrap_or_default(),
        vec![EpochId::new(100), EpochId::new(101)]
    );
    s.begin().unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        s.insert_sealed_text(&text(1, 1, 1, 100)),
        Err(StoreError::Duplicate { .. })
    ));
    s.rollback().unwrap_or_else(|e| panic!("{e}"));
    tx(s, |s| {
        s.hold(&[RecordId::from_bytes([2; 32])], UnixTime(10_000))
    });
    s.begin().unwrap_or_else(|e| panic!("{e}"));
    let n = s
        .purge_sealed_texts(EpochId::new(100), UnixTime(5_000))
        .unwrap_or_else(|e| panic!("{e}"));
    let again = s
        .purge_sealed_texts(EpochId::new(100), UnixTime(5_000))
        .unwrap_or_else(|e| panic!("{e}"));
    s.commit().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (n, again),
        (1, 0),
        "one purged, the held one kept; idempotent"
    );
    assert!(
        s.sealed_text(&RecordId::from_bytes([2; 32]))
            .unwrap_or(None)
            .is_some(),
        "held"
    );
}

#[doc(hidden)]
pub fn meta_round_trips<S: Store>(s: &mut S) {
    assert_eq!(s.meta("policy").unwrap_or_else(|e| panic!("{e}")), None);
    tx(s, |s| s.set_meta("policy", b"one"));
    tx(s, |s| s.set_meta("policy", b"two"));
    assert_eq!(
        s.meta("policy")
            .unwrap_or_else(|e| panic!("{e}"))
            .as_deref(),
        Some(&b"two"[..]),
        "the latest value replaces the earlier"
    );
    s.begin().unwrap_or_else(|e| panic!("{e}"));
    s.set_meta("policy", b"three")
        .unwrap_or_else(|e| panic!("{e}"));
    s.rollback().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.meta("policy")
            .unwrap_or_else(|e| panic!("{e}"))
            .as_deref(),
        Some(&b"two"[..])
    );
}

#[doc(hidden)]
pub fn participants<S: Store>(s: &mut S) {
    tx(s, |s| s.insert_participant(&participant(1)));
    let got = s
        .participant(&Pseudonym::from_bytes([1; 16]))
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("a participant inserted must be found"));
    assert_eq!(got.device_key, PublicKey([1; 32]));
    assert_eq!(*got.tag_key, [2; 32]);
    assert_eq!(got.schedule, schedule());
    s.begin().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        matches!(
            s.insert_participant(&participant(1)),
            Err(StoreError::Duplicate { .. })
        ),
        "a second participant with the same pseudonym must be refused as Duplicate"
    );
    s.rollback().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(s.participants().unwrap_or_default().len(), 1);
    tx(s, |s| s.insert_participant(&participant(2)));
    let mut streamed = Vec::new();
    s.for_each_participant(&mut |p| {
        streamed.push(p.pseudonym);
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    streamed.sort_by_key(|p| *p.as_bytes());
    assert_eq!(
        streamed,
        vec![
            Pseudonym::from_bytes([1; 16]),
            Pseudonym::from_bytes([2; 16])
        ],
        "for_each_participant yields every participant once"
    );
}

#[doc(hidden)]
pub fn ledger<S: Store>(s: &mut S) {
    tx(s, |s| {
        s.insert_participant(&participant(1))?;
        s.insert_challenge(&challenge(2, 1, 2_000))?;
        s.insert_challenge(&challenge(1, 1, 1_000))
    });
    let rows = s
        .ledger(&Pseudonym::from_bytes([1; 16]))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rows.len(), 2);
    assert!(
        rows[0].signed.challenge.issued_at < rows[1].signed.challenge.issued_at,
        "the ledger is ordered oldest first"
    );
    assert!(rows.iter().all(|r| r.state == LedgerState::Open));
    assert_eq!(
        rows[0].signed,
        challenge(1, 1, 1_000),
        "challenges round-trip exactly"
    );
    assert_eq!(s.open_challenges().unwrap_or_default().len(), 2);
    let mut open = 0;
    s.for_each_open_challenge(&mut |r| {
        assert_eq!(r.state, LedgerState::Open);
        open += 1;
        Ok(())
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(open, 2, "for_each_open_challenge yields the open rows");
    tx(s, |s| {
        s.set_state(&ChallengeId::from_bytes([1; 16]), LedgerState::OnTime, None)?;
        s.set_state(
            &ChallengeId::from_bytes([2; 16]),
            LedgerState::PendingReview,
            None,
        )?;
        s.set_failure_report(
            &ChallengeId::from_bytes([2; 16]),
            &FailureReport {
                category: FailureCategory::NoNetwork,
                text: None,
            },
        )
    });
    assert_eq!(s.open_challenges().unwrap_or_default().len(), 0);
    tx(s, |s| {
        s.set_state(
            &ChallengeId::from_bytes([2; 16]),
            LedgerState::Resolved(Resolution::ExcusedTechnical),
            Some("officer-0001"),
        )
    });
    let row = s
        .challenge(&ChallengeId::from_bytes([2; 16]))
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|| panic!("row"));
    assert_eq!(
        row.state,
        LedgerState::Resolved(Resolution::ExcusedTechnical)
    );
    assert_eq!(row.resolved_by.as_deref(), Some("officer-0001"));
    assert_eq!(row.failure_report, Some(FailureCategory::NoNetwork));
    let since = s
        .issued_since(&Pseudonym::from_bytes([1; 16]), UnixTime(1_500))
        .unwrap_or_default();
    assert_eq!(
        since.len(),
        1,
        "issued_since includes only challenges at or after the time"
    );
    let slots = s
        .slots_since(&Pseudonym::from_bytes([1; 16]), UnixTime(1_500))
        .unwrap_or_default();
    assert_eq!(
        slots,
        vec![minimis_proto::Slot {
            at: since[0].challenge.issued_at,
            kind: since[0].challenge.kind
        }],
        "slots_since agrees with issued_since"
    );
    assert!(matches!(
        refused(s, |s| s.set_state(
            &ChallengeId::from_bytes([9; 16]),
            LedgerState::OnTime,
            None
        )),
        StoreError::NotFound { .. }
    ));
    assert!(matches!(
        refused(s, |s| s.insert_challenge(&challenge(1, 1, 1_000))),
        StoreError::Duplicate { .. }
    ));
}

#[doc(hidden)]
pub fn records_and_purge<S: Store>(s: &mut S) {
    tx(s, |s| {
        s.insert_record(&record(1, 1, 1, 100))?;
        s.insert_record(&record(2, 1, 2, 100))?;
        s.insert_record(&record(3, 2, 3, 101))
    });
    assert_eq!(s.records_in_epoch(EpochId::new(100)).unwrap_or(0), 2);
    assert_eq!(
        s.epochs_with_records().unwrap_or_default(),
        vec![EpochId::new(100), EpochId::new(101)]
    );
    assert_eq!(
        s.record(&RecordId::from_bytes([1; 32]))
            .unwrap_or_else(|e| panic!("{e}")),
        Some(record(1, 1, 1, 100)),
        "records round-trip exactly"
    );
    let e = refused(s, |s| {
        s.insert_participant(&participant(9))?;
        s.insert_record(&record(4, 1, 1, 100))?;
        s.set_state(&ChallengeId::from_bytes([9; 16]), LedgerState::OnTime, None)
    });
    assert!(
        matches!(e, StoreError::Duplicate { .. }),
        "one record per challenge: {e}"
    );
    assert!(
        s.participant(&Pseudonym::from_bytes([9; 16]))
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none(),
        "nothing of a refused batch is kept, whenever the refusal came (STO-12)"
    );
    assert!(
        s.record(&RecordId::from_bytes([4; 32]))
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none()
    );
    // A hold lasting past now keeps a record through the purge.
    tx(s, |s| {
        s.hold(&[RecordId::from_bytes([2; 32])], UnixTime(10_000))
    });
    s.begin().unwrap_or_else(|e| panic!("{e}"));
    let purged = s
        .purge_epoch(EpochId::new(100), UnixTime(5_000))
        .unwrap_or_else(|e| panic!("{e}"));
    s.commit().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(purged, vec![RecordId::from_bytes([1; 32])]);
    assert!(
        s.record(&RecordId::from_bytes([1; 32]))
            .unwrap_or(None)
            .is_none()
    );
    assert!(
        s.record(&RecordId::from_bytes([2; 32]))
            .unwrap_or(None)
            .is_some(),
        "held"
    );
    // Idempotent: purging again removes nothing more.
    s.begin().unwrap_or_else(|e| panic!("{e}"));
    let again = s
        .purge_epoch(EpochId::new(100), UnixTime(5_000))
        .unwrap_or_else(|e| panic!("{e}"));
    s.commit().unwrap_or_else(|e| panic!("{e}"));
    assert!(again.is_empty(), "a second purge is a no-op");
    // After the hold expires, the held record goes too.
    s.begin().unwrap_or_else(|e| panic!("{e}"));
    let later = s
        .purge_epoch(EpochId::new(100), UnixTime(10_001))
        .unwrap_or_else(|e| panic!("{e}"));
    s.commit().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(later, vec![RecordId::from_bytes([2; 32])]);
}

#[doc(hidden)]
pub fn rollback_discards<S: Store>(s: &mut S) {
    s.begin().unwrap_or_else(|e| panic!("{e}"));
    s.insert_participant(&participant(5))
        .unwrap_or_else(|e| panic!("{e}"));
    s.insert_record(&record(5, 5, 5, 100))
        .unwrap_or_else(|e| panic!("{e}"));
    s.rollback().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        s.participant(&Pseudonym::from_bytes([5; 16]))
            .unwrap_or(None)
            .is_none(),
        "a rolled-back batch leaves nothing"
    );
    assert!(
        s.record(&RecordId::from_bytes([5; 32]))
            .unwrap_or(None)
            .is_none()
    );
}

#[doc(hidden)]
pub fn recipients<S: Store>(s: &mut S) {
    let r = |role, recipient: &str| SignedEpochRecipient {
        recipient: EpochRecipient {
            epoch: EpochId::new(100),
            custodian: role_id(role).into(),
            role,
            recipient: recipient.into(),
            not_after: UnixTime(9),
        },
        signature: Signature([1; 64]),
    };
    tx(s, |s| {
        s.put_recipient(&r(CustodianRole::Oversight, "age1a"))?;
        s.put_recipient(&r(CustodianRole::Agency, "age1b"))?;
        s.put_recipient(&r(CustodianRole::Agency, "age1c"))
    });
    let got = s.recipients(EpochId::new(100)).unwrap_or_default();
    assert_eq!(got.len(), 2, "one recipient per custodian and epoch");
    assert_eq!(got[0].recipient.role, CustodianRole::Agency, "agency first");
    assert_eq!(
        got[0].recipient.recipient, "age1c",
        "the latest replaces the earlier"
    );
    assert!(
        s.recipients(EpochId::new(101))
            .unwrap_or_default()
            .is_empty()
    );
}

fn role_id(role: CustodianRole) -> &'static str {
    role.as_str()
}

#[doc(hidden)]
pub fn tiles_share_the_transaction<S: Store>(s: &mut S) {
    let tile = TileId::new(0, 0, 1).unwrap_or_else(|_| unreachable!());
    s.begin().unwrap_or_else(|e| panic!("{e}"));
    let mut t = s.tiles();
    t.write_tile(tile, &[3; 32])
        .unwrap_or_else(|e| panic!("{e}"));
    t.write_checkpoint("example.org/log\n1\n…\n")
        .unwrap_or_else(|e| panic!("{e}"));
    s.rollback().unwrap_or_else(|e| panic!("{e}"));
    let t = s.tiles();
    assert!(
        t.read_tile(tile).unwrap_or(None).is_none(),
        "tiles written in a rolled-back batch are gone"
    );
    assert!(t.read_checkpoint().unwrap_or(None).is_none());
    s.begin().unwrap_or_else(|e| panic!("{e}"));
    let mut t = s.tiles();
    t.write_tile(tile, &[3; 32])
        .unwrap_or_else(|e| panic!("{e}"));
    s.commit().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        s.tiles().read_tile(tile).unwrap_or(None).as_deref(),
        Some(&[3u8; 32][..]),
        "tiles written in a committed batch stay"
    );
}

#[doc(hidden)]
pub fn closed_enrollments_purge<S: Store>(s: &mut S) {
    let c = ChallengeId::from_bytes([1; 16]);
    tx(s, |s| {
        s.insert_participant(&participant(1))?;
        s.insert_participant(&participant(2))?;
        s.insert_challenge(&challenge(1, 1, 1_000))?;
        s.insert_challenge(&challenge(2, 2, 1_000))?;
        s.insert_sealed_text(&text(1, 1, 1, 100))?;
        s.insert_sealed_text(&text(2, 2, 2, 100))?;
        s.add_statement(
            &c,
            &Statement {
                category: StatementCategory::Other,
                text: Some(text(1, 1, 1, 100).text_ref()),
            },
        )?;
        s.mark_read(&c, "officer-0001")?;
        s.close_enrollment(&Pseudonym::from_bytes([1; 16]), UnixTime(2_000))
    });
    s.begin().unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(
        s.close_enrollment(&Pseudonym::from_bytes([1; 16]), UnixTime(3_000)),
        Err(StoreError::NotFound { .. })
    ));
    s.rollback().unwrap_or_else(|e| panic!("{e}"));
    s.begin().unwrap_or_else(|e| panic!("{e}"));
    let early = s
        .purge_closed_before(UnixTime(2_000), UnixTime(2_000))
        .unwrap_or_else(|e| panic!("{e}"));
    let gone = s
        .purge_closed_before(UnixTime(2_001), UnixTime(2_001))
        .unwrap_or_else(|e| panic!("{e}"));
    let again = s
        .purge_closed_before(UnixTime(2_001), UnixTime(2_001))
        .unwrap_or_else(|e| panic!("{e}"));
    s.commit().unwrap_or_else(|e| panic!("{e}"));
    assert!(early.is_empty(), "not before its ledger deadline");
    assert_eq!(
        gone,
        vec![PurgedParticipant {
            pseudonym: Pseudonym::from_bytes([1; 16]),
            closed_at: UnixTime(2_000),
        }],
        "who, and when the enrollment closed"
    );
    assert!(again.is_empty(), "a second purge is a no-op");
    assert!(
        s.participant(&Pseudonym::from_bytes([1; 16]))
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none(),
        "the pseudonym, device key, tag key and schedule are gone"
    );
    assert!(
        s.ledger(&Pseudonym::from_bytes([1; 16]))
            .unwrap_or_default()
            .is_empty()
    );
    assert!(
        s.statements(&c).unwrap_or_default().is_empty(),
        "with the rows' statements"
    );
    assert!(!s.read_by(&c, "officer-0001").unwrap_or(true), "and reads");
    assert!(
        s.sealed_text(&RecordId::from_bytes([1; 32]))
            .unwrap_or(None)
            .is_none(),
        "and sealed texts"
    );
    assert!(
        s.sealed_text(&RecordId::from_bytes([2; 32]))
            .unwrap_or(None)
            .is_some(),
        "another participant's text stays"
    );
    assert!(
        s.participant(&Pseudonym::from_bytes([2; 16]))
            .unwrap_or(None)
            .is_some()
    );
}

/// **STO-6**: the log's sequencer is the single checkpoint row, written only by a
/// compare-and-swap against the checkpoint the writer's tile handle last read or wrote. Two
/// writers on one database (`a`, `b`) both read that there is no checkpoint; `a` writes
/// the first and commits; `b`'s write, made from the stale state, is refused, its batch
/// is rolled back with the tile it wrote, and the stored checkpoint is still `a`'s. A
/// handle that reads the checkpoint afresh extends it.
#[doc(hidden)]
pub fn sequencer_is_a_compare_and_swap<S: Store>(a: &mut S, b: &mut S) {
    let ta = a.tiles();
    let tb = b.tiles();
    let (mut ta, mut tb) = (ta, tb);
    assert!(
        ta.read_checkpoint()
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none()
    );
    assert!(
        tb.read_checkpoint()
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none()
    );
    a.begin().unwrap_or_else(|e| panic!("{e}"));
    ta.write_checkpoint("example.org/log\n1\nA\n")
        .unwrap_or_else(|e| panic!("a's first checkpoint: {e}"));
    a.commit().unwrap_or_else(|e| panic!("{e}"));

    let tile = TileId::new(0, 0, 1).unwrap_or_else(|_| unreachable!());
    b.begin().unwrap_or_else(|e| panic!("{e}"));
    tb.write_tile(tile, &[9; 32])
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        tb.write_checkpoint("example.org/log\n1\nB\n").is_err(),
        "a writer whose checkpoint is stale cannot replace the stored one"
    );
    b.rollback().unwrap_or_else(|e| panic!("{e}"));
    let fresh = b.tiles();
    assert_eq!(
        fresh.read_checkpoint().unwrap_or(None).as_deref(),
        Some("example.org/log\n1\nA\n"),
        "the first writer's checkpoint stands"
    );
    assert!(
        fresh.read_tile(tile).unwrap_or(None).is_none(),
        "nothing of the refused batch is kept"
    );

    // A writer that re-read the checkpoint extends it, and then `a`'s handle is stale.
    let mut fresh = fresh;
    b.begin().unwrap_or_else(|e| panic!("{e}"));
    fresh
        .write_checkpoint("example.org/log\n2\nB\n")
        .unwrap_or_else(|e| panic!("b extends what it read: {e}"));
    b.commit().unwrap_or_else(|e| panic!("{e}"));
    a.begin().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        ta.write_checkpoint("example.org/log\n2\nA\n").is_err(),
        "the first writer is now stale in turn"
    );
    a.rollback().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        a.tiles().read_checkpoint().unwrap_or(None).as_deref(),
        Some("example.org/log\n2\nB\n")
    );
}

/// **STO-2**: a reader (the API's) sees a batch only once it is committed, the log's
/// tiles and checkpoint with its rows, and reads them through [`super::ReadStore`].
#[doc(hidden)]
pub fn readers_see_committed_batches_only<S: Store>(s: &mut S) {
    let r = s.open_reader().unwrap_or_else(|e| panic!("a reader: {e}"));
    let p = Pseudonym::from_bytes([7; 16]);
    let tile = TileId::new(0, 0, 1).unwrap_or_else(|_| unreachable!());
    let mut t = s.tiles();
    assert!(
        t.read_checkpoint()
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none()
    );
    s.begin().unwrap_or_else(|e| panic!("{e}"));
    s.insert_participant(&participant(7))
        .unwrap_or_else(|e| panic!("{e}"));
    t.write_tile(tile, &[4; 32])
        .unwrap_or_else(|e| panic!("{e}"));
    t.write_checkpoint("example.org/log\n1\nR\n")
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        r.participant(&p)
            .unwrap_or_else(|e| panic!("{e}"))
            .is_none(),
        "an uncommitted row is not read"
    );
    assert!(r.tile(tile).unwrap_or_else(|e| panic!("{e}")).is_none());
    assert!(r.checkpoint().unwrap_or_else(|e| panic!("{e}")).is_none());
    s.commit().unwrap_or_else(|e| panic!("{e}"));
    assert!(
        r.participant(&p)
            .unwrap_or_else(|e| panic!("{e}"))
            .is_some()
    );
    assert_eq!(
        r.tile(tile).unwrap_or_else(|e| panic!("{e}")).as_deref(),
        Some(&[4u8; 32][..])
    );
    assert_eq!(
        r.checkpoint().unwrap_or_else(|e| panic!("{e}")).as_deref(),
        Some("example.org/log\n1\nR\n")
    );
    let h = r.holdings().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((h.participants, h.records), (1, 0));
    assert!(
        h.log_bytes >= 32,
        "the log's tile and checkpoint are counted"
    );
}

#[cfg(test)]
mod postgres_conformance {
    //! The suite against PostgreSQL (**STO-1**): one test per behaviour, each on a
    //! cluster of its own that the test starts and stops.
    use crate::store::postgres::cluster::Cluster;
    use crate::store::postgres::{PgStore, PgUrl};

    fn url(pg: &Cluster) -> PgUrl {
        PgUrl::parse(&pg.url()).unwrap()
    }

    fn fresh() -> (Cluster, PgStore) {
        let pg = Cluster::start();
        let store = PgStore::open(&url(&pg)).unwrap();
        (pg, store)
    }

    fn pair() -> (Cluster, PgStore, PgStore) {
        let pg = Cluster::start();
        let a = PgStore::open(&url(&pg)).unwrap();
        let b = PgStore::open(&url(&pg)).unwrap();
        (pg, a, b)
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn sto_3_participants_round_trip_and_duplicates_change_nothing() {
        let (_guard, mut s) = fresh();
        super::participants(&mut s);
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn sto_4_the_ledger_keeps_its_order_and_states() {
        let (_guard, mut s) = fresh();
        super::ledger(&mut s);
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn sto_5_records_purge_by_epoch_under_holds_idempotently() {
        let (_guard, mut s) = fresh();
        super::records_and_purge(&mut s);
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn sto_2_a_rolled_back_batch_leaves_nothing() {
        let (_guard, mut s) = fresh();
        super::rollback_discards(&mut s);
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn sto_3_recipients_are_one_per_custodian_and_epoch() {
        let (_guard, mut s) = fresh();
        super::recipients(&mut s);
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn sto_2_the_logs_tiles_share_the_batchs_transaction() {
        let (_guard, mut s) = fresh();
        super::tiles_share_the_transaction(&mut s);
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn sto_5_closed_enrollments_purge_with_their_ledger() {
        let (_guard, mut s) = fresh();
        super::closed_enrollments_purge(&mut s);
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn sto_3_bookkeeping_values_round_trip() {
        let (_guard, mut s) = fresh();
        super::meta_round_trips(&mut s);
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn sto_3_reports_statements_and_reads_round_trip() {
        let (_guard, mut s) = fresh();
        super::reports_statements_and_reads(&mut s);
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn sto_5_sealed_texts_purge_by_epoch_under_holds() {
        let (_guard, mut s) = fresh();
        super::sealed_texts_and_purge(&mut s);
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn sto_4_conditions_and_filings_follow_their_cursors() {
        let (_guard, mut s) = fresh();
        super::conditions_and_filings(&mut s);
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn sto_3_inboxes_deliveries_and_reviews_round_trip() {
        let (_guard, mut s) = fresh();
        super::inboxes_deliveries_and_reviews(&mut s);
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn sto_2_readers_see_committed_batches_only() {
        let (_guard, mut s) = fresh();
        super::readers_see_committed_batches_only(&mut s);
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn sto_6_the_logs_sequencer_is_a_compare_and_swap() {
        let (_guard, mut a, mut b) = pair();
        super::sequencer_is_a_compare_and_swap(&mut a, &mut b);
    }

    #[test]
    #[ignore = "needs PostgreSQL; run by .ci/run"]
    fn sto_1_postgres_store_passes_the_whole_suite_in_one_run() {
        let pg = Cluster::start();
        let mut n = 0;
        super::run(|| {
            n += 1;
            let db = format!("suite{n}");
            pg.create_database(&db);
            PgStore::open(&PgUrl::parse(&pg.url_of(&db)).unwrap()).unwrap()
        });
    }
}

#[cfg(test)]
mod sqlite_conformance {
    //! The suite against SQLite: one test per behaviour, each on a fresh database.
    use crate::store::sqlite::SqliteStore;

    fn fresh() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path()).unwrap();
        (dir, store)
    }

    #[test]
    fn sto_3_participants_round_trip_and_duplicates_change_nothing() {
        let (_dir, mut s) = fresh();
        super::participants(&mut s);
    }

    #[test]
    fn sto_4_the_ledger_keeps_its_order_and_states() {
        let (_dir, mut s) = fresh();
        super::ledger(&mut s);
    }

    #[test]
    fn sto_5_records_purge_by_epoch_under_holds_idempotently() {
        let (_dir, mut s) = fresh();
        super::records_and_purge(&mut s);
    }

    #[test]
    fn sto_2_a_rolled_back_batch_leaves_nothing() {
        let (_dir, mut s) = fresh();
        super::rollback_discards(&mut s);
    }

    #[test]
    fn sto_3_recipients_are_one_per_custodian_and_epoch() {
        let (_dir, mut s) = fresh();
        super::recipients(&mut s);
    }

    #[test]
    fn sto_2_the_logs_tiles_share_the_batchs_transaction() {
        let (_dir, mut s) = fresh();
        super::tiles_share_the_transaction(&mut s);
    }

    #[test]
    fn sto_5_closed_enrollments_purge_with_their_ledger() {
        let (_dir, mut s) = fresh();
        super::closed_enrollments_purge(&mut s);
    }

    #[test]
    fn sto_3_bookkeeping_values_round_trip() {
        let (_dir, mut s) = fresh();
        super::meta_round_trips(&mut s);
    }

    #[test]
    fn sto_3_reports_statements_and_reads_round_trip() {
        let (_dir, mut s) = fresh();
        super::reports_statements_and_reads(&mut s);
    }

    #[test]
    fn sto_5_sealed_texts_purge_by_epoch_under_holds() {
        let (_dir, mut s) = fresh();
        super::sealed_texts_and_purge(&mut s);
    }

    #[test]
    fn sto_4_conditions_and_filings_follow_their_cursors() {
        let (_dir, mut s) = fresh();
        super::conditions_and_filings(&mut s);
    }

    #[test]
    fn sto_3_inboxes_deliveries_and_reviews_round_trip() {
        let (_dir, mut s) = fresh();
        super::inboxes_deliveries_and_reviews(&mut s);
    }

    #[test]
    fn sto_2_readers_see_committed_batches_only() {
        let (_dir, mut s) = fresh();
        super::readers_see_committed_batches_only(&mut s);
    }

    #[test]
    fn sto_6_the_logs_sequencer_is_a_compare_and_swap() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = SqliteStore::open(dir.path()).unwrap();
        let mut b = SqliteStore::open(dir.path()).unwrap();
        super::sequencer_is_a_compare_and_swap(&mut a, &mut b);
    }

    #[test]
    fn sqlite_store_passes_the_whole_suite_in_one_run() {
        let dir = tempfile::tempdir().unwrap();
        let mut n = 0;
        super::run(|| {
            n += 1;
            SqliteStore::open(&dir.path().join(n.to_string())).unwrap()
        });
    }
}
