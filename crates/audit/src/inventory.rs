//! A vendor's declared data inventory, held against the minimis specification:
//! `minimis compare INVENTORY.toml` (spec: `spec/inventory.md`, **AUD-20** to **AUD-26**).
//!
//! Any supervision app's vendor (or anyone reading the public record about one) fills in
//! an inventory in TOML: every category of data the system holds, with what it is, why
//! it is kept, who holds it and who can read it, how long it is kept and how that is
//! enforced, whether it is shared and whether it is encrypted and who holds the keys;
//! then how the system treats location, biometrics, device identifiers and request
//! metadata, what it logs and who can check the log, who may open records and how,
//! what the participant can see, and how it treats a missed check-in. Every entry may
//! cite its `source` and say how good the evidence is (`evidence`).
//!
//! [`Inventory::compare`] holds each declared property against the requirement of this
//! specification that governs it, and reports each gap with the requirement IDs it
//! fails. A property declared `"unknown"` is a gap too (**AUD-22**): what a vendor
//! cannot show does not hold for procurement.
//!
//! ```toml
//! format = "minimis-inventory/1"
//!
//! [about]
//! system = "Example check-in app"
//! operator = "Example Vendor Inc."
//! agency = "Example Supervision Agency"
//! prepared_by = "Example Vendor Inc."
//! as_of = "2026-01"
//! complete = true              # every datum the system holds is listed below
//!
//! [[data]]
//! id = "check-in-photos"       # a-z, 0-9 and -, unique
//! category = "face-image"      # one of the categories below
//! what = "A selfie at each check-in"
//! why = "Identity verification by face matching"
//! held_by = ["operator", "agency"]
//! readable_by = ["operator", "agency"]
//! retention_days = 2555        # or "indefinite" or "unknown"
//! retention_enforced_by = "policy-only"
//! encryption = "at-rest"
//! key_holders = ["operator"]
//! shared = false
//! source = "Vendor privacy policy, section 3"
//! evidence = "declared"
//!
//! [location]
//! mode = "point-at-check-in"
//! remote_continuous = false
//! fixes_outside_check_ins = false
//! zone_test_on = "server"
//!
//! # … and [biometrics], [device], [network], [schedule], [log], [access],
//! # [participant], [failure] and [use]: see spec/inventory.md for every key.
//! ```
//!
//! Parsing is strict (**AUD-20**): an unknown key, a missing key, a value outside its
//! set or a duplicate id is refused with an [`InventoryError`] that names it. Data the
//! system does not hold may be listed with `held_by = []` to declare its absence; the
//! other properties of such an entry may then be left out.
//!
//! ```
//! use minimis_audit::inventory::Inventory;
//!
//! let minimis = Inventory::from_toml_str(include_str!("../../../examples/inventories/minimis.toml"))?;
//! let result = minimis.compare(&minimis_proto::default_policy());
//! assert!(result.gaps.is_empty());
//! assert_eq!(result.exit_code(), 0);
//! # Ok::<(), minimis_audit::inventory::InventoryError>(())
//! ```
//!
//! **Trust domain:** anyone. The inventory is what someone declares; the comparison says
//! what the declaration, if true, would fail. It proves nothing about the system itself:
//! that is what the log and the auditor are for.

use std::collections::BTreeSet;
use std::fmt;
use std::fmt::Write as _;

use minimis_proto::{Policy, PolicyHash};
use serde::de::{self, Deserializer, Unexpected, Visitor};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::html::escape;

/// The `format` an inventory must declare.
pub const INVENTORY_FORMAT: &str = "minimis-inventory/1";

/// The inventory of BI SmartLINK as publicly documented
/// (`examples/inventories/smartlink.toml`), which the audit report compares by default.
pub const SMARTLINK_INVENTORY: &str = include_str!("../../../examples/inventories/smartlink.toml");

/// The inventory of a minimis deployment under the reference policy
/// (`examples/inventories/minimis.toml`); it compares with no gap (**AUD-25**).
pub const MINIMIS_INVENTORY: &str = include_str!("../../../examples/inventories/minimis.toml");

/// The `format` of `minimis compare --json`.
pub const COMPARE_FORMAT: &str = "minimis-compare/1";

/// The longest entry id.
pub const MAX_ID_LEN: usize = 64;

/// Why an inventory was refused (**AUD-20**). Nothing was compared.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InventoryError {
    /// Not valid TOML, a key the format does not define, a missing key, a wrong type, or
    /// a value outside its set. The message names the key and the line.
    #[error("inventory is not valid: {0}")]
    Toml(#[from] toml::de::Error),
    /// The `format` line names a format this version does not read.
    #[error("inventory format `{found}` is not supported; expected `{INVENTORY_FORMAT}`")]
    UnsupportedFormat {
        /// The format the file named.
        found: String,
    },
    /// An entry id that is not 1 to 64 characters of `a-z`, `0-9` and `-`.
    #[error("inventory id `{id}` must be 1 to {MAX_ID_LEN} characters of a-z, 0-9 and -")]
    InvalidId {
        /// The id found.
        id: String,
    },
    /// The same id twice in `[[data]]`.
    #[error("inventory id `{id}` appears twice in [[data]]")]
    DuplicateId {
        /// The repeated id.
        id: String,
    },
    /// A text that must say something is blank.
    #[error("inventory value `{key}` must not be blank")]
    Blank {
        /// The key, with its entry (`data.<id>.what`, `about.system`).
        key: String,
    },
    /// A datum that is held (`held_by` is not empty) lacks a property every held datum
    /// must declare.
    #[error(
        "inventory entry `data.{id}` is held by someone, so it must declare `{key}` (write \"unknown\" where the value is not known)"
    )]
    MissingForHeldDatum {
        /// The entry's id.
        id: String,
        /// The missing key.
        key: &'static str,
    },
    /// `shared = true` without naming with whom.
    #[error(
        "inventory entry `data.{id}` says `shared = true`; name the recipients in `shared_with`"
    )]
    SharedWithoutRecipients {
        /// The entry's id.
        id: String,
    },
}

/// A yes-or-no property that may be unknown: written `true`, `false` or `"unknown"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Answer {
    /// `true`.
    Yes,
    /// `false`.
    No,
    /// `"unknown"`: the preparer could not establish it. Always a gap where a rule reads
    /// it (**AUD-22**).
    Unknown,
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Yes => "true",
            Self::No => "false",
            Self::Unknown => "unknown",
        })
    }
}

struct AnswerVisitor;

impl Visitor<'_> for AnswerVisitor {
    type Value = Answer;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("true, false or \"unknown\"")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Answer, E> {
        Ok(if v { Answer::Yes } else { Answer::No })
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Answer, E> {
        if v == "unknown" {
            Ok(Answer::Unknown)
        } else {
            Err(E::invalid_value(Unexpected::Str(v), &self))
        }
    }
}

impl<'de> Deserialize<'de> for Answer {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(AnswerVisitor)
    }
}

/// A whole number, or one of a few words.
enum Quantity {
    Number(u32),
    Word(usize),
}

struct QuantityVisitor {
    words: &'static [&'static str],
    expecting: &'static str,
}

impl Visitor<'_> for QuantityVisitor {
    type Value = Quantity;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
        u32::try_from(v)
            .map(Quantity::Number)
            .map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
        u32::try_from(v)
            .map(Quantity::Number)
            .map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
        self.words
            .iter()
            .position(|w| *w == v)
            .map(Quantity::Word)
            .ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
    }
}

/// How long a datum is kept: written as a number of days, `"indefinite"` or
/// `"unknown"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Retention {
    /// Kept this many days (counted as the policy counts the matching minimis datum:
    /// content from the end of its epoch, ledger-like data from the end of supervision).
    Days(u32),
    /// No end is set, or the record shows data kept without end.
    Indefinite,
    /// Not known.
    Unknown,
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Days(d) => write!(f, "{d} days"),
            Self::Indefinite => f.write_str("indefinite"),
            Self::Unknown => f.write_str("unknown"),
        }
    }
}

