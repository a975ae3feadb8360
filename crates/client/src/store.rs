//! The device's store, encrypted at rest: one standard age v1 file encrypted under a
//! passphrase (scrypt), holding the enrollment, the keys, and everything the device did.
//!
//! On a phone the passphrase comes from the platform's keystore (unlocked by the
//! participant's screen lock); the library takes it as bytes. The plaintext exists only in
//! zeroizing buffers while it is written or read.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::path::Path;
use std::str::FromStr as _;

use age::secrecy::SecretString;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_crypto::{SigningKey, TagKey};
use minimis_proto::{
    ChallengeId, CheckInPayload, EpochId, Note, Policy, PolicyHash, PresenceResult, Pseudonym,
    PublicKey, Receipt, RecordId, Schedule, SignedChallenge, UnixTime, WindowSpan, ZoneResult,
};
use minimis_seal::CustodianKeys;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::bundle::{Bundle, ZoneSalt, enrollment_from};
use crate::device::{
    Device, Enrollment, ExpiredCheckIn, Failure, Refusal, Refusals, Refused, SentCheckIn, Taken,
};
use crate::history::LogView;
use crate::location::Zone;
use crate::notice::{Language, NoticeShown};
use minimis_log::verify::Hash;

/// The format line of a device file: version 2 keeps each accepted challenge with the
/// window and the device's times it is counted at, and refusals counted and bounded
/// (CHL-14).
pub const DEVICE_FORMAT: &str = "minimis-device/2";

/// The format line of the first device files: still read, and converted (CHL-14).
pub const DEVICE_FORMAT_V1: &str = "minimis-device/1";

/// Why the device's store could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The file could not be read or written.
    #[error("device store: {0}")]
    Io(#[from] std::io::Error),
    /// The passphrase is wrong, or the file is not an age file.
    #[error("the device store cannot be decrypted (wrong passphrase, or not a device store)")]
    Decrypt,
    /// age refused to encrypt.
    #[error("the device store cannot be encrypted")]
    Encrypt,
    /// The decrypted content is not a device store of this version.
    #[error("the device store is corrupt: {0}")]
    Corrupt(&'static str),
    /// The file is a device store of a format this version does not read (a newer one).
    #[error("the device store is in format `{found}`, which this version does not read")]
    UnsupportedFormat {
        /// The format line found (at most 64 characters of it).
        found: String,
    },
}

/// The format line alone, to choose how to read the rest.
#[derive(Deserialize)]
struct Probe {
    format: String,
}

/// A device file: `A` is how an accepted challenge is stored, `R` how refusals are.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File<A, R> {
    format: String,
    pseudonym: Pseudonym,
    schedule: Schedule,
    zone: Option<String>,
    policy: String,
    operator_key: PublicKey,
    log_key: String,
    witnesses: Vec<String>,
    /// The bundle's tlog-policy file, base64 (LOG-68).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    witness_policy: Option<String>,
    agency_key: PublicKey,
    oversight_key: Option<PublicKey>,
    device_seed: String,
    tag_key: String,
    accepted: Vec<A>,
    refused: R,
    sent: Vec<Sent>,
    failures: Vec<Failure>,
    fixes_taken: u64,
    /// Check-ins whose content was deleted at its deadline (RET-23).
    #[serde(default)]
    expired: Vec<Expired>,
    /// What the device verified of the public log (ACC-11).
    #[serde(default)]
    log: Option<View>,
    /// The signed enrollment bundle (ENR-4).
    #[serde(default)]
    bundle: Option<KeptBundle>,
}

/// Format 2.
type FileV2 = File<AcceptedV2, RefusalsV2>;
/// Format 1: each accepted challenge with the device's time of acceptance and whether it
/// was answered; every refusal kept.
type FileV1 = File<(SignedChallenge, UnixTime, bool), Vec<Refused>>;

/// An accepted challenge (CHL-9, CHL-14).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptedV2 {
    challenge: SignedChallenge,
    /// The window occurrence the device placed it in.
    window_start: UnixTime,
    window_end: UnixTime,
    /// The device's time when it accepted it.
    accepted_at: UnixTime,
    /// The device's time when it answered it, if it has.
    answered_at: Option<UnixTime>,
}

