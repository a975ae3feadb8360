//! The seed corpora of the fuzz targets: real artifacts, made with the fixed keys of
//! [`super::keys`] so that they pass the targets' signature checks, and the published
//! vectors and example files of the repository. `cargo run -p minimis-testkit --bin
//! gen-fuzz-corpus` writes them to `fuzz/corpus/<target>/`.

use std::path::Path;
use std::sync::LazyLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_audit::synthetic::{History, Params, SignedLog};
use minimis_client::bundle::{Bundle, ZoneCommitment};
use minimis_client::location::Zone;
use minimis_custodian::protocol::{
    AccessRequest, HoldRequest, HoldRewrapResponse, InnerFile, InnerHeader, LoggedEntry,
    OuterRequest, OuterResponse, PlaceHoldRequest,
};
use minimis_log::entry::{CustodianId, RecordSetHash};
use minimis_log::tiles::{bundles_for, tiles_for};
use minimis_log::{Log, LogEntry, MemoryStorage, SignedCheckpoint, TileStorage, Witness};
use minimis_proto::payload::NOTE_CAPACITY;
use minimis_proto::{
    Challenge, ChallengeId, ChallengeKind, CheckInPayload, EpochId, Note, ParticipantTag, Policy,
    PolicyHash, PresenceResult, Receipt, RecordId, Schedule, UnixTime, Weekday, Window, WindowSpan,
    ZoneResult, default_policy,
};
use minimis_seal::{CustodianKeys, SealingKeys};

use super::{Files, keys};
use crate::NOW;

/// One seed file.
#[derive(Clone, Debug)]
pub struct Seed {
    /// The target it seeds.
    pub target: &'static str,
    /// Its file name.
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

fn seed(target: &'static str, name: impl Into<String>, bytes: impl Into<Vec<u8>>) -> Seed {
    Seed {
        target,
        name: name.into(),
        bytes: bytes.into(),
    }
}

fn json(v: &impl serde::Serialize) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_else(|e| panic!("a seed encodes: {e}"))
}

fn ok<T, E: std::fmt::Debug>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("a seed is made: {e:?}"))
}

/// The entries of the example log of `spec/log.md`, in two batches of three.
pub fn example_entries() -> Vec<LogEntry> {
    let tag = ParticipantTag::from_bytes([0x7a; 32]);
    let epoch = EpochId::new(2_968);
    let challenge = ChallengeId::from_bytes([0xc1; 16]);
    let policy = PolicyHash::from_bytes([0x90; 32]);
    let (count, record_set) = RecordSetHash::of(&[RecordId::from_bytes([0x01; 32])]);
    vec![
        LogEntry::PolicyPublished { policy },
        LogEntry::EnrollmentOpened { tag, epoch, policy },
        LogEntry::ChallengeIssued {
            tag,
            challenge,
            epoch,
            kind: ChallengeKind::Scheduled,
            issued_at: UnixTime(1_795_683_600),
            window: WindowSpan {
                start: UnixTime(1_795_683_600),
                end: UnixTime(1_795_690_800),
            },
        },
        LogEntry::CheckInReceived {
            tag,
            record: RecordId::from_bytes([0x5e; 32]),
            challenge,
            epoch,
        },
        LogEntry::RecordsPurged {
            epoch: EpochId::new(2_954),
            count,
            record_set,
            purged_at: UnixTime(1_795_651_200),
        },
        LogEntry::EpochKeyDestroyed {
            custodian: ok(CustodianId::new("oversight")),
            epoch: EpochId::new(2_954),
            destroyed_at: UnixTime(1_795_651_200),
        },
    ]
}

/// The example log of `spec/log.md` after its first `batches` batches (1 or 2), its
/// checkpoint cosigned by the witness, as the spec quotes it after two.
pub fn example_log(batches: usize) -> Log<MemoryStorage> {
    let mut log = ok(Log::create(MemoryStorage::new(), keys::log_signer()));
    for batch in example_entries().chunks(3).take(batches) {
        ok(log.append_entries(batch));
    }
    let mut witness = ok(Witness::new(
        keys::witness_cosigner(),
        keys::log_key().clone(),
    ));
    let line = ok(witness.cosign(
        log.checkpoint().to_string().as_bytes(),
        &[],
        UnixTime(1_795_690_000),
    ));
    ok(log.add_cosignature(line, keys::witness_key()));
    log
}

