//! The operator's API, version 1 (`/v1/...`, JSON; spec/operator.md): every request and
//! response body once, for the server that answers and the clients that call
//! (**SVC-40**), and its refusals ([`OperatorRefusal`], **SVC-41**).
//!
//! | route | request | answer |
//! | --- | --- | --- |
//! | `GET /v1/policy` | | [`PolicyResponse`] |
//! | `GET /v1/keys` | | [`KeysResponse`] |
//! | `GET /v1/epochs/{epoch}/recipients` | | `[SignedEpochRecipient]` |
//! | `POST /v1/recipients` | `SignedEpochRecipient` | `204` |
//! | `POST /v1/enrollments` (officer) | [`EnrollRequest`] | `201` [`EnrollResponse`] |
//! | `POST /v1/enrollments/{pseudonym}/close` (officer) | | `204` |
//! | `POST /v1/participants/{pseudonym}/challenges` (officer) | | `201` `SignedChallenge` |
//! | `GET /v1/ledger/{challenge_id}` (officer) | | [`OfficerRow`] |
//! | `POST /v1/ledger/{challenge_id}/resolution` (officer) | [`ResolveRequest`] | [`StateResponse`] |
//! | `GET /v1/participants/{pseudonym}/challenges` (device) | | `[SignedChallenge]` |
//! | `GET /v1/participants/{pseudonym}/ledger` (device) | | `[`[`LedgerRow`]`]` |
//! | `POST /v1/participants/{pseudonym}/failure-reports` (device) | [`FailureReportRequest`] | `204` |
//! | `POST /v1/participants/{pseudonym}/statements` (device) | [`StatementRequest`] | `204` |
//! | `GET /v1/participants/{pseudonym}/receipts/{record_id}` (device) | | `Receipt` |
//! | `POST /v1/checkins` | [`CheckInRequest`] | `201` [`CheckInResponse`] |
//! | `POST /v1/participants/{pseudonym}/filings` (device) | `SignedFiling` | `201` [`FilingReceipt`] |
//! | `GET /v1/case/conditions?after={seq}` (case system) | | `[`[`ConditionItem`]`]` |
//! | `GET /v1/case/filings?after={seq}` (case system) | | `[`[`FilingItem`]`]` |
//! | `POST /v1/case/filings/{filing_id}/acknowledgement` (case system) | | `201` [`AcknowledgementResponse`] |
//! | `POST /v1/case/entries` (case system) | [`CaseEntryRequest`] | `201` [`CaseEntryResponse`] |
//! | `POST /v1/participants/{pseudonym}/inboxes` (device) | `SignedInboxRecipient` | `204` |
//! | `GET /v1/case/inboxes/{pseudonym}/{epoch}` (case system) | | `SignedInboxRecipient` |
//! | `POST /v1/case/deliveries` (case system) | [`DeliveryRequest`] | `201` [`DeliveryPosted`] |
//! | `GET /v1/participants/{pseudonym}/deliveries` (device) | | `[`[`DeliveryItem`]`]` |
//! | `POST /v1/participants/{pseudonym}/deliveries/{delivery_id}/acknowledgement` (device) | `DeliveryAck` | `201` [`AcknowledgementResponse`] |
//! | `POST /v1/custodian/entries` (custodian) | [`EntriesRequest`] | `201` [`EntriesResponse`] |
//! | `GET /v1/custodian/records/{record_id}` (custodian) | | [`RecordResponse`] |
//! | `POST /v1/custodian/holds` (custodian) | [`HoldRequest`] | `204` |
//! | `GET /v1/log/checkpoint`, `GET /v1/log/tile/{path}` | | bytes (C2SP tlog-tiles) |

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_proto::obligations::{SealedDelivery, SignedConditionResult, SignedFiling};
use minimis_proto::{
    ChallengeId, DeliveryId, Envelope, EpochId, FailureCategory, FilingId, LedgerState, Pseudonym,
    PublicKey, Receipt, RecordId, ResolutionReason, Schedule, Signature, SignedChallenge,
    StatementCategory, UnixTime,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::Zeroizing;

use crate::refusal::Refusal;

#[cfg(feature = "openapi")]
use utoipa::ToSchema;

// ---- public ----------------------------------------------------------------------------

/// The policy in force (`GET /v1/policy`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct PolicyResponse {
    /// SHA-256 of the canonical encoding (POL-12), hex.
    pub hash: String,
    /// The policy file.
    pub toml: String,
}

