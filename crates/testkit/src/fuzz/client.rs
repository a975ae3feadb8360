//! Targets for what a participant's device is enrolled with: the agency's signed
//! enrollment bundle and the court's zone.

use std::sync::{Arc, LazyLock};

use minimis_client::bundle::{Bundle, ZoneCommitment, ZoneSalt};
use minimis_client::location::{Fix, FixCapability, LocationError, LocationSource, Zone};
use minimis_client::notice::{Language, show};
use minimis_client::presence::NotRequired;
use minimis_client::{Device, Enrollment};
use minimis_crypto::SigningKey;
use minimis_proto::{
    Challenge, ChallengeId, ChallengeKind, Policy, Schedule, SignedChallenge, SignedEpochRecipient,
    Weekday, Window, ZoneResult,
};

use super::{Outcome, keys, signed_note, utf8};
use crate::NOW;

fn reference() -> &'static Policy {
    super::reference_policy()
}

/// The participant's schedule: Thursdays 09:00 to 12:00 in Chicago, which contains
/// [`NOW`].
pub(crate) fn schedule() -> Schedule {
    static S: LazyLock<Schedule> = LazyLock::new(|| {
        Schedule::new(
            "America/Chicago",
            vec![Window {
                weekday: Weekday::Thursday,
                start: "09:00".parse().unwrap_or_else(|_| unreachable!()),
                end: "12:00".parse().unwrap_or_else(|_| unreachable!()),
            }],
            1,
            2,
        )
        .unwrap_or_else(|_| unreachable!("a valid schedule"))
    });
    S.clone()
}

/// The zone the bundle seeds commit to: a square around Houston.
pub(crate) const ZONE: &str = r#"{"type":"Polygon","coordinates":[[[-95.5,29.6],[-95.2,29.6],[-95.2,29.9],[-95.5,29.9],[-95.5,29.6]]]}"#;

/// The salt of the seeds' zone commitment (32 bytes of `0x5a`).
pub(crate) fn zone_salt() -> ZoneSalt {
    ZoneSalt::from_bytes(zeroize::Zeroizing::new([0x5a; 32]))
}

fn device_key() -> SigningKey {
    SigningKey::from_seed(keys::device().expose_seed()).unwrap_or_else(|_| unreachable!("32 bytes"))
}

/// The enrollment bundle (**ENR-4**, **LOC-21**): a signed note under the agency's
/// enrollment key. It is read as it came; and its text is also signed by the agency's key
/// and read, since the agency's station is not the only author of the text a device may
/// be shown. A bundle that opens writes out to a note that opens to the same bundle, and
/// the device enrolls from it or refuses with a reason, with no zone and with the seeds'
/// zone.
pub fn bundle(data: &[u8]) -> Outcome {
    let Some(text) = utf8(data) else {
        return Outcome::Refused;
    };
    let key = keys::enrollment_key();
    let mut outcome = Outcome::Refused;
    let mut opened = Vec::new();
    if let Ok(b) = Bundle::open(text, key) {
        opened.push((b, text.to_owned()));
        outcome = Outcome::Accepted;
    }
    if let Some(note) = signed_note(text, keys::enrollment_signer())
        && let Ok(b) = Bundle::open(&note, key)
    {
        opened.push((b, note));
    }
    for (b, note) in opened {
        let again = b
            .sign(keys::enrollment_signer())
            .unwrap_or_else(|e| panic!("re-sign: {e}"));
        assert_eq!(
            Bundle::open(&again, key).ok().as_ref(),
            Some(&b),
            "a bundle round-trips"
        );
        let policy = minimis_proto::policy::DEFAULT_POLICY_TOML;
        let shown = show(reference(), Language::English, None).1;
        let zone = Zone::from_geojson(ZONE).unwrap_or_else(|_| unreachable!("a valid zone"));
        for z in [None, Some((zone, zone_salt()))] {
            let committed = z.as_ref().map(|(z, s)| ZoneCommitment::new(s, z));
            let enrolled =
                Device::enroll(&note, key, policy, z, shown, device_key(), keys::tag_key());
            if enrolled.is_ok() {
                assert_eq!(b.zone, committed, "enrolled with the zone the bundle fixes");
                assert_eq!(b.device_key, keys::device().public_key());
            }
        }
    }
    outcome
}