/// The checkpoint of the whole example log, cosigned.
pub fn example_checkpoint() -> &'static SignedCheckpoint {
    static C: LazyLock<SignedCheckpoint> = LazyLock::new(|| example_log(2).checkpoint().clone());
    &C
}

/// The checkpoint body of `storage` and its files, by their tlog-tiles paths.
fn files_of(storage: &MemoryStorage) -> (String, Vec<(String, Vec<u8>)>) {
    let text = ok(storage.read_checkpoint()).map(|c| c.into_owned());
    let text = text.unwrap_or_else(|| panic!("a stored checkpoint"));
    let note = ok(minimis_log::SignedNote::parse(text.as_bytes()));
    let cp = ok(minimis_log::Checkpoint::parse(note.text()));
    let mut files = Vec::new();
    for t in tiles_for(cp.tree_size()) {
        let bytes = ok(storage.read_tile(t)).unwrap_or_else(|| panic!("tile {t}"));
        files.push((t.path(), bytes.into_owned()));
    }
    for b in bundles_for(cp.tree_size()) {
        let bytes = ok(storage.read_bundle(b)).unwrap_or_else(|| panic!("bundle {b}"));
        files.push((b.path(), bytes.into_owned()));
    }
    (note.text().to_owned(), files)
}

/// A synthetic history of a few hundred entries: five participants over four weeks.
fn synthetic() -> History {
    History::generate(&Params {
        participants: 5,
        epochs: 4,
        first_epoch: 2_950,
        windows_per_day: 1,
        audit_days_after: 120,
    })
}

fn policy_one_custodian() -> (String, Policy) {
    let text = minimis_proto::policy::DEFAULT_POLICY_TOML;
    let cut = text
        .rfind("[[custodians]]")
        .unwrap_or_else(|| panic!("the reference policy names custodians"));
    let one = text[..cut].to_owned();
    let p = ok(Policy::from_toml_str(&one));
    (one, p)
}

fn payloads() -> Vec<(&'static str, CheckInPayload)> {
    let c = ChallengeId::from_bytes(*b"fuzz-zone-probe!");
    let p = |zone, presence, note: &str| CheckInPayload {
        challenge_id: c,
        zone,
        presence,
        device_time: NOW,
        note: ok(Note::new(note, NOTE_CAPACITY)),
    };
    vec![
        (
            "inside",
            p(ZoneResult::Inside, PresenceResult::Confirmed, ""),
        ),
        (
            "outside-note",
            p(
                ZoneResult::Outside,
                PresenceResult::NotConfirmed,
                "Bus was late; at the clinic.",
            ),
        ),
        (
            "not-required",
            p(ZoneResult::NotRequired, PresenceResult::NotRequired, ""),
        ),
        (
            "unavailable-utf8",
            p(
                ZoneResult::Unavailable,
                PresenceResult::Unavailable,
                "sin señal — 電波なし",
            ),
        ),
        (
            "full-note",
            p(
                ZoneResult::Inside,
                PresenceResult::Confirmed,
                &"é".repeat(NOTE_CAPACITY / 2),
            ),
        ),
    ]
}

fn challenge(id: &[u8; 16], kind: ChallengeKind) -> minimis_proto::SignedChallenge {
    let span = ok(super::client::schedule().window_at(NOW).ok_or("no window"));
    minimis_crypto::sign_challenge(
        keys::operator(),
        Challenge {
            id: ChallengeId::from_bytes(*id),
            pseudonym: keys::pseudonym(),
            epoch: keys::epoch(),
            kind,
            issued_at: NOW,
            window_start: span.start,
            window_end: span.end,
            policy: default_policy().hash(),
        },
    )
}

fn bundle(zone: Option<ZoneCommitment>, one_custodian: bool) -> String {
    let (policy, custodians) = if one_custodian {
        (
            policy_one_custodian().1.hash(),
            CustodianKeys {
                agency: keys::agency_custodian().public_key(),
                oversight: None,
            },
        )
    } else {
        (default_policy().hash(), keys::custodian_keys())
    };
    let b = Bundle {
        pseudonym: keys::pseudonym(),
        device_key: keys::device().public_key(),
        policy,
        schedule: super::client::schedule(),
        zone,
        operator_key: keys::operator().public_key(),
        log_key: keys::log_key().clone(),
        witnesses: vec![keys::witness_key().clone()],
        tlog_policy: None,
        custodians,
        obligations: None,
        issued: NOW,
    };
    ok(b.sign(keys::enrollment_signer()))
}

