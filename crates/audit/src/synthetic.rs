//! Synthetic logs: a realistic, compliant history under the reference policy, for the
//! auditor's tests, its benchmark and demonstrations. Deterministic: the same
//! [`Params`] give the same entries, keys and checkpoints.
//!
//! The history of `participants` people over `epochs` weekly epochs: everyone enrolls in
//! the first epoch; every day has `windows_per_day` two-hour windows, each with one
//! scheduled challenge per participant, answered (a check-in) 97% of the time; a quarter
//! of the participants get one ad-hoc challenge per epoch; about one participant in a
//! hundred has a record opened per epoch, by the agency custodian and then the oversight
//! custodian, and as many requests are refused; one record per epoch goes on legal hold
//! and is released two epochs later. When an epoch's content deadline passes, the
//! operator purges its records and both custodians destroy its keys, an hour early.
//!
//! Nothing here holds personal data: tags, record ids and challenge ids are hashes of
//! counters.

use minimis_crypto::{SigningKey, TagKey, sha256};
use minimis_log::entry::{
    Access, CaseCommitment, CaseRef, CaseSalt, CustodianId, HoldId, LegalBasisId, LegalHold,
    OfficerId, PurposeId, RecordSet, RecordSetHash,
};
use minimis_log::{
    Cosigner, DenialReason, KeyName, Log, LogEntry, MemoryStorage, NoteSigner, VerifierKey, Witness,
};
use minimis_proto::{
    ChallengeId, ChallengeKind, EpochId, ParticipantTag, Policy, Pseudonym, RecordId, UnixTime,
    WindowSpan, default_policy,
};
use zeroize::Zeroizing;

/// The log key's name in synthetic logs.
pub const LOG_NAME: &str = "log.minimis.example";
/// The witness key's name in synthetic logs.
pub const WITNESS_NAME: &str = "oversight.example/witness";

/// The shape of a synthetic history.
#[derive(Clone, Debug)]
pub struct Params {
    /// People enrolled.
    pub participants: u32,
    /// Consecutive epochs.
    pub epochs: u32,
    /// The first epoch.
    pub first_epoch: u32,
    /// Two-hour windows a day, each with one scheduled challenge (1 to 3).
    pub windows_per_day: u32,
    /// Days after the end of the last epoch at which the history is audited.
    pub audit_days_after: u32,
}

impl Params {
    /// 40 people over 16 weeks, audited 120 days after: about 19,000 entries, with
    /// purges and destructions of the first epochs.
    pub fn small() -> Self {
        Self {
            participants: 40,
            epochs: 16,
            first_epoch: 2_950,
            windows_per_day: 2,
            audit_days_after: 120,
        }
    }

    /// About a million entries: 1,150 people over 31 weeks, two windows a day.
    pub fn million() -> Self {
        Self {
            participants: 1_150,
            epochs: 31,
            first_epoch: 2_950,
            windows_per_day: 2,
            audit_days_after: 1,
        }
    }
}

/// A participant of a synthetic history: their tag key and pseudonym.
pub fn participant(i: u32) -> (TagKey, Pseudonym) {
    let key = sha256(format!("minimis synthetic tag key {i}").as_bytes());
    let p = sha256(format!("minimis synthetic pseudonym {i}").as_bytes());
    let mut pseudonym = [0u8; 16];
    pseudonym.copy_from_slice(&p[..16]);
    (
        TagKey::from_bytes(Zeroizing::new(key)),
        Pseudonym::from_bytes(pseudonym),
    )
}

fn id32(label: &str, parts: &[u64]) -> [u8; 32] {
    let mut input = label.as_bytes().to_vec();
    for p in parts {
        input.extend_from_slice(&p.to_be_bytes());
    }
    sha256(&input)
}

fn id16(label: &str, parts: &[u64]) -> [u8; 16] {
    let mut out = [0u8; 16];
    out.copy_from_slice(&id32(label, parts)[..16]);
    out
}

/// A generated history: its entries, the policy it follows and when to audit it.
#[derive(Clone, Debug)]
pub struct History {
    /// The entries, in log order.
    pub entries: Vec<LogEntry>,
    /// The policy (the reference policy).
    pub policy: Policy,
    /// The time to audit it at: deadlines before it are due.
    pub now: UnixTime,
}

fn label<T, E: std::fmt::Debug>(r: Result<T, E>) -> T {
    match r {
        Ok(v) => v,
        // The labels below are literals that meet the label rules.
        Err(e) => unreachable!("a valid literal label: {e:?}"),
    }
}

struct Builder<'a> {
    policy: &'a Policy,
    entries: Vec<LogEntry>,
    records: Vec<Vec<RecordId>>,
    done: usize,
}