/// Challenges for the zone probes, signed by the operator, in the schedule's window at
/// [`NOW`].
fn probe_challenge() -> &'static SignedChallenge {
    static C: LazyLock<SignedChallenge> = LazyLock::new(|| {
        let span = schedule()
            .window_at(NOW)
            .unwrap_or_else(|| unreachable!("NOW is in the window"));
        let epoch = reference()
            .epoch_at(NOW)
            .unwrap_or_else(|| unreachable!("NOW has an epoch"));
        minimis_crypto::sign_challenge(
            keys::operator(),
            Challenge {
                id: ChallengeId::from_bytes(*b"fuzz-zone-probe!"),
                pseudonym: keys::pseudonym(),
                epoch,
                kind: ChallengeKind::Scheduled,
                issued_at: NOW,
                window_start: span.start,
                window_end: span.end,
                policy: reference().hash(),
            },
        )
    });
    &C
}

/// Both custodians' signed recipients for the epoch of [`NOW`].
pub(crate) fn recipients() -> &'static [SignedEpochRecipient] {
    static R: LazyLock<Vec<SignedEpochRecipient>> = LazyLock::new(|| {
        let e = keys::epoch();
        let not_after = reference().epoch_end(e);
        vec![
            keys::agency_keyring()
                .publish(e, not_after, keys::agency_custodian())
                .unwrap_or_else(|_| unreachable!("the agency identity is live")),
            keys::oversight_keyring()
                .publish(e, not_after, keys::oversight_custodian())
                .unwrap_or_else(|_| unreachable!("the oversight identity is live")),
        ]
    });
    &R
}

struct At(f64, f64);

impl LocationSource for At {
    fn one_fix(&mut self, cap: FixCapability) -> Result<Fix, LocationError> {
        Ok(cap.into_fix(self.1, self.0))
    }
}

/// The zone test as a device runs it: a check-in with one fix at (`lon`, `lat`).
fn probe(zone: &Zone, lon: f64, lat: f64) -> ZoneResult {
    let mut d = Device::new(
        Enrollment {
            pseudonym: keys::pseudonym(),
            schedule: schedule(),
            zone: Some(zone.clone()),
            policy: Arc::new(reference().clone()),
            policy_text: Arc::from(minimis_proto::policy::DEFAULT_POLICY_TOML),
            operator_key: keys::operator().public_key(),
            log_key: keys::log_key().clone(),
            witnesses: vec![],
            tlog_policy: None,
            custodians: keys::custodian_keys(),
        },
        device_key(),
        keys::tag_key(),
    );
    let accepted = d
        .accept(probe_challenge().clone(), NOW)
        .unwrap_or_else(|r| panic!("the probe challenge is accepted: {r}"));
    d.check_in(
        accepted,
        &mut At(lon, lat),
        &mut NotRequired,
        "",
        recipients(),
        NOW,
    )
    .unwrap_or_else(|e| panic!("the probe check-in seals: {e}"));
    assert_eq!(d.fixes_taken(), 1, "one fix per check-in (LOC-2)");
    d.sent()[0].payload.zone
}

/// The first coordinate pair of a GeoJSON text: where the zone's first ring starts.
fn first_vertex(v: &serde_json::Value) -> Option<(f64, f64)> {
    match v {
        serde_json::Value::Array(a) => {
            if let [x, y, ..] = a.as_slice()
                && let (Some(x), Some(y)) = (x.as_f64(), y.as_f64())
            {
                return Some((x, y));
            }
            a.iter().find_map(first_vertex)
        }
        serde_json::Value::Object(o) => ["coordinates", "geometry", "geometries", "features"]
            .iter()
            .filter_map(|k| o.get(*k))
            .find_map(first_vertex),
        _ => None,
    }
}

/// A court's zone (GeoJSON, RFC 7946; **LOC-1**, **LOC-2**): read or refused; a zone
/// read keeps its text; the device's zone test of a check-in answers inside at a vertex
/// of the zone (a point on the boundary is inside) and answers something, without
/// panicking, just beside it and at the ends of the map.
pub fn zone(data: &[u8]) -> Outcome {
    let Some(text) = utf8(data) else {
        return Outcome::Refused;
    };
    let Ok(z) = Zone::from_geojson(text) else {
        return Outcome::Refused;
    };
    assert_eq!(z.geojson(), text);
    assert!(Zone::from_geojson(z.geojson()).ok().as_ref() == Some(&z));
    let first = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .as_ref()
        .and_then(first_vertex);
    if let Some((x, y)) = first {
        // A feature collection's first coordinates may belong to a feature whose
        // geometry a later, refused one would have dropped; only a polygon's own first
        // vertex is certain to be on the zone.
        let result = probe(&z, x, y);
        if serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .is_some_and(|v| v.get("type").and_then(|t| t.as_str()) == Some("Polygon"))
        {
            assert_eq!(result, ZoneResult::Inside, "a vertex is on the zone");
        }
        let _ = probe(&z, x + 1e-9, y - 1e-9);
    }
    let _ = probe(&z, 180.0, 90.0);
    Outcome::Accepted
}