fn add_checkpoint_body(old: u64, proof: &[minimis_log::Hash], checkpoint: &str) -> Vec<u8> {
    let mut s = format!("old {old}\n");
    for h in proof {
        s.push_str(&B64.encode(h.as_bytes()));
        s.push('\n');
    }
    s.push('\n');
    s.push_str(checkpoint);
    s.into_bytes()
}

/// Entries of the types neither the example log nor the synthetic history has.
fn other_entries() -> Vec<LogEntry> {
    use minimis_log::entry::{EpochSummary, FailureCounts, Resolution, ResolutionReason};
    let tag = ParticipantTag::from_bytes([0x7a; 32]);
    let epoch = EpochId::new(2_968);
    vec![
        LogEntry::EnrollmentClosed { tag, epoch },
        LogEntry::RowResolved {
            tag,
            challenge: ChallengeId::from_bytes([0xc1; 16]),
            epoch,
            resolution: Resolution::ExcusedTechnical,
            reason: ResolutionReason::FailureReport,
        },
        LogEntry::LedgerPurged {
            tag,
            epoch,
            purged_at: NOW,
        },
        LogEntry::EpochSummary(EpochSummary {
            epoch,
            issued: 40,
            on_time: 35,
            late: 3,
            missed: 2,
            reports: FailureCounts {
                no_network: 1,
                ..FailureCounts::default()
            },
        }),
    ]
}

