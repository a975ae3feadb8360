//! The inventory format, `minimis-inventory/2` (`spec/inventory.md`): what a vendor
//! declares, read strictly (**AUD-20**, **CMP-1**).

use std::collections::BTreeSet;
use std::fmt;

use serde::de::value::{
    BoolDeserializer, F64Deserializer, I64Deserializer, SeqAccessDeserializer, StrDeserializer,
    StringDeserializer, U64Deserializer,
};
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};
use serde::{Deserialize, Serialize};

/// The `format` an inventory must declare.
pub const INVENTORY_FORMAT: &str = "minimis-inventory/2";

/// The inventory of BI SmartLINK as publicly documented
/// (`examples/inventories/smartlink.toml`), which the audit report compares by default.
pub const SMARTLINK_INVENTORY: &str = include_str!("../../../examples/inventories/smartlink.toml");

/// The inventory of a minimis deployment under the reference policy
/// (`examples/inventories/minimis.toml`); it compares with no gap (**AUD-25**).
pub const MINIMIS_INVENTORY: &str = include_str!("../../../examples/inventories/minimis.toml");

/// The blank inventory (`examples/inventories/template.toml`): every category, every
/// property `"unknown"`; it compares with every property *not shown* (**CMP-5**).
pub const TEMPLATE_INVENTORY: &str = include_str!("../../../examples/inventories/template.toml");

/// The `format` of `minimis compare --json`.
pub const COMPARE_FORMAT: &str = "minimis-compare/2";

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
    /// A datum that is held (`held_by` is not empty, or is `"unknown"`) lacks a property
    /// every held datum must declare.
    #[error(
        "inventory entry `data.{id}` is or may be held by someone, so it must declare `{key}` (write \"unknown\" where the value is not known)"
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
    /// Kept until an event with no fixed date, such as the end of a contract
    /// (`"until-event"`; the note says which): no bound in days.
    UntilEvent,
    /// Not known.
    Unknown,
}

impl fmt::Display for Retention {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Days(d) => write!(f, "{d} days"),
            Self::Indefinite => f.write_str("indefinite"),
            Self::UntilEvent => f.write_str("until an event with no fixed date"),
            Self::Unknown => f.write_str("unknown"),
        }
    }
}