/// The operator's public keys (`GET /v1/keys`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct KeysResponse {
    /// The key that signs challenges (Ed25519, base64).
    pub operator: PublicKey,
    /// The log's verifier key (C2SP signed-note vkey).
    pub log: String,
}

// ---- officers ------------------------------------------------------------------------

/// A participant's tag key as an enrollment carries it (ENR-3): a secret of 32 bytes,
/// standard base64 on the wire. It zeroizes on drop and its `Debug` is redacted; it is
/// serialised only as the field of an [`EnrollRequest`].
#[derive(Clone, PartialEq, Eq)]
pub struct WireTagKey(Zeroizing<[u8; 32]>);

impl WireTagKey {
    /// Wraps the key's bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// The key's bytes.
    pub fn expose_secret(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for WireTagKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WireTagKey(<redacted>)")
    }
}

impl Serialize for WireTagKey {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&Zeroizing::new(B64.encode(*self.0)))
    }
}

impl<'de> Deserialize<'de> for WireTagKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = Zeroizing::new(String::deserialize(d)?);
        let bytes = Zeroizing::new(
            B64.decode(text.as_bytes())
                .map_err(|_| serde::de::Error::custom("tag_key must be 32 bytes of base64"))?,
        );
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| serde::de::Error::custom("tag_key must be 32 bytes of base64"))?;
        Ok(Self::new(key))
    }
}

/// An enrollment (`POST /v1/enrollments`, officer, mutual TLS).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// The device's Ed25519 public key, base64 (ENR-2).
    pub device_key: PublicKey,
    /// The participant's tag key, base64, 32 bytes (ENR-3).
    #[cfg_attr(
        feature = "openapi",
        schema(
            value_type = String,
            content_encoding = "base64",
            min_length = 44,
            max_length = 44,
            pattern = "^[A-Za-z0-9+/]{43}=$"
        )
    )]
    pub tag_key: WireTagKey,
    /// The schedule (spec/schedule.md).
    pub schedule: Schedule,
    /// Whether the participant's order is supervised through condition results
    /// (spec/obligations.md, **OBL-4**): every check-in must then carry one. Absent: no.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub conditions: bool,
}

/// What an enrollment returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EnrollResponse {
    /// The pseudonym the operator assigned (ENR-1), hex.
    pub pseudonym: Pseudonym,
    /// The policy hash, hex.
    pub policy: String,
    /// The operator's keys.
    pub keys: KeysResponse,
}

/// An officer's resolution of a ledger row (CHK-24).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// `excused-technical`, `excused-other` or `not-excused`.
    pub resolution: minimis_proto::Resolution,
    /// What it rests on: `failure-report`, `participant-statement`, `agency-contact`,
    /// `operator-outage`, `check-in-content` or `no-account` (spec/failure.md).
    pub reason: ResolutionReason,
}

/// A ledger row's new state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StateResponse {
    /// The state.
    pub state: LedgerState,
}

/// Where a sealed free text is: its id and the epoch it is sealed to. A custodian
/// fetches it by id (`GET /v1/custodian/records/{id}`) to open it on a justified request;
/// the link stays after the ciphertext is purged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct TextLink {
    /// The text's id, hex (spec/failure.md).
    pub id: RecordId,
    /// The epoch it is sealed to.
    pub epoch: EpochId,
}

/// A technical-failure report, as a ledger row shows it to an officer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FailureReportView {
    /// The category.
    pub category: FailureCategory,
    /// The sealed free text, if the participant wrote one.
    pub text: Option<TextLink>,
}

/// A participant's statement, as a ledger row shows it (ACC-12).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct StatementView {
    /// The category.
    pub category: StatementCategory,
    /// The sealed free text, if the participant wrote one.
    pub text: Option<TextLink>,
}