impl<'de> Deserialize<'de> for Retention {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(
            match d.deserialize_any(QuantityVisitor {
                words: &["indefinite", "unknown"],
                expecting: "a number of days, \"indefinite\" or \"unknown\"",
            })? {
                Quantity::Number(n) => Self::Days(n),
                Quantity::Word(0) => Self::Indefinite,
                Quantity::Word(_) => Self::Unknown,
            },
        )
    }
}

/// A count with a possible absence of limit: a number, `"unlimited"` or `"unknown"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// At most this many.
    AtMost(u32),
    /// No limit.
    Unlimited,
    /// Not known.
    Unknown,
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::AtMost(n) => write!(f, "{n}"),
            Self::Unlimited => f.write_str("unlimited"),
            Self::Unknown => f.write_str("unknown"),
        }
    }
}

impl<'de> Deserialize<'de> for Limit {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(
            match d.deserialize_any(QuantityVisitor {
                words: &["unlimited", "unknown"],
                expecting: "a number, \"unlimited\" or \"unknown\"",
            })? {
                Quantity::Number(n) => Self::AtMost(n),
                Quantity::Word(0) => Self::Unlimited,
                Quantity::Word(_) => Self::Unknown,
            },
        )
    }
}

/// A number of minutes, or `"unknown"`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Minutes {
    /// This many minutes.
    Minutes(u32),
    /// Not known.
    Unknown,
}

impl fmt::Display for Minutes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Minutes(n) => write!(f, "{n} minutes"),
            Self::Unknown => f.write_str("unknown"),
        }
    }
}

impl<'de> Deserialize<'de> for Minutes {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(
            match d.deserialize_any(QuantityVisitor {
                words: &["unknown"],
                expecting: "a number of minutes or \"unknown\"",
            })? {
                Quantity::Number(n) => Self::Minutes(n),
                Quantity::Word(_) => Self::Unknown,
            },
        )
    }
}

macro_rules! words {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $word:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
        #[non_exhaustive]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $word)] $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant,)+];

            /// The value as written in an inventory.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $word,)+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

words!(
    /// How good the evidence for an entry is: `evidence = "..."`. A vendor's own
    /// inventory is `declared`; one built from the public record says for each entry
    /// what kind of source it rests on.
    #[derive(Default)]
    Evidence {
        /// Declared by the system's operator or the agency itself (the default).
        #[default]
        Declared = "declared",
        /// Stated in the cited source, which was read: the vendor's or the agency's own
        /// document, a government report, a press report of records released under
        /// FOIA.
        Cited = "cited",
        /// The cited document was seen only through a summary, a mirror or another
        /// report of it.
        Secondary = "secondary",
        /// A claim that could not be checked against any source.
        Unverified = "unverified",
        /// An estimate or an inference by the preparer, not a statement of any source.
        Estimate = "estimate",
    }
);

words!(
    /// A category of data. The first group is what minimis itself holds
    /// (`spec/data.md`, D1 to D20); the second is what it never collects.
    Category {
        /// Check-in schedules (D1).
        Schedule = "schedule",
        /// Challenges: requests to check in (D2).
        Challenge = "challenge",
        /// What a check-in says: its result, a location or zone result, a presence
        /// result, a note, a match result (D3, D4).
        CheckInContent = "check-in-content",
        /// The compliance ledger: on time, late, missed, reviewed (D5, D6).
        ComplianceLedger = "compliance-ledger",
        /// Pseudonyms and device public keys (D7).
        Pseudonym = "pseudonym",
        /// Names, dates of birth, A-numbers, addresses, phone numbers, e-mail (D8).
        Identity = "identity",
        /// The ordered area itself (D9).
        Zone = "zone",
        /// A log of what the system did: challenges, check-ins, accesses (D12, D14).
        Log = "log",
        /// Receipts of check-ins (D15).
        Receipt = "receipt",
        /// Keys (D16, D17).
        Key = "key",
        /// Officer credentials and caseloads (D18).
        OfficerCredential = "officer-credential",
        /// Legal holds (D19).
        LegalHold = "legal-hold",
        /// The published policy (D20).
        Policy = "policy",
        /// A precise location: coordinates, a cell or Wi-Fi identifier, an address
        /// geocoded from the phone. Never leaves the device (POL-1, LOC-2).
        PreciseLocation = "precise-location",
        /// A series of locations over time. Never taken (POL-1, LOC-1, LOC-3).
        LocationTrack = "location-track",
        /// Contacts, references, any data about third parties (POL-2).
        Contacts = "contacts",
        /// Vehicle and driver data (POL-3).
        Vehicle = "vehicle",
        /// Face images. Never leave the device (POL-4).
        FaceImage = "face-image",
        /// Voice prints or voice recordings used to verify identity (POL-4).
        VoicePrint = "voice-print",
        /// Any other biometric sample or template (POL-4).
        BiometricTemplate = "biometric-template",
        /// Health data, including pregnancy and births (POL-5).
        Health = "health",
        /// Device identifiers: IMEI, serial, advertising id, SIM, MAC, phone number
        /// (POL-6).
        DeviceIdentifier = "device-identifier",
        /// IP addresses, user agents, request headers, connection times (POL-7).
        RequestMetadata = "request-metadata",
        /// Analytics, crash reports, usage telemetry (POL-23).
        Telemetry = "telemetry",
        /// Data brought in from brokers, jails, other agencies' systems (POL-22).
        ExternalRecords = "external-records",
        /// Hearing and appointment dates: they stay in the court's docket and the
        /// agency's case file (D11, POL-8).
        Appointments = "appointments",
        /// Messages, calls and video between participant and officer (POL-8).
        Messages = "messages",
        /// Anything else: case notes, referrals, derived records (POL-8).
        Other = "other",
    }
);

words!(
    /// A party that holds or reads data. The operator is whoever runs the servers (the
    /// vendor); the agency supervises; oversight is an independent body such as a court.
    Party {
        /// The participant's own phone.
        Device = "device",
        /// The operator: the vendor running the servers.
        Operator = "operator",
        /// The supervising agency.
        Agency = "agency",
        /// An independent oversight body.
        Oversight = "oversight",
        /// Anyone: published.
        Public = "public",
        /// Anyone else: another agency, a data broker, a subcontractor.
        ThirdParty = "third-party",
    }
);

words!(
    /// How a retention period is enforced.
    Enforcement {
        /// By destroying the keys the data is encrypted to, so that every copy,
        /// backups included, becomes unreadable.
        KeyDestruction = "key-destruction",
        /// By deleting the data on schedule, and logging the deletion.
        Deletion = "deletion",
        /// By a statement in a policy or a contract only.
        PolicyOnly = "policy-only",
        /// Not known.
        Unknown = "unknown",
    }
);

words!(
    /// How a datum is encrypted.
    Encryption {
        /// Encrypted where it is made (the phone) to keys that the parties storing it do
        /// not hold.
        EndToEnd = "end-to-end",
        /// Encrypted in storage by the party that holds it, with keys it holds.
        AtRest = "at-rest",
        /// Not encrypted in storage.
        None = "none",
        /// Not known.
        Unknown = "unknown",
    }
);

words!(
    /// What location the system takes.
    LocationMode {
        /// None at all.
        None = "none",
        /// One fix at a check-in, tested against the ordered area on the phone; only
        /// inside, outside or unavailable leaves it (minimis).
        ZoneResultAtCheckIn = "zone-result-at-check-in",
        /// A location (coordinates) sent with each check-in.
        PointAtCheckIn = "point-at-check-in",
        /// Locations over time, between check-ins.
        Continuous = "continuous",
        /// Not known.
        Unknown = "unknown",
    }
);

words!(
    /// Where a location is tested against the ordered area.
    ZoneTest {
        /// On the participant's phone.
        Device = "device",
        /// On the operator's or the agency's servers.
        Server = "server",
        /// No area is tested.
        None = "none",
        /// Not known.
        Unknown = "unknown",
    }
);

words!(
    /// How the log names a participant.
    Naming {
        /// By a tag that changes every epoch (minimis, ENR-3).
        EpochTag = "epoch-tag",
        /// By one pseudonym for the whole supervision.
        FixedPseudonym = "fixed-pseudonym",
        /// By name, A-number or another identity.
        Identity = "identity",
        /// Not known.
        Unknown = "unknown",
    }
);

words!(
    /// An operating-system permission the app requests.
    Permission {
        /// Location while the app is in use.
        ForegroundLocation = "foreground-location",
        /// Location while the app is not in use.
        BackgroundLocation = "background-location",
        /// The camera.
        Camera = "camera",
        /// The microphone.
        Microphone = "microphone",
        /// The address book.
        Contacts = "contacts",
        /// Call logs.
        CallLog = "call-log",
        /// Text messages.
        Sms = "sms",
        /// The phone's identity (number, IMEI, SIM).
        PhoneIdentity = "phone-identity",
        /// Notifications.
        Notifications = "notifications",
        /// Network access.
        Network = "network",
        /// Any other permission.
        Other = "other",
        /// The list may be incomplete.
        Unknown = "unknown",
    }
);

impl Permission {
    /// Whether POL-21 forbids it.
    pub const fn forbidden(self) -> bool {
        matches!(
            self,
            Self::BackgroundLocation
                | Self::Camera
                | Self::Microphone
                | Self::Contacts
                | Self::CallLog
                | Self::Sms
                | Self::PhoneIdentity
        )
    }
}

/// What minimis requires of a category it never collects.
struct NeverCollected {
    /// Who may hold it all the same (the device, for what never leaves it).
    allowed: &'static [Party],
    requirements: &'static [&'static str],
    minimis: &'static str,
}