/// Refusals: counts by reason, and the challenges kept (CHL-13).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RefusalsV2 {
    counts: BTreeMap<Refusal, u64>,
    kept: Vec<Refused>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sent {
    record_id: RecordId,
    challenge: ChallengeId,
    epoch: EpochId,
    zone: ZoneResult,
    presence: PresenceResult,
    device_time: UnixTime,
    note: String,
    receipt: Option<Receipt>,
    #[serde(default)]
    keep: bool,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expired {
    record_id: RecordId,
    challenge: ChallengeId,
    epoch: EpochId,
    receipt: Option<Receipt>,
    deleted_at: UnixTime,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct View {
    size: u64,
    /// The perfect subtrees' hashes, hex, largest first.
    frontier: Vec<String>,
    checkpoint: Option<String>,
    /// (size, root hex).
    heads: Vec<(u64, String)>,
    /// (index, entry base64).
    found: Vec<(u64, String)>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeptBundle {
    /// The signed note.
    note: String,
    /// The agency's enrollment key it verifies under.
    agency_key: String,
    /// The zone commitment's salt, base64.
    zone_salt: Option<String>,
    /// The notice shown at enrollment: the policy hash, hex, and the language code.
    notice: (String, String),
}

/// Writes the device's state to `path`, encrypted under `passphrase`. The file is
/// replaced atomically (written beside it, synced, renamed).
///
/// # Errors
/// [`StoreError`].
pub fn save(device: &Device, path: &Path, passphrase: &str) -> Result<(), StoreError> {
    let e = &device.enrollment;
    let seed = Zeroizing::new(B64.encode(device.key.expose_seed()));
    let tag = Zeroizing::new(B64.encode(device.tags.expose_secret()));
    let file = FileV2 {
        format: DEVICE_FORMAT.to_owned(),
        pseudonym: e.pseudonym,
        schedule: e.schedule.clone(),
        zone: e.zone.as_ref().map(|z| z.geojson().to_owned()),
        policy: e.policy_text.to_string(),
        operator_key: e.operator_key,
        log_key: e.log_key.to_string(),
        witnesses: e.witnesses.iter().map(ToString::to_string).collect(),
        witness_policy: e.tlog_policy.as_ref().map(|p| B64.encode(p.as_bytes())),
        agency_key: e.custodians.agency,
        oversight_key: e.custodians.oversight,
        device_seed: seed.to_string(),
        tag_key: tag.to_string(),
        accepted: device
            .accepted
            .iter()
            .map(|t| AcceptedV2 {
                challenge: t.signed.clone(),
                window_start: t.window.start,
                window_end: t.window.end,
                accepted_at: t.accepted_at,
                answered_at: t.answered_at,
            })
            .collect(),
        refused: RefusalsV2 {
            counts: device.refusals.counts().clone(),
            kept: device.refusals.kept().to_vec(),
        },
        sent: device
            .sent
            .iter()
            .map(|s| Sent {
                record_id: s.record_id,
                challenge: s.challenge,
                epoch: s.epoch,
                zone: s.payload.zone,
                presence: s.payload.presence,
                device_time: s.payload.device_time,
                note: s.payload.note.expose().to_owned(),
                receipt: s.receipt.clone(),
                keep: s.keep,
            })
            .collect(),
        failures: device.failures.clone(),
        fixes_taken: device.fixes_taken,
        expired: device
            .expired
            .iter()
            .map(|x| Expired {
                record_id: x.record_id,
                challenge: x.challenge,
                epoch: x.epoch,
                receipt: x.receipt.clone(),
                deleted_at: x.deleted_at,
            })
            .collect(),
        log: (device.log_view != LogView::default()).then(|| {
            let v = &device.log_view;
            View {
                size: v.frontier.size(),
                frontier: v.frontier.hashes().iter().map(|h| h.to_hex()).collect(),
                checkpoint: v.checkpoint.clone(),
                heads: v.heads.iter().map(|(s, h)| (*s, h.to_hex())).collect(),
                found: v.found.iter().map(|(i, e)| (*i, B64.encode(e))).collect(),
            }
        }),
        bundle: device.bundle.as_ref().map(|b| KeptBundle {
            note: b.note.clone(),
            agency_key: b.agency_key.to_string(),
            zone_salt: device
                .zone_salt
                .as_ref()
                .map(|s| B64.encode(s.expose_secret())),
            notice: device.notice_shown.map_or_else(
                || (String::new(), String::new()),
                |n| (n.policy().to_hex(), n.language().code().to_owned()),
            ),
        }),
    };
    let mut plain = Zeroizing::new(Vec::with_capacity(64 * 1024));
    serde_json::to_writer(&mut *plain, &file).map_err(|_| StoreError::Corrupt("encode"))?;
    // The secrets in `file` are plain Strings: clear them before it is dropped.
    let File {
        mut device_seed,
        mut tag_key,
        mut bundle,
        ..
    } = file;
    zeroize::Zeroize::zeroize(&mut device_seed);
    zeroize::Zeroize::zeroize(&mut tag_key);
    if let Some(salt) = bundle.as_mut().and_then(|b| b.zone_salt.as_mut()) {
        zeroize::Zeroize::zeroize(salt);
    }

    let encryptor = age::Encryptor::with_user_passphrase(SecretString::from(passphrase.to_owned()));
    let mut out = Vec::with_capacity(plain.len() + 512);
    let mut w = encryptor
        .wrap_output(&mut out)
        .map_err(|_| StoreError::Encrypt)?;
    w.write_all(&plain).map_err(|_| StoreError::Encrypt)?;
    w.finish().map_err(|_| StoreError::Encrypt)?;
    let tmp = path.with_extension("tmp");
    {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&out)?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn key32(b64: &str) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    let v = Zeroizing::new(B64.decode(b64).map_err(|_| StoreError::Corrupt("key"))?);
    let mut out = Zeroizing::new([0u8; 32]);
    if v.len() != 32 {
        return Err(StoreError::Corrupt("key length"));
    }
    out.copy_from_slice(&v);
    Ok(out)
}

/// Reads the device's state from `path` with `passphrase`.
///
/// # Errors
/// [`StoreError`].
pub fn load(path: &Path, passphrase: &str) -> Result<Device, StoreError> {
    let bytes = std::fs::read(path)?;
    let identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
    let d = age::Decryptor::new_buffered(bytes.as_slice()).map_err(|_| StoreError::Decrypt)?;
    let mut r = d
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|_| StoreError::Decrypt)?;
    let mut plain = Zeroizing::new(Vec::new());
    r.read_to_end(&mut plain).map_err(|_| StoreError::Decrypt)?;
    let probe: Probe = serde_json::from_slice(&plain).map_err(|_| StoreError::Corrupt("json"))?;
    let mut f: FileV2 = match probe.format.as_str() {
        DEVICE_FORMAT => serde_json::from_slice(&plain).map_err(|_| StoreError::Corrupt("json"))?,
        DEVICE_FORMAT_V1 => {
            upgrade(serde_json::from_slice(&plain).map_err(|_| StoreError::Corrupt("json"))?)
        }
        other => {
            return Err(StoreError::UnsupportedFormat {
                found: other.chars().take(64).collect(),
            });
        }
    };
    let seed = key32(&f.device_seed)?;
    let tag = key32(&f.tag_key)?;
    zeroize::Zeroize::zeroize(&mut f.device_seed);
    zeroize::Zeroize::zeroize(&mut f.tag_key);
    let key = SigningKey::from_seed(seed.as_slice()).map_err(|_| StoreError::Corrupt("seed"))?;
    let policy = Policy::from_toml_str(&f.policy).map_err(|_| StoreError::Corrupt("policy"))?;
    let zone = f
        .zone
        .as_deref()
        .map(Zone::from_geojson)
        .transpose()
        .map_err(|_| StoreError::Corrupt("zone"))?;
    let vkey = |s: &str| {
        minimis_log::VerifierKey::from_str(s).map_err(|_| StoreError::Corrupt("verifier key"))
    };
    let enrollment = Enrollment {
        pseudonym: f.pseudonym,
        schedule: f.schedule,
        zone,
        policy: policy.into(),
        policy_text: f.policy.into(),
        operator_key: f.operator_key,
        log_key: vkey(&f.log_key)?,
        witnesses: f
            .witnesses
            .iter()
            .map(|w| vkey(w))
            .collect::<Result<_, _>>()?,
        tlog_policy: f
            .witness_policy
            .as_deref()
            .map(|p| {
                B64.decode(p)
                    .ok()
                    .and_then(|b| minimis_log::TlogPolicy::parse(&b).ok())
                    .map(std::sync::Arc::new)
                    .ok_or(StoreError::Corrupt("witness policy"))
            })
            .transpose()?,
        custodians: CustodianKeys {
            agency: f.agency_key,
            oversight: f.oversight_key,
        },
    };
    let max = enrollment.policy.max_note_bytes();
    let sent = f
        .sent
        .into_iter()
        .map(|s| {
            Ok(SentCheckIn {
                record_id: s.record_id,
                challenge: s.challenge,
                epoch: s.epoch,
                payload: CheckInPayload {
                    challenge_id: s.challenge,
                    zone: s.zone,
                    presence: s.presence,
                    device_time: s.device_time,
                    note: Note::new(s.note, max).map_err(|_| StoreError::Corrupt("note"))?,
                },
                receipt: s.receipt,
                witnessed: false,
                keep: s.keep,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    // A device enrolled with a bundle: the bundle must still verify, and fix exactly the
    // enrollment stored beside it (ENR-4, LOC-21).
    let (kept, zone_salt, notice_shown) =
        match f.bundle.as_mut() {
            None => (None, None, None),
            Some(b) => {
                let agency_key = vkey(&b.agency_key)?;
                let salt = match b.zone_salt.as_mut() {
                    None => None,
                    Some(text) => {
                        let bytes = key32(text)?;
                        zeroize::Zeroize::zeroize(text);
                        Some(ZoneSalt::from_bytes(bytes))
                    }
                };
                let bundle = Bundle::open(&b.note, &agency_key)
                    .map_err(|_| StoreError::Corrupt("bundle"))?;
                let zone = match (enrollment.zone.clone(), salt) {
                    (Some(z), Some(s)) => Some((z, s)),
                    (None, None) => None,
                    _ => return Err(StoreError::Corrupt("zone")),
                };
                let fixed = enrollment_from(&bundle, &enrollment.policy_text, zone.as_ref())
                    .map_err(|e| match e {
                        crate::bundle::BundleError::Zone => StoreError::Corrupt("zone"),
                        _ => StoreError::Corrupt("policy"),
                    })?;
                let same = fixed.pseudonym == enrollment.pseudonym
                    && fixed.schedule == enrollment.schedule
                    && fixed.operator_key == enrollment.operator_key
                    && fixed.log_key == enrollment.log_key
                    && fixed.witnesses == enrollment.witnesses
                    && fixed.tlog_policy == enrollment.tlog_policy
                    && fixed.custodians == enrollment.custodians
                    && bundle.device_key == key.public_key();
                let notice = match (
                    b.notice.0.parse::<PolicyHash>(),
                    b.notice.1.parse::<Language>(),
                ) {
                    (Ok(p), Ok(l)) if p == bundle.policy => NoticeShown::stored(p, l),
                    _ => return Err(StoreError::Corrupt("notice")),
                };
                if !same {
                    return Err(StoreError::Corrupt("bundle"));
                }
                (
                    Some(crate::bundle::KeptBundle {
                        note: b.note.clone(),
                        agency_key,
                        bundle,
                    }),
                    zone.map(|(_, s)| s),
                    Some(notice),
                )
            }
        };
    let log_view = match f.log {
        None => LogView::default(),
        Some(v) => {
            let hash = |h: &str| -> Result<Hash, StoreError> {
                let mut b = [0u8; 32];
                hex::decode_to_slice(h, &mut b).map_err(|_| StoreError::Corrupt("log view"))?;
                Ok(Hash::from_bytes(b))
            };
            let frontier = v
                .frontier
                .iter()
                .map(|h| hash(h))
                .collect::<Result<Vec<_>, _>>()?;
            let heads = v
                .heads
                .iter()
                .map(|(s, h)| Ok((*s, hash(h)?)))
                .collect::<Result<Vec<_>, StoreError>>()?;
            let found = v
                .found
                .iter()
                .map(|(i, e)| {
                    Ok((
                        *i,
                        B64.decode(e).map_err(|_| StoreError::Corrupt("log view"))?,
                    ))
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            LogView::from_parts(v.size, frontier, v.checkpoint, heads, found)
                .ok_or(StoreError::Corrupt("log view"))?
        }
    };
    let accepted = f
        .accepted
        .into_iter()
        .map(|a| {
            let window = WindowSpan {
                start: a.window_start,
                end: a.window_end,
            };
            // Every accepted challenge was placed in an enrolled window, its own.
            let c = &a.challenge.challenge;
            if !enrollment.schedule.is_occurrence(window)
                || (c.window_start, c.window_end) != (window.start, window.end)
            {
                return Err(StoreError::Corrupt("accepted"));
            }
            Ok(Taken {
                signed: a.challenge,
                window,
                accepted_at: a.accepted_at,
                answered_at: a.answered_at,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let refusals = Refusals::from_parts(f.refused.counts, f.refused.kept)
        .ok_or(StoreError::Corrupt("refusals"))?;
    let mut device = Device::new(enrollment, key, TagKey::from_bytes(tag));
    device.accepted = accepted;
    device.refusals = refusals;
    device.sent = sent;
    device.expired = f
        .expired
        .into_iter()
        .map(|x| ExpiredCheckIn {
            record_id: x.record_id,
            challenge: x.challenge,
            epoch: x.epoch,
            receipt: x.receipt,
            witnessed: false,
            deleted_at: x.deleted_at,
        })
        .collect();
    // Whether each receipt is witnessed is not stored: it is checked again.
    for i in 0..device.sent.len() {
        let s = &device.sent[i];
        if let Some(r) = &s.receipt {
            let status = device
                .receipt_status(s.record_id, s.challenge, s.epoch, r)
                .map_err(|_| StoreError::Corrupt("receipt"))?;
            let r = r.clone();
            device.note_receipt_head(&r);
            device.sent[i].witnessed = status == crate::device::ReceiptStatus::Witnessed;
        }
    }
    for i in 0..device.expired.len() {
        let x = &device.expired[i];
        if let Some(r) = &x.receipt {
            let status = device
                .receipt_status(x.record_id, x.challenge, x.epoch, r)
                .map_err(|_| StoreError::Corrupt("receipt"))?;
            let r = r.clone();
            device.note_receipt_head(&r);
            device.expired[i].witnessed = status == crate::device::ReceiptStatus::Witnessed;
        }
    }
    device.failures = f.failures;
    device.fixes_taken = f.fixes_taken;
    device.log_view = log_view;
    device.bundle = kept;
    device.zone_salt = zone_salt;
    device.notice_shown = notice_shown;
    Ok(device)
}

/// Reads a format-1 file as format 2 (CHL-14): each accepted challenge is placed in its
/// own window (the device checked at acceptance that it was the enrolled window of its
/// issue time) at the device's time of acceptance, and, if answered, at the device's time
/// of the check-in it keeps for it (its time of acceptance if that check-in's content was
/// deleted); the refusals are counted and kept by the rule of CHL-13, in the order they
/// were refused.
fn upgrade(v1: FileV1) -> FileV2 {
    let answered_at = |id: ChallengeId, at: UnixTime| {
        v1.sent
            .iter()
            .find(|s| s.challenge == id)
            .map_or(at, |s| s.device_time)
    };
    let accepted = v1
        .accepted
        .iter()
        .map(|(signed, at, answered)| AcceptedV2 {
            challenge: signed.clone(),
            window_start: signed.challenge.window_start,
            window_end: signed.challenge.window_end,
            accepted_at: *at,
            answered_at: answered.then(|| answered_at(signed.challenge.id, *at)),
        })
        .collect();
    let mut refusals = Refusals::default();
    for r in &v1.refused {
        refusals.record(r.clone());
    }
    let File {
        pseudonym,
        schedule,
        zone,
        policy,
        operator_key,
        log_key,
        witnesses,
        witness_policy,
        agency_key,
        oversight_key,
        device_seed,
        tag_key,
        sent,
        failures,
        fixes_taken,
        expired,
        log,
        bundle,
        ..
    } = v1;
    FileV2 {
        format: DEVICE_FORMAT.to_owned(),
        pseudonym,
        schedule,
        zone,
        policy,
        operator_key,
        log_key,
        witnesses,
        witness_policy,
        agency_key,
        oversight_key,
        device_seed,
        tag_key,
        accepted,
        refused: RefusalsV2 {
            counts: refusals.counts().clone(),
            kept: refusals.kept().to_vec(),
        },
        sent,
        failures,
        fixes_taken,
        expired,
        log,
        bundle,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn encrypt(plain: &[u8], path: &Path, passphrase: &str) {
        let e = age::Encryptor::with_user_passphrase(SecretString::from(passphrase.to_owned()));
        let mut out = Vec::new();
        let mut w = e.wrap_output(&mut out).unwrap();
        w.write_all(plain).unwrap();
        w.finish().unwrap();
        std::fs::write(path, out).unwrap();
    }

    /// A store in a format this version does not know (a newer one) is refused with a
    /// typed error naming the format, not read as something else (CHL-14).
    #[test]
    fn chl_14_a_store_of_an_unknown_format_is_refused_with_a_typed_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.age");
        encrypt(
            br#"{"format":"minimis-device/3","anything":"else"}"#,
            &path,
            "pass",
        );
        match load(&path, "pass") {
            Err(StoreError::UnsupportedFormat { found }) => assert_eq!(found, "minimis-device/3"),
            other => panic!("{other:?}"),
        }
        encrypt(br#"{"no_format":1}"#, &path, "pass");
        assert!(matches!(
            load(&path, "pass"),
            Err(StoreError::Corrupt("json"))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// A stored record of refusals that breaks the bound is refused (CHL-13).
    #[test]
    fn chl_13_a_stored_record_of_refusals_must_keep_the_bound() {
        use minimis_proto::{Challenge, ChallengeKind, PolicyHash, Signature};
        let refused = |n: u8| Refused {
            challenge: SignedChallenge {
                challenge: Challenge {
                    id: ChallengeId::from_bytes([n; 16]),
                    pseudonym: Pseudonym::from_bytes([1; 16]),
                    epoch: EpochId::new(1),
                    kind: ChallengeKind::AdHoc,
                    issued_at: UnixTime(0),
                    window_start: UnixTime(0),
                    window_end: UnixTime(1),
                    policy: PolicyHash::from_bytes([0; 32]),
                },
                signature: Signature([0; 64]),
            },
            reason: Refusal::BadSignature,
            at: UnixTime(0),
        };
        let kept: Vec<Refused> = (0..=crate::REFUSALS_KEPT_PER_REASON as u8)
            .map(refused)
            .collect();
        let counts = BTreeMap::from([(Refusal::BadSignature, 100)]);
        assert!(Refusals::from_parts(counts.clone(), kept.clone()).is_none());
        let fits = kept[..crate::REFUSALS_KEPT_PER_REASON].to_vec();
        assert!(Refusals::from_parts(counts, fits.clone()).is_some());
        assert!(
            Refusals::from_parts(BTreeMap::from([(Refusal::BadSignature, 2)]), fits).is_none(),
            "more kept than counted"
        );
    }
}