/// A ledger row as an officer reads it (`GET /v1/ledger/{challenge_id}`): the row as it
/// was recorded, with the participant's failure report and statements beside it (CHK-24,
/// ACC-12).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct OfficerRow {
    /// The challenge.
    pub challenge: SignedChallenge,
    /// Its state.
    pub state: LedgerState,
    /// The officer who resolved it (a role pseudonym), if resolved.
    pub resolved_by: Option<String>,
    /// What the resolution rests on, if resolved.
    pub resolution_reason: Option<ResolutionReason>,
    /// The participant's technical-failure report, if any.
    pub failure_report: Option<FailureReportView>,
    /// The participant's statements, oldest first.
    pub statements: Vec<StatementView>,
}

// ---- participants' devices -------------------------------------------------------------

/// One row of a participant's ledger, as the participant sees it
/// (`GET /v1/participants/{pseudonym}/ledger`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct LedgerRow {
    /// The challenge.
    pub challenge: SignedChallenge,
    /// Its state.
    pub state: LedgerState,
    /// What the resolution rests on, if resolved.
    pub resolution_reason: Option<ResolutionReason>,
    /// A technical-failure report filed for it: its category.
    pub failure_report: Option<FailureCategory>,
    /// The failure report's sealed free text, if it has one.
    pub failure_text: Option<TextLink>,
    /// The participant's statements on the row, oldest first (ACC-12).
    pub statements: Vec<StatementView>,
}

/// A free text the device sealed to the current epoch's custodians exactly as it seals a
/// check-in (spec/failure.md): the operator stores it and cannot read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SealedText {
    /// The epoch whose custodians' keys sealed it: the current one.
    pub epoch: EpochId,
    /// The age ciphertext, base64, within the bound of a check-in's (SEAL-4).
    #[serde(with = "minimis_proto::wire::base64_bytes")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, content_encoding = "base64"))]
    pub ciphertext: Vec<u8>,
}

/// A technical-failure report (CHK-23): a category, the challenge, and an optional
/// sealed free text. Nothing else: no logs, screenshots, device identifiers or location.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FailureReportRequest {
    /// The challenge it concerns, hex.
    pub challenge_id: ChallengeId,
    /// `no-network`, `app-error`, `device-error`, `presence-unavailable` or `other`.
    pub category: FailureCategory,
    /// The participant's own words, sealed on the device; absent if none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<SealedText>,
}

/// A participant's statement on a row of their ledger (ACC-12): a category, the
/// challenge, and an optional sealed free text, as a failure report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct StatementRequest {
    /// The challenge whose row it is attached to, hex.
    pub challenge_id: ChallengeId,
    /// `dispute`, `explanation`, `correction` or `other`.
    pub category: StatementCategory,
    /// The participant's own words, sealed on the device; absent if none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<SealedText>,
}

/// A check-in (`POST /v1/checkins`): the signed envelope's fields (spec/checkin.md) and,
/// for an enrollment under conditions, the sealed condition result of the same challenge
/// (**OBL-4**), signed with the same device key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CheckInRequest {
    /// Whose, hex.
    pub pseudonym: Pseudonym,
    /// The challenge answered, hex.
    pub challenge_id: ChallengeId,
    /// The epoch whose custodians' keys sealed it.
    pub epoch: EpochId,
    /// The sealed check-in, base64 (SEAL-4 bounds its length).
    #[serde(with = "minimis_proto::wire::base64_bytes")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, content_encoding = "base64"))]
    pub ciphertext: Vec<u8>,
    /// The device's signature over the envelope (CHK-10), base64.
    pub signature: Signature,
    /// The sealed, signed condition result (**OBL-4**); absent for an enrollment not under
    /// conditions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition: Option<SignedConditionResult>,
}

impl CheckInRequest {
    /// The request for `envelope`, with `condition` if the enrollment is under conditions.
    pub fn new(envelope: &Envelope, condition: Option<SignedConditionResult>) -> Self {
        Self {
            pseudonym: envelope.pseudonym,
            challenge_id: envelope.challenge_id,
            epoch: envelope.epoch,
            ciphertext: envelope.ciphertext.as_bytes().to_vec(),
            signature: envelope.signature,
            condition,
        }
    }
}

