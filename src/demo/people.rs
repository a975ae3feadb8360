//! The simulated participants: each a [`minimis_client::Device`] (the library a real app
//! is built on) with a simulated GPS and presence check, and a deterministic pattern of
//! behaviour: most check in on time, some late, some miss for a technical reason and report
//! it, a few miss without a word, and a few are outside their zone.

use std::time::{Duration, Instant};

use anyhow::anyhow;
use minimis_client::location::{Fix, FixCapability, LocationError, LocationSource, Zone};
use minimis_client::presence::PresenceCheck;
use minimis_client::transport::Https;
use minimis_client::{Api, Device, FailureCategory, ReceiptStatus, Refusal};
use minimis_proto::{
    ChallengeKind, LedgerState, PresenceResult, Schedule, SignedEpochRecipient, UnixTime, Weekday,
    Window,
};

/// A cheap, deterministic mixer for the simulation's choices (not for anything secret).
pub(crate) fn mix(i: u64, salt: u64) -> u64 {
    let mut x = i
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(salt.wrapping_mul(0xD1B5_4A32_D192_ED03));
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^ (x >> 29)
}

/// The four continental US time zones the participants live in, with a city in each and
/// an ordered zone around it (a rectangle, as GeoJSON): one the supervising agency or a
/// court set.
pub(crate) const PLACES: [Place; 4] = [
    Place {
        time_zone: "America/New_York",
        at: (40.7128, -74.0060),
        zone: r#"{"type":"Polygon","coordinates":[[[-74.3,40.5],[-73.7,40.5],[-73.7,40.95],[-74.3,40.95],[-74.3,40.5]]]}"#,
    },
    Place {
        time_zone: "America/Chicago",
        at: (41.8781, -87.6298),
        zone: r#"{"type":"Polygon","coordinates":[[[-88.0,41.6],[-87.5,41.6],[-87.5,42.1],[-88.0,42.1],[-88.0,41.6]]]}"#,
    },
    Place {
        time_zone: "America/Denver",
        at: (39.7392, -104.9903),
        zone: r#"{"type":"Polygon","coordinates":[[[-105.2,39.55],[-104.7,39.55],[-104.7,39.95],[-105.2,39.95],[-105.2,39.55]]]}"#,
    },
    Place {
        time_zone: "America/Los_Angeles",
        at: (34.0522, -118.2437),
        zone: r#"{"type":"Polygon","coordinates":[[[-118.7,33.7],[-117.9,33.7],[-117.9,34.35],[-118.7,34.35],[-118.7,33.7]]]}"#,
    },
];

/// A place: its time zone, a point in its city, and a zone around the city.
pub(crate) struct Place {
    pub(crate) time_zone: &'static str,
    pub(crate) at: (f64, f64),
    pub(crate) zone: &'static str,
}

const WEEKDAYS: [Weekday; 5] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
];

/// The notes participants type (sealed on the phone; the operator must never read them).
pub(crate) const NOTES: [&str; 5] = [
    "",
    "Bus was late; checking in from the stop.",
    "Llegué tarde por el trabajo.",
    "Hearing moved to next month, letter at the office.",
    "Cita médica de mi hija a las 3.",
];

/// What a participant whose app failed writes in the report (sealed on the phone, CHK-23).
pub(crate) const FAILURE_WORDS: &str = "the app closed when I pressed send; I tried again at home";

const GIVEN_NAMES: [&str; 8] = [
    "María",
    "Amara",
    "Wei",
    "Oksana",
    "Jamal",
    "Lucía",
    "Tenzin",
    "Esperanza",
];
const FAMILY_NAMES: [&str; 7] = [
    "García Hernández",
    "Okafor",
    "Nguyen",
    "Kovalenko",
    "Abdullahi",
    "Ramírez Soto",
    "Mendoza",
];

/// Participant `i`'s name, as the agency's records hold it. The demo's phones and
/// services never receive it (the operator knows a participant by a random pseudonym);
/// the demo keeps it to search for it in what the operator holds.
pub(crate) fn name(i: usize) -> String {
    format!(
        "{} {} {}",
        GIVEN_NAMES[i % GIVEN_NAMES.len()],
        FAMILY_NAMES[(i / GIVEN_NAMES.len()) % FAMILY_NAMES.len()],
        i
    )
}

/// Participant `i`'s case number at the agency: what an officer names when asking for
/// content (the custodian logs only a salted commitment to it, ACC-9).
pub(crate) fn case_number(i: usize) -> String {
    format!("CASE-2026-{:06}", 4_211 + i)
}