/// How the comparison treats a category.
enum Kind {
    Content,
    LedgerLike,
    Identity,
    Zone,
    Allowed,
    Never(NeverCollected),
}

impl Category {
    /// Whether minimis ever holds data of this category.
    pub fn held_by_minimis(self) -> bool {
        !matches!(self.kind(), Kind::Never(_))
    }

    fn kind(self) -> Kind {
        let never = |allowed, requirements, minimis| {
            Kind::Never(NeverCollected {
                allowed,
                requirements,
                minimis,
            })
        };
        const DEVICE: &[Party] = &[Party::Device];
        match self {
            Self::CheckInContent => Kind::Content,
            Self::Schedule | Self::Challenge | Self::ComplianceLedger | Self::Pseudonym => {
                Kind::LedgerLike
            }
            Self::Identity => Kind::Identity,
            Self::Zone => Kind::Zone,
            Self::Log
            | Self::Receipt
            | Self::Key
            | Self::OfficerCredential
            | Self::LegalHold
            | Self::Policy => Kind::Allowed,
            Self::PreciseLocation => never(
                DEVICE,
                &["POL-1", "LOC-2"],
                "a precise location never leaves the phone; only inside, outside or unavailable does",
            ),
            Self::LocationTrack => never(
                &[],
                &["POL-1", "LOC-1", "LOC-3"],
                "no location over time is taken: at most one fix per check-in, on the phone",
            ),
            Self::Contacts => never(
                &[],
                &["POL-2"],
                "no contacts, references or other data about third parties",
            ),
            Self::Vehicle => never(&[], &["POL-3"], "no vehicle or driver data"),
            Self::FaceImage => never(DEVICE, &["POL-4"], "face images never leave the phone"),
            Self::VoicePrint => never(DEVICE, &["POL-4"], "voice prints never leave the phone"),
            Self::BiometricTemplate => never(
                DEVICE,
                &["POL-4"],
                "no biometric sample or template leaves the phone",
            ),
            Self::Health => never(
                &[],
                &["POL-5"],
                "no health data, including pregnancy and births",
            ),
            Self::DeviceIdentifier => never(
                DEVICE,
                &["POL-6"],
                "no device identifiers: the phone is known only by the public key it made",
            ),
            Self::RequestMetadata => never(
                DEVICE,
                &["POL-7", "POL-20"],
                "no IP addresses, user agents or other request metadata are stored or logged",
            ),
            Self::Telemetry => never(
                &[],
                &["POL-23"],
                "no analytics, advertising, crash-reporting or telemetry components",
            ),
            Self::ExternalRecords => never(
                &[],
                &["POL-22"],
                "no combination with data from brokers, jails or other agencies' systems",
            ),
            Self::Appointments => never(
                &[Party::Agency],
                &["POL-8"],
                "hearing and appointment dates stay in the court's docket and the agency's case file, not in the app",
            ),
            Self::Messages => never(
                &[],
                &["POL-8"],
                "no messaging, calls or video: every datum held serves a listed obligation",
            ),
            Self::Other => never(
                &[],
                &["POL-8"],
                "every datum held serves an obligation listed in the data table; nothing else is collected",
            ),
        }
    }
}

/// Where the evidence for an entry comes from.
struct Provenance {
    source: Option<String>,
    evidence: Evidence,
}

/// `[about]`: the system and who prepared the inventory.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct About {
    /// The system described.
    pub system: String,
    /// Who runs its servers (the vendor).
    pub operator: String,
    /// The supervising agency.
    pub agency: String,
    /// Who prepared this inventory.
    pub prepared_by: String,
    /// When the inventory describes the system: a date or a month, in words.
    pub as_of: String,
    /// Whether every datum the system holds is listed in `[[data]]` (POL-8).
    pub complete: Answer,
    /// Anything else a reader should know.
    #[serde(default)]
    pub note: Option<String>,
    /// The citation for `complete`.
    #[serde(default)]
    pub source: Option<String>,
    /// How good that evidence is.
    #[serde(default)]
    pub evidence: Evidence,
}

/// One `[[data]]` entry: a category of data the system holds (or, with `held_by = []`,
/// declares it does not hold).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Datum {
    /// A short id, unique in the inventory: 1 to 64 characters of `a-z`, `0-9`, `-`.
    pub id: String,
    /// Its category.
    pub category: Category,
    /// What it is, in words.
    pub what: String,
    /// Why it is kept: the obligation or purpose it serves.
    pub why: String,
    /// Who holds a copy. Empty: the system does not hold it.
    pub held_by: Vec<Party>,
    /// Who can read it on their own, without anyone else's key or consent.
    #[serde(default)]
    pub readable_by: Option<Vec<Party>>,
    /// How long it is kept.
    #[serde(default)]
    pub retention_days: Option<Retention>,
    /// How that retention is enforced.
    #[serde(default)]
    pub retention_enforced_by: Option<Enforcement>,
    /// How it is encrypted in storage.
    #[serde(default)]
    pub encryption: Option<Encryption>,
    /// Who holds keys that decrypt it (empty when not encrypted).
    #[serde(default)]
    pub key_holders: Option<Vec<Party>>,
    /// Whether it is given to anyone beyond `held_by`.
    #[serde(default)]
    pub shared: Option<Answer>,
    /// With whom, in words.
    #[serde(default)]
    pub shared_with: Vec<String>,
    /// Anything else a reader should know (where a retention period counts from,
    /// conflicting statements).
    #[serde(default)]
    pub note: Option<String>,
    /// The citation.
    #[serde(default)]
    pub source: Option<String>,
    /// How good that evidence is.
    #[serde(default)]
    pub evidence: Evidence,
}

macro_rules! section {
    ($(#[$doc:meta])* $name:ident { $($(#[$fdoc:meta])* $field:ident : $ty:ty,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            $($(#[$fdoc])* pub $field: $ty,)+
            /// Anything else a reader should know.
            #[serde(default)]
            pub note: Option<String>,
            /// The citation for this section.
            #[serde(default)]
            pub source: Option<String>,
            /// How good that evidence is.
            #[serde(default)]
            pub evidence: Evidence,
        }
    };
}

section!(
    /// `[location]`.
    LocationPractice {
        /// What location the system takes.
        mode: LocationMode,
        /// Whether continuous tracking can be switched on for a participant (by a case
        /// manager, an officer, the vendor) without a new enrollment or a new release
        /// of the app.
        remote_continuous: Answer,
        /// Whether a location is taken at other times than a check-in's answer (at
        /// log-in, at enrollment, at the start of a call).
        fixes_outside_check_ins: Answer,
        /// Where the location is tested against the ordered area.
        zone_test_on: ZoneTest,
    }
);

section!(
    /// `[biometrics]`.
    Biometrics {
        /// Whether face images leave the phone.
        face_images_leave_device: Answer,
        /// Whether voice prints or voice samples leave the phone.
        voice_prints_leave_device: Answer,
        /// Whether any biometric template leaves the phone.
        templates_leave_device: Answer,
    }
);