/// What a filing returns (`POST /v1/participants/{pseudonym}/filings`, `201`): the
/// participant's evidence of timely notice (**OBL-9**).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FilingReceipt {
    /// The filing id (SHA-256 of the filing's signing input), hex.
    pub filing_id: FilingId,
    /// The day it was received (00:00 UTC), as the `filing received` entry says.
    pub day: UnixTime,
    /// The C2SP tlog-proof of the `filing received` entry against the checkpoint of the
    /// batch that logged it.
    pub tlog_proof: String,
}

/// What a check-in returns (`POST /v1/checkins`, `201`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CheckInResponse {
    /// The receipt: the record id and a C2SP tlog-proof against the batch's checkpoint.
    pub receipt: Receipt,
    /// `on-time` or `late`.
    pub state: LedgerState,
}

// ---- the agency's case system ----------------------------------------------------------

/// A condition result, as the operator serves it to the agency's case system
/// (`GET /v1/case/conditions`, **OBL-5**): in the order the operator stored them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct ConditionItem {
    /// Its position in the operator's order: the cursor for the next page.
    pub seq: u64,
    /// The ledger row's challenge, hex.
    pub challenge_id: ChallengeId,
    /// The ledger row's epoch.
    pub epoch: EpochId,
    /// The result as the device signed it.
    pub condition: SignedConditionResult,
}

/// A filing, as the operator serves it to the agency's case system
/// (`GET /v1/case/filings`, **OBL-9**).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct FilingItem {
    /// Its position in the operator's order: the cursor for the next page.
    pub seq: u64,
    /// The day it was received, as its `filing received` entry says.
    pub day: UnixTime,
    /// Whether the case system has acknowledged it (`filing acknowledged` logged).
    pub acknowledged: bool,
    /// The filing as the device signed it.
    pub filing: SignedFiling,
}

/// What an acknowledgement returns
/// (`POST /v1/case/filings/{filing_id}/acknowledgement`, `201`, **OBL-10**).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct AcknowledgementResponse {
    /// The day logged: the operator's day when it appended the entry.
    pub day: UnixTime,
    /// The C2SP tlog-proof of the `filing acknowledged` entry.
    pub tlog_proof: String,
}

/// The most items one page of `GET /v1/case/conditions` or `GET /v1/case/filings` holds.
pub const CASE_PAGE: usize = 256;

/// One of the case system's log entries (`POST /v1/case/entries`, **OBL-46**): a
/// `conditions summary`, `review opened`, `review decided`, `decision contested` or
/// `appeal decided`, in its canonical encoding (spec/log.md), dated the operator's day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CaseEntryRequest {
    /// The entry's canonical encoding, base64.
    pub entry: String,
}

impl CaseEntryRequest {
    /// The request for `entry`.
    pub fn new(entry: &minimis_log::LogEntry) -> Self {
        Self {
            entry: B64.encode(entry.encode()),
        }
    }
}

/// What a case-system entry returns (`201`): the day logged and the entry's tlog-proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct CaseEntryResponse {
    /// The operator's day, which the entry carries.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub day: UnixTime,
    /// The C2SP tlog-proof of the entry.
    pub tlog_proof: String,
}

// ---- deliveries (OBL-11, OBL-12, OBL-43 to OBL-45) -------------------------------------

/// A sealed delivery the case system posts for a participant (`POST /v1/case/deliveries`,
/// **OBL-44**): sealed to the participant's inbox recipient of `epoch`, which the operator
/// cannot open.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DeliveryRequest {
    /// For whom, hex.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub pseudonym: Pseudonym,
    /// The epoch of the inbox recipient it is sealed to.
    #[cfg_attr(feature = "openapi", schema(value_type = u32))]
    pub epoch: EpochId,
    /// The age file: the 512-byte delivery and its sender's signature, sealed.
    pub delivery: SealedDelivery,
}

/// What posting a delivery returns (`201`): its id, SHA-256 of the sealed bytes, which
/// the device's acknowledgement names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DeliveryPosted {
    /// The delivery id, hex.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub delivery_id: DeliveryId,
}