impl Builder<'_> {
    fn retire(&mut self, first: u32, until: UnixTime) {
        while self.done < self.records.len() {
            let epoch = EpochId::new(first + self.done as u32);
            let deadline = self.policy.content_deadline(epoch);
            if deadline > until {
                break;
            }
            let at = deadline.plus(-3600);
            let (count, record_set) = RecordSetHash::of(&self.records[self.done]);
            self.entries.push(LogEntry::RecordsPurged {
                epoch,
                count,
                record_set,
                purged_at: at,
            });
            for c in self.policy.custodians() {
                self.entries.push(LogEntry::EpochKeyDestroyed {
                    custodian: label(CustodianId::new(&c.id)),
                    epoch,
                    destroyed_at: at,
                });
            }
            self.done += 1;
        }
    }
}

impl History {
    /// Generates the history of `params` under the reference policy.
    pub fn generate(params: &Params) -> Self {
        let policy = default_policy();
        let mut b = Builder {
            policy: &policy,
            entries: Vec::new(),
            records: Vec::new(),
            done: 0,
        };
        let people: Vec<(TagKey, Pseudonym)> = (0..params.participants).map(participant).collect();
        b.entries.push(LogEntry::PolicyPublished {
            policy: policy.hash(),
        });
        let windows = params.windows_per_day.clamp(1, 3);
        let purposes = ["compliance-review", "technical-failure-review"];
        let officers = ["officer-7f3a", "officer-21c9", "officer-b044"];
        let mut hold: Option<(u32, LegalHold)> = None;
        for k in 0..params.epochs {
            let e = params.first_epoch + k;
            let epoch = EpochId::new(e);
            let start = policy.epoch_start(epoch);
            b.retire(params.first_epoch, start);
            let tags: Vec<ParticipantTag> =
                people.iter().map(|(key, p)| key.tag(p, epoch)).collect();
            if k == 0 {
                for tag in &tags {
                    b.entries.push(LogEntry::EnrollmentOpened {
                        tag: *tag,
                        epoch,
                        policy: policy.hash(),
                    });
                }
            }
            let mut records = Vec::new();
            let days = u64::from(policy.epoch_length_days());
            for day in 0..days {
                for w in 0..u64::from(windows) {
                    let open = start.plus((day as i64) * 86_400 + (8 + 5 * w as i64) * 3_600);
                    let window = WindowSpan {
                        start: open,
                        end: open.plus(7_200),
                    };
                    for (p, tag) in tags.iter().enumerate() {
                        let p = p as u64;
                        let ids = [p, u64::from(e), day, w];
                        let challenge = ChallengeId::from_bytes(id16("challenge", &ids));
                        b.entries.push(LogEntry::ChallengeIssued {
                            tag: *tag,
                            challenge,
                            epoch,
                            kind: ChallengeKind::Scheduled,
                            issued_at: open.plus((p % 60) as i64 * 60),
                            window,
                        });
                        // 97% answered.
                        if id32("answered", &ids)[0] >= 8 {
                            let record = RecordId::from_bytes(id32("record", &ids));
                            records.push(record);
                            b.entries.push(LogEntry::CheckInReceived {
                                tag: *tag,
                                record,
                                challenge,
                                epoch,
                            });
                        }
                        // One ad-hoc challenge per epoch for a quarter of the people, in
                        // the first window of the fourth day.
                        if day == 3 && w == 0 && (p + u64::from(e)).is_multiple_of(4) {
                            let ids = [p, u64::from(e), day, w, 1];
                            let challenge = ChallengeId::from_bytes(id16("challenge", &ids));
                            b.entries.push(LogEntry::ChallengeIssued {
                                tag: *tag,
                                challenge,
                                epoch,
                                kind: ChallengeKind::AdHoc,
                                issued_at: open.plus(5_400),
                                window,
                            });
                            let record = RecordId::from_bytes(id32("record", &ids));
                            records.push(record);
                            b.entries.push(LogEntry::CheckInReceived {
                                tag: *tag,
                                record,
                                challenge,
                                epoch,
                            });
                        }
                    }
                }
            }
            // Accesses on the epoch's records: agency, then oversight; and refusals.
            let opened = (params.participants / 100).max(1) as usize;
            let step = (records.len() / opened).max(1);
            for (n, record) in records.iter().step_by(step).take(opened).enumerate() {
                let n = n + k as usize;
                let access = Access {
                    custodian: label(CustodianId::new("agency")),
                    officer: label(OfficerId::new(officers[n % officers.len()])),
                    purpose: label(PurposeId::new(purposes[n % purposes.len()])),
                    legal_basis: label(LegalBasisId::new("release-conditions")),
                    case: CaseCommitment::new(
                        &CaseSalt::from_bytes(id32("salt", &[u64::from(e), n as u64])),
                        &label(CaseRef::new(&format!("HOU-{e}-{n:05}"))),
                    ),
                    records: label(RecordSet::new([*record])),
                    epoch,
                };
                b.entries.push(LogEntry::ContentAccessed(access.clone()));
                b.entries.push(LogEntry::ContentAccessed(Access {
                    custodian: label(CustodianId::new("oversight")),
                    ..access.clone()
                }));
                b.entries.push(LogEntry::AccessDenied {
                    access: Access {
                        purpose: label(PurposeId::new("court-order")),
                        legal_basis: label(LegalBasisId::new("court-order")),
                        ..access
                    },
                    reason: if n.is_multiple_of(2) {
                        DenialReason::NotInCaseload
                    } else {
                        DenialReason::OversightRefused
                    },
                });
            }
            // A legal hold on one record, released two epochs later.
            if let Some((placed, h)) = &hold
                && k == placed + 2
            {
                b.entries.push(LogEntry::LegalHoldReleased(h.clone()));
                hold = None;
            }
            if hold.is_none()
                && let Some(record) = records.last()
            {
                let h = LegalHold {
                    hold: HoldId::from_bytes(id16("hold", &[u64::from(e)])),
                    records: label(RecordSet::new([*record])),
                    legal_basis: label(LegalBasisId::new("court-order")),
                    expires: policy.epoch_end(epoch).plus(30 * 86_400),
                };
                b.entries.push(LogEntry::LegalHoldPlaced(h.clone()));
                hold = Some((k, h));
            }
            b.records.push(records);
        }
        let last = EpochId::new(params.first_epoch + params.epochs.saturating_sub(1));
        let now = policy
            .epoch_end(last)
            .plus(i64::from(params.audit_days_after) * 86_400);
        if let Some((_, h)) = hold.take() {
            b.entries.push(LogEntry::LegalHoldReleased(h));
        }
        b.retire(params.first_epoch, now);
        let entries = b.entries;
        Self {
            entries,
            policy,
            now,
        }
    }
}

