//! Seal and open: layers, bounds, destruction.

use minimis_crypto::SigningKey;
use minimis_proto::payload::NOTE_CAPACITY;
use minimis_proto::*;

use crate::*;

const NOW: UnixTime = UnixTime(1_795_651_200); // 2026-11-26T00:00:00Z

struct Custodians {
    policy: Policy,
    agency: EpochKeyring,
    oversight: Option<EpochKeyring>,
    agency_key: SigningKey,
    oversight_key: SigningKey,
    epoch: EpochId,
}

fn one_custodian_policy() -> Policy {
    let text = DEFAULT_POLICY_TOML;
    let cut = text.find("[[custodians]]\nid = \"oversight\"").unwrap();
    Policy::from_toml_str(&text[..cut]).unwrap()
}

impl Custodians {
    fn new(policy: Policy) -> Self {
        let epoch = policy.epoch_at(NOW).unwrap();
        let mut agency = EpochKeyring::new(CustodianRole::Agency, "agency");
        agency.generate(epoch).unwrap();
        let oversight = policy.custodian(CustodianRole::Oversight).map(|_| {
            let mut k = EpochKeyring::new(CustodianRole::Oversight, "oversight");
            k.generate(epoch).unwrap();
            k
        });
        Self {
            policy,
            agency,
            oversight,
            agency_key: SigningKey::generate().unwrap(),
            oversight_key: SigningKey::generate().unwrap(),
            epoch,
        }
    }

    fn published(&self) -> Vec<SignedEpochRecipient> {
        let not_after = self.policy.epoch_end(self.epoch);
        let mut v = vec![
            self.agency
                .publish(self.epoch, not_after, &self.agency_key)
                .unwrap(),
        ];
        if let Some(o) = &self.oversight {
            v.push(
                o.publish(self.epoch, not_after, &self.oversight_key)
                    .unwrap(),
            );
        }
        v
    }

    fn keys(&self) -> CustodianKeys {
        CustodianKeys {
            agency: self.agency_key.public_key(),
            oversight: Some(self.oversight_key.public_key()),
        }
    }

    fn sealing_keys(&self) -> SealingKeys {
        SealingKeys::verify(&self.policy, NOW, &self.published(), &self.keys()).unwrap()
    }

    fn open(&self, sealed: &SealedCheckIn) -> Result<CheckInPayload, OpenError> {
        open(
            sealed,
            self.epoch,
            &self.agency,
            self.oversight.as_ref(),
            self.policy.max_note_bytes(),
        )
    }
}

fn payload(note: &str) -> CheckInPayload {
    CheckInPayload {
        challenge_id: ChallengeId::from_bytes([0x11; 16]),
        zone: ZoneResult::Outside,
        presence: PresenceResult::Confirmed,
        device_time: NOW,
        note: Note::new(note, NOTE_CAPACITY).unwrap(),
    }
}

#[test]
fn seal_2_two_custodians_round_trip_through_both_layers() {
    let c = Custodians::new(default_policy());
    let keys = c.sealing_keys();
    assert_eq!(keys.layers(), 2);
    let p = payload("llegué tarde por el autobús");
    let sealed = seal(&p, &keys).unwrap();
    assert!(CiphertextBounds::for_layers(2).contains(sealed.len()));
    assert_eq!(c.open(&sealed).unwrap(), p);

    // Layer by layer: the oversight custodian's step yields ciphertext, not plaintext.
    let o = c.oversight.as_ref().unwrap().identity(c.epoch).unwrap();
    let inner = remove_outer(&sealed, o).unwrap();
    assert!(inner.as_bytes().starts_with(b"age-encryption.org/v1\n"));
    let a = c.agency.identity(c.epoch).unwrap();
    assert_eq!(open_inner(inner.as_bytes(), a, 280).unwrap(), p);
}