/// A delivery waiting for the device (`GET /v1/participants/{pseudonym}/deliveries`,
/// **OBL-44**), in the order stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct DeliveryItem {
    /// The delivery id, hex.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub delivery_id: DeliveryId,
    /// The epoch of the inbox it is sealed to: which inbox identity opens it.
    #[cfg_attr(feature = "openapi", schema(value_type = u32))]
    pub epoch: EpochId,
    /// The day the operator received it.
    #[cfg_attr(feature = "openapi", schema(value_type = i64))]
    pub day: UnixTime,
    /// The sealed delivery.
    pub delivery: SealedDelivery,
}

/// The most deliveries one answer of `GET /v1/participants/{pseudonym}/deliveries` holds;
/// the device acknowledges them and asks again for the rest.
pub const DELIVERY_PAGE: usize = 32;

// ---- key custodians ------------------------------------------------------------------

/// Entries a custodian appends to the log (`POST /v1/custodian/entries`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct EntriesRequest {
    /// Each entry's canonical encoding (spec/log.md), base64.
    pub entries: Vec<String>,
}

impl EntriesRequest {
    /// The request for `entries`.
    pub fn new(entries: &[minimis_log::LogEntry]) -> Self {
        Self {
            entries: entries.iter().map(|e| B64.encode(e.encode())).collect(),
        }
    }
}

/// The entries' tlog-proofs, in order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct EntriesResponse {
    /// C2SP tlog-proofs against the checkpoint of the batch that committed them.
    pub proofs: Vec<String>,
}

/// What a stored record is (`RecordResponse::kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum RecordKind {
    /// `check-in`: a sealed check-in (CHK-12).
    CheckIn,
    /// `sealed-text`: the sealed text of a failure report or statement (spec/failure.md).
    SealedText,
}

/// A stored record, for a custodian to open (`GET /v1/custodian/records/{record_id}`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
pub struct RecordResponse {
    /// The record id, hex.
    pub record_id: RecordId,
    /// The epoch it is sealed to.
    pub epoch: EpochId,
    /// Whose (for the custodian's caseload check), hex.
    pub pseudonym: Pseudonym,
    /// The sealed check-in or text, base64.
    #[serde(with = "minimis_proto::wire::base64_bytes")]
    #[cfg_attr(feature = "openapi", schema(value_type = String, content_encoding = "base64"))]
    pub ciphertext: Vec<u8>,
    /// What the opened payload is.
    pub kind: RecordKind,
    /// For a check-in, the challenge it answers, hex: with it the custodian recomputes the
    /// record id from the envelope's fields (CHK-12), so the operator cannot serve one
    /// record's ciphertext under another's id (ACC-41).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge_id: Option<ChallengeId>,
}

/// A legal hold, as the operator must honour it (`POST /v1/custodian/holds`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(ToSchema))]
#[serde(deny_unknown_fields)]
pub struct HoldRequest {
    /// Record ids, hex.
    pub records: Vec<RecordId>,
    /// Until when the records must not be purged (unix seconds).
    pub until: i64,
}

// ---- refusals ------------------------------------------------------------------------

macro_rules! refusals {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident = ($status:literal, $code:literal),)* }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vm])* $v,)*
        }

        impl $name {
            /// The HTTP status it is answered with.
            pub const fn status(self) -> u16 {
                match self {
                    $(Self::$v => $status,)*
                }
            }

            /// Its machine-readable code (snake_case).
            pub const fn code(self) -> &'static str {
                match self {
                    $(Self::$v => $code,)*
                }
            }
        }

        impl Refusal for $name {
            const ALL: &'static [Self] = &[$(Self::$v,)*];

            fn status(self) -> u16 {
                $name::status(self)
            }

            fn code(self) -> &'static str {
                $name::code(self)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.code())
            }
        }
    };
}

pub(crate) use refusals;