/// A log made to slow down an auditor whose checks are not linear in the entries
/// (**AUD-32**): what a malicious operator can log at will.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Adversarial {
    /// `n` challenges to one participant in one epoch, each in a window occurrence of its
    /// own (the windows overlap, and the epoch holds far more than the cap allows).
    Challenges(u32),
    /// `n` check-ins in one epoch, each under one of `n / 1,024` legal holds that expire
    /// a year later, and 256 more holds on the first record; then `n` purges of that
    /// epoch, each naming no record (every record is on hold, so none is due).
    Holds(u32),
}

impl History {
    /// The history of an [`Adversarial`] log under the reference policy, audited a day
    /// after its epoch ends. Every entry is well formed; the claims it breaks (the caps,
    /// for [`Adversarial::Challenges`]) are reported as violations.
    pub fn adversarial(kind: Adversarial) -> Self {
        let policy = default_policy();
        let epoch = EpochId::new(2_950);
        let start = policy.epoch_start(epoch);
        let (key, pseudonym) = participant(0);
        let tag = key.tag(&pseudonym, epoch);
        let mut entries = vec![
            LogEntry::PolicyPublished {
                policy: policy.hash(),
            },
            LogEntry::EnrollmentOpened {
                tag,
                epoch,
                policy: policy.hash(),
            },
        ];
        match kind {
            Adversarial::Challenges(n) => {
                let span = policy.epoch_end(epoch).seconds() - start.seconds() - 7_200;
                for i in 0..i64::from(n) {
                    let open = start.plus(i % span);
                    let window = WindowSpan {
                        start: open,
                        end: open.plus(3_600 + i / span),
                    };
                    entries.push(LogEntry::ChallengeIssued {
                        tag,
                        challenge: ChallengeId::from_bytes(id16("flood", &[i as u64])),
                        epoch,
                        kind: ChallengeKind::Scheduled,
                        issued_at: open,
                        window,
                    });
                }
            }
            Adversarial::Holds(n) => {
                let records: Vec<RecordId> = (0..u64::from(n))
                    .map(|i| RecordId::from_bytes(id32("held record", &[i])))
                    .collect();
                let window = WindowSpan {
                    start: start.plus(3_600),
                    end: start.plus(7_200),
                };
                for (i, record) in records.iter().enumerate() {
                    let challenge = ChallengeId::from_bytes(id16("held", &[i as u64]));
                    entries.push(LogEntry::ChallengeIssued {
                        tag,
                        challenge,
                        epoch,
                        kind: ChallengeKind::Scheduled,
                        issued_at: window.start,
                        window,
                    });
                    entries.push(LogEntry::CheckInReceived {
                        tag,
                        record: *record,
                        challenge,
                        epoch,
                    });
                }
                let expires = policy.epoch_end(epoch).plus(365 * 86_400);
                let hold = |h: u64, set: &[RecordId]| {
                    LogEntry::LegalHoldPlaced(LegalHold {
                        hold: HoldId::from_bytes(id16("flood hold", &[h])),
                        records: label(RecordSet::new(set.iter().copied())),
                        legal_basis: label(LegalBasisId::new("court-order")),
                        expires,
                    })
                };
                let mut h = 0u64;
                for chunk in records.chunks(minimis_log::entry::MAX_RECORDS) {
                    entries.push(hold(h, chunk));
                    h += 1;
                }
                for _ in 0..256 {
                    entries.push(hold(h, &records[..1]));
                    h += 1;
                }
                let (count, record_set) = RecordSetHash::of(&[]);
                for i in 0..i64::from(n) {
                    entries.push(LogEntry::RecordsPurged {
                        epoch,
                        count,
                        record_set,
                        purged_at: policy.content_deadline(epoch).plus(-86_400 + i % 3_600),
                    });
                }
            }
        }
        Self {
            entries,
            now: policy.epoch_end(epoch).plus(86_400),
            policy,
        }
    }
}