impl<'de> Deserialize<'de> for Retention {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(
            match d.deserialize_any(QuantityVisitor {
                words: &["indefinite", "until-event", "unknown"],
                expecting: "a number of days, \"indefinite\", \"until-event\" or \"unknown\"",
            })? {
                Quantity::Number(n) => Self::Days(n),
                Quantity::Word(0) => Self::Indefinite,
                Quantity::Word(1) => Self::UntilEvent,
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
        /// Past and present addresses, and their changes (D8, D13: the agency's case file).
        AddressHistory = "address-history",
        /// Employers and employment history (the agency's case file, if a condition
        /// asks for it).
        EmploymentHistory = "employment-history",
        /// Documents the participant uploads or that are scanned for them: court papers,
        /// letters, proofs of address (the agency's case file).
        Document = "document",
        /// Images of identity documents: passports, ID cards, A-number cards (the
        /// agency checks identity in person, ENR-1).
        IdImage = "id-image",
        /// Risk scores, automated classifications and predictions about a participant
        /// (CHK-21: a person decides).
        RiskScore = "risk-score",
        /// Alerts the system raises: missed, late or failed check-ins, zone or device
        /// events (minimis raises none: a miss is a ledger row pending a person's
        /// review, D5, CHK-20, CHK-21).
        Alert = "alert",
        /// Messages, calls and video between participant and officer: their content
        /// (POL-8).
        Messages = "messages",
        /// Who wrote to or called whom, when, for how long: messages' and calls'
        /// metadata, apart from their content (POL-7, POL-8).
        MessageMetadata = "message-metadata",
        /// Location tracks from other devices: ankle monitors, wrist-worn trackers,
        /// vehicles (POL-1, LOC-1).
        OtherDeviceTrack = "other-device-track",
        /// Payments, fees, bank or card data (POL-8).
        Payment = "payment",
        /// The phone number, carrier, plan and billing of the participant's phone line
        /// (POL-6).
        PhonePlan = "phone-plan",
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

words!(
    /// How a reader can check a declaration (**CMP-2**): `verify = [...]`, on an entry or
    /// on one property.
    Verification {
        /// The app package's permission manifest (`AndroidManifest.xml`, an iOS
        /// `Info.plist`), read from the published package.
        AppManifest = "app-manifest",
        /// Static analysis of the app, or its network traffic observed.
        AppAnalysis = "app-analysis",
        /// A contract clause, statement of work or task order.
        Contract = "contract",
        /// The vendor's or the agency's privacy policy.
        PrivacyPolicy = "privacy-policy",
        /// A privacy impact assessment.
        Pia = "pia",
        /// A Privacy Act system of records notice.
        Sorn = "sorn",
        /// An approved records schedule.
        RecordsSchedule = "records-schedule",
        /// Records released under the Freedom of Information Act or in litigation.
        Foia = "foia",
        /// A report of a government body: GAO, an inspector general, the Congressional
        /// Research Service.
        GovernmentReport = "government-report",
        /// A press report.
        Press = "press",
        /// A public statement of the vendor or the agency: a FAQ, a product page.
        VendorStatement = "vendor-statement",
        /// Published source code.
        SourceCode = "source-code",
        /// A public log, audited with a tool anyone can run.
        LogAudit = "log-audit",
        /// An acceptance test that anyone can run again.
        Test = "test",
        /// An inspection or an assessment by an accredited assessor.
        Inspection = "inspection",
    }
);

words!(
    /// What the holder does when a third party (police, another agency, a court, a
    /// private party) asks for the datum: `third_party_requests`.
    Requests {
        /// The holder cannot read it, so it has nothing to give but ciphertext.
        CannotRead = "cannot-read",
        /// Only under legal process (a subpoena, a court order, a warrant), and the
        /// agency is told.
        LegalProcess = "legal-process",
        /// The supervising agency decides, under its published routine uses.
        AgencyDecides = "agency-decides",
        /// Given on request, without legal process.
        OnRequest = "on-request",
        /// Not known.
        Unknown = "unknown",
    }
);

/// Where a declaration comes from (**CMP-2**): an entry's, a section's or one property's
/// `source`, `evidence`, `note` and `verify`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Provenance {
    /// The citation: a document, a page, a clause.
    #[serde(default)]
    pub source: Option<String>,
    /// How good it is; a property without one takes its entry's.
    #[serde(default)]
    pub evidence: Option<Evidence>,
    /// Anything else a reader should know: a contrary statement, how a value was
    /// inferred.
    #[serde(default)]
    pub note: Option<String>,
    /// How a reader can check it.
    #[serde(default)]
    pub verify: Vec<Verification>,
}

/// One declared property (**CMP-2**): written bare (`retention_days = 2555`), when the
/// entry's source and evidence cover it, or as a table that carries its own
/// (`retention_days = { value = 2555, source = "PIA-062", evidence = "secondary" }`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Declared<T> {
    /// The value declared.
    pub value: T,
    /// Its own source, evidence, note and means of verification, if any.
    pub provenance: Provenance,
}

impl<T> Declared<T> {
    /// A value with no provenance of its own.
    pub fn bare(value: T) -> Self {
        Self {
            value,
            provenance: Provenance::default(),
        }
    }
}

const DECLARED_FIELDS: &[&str] = &["value", "source", "evidence", "note", "verify"];

struct DeclaredVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> Visitor<'de> for DeclaredVisitor<T> {
    type Value = Declared<T>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value, or a table { value = ..., source, evidence, note, verify }")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        T::deserialize(BoolDeserializer::new(v)).map(Declared::bare)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        T::deserialize(I64Deserializer::new(v)).map(Declared::bare)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        T::deserialize(U64Deserializer::new(v)).map(Declared::bare)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        T::deserialize(F64Deserializer::new(v)).map(Declared::bare)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        T::deserialize(StrDeserializer::new(v)).map(Declared::bare)
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        T::deserialize(StringDeserializer::new(v)).map(Declared::bare)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        T::deserialize(SeqAccessDeserializer::new(seq)).map(Declared::bare)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut value = None;
        let mut p = Provenance::default();
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "value" if value.is_none() => value = Some(map.next_value::<T>()?),
                "source" if p.source.is_none() => p.source = Some(map.next_value()?),
                "evidence" if p.evidence.is_none() => p.evidence = Some(map.next_value()?),
                "note" if p.note.is_none() => p.note = Some(map.next_value()?),
                "verify" if p.verify.is_empty() => p.verify = map.next_value()?,
                k if DECLARED_FIELDS.contains(&k) => {
                    return Err(de::Error::custom(format_args!("duplicate field `{k}`")));
                }
                k => return Err(de::Error::unknown_field(k, DECLARED_FIELDS)),
            }
        }
        let value = value.ok_or_else(|| de::Error::missing_field("value"))?;
        Ok(Declared {
            value,
            provenance: p,
        })
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Declared<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(DeclaredVisitor(std::marker::PhantomData))
    }
}