/// Participant `i`'s schedule: one weekly window, 09:00 to 12:00 local time, on a weekday
/// and in a time zone that depend on `i`; at most one check-in a day, at most two ad-hoc
/// challenges in 30 days.
pub(crate) fn schedule(i: usize) -> anyhow::Result<Schedule> {
    let place = &PLACES[i % PLACES.len()];
    let window = Window {
        weekday: WEEKDAYS[(i / PLACES.len()) % WEEKDAYS.len()],
        start: "09:00".parse()?,
        end: "12:00".parse()?,
    };
    // Two a day (the scheduled one and at most one ad-hoc), two ad-hoc in 30 days.
    Ok(Schedule::new(place.time_zone, vec![window], 2, 2)?)
}

/// Whether participant `i` has an ordered zone (one in four).
pub(crate) fn has_zone(i: usize) -> bool {
    mix(i as u64, 7).is_multiple_of(4)
}

/// What a participant does with one scheduled challenge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Behaviour {
    /// Checks in within the window.
    OnTime,
    /// Checks in after the window, within the grace period.
    Late,
    /// The app fails; the participant reports it the next day (CHK-22).
    FailsAndReports,
    /// Nothing arrives and nothing is said.
    Silent,
}

/// Participant `i`'s behaviour for the challenge of week `week`.
pub(crate) fn behaviour(i: usize, week: u64) -> Behaviour {
    match mix(i as u64, week.wrapping_mul(31).wrapping_add(3)) % 100 {
        0..=86 => Behaviour::OnTime,
        87..=92 => Behaviour::Late,
        93..=97 => Behaviour::FailsAndReports,
        _ => Behaviour::Silent,
    }
}

/// A simulated GPS: one fix where the phone is; the library asks for it only for an
/// accepted challenge, and only when a zone was ordered (LOC-3).
pub(crate) struct Gps {
    pub(crate) at: (f64, f64),
    /// The fix it gave, if the library asked for one: the demo searches for it in what
    /// the operator holds.
    pub(crate) taken: Option<(f64, f64)>,
}

impl LocationSource for Gps {
    fn one_fix(&mut self, cap: FixCapability) -> Result<Fix, LocationError> {
        self.taken = Some(self.at);
        Ok(cap.into_fix(self.at.0, self.at.1))
    }
}

/// The on-device presence check (in a real app, the platform's 1:1 matcher; nothing
/// leaves the device but the result).
pub(crate) struct Presence(pub(crate) PresenceResult);

impl PresenceCheck for Presence {
    fn check(&mut self) -> PresenceResult {
        self.0
    }
}

/// One participant's phone.
pub(crate) struct Person {
    pub(crate) index: usize,
    pub(crate) device: Device,
    /// A failure to report at the next chance.
    pub(crate) failure_pending: bool,
}

/// What one device did in one step.
#[derive(Default)]
pub(crate) struct Tally {
    pub(crate) on_time: u64,
    pub(crate) late: u64,
    pub(crate) failures_recorded: u64,
    pub(crate) failures_reported: u64,
    /// Reports that carried a free text sealed on the phone (CHK-23).
    pub(crate) failure_texts_sealed: u64,
    pub(crate) outside_zone: u64,
    pub(crate) receipts_provisional: u64,
    pub(crate) receipts_witnessed: u64,
    pub(crate) refused: u64,
    pub(crate) seal: Duration,
    pub(crate) seals: u64,
    pub(crate) receipt_verify: Duration,
    pub(crate) receipt_verifies: u64,
    /// Submit round trips (seconds), for the ingest figures.
    pub(crate) submit_latencies: Vec<f64>,
    /// Every distinct location fix the phones took (latitude, longitude as bits).
    pub(crate) fixes: std::collections::BTreeSet<(u64, u64)>,
}

impl Tally {
    pub(crate) fn add(&mut self, o: Tally) {
        self.on_time += o.on_time;
        self.late += o.late;
        self.failures_recorded += o.failures_recorded;
        self.failures_reported += o.failures_reported;
        self.failure_texts_sealed += o.failure_texts_sealed;
        self.outside_zone += o.outside_zone;
        self.receipts_provisional += o.receipts_provisional;
        self.receipts_witnessed += o.receipts_witnessed;
        self.refused += o.refused;
        self.seal += o.seal;
        self.seals += o.seals;
        self.receipt_verify += o.receipt_verify;
        self.receipt_verifies += o.receipt_verifies;
        self.submit_latencies.extend(o.submit_latencies);
        self.fixes.extend(o.fixes);
    }
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{e}")
}

