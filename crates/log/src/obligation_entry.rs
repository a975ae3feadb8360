//! The obligations' log entries (`spec/obligations.md`, **OBL-7**, **OBL-17**), with their
//! one canonical encoding. They follow the type byte of [`crate::LogEntry`]:
//!
//! ```text
//! 0x10 conditions summary   epoch (u32) || opened (u32) || area (4 × u32)
//!                           || presence (4 × u32) || reviews (u32)
//! 0x11 review opened        review_id (16) || epoch (u32) || cause (u8) || day (i64)
//! 0x12 review decided       review_id (16) || decision (u8) || reason (label) || day (i64)
//! 0x13 decision contested   review_id (16) || day (i64)
//! 0x14 appeal decided       review_id (16) || outcome (u8) || reason (label) || day (i64)
//! 0x15 filing received      tag (32) || filing_id (32) || addressee (u8) || day (i64)
//! 0x16 filing acknowledged  filing_id (32) || day (i64)
//! 0x17 delivery acknowledged tag (32) || delivery_id (32) || day (i64)
//! ```
//!
//! `area` and `presence` count the results with each outcome, in code order (not
//! ordered, met, not met, not checked), and each adds up to `opened`. `cause` is 1 missed,
//! 2 condition; `decision` 1 excused, 2 not-excused, 3 no-action; `outcome` 1 upheld,
//! 2 overturned; `reason` is the policy's reason id as a label. Days are 00:00 UTC: the
//! entries carry days, not times, so their order within a day links nothing (**OBL-17**).
//! A review entry names a review id and no participant tag; a summary holds counts only.
//! `filing received` (**OBL-9**) names the participant's tag for the epoch it was received
//! in (the operator appends it, and already knows whose filing it relayed), the filing id
//! and the addressee (1 agency, 2 agency and oversight); `filing acknowledged`
//! (**OBL-10**) names the filing id only. `delivery acknowledged` (**OBL-45**) names the
//! participant's tag for the epoch the device acknowledged in and the delivery id (SHA-256
//! of the sealed delivery): the operator appends it when it deletes the ciphertext.

use minimis_proto::obligations::{
    Addressee, AppealOutcome, Decision, ReasonId, ReviewCause, is_day,
};
use minimis_proto::{DeliveryId, EpochId, FilingId, ParticipantTag, ReviewId, UnixTime};

use crate::entry::{EntryDecodeError, EntryType};

/// The case system's counts of one epoch's condition results (**OBL-7**): no tag, no
/// challenge, no review id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConditionsSummary {
    /// The epoch whose check-ins are counted.
    pub epoch: EpochId,
    /// Condition results opened.
    pub opened: u32,
    /// By area outcome, in code order; adds up to `opened`.
    pub area: [u32; 4],
    /// By presence outcome, in code order; adds up to `opened`.
    pub presence: [u32; 4],
    /// Reviews opened for the epoch's check-ins, missed rows included.
    pub reviews: u32,
}

/// An obligations entry (types `0x10` to `0x14`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ObligationEntry {
    /// `0x10`: an epoch's condition results, counted (**OBL-7**).
    ConditionsSummary(ConditionsSummary),
    /// `0x11`: a review was opened (**OBL-6**, **OBL-17**).
    ReviewOpened {
        /// The review.
        review: ReviewId,
        /// The epoch of the check-in reviewed.
        epoch: EpochId,
        /// Missed, or a condition.
        cause: ReviewCause,
        /// The day.
        day: UnixTime,
    },
    /// `0x12`: an officer decided a review (**OBL-14**).
    ReviewDecided {
        /// The review.
        review: ReviewId,
        /// The decision.
        decision: Decision,
        /// The policy's reason.
        reason: ReasonId,
        /// The day.
        day: UnixTime,
    },
    /// `0x13`: the participant contested a decision (**OBL-15**).
    DecisionContested {
        /// The review.
        review: ReviewId,
        /// The day.
        day: UnixTime,
    },
    /// `0x14`: the oversight body decided an appeal (**OBL-15**).
    AppealDecided {
        /// The review.
        review: ReviewId,
        /// Upheld or overturned.
        outcome: AppealOutcome,
        /// The reason.
        reason: ReasonId,
        /// The day.
        day: UnixTime,
    },
    /// `0x15`: the operator received a participant's filing (**OBL-9**); the entry's
    /// inclusion proof is the participant's receipt.
    FilingReceived {
        /// The participant's tag for the epoch of `day`.
        tag: ParticipantTag,
        /// The filing id: SHA-256 of the filing's signing input.
        filing: FilingId,
        /// Whom it is sealed to.
        addressee: Addressee,
        /// The day it was received.
        day: UnixTime,
    },
    /// `0x16`: the case system acknowledged a filing (**OBL-10**).
    FilingAcknowledged {
        /// The filing.
        filing: FilingId,
        /// The day.
        day: UnixTime,
    },
    /// `0x17`: the device acknowledged a delivery and the operator deleted its ciphertext
    /// (**OBL-12**, **OBL-45**).
    DeliveryAcknowledged {
        /// The participant's tag for the epoch of `day`.
        tag: ParticipantTag,
        /// The delivery id: SHA-256 of the sealed delivery.
        delivery: DeliveryId,
        /// The day the operator received the acknowledgement.
        day: UnixTime,
    },
}