section!(
    /// `[device]`.
    DevicePractice {
        /// Whether any device identifier is collected (IMEI, serial, advertising id,
        /// SIM, MAC, phone number).
        identifiers_collected: Answer,
        /// The operating-system permissions the app requests; `"unknown"` in the list
        /// when it may be incomplete.
        permissions: Vec<Permission>,
        /// Whether the app or the servers include analytics, advertising,
        /// crash-reporting or telemetry components.
        telemetry: Answer,
        /// Whether phones lent to participants carry device-management or monitoring
        /// software beyond the app (`false` when no phone is lent).
        loaned_phones_monitored: Answer,
    }
);

section!(
    /// `[network]`.
    NetworkPractice {
        /// Whether IP addresses are stored or logged anywhere in the hosting chain.
        ip_addresses_kept: Answer,
        /// Whether user agents, headers, connection times or TLS fingerprints are
        /// stored or logged.
        request_metadata_kept: Answer,
    }
);

section!(
    /// `[schedule]`.
    SchedulePractice {
        /// The most check-ins a participant can be asked for in one day, ad-hoc
        /// requests included.
        max_check_ins_per_day: Limit,
        /// Whether the participant's phone itself refuses a request beyond the
        /// schedule, and keeps the refused request as evidence.
        device_enforces_schedule: Answer,
    }
);

section!(
    /// `[log]`.
    LogPractice {
        /// What is logged, in words.
        what: String,
        /// Whether anyone can read and check the log, with no account.
        public: Answer,
        /// Whether the log is tamper-evident (a Merkle tree with signed checkpoints,
        /// or equivalent).
        tamper_evident: Answer,
        /// Whether independent witnesses cosign the log's checkpoints.
        witnessed: Answer,
        /// Whether every access to content is logged before it happens.
        accesses_logged: Answer,
        /// Whether every refused request is logged.
        refusals_logged: Answer,
        /// How the log names participants.
        names_participants_by: Naming,
    }
);

section!(
    /// `[access]`: who may open records, and how.
    AccessPractice {
        /// Whether every request must name an allowed purpose and legal basis.
        justification_required: Answer,
        /// Whether opening content needs two independent parties.
        two_party: Answer,
        /// Whether the operator (the vendor) can open content.
        operator_can_open_content: Answer,
        /// Whether an officer can open only the records of participants in their own
        /// caseload.
        caseload_restricted: Answer,
        /// Whether content can be requested in bulk, by search or by query (rather
        /// than record by record).
        bulk_queries: Answer,
    }
);

section!(
    /// `[participant]`: what the participant can see and say.
    ParticipantRights {
        /// Whether the participant can see their own record at any time.
        sees_own_record: Answer,
        /// Whether the participant can see every access to their record.
        sees_accesses: Answer,
        /// Whether the participant can attach a statement to a record about them.
        can_attach_statement: Answer,
        /// Whether the participant is told, before the first check-in, what is
        /// collected and never collected, why, for how long, who can read it, and what
        /// happens after a failed check-in.
        notice_complete: Answer,
    }
);

section!(
    /// `[failure]`: what a missed or failed check-in leads to.
    FailureHandling {
        /// Whether a missed or failed check-in is by itself recorded as a violation,
        /// raises an alert presented as one, or starts enforcement.
        missed_check_in_adverse: Answer,
        /// Whether the participant can report a technical failure, attached to the
        /// record of the check-in it concerns.
        failure_reports: Answer,
        /// Whether a person reviews each missed or failed check-in and records a
        /// reason for the decision.
        human_review_with_reason: Answer,
        /// How long after a window closes a check-in is still accepted (late, not
        /// missed).
        grace_minutes: Minutes,
    }
);

section!(
    /// `[use]`: what the data is used for, and combined with.
    UseAndSharing {
        /// Whether the data is combined with data from brokers, jails or other
        /// agencies' systems.
        combined_with_other_sources: Answer,
        /// Whether the data is used for purposes beyond supervising the participant's
        /// conditions (for example, enforcement operations against others).
        other_purposes: Answer,
        /// With what, in words.
        combined_with: Vec<String>,
    }
);

/// A data inventory, as parsed from `INVENTORY.toml`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Inventory {
    /// [`INVENTORY_FORMAT`].
    pub format: String,
    /// The system and the preparer.
    pub about: About,
    /// Every category of data.
    pub data: Vec<Datum>,
    /// Location.
    pub location: LocationPractice,
    /// Biometrics.
    pub biometrics: Biometrics,
    /// Device identifiers, permissions, telemetry.
    pub device: DevicePractice,
    /// Request metadata.
    pub network: NetworkPractice,
    /// The check-in schedule.
    pub schedule: SchedulePractice,
    /// The log.
    pub log: LogPractice,
    /// Access to content.
    pub access: AccessPractice,
    /// The participant's access and notice.
    pub participant: ParticipantRights,
    /// Failure handling.
    pub failure: FailureHandling,
    /// Use and combination.
    #[serde(rename = "use")]
    pub use_and_sharing: UseAndSharing,
}

fn is_id(s: &str) -> bool {
    (1..=MAX_ID_LEN).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn not_blank(key: impl Into<String>, value: &str) -> Result<(), InventoryError> {
    if value.trim().is_empty() {
        Err(InventoryError::Blank { key: key.into() })
    } else {
        Ok(())
    }
}

impl Inventory {
    /// Reads and validates an inventory from TOML text (**AUD-20**).
    ///
    /// # Errors
    /// An [`InventoryError`] naming the first key that is unknown, missing, of the
    /// wrong type or outside its set, or the entry that breaks a rule of the format.
    pub fn from_toml_str(text: &str) -> Result<Self, InventoryError> {
        let inventory: Self = toml::from_str(text)?;
        if inventory.format != INVENTORY_FORMAT {
            return Err(InventoryError::UnsupportedFormat {
                found: inventory.format,
            });
        }
        let a = &inventory.about;
        for (key, value) in [
            ("about.system", &a.system),
            ("about.operator", &a.operator),
            ("about.agency", &a.agency),
            ("about.prepared_by", &a.prepared_by),
            ("about.as_of", &a.as_of),
            ("log.what", &inventory.log.what),
        ] {
            not_blank(key, value)?;
        }
        let mut seen = BTreeSet::new();
        for d in &inventory.data {
            if !is_id(&d.id) {
                return Err(InventoryError::InvalidId { id: d.id.clone() });
            }
            if !seen.insert(d.id.as_str()) {
                return Err(InventoryError::DuplicateId { id: d.id.clone() });
            }
            not_blank(format!("data.{}.what", d.id), &d.what)?;
            not_blank(format!("data.{}.why", d.id), &d.why)?;
            if !d.held_by.is_empty() {
                let missing = [
                    ("readable_by", d.readable_by.is_none()),
                    ("retention_days", d.retention_days.is_none()),
                    ("retention_enforced_by", d.retention_enforced_by.is_none()),
                    ("encryption", d.encryption.is_none()),
                    ("key_holders", d.key_holders.is_none()),
                    ("shared", d.shared.is_none()),
                ];
                if let Some((key, _)) = missing.iter().find(|(_, m)| *m) {
                    return Err(InventoryError::MissingForHeldDatum {
                        id: d.id.clone(),
                        key,
                    });
                }
            }
            if d.shared == Some(Answer::Yes) && d.shared_with.iter().all(|s| s.trim().is_empty()) {
                return Err(InventoryError::SharedWithoutRecipients { id: d.id.clone() });
            }
        }
        Ok(inventory)
    }

    /// Holds the inventory against the specification, and its retention periods and
    /// schedule against `policy` (**AUD-21** to **AUD-23**).
    pub fn compare(&self, policy: &Policy) -> Comparison {
        let mut c = Comparer {
            gaps: Vec::new(),
            compared: 0,
        };
        let about = Provenance {
            source: self.about.source.clone(),
            evidence: self.about.evidence,
        };
        c.answer(
            "about",
            "complete",
            self.about.complete,
            Answer::No,
            &["POL-8"],
            "every datum the system holds is in the data table, with its obligation, holder, readers and retention",
            &about,
        );
        for d in &self.data {
            c.datum(d, policy);
        }
        c.sections(self, policy);
        Comparison {
            about: self.about.clone(),
            policy_name: policy.name().to_owned(),
            policy_hash: policy.hash(),
            compared: c.compared,
            gaps: c.gaps,
        }
    }
}

/// What a gap is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Finding {
    /// The declared value fails the requirement.
    Contrary,
    /// The value is declared `"unknown"`: the requirement is not shown to hold
    /// (**AUD-22**).
    NotShown,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Contrary => "contrary",
            Self::NotShown => "not shown",
        })
    }
}