/// The seeds made by code, with the fixed keys.
#[allow(clippy::too_many_lines)]
pub fn generated() -> Vec<Seed> {
    let mut out = Vec::new();
    let policy = default_policy();

    // The payload, and sealed check-ins of it, with two custodians and with one.
    let sealing = super::sealing_keys();
    let (one_text, one_policy) = policy_one_custodian();
    let one_recipient = ok(keys::agency_keyring().publish(
        keys::epoch(),
        one_policy.epoch_end(keys::epoch()),
        keys::agency_custodian(),
    ));
    let sealing_one = ok(SealingKeys::verify(
        &one_policy,
        NOW,
        std::slice::from_ref(&one_recipient),
        &CustodianKeys {
            agency: keys::agency_custodian().public_key(),
            oversight: None,
        },
    ));
    let mut sealed_two = Vec::new();
    for (name, p) in payloads() {
        out.push(seed("payload", name, p.encode().expose().to_vec()));
        if p.note.len() <= policy.max_note_bytes() {
            let s = ok(minimis_seal::seal(&p, &sealing));
            out.push(seed(
                "sealed",
                format!("two-layers-{name}"),
                s.as_bytes().to_vec(),
            ));
            sealed_two.push(s);
            let s1 = ok(minimis_seal::seal(&p, &sealing_one));
            out.push(seed(
                "sealed",
                format!("one-layer-{name}"),
                s1.as_bytes().to_vec(),
            ));
        }
    }
    let oversight_id = ok(keys::oversight_keyring().identity(keys::epoch()));
    let inner = ok(minimis_seal::remove_outer(&sealed_two[0], oversight_id));
    out.push(seed("sealed", "inner-layer", inner.as_bytes().to_vec()));

    // Envelopes, as a device sends them.
    for (i, (name, p)) in payloads().into_iter().take(2).enumerate() {
        let env = ok(minimis_seal::seal_envelope(
            &p,
            if i == 0 { &sealing } else { &sealing_one },
            keys::pseudonym(),
            keys::device(),
        ));
        out.push(seed("envelope", format!("sealed-{name}"), json(&env)));
    }

    // What a device reads from the operator.
    let scheduled = challenge(b"fuzz-scheduled-1", ChallengeKind::Scheduled);
    out.push(seed("messages", "challenge-scheduled", json(&scheduled)));
    out.push(seed(
        "messages",
        "challenge-adhoc",
        json(&challenge(b"fuzz-adhoc-0001!", ChallengeKind::AdHoc)),
    ));
    out.push(seed(
        "messages",
        "recipients",
        json(&super::client::recipients()),
    ));
    out.push(seed(
        "messages",
        "recipient-agency",
        json(&super::client::recipients()[0]),
    ));
    let example = example_log(2);
    let receipt = Receipt {
        record_id: RecordId::from_bytes([0x5e; 32]),
        tlog_proof: ok(example.tlog_proof(3)).to_string(),
    };
    out.push(seed("messages", "receipt", json(&receipt)));
    out.push(seed(
        "messages",
        "ledger",
        json(&serde_json::json!([{
            "challenge": scheduled,
            "state": {"state": "resolved", "resolution": "excused-technical"},
            "resolution_reason": "failure-report",
            "failure_report": "no-network",
            "failure_text": {"id": "00".repeat(32), "epoch": keys::epoch().get()},
            "statements": [{"category": "context"}],
        }])),
    ));
    out.push(seed(
        "messages",
        "server-keys",
        json(&serde_json::json!({
            "operator": keys::operator().public_key(),
            "log": keys::log_key().to_string(),
        })),
    ));
    out.push(seed(
        "messages",
        "enrolled",
        json(&serde_json::json!({
            "pseudonym": keys::pseudonym(),
            "policy": policy.hash().to_hex(),
        })),
    ));

    // Schedules.
    out.push(seed(
        "schedule",
        "thursday-chicago",
        json(&super::client::schedule()),
    ));
    let madrid = ok(Schedule::new(
        "Europe/Madrid",
        vec![
            Window {
                weekday: Weekday::Monday,
                start: ok("08:00".parse()),
                end: ok("10:30".parse()),
            },
            Window {
                weekday: Weekday::Monday,
                start: ok("18:00".parse()),
                end: ok("24:00".parse()),
            },
            Window {
                weekday: Weekday::Sunday,
                start: ok("00:00".parse()),
                end: ok("01:00".parse()),
            },
        ],
        3,
        4,
    ));
    out.push(seed("schedule", "madrid-three-windows", json(&madrid)));
    out.push(seed(
        "schedule",
        "utc",
        br#"{"time_zone":"UTC","windows":[{"weekday":"friday","start":"12:00","end":"12:01"}],"daily_cap":1,"adhoc_cap_30d":0}"#.to_vec(),
    ));

    out.push(seed("policy", "one-custodian.toml", one_text.into_bytes()));

    // Notes, checkpoints, cosignatures, tlog-proofs.
    let first = example_log(1);
    let cp1 = first.checkpoint().to_string();
    let cp2 = example.checkpoint().to_string();
    out.push(seed("note", "checkpoint-cosigned", cp2.clone()));
    out.push(seed(
        "note",
        "vkeys",
        format!("{}\n{}\n", keys::log_key(), keys::witness_key()),
    ));
    out.push(seed("checkpoint", "size-3", cp1.clone()));
    out.push(seed("checkpoint", "size-6-cosigned", cp2.clone()));
    out.push(seed(
        "checkpoint",
        "body-size-6",
        example.checkpoint().checkpoint().to_text(),
    ));
    let empty = ok(Log::create(MemoryStorage::new(), keys::log_signer()));
    out.push(seed(
        "checkpoint",
        "empty-tree",
        empty.checkpoint().to_string(),
    ));
    // The log's checkpoint before the witness cosigned it, as the operator sends it.
    let uncosigned = |log: &Log<MemoryStorage>| {
        let cp = log.checkpoint();
        ok(SignedCheckpoint::sign(
            cp.checkpoint().clone(),
            &keys::log_signer(),
        ))
        .to_string()
    };
    out.push(seed(
        "cosignature",
        "add-first",
        add_checkpoint_body(0, &[], &uncosigned(&first)),
    ));
    let proof = ok(example.consistency_proof(3, 6)).consistency_path;
    out.push(seed(
        "cosignature",
        "add-3-to-6",
        add_checkpoint_body(3, &proof, &uncosigned(&example)),
    ));
    let line = example
        .checkpoint()
        .note()
        .signatures()
        .last()
        .map(|s| s.to_line())
        .unwrap_or_default();
    out.push(seed("cosignature", "cosignature-line", line));
    for i in 0..6 {
        out.push(seed(
            "tlog_proof",
            format!("example-{i}"),
            ok(example.tlog_proof(i)).to_string(),
        ));
    }
    out.push(seed(
        "tlog_proof",
        "example-3-extra",
        ok(example.tlog_proof(3))
            .with_extra(b"record 5e5e".to_vec())
            .to_string(),
    ));

    // Entries, bundles and tiles: the example log and a synthetic history.
    let history = synthetic();
    let mut types = std::collections::BTreeSet::new();
    for e in example_entries()
        .iter()
        .chain(&history.entries)
        .chain(&other_entries())
    {
        if types.insert(e.entry_type().code()) {
            out.push(seed(
                "entry",
                e.entry_type().as_str().replace(' ', "-"),
                e.encode(),
            ));
        }
    }
    let (body, files) = files_of(example.storage());
    for (path, bytes) in &files {
        if path.starts_with("tile/entries/") {
            out.push(seed("entry_bundle", "example-6", bytes.clone()));
        }
    }
    out.push(seed("tiles", "example-6", Files::to_bytes(&body, &files)));
    let synthetic_log = SignedLog::build(&history.entries, 100);
    let (body, files) = files_of(&synthetic_log.storage());
    for (path, bytes) in &files {
        if let Some(name) = path.strip_prefix("tile/entries/") {
            out.push(seed(
                "entry_bundle",
                format!("synthetic-{}", name.replace('/', "-")),
                bytes.clone(),
            ));
        }
    }
    out.push(seed(
        "tiles",
        format!("synthetic-{}", history.entries.len()),
        Files::to_bytes(&body, &files),
    ));

    // Enrollment bundles and zones.
    let zone = ok(Zone::from_geojson(super::client::ZONE));
    let commitment = ZoneCommitment::new(&super::client::zone_salt(), &zone);
    out.push(seed("bundle", "no-zone", bundle(None, false)));
    out.push(seed("bundle", "zone", bundle(Some(commitment), false)));
    out.push(seed("bundle", "one-custodian", bundle(None, true)));
    out.push(seed("note", "bundle", bundle(None, false)));
    for (name, z) in [
        ("polygon", super::client::ZONE),
        (
            "multipolygon",
            r#"{"type":"MultiPolygon","coordinates":[[[[-74.3,40.5],[-73.7,40.5],[-73.7,40.95],[-74.3,40.95],[-74.3,40.5]]],[[[-88.0,41.6],[-87.5,41.6],[-87.5,42.1],[-88.0,42.1],[-88.0,41.6]]]]}"#,
        ),
        (
            "polygon-with-hole",
            r#"{"type":"Polygon","coordinates":[[[-105.2,39.55],[-104.7,39.55],[-104.7,39.95],[-105.2,39.95],[-105.2,39.55]],[[-105.0,39.7],[-104.9,39.7],[-104.9,39.8],[-105.0,39.8],[-105.0,39.7]]]}"#,
        ),
        (
            "feature",
            r#"{"type":"Feature","properties":{"order":"HOU-2025-004211"},"geometry":{"type":"Polygon","coordinates":[[[-118.7,33.7],[-117.9,33.7],[-117.9,34.35],[-118.7,34.35],[-118.7,33.7]]]}}"#,
        ),
        (
            "feature-collection",
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":null,"geometry":{"type":"Polygon","coordinates":[[[179.5,-1],[180,-1],[180,1],[179.5,1],[179.5,-1]]]}},{"type":"Feature","properties":{},"geometry":null}]}"#,
        ),
    ] {
        out.push(seed("zone", name, z));
    }

    // The custodians' bodies, about the example log's check-in and a sealed record.
    let record = RecordId::from_bytes([0x5e; 32]);
    let check_in = example_entries()[3].clone();
    let logged = LoggedEntry::new(&check_in, ok(example.tlog_proof(3)).to_string());
    out.push(seed(
        "custodian_request",
        "access",
        json(&AccessRequest {
            records: vec![
                record.to_string(),
                RecordId::from_bytes([1; 32]).to_string(),
            ],
            purpose: "compliance-review".into(),
            legal_basis: "release-conditions".into(),
            case_reference: "HOU-2025-004211".into(),
        }),
    ));
    out.push(seed(
        "custodian_request",
        "place-hold",
        json(&PlaceHoldRequest {
            records: vec![record.to_string()],
            legal_basis: "release-conditions".into(),
            until: NOW.seconds() + 86_400 * 30,
        }),
    ));
    out.push(seed(
        "custodian_request",
        "outer",
        json(&OuterRequest {
            officer: "officer-7f3a".into(),
            purpose: "compliance-review".into(),
            legal_basis: "release-conditions".into(),
            records: vec![record],
            logged: vec![logged.clone()],
        }),
    ));
    out.push(seed(
        "custodian_request",
        "hold",
        json(&HoldRequest {
            logged: logged.clone(),
        }),
    ));
    out.push(seed(
        "custodian_request",
        "outer-response",
        json(&OuterResponse {
            inner: vec![InnerFile {
                record_id: record,
                file: B64.encode(inner.as_bytes()),
            }],
            logged: vec![logged],
        }),
    ));
    let (header, _) = ok(minimis_custodian::rewrap::split(inner.as_bytes()));
    out.push(seed(
        "custodian_request",
        "rewrap-response",
        json(&HoldRewrapResponse {
            headers: vec![InnerHeader {
                record_id: record,
                inner_header: B64.encode(header),
            }],
        }),
    ));
    out
}