#[test]
fn seal_2_seal_10_each_layer_needs_its_own_custodian() {
    let c = Custodians::new(default_policy());
    let sealed = seal(&payload(""), &c.sealing_keys()).unwrap();
    let a = c.agency.identity(c.epoch).unwrap();
    let o = c.oversight.as_ref().unwrap().identity(c.epoch).unwrap();
    // The agency alone cannot remove the outer layer.
    assert_eq!(
        remove_outer(&sealed, a).unwrap_err(),
        OpenError::Layer {
            role: CustodianRole::Agency,
            failure: LayerFailure::NoMatchingKey
        }
    );
    // The oversight custodian alone cannot open the inner one.
    let inner = remove_outer(&sealed, o).unwrap();
    assert_eq!(
        open_inner(inner.as_bytes(), o, 280).unwrap_err(),
        OpenError::Layer {
            role: CustodianRole::Oversight,
            failure: LayerFailure::NoMatchingKey
        }
    );
    // The agency's key against the outer file directly does not work either.
    assert!(open_inner(sealed.as_bytes(), a, 280).is_err());
}

#[test]
fn seal_3_one_custodian_gives_one_layer() {
    let c = Custodians::new(one_custodian_policy());
    assert!(c.oversight.is_none());
    let keys = c.sealing_keys();
    assert_eq!(keys.layers(), 1);
    let p = payload("one layer");
    let sealed = seal(&p, &keys).unwrap();
    assert!(CiphertextBounds::for_layers(1).contains(sealed.len()));
    assert_eq!(c.open(&sealed).unwrap(), p);
    // A one-layer record is refused when two keyrings are offered.
    let two = Custodians::new(default_policy());
    assert_eq!(
        open(&sealed, c.epoch, &c.agency, two.oversight.as_ref(), 280).unwrap_err(),
        OpenError::WrongLayerCount
    );
}

#[test]
fn seal_1_files_open_with_the_age_crates_standard_decryptor() {
    let c = Custodians::new(default_policy());
    let p = payload("standard");
    let sealed = seal(&p, &c.sealing_keys()).unwrap();
    let parse = |file: &[u8], identity_file: &str| -> Vec<u8> {
        let ids = age::IdentityFile::from_buffer(identity_file.as_bytes())
            .unwrap()
            .into_identities()
            .unwrap();
        let d = age::Decryptor::new_buffered(file).unwrap();
        let mut r = d
            .decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity))
            .unwrap();
        let mut out = vec![];
        std::io::Read::read_to_end(&mut r, &mut out).unwrap();
        out
    };
    let o = c.oversight.as_ref().unwrap().identity(c.epoch).unwrap();
    let a = c.agency.identity(c.epoch).unwrap();
    let inner = parse(sealed.as_bytes(), &o.to_identity_file());
    let plain = parse(&inner, &a.to_identity_file());
    assert_eq!(plain.len(), payload::PAYLOAD_LEN);
    assert_eq!(&plain[..], &p.encode().expose()[..]);
}

/// Splits an age v1 header into stanzas and returns the byte length of the stanzas that
/// are not X25519 (the grease), checking the rest is exactly as the layout says.
fn grease_len(file: &[u8]) -> usize {
    let text_end = file
        .windows(4)
        .position(|w| w == b"\n---")
        .expect("header end")
        + 1;
    let header = std::str::from_utf8(&file[..text_end]).unwrap();
    let mut lines = header.split_inclusive('\n').peekable();
    assert_eq!(lines.next(), Some("age-encryption.org/v1\n"));
    let mut grease = 0;
    let mut x25519 = 0;
    while let Some(first) = lines.next() {
        assert!(first.starts_with("-> "), "{first:?}");
        let mut len = first.len();
        // Body lines: full 64-column lines, then one shorter final line.
        loop {
            let l = lines.next().expect("body line");
            len += l.len();
            if l.len() < 65 {
                break;
            }
        }
        if first.starts_with("-> X25519 ") {
            x25519 += 1;
            assert_eq!(len, messages::age_layout::X25519_STANZA);
        } else {
            assert!(first.contains("-grease"), "{first:?}");
            grease += len;
        }
    }
    assert_eq!(x25519, 1, "exactly one recipient stanza");
    grease
}