refusals! {
    /// Every refusal of the operator's API, with its status and code (spec/operator.md
    /// § Errors, **CHK-16**, **SVC-41**). The server answers a refusal only from a variant;
    /// its clients read the variant back ([`Refused::parse`](crate::Refused::parse)).
    OperatorRefusal {
        /// `400 malformed`: not JSON, an unknown or missing field, a wrong type, bad hex or
        /// base64, an unknown category, resolution or reason; a path or query that does not
        /// parse.
        Malformed = (400, "malformed"),
        /// `401 bad_signature`: the envelope's or the request's signature does not verify.
        BadSignature = (401, "bad_signature"),
        /// `401 missing_authorization`: a device or custodian route without a signature.
        MissingAuthorization = (401, "missing_authorization"),
        /// `401 bad_authorization`: an `Authorization` header that is not well formed.
        BadAuthorization = (401, "bad_authorization"),
        /// `401 stale_request`: a signed request's time is more than 300 s from the
        /// server's.
        StaleRequest = (401, "stale_request"),
        /// `401 client_certificate_required`: an officer route without an officer
        /// certificate.
        ClientCertificateRequired = (401, "client_certificate_required"),
        /// `401 case_system_required`: a case-system route without the case system's
        /// signature, or an operator with no case system configured (**OBL-5**).
        CaseSystemRequired = (401, "case_system_required"),
        /// `403 not_yours`: a device acting for another pseudonym.
        NotYours = (403, "not_yours"),
        /// `403 challenge_not_yours`: the challenge was issued to another participant.
        ChallengeNotYours = (403, "challenge_not_yours"),
        /// `403 not_your_entry`: a custodian's entry names another custodian.
        NotYourEntry = (403, "not_your_entry"),
        /// `404 unknown_participant`: no such pseudonym.
        UnknownParticipant = (404, "unknown_participant"),
        /// `404 unknown_challenge`: no such challenge.
        UnknownChallenge = (404, "unknown_challenge"),
        /// `404 unknown_record`: no such record or sealed text.
        UnknownRecord = (404, "unknown_record"),
        /// `404 unknown_filing`: no such filing (an acknowledgement, **OBL-10**).
        UnknownFiling = (404, "unknown_filing"),
        /// `404 unknown_delivery`: no such delivery of this participant's held, or its
        /// ciphertext expired (an acknowledgement, **OBL-45**).
        UnknownDelivery = (404, "unknown_delivery"),
        /// `404 no_inbox`: the participant has published no inbox recipient for that
        /// epoch, or it expired (**OBL-43**, **OBL-44**).
        NoInbox = (404, "no_inbox"),
        /// `404 unknown_review`: a review step for a review never opened (**OBL-46**).
        UnknownReview = (404, "unknown_review"),
        /// `404 not_found`: no such route, tile or checkpoint.
        NotFound = (404, "not_found"),
        /// `405 method_not_allowed`: the route does not take this method.
        MethodNotAllowed = (405, "method_not_allowed"),
        /// `408 request_timeout`: the body did not arrive within the body timeout.
        RequestTimeout = (408, "request_timeout"),
        /// `409 challenge_already_answered`: a replay.
        ChallengeAlreadyAnswered = (409, "challenge_already_answered"),
        /// `409 not_reviewable`: resolving a row that is open or resolved already.
        NotReviewable = (409, "not_reviewable"),
        /// `409 report_not_read`: resolving `not-excused` before reading the row's report
        /// and statements (CHK-24).
        ReportNotRead = (409, "report_not_read"),
        /// `409 failure_report_exists`: a second, different failure report on a row.
        FailureReportExists = (409, "failure_report_exists"),
        /// `409 statement_limit`: a ninth statement on a row.
        StatementLimit = (409, "statement_limit"),
        /// `409 filing_already_received`: the same filing again (a replay, **OBL-9**); its
        /// receipt is at `GET /v1/participants/{pseudonym}/receipts/{filing_id}`.
        FilingAlreadyReceived = (409, "filing_already_received"),
        /// `409 filing_already_acknowledged`: a second acknowledgement (**OBL-10**).
        FilingAlreadyAcknowledged = (409, "filing_already_acknowledged"),
        /// `409 inbox_already_published`: another inbox recipient for an epoch that has
        /// one; it is never replaced (**OBL-43**).
        InboxAlreadyPublished = (409, "inbox_already_published"),
        /// `409 delivery_already_received`: the same sealed delivery again (**OBL-44**).
        DeliveryAlreadyReceived = (409, "delivery_already_received"),
        /// `409 delivery_already_acknowledged`: a second acknowledgement, a replay
        /// (**OBL-45**).
        DeliveryAlreadyAcknowledged = (409, "delivery_already_acknowledged"),
        /// `409 review_already_opened`: a second `review opened` for a review id
        /// (**OBL-46**).
        ReviewAlreadyOpened = (409, "review_already_opened"),
        /// `409 review_already_decided`: a second decision of a review (**OBL-46**).
        ReviewAlreadyDecided = (409, "review_already_decided"),
        /// `409 review_not_decided`: a contest of a review not decided (**OBL-46**).
        ReviewNotDecided = (409, "review_not_decided"),
        /// `409 review_already_contested`: a second contest of a decision (**OBL-46**).
        ReviewAlreadyContested = (409, "review_already_contested"),
        /// `409 review_not_contested`: an appeal decided on a decision nobody contested
        /// (**OBL-46**).
        ReviewNotContested = (409, "review_not_contested"),
        /// `409 appeal_already_decided`: a second decision of an appeal (**OBL-46**).
        AppealAlreadyDecided = (409, "appeal_already_decided"),
        /// `409 conditions_summary_already_logged`: a second conditions summary for an
        /// epoch (**OBL-46**).
        ConditionsSummaryAlreadyLogged = (409, "conditions_summary_already_logged"),
        /// `409 recipient_already_published`: a second, different recipient for an epoch
        /// and custodian that already has one (**SEAL-23**).
        RecipientAlreadyPublished = (409, "recipient_already_published"),
        /// `410 enrollment_closed`: the participant's enrollment is closed.
        EnrollmentClosed = (410, "enrollment_closed"),
        /// `413 body_too_large`: a body over the limit.
        BodyTooLarge = (413, "body_too_large"),
        /// `414 uri_too_long`: a request target longer than the HTTP implementation takes;
        /// the connection is closed.
        UriTooLong = (414, "uri_too_long"),
        /// `422 ciphertext_length`: outside the policy's bound (SEAL-4).
        CiphertextLength = (422, "ciphertext_length"),
        /// `422 condition_required`: a check-in of an enrollment under conditions without
        /// its condition result (**OBL-4**).
        ConditionRequired = (422, "condition_required"),
        /// `422 condition_malformed`: a condition result whose ciphertext is not the length
        /// of one sealed to one recipient, or that is not for the check-in's participant
        /// and challenge (**OBL-4**).
        ConditionMalformed = (422, "condition_malformed"),
        /// `422 filing_malformed`: a filing whose ciphertext is not the length of one sealed
        /// to its addressee (**OBL-9**).
        FilingMalformed = (422, "filing_malformed"),
        /// `422 wrong_day`: a case-system entry dated another day than the operator's
        /// (**OBL-46**).
        WrongDay = (422, "wrong_day"),
        /// `422 unknown_reason`: a review decided with a reason the policy does not list
        /// (**OBL-46**).
        UnknownReason = (422, "unknown_reason"),
        /// `422 contest_window_closed`: a contest after `obligations.contest_days`
        /// (**OBL-46**).
        ContestWindowClosed = (422, "contest_window_closed"),
        /// `422 epoch_not_closed`: a conditions summary of an epoch not ended or with a
        /// challenge still open (**OBL-46**).
        EpochNotClosed = (422, "epoch_not_closed"),
        /// `422 inbox_malformed`: an inbox recipient that is not an age X25519 recipient
        /// (**OBL-43**).
        InboxMalformed = (422, "inbox_malformed"),
        /// `422 delivery_malformed`: a delivery whose ciphertext is not the length of a
        /// signed delivery sealed to one recipient (**OBL-44**).
        DeliveryMalformed = (422, "delivery_malformed"),
        /// `422 obligations_not_in_force`: a condition result, a filing or an enrollment
        /// under conditions under a policy without an `[obligations]` table (**OBL-22**).
        ObligationsNotInForce = (422, "obligations_not_in_force"),
        /// `422 challenge_not_open`: before the challenge's window.
        ChallengeNotOpen = (422, "challenge_not_open"),
        /// `422 challenge_expired`: after the window and the grace period.
        ChallengeExpired = (422, "challenge_expired"),
        /// `422 wrong_epoch`: sealed to an epoch that is not the current one.
        WrongEpoch = (422, "wrong_epoch"),
        /// `422 unsigned_epoch`: the epoch has no recipient signed by every custodian.
        UnsignedEpoch = (422, "unsigned_epoch"),
        /// `422 reason_not_on_row`: a resolution's reason names a report or statement the
        /// row does not have.
        ReasonNotOnRow = (422, "reason_not_on_row"),
        /// `422 schedule_out_of_policy`: an enrollment whose schedule the policy does not
        /// allow.
        ScheduleOutOfPolicy = (422, "schedule_out_of_policy"),
        /// `422 unknown_custodian`: a recipient from a custodian the policy or
        /// configuration does not name.
        UnknownCustodian = (422, "unknown_custodian"),
        /// `422 bad_recipient_signature`: a published epoch recipient not signed by the
        /// custodian it names.
        BadRecipientSignature = (422, "bad_recipient_signature"),
        /// `422 entry_not_allowed`: a custodian appending an entry kind custodians do not
        /// log.
        EntryNotAllowed = (422, "entry_not_allowed"),
        /// `422 outside_window`: an ad-hoc challenge outside the schedule's windows.
        OutsideWindow = (422, "outside_window"),
        /// `422 scheduled_already_issued`: the slot's scheduled challenge exists.
        ScheduledAlreadyIssued = (422, "scheduled_already_issued"),
        /// `422 daily_cap_reached`: the schedule's daily cap is reached.
        DailyCapReached = (422, "daily_cap_reached"),
        /// `422 adhoc_cap_reached`: the schedule's ad-hoc cap is reached.
        AdhocCapReached = (422, "adhoc_cap_reached"),
        /// `422 payload_length`: the benchmark comparator's plaintext payload is not 512
        /// bytes (never served by a minimis server).
        PayloadLength = (422, "payload_length"),
        /// `431 head_too_large`: a request head (request line and headers) over 64 KiB;
        /// the connection is closed.
        HeadTooLarge = (431, "head_too_large"),
        /// `500 internal_error`: a fault a handler answered without a refusal of its own;
        /// nothing was done.
        InternalError = (500, "internal_error"),
        /// `503 storage_unavailable`: the batch could not be committed; nothing was
        /// recorded; retry.
        StorageUnavailable = (503, "storage_unavailable"),
        /// `503 service_unavailable`: the server cannot serve the request now (its clock
        /// is before the first epoch, or it has no randomness); nothing was recorded.
        ServiceUnavailable = (503, "service_unavailable"),
    }
}