/// A field of an obligations entry outside its values (**LOG-26**).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ObligationFieldError {
    /// A cause byte other than 1 and 2.
    #[error("unknown review cause {0}")]
    UnknownCause(u8),
    /// A decision byte other than 1 to 3.
    #[error("unknown decision {0}")]
    UnknownDecision(u8),
    /// An appeal outcome byte other than 1 and 2.
    #[error("unknown appeal outcome {0}")]
    UnknownOutcome(u8),
    /// An addressee byte other than 1 and 2.
    #[error("unknown addressee {0}")]
    UnknownAddressee(u8),
    /// A day that is not 00:00 UTC.
    #[error("`day` must be a day (00:00 UTC)")]
    NotADay,
    /// Outcome counts that do not add up to the results opened.
    #[error("a conditions summary's {which} counts add up to {sum}, not {opened}")]
    CountsMismatch {
        /// `area` or `presence`.
        which: &'static str,
        /// Their sum.
        sum: u64,
        /// The results opened.
        opened: u32,
    },
}

impl ObligationEntry {
    /// The entry's type.
    pub fn entry_type(&self) -> EntryType {
        match self {
            Self::ConditionsSummary(_) => EntryType::ConditionsSummary,
            Self::ReviewOpened { .. } => EntryType::ReviewOpened,
            Self::ReviewDecided { .. } => EntryType::ReviewDecided,
            Self::DecisionContested { .. } => EntryType::DecisionContested,
            Self::AppealDecided { .. } => EntryType::AppealDecided,
            Self::FilingReceived { .. } => EntryType::FilingReceived,
            Self::FilingAcknowledged { .. } => EntryType::FilingAcknowledged,
            Self::DeliveryAcknowledged { .. } => EntryType::DeliveryAcknowledged,
        }
    }