impl Person {
    /// The phone answers its open challenges now, as `behaviour` says (the late ones are
    /// called again after the window).
    pub(crate) async fn answer(
        &mut self,
        api: &Api<Https>,
        now: UnixTime,
        behaviour: Behaviour,
        week: u64,
        recipients: &[SignedEpochRecipient],
        tally: &mut Tally,
    ) -> anyhow::Result<()> {
        if behaviour == Behaviour::Silent {
            return Ok(());
        }
        let open = api.challenges(&self.device, now).await.map_err(err)?;
        for signed in open {
            let id = signed.challenge.id;
            let accepted = match self.device.accept(signed, now) {
                Ok(a) => a,
                // Accepted before and not answered (the server lists a challenge until it
                // is answered): the phone takes it up again (CHL-11).
                Err(Refusal::AlreadyAccepted) => match self.device.resume(id, now) {
                    Ok(a) => a,
                    Err(_) => continue,
                },
                Err(_) => {
                    tally.refused += 1;
                    continue;
                }
            };
            let id = accepted.challenge().id;
            if accepted.challenge().kind == ChallengeKind::Scheduled
                && behaviour == Behaviour::FailsAndReports
            {
                // The app fails before it can send; the phone keeps the failure to report.
                let category = if mix(self.index as u64, week).is_multiple_of(2) {
                    FailureCategory::AppError
                } else {
                    FailureCategory::NoNetwork
                };
                self.device.record_failure(id, category, now);
                self.device.release(accepted);
                self.failure_pending = true;
                tally.failures_recorded += 1;
                continue;
            }
            // One in forty check-ins of a participant with a zone is made from outside it.
            let place = &PLACES[self.index % PLACES.len()];
            let outside =
                has_zone(self.index) && mix(self.index as u64, week + 1_000).is_multiple_of(40);
            let mut gps = Gps {
                at: if outside {
                    (place.at.0 + 2.0, place.at.1 + 2.0)
                } else {
                    place.at
                },
                taken: None,
            };
            let presence = match mix(self.index as u64, week + 2_000) % 50 {
                0 => PresenceResult::Unavailable,
                _ => PresenceResult::Confirmed,
            };
            let note = NOTES[(mix(self.index as u64, week + 3_000) % 25).min(4) as usize];
            let started = Instant::now();
            let envelope = self
                .device
                .check_in(
                    accepted,
                    &mut gps,
                    &mut Presence(presence),
                    note,
                    recipients,
                    now,
                )
                .map_err(err)?;
            tally.seal += started.elapsed();
            tally.seals += 1;
            if let Some(fix) = gps.taken {
                tally.fixes.insert((fix.0.to_bits(), fix.1.to_bits()));
            }
            let started = Instant::now();
            let (receipt, state) = api.submit(&envelope).await.map_err(err)?;
            tally.submit_latencies.push(started.elapsed().as_secs_f64());
            match state {
                LedgerState::OnTime => tally.on_time += 1,
                LedgerState::Late => tally.late += 1,
                other => return Err(anyhow!("a check-in was answered with state {other}")),
            }
            if outside {
                tally.outside_zone += 1;
            }
            let started = Instant::now();
            match self.device.keep_receipt(receipt).map_err(err)? {
                ReceiptStatus::Provisional => tally.receipts_provisional += 1,
                ReceiptStatus::Witnessed => tally.receipts_witnessed += 1,
            }
            tally.receipt_verify += started.elapsed();
            tally.receipt_verifies += 1;
        }
        Ok(())
    }

    /// Reports failures kept on the phone (CHK-22), every other one with a few words the
    /// participant typed, sealed on the phone (CHK-23).
    pub(crate) async fn report_failures(
        &mut self,
        api: &Api<Https>,
        now: UnixTime,
        recipients: &[SignedEpochRecipient],
        tally: &mut Tally,
    ) -> anyhow::Result<()> {
        for f in self.device.unreported_failures() {
            let text = if (self.index + tally.failures_reported as usize).is_multiple_of(2) {
                Some(
                    self.device
                        .seal_text(f.challenge, FAILURE_WORDS, recipients, now)?,
                )
            } else {
                None
            };
            api.report_failure(&self.device, f.challenge, f.category, text.as_ref(), now)
                .await
                .map_err(err)?;
            self.device.mark_reported(f.challenge);
            tally.failures_reported += 1;
            tally.failure_texts_sealed += u64::from(text.is_some());
        }
        self.failure_pending = false;
        Ok(())
    }

    /// Trades provisional receipts for witnessed ones (CHK-30, CHK-32).
    pub(crate) async fn upgrade_receipts(
        &mut self,
        api: &Api<Https>,
        now: UnixTime,
        tally: &mut Tally,
    ) -> anyhow::Result<()> {
        for record in self.device.provisional_receipts() {
            let receipt = api.receipt(&self.device, record, now).await.map_err(err)?;
            let started = Instant::now();
            if self.device.keep_receipt(receipt).map_err(err)? == ReceiptStatus::Witnessed {
                tally.receipts_witnessed += 1;
            }
            tally.receipt_verify += started.elapsed();
            tally.receipt_verifies += 1;
        }
        Ok(())
    }
}

/// The zone of participant `i`, if one was ordered.
pub(crate) fn zone(i: usize) -> anyhow::Result<Option<Zone>> {
    if has_zone(i) {
        Ok(Some(Zone::from_geojson(PLACES[i % PLACES.len()].zone)?))
    } else {
        Ok(None)
    }
}