#[test]
fn seal_4_seal_5_length_is_fixed_overhead_plus_random_grease() {
    use messages::age_layout::*;
    let c = Custodians::new(default_policy());
    let keys = c.sealing_keys();
    let o = c.oversight.as_ref().unwrap().identity(c.epoch).unwrap();
    for note in ["", "a", &"x".repeat(280), "ñandú 🚌"] {
        for _ in 0..50 {
            let sealed = seal(&payload(note), &keys).unwrap();
            let outer_grease = grease_len(sealed.as_bytes());
            let inner = remove_outer(&sealed, o).unwrap();
            let inner_grease = grease_len(inner.as_bytes());
            assert!((GREASE_MIN..=GREASE_MAX).contains(&outer_grease));
            assert!((GREASE_MIN..=GREASE_MAX).contains(&inner_grease));
            // The content decides nothing: length = 512 + 2·200 + the two greases.
            assert_eq!(
                inner.as_bytes().len(),
                payload::PAYLOAD_LEN + LAYER_OVERHEAD + inner_grease
            );
            assert_eq!(
                sealed.len(),
                inner.as_bytes().len() + LAYER_OVERHEAD + outer_grease
            );
        }
    }
}

#[test]
fn seal_4_bound_holds_for_10000_seals() {
    let c = Custodians::new(default_policy());
    let keys = c.sealing_keys();
    let bounds = CiphertextBounds::for_layers(2);
    let (mut lo, mut hi) = (usize::MAX, 0);
    for i in 0..10_000 {
        let note = "n".repeat(i % 281);
        let sealed = seal(&payload(&note), &keys).unwrap();
        lo = lo.min(sealed.len());
        hi = hi.max(sealed.len());
    }
    assert!(
        bounds.min <= lo && hi <= bounds.max,
        "{lo}..={hi} vs {bounds:?}"
    );
    // The grease really varies: 10,000 seals cover a wide part of the range.
    assert!(hi - lo > 150, "{lo}..={hi}");
}

#[test]
fn ret_2_destroyed_epoch_cannot_be_opened() {
    let mut c = Custodians::new(default_policy());
    let sealed = seal(&payload("gone"), &c.sealing_keys()).unwrap();
    assert!(c.open(&sealed).is_ok());
    c.agency.destroy(c.epoch);
    c.oversight.as_mut().unwrap().destroy(c.epoch);
    assert_eq!(
        c.open(&sealed).unwrap_err(),
        OpenError::KeyDestroyed {
            epoch: c.epoch,
            role: CustodianRole::Agency
        }
    );
}

#[test]
fn ret_3_either_custodian_destroying_is_enough() {
    // Oversight destroys; agency keeps its key.
    let mut c = Custodians::new(default_policy());
    let sealed = seal(&payload("x"), &c.sealing_keys()).unwrap();
    c.oversight.as_mut().unwrap().destroy(c.epoch);
    assert_eq!(
        c.open(&sealed).unwrap_err(),
        OpenError::KeyDestroyed {
            epoch: c.epoch,
            role: CustodianRole::Oversight
        }
    );
    // The agency's surviving key cannot open either layer.
    let a = c.agency.identity(c.epoch).unwrap();
    assert!(remove_outer(&sealed, a).is_err());
    assert!(open_inner(sealed.as_bytes(), a, 280).is_err());

    // Agency destroys; oversight keeps its key: the outer layer opens, to ciphertext only.
    let mut c = Custodians::new(default_policy());
    let sealed = seal(&payload("x"), &c.sealing_keys()).unwrap();
    c.agency.destroy(c.epoch);
    assert!(matches!(
        c.open(&sealed),
        Err(OpenError::KeyDestroyed {
            role: CustodianRole::Agency,
            ..
        })
    ));
    let o = c.oversight.as_ref().unwrap().identity(c.epoch).unwrap();
    let inner = remove_outer(&sealed, o).unwrap();
    assert!(open_inner(inner.as_bytes(), o, 280).is_err());
}