/// A list of parties, or `"unknown"`: `held_by`, `readable_by`, `key_holders`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parties {
    /// These parties (empty: nobody).
    Known(Vec<Party>),
    /// Not known. A datum whose holders are unknown may be held, so every rule that
    /// reads its properties applies.
    Unknown,
}

impl Parties {
    /// Whether `p` is named (never, when unknown).
    pub fn contains(&self, p: Party) -> bool {
        matches!(self, Self::Known(l) if l.contains(&p))
    }

    /// Whether nobody is named, as known.
    pub fn is_nobody(&self) -> bool {
        matches!(self, Self::Known(l) if l.is_empty())
    }
}

impl fmt::Display for Parties {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown => f.write_str("unknown"),
            Self::Known(l) if l.is_empty() => f.write_str("nobody"),
            Self::Known(l) => {
                for (i, p) in l.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    f.write_str(p.as_str())?;
                }
                Ok(())
            }
        }
    }
}

struct PartiesVisitor;

impl<'de> Visitor<'de> for PartiesVisitor {
    type Value = Parties;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of parties or \"unknown\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Parties, E> {
        if v == "unknown" {
            Ok(Parties::Unknown)
        } else {
            Err(E::invalid_value(Unexpected::Str(v), &self))
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Parties, A::Error> {
        Vec::<Party>::deserialize(SeqAccessDeserializer::new(seq)).map(Parties::Known)
    }
}

impl<'de> Deserialize<'de> for Parties {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(PartiesVisitor)
    }
}

/// A list of texts, or `"unknown"`: `sub_processors`, `breach_history`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Texts {
    /// These (empty: none).
    Known(Vec<String>),
    /// Not known.
    Unknown,
}

impl fmt::Display for Texts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unknown => f.write_str("unknown"),
            Self::Known(l) if l.is_empty() => f.write_str("none"),
            Self::Known(l) => f.write_str(&l.join("; ")),
        }
    }
}

struct TextsVisitor;

impl<'de> Visitor<'de> for TextsVisitor {
    type Value = Texts;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of texts (each not blank) or \"unknown\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Texts, E> {
        if v == "unknown" {
            Ok(Texts::Unknown)
        } else {
            Err(E::invalid_value(Unexpected::Str(v), &self))
        }
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Texts, A::Error> {
        let mut out = Vec::new();
        while let Some(t) = seq.next_element::<String>()? {
            if t.trim().is_empty() {
                return Err(de::Error::invalid_value(Unexpected::Str(&t), &self));
            }
            out.push(t);
        }
        Ok(Texts::Known(out))
    }
}

impl<'de> Deserialize<'de> for Texts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TextsVisitor)
    }
}

/// A citation in words, `"none"` or `"unknown"`: `legal_authority`, `records_schedule`,
/// `retention_starts`, `hosting`, `accreditation`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Citation {
    /// What the inventory cites: a statute, a schedule number, an event, a host.
    Cited(String),
    /// There is none.
    None,
    /// Not known.
    Unknown,
}

impl fmt::Display for Citation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cited(s) => f.write_str(s),
            Self::None => f.write_str("none"),
            Self::Unknown => f.write_str("unknown"),
        }
    }
}

struct CitationVisitor;