    /// Appends the fields after the type byte.
    pub(crate) fn encode_body(&self, out: &mut Vec<u8>) {
        let u32 = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_be_bytes());
        let label = |out: &mut Vec<u8>, r: &ReasonId| {
            // A reason id is 1 to 32 bytes: its length fits the u8.
            out.push(r.as_str().len() as u8);
            out.extend_from_slice(r.as_str().as_bytes());
        };
        match self {
            Self::ConditionsSummary(s) => {
                u32(out, s.epoch.get());
                u32(out, s.opened);
                for n in s.area.iter().chain(&s.presence) {
                    u32(out, *n);
                }
                u32(out, s.reviews);
            }
            Self::ReviewOpened {
                review,
                epoch,
                cause,
                day,
            } => {
                out.extend_from_slice(review.as_bytes());
                u32(out, epoch.get());
                out.push(cause.code());
                out.extend_from_slice(&day.seconds().to_be_bytes());
            }
            Self::ReviewDecided {
                review,
                decision,
                reason,
                day,
            } => {
                out.extend_from_slice(review.as_bytes());
                out.push(decision.code());
                label(out, reason);
                out.extend_from_slice(&day.seconds().to_be_bytes());
            }
            Self::DecisionContested { review, day } => {
                out.extend_from_slice(review.as_bytes());
                out.extend_from_slice(&day.seconds().to_be_bytes());
            }
            Self::AppealDecided {
                review,
                outcome,
                reason,
                day,
            } => {
                out.extend_from_slice(review.as_bytes());
                out.push(outcome.code());
                label(out, reason);
                out.extend_from_slice(&day.seconds().to_be_bytes());
            }
            Self::FilingReceived {
                tag,
                filing,
                addressee,
                day,
            } => {
                out.extend_from_slice(tag.as_bytes());
                out.extend_from_slice(filing.as_bytes());
                out.push(addressee.code());
                out.extend_from_slice(&day.seconds().to_be_bytes());
            }
            Self::FilingAcknowledged { filing, day } => {
                out.extend_from_slice(filing.as_bytes());
                out.extend_from_slice(&day.seconds().to_be_bytes());
            }
            Self::DeliveryAcknowledged { tag, delivery, day } => {
                out.extend_from_slice(tag.as_bytes());
                out.extend_from_slice(delivery.as_bytes());
                out.extend_from_slice(&day.seconds().to_be_bytes());
            }
        }
    }

    /// Decodes the fields after the type byte `ty`, which must be one of this module's;
    /// `rest` must hold exactly them.
    pub(crate) fn decode_body(ty: EntryType, rest: &[u8]) -> Result<Self, EntryDecodeError> {
        let mut r = Fields(rest);
        let entry = match ty {
            EntryType::ReviewOpened => {
                let review = r.review()?;
                let epoch = EpochId::new(r.u32("epoch")?);
                let code = r.u8("cause")?;
                let cause =
                    ReviewCause::from_code(code).ok_or(ObligationFieldError::UnknownCause(code))?;
                Self::ReviewOpened {
                    review,
                    epoch,
                    cause,
                    day: r.day()?,
                }
            }
            EntryType::ReviewDecided => {
                let review = r.review()?;
                let code = r.u8("decision")?;
                let decision =
                    Decision::from_code(code).ok_or(ObligationFieldError::UnknownDecision(code))?;
                Self::ReviewDecided {
                    review,
                    decision,
                    reason: r.reason()?,
                    day: r.day()?,
                }
            }
            EntryType::DecisionContested => Self::DecisionContested {
                review: r.review()?,
                day: r.day()?,
            },
            EntryType::AppealDecided => {
                let review = r.review()?;
                let code = r.u8("outcome")?;
                let outcome = AppealOutcome::from_code(code)
                    .ok_or(ObligationFieldError::UnknownOutcome(code))?;
                Self::AppealDecided {
                    review,
                    outcome,
                    reason: r.reason()?,
                    day: r.day()?,
                }
            }
            EntryType::FilingReceived => {
                let tag = ParticipantTag::from_bytes(r.take("tag")?);
                let filing = FilingId::from_bytes(r.take("filing_id")?);
                let code = r.u8("addressee")?;
                let addressee = Addressee::from_code(code)
                    .ok_or(ObligationFieldError::UnknownAddressee(code))?;
                Self::FilingReceived {
                    tag,
                    filing,
                    addressee,
                    day: r.day()?,
                }
            }
            EntryType::FilingAcknowledged => Self::FilingAcknowledged {
                filing: FilingId::from_bytes(r.take("filing_id")?),
                day: r.day()?,
            },
            EntryType::DeliveryAcknowledged => Self::DeliveryAcknowledged {
                tag: ParticipantTag::from_bytes(r.take("tag")?),
                delivery: DeliveryId::from_bytes(r.take("delivery_id")?),
                day: r.day()?,
            },
            // Only this module's types reach here; the summary is the remaining one.
            _ => {
                let epoch = EpochId::new(r.u32("epoch")?);
                let opened = r.u32("opened")?;
                let mut area = [0u32; 4];
                for n in &mut area {
                    *n = r.u32("area")?;
                }
                let mut presence = [0u32; 4];
                for n in &mut presence {
                    *n = r.u32("presence")?;
                }
                let reviews = r.u32("reviews")?;
                for (which, counts) in [("area", &area), ("presence", &presence)] {
                    let sum: u64 = counts.iter().map(|&n| u64::from(n)).sum();
                    if sum != u64::from(opened) {
                        return Err(
                            ObligationFieldError::CountsMismatch { which, sum, opened }.into()
                        );
                    }
                }
                Self::ConditionsSummary(ConditionsSummary {
                    epoch,
                    opened,
                    area,
                    presence,
                    reviews,
                })
            }
        };
        if !r.0.is_empty() {
            return Err(EntryDecodeError::TrailingBytes { count: r.0.len() });
        }
        Ok(entry)
    }
}

struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], EntryDecodeError> {
        if self.0.len() < N {
            return Err(EntryDecodeError::Truncated { field });
        }
        let (head, tail) = self.0.split_at(N);
        self.0 = tail;
        let mut out = [0u8; N];
        out.copy_from_slice(head);
        Ok(out)
    }

    fn u8(&mut self, field: &'static str) -> Result<u8, EntryDecodeError> {
        Ok(self.take::<1>(field)?[0])
    }

    fn u32(&mut self, field: &'static str) -> Result<u32, EntryDecodeError> {
        Ok(u32::from_be_bytes(self.take(field)?))
    }

    fn review(&mut self) -> Result<ReviewId, EntryDecodeError> {
        Ok(ReviewId::from_bytes(self.take("review_id")?))
    }

    fn day(&mut self) -> Result<UnixTime, EntryDecodeError> {
        let day = UnixTime(i64::from_be_bytes(self.take("day")?));
        if !is_day(day) {
            return Err(ObligationFieldError::NotADay.into());
        }
        Ok(day)
    }

    fn reason(&mut self) -> Result<ReasonId, EntryDecodeError> {
        let field = "reason";
        let len = usize::from(self.u8(field)?);
        if self.0.len() < len {
            return Err(EntryDecodeError::Truncated { field });
        }
        let (head, tail) = self.0.split_at(len);
        self.0 = tail;
        std::str::from_utf8(head)
            .ok()
            .and_then(|s| ReasonId::new(s).ok())
            .ok_or(EntryDecodeError::InvalidLabel { field })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LogEntry;

    fn decided() -> LogEntry {
        LogEntry::Obligation(ObligationEntry::ReviewDecided {
            review: ReviewId::from_bytes([0x55; 16]),
            decision: Decision::Excused,
            reason: ReasonId::new("technical-failure").unwrap(),
            day: UnixTime(1_795_651_200),
        })
    }

    #[test]
    fn obl_17_review_entries_are_byte_exact_and_carry_no_tag() {
        let b = decided().encode();
        let mut want = vec![0x12];
        want.extend_from_slice(&[0x55; 16]);
        want.push(1);
        want.push(17);
        want.extend_from_slice(b"technical-failure");
        want.extend_from_slice(&1_795_651_200i64.to_be_bytes());
        assert_eq!(b, want);
    }

    #[test]
    fn obl_9_obl_10_filing_entries_are_byte_exact_and_refuse_a_bad_addressee_or_day() {
        let received = LogEntry::Obligation(ObligationEntry::FilingReceived {
            tag: ParticipantTag::from_bytes([0x11; 32]),
            filing: FilingId::from_bytes([0x66; 32]),
            addressee: Addressee::Agency,
            day: UnixTime(1_795_651_200),
        });
        let b = received.encode();
        let mut want = vec![0x15];
        want.extend_from_slice(&[0x11; 32]);
        want.extend_from_slice(&[0x66; 32]);
        want.push(1);
        want.extend_from_slice(&1_795_651_200i64.to_be_bytes());
        assert_eq!(b, want);
        let mut bad = b.clone();
        bad[65] = 3;
        assert_eq!(
            LogEntry::decode(&bad),
            Err(ObligationFieldError::UnknownAddressee(3).into())
        );
        let mut bad = b.clone();
        bad[73] = 1;
        assert_eq!(
            LogEntry::decode(&bad),
            Err(ObligationFieldError::NotADay.into())
        );
        let acked = LogEntry::Obligation(ObligationEntry::FilingAcknowledged {
            filing: FilingId::from_bytes([0x66; 32]),
            day: UnixTime(1_795_737_600),
        });
        let b = acked.encode();
        let mut want = vec![0x16];
        want.extend_from_slice(&[0x66; 32]);
        want.extend_from_slice(&1_795_737_600i64.to_be_bytes());
        assert_eq!(b, want);
        assert_eq!(LogEntry::decode(&b).unwrap(), acked);
        let mut long = b;
        long.push(0);
        assert!(LogEntry::decode(&long).is_err());
    }

    #[test]
    fn obl_45_delivery_acknowledged_is_byte_exact_and_refuses_a_bad_day_or_length() {
        let acked = LogEntry::Obligation(ObligationEntry::DeliveryAcknowledged {
            tag: ParticipantTag::from_bytes([0x11; 32]),
            delivery: DeliveryId::from_bytes([0x77; 32]),
            day: UnixTime(1_795_737_600),
        });
        let b = acked.encode();
        let mut want = vec![0x17];
        want.extend_from_slice(&[0x11; 32]);
        want.extend_from_slice(&[0x77; 32]);
        want.extend_from_slice(&1_795_737_600i64.to_be_bytes());
        assert_eq!(b, want);
        assert_eq!(LogEntry::decode(&b).unwrap(), acked);
        let mut bad = b.clone();
        bad[72] = 1;
        assert_eq!(
            LogEntry::decode(&bad),
            Err(ObligationFieldError::NotADay.into())
        );
        let mut long = b.clone();
        long.push(0);
        assert!(LogEntry::decode(&long).is_err());
        assert!(LogEntry::decode(&b[..72]).is_err());
    }

    #[test]
    fn obl_7_obl_17_invalid_fields_are_refused_each_with_its_error() {
        let good = decided().encode();
        // A time that is not a day: the order within a day would link entries.
        let mut v = good.clone();
        let n = v.len();
        v[n - 1] = 1;
        assert_eq!(
            LogEntry::decode(&v),
            Err(EntryDecodeError::Obligation(ObligationFieldError::NotADay))
        );
        let mut v = good.clone();
        v[17] = 4;
        assert_eq!(
            LogEntry::decode(&v),
            Err(EntryDecodeError::Obligation(
                ObligationFieldError::UnknownDecision(4)
            ))
        );
        let mut v = good.clone();
        v[19] = b'T';
        assert_eq!(
            LogEntry::decode(&v),
            Err(EntryDecodeError::InvalidLabel { field: "reason" })
        );
        let opened = LogEntry::Obligation(ObligationEntry::ReviewOpened {
            review: ReviewId::from_bytes([1; 16]),
            epoch: EpochId::new(3),
            cause: ReviewCause::Missed,
            day: UnixTime(0),
        })
        .encode();
        let mut v = opened;
        v[21] = 3;
        assert_eq!(
            LogEntry::decode(&v),
            Err(EntryDecodeError::Obligation(
                ObligationFieldError::UnknownCause(3)
            ))
        );
        let appeal = LogEntry::Obligation(ObligationEntry::AppealDecided {
            review: ReviewId::from_bytes([1; 16]),
            outcome: AppealOutcome::Upheld,
            reason: ReasonId::new("r").unwrap(),
            day: UnixTime(0),
        })
        .encode();
        let mut v = appeal;
        v[17] = 0;
        assert_eq!(
            LogEntry::decode(&v),
            Err(EntryDecodeError::Obligation(
                ObligationFieldError::UnknownOutcome(0)
            ))
        );
        // A summary whose counts do not add up.
        let summary = LogEntry::Obligation(ObligationEntry::ConditionsSummary(ConditionsSummary {
            epoch: EpochId::new(3),
            opened: 3,
            area: [0, 2, 1, 0],
            presence: [3, 0, 0, 0],
            reviews: 1,
        }))
        .encode();
        let mut v = summary.clone();
        v[9 + 4 * 4 + 3] = 4; // presence[0] = 4
        assert_eq!(
            LogEntry::decode(&v),
            Err(EntryDecodeError::Obligation(
                ObligationFieldError::CountsMismatch {
                    which: "presence",
                    sum: 4,
                    opened: 3
                }
            ))
        );
        let mut v = summary;
        v[9 + 3] = 9; // area[0] = 9
        assert!(matches!(
            LogEntry::decode(&v),
            Err(EntryDecodeError::Obligation(
                ObligationFieldError::CountsMismatch { which: "area", .. }
            ))
        ));
    }
}