/// The seeds taken from the repository's vectors and example files, under `root`.
///
/// # Errors
/// A file that cannot be read or is not what it should be.
pub fn from_repository(root: &Path) -> Result<Vec<Seed>, String> {
    let read = |p: &str| std::fs::read(root.join(p)).map_err(|e| format!("{p}: {e}"));
    let vector = |p: &str| -> Result<serde_json::Value, String> {
        serde_json::from_slice(&read(p)?).map_err(|e| format!("{p}: {e}"))
    };
    let mut out = Vec::new();
    let mut payloads: Vec<_> = std::fs::read_dir(root.join("spec/vectors/payload"))
        .map_err(|e| format!("spec/vectors/payload: {e}"))?
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    payloads.sort();
    for name in payloads {
        let v = vector(&format!("spec/vectors/payload/{name}"))?;
        let hex = v["encoded"]
            .as_str()
            .ok_or(format!("{name}: no `encoded`"))?;
        let bytes = hex::decode(hex).map_err(|e| format!("{name}: {e}"))?;
        out.push(seed(
            "payload",
            format!("vector-{}", name.trim_end_matches(".json")),
            bytes,
        ));
    }
    // The obligations' vectors, behind the byte that picks their decoder.
    for (which, kind) in [(0u8, "condition"), (1, "filing"), (2, "delivery")] {
        let mut names: Vec<_> = std::fs::read_dir(root.join("spec/vectors").join(kind))
            .map_err(|e| format!("spec/vectors/{kind}: {e}"))?
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        for name in names {
            let v = vector(&format!("spec/vectors/{kind}/{name}"))?;
            let hex = v["encoded"]
                .as_str()
                .ok_or(format!("{name}: no `encoded`"))?;
            let mut bytes = vec![which];
            bytes.extend(hex::decode(hex).map_err(|e| format!("{name}: {e}"))?);
            out.push(seed(
                "obligations",
                format!("vector-{kind}-{}", name.trim_end_matches(".json")),
                bytes,
            ));
        }
    }
    for (target, file) in [
        ("envelope", "spec/vectors/envelope/ok_signed.json"),
        ("messages", "spec/vectors/challenge/ok_signed.json"),
        ("messages", "spec/vectors/epoch-recipient/ok_signed.json"),
    ] {
        let v = vector(file)?;
        let name = file.trim_start_matches("spec/vectors/").replace('/', "-");
        out.push(seed(target, format!("vector-{name}"), json(&v["json"])));
    }
    for file in ["policy/default.toml", "policy/default.es.toml"] {
        out.push(seed("policy", file.replace('/', "-"), read(file)?));
    }
    for name in ["minimis.toml", "smartlink.toml", "template.toml"] {
        out.push(seed(
            "inventory",
            name,
            read(&format!("examples/inventories/{name}"))?,
        ));
    }
    let note = read("crates/log/testdata/signed-note/peterneumann.note")?;
    out.push(seed("note", "peterneumann.note", note.clone()));
    let txt = String::from_utf8(read("crates/log/testdata/signed-note/peterneumann.txt")?)
        .map_err(|e| e.to_string())?;
    let field = |k: &str| {
        txt.lines()
            .find_map(|l| l.strip_prefix(k))
            .map(str::to_owned)
            .ok_or(format!("peterneumann.txt: no {k}"))
    };
    out.push(seed(
        "note",
        "peterneumann-vkeys",
        format!("{}\n{}\n", field("VKEY=")?, field("VKEY2=")?),
    ));
    // Both signatures on the one text: a note with two signers.
    let mut two = note;
    two.extend_from_slice(format!("{}\n", field("SIGLINE2=")?).as_bytes());
    out.push(seed("note", "peterneumann-two-signers.note", two));
    Ok(out)
}

/// Every seed: generated, then from the repository under `root`.
///
/// # Errors
/// As [`from_repository`].
pub fn all(root: &Path) -> Result<Vec<Seed>, String> {
    let mut out = generated();
    out.extend(from_repository(root)?);
    Ok(out)
}