/// One gap between the inventory and the specification.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// The entry: `data.<id>`, or a section (`location`, `log`, …).
    pub entry: String,
    /// The property compared.
    pub property: &'static str,
    /// What the inventory declares, in words.
    pub declared: String,
    /// Contrary, or not shown.
    pub finding: Finding,
    /// The requirement IDs it fails.
    pub requirements: &'static [&'static str],
    /// What minimis requires instead, in words.
    pub minimis: String,
    /// The inventory's citation for the entry.
    pub source: Option<String>,
    /// How good that evidence is.
    pub evidence: Evidence,
}

/// The result of a comparison: every gap, in inventory order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Comparison {
    /// The inventory's `[about]`.
    pub about: About,
    /// The policy's name.
    pub policy_name: String,
    /// The policy's hash.
    pub policy_hash: PolicyHash,
    /// How many properties were compared.
    pub compared: usize,
    /// The gaps.
    pub gaps: Vec<Gap>,
}

struct Comparer {
    gaps: Vec<Gap>,
    compared: usize,
}

fn parties(list: &[Party]) -> String {
    if list.is_empty() {
        "nobody".to_owned()
    } else {
        list.iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Comparer {
    #[allow(clippy::too_many_arguments)]
    fn gap(
        &mut self,
        entry: &str,
        property: &'static str,
        declared: String,
        finding: Finding,
        requirements: &'static [&'static str],
        minimis: impl Into<String>,
        p: &Provenance,
    ) {
        self.gaps.push(Gap {
            entry: entry.to_owned(),
            property,
            declared,
            finding,
            requirements,
            minimis: minimis.into(),
            source: p.source.clone(),
            evidence: p.evidence,
        });
    }

    /// A yes-or-no property: a gap when it is `bad`, or unknown.
    #[allow(clippy::too_many_arguments)]
    fn answer(
        &mut self,
        entry: &str,
        property: &'static str,
        value: Answer,
        bad: Answer,
        requirements: &'static [&'static str],
        minimis: &str,
        p: &Provenance,
    ) {
        self.compared += 1;
        let finding = match value {
            Answer::Unknown => Finding::NotShown,
            v if v == bad => Finding::Contrary,
            _ => return,
        };
        self.gap(
            entry,
            property,
            value.to_string(),
            finding,
            requirements,
            minimis,
            p,
        );
    }

    fn datum(&mut self, d: &Datum, policy: &Policy) {
        let entry = format!("data.{}", d.id);
        let p = Provenance {
            source: d.source.clone(),
            evidence: d.evidence,
        };
        if let Kind::Never(n) = d.category.kind() {
            self.compared += 1;
            let beyond: Vec<Party> = d
                .held_by
                .iter()
                .copied()
                .filter(|h| !n.allowed.contains(h))
                .collect();
            if !beyond.is_empty() {
                self.gap(
                    &entry,
                    "held_by",
                    format!("{} held by {}", d.category, parties(&d.held_by)),
                    Finding::Contrary,
                    n.requirements,
                    n.minimis,
                    &p,
                );
            }
            // Nothing else of a datum minimis never holds is governed by a requirement.
            return;
        }
        if d.held_by.is_empty() {
            return;
        }
        // Validation made these present for a held datum.
        let readable = d.readable_by.as_deref().unwrap_or_default();
        let keys = d.key_holders.as_deref().unwrap_or_default();
        let retention = d.retention_days.unwrap_or(Retention::Unknown);
        let enforcement = d.retention_enforced_by.unwrap_or(Enforcement::Unknown);
        let encryption = d.encryption.unwrap_or(Encryption::Unknown);
        let shared = d.shared.unwrap_or(Answer::Unknown);
        match d.category.kind() {
            Kind::Content => {
                self.compared += 1;
                match encryption {
                    Encryption::EndToEnd => {}
                    e => self.gap(
                        &entry,
                        "encryption",
                        e.to_string(),
                        if e == Encryption::Unknown {
                            Finding::NotShown
                        } else {
                            Finding::Contrary
                        },
                        &["SEAL-1", "SEAL-2"],
                        "check-in content is encrypted on the phone, to the agency's and the oversight custodian's keys",
                        &p,
                    ),
                }
                self.compared += 1;
                if readable.contains(&Party::Operator) || keys.contains(&Party::Operator) {
                    self.gap(
                        &entry,
                        "readable_by",
                        format!(
                            "readable by {}; keys held by {}",
                            parties(readable),
                            parties(keys)
                        ),
                        Finding::Contrary,
                        &["SEAL-11", "ACC-14"],
                        "the operator holds no key and no code that decrypts content",
                        &p,
                    );
                }
                self.compared += 1;
                let two = keys.len() == 2
                    && keys.contains(&Party::Agency)
                    && keys.contains(&Party::Oversight);
                let alone: Vec<Party> = readable
                    .iter()
                    .copied()
                    .filter(|r| *r != Party::Device && *r != Party::Operator)
                    .collect();
                if !two || !alone.is_empty() {
                    self.gap(
                        &entry,
                        "key_holders",
                        format!(
                            "keys held by {}; readable alone by {}",
                            parties(keys),
                            parties(readable)
                        ),
                        Finding::Contrary,
                        &["SEAL-2", "SEAL-10"],
                        "opening content takes both the agency custodian and an independent oversight custodian; nobody reads it alone but the participant",
                        &p,
                    );
                }
                self.retention(
                    &entry,
                    retention,
                    policy.content_retention_days(),
                    "retention.content_days",
                    &["RET-1"],
                    &p,
                );
                self.compared += 1;
                if enforcement != Enforcement::KeyDestruction {
                    self.gap(
                        &entry,
                        "retention_enforced_by",
                        enforcement.to_string(),
                        if enforcement == Enforcement::Unknown {
                            Finding::NotShown
                        } else {
                            Finding::Contrary
                        },
                        &["RET-2", "RET-3"],
                        "retention is enforced by destroying each epoch's keys, so that every copy, backups included, becomes unreadable",
                        &p,
                    );
                }
            }
            Kind::LedgerLike => {
                self.retention(
                    &entry,
                    retention,
                    policy.ledger_retention_days(),
                    "retention.ledger_days",
                    &["RET-20"],
                    &p,
                );
                self.compared += 1;
                if !matches!(
                    enforcement,
                    Enforcement::Deletion | Enforcement::KeyDestruction
                ) {
                    self.gap(
                        &entry,
                        "retention_enforced_by",
                        enforcement.to_string(),
                        if enforcement == Enforcement::Unknown {
                            Finding::NotShown
                        } else {
                            Finding::Contrary
                        },
                        &["RET-20"],
                        "the operator deletes it at the deadline and logs the purge",
                        &p,
                    );
                }
            }
            Kind::Identity => {
                self.compared += 1;
                if d.held_by.contains(&Party::Operator) || readable.contains(&Party::Operator) {
                    self.gap(
                        &entry,
                        "held_by",
                        format!("held by {}", parties(&d.held_by)),
                        Finding::Contrary,
                        &["ENR-1"],
                        "the operator sees only a random pseudonym; the link to the person stays with the agency",
                        &p,
                    );
                }
            }
            Kind::Zone => {
                self.compared += 1;
                if d.held_by.contains(&Party::Operator) || readable.contains(&Party::Operator) {
                    self.gap(
                        &entry,
                        "held_by",
                        format!("held by {}", parties(&d.held_by)),
                        Finding::Contrary,
                        &["LOC-20"],
                        "the operator holds only a salted hash of the ordered area, never the area itself",
                        &p,
                    );
                }
            }
            Kind::Allowed | Kind::Never(_) => {}
        }
        self.compared += 1;
        match shared {
            Answer::No => {}
            Answer::Yes => {
                let with = d.shared_with.join("; ");
                self.gap(
                    &entry,
                    "shared",
                    format!("shared with {with}"),
                    Finding::Contrary,
                    &["POL-22"],
                    "data is used only for the purposes the policy names and given to nobody beyond its holders",
                    &p,
                );
            }
            Answer::Unknown => self.gap(
                &entry,
                "shared",
                "unknown".to_owned(),
                Finding::NotShown,
                &["POL-22"],
                "data is used only for the purposes the policy names and given to nobody beyond its holders",
                &p,
            ),
        }
    }

    fn retention(
        &mut self,
        entry: &str,
        retention: Retention,
        limit: u32,
        key: &str,
        requirements: &'static [&'static str],
        p: &Provenance,
    ) {
        self.compared += 1;
        let minimis = format!("kept at most {limit} days (the policy's {key})");
        let finding = match retention {
            Retention::Days(d) if d <= limit => return,
            Retention::Unknown => Finding::NotShown,
            _ => Finding::Contrary,
        };
        self.gap(
            entry,
            "retention_days",
            retention.to_string(),
            finding,
            requirements,
            minimis,
            p,
        );
    }

    fn sections(&mut self, inv: &Inventory, policy: &Policy) {
        use Answer::{No, Yes};
        let prov = |source: &Option<String>, evidence: Evidence| Provenance {
            source: source.clone(),
            evidence,
        };

        // Location.
        let l = &inv.location;
        let p = prov(&l.source, l.evidence);
        self.compared += 1;
        let mode: Option<(&'static [&'static str], Finding)> = match l.mode {
            LocationMode::None | LocationMode::ZoneResultAtCheckIn => None,
            LocationMode::PointAtCheckIn => Some((&["POL-1", "LOC-2"], Finding::Contrary)),
            LocationMode::Continuous => Some((&["POL-1", "LOC-1", "LOC-3"], Finding::Contrary)),
            LocationMode::Unknown => Some((&["POL-1", "LOC-2"], Finding::NotShown)),
        };
        if let Some((requirements, finding)) = mode {
            self.gap(
                "location",
                "mode",
                l.mode.to_string(),
                finding,
                requirements,
                "one fix per check-in, tested on the phone; only inside, outside or unavailable leaves it",
                &p,
            );
        }
        self.answer(
            "location",
            "remote_continuous",
            l.remote_continuous,
            Yes,
            &["POL-1", "LOC-1"],
            "continuous tracking cannot be switched on: no message can carry a location",
            &p,
        );
        self.answer(
            "location",
            "fixes_outside_check_ins",
            l.fixes_outside_check_ins,
            Yes,
            &["LOC-3"],
            "at most one fix per accepted check-in, only while answering it",
            &p,
        );
        self.compared += 1;
        match l.zone_test_on {
            ZoneTest::Device | ZoneTest::None => {}
            z => self.gap(
                "location",
                "zone_test_on",
                z.to_string(),
                if z == ZoneTest::Unknown {
                    Finding::NotShown
                } else {
                    Finding::Contrary
                },
                &["LOC-4"],
                "the zone test runs on the phone",
                &p,
            ),
        }

        // Biometrics.
        let b = &inv.biometrics;
        let p = prov(&b.source, b.evidence);
        for (property, value) in [
            ("face_images_leave_device", b.face_images_leave_device),
            ("voice_prints_leave_device", b.voice_prints_leave_device),
            ("templates_leave_device", b.templates_leave_device),
        ] {
            self.answer(
                "biometrics",
                property,
                value,
                Yes,
                &["POL-4"],
                "no biometric sample or template leaves the phone; only a presence result is sealed",
                &p,
            );
        }

        // Device.
        let dv = &inv.device;
        let p = prov(&dv.source, dv.evidence);
        self.answer(
            "device",
            "identifiers_collected",
            dv.identifiers_collected,
            Yes,
            &["POL-6"],
            "no device identifiers: the phone is known only by the public key it made",
            &p,
        );
        self.compared += 1;
        let forbidden: Vec<&str> = dv
            .permissions
            .iter()
            .filter(|x| x.forbidden())
            .map(|x| x.as_str())
            .collect();
        if !forbidden.is_empty() {
            self.gap(
                "device",
                "permissions",
                forbidden.join(", "),
                Finding::Contrary,
                &["POL-21"],
                "no permission for contacts, call logs, SMS, camera, microphone, phone identity or background location",
                &p,
            );
        } else if dv.permissions.contains(&Permission::Unknown) {
            self.gap(
                "device",
                "permissions",
                "unknown".to_owned(),
                Finding::NotShown,
                &["POL-21"],
                "no permission for contacts, call logs, SMS, camera, microphone, phone identity or background location",
                &p,
            );
        }
        self.answer(
            "device",
            "telemetry",
            dv.telemetry,
            Yes,
            &["POL-23"],
            "no analytics, advertising, crash-reporting or telemetry components",
            &p,
        );
        self.answer(
            "device",
            "loaned_phones_monitored",
            dv.loaned_phones_monitored,
            Yes,
            &["POL-24"],
            "a lent phone carries no device-management or monitoring software",
            &p,
        );

        // Network.
        let n = &inv.network;
        let p = prov(&n.source, n.evidence);
        self.answer(
            "network",
            "ip_addresses_kept",
            n.ip_addresses_kept,
            Yes,
            &["POL-7", "POL-20"],
            "the peer address is stripped before any handler, log, metric or database sees a request",
            &p,
        );
        self.answer(
            "network",
            "request_metadata_kept",
            n.request_metadata_kept,
            Yes,
            &["POL-7"],
            "no user agents, headers, connection times or TLS fingerprints are kept",
            &p,
        );

        // Schedule.
        let s = &inv.schedule;
        let p = prov(&s.source, s.evidence);
        self.compared += 1;
        let cap = policy.max_checkins_per_day();
        let finding = match s.max_check_ins_per_day {
            Limit::AtMost(n) if n <= cap => None,
            Limit::Unknown => Some(Finding::NotShown),
            _ => Some(Finding::Contrary),
        };
        if let Some(finding) = finding {
            self.gap(
                "schedule",
                "max_check_ins_per_day",
                s.max_check_ins_per_day.to_string(),
                finding,
                &["CHL-3"],
                format!(
                    "at most {cap} check-ins a day, ad-hoc ones included (the policy's schedule.max_checkins_per_day)"
                ),
                &p,
            );
        }
        self.answer(
            "schedule",
            "device_enforces_schedule",
            s.device_enforces_schedule,
            No,
            &["CHL-5"],
            "the phone applies the schedule's caps itself and keeps any request it refuses as evidence",
            &p,
        );

        // Log.
        let g = &inv.log;
        let p = prov(&g.source, g.evidence);
        for (property, value, requirements, minimis) in [
            (
                "public",
                g.public,
                &["AUD-10"][..],
                "anyone can audit the log with no account and no personal data",
            ),
            (
                "tamper_evident",
                g.tamper_evident,
                &["LOG-1", "LOG-14"][..],
                "the log is a Merkle tree with signed checkpoints; changing history shows",
            ),
            (
                "witnessed",
                g.witnessed,
                &["LOG-16", "AUD-1"][..],
                "independent witnesses cosign the log's checkpoints after checking consistency",
            ),
            (
                "accesses_logged",
                g.accesses_logged,
                &["ACC-4"][..],
                "every access to content is logged before anything is opened",
            ),
            (
                "refusals_logged",
                g.refusals_logged,
                &["ACC-6"][..],
                "every refused request is logged",
            ),
        ] {
            self.answer("log", property, value, No, requirements, minimis, &p);
        }
        self.compared += 1;
        let naming: Option<(&'static [&'static str], Finding)> = match g.names_participants_by {
            Naming::EpochTag => None,
            Naming::FixedPseudonym => Some((&["ENR-3"], Finding::Contrary)),
            Naming::Identity => Some((&["ENR-3", "LOG-27"], Finding::Contrary)),
            Naming::Unknown => Some((&["ENR-3", "LOG-27"], Finding::NotShown)),
        };
        if let Some((requirements, finding)) = naming {
            self.gap(
                "log",
                "names_participants_by",
                g.names_participants_by.to_string(),
                finding,
                requirements,
                "the log names a participant only by a tag that changes every epoch",
                &p,
            );
        }

        // Access.
        let a = &inv.access;
        let p = prov(&a.source, a.evidence);
        for (property, value, bad, requirements, minimis) in [
            (
                "justification_required",
                a.justification_required,
                No,
                &["ACC-2"][..],
                "every request names a purpose and a legal basis the published policy allows",
            ),
            (
                "two_party",
                a.two_party,
                No,
                &["ACC-7", "SEAL-10"][..],
                "opening content takes both the agency and an independent oversight custodian",
            ),
            (
                "operator_can_open_content",
                a.operator_can_open_content,
                Yes,
                &["SEAL-11", "ACC-14"][..],
                "the operator holds no key and no code that decrypts content",
            ),
            (
                "caseload_restricted",
                a.caseload_restricted,
                No,
                &["ACC-3"][..],
                "an officer opens only records of participants in their own caseload",
            ),
            (
                "bulk_queries",
                a.bulk_queries,
                Yes,
                &["ACC-13"][..],
                "content is requested only record by record: no search, no query by person or result",
            ),
        ] {
            self.answer("access", property, value, bad, requirements, minimis, &p);
        }

        // Participant.
        let r = &inv.participant;
        let p = prov(&r.source, r.evidence);
        for (property, value, requirements, minimis) in [
            (
                "sees_own_record",
                r.sees_own_record,
                &["ACC-11"][..],
                "the participant sees their check-ins, receipts and ledger at any time",
            ),
            (
                "sees_accesses",
                r.sees_accesses,
                &["ACC-11"][..],
                "the participant sees every challenge and every access to their content",
            ),
            (
                "can_attach_statement",
                r.can_attach_statement,
                &["ACC-12"][..],
                "the participant can attach a statement to any row of their ledger",
            ),
            (
                "notice_complete",
                r.notice_complete,
                &["ENR-22"][..],
                "the notice says what is and is never collected, why, for how long, who reads it, and what a failure leads to",
            ),
        ] {
            self.answer(
                "participant",
                property,
                value,
                No,
                requirements,
                minimis,
                &p,
            );
        }

        // Failure.
        let f = &inv.failure;
        let p = prov(&f.source, f.evidence);
        self.answer(
            "failure",
            "missed_check_in_adverse",
            f.missed_check_in_adverse,
            Yes,
            &["CHK-20", "CHK-21"],
            "a missed check-in is pending review by a person, never a violation by itself",
            &p,
        );
        self.answer(
            "failure",
            "failure_reports",
            f.failure_reports,
            No,
            &["CHK-22"],
            "the participant can report a technical failure, attached to the check-in's ledger row",
            &p,
        );
        self.answer(
            "failure",
            "human_review_with_reason",
            f.human_review_with_reason,
            No,
            &["CHK-24"],
            "an officer resolving a row gives a reason code, and the resolution is logged",
            &p,
        );
        self.compared += 1;
        let finding = match f.grace_minutes {
            Minutes::Minutes(m) if m >= 60 => None,
            Minutes::Minutes(_) => Some(Finding::Contrary),
            Minutes::Unknown => Some(Finding::NotShown),
        };
        if let Some(finding) = finding {
            self.gap(
                "failure",
                "grace_minutes",
                f.grace_minutes.to_string(),
                finding,
                &["CHK-29"],
                "a check-in stays answerable for a grace period after its window, of at least an hour",
                &p,
            );
        }

        // Use.
        let u = &inv.use_and_sharing;
        let p = prov(&u.source, u.evidence);
        self.compared += 1;
        match u.combined_with_other_sources {
            No => {}
            v => self.gap(
                "use",
                "combined_with_other_sources",
                if u.combined_with.is_empty() || v == Answer::Unknown {
                    v.to_string()
                } else {
                    u.combined_with.join("; ")
                },
                if v == Answer::Unknown {
                    Finding::NotShown
                } else {
                    Finding::Contrary
                },
                &["POL-22"],
                "no combination with data from brokers, jails or other agencies' systems",
                &p,
            ),
        }
        self.answer(
            "use",
            "other_purposes",
            u.other_purposes,
            Yes,
            &["POL-22"],
            "data is used only for the purposes the policy names",
            &p,
        );
    }
}