impl OperatorRefusal {
    /// The refusal for a schedule's verdict on a challenge (spec/schedule.md).
    pub fn from_schedule(v: &minimis_proto::schedule::ScheduleViolation) -> Self {
        use minimis_proto::schedule::ScheduleViolation as V;
        match v {
            V::OutsideWindow => Self::OutsideWindow,
            V::ScheduledAlreadyIssued => Self::ScheduledAlreadyIssued,
            V::DailyCapReached { .. } => Self::DailyCapReached,
            V::AdHocCapReached { .. } => Self::AdhocCapReached,
            // A verdict added to the schedule later refuses as outside the windows until
            // it has a code of its own: refused either way, never admitted.
            _ => Self::OutsideWindow,
        }
    }
}

/// Whether the custodian `me` (its id in the policy) may append `entry` to the log
/// (`POST /v1/custodian/entries`): accesses, denials and key destructions that name it,
/// and legal holds. The one place this is decided; the operator's server and the
/// in-process operator of tests and the demo both ask it.
///
/// # Errors
/// [`OperatorRefusal::EntryNotAllowed`] for an entry kind custodians do not log,
/// [`OperatorRefusal::NotYourEntry`] for an entry that names another custodian.
pub fn custodian_may_append(
    entry: &minimis_log::LogEntry,
    me: &str,
) -> Result<(), OperatorRefusal> {
    use minimis_log::LogEntry;
    let named = match entry {
        LogEntry::ContentAccessed(a) | LogEntry::AccessDenied { access: a, .. } => {
            Some(a.custodian.as_str())
        }
        LogEntry::EpochKeyDestroyed { custodian, .. } => Some(custodian.as_str()),
        LogEntry::LegalHoldPlaced(_) | LogEntry::LegalHoldReleased(_) => None,
        _ => return Err(OperatorRefusal::EntryNotAllowed),
    };
    match named {
        Some(n) if n != me => Err(OperatorRefusal::NotYourEntry),
        _ => Ok(()),
    }
}
