//! The rules (`spec/inventory.md`, "The rules"): each reads one declared property and
//! names what fails it, in one of two groups and one of three tiers (**CMP-3**,
//! **CMP-4**).

use minimis_proto::Policy;

use crate::format::{
    Answer, Category, Citation, Declared, Encryption, Enforcement, Evidence, Inventory, Limit,
    LocationMode, Minutes, Naming, Parties, Party, Permission, Provenance, Requests, Retention,
    Texts, Verification, ZoneTest,
};
use crate::report::{Comparison, Finding, Gap, Group, Tier};

/// One rule: its group, its tier, the requirement IDs it rests on, and what it requires
/// in words.
#[derive(Clone, Copy)]
struct Rule {
    group: Group,
    tier: Tier,
    requirements: &'static [&'static str],
    requires: &'static str,
}

const fn minimis(
    tier: Tier,
    requirements: &'static [&'static str],
    requires: &'static str,
) -> Rule {
    Rule {
        group: Group::Conformance,
        tier,
        requirements,
        requires,
    }
}

const fn baseline(
    tier: Tier,
    requirements: &'static [&'static str],
    requires: &'static str,
) -> Rule {
    Rule {
        group: Group::Baseline,
        tier,
        requirements,
        requires,
    }
}

/// What minimis requires of a category it never collects.
struct NeverCollected {
    /// Who may hold it all the same (the device, for what never leaves it; the agency,
    /// for what stays in its case file).
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
        const AGENCY: &[Party] = &[Party::Agency];
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
            Self::OtherDeviceTrack => never(
                &[],
                &["POL-1", "LOC-1"],
                "no location track from any device: no ankle monitor, wrist tracker or vehicle track",
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
            Self::IdImage => never(
                AGENCY,
                &["ENR-1", "POL-4"],
                "identity documents are checked by the agency in person; their images stay in its case file",
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
            Self::PhonePlan => never(
                &[],
                &["POL-6"],
                "no phone number, carrier, plan or billing data",
            ),
            Self::RequestMetadata => never(
                DEVICE,
                &["POL-7", "POL-20"],
                "no IP addresses, user agents or other request metadata are stored or logged",
            ),
            Self::MessageMetadata => never(
                &[],
                &["POL-7", "POL-8"],
                "no record of who wrote to or called whom, when or for how long",
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
            Self::RiskScore => never(
                &[],
                &["CHK-21", "POL-8"],
                "no risk score or automated classification: a person decides every row, with a reason",
            ),
            Self::Alert => never(
                &[],
                &["CHK-20", "CHK-21"],
                "no alert: a missed or failed check-in is a ledger row pending a person's review, never a violation by itself",
            ),
            Self::Appointments => never(
                AGENCY,
                &["POL-8"],
                "hearing and appointment dates stay in the court's docket and the agency's case file, not in the app",
            ),
            Self::AddressHistory => never(
                AGENCY,
                &["ENR-1", "POL-8"],
                "addresses and their changes stay in the agency's case file; the operator sees only a pseudonym",
            ),
            Self::EmploymentHistory => never(
                AGENCY,
                &["POL-8"],
                "employment stays in the agency's case file, where a condition asks for it",
            ),
            Self::Document => never(
                AGENCY,
                &["POL-8"],
                "documents stay in the agency's case file, not in the check-in system",
            ),
            Self::Payment => never(&[], &["POL-8"], "no payment, fee, bank or card data"),
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

/// An entry's or a section's own provenance, which a property's overrides.
struct Defaults<'a> {
    source: &'a Option<String>,
    evidence: Evidence,
    verify: &'a [Verification],
}

struct Comparer {
    gaps: Vec<Gap>,
    baseline: usize,
    conformance: usize,
}

impl Comparer {
    fn count(&mut self, rule: &Rule) {
        match rule.group {
            Group::Baseline => self.baseline += 1,
            Group::Conformance => self.conformance += 1,
        }
    }

    /// Records one property compared under `rule`, and its gap if `finding` is one.
    #[allow(clippy::too_many_arguments)]
    fn check<T>(
        &mut self,
        entry: &str,
        property: &'static str,
        declared: &Declared<T>,
        shown: String,
        finding: Option<Finding>,
        rule: Rule,
        defaults: &Defaults<'_>,
    ) {
        self.check_with(
            entry,
            property,
            &declared.provenance,
            shown,
            finding,
            rule,
            defaults,
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn check_with(
        &mut self,
        entry: &str,
        property: &'static str,
        own: &Provenance,
        shown: String,
        finding: Option<Finding>,
        rule: Rule,
        defaults: &Defaults<'_>,
    ) {
        self.count(&rule);
        let Some(finding) = finding else { return };
        self.gaps.push(Gap {
            entry: entry.to_owned(),
            property,
            declared: shown,
            finding,
            group: rule.group,
            tier: rule.tier,
            requirements: rule.requirements,
            requires: rule.requires.to_owned(),
            source: own.source.clone().or_else(|| defaults.source.clone()),
            evidence: own.evidence.unwrap_or(defaults.evidence),
            verify: if own.verify.is_empty() {
                defaults.verify.to_vec()
            } else {
                own.verify.clone()
            },
            note: own.note.clone(),
        });
    }

    /// A yes-or-no property: a gap when it is `bad`, or unknown.
    fn answer(
        &mut self,
        entry: &str,
        property: &'static str,
        value: &Declared<Answer>,
        bad: Answer,
        rule: Rule,
        d: &Defaults<'_>,
    ) {
        let finding = match value.value {
            Answer::Unknown => Some(Finding::NotShown),
            v if v == bad => Some(Finding::Contrary),
            _ => None,
        };
        self.check(
            entry,
            property,
            value,
            value.value.to_string(),
            finding,
            rule,
            d,
        );
    }

    fn retention(
        &mut self,
        entry: &str,
        value: &Declared<Retention>,
        limit: u32,
        rule: Rule,
        d: &Defaults<'_>,
    ) {
        let finding = match value.value {
            Retention::Days(days) if days <= limit => None,
            Retention::Unknown => Some(Finding::NotShown),
            _ => Some(Finding::Contrary),
        };
        self.check(
            entry,
            "retention_days",
            value,
            value.value.to_string(),
            finding,
            rule,
            d,
        );
    }

    fn datum(&mut self, datum: &crate::format::Datum, policy: &Policy) {
        let entry = format!("data.{}", datum.id);
        let d = Defaults {
            source: &datum.source,
            evidence: datum.evidence,
            verify: &datum.verify,
        };
        let held = &datum.held_by;
        let kind = datum.category.kind();
        if let Kind::Never(n) = &kind {
            let finding = match &held.value {
                Parties::Unknown => Some(Finding::NotShown),
                Parties::Known(l) if l.iter().any(|h| !n.allowed.contains(h)) => {
                    Some(Finding::Contrary)
                }
                Parties::Known(_) => None,
            };
            let rule = Rule {
                group: Group::Conformance,
                tier: Tier::A,
                requirements: n.requirements,
                requires: n.minimis,
            };
            self.check(
                &entry,
                "held_by",
                held,
                format!("{} held by {}", datum.category, held.value),
                finding,
                rule,
                &d,
            );
        }
        if !datum.may_be_held() {
            return;
        }
        // Validation made these present for a datum that may be held.
        let (
            Some(readable),
            Some(keys),
            Some(retention),
            Some(starts),
            Some(enforcement),
            Some(backup),
            Some(schedule),
            Some(authority),
            Some(encryption),
            Some(shared),
            Some(hosting),
            Some(sub_processors),
            Some(staff),
            Some(requests),
            Some(correction),
            Some(deletion),
            Some(accreditation),
            Some(breaches),
        ) = (
            &datum.readable_by,
            &datum.key_holders,
            &datum.retention_days,
            &datum.retention_starts,
            &datum.retention_enforced_by,
            &datum.backup_retention_days,
            &datum.records_schedule,
            &datum.legal_authority,
            &datum.encryption,
            &datum.shared,
            &datum.hosting,
            &datum.sub_processors,
            &datum.vendor_staff_access,
            &datum.third_party_requests,
            &datum.correction,
            &datum.deletion,
            &datum.accreditation,
            &datum.breach_history,
        )
        else {
            return;
        };

        // Legal and minimum-standard rules (CMP-10 to CMP-21): any lawful design.
        let citation = |c: &Citation| match c {
            Citation::Cited(_) => None,
            Citation::None => Some(Finding::Contrary),
            Citation::Unknown => Some(Finding::NotShown),
        };
        self.check(
            &entry,
            "legal_authority",
            authority,
            authority.value.to_string(),
            citation(&authority.value),
            baseline(
                Tier::A,
                &["CMP-10"],
                "a statute, regulation or order that authorises collecting it",
            ),
            &d,
        );
        self.check(
            &entry,
            "records_schedule",
            schedule,
            schedule.value.to_string(),
            citation(&schedule.value),
            baseline(
                Tier::B,
                &["CMP-11"],
                "an approved records schedule that governs its retention and destruction",
            ),
            &d,
        );
        self.check(
            &entry,
            "retention_days",
            retention,
            retention.value.to_string(),
            (retention.value == Retention::Unknown).then_some(Finding::NotShown),
            baseline(Tier::B, &["CMP-12"], "a declared retention period"),
            &d,
        );
        self.check(
            &entry,
            "retention_starts",
            starts,
            starts.value.to_string(),
            citation(&starts.value),
            baseline(
                Tier::B,
                &["CMP-12"],
                "the event the retention period counts from",
            ),
            &d,
        );
        self.check(
            &entry,
            "backup_retention_days",
            backup,
            backup.value.to_string(),
            match backup.value {
                Retention::Days(_) => None,
                Retention::Unknown => Some(Finding::NotShown),
                Retention::Indefinite | Retention::UntilEvent => Some(Finding::Contrary),
            },
            baseline(
                Tier::B,
                &["CMP-13"],
                "backups kept for a bounded, declared period, so that a retention period binds every copy",
            ),
            &d,
        );
        self.check(
            &entry,
            "hosting",
            hosting,
            hosting.value.to_string(),
            (hosting.value == Citation::Unknown).then_some(Finding::NotShown),
            baseline(Tier::B, &["CMP-14"], "who hosts it, and where, declared"),
            &d,
        );
        self.check(
            &entry,
            "sub_processors",
            sub_processors,
            sub_processors.value.to_string(),
            (sub_processors.value == Texts::Unknown).then_some(Finding::NotShown),
            baseline(
                Tier::B,
                &["CMP-14"],
                "every sub-processor that handles it, named",
            ),
            &d,
        );
        self.check(
            &entry,
            "vendor_staff_access",
            staff,
            staff.value.to_string(),
            (staff.value == Answer::Unknown).then_some(Finding::NotShown),
            baseline(
                Tier::B,
                &["CMP-15"],
                "whether the vendor's staff can read it, declared",
            ),
            &d,
        );
        self.check(
            &entry,
            "third_party_requests",
            requests,
            requests.value.to_string(),
            match requests.value {
                Requests::OnRequest => Some(Finding::Contrary),
                Requests::Unknown => Some(Finding::NotShown),
                _ => None,
            },
            baseline(
                Tier::B,
                &["CMP-16"],
                "given to a third party or law enforcement only under legal process or the agency's published routine uses, never merely on request",
            ),
            &d,
        );
        for (property, value) in [("correction", correction), ("deletion", deletion)] {
            self.check(
                &entry,
                property,
                value,
                value.value.to_string(),
                (value.value == Answer::Unknown).then_some(Finding::NotShown),
                baseline(
                    Tier::B,
                    &["CMP-17"],
                    "whether the participant can have it corrected, and deleted where no obligation requires it, declared",
                ),
                &d,
            );
        }
        self.check(
            &entry,
            "accreditation",
            accreditation,
            accreditation.value.to_string(),
            citation(&accreditation.value),
            baseline(
                Tier::C,
                &["CMP-18"],
                "a security authorisation of the systems that hold it (a FISMA authority to operate, FedRAMP)",
            ),
            &d,
        );
        self.check(
            &entry,
            "breach_history",
            breaches,
            breaches.value.to_string(),
            (breaches.value == Texts::Unknown).then_some(Finding::NotShown),
            baseline(
                Tier::C,
                &["CMP-19"],
                "every known breach that exposed it, declared (none is an answer)",
            ),
            &d,
        );
        let any_verify = !datum.verify.is_empty()
            || [
                &held.provenance,
                &readable.provenance,
                &keys.provenance,
                &retention.provenance,
                &starts.provenance,
                &enforcement.provenance,
                &backup.provenance,
                &schedule.provenance,
                &authority.provenance,
                &encryption.provenance,
                &shared.provenance,
                &hosting.provenance,
                &sub_processors.provenance,
                &staff.provenance,
                &requests.provenance,
                &correction.provenance,
                &deletion.provenance,
                &accreditation.provenance,
                &breaches.provenance,
            ]
            .iter()
            .any(|p| !p.verify.is_empty());
        self.check_with(
            &entry,
            "verify",
            &Provenance::default(),
            if any_verify {
                "declared".to_owned()
            } else {
                "none".to_owned()
            },
            (!any_verify).then_some(Finding::NotShown),
            baseline(
                Tier::C,
                &["CMP-20"],
                "how a reader can check the entry: a manifest, a contract clause, a FOIA result, a log",
            ),
            &d,
        );

        // minimis conformance: design choices another architecture may meet otherwise.
        let not_shown_or = |unknown: bool, contrary: bool| {
            if unknown {
                Some(Finding::NotShown)
            } else if contrary {
                Some(Finding::Contrary)
            } else {
                None
            }
        };
        match kind {
            Kind::Content => {
                let e = encryption.value;
                self.check(
                    &entry,
                    "encryption",
                    encryption,
                    e.to_string(),
                    not_shown_or(e == Encryption::Unknown, e != Encryption::EndToEnd),
                    minimis(
                        Tier::B,
                        &["SEAL-1", "SEAL-2"],
                        "check-in content is encrypted on the phone, to the agency's and the oversight custodian's keys",
                    ),
                    &d,
                );
                let operator = readable.value.contains(Party::Operator)
                    || keys.value.contains(Party::Operator)
                    || staff.value == Answer::Yes;
                let unknown = readable.value == Parties::Unknown
                    || keys.value == Parties::Unknown
                    || staff.value == Answer::Unknown;
                self.check(
                    &entry,
                    "readable_by",
                    readable,
                    format!(
                        "readable by {}; keys held by {}; vendor staff access {}",
                        readable.value, keys.value, staff.value
                    ),
                    if operator {
                        Some(Finding::Contrary)
                    } else {
                        not_shown_or(unknown, false)
                    },
                    minimis(
                        Tier::B,
                        &["SEAL-11", "ACC-14"],
                        "the operator holds no key and no code that decrypts content",
                    ),
                    &d,
                );
                let two = matches!(&keys.value, Parties::Known(k) if k.len() == 2
                    && k.contains(&Party::Agency)
                    && k.contains(&Party::Oversight));
                let alone = matches!(&readable.value, Parties::Known(r) if r
                    .iter()
                    .any(|r| *r != Party::Device && *r != Party::Operator));
                self.check(
                    &entry,
                    "key_holders",
                    keys,
                    format!(
                        "keys held by {}; readable alone by {}",
                        keys.value, readable.value
                    ),
                    if keys.value == Parties::Unknown || readable.value == Parties::Unknown {
                        Some(Finding::NotShown)
                    } else {
                        (!two || alone).then_some(Finding::Contrary)
                    },
                    minimis(
                        Tier::B,
                        &["SEAL-2", "SEAL-10"],
                        "opening content takes both the agency custodian and an independent oversight custodian; nobody reads it alone but the participant",
                    ),
                    &d,
                );
                let limit = policy.content_retention_days();
                self.retention(
                    &entry,
                    retention,
                    limit,
                    minimis(
                        Tier::B,
                        &["RET-1"],
                        "kept no longer than the policy's retention.content_days",
                    ),
                    &d,
                );
                let en = enforcement.value;
                self.check(
                    &entry,
                    "retention_enforced_by",
                    enforcement,
                    en.to_string(),
                    not_shown_or(
                        en == Enforcement::Unknown,
                        en != Enforcement::KeyDestruction,
                    ),
                    minimis(
                        Tier::B,
                        &["RET-2", "RET-3"],
                        "retention is enforced by destroying each epoch's keys, so that every copy, backups included, becomes unreadable",
                    ),
                    &d,
                );
            }
            Kind::LedgerLike => {
                self.retention(
                    &entry,
                    retention,
                    policy.ledger_retention_days(),
                    minimis(
                        Tier::B,
                        &["RET-20"],
                        "kept no longer than the policy's retention.ledger_days",
                    ),
                    &d,
                );
                let en = enforcement.value;
                self.check(
                    &entry,
                    "retention_enforced_by",
                    enforcement,
                    en.to_string(),
                    not_shown_or(
                        en == Enforcement::Unknown,
                        !matches!(en, Enforcement::Deletion | Enforcement::KeyDestruction),
                    ),
                    minimis(
                        Tier::B,
                        &["RET-20"],
                        "the operator deletes it at the deadline and logs the purge",
                    ),
                    &d,
                );
            }
            Kind::Identity | Kind::Zone => {
                let (requirements, requires): (&'static [&'static str], &'static str) = if matches!(
                    kind,
                    Kind::Identity
                ) {
                    (
                        &["ENR-1"],
                        "the operator sees only a random pseudonym; the link to the person stays with the agency",
                    )
                } else {
                    (
                        &["LOC-20"],
                        "the operator holds only a salted hash of the ordered area, never the area itself",
                    )
                };
                let operator = held.value.contains(Party::Operator)
                    || readable.value.contains(Party::Operator);
                let unknown = held.value == Parties::Unknown || readable.value == Parties::Unknown;
                self.check(
                    &entry,
                    "held_by",
                    held,
                    format!("held by {}; readable by {}", held.value, readable.value),
                    if operator {
                        Some(Finding::Contrary)
                    } else {
                        not_shown_or(unknown, false)
                    },
                    minimis(Tier::A, requirements, requires),
                    &d,
                );
            }
            Kind::Allowed | Kind::Never(_) => {}
        }
        if datum.category.held_by_minimis() {
            self.check(
                &entry,
                "shared",
                shared,
                match shared.value {
                    Answer::Yes => format!("shared with {}", datum.shared_with.join("; ")),
                    v => v.to_string(),
                },
                not_shown_or(shared.value == Answer::Unknown, shared.value == Answer::Yes),
                minimis(
                    Tier::B,
                    &["POL-22"],
                    "data is used only for the purposes the policy names and given to nobody beyond its holders",
                ),
                &d,
            );
        }
    }

    #[allow(clippy::too_many_lines)]
    fn sections(&mut self, inv: &Inventory, policy: &Policy) {
        use Answer::{No, Yes};
        let defaults = |source, evidence, verify| Defaults {
            source,
            evidence,
            verify,
        };

        // Location.
        let l = &inv.location;
        let d = defaults(&l.source, l.evidence, &l.verify);
        let (requirements, finding): (&'static [&'static str], Option<Finding>) = match l.mode.value
        {
            LocationMode::None | LocationMode::ZoneResultAtCheckIn => (&["POL-1", "LOC-2"], None),
            LocationMode::PointAtCheckIn => (&["POL-1", "LOC-2"], Some(Finding::Contrary)),
            LocationMode::Continuous => (&["POL-1", "LOC-1", "LOC-3"], Some(Finding::Contrary)),
            LocationMode::Unknown => (&["POL-1", "LOC-2"], Some(Finding::NotShown)),
        };
        self.check(
            "location",
            "mode",
            &l.mode,
            l.mode.value.to_string(),
            finding,
            minimis(
                Tier::A,
                requirements,
                "one fix per check-in, tested on the phone; only inside, outside or unavailable leaves it",
            ),
            &d,
        );
        self.answer(
            "location",
            "remote_continuous",
            &l.remote_continuous,
            Yes,
            minimis(
                Tier::A,
                &["POL-1", "LOC-1"],
                "continuous tracking cannot be switched on: no message can carry a location",
            ),
            &d,
        );
        self.answer(
            "location",
            "fixes_outside_check_ins",
            &l.fixes_outside_check_ins,
            Yes,
            minimis(
                Tier::A,
                &["LOC-3"],
                "at most one fix per accepted check-in, only while answering it",
            ),
            &d,
        );
        let z = l.zone_test_on.value;
        self.check(
            "location",
            "zone_test_on",
            &l.zone_test_on,
            z.to_string(),
            match z {
                ZoneTest::Device | ZoneTest::None => None,
                ZoneTest::Unknown => Some(Finding::NotShown),
                _ => Some(Finding::Contrary),
            },
            minimis(Tier::A, &["LOC-4"], "the zone test runs on the phone"),
            &d,
        );

        // Biometrics.
        let b = &inv.biometrics;
        let d = defaults(&b.source, b.evidence, &b.verify);
        for (property, value) in [
            ("face_images_leave_device", &b.face_images_leave_device),
            ("voice_prints_leave_device", &b.voice_prints_leave_device),
            ("templates_leave_device", &b.templates_leave_device),
        ] {
            self.answer(
                "biometrics",
                property,
                value,
                Yes,
                minimis(
                    Tier::A,
                    &["POL-4"],
                    "no biometric sample or template leaves the phone; only a presence result is sealed",
                ),
                &d,
            );
        }

        // Device.
        let dv = &inv.device;
        let d = defaults(&dv.source, dv.evidence, &dv.verify);
        self.answer(
            "device",
            "identifiers_collected",
            &dv.identifiers_collected,
            Yes,
            minimis(
                Tier::A,
                &["POL-6"],
                "no device identifiers: the phone is known only by the public key it made",
            ),
            &d,
        );
        let forbidden: Vec<&str> = dv
            .permissions
            .value
            .iter()
            .filter(|x| x.forbidden())
            .map(|x| x.as_str())
            .collect();
        let (shown, finding) = if !forbidden.is_empty() {
            (forbidden.join(", "), Some(Finding::Contrary))
        } else if dv.permissions.value.contains(&Permission::Unknown) {
            ("unknown".to_owned(), Some(Finding::NotShown))
        } else {
            (String::new(), None)
        };
        self.check(
            "device",
            "permissions",
            &dv.permissions,
            shown,
            finding,
            minimis(
                Tier::A,
                &["POL-21"],
                "no permission for contacts, call logs, SMS, camera, microphone, phone identity or background location",
            ),
            &d,
        );
        self.answer(
            "device",
            "telemetry",
            &dv.telemetry,
            Yes,
            minimis(
                Tier::A,
                &["POL-23"],
                "no analytics, advertising, crash-reporting or telemetry components",
            ),
            &d,
        );
        self.answer(
            "device",
            "loaned_phones_monitored",
            &dv.loaned_phones_monitored,
            Yes,
            minimis(
                Tier::A,
                &["POL-24"],
                "a lent phone carries no device-management or monitoring software",
            ),
            &d,
        );

        // Network.
        let n = &inv.network;
        let d = defaults(&n.source, n.evidence, &n.verify);
        self.answer(
            "network",
            "ip_addresses_kept",
            &n.ip_addresses_kept,
            Yes,
            minimis(
                Tier::A,
                &["POL-7", "POL-20"],
                "the peer address is stripped before any handler, log, metric or database sees a request",
            ),
            &d,
        );
        self.answer(
            "network",
            "request_metadata_kept",
            &n.request_metadata_kept,
            Yes,
            minimis(
                Tier::A,
                &["POL-7"],
                "no user agents, headers, connection times or TLS fingerprints are kept",
            ),
            &d,
        );

        // Schedule.
        let s = &inv.schedule;
        let d = defaults(&s.source, s.evidence, &s.verify);
        let cap = policy.max_checkins_per_day();
        let limit = s.max_check_ins_per_day.value;
        self.check(
            "schedule",
            "max_check_ins_per_day",
            &s.max_check_ins_per_day,
            limit.to_string(),
            match limit {
                Limit::AtMost(n) if n <= cap => None,
                Limit::Unknown => Some(Finding::NotShown),
                _ => Some(Finding::Contrary),
            },
            minimis(
                Tier::A,
                &["CHL-3"],
                "no more check-ins a day, ad-hoc ones included, than the policy's schedule.max_checkins_per_day",
            ),
            &d,
        );
        self.answer(
            "schedule",
            "device_enforces_schedule",
            &s.device_enforces_schedule,
            No,
            minimis(
                Tier::C,
                &["CHL-5"],
                "the phone applies the schedule's caps itself and keeps any request it refuses as evidence",
            ),
            &d,
        );

        // Log.
        let g = &inv.log;
        let d = defaults(&g.source, g.evidence, &g.verify);
        for (property, value, requirements, requires) in [
            (
                "public",
                &g.public,
                &["AUD-10"][..],
                "anyone can audit the log with no account and no personal data",
            ),
            (
                "tamper_evident",
                &g.tamper_evident,
                &["LOG-1", "LOG-14"][..],
                "the log is a Merkle tree with signed checkpoints; changing history shows",
            ),
            (
                "witnessed",
                &g.witnessed,
                &["LOG-16", "AUD-1"][..],
                "witnesses cosign the log's checkpoints after checking consistency",
            ),
            (
                "accesses_logged",
                &g.accesses_logged,
                &["ACC-4"][..],
                "every access to content is logged before anything is opened",
            ),
            (
                "refusals_logged",
                &g.refusals_logged,
                &["ACC-6"][..],
                "every refused request is logged",
            ),
        ] {
            self.answer(
                "log",
                property,
                value,
                No,
                minimis(Tier::C, requirements, requires),
                &d,
            );
        }
        let (requirements, finding): (&'static [&'static str], Option<Finding>) =
            match g.names_participants_by.value {
                Naming::EpochTag => (&["ENR-3"], None),
                Naming::FixedPseudonym => (&["ENR-3"], Some(Finding::Contrary)),
                Naming::Identity => (&["ENR-3", "LOG-27"], Some(Finding::Contrary)),
                Naming::Unknown => (&["ENR-3", "LOG-27"], Some(Finding::NotShown)),
            };
        self.check(
            "log",
            "names_participants_by",
            &g.names_participants_by,
            g.names_participants_by.value.to_string(),
            finding,
            minimis(
                Tier::C,
                requirements,
                "the log names a participant only by a tag that changes every epoch",
            ),
            &d,
        );

        // Access.
        let a = &inv.access;
        let d = defaults(&a.source, a.evidence, &a.verify);
        for (property, value, bad, requirements, requires) in [
            (
                "justification_required",
                &a.justification_required,
                No,
                &["ACC-2"][..],
                "every request names a purpose and a legal basis the published policy allows",
            ),
            (
                "two_party",
                &a.two_party,
                No,
                &["ACC-7", "SEAL-10"][..],
                "opening content takes both the agency and an independent oversight custodian",
            ),
            (
                "operator_can_open_content",
                &a.operator_can_open_content,
                Yes,
                &["SEAL-11", "ACC-14"][..],
                "the operator holds no key and no code that decrypts content",
            ),
            (
                "caseload_restricted",
                &a.caseload_restricted,
                No,
                &["ACC-3"][..],
                "an officer opens only records of participants in their own caseload",
            ),
            (
                "bulk_queries",
                &a.bulk_queries,
                Yes,
                &["ACC-13"][..],
                "content is requested only record by record: no search, no query by person or result",
            ),
        ] {
            self.answer(
                "access",
                property,
                value,
                bad,
                minimis(Tier::B, requirements, requires),
                &d,
            );
        }

        // Participant.
        let r = &inv.participant;
        let d = defaults(&r.source, r.evidence, &r.verify);
        for (property, value, requirements, requires) in [
            (
                "sees_own_record",
                &r.sees_own_record,
                &["ACC-11"][..],
                "the participant sees their own ledger rows and every access to their records",
            ),
            (
                "sees_accesses",
                &r.sees_accesses,
                &["ACC-11"][..],
                "the participant sees their own ledger rows and every access to their records",
            ),
            (
                "can_attach_statement",
                &r.can_attach_statement,
                &["ACC-12"][..],
                "the participant can attach a statement to any row about them",
            ),
            (
                "notice_complete",
                &r.notice_complete,
                &["ENR-22"][..],
                "before the first check-in, the participant is told what is and is never collected, why, for how long, who reads it and what a failure leads to",
            ),
        ] {
            self.answer(
                "participant",
                property,
                value,
                No,
                minimis(Tier::B, requirements, requires),
                &d,
            );
        }

        // Failure.
        let f = &inv.failure;
        let d = defaults(&f.source, f.evidence, &f.verify);
        self.answer(
            "failure",
            "missed_check_in_adverse",
            &f.missed_check_in_adverse,
            Yes,
            minimis(
                Tier::B,
                &["CHK-20", "CHK-21"],
                "a missed or failed check-in waits for a person's review; nothing adverse follows automatically",
            ),
            &d,
        );
        self.answer(
            "failure",
            "failure_reports",
            &f.failure_reports,
            No,
            minimis(
                Tier::B,
                &["CHK-22"],
                "the participant can report a technical failure, attached to the check-in's ledger row",
            ),
            &d,
        );
        self.answer(
            "failure",
            "human_review_with_reason",
            &f.human_review_with_reason,
            No,
            minimis(
                Tier::B,
                &["CHK-24"],
                "an officer resolving a row gives a reason code, and the resolution is logged",
            ),
            &d,
        );
        let grace = f.grace_minutes.value;
        self.check(
            "failure",
            "grace_minutes",
            &f.grace_minutes,
            grace.to_string(),
            match grace {
                Minutes::Minutes(m) if m >= 60 => None,
                Minutes::Minutes(_) => Some(Finding::Contrary),
                Minutes::Unknown => Some(Finding::NotShown),
            },
            minimis(
                Tier::B,
                &["CHK-29"],
                "a check-in stays answerable for a grace period after its window, of at least an hour",
            ),
            &d,
        );

        // Use.
        let u = &inv.use_and_sharing;
        let d = defaults(&u.source, u.evidence, &u.verify);
        let c = u.combined_with_other_sources.value;
        self.check(
            "use",
            "combined_with_other_sources",
            &u.combined_with_other_sources,
            if c == Yes && !u.combined_with.is_empty() {
                u.combined_with.join("; ")
            } else {
                c.to_string()
            },
            match c {
                No => None,
                Yes => Some(Finding::Contrary),
                Answer::Unknown => Some(Finding::NotShown),
            },
            minimis(
                Tier::A,
                &["POL-22"],
                "no combination with data from brokers, jails or other agencies' systems",
            ),
            &d,
        );
        self.answer(
            "use",
            "other_purposes",
            &u.other_purposes,
            Yes,
            minimis(
                Tier::B,
                &["POL-22"],
                "data is used only for the purposes the policy names",
            ),
            &d,
        );
    }
}

impl Inventory {
    /// Holds the inventory against the legal and minimum-standard rules and against the
    /// minimis specification, and its retention periods and schedule against `policy`
    /// (**AUD-21** to **AUD-23**, **CMP-3**, **CMP-4**).
    pub fn compare(&self, policy: &Policy) -> Comparison {
        let mut c = Comparer {
            gaps: Vec::new(),
            baseline: 0,
            conformance: 0,
        };
        let a = &self.about;
        c.answer(
            "about",
            "complete",
            &a.complete,
            Answer::No,
            minimis(
                Tier::C,
                &["POL-8"],
                "every datum the system holds is in the data table, with its obligation, holder, readers and retention",
            ),
            &Defaults {
                source: &a.source,
                evidence: a.evidence,
                verify: &a.verify,
            },
        );
        for d in &self.data {
            c.datum(d, policy);
        }
        c.sections(self, policy);
        Comparison {
            about: self.about.clone(),
            policy_name: policy.name().to_owned(),
            policy_hash: policy.hash(),
            compared_baseline: c.baseline,
            compared_conformance: c.conformance,
            gaps: c.gaps,
        }
    }
}