/// The log's signing key in synthetic logs (a fixed seed).
pub fn log_signer() -> NoteSigner {
    NoteSigner::new(
        label(KeyName::new(LOG_NAME)),
        label(SigningKey::from_seed(&[0x4c; 32])),
    )
}

/// The witness's cosigning key in synthetic logs (a fixed seed).
pub fn witness_cosigner() -> Cosigner {
    Cosigner::new(
        label(KeyName::new(WITNESS_NAME)),
        label(SigningKey::from_seed(&[0x57; 32])),
    )
}

/// When the synthetic witness cosigns.
pub const WITNESS_TIME: UnixTime = UnixTime(1_900_000_000);

/// A log in memory with the synthetic keys, its checkpoint cosigned by the witness.
#[derive(Debug)]
pub struct SignedLog {
    /// The log.
    pub log: Log<MemoryStorage>,
    /// The log's verifier key.
    pub log_key: VerifierKey,
    /// The witness's verifier key.
    pub witness_key: VerifierKey,
    witness: Witness,
}

impl SignedLog {
    /// Appends `entries` in batches of `batch` and has the witness cosign the last
    /// checkpoint.
    ///
    /// # Panics
    /// If the in-memory log refuses an entry, which a [`LogEntry`] never makes it do.
    #[allow(clippy::expect_used)]
    pub fn build(entries: &[LogEntry], batch: usize) -> Self {
        let log = Log::create(MemoryStorage::new(), log_signer()).expect("a new memory log");
        let log_key = log.verifier_key();
        let witness =
            Witness::new(witness_cosigner(), log_key.clone()).expect("an Ed25519 log key");
        let witness_key = witness.verifier_key();
        let mut s = Self {
            log,
            log_key,
            witness_key,
            witness,
        };
        s.append(entries, batch);
        s
    }

    /// Appends more entries in batches of `batch`, then has the witness check
    /// consistency and cosign the new checkpoint.
    ///
    /// # Panics
    /// If the in-memory log refuses an entry.
    #[allow(clippy::expect_used)]
    pub fn append(&mut self, entries: &[LogEntry], batch: usize) {
        let before = self.log.size();
        for chunk in entries.chunks(batch.max(1)) {
            self.log
                .append_entries(chunk)
                .expect("a memory log appends");
        }
        self.cosign(before);
    }

    /// Appends raw bytes as one batch, whatever they are (for a test of an entry that
    /// is not a minimis entry), and has the witness cosign.
    ///
    /// # Panics
    /// If the in-memory log refuses an entry (one longer than 65,535 bytes).
    #[allow(clippy::expect_used)]
    pub fn append_bytes(&mut self, entries: &[Vec<u8>]) {
        let before = self.log.size();
        self.log
            .append_batch(entries)
            .expect("a memory log appends");
        self.cosign(before);
    }

    #[allow(clippy::expect_used)]
    fn cosign(&mut self, before: u64) {
        let size = self.log.size();
        let proof = if before > 0 && before < size {
            self.log
                .consistency_proof(before, size)
                .expect("a proof within the log")
                .consistency_path
        } else {
            Vec::new()
        };
        let cosignature = self
            .witness
            .cosign(
                self.log.checkpoint().to_string().as_bytes(),
                &proof,
                WITNESS_TIME,
            )
            .expect("the witness cosigns the log's own extension");
        self.log
            .add_cosignature(cosignature, &self.witness_key)
            .expect("a fresh cosignature verifies");
    }

    /// A copy of the log's storage: tiles, bundles and the cosigned checkpoint.
    pub fn storage(&self) -> MemoryStorage {
        self.log.storage().clone()
    }
}
