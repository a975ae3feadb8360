//! The device's store, encrypted at rest: one standard age v1 file encrypted under a
//! passphrase (scrypt), holding the enrollment, the keys, and everything the device did.
//!
//! On a phone the passphrase comes from the platform's keystore (unlocked by the
//! participant's screen lock); the library takes it as bytes. The plaintext exists only in
//! zeroizing buffers while it is written or read.

use std::io::{Read as _, Write as _};
use std::path::Path;
use std::str::FromStr as _;

use age::secrecy::SecretString;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_crypto::{SigningKey, TagKey};
use minimis_proto::{
    ChallengeId, CheckInPayload, EpochId, Note, Policy, PolicyHash, PresenceResult, Pseudonym,
    PublicKey, Receipt, RecordId, Schedule, SignedChallenge, UnixTime, ZoneResult,
};
use minimis_seal::CustodianKeys;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::bundle::{Bundle, ZoneSalt, enrollment_from};
use crate::device::{Device, Enrollment, ExpiredCheckIn, Failure, Refused, SentCheckIn};
use crate::history::LogView;
use crate::location::Zone;
use crate::notice::{Language, NoticeShown};
use minimis_log::verify::Hash;

/// The format line of a device file.
pub const DEVICE_FORMAT: &str = "minimis-device/1";

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
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    format: String,
    pseudonym: Pseudonym,
    schedule: Schedule,
    zone: Option<String>,
    policy: String,
    operator_key: PublicKey,
    log_key: String,
    witnesses: Vec<String>,
    agency_key: PublicKey,
    oversight_key: Option<PublicKey>,
    device_seed: String,
    tag_key: String,
    accepted: Vec<(SignedChallenge, UnixTime, bool)>,
    refused: Vec<Refused>,
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
    let file = File {
        format: DEVICE_FORMAT.to_owned(),
        pseudonym: e.pseudonym,
        schedule: e.schedule.clone(),
        zone: e.zone.as_ref().map(|z| z.geojson().to_owned()),
        policy: e.policy_text.to_string(),
        operator_key: e.operator_key,
        log_key: e.log_key.to_string(),
        witnesses: e.witnesses.iter().map(ToString::to_string).collect(),
        agency_key: e.custodians.agency,
        oversight_key: e.custodians.oversight,
        device_seed: seed.to_string(),
        tag_key: tag.to_string(),
        accepted: device.accepted.clone(),
        refused: device.refused.clone(),
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
                size: v.frontier.size,
                frontier: v.frontier.hashes.iter().map(|h| h.to_hex()).collect(),
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
    let mut f: File = serde_json::from_slice(&plain).map_err(|_| StoreError::Corrupt("json"))?;
    if f.format != DEVICE_FORMAT {
        return Err(StoreError::Corrupt("format"));
    }
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
    let mut device = Device::new(enrollment, key, TagKey::from_bytes(tag));
    device.accepted = f.accepted;
    device.refused = f.refused;
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
            device.sent[i].witnessed = status == crate::device::ReceiptStatus::Witnessed;
        }
    }
    for i in 0..device.expired.len() {
        let x = &device.expired[i];
        if let Some(r) = &x.receipt {
            let status = device
                .receipt_status(x.record_id, x.challenge, x.epoch, r)
                .map_err(|_| StoreError::Corrupt("receipt"))?;
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