impl Visitor<'_> for CitationVisitor {
    type Value = Citation;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a citation in words (not blank), \"none\" or \"unknown\"")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Citation, E> {
        match v {
            "none" => Ok(Citation::None),
            "unknown" => Ok(Citation::Unknown),
            v if v.trim().is_empty() => Err(E::invalid_value(Unexpected::Str(v), &self)),
            v => Ok(Citation::Cited(v.to_owned())),
        }
    }
}

impl<'de> Deserialize<'de> for Citation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(CitationVisitor)
    }
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
    pub complete: Declared<Answer>,
    /// Anything else a reader should know.
    #[serde(default)]
    pub note: Option<String>,
    /// The citation for `complete`.
    #[serde(default)]
    pub source: Option<String>,
    /// How good that evidence is.
    #[serde(default)]
    pub evidence: Evidence,
    /// How a reader can check it.
    #[serde(default)]
    pub verify: Vec<Verification>,
}

/// One `[[data]]` entry: a category of data the system holds (or, with `held_by = []`,
/// declares it does not hold). Every property after `held_by` is required when the
/// datum is or may be held, and may be written with its own evidence ([`Declared`]).
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
    pub held_by: Declared<Parties>,
    /// Who can read it on their own, without anyone else's key or consent.
    #[serde(default)]
    pub readable_by: Option<Declared<Parties>>,
    /// How long it is kept, counted from `retention_starts`.
    #[serde(default)]
    pub retention_days: Option<Declared<Retention>>,
    /// The event the retention period counts from (the end of supervision, collection).
    #[serde(default)]
    pub retention_starts: Option<Declared<Citation>>,
    /// How that retention is enforced.
    #[serde(default)]
    pub retention_enforced_by: Option<Declared<Enforcement>>,
    /// How long backups that contain it are kept.
    #[serde(default)]
    pub backup_retention_days: Option<Declared<Retention>>,
    /// The approved records schedule that governs its retention and destruction.
    #[serde(default)]
    pub records_schedule: Option<Declared<Citation>>,
    /// The legal authority for collecting it: a statute, a regulation, an order.
    #[serde(default)]
    pub legal_authority: Option<Declared<Citation>>,
    /// How it is encrypted in storage.
    #[serde(default)]
    pub encryption: Option<Declared<Encryption>>,
    /// Who holds keys that decrypt it (empty when not encrypted).
    #[serde(default)]
    pub key_holders: Option<Declared<Parties>>,
    /// Whether it is given to anyone beyond `held_by`.
    #[serde(default)]
    pub shared: Option<Declared<Answer>>,
    /// With whom, in words.
    #[serde(default)]
    pub shared_with: Vec<String>,
    /// Who hosts it, and where: the data centre or cloud service.
    #[serde(default)]
    pub hosting: Option<Declared<Citation>>,
    /// The sub-processors that handle it (support desks, cloud services, analytics).
    #[serde(default)]
    pub sub_processors: Option<Declared<Texts>>,
    /// Whether the vendor's staff can read it.
    #[serde(default)]
    pub vendor_staff_access: Option<Declared<Answer>>,
    /// What the holder does with a request from a third party or law enforcement.
    #[serde(default)]
    pub third_party_requests: Option<Declared<Requests>>,
    /// Whether the participant can have it corrected.
    #[serde(default)]
    pub correction: Option<Declared<Answer>>,
    /// Whether the participant can have it deleted where no obligation requires it.
    #[serde(default)]
    pub deletion: Option<Declared<Answer>>,
    /// The security authorisation of the systems that hold it: a FISMA authority to
    /// operate, a FedRAMP authorisation, a certification.
    #[serde(default)]
    pub accreditation: Option<Declared<Citation>>,
    /// Known breaches that exposed it (empty: none known).
    #[serde(default)]
    pub breach_history: Option<Declared<Texts>>,
    /// Anything else a reader should know.
    #[serde(default)]
    pub note: Option<String>,
    /// The citation for the entry.
    #[serde(default)]
    pub source: Option<String>,
    /// How good that evidence is.
    #[serde(default)]
    pub evidence: Evidence,
    /// How a reader can check the entry.
    #[serde(default)]
    pub verify: Vec<Verification>,
}