#[test]
fn seal_10_tampered_or_garbage_ciphertext_is_a_typed_error() {
    let c = Custodians::new(default_policy());
    let sealed = seal(&payload("t"), &c.sealing_keys()).unwrap();
    let mut bytes = sealed.as_bytes().to_vec();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let tampered = SealedCheckIn::try_from(bytes).unwrap();
    assert_eq!(
        c.open(&tampered).unwrap_err(),
        OpenError::Layer {
            role: CustodianRole::Oversight,
            failure: LayerFailure::Tampered
        }
    );
    let garbage = SealedCheckIn::try_from(vec![0x41; 1000]).unwrap();
    assert_eq!(
        c.open(&garbage).unwrap_err(),
        OpenError::Layer {
            role: CustodianRole::Oversight,
            failure: LayerFailure::Malformed
        }
    );
}

#[test]
fn seal_7_device_refuses_unsigned_foreign_stale_or_expired_recipients() {
    let c = Custodians::new(default_policy());
    let good = c.published();
    let keys = c.keys();
    let p = &c.policy;
    assert!(SealingKeys::verify(p, NOW, &good, &keys).is_ok());

    // Signed by someone else (for example the operator substituting its own key).
    let operator = SigningKey::generate().unwrap();
    let mut forged = good.clone();
    forged[1] = minimis_crypto::sign_epoch_recipient(&operator, good[1].recipient.clone());
    assert_eq!(
        SealingKeys::verify(p, NOW, &forged, &keys).unwrap_err(),
        RecipientError::BadSignature(CustodianRole::Oversight)
    );
    // A recipient swapped in after signing.
    let mut swapped = good.clone();
    swapped[0].recipient.recipient = swapped[1].recipient.recipient.clone();
    assert_eq!(
        SealingKeys::verify(p, NOW, &swapped, &keys).unwrap_err(),
        RecipientError::BadSignature(CustodianRole::Agency)
    );
    // Missing oversight recipient.
    assert_eq!(
        SealingKeys::verify(p, NOW, &good[..1], &keys).unwrap_err(),
        RecipientError::Missing(CustodianRole::Oversight)
    );
    // No key for the oversight custodian in the enrollment.
    let no_key = CustodianKeys {
        oversight: None,
        ..keys
    };
    assert_eq!(
        SealingKeys::verify(p, NOW, &good, &no_key).unwrap_err(),
        RecipientError::NoCustodianKey(CustodianRole::Oversight)
    );
    // A week later the recipients are for a past epoch.
    let later = NOW.plus(7 * 86_400);
    assert!(matches!(
        SealingKeys::verify(p, later, &good, &keys).unwrap_err(),
        RecipientError::WrongEpoch { .. }
    ));
    // Expired before the epoch ended.
    let short = vec![
        c.agency
            .publish(c.epoch, NOW.plus(-1), &c.agency_key)
            .unwrap(),
        good[1].clone(),
    ];
    assert_eq!(
        SealingKeys::verify(p, NOW, &short, &keys).unwrap_err(),
        RecipientError::Expired(CustodianRole::Agency)
    );
}

#[test]
fn chk_3_seal_refuses_a_note_over_the_policy() {
    let c = Custodians::new(default_policy());
    let long = payload(&"z".repeat(281));
    assert!(matches!(
        seal(&long, &c.sealing_keys()),
        Err(SealError::NoteTooLong { len: 281, max: 280 })
    ));
}

#[test]
fn seal_10_a_changed_header_mac_is_tampering_not_malformation() {
    let c = Custodians::new(default_policy());
    let sealed = seal(&payload("mac"), &c.sealing_keys()).unwrap();
    let mut bytes = sealed.as_bytes().to_vec();
    // The header ends `--- <base64 MAC>\n`; change the MAC's first character to another
    // base64 character, so that the header still parses and only the MAC is wrong.
    let mac = bytes.windows(5).position(|w| w == b"\n--- ").unwrap() + 5;
    bytes[mac] = if bytes[mac] == b'A' { b'B' } else { b'A' };
    let tampered = SealedCheckIn::try_from(bytes).unwrap();
    assert_eq!(
        c.open(&tampered).unwrap_err(),
        OpenError::Layer {
            role: CustodianRole::Oversight,
            failure: LayerFailure::Tampered
        }
    );
}