impl Comparison {
    /// Whether any gap was found.
    pub fn has_gaps(&self) -> bool {
        !self.gaps.is_empty()
    }

    /// The exit code of `minimis compare` (**AUD-24**): 0 with no gap, 1 with gaps.
    pub fn exit_code(&self) -> u8 {
        u8::from(self.has_gaps())
    }

    /// Gaps whose declared value fails a requirement.
    pub fn contrary(&self) -> usize {
        self.gaps
            .iter()
            .filter(|g| g.finding == Finding::Contrary)
            .count()
    }

    /// Gaps whose value is unknown.
    pub fn not_shown(&self) -> usize {
        self.gaps
            .iter()
            .filter(|g| g.finding == Finding::NotShown)
            .count()
    }

    /// Every requirement ID named by a gap, once, sorted.
    pub fn requirements(&self) -> BTreeSet<&'static str> {
        self.gaps
            .iter()
            .flat_map(|g| g.requirements.iter().copied())
            .collect()
    }

    fn verdict(&self) -> String {
        if self.gaps.is_empty() {
            format!(
                "no gap: all {} properties compared meet the specification",
                self.compared
            )
        } else {
            format!(
                "{} gaps in {} properties compared: {} contrary to the specification, {} not shown (declared unknown)",
                self.gaps.len(),
                self.compared,
                self.contrary(),
                self.not_shown()
            )
        }
    }

    /// The comparison as text for a terminal (**AUD-24**).
    pub fn to_table(&self) -> String {
        let mut out = String::new();
        let a = &self.about;
        let _ = writeln!(out, "inventory   {}", a.system);
        let _ = writeln!(
            out,
            "            operator {}; agency {}",
            a.operator, a.agency
        );
        let _ = writeln!(
            out,
            "            prepared by {}, as of {}",
            a.prepared_by, a.as_of
        );
        let _ = writeln!(
            out,
            "policy      sha256:{}  \"{}\"",
            self.policy_hash, self.policy_name
        );
        let _ = writeln!(out);
        for g in &self.gaps {
            let tag = match g.finding {
                Finding::Contrary => "GAP",
                Finding::NotShown => "GAP (not shown)",
            };
            let _ = writeln!(
                out,
                "{tag:<16} {:<20} {}.{} = {}",
                g.requirements.join(", "),
                g.entry,
                g.property,
                g.declared
            );
            let _ = writeln!(out, "{:16} minimis: {}", "", g.minimis);
            let evidence = format!("evidence: {}", g.evidence);
            match &g.source {
                Some(s) => {
                    let _ = writeln!(out, "{:16} source: {s} ({evidence})", "");
                }
                None => {
                    let _ = writeln!(out, "{:16} {evidence}", "");
                }
            }
        }
        if !self.gaps.is_empty() {
            let _ = writeln!(out);
        }
        let _ = writeln!(
            out,
            "{:<66}  exit {}",
            format!("verdict: {}", self.verdict()),
            self.exit_code()
        );
        out
    }

    /// The comparison as JSON (**AUD-24**).
    pub fn to_json(&self) -> Value {
        let a = &self.about;
        json!({
            "format": COMPARE_FORMAT,
            "inventory": {
                "system": a.system,
                "operator": a.operator,
                "agency": a.agency,
                "prepared_by": a.prepared_by,
                "as_of": a.as_of,
            },
            "policy": { "name": self.policy_name, "hash": self.policy_hash },
            "compared": self.compared,
            "gaps": self.gaps,
            "contrary": self.contrary(),
            "not_shown": self.not_shown(),
            "requirements": self.requirements(),
            "verdict": if self.gaps.is_empty() { "no-gaps" } else { "gaps-found" },
            "exit": self.exit_code(),
        })
    }

    /// The comparison as an HTML fragment (a `<section>`), every string escaped, for
    /// the audit report or any page.
    pub fn to_html(&self) -> String {
        let mut out = String::new();
        let a = &self.about;
        let _ = writeln!(
            out,
            "<section class=\"compare\" aria-labelledby=\"compare-title\">"
        );
        let _ = writeln!(
            out,
            "<h2 id=\"compare-title\">{} held against minimis</h2>",
            escape(&a.system)
        );
        let _ = writeln!(
            out,
            "<p>The inventory below was prepared by {} (as of {}); it describes the system run by {} for {}. \
             Each row is a property it declares that a requirement of the minimis specification would fail. \
             “Not shown” means the inventory declares the property unknown: a requirement that cannot be shown to hold does not hold. \
             Compared with the policy “{}”.</p>",
            escape(&a.prepared_by),
            escape(&a.as_of),
            escape(&a.operator),
            escape(&a.agency),
            escape(&self.policy_name),
        );
        let _ = writeln!(
            out,
            "<p class=\"verdict {}\"><strong>{}</strong></p>",
            if self.gaps.is_empty() { "ok" } else { "bad" },
            escape(&self.verdict())
        );
        if !self.gaps.is_empty() {
            let _ = writeln!(out, "<table class=\"gaps\">");
            let _ = writeln!(
                out,
                "<caption>Gaps between {} and minimis, with the requirement each fails</caption>",
                escape(&a.system)
            );
            let _ = writeln!(
                out,
                "<thead><tr><th scope=\"col\">what</th><th scope=\"col\">declared</th><th scope=\"col\">minimis requires</th><th scope=\"col\">requirement</th><th scope=\"col\">finding</th><th scope=\"col\">source</th></tr></thead>"
            );
            let _ = writeln!(out, "<tbody>");
            for g in &self.gaps {
                let source = match &g.source {
                    Some(s) => format!(
                        "{} <span class=\"evidence\">({})</span>",
                        escape(s),
                        g.evidence
                    ),
                    None => format!("<span class=\"evidence\">({})</span>", g.evidence),
                };
                let _ = writeln!(
                    out,
                    "<tr><th scope=\"row\">{}<br><span class=\"property\">{}</span></th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(&g.entry),
                    g.property.replace('_', " "),
                    escape(&g.declared),
                    escape(&g.minimis),
                    g.requirements.join(", "),
                    g.finding,
                    source
                );
            }
            let _ = writeln!(out, "</tbody>\n</table>");
        }
        let _ = writeln!(out, "</section>");
        out
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    const MINIMIS: &str = include_str!("../../../examples/inventories/minimis.toml");
    const SMARTLINK: &str = include_str!("../../../examples/inventories/smartlink.toml");

    fn policy() -> Policy {
        minimis_proto::default_policy()
    }

    #[test]
    fn aud_20_unknown_key_missing_key_and_bad_value_are_refused_by_name() {
        let unknown = MINIMIS.replace("[location]", "[location]\nlatitude_kept = false");
        let e = Inventory::from_toml_str(&unknown).unwrap_err();
        assert!(matches!(e, InventoryError::Toml(_)), "{e}");
        assert!(e.to_string().contains("latitude_kept"), "{e}");

        let missing = MINIMIS.replace("witnessed = true", "");
        let e = Inventory::from_toml_str(&missing).unwrap_err();
        assert!(e.to_string().contains("witnessed"), "{e}");

        let bad = MINIMIS.replace("zone_test_on = \"device\"", "zone_test_on = \"cloud\"");
        let e = Inventory::from_toml_str(&bad).unwrap_err();
        assert!(e.to_string().contains("cloud"), "{e}");

        let bad = MINIMIS.replace("telemetry = false", "telemetry = \"maybe\"");
        let e = Inventory::from_toml_str(&bad).unwrap_err();
        assert!(e.to_string().contains("true, false or \"unknown\""), "{e}");

        let e =
            Inventory::from_toml_str(&MINIMIS.replace("minimis-inventory/1", "v2")).unwrap_err();
        assert!(matches!(e, InventoryError::UnsupportedFormat { ref found } if found == "v2"));
    }

    #[test]
    fn aud_20_ids_must_be_labels_and_unique_and_held_data_complete() {
        let dup = format!(
            "{MINIMIS}\n[[data]]\nid = \"schedule\"\ncategory = \"other\"\nwhat = \"x\"\nwhy = \"y\"\nheld_by = []\n"
        );
        let e = Inventory::from_toml_str(&dup).unwrap_err();
        assert!(
            matches!(e, InventoryError::DuplicateId { ref id } if id == "schedule"),
            "{e}"
        );

        let bad = format!(
            "{MINIMIS}\n[[data]]\nid = \"Not An Id\"\ncategory = \"other\"\nwhat = \"x\"\nwhy = \"y\"\nheld_by = []\n"
        );
        let e = Inventory::from_toml_str(&bad).unwrap_err();
        assert!(matches!(e, InventoryError::InvalidId { .. }), "{e}");

        let held = format!(
            "{MINIMIS}\n[[data]]\nid = \"notes\"\ncategory = \"other\"\nwhat = \"x\"\nwhy = \"y\"\nheld_by = [\"operator\"]\n"
        );
        let e = Inventory::from_toml_str(&held).unwrap_err();
        assert!(
            matches!(e, InventoryError::MissingForHeldDatum { ref id, key: "readable_by" } if id == "notes"),
            "{e}"
        );
    }

    #[test]
    fn aud_25_the_reference_inventory_has_no_gap() {
        let c = Inventory::from_toml_str(MINIMIS)
            .unwrap()
            .compare(&policy());
        assert!(c.gaps.is_empty(), "{}", c.to_table());
        assert!(c.compared > 40, "{}", c.compared);
        assert_eq!(c.exit_code(), 0);
    }

    #[test]
    fn aud_23_retention_is_held_against_the_policy_given() {
        let inv = Inventory::from_toml_str(MINIMIS).unwrap();
        // The reference keeps content 90 days; a policy of 30 makes that a gap.
        let strict =
            minimis_proto::DEFAULT_POLICY_TOML.replace("content_days = 90", "content_days = 30");
        let strict = Policy::from_toml_str(&strict).unwrap();
        let c = inv.compare(&strict);
        assert_eq!(c.gaps.len(), 1, "{}", c.to_table());
        assert_eq!(c.gaps[0].property, "retention_days");
        assert_eq!(c.gaps[0].requirements, &["RET-1"]);
        assert!(c.gaps[0].minimis.contains("30 days"));
    }

    #[test]
    fn every_category_is_classified_and_never_collected_ones_gap_only_when_held() {
        for &category in Category::ALL {
            let toml = format!(
                "{MINIMIS}\n[[data]]\nid = \"probe\"\ncategory = \"{category}\"\nwhat = \"x\"\nwhy = \"y\"\nheld_by = [\"third-party\"]\nreadable_by = [\"third-party\"]\nretention_days = 1\nretention_enforced_by = \"deletion\"\nencryption = \"none\"\nkey_holders = []\nshared = false\n"
            );
            let c = Inventory::from_toml_str(&toml).unwrap().compare(&policy());
            let probe: Vec<_> = c.gaps.iter().filter(|g| g.entry == "data.probe").collect();
            if category.held_by_minimis() {
                // Held by a third party: only content has a rule about who reads it.
                assert_eq!(
                    probe.is_empty(),
                    category != Category::CheckInContent,
                    "{category}: {probe:?}"
                );
            } else {
                assert_eq!(probe.len(), 1, "{category}");
                assert_eq!(probe[0].property, "held_by");
            }
        }
    }

    #[test]
    fn smartlink_parses_and_fails_the_core_requirements() {
        let c = Inventory::from_toml_str(SMARTLINK)
            .unwrap()
            .compare(&policy());
        let ids = c.requirements();
        for id in [
            "POL-1", "POL-2", "POL-3", "POL-4", "POL-5", "SEAL-11", "RET-2", "POL-22",
        ] {
            assert!(ids.contains(id), "{id} missing from {ids:?}");
        }
    }

    #[test]
    fn html_fragment_escapes_what_the_inventory_says() {
        let hostile = MINIMIS.replace(
            "system = \"minimis",
            "system = \"<script>alert(1)</script> minimis",
        );
        let inv = Inventory::from_toml_str(&hostile).unwrap();
        let html = inv.compare(&policy()).to_html();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
    }
}