impl Datum {
    /// Whether the datum is, or may be, held by someone (`held_by` not empty, or
    /// unknown).
    pub fn may_be_held(&self) -> bool {
        !self.held_by.value.is_nobody()
    }

    /// The properties every held datum must declare, each with whether it is missing.
    fn missing(&self) -> Option<&'static str> {
        [
            ("readable_by", self.readable_by.is_none()),
            ("retention_days", self.retention_days.is_none()),
            ("retention_starts", self.retention_starts.is_none()),
            (
                "retention_enforced_by",
                self.retention_enforced_by.is_none(),
            ),
            (
                "backup_retention_days",
                self.backup_retention_days.is_none(),
            ),
            ("records_schedule", self.records_schedule.is_none()),
            ("legal_authority", self.legal_authority.is_none()),
            ("encryption", self.encryption.is_none()),
            ("key_holders", self.key_holders.is_none()),
            ("shared", self.shared.is_none()),
            ("hosting", self.hosting.is_none()),
            ("sub_processors", self.sub_processors.is_none()),
            ("vendor_staff_access", self.vendor_staff_access.is_none()),
            ("third_party_requests", self.third_party_requests.is_none()),
            ("correction", self.correction.is_none()),
            ("deletion", self.deletion.is_none()),
            ("accreditation", self.accreditation.is_none()),
            ("breach_history", self.breach_history.is_none()),
        ]
        .into_iter()
        .find_map(|(k, m)| m.then_some(k))
    }
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
            /// How a reader can check it.
            #[serde(default)]
            pub verify: Vec<Verification>,
        }
    };
}

section!(
    /// `[location]`.
    LocationPractice {
        /// What location the system takes.
        mode: Declared<LocationMode>,
        /// Whether continuous tracking can be switched on for a participant (by a case
        /// manager, an officer, the vendor) without a new enrollment or a new release
        /// of the app.
        remote_continuous: Declared<Answer>,
        /// Whether a location is taken at other times than a check-in's answer (at
        /// log-in, at enrollment, at the start of a call).
        fixes_outside_check_ins: Declared<Answer>,
        /// Where the location is tested against the ordered area.
        zone_test_on: Declared<ZoneTest>,
    }
);

section!(
    /// `[biometrics]`.
    Biometrics {
        /// Whether face images leave the phone.
        face_images_leave_device: Declared<Answer>,
        /// Whether voice prints or voice samples leave the phone.
        voice_prints_leave_device: Declared<Answer>,
        /// Whether any biometric template leaves the phone.
        templates_leave_device: Declared<Answer>,
    }
);

section!(
    /// `[device]`.
    DevicePractice {
        /// Whether any device identifier is collected (IMEI, serial, advertising id,
        /// SIM, MAC, phone number).
        identifiers_collected: Declared<Answer>,
        /// The operating-system permissions the app requests; `"unknown"` in the list
        /// when it may be incomplete.
        permissions: Declared<Vec<Permission>>,
        /// Whether the app or the servers include analytics, advertising,
        /// crash-reporting or telemetry components.
        telemetry: Declared<Answer>,
        /// Whether phones lent to participants carry device-management or monitoring
        /// software beyond the app (`false` when no phone is lent).
        loaned_phones_monitored: Declared<Answer>,
    }
);

section!(
    /// `[network]`.
    NetworkPractice {
        /// Whether IP addresses are stored or logged anywhere in the hosting chain.
        ip_addresses_kept: Declared<Answer>,
        /// Whether user agents, headers, connection times or TLS fingerprints are
        /// stored or logged.
        request_metadata_kept: Declared<Answer>,
    }
);

section!(
    /// `[schedule]`.
    SchedulePractice {
        /// The most check-ins a participant can be asked for in one day, ad-hoc
        /// requests included.
        max_check_ins_per_day: Declared<Limit>,
        /// Whether the participant's phone itself refuses a request beyond the
        /// schedule, and keeps the refused request as evidence.
        device_enforces_schedule: Declared<Answer>,
    }
);