#[test]
fn seal_10_an_oversize_layer_is_refused_not_truncated() {
    // An inner layer whose plaintext is a valid payload followed by one more byte: read
    // only up to the limit, it would open as that payload.
    let c = Custodians::new(default_policy());
    let p = payload("oversize");
    let mut plain = p.encode().expose().to_vec();
    plain.push(0);
    let a = c.agency.identity(c.epoch).unwrap();
    let recipient: age::x25519::Recipient = a.recipient().parse().unwrap();
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .unwrap();
    let mut inner = Vec::new();
    let mut w = encryptor.wrap_output(&mut inner).unwrap();
    std::io::Write::write_all(&mut w, &plain).unwrap();
    w.finish().unwrap();
    assert_eq!(
        open_inner(&inner, a, 280).unwrap_err(),
        OpenError::Layer {
            role: CustodianRole::Agency,
            failure: LayerFailure::Oversize
        }
    );
    // Exactly the payload length opens.
    let mut exact = Vec::new();
    let encryptor =
        age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
            .unwrap();
    let mut w = encryptor.wrap_output(&mut exact).unwrap();
    std::io::Write::write_all(&mut w, &plain[..payload::PAYLOAD_LEN]).unwrap();
    w.finish().unwrap();
    assert_eq!(open_inner(&exact, a, 280).unwrap(), p);
}

#[test]
fn seal_10_layer_failures_say_what_failed() {
    let msg = |failure| {
        OpenError::Layer {
            role: CustodianRole::Oversight,
            failure,
        }
        .to_string()
    };
    assert_eq!(
        msg(LayerFailure::Tampered),
        "the oversight layer cannot be opened: it failed authentication"
    );
    let all = [
        msg(LayerFailure::Malformed),
        msg(LayerFailure::NoMatchingKey),
        msg(LayerFailure::Tampered),
        msg(LayerFailure::Oversize),
    ];
    let distinct: std::collections::BTreeSet<_> = all.iter().collect();
    assert_eq!(distinct.len(), all.len(), "{all:?}");
}

#[test]
fn seal_10_inner_ciphertext_debug_shows_only_its_length() {
    let c = Custodians::new(default_policy());
    let sealed = seal(&payload("d"), &c.sealing_keys()).unwrap();
    let o = c.oversight.as_ref().unwrap().identity(c.epoch).unwrap();
    let inner = remove_outer(&sealed, o).unwrap();
    assert_eq!(
        format!("{inner:?}"),
        format!("InnerCiphertext(<{} bytes>)", inner.as_bytes().len())
    );
}

#[test]
fn seal_7_the_current_epochs_recipient_is_chosen_beside_a_stale_one() {
    // A device that still holds last epoch's recipients and has fetched this epoch's
    // seals to this epoch's, whatever the order it holds them in.
    let mut c = Custodians::new(default_policy());
    let previous = EpochId::new(c.epoch.get() - 1);
    c.agency.generate(previous).unwrap();
    let stale = c
        .agency
        .publish(previous, c.policy.epoch_end(previous), &c.agency_key)
        .unwrap();
    let mut published = vec![stale];
    published.extend(c.published());
    let keys = SealingKeys::verify(&c.policy, NOW, &published, &c.keys()).unwrap();
    assert_eq!(keys.epoch(), c.epoch);
    let p = payload("current");
    assert_eq!(c.open(&seal(&p, &keys).unwrap()).unwrap(), p);
}

#[test]
fn seal_7_not_after_is_the_last_moment_a_device_may_seal() {
    let c = Custodians::new(default_policy());
    let good = c.published();
    let until_now = vec![
        c.agency.publish(c.epoch, NOW, &c.agency_key).unwrap(),
        good[1].clone(),
    ];
    assert!(SealingKeys::verify(&c.policy, NOW, &until_now, &c.keys()).is_ok());
    assert_eq!(
        SealingKeys::verify(&c.policy, NOW.plus(1), &until_now, &c.keys()).unwrap_err(),
        RecipientError::Expired(CustodianRole::Agency)
    );
}