section!(
    /// `[log]`.
    LogPractice {
        /// What is logged, in words.
        what: String,
        /// Whether anyone can read and check the log, with no account.
        public: Declared<Answer>,
        /// Whether the log is tamper-evident (a Merkle tree with signed checkpoints,
        /// or equivalent).
        tamper_evident: Declared<Answer>,
        /// Whether independent witnesses cosign the log's checkpoints.
        witnessed: Declared<Answer>,
        /// Whether every access to content is logged before it happens.
        accesses_logged: Declared<Answer>,
        /// Whether every refused request is logged.
        refusals_logged: Declared<Answer>,
        /// How the log names participants.
        names_participants_by: Declared<Naming>,
    }
);

section!(
    /// `[access]`: who may open records, and how.
    AccessPractice {
        /// Whether every request must name an allowed purpose and legal basis.
        justification_required: Declared<Answer>,
        /// Whether opening content needs two independent parties.
        two_party: Declared<Answer>,
        /// Whether the operator (the vendor) can open content.
        operator_can_open_content: Declared<Answer>,
        /// Whether an officer can open only the records of participants in their own
        /// caseload.
        caseload_restricted: Declared<Answer>,
        /// Whether content can be requested in bulk, by search or by query (rather
        /// than record by record).
        bulk_queries: Declared<Answer>,
    }
);

section!(
    /// `[participant]`: what the participant can see and say.
    ParticipantRights {
        /// Whether the participant can see their own record at any time.
        sees_own_record: Declared<Answer>,
        /// Whether the participant can see every access to their record.
        sees_accesses: Declared<Answer>,
        /// Whether the participant can attach a statement to a record about them.
        can_attach_statement: Declared<Answer>,
        /// Whether the participant is told, before the first check-in, what is
        /// collected and never collected, why, for how long, who can read it, and what
        /// happens after a failed check-in.
        notice_complete: Declared<Answer>,
    }
);

section!(
    /// `[failure]`: what a missed or failed check-in leads to.
    FailureHandling {
        /// Whether a missed or failed check-in is by itself recorded as a violation,
        /// raises an alert presented as one, or starts enforcement.
        missed_check_in_adverse: Declared<Answer>,
        /// Whether the participant can report a technical failure, attached to the
        /// record of the check-in it concerns.
        failure_reports: Declared<Answer>,
        /// Whether a person reviews each missed or failed check-in and records a
        /// reason for the decision.
        human_review_with_reason: Declared<Answer>,
        /// How long after a window closes a check-in is still accepted (late, not
        /// missed).
        grace_minutes: Declared<Minutes>,
    }
);

section!(
    /// `[use]`: what the data is used for, and combined with.
    UseAndSharing {
        /// Whether the data is combined with data from brokers, jails or other
        /// agencies' systems.
        combined_with_other_sources: Declared<Answer>,
        /// Whether the data is used for purposes beyond supervising the participant's
        /// conditions (for example, enforcement operations against others).
        other_purposes: Declared<Answer>,
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
    /// Reads and validates an inventory from TOML text (**AUD-20**, **CMP-1**).
    ///
    /// # Errors
    /// An [`InventoryError`] naming the first key that is unknown, missing, of the
    /// wrong type or outside its set (with its line, for a TOML error), or the entry
    /// that breaks a rule of the format.
    pub fn from_toml_str(text: &str) -> Result<Self, InventoryError> {
        // The format line first, so that an inventory of another version is refused as
        // such rather than for its first key this version does not define.
        #[derive(Deserialize)]
        struct FormatOnly {
            format: Option<String>,
        }
        if let Ok(FormatOnly {
            format: Some(found),
        }) = toml::from_str::<FormatOnly>(text)
            && found != INVENTORY_FORMAT
        {
            return Err(InventoryError::UnsupportedFormat { found });
        }
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
            if d.may_be_held()
                && let Some(key) = d.missing()
            {
                return Err(InventoryError::MissingForHeldDatum {
                    id: d.id.clone(),
                    key,
                });
            }
            if d.shared.as_ref().map(|s| s.value) == Some(Answer::Yes)
                && d.shared_with.iter().all(|s| s.trim().is_empty())
            {
                return Err(InventoryError::SharedWithoutRecipients { id: d.id.clone() });
            }
        }
        Ok(inventory)
    }
}
