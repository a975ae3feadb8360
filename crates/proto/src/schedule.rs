//! The check-in schedule fixed at enrollment, and the one rule that both the server and
//! the device apply to every challenge (**CHL-1** to **CHL-5**, **CHL-9**, **CHL-10**).
//!
//! A schedule is a set of weekly windows in the participant's time zone, a cap on
//! check-ins per local day and a cap on ad-hoc challenges in any 30 days. Every
//! challenge, scheduled or ad hoc, belongs to one occurrence of a window; at most one
//! scheduled challenge per occurrence; the caps count every challenge issued.
//! [`Schedule::admits_placement`] is the rule, and it is pure: the caller passes the
//! challenges already placed, so the same code runs on the server (through
//! [`Schedule::admits`], which places a challenge at its issue time, the server's own
//! clock) and on the device (which places a challenge in the window its own clock is in,
//! at its own time, and never at the operator's claimed issue time). The answer does not
//! depend on the order of the challenges already placed (**CHL-10**). Spec:
//! `spec/schedule.md`.

use std::fmt;
use std::str::FromStr;

use jiff::tz::TimeZone;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::policy::Policy;
use crate::wire::UnixTime;

/// 30 days, in seconds (CHL-4).
const THIRTY_DAYS: u64 = 30 * 86_400;

/// A day of the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
#[allow(missing_docs)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Weekday {
    fn from_jiff(w: jiff::civil::Weekday) -> Self {
        match w {
            jiff::civil::Weekday::Monday => Self::Monday,
            jiff::civil::Weekday::Tuesday => Self::Tuesday,
            jiff::civil::Weekday::Wednesday => Self::Wednesday,
            jiff::civil::Weekday::Thursday => Self::Thursday,
            jiff::civil::Weekday::Friday => Self::Friday,
            jiff::civil::Weekday::Saturday => Self::Saturday,
            jiff::civil::Weekday::Sunday => Self::Sunday,
        }
    }
}

/// A local time of day with minute precision, `00:00` to `24:00` (`24:00` only as an end).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalTime(u16);

impl LocalTime {
    /// `hour:minute`; `None` unless it is between `00:00` and `24:00`.
    pub fn new(hour: u8, minute: u8) -> Option<Self> {
        let m = u16::from(hour) * 60 + u16::from(minute);
        (minute < 60 && m <= 1440).then_some(Self(m))
    }

    /// Minutes since local midnight.
    pub fn minutes(self) -> u16 {
        self.0
    }
}

impl fmt::Display for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.0 / 60, self.0 % 60)
    }
}

impl fmt::Debug for LocalTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalTime({self})")
    }
}

impl FromStr for LocalTime {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ScheduleError::InvalidTime { text: s.to_owned() };
        let b = s.as_bytes();
        if b.len() != 5 || b[2] != b':' {
            return Err(err());
        }
        let h: u8 = s[..2].parse().map_err(|_| err())?;
        let m: u8 = s[3..].parse().map_err(|_| err())?;
        Self::new(h, m).ok_or_else(err)
    }
}

impl Serialize for LocalTime {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LocalTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A weekly check-in window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// The day.
    pub weekday: Weekday,
    /// First minute of the window, local time.
    pub start: LocalTime,
    /// First minute after the window, local time.
    pub end: LocalTime,
}

/// One occurrence of a window, in absolute time: `[start, end)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WindowSpan {
    /// When it opens.
    pub start: UnixTime,
    /// When it closes (exclusive).
    pub end: UnixTime,
}

impl WindowSpan {
    /// Whether `t` is inside.
    pub fn contains(&self, t: UnixTime) -> bool {
        self.start <= t && t < self.end
    }
}

/// Scheduled or ad hoc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum ChallengeKind {
    /// The one challenge of a window.
    Scheduled,
    /// An extra challenge an officer asked for; capped per 30 days.
    AdHoc,
}

impl ChallengeKind {
    /// The byte that stands for this kind in canonical encodings.
    pub const fn code(self) -> u8 {
        match self {
            Self::Scheduled => 1,
            Self::AdHoc => 2,
        }
    }
}

/// A challenge already issued (or proposed), as the server sees it: placed at its issue
/// time, in the window occurrence that contains it ([`Schedule::admits`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Slot {
    /// When it was issued.
    pub at: UnixTime,
    /// Scheduled or ad hoc.
    pub kind: ChallengeKind,
}

/// A challenge placed on the participant's timeline: the window occurrence it belongs to
/// and the time that counts it against the 30-day ad-hoc cap
/// ([`Schedule::admits_placement`]). The server places a challenge at its own issue time;
/// the device places it in the window occurrence its own clock is in and at its own time
/// (**CHL-8**, **CHL-9**).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placement {
    /// The window occurrence: it fixes the window (one scheduled challenge each) and the
    /// local day (its start's date) the challenge counts against.
    pub window: WindowSpan,
    /// The time that counts it against the 30-day ad-hoc cap.
    pub at: UnixTime,
    /// Scheduled or ad hoc.
    pub kind: ChallengeKind,
}

/// Why a schedule could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleError {
    /// A time that is not `HH:MM` between `00:00` and `24:00`.
    #[error("`{text}` is not a time between 00:00 and 24:00 written HH:MM")]
    InvalidTime {
        /// The text given.
        text: String,
    },
    /// A time zone name that is not in the bundled IANA database.
    #[error("`{name}` is not a known IANA time zone")]
    UnknownTimeZone {
        /// The name given.
        name: String,
    },
    /// No windows at all.
    #[error("a schedule needs at least one window")]
    NoWindows,
    /// A window that does not end after it starts.
    #[error("the {weekday:?} window must end after it starts")]
    EmptyWindow {
        /// Its day.
        weekday: Weekday,
    },
    /// Two windows on one day that overlap.
    #[error("two {weekday:?} windows overlap")]
    OverlappingWindows {
        /// Their day.
        weekday: Weekday,
    },
    /// More windows on one day than the daily cap allows.
    #[error("{count} windows on {weekday:?} exceed the daily cap of {cap}")]
    TooManyWindows {
        /// The day.
        weekday: Weekday,
        /// Windows on that day.
        count: usize,
        /// The daily cap.
        cap: u8,
    },
    /// A daily cap of zero: a schedule must allow at least one check-in a day it has a
    /// window.
    #[error("the daily cap must be at least 1")]
    ZeroDailyCap,
    /// A daily cap above the policy's.
    #[error("daily cap {value} exceeds the policy's {max}")]
    DailyCapOutOfPolicy {
        /// The cap given.
        value: u8,
        /// The policy's most.
        max: u32,
    },
    /// An ad-hoc cap above the policy's.
    #[error("ad-hoc cap {value} exceeds the policy's {max}")]
    AdHocCapOutOfPolicy {
        /// The cap given.
        value: u8,
        /// The policy's most.
        max: u32,
    },
}

/// Why a challenge is outside the schedule. The server never issues such a challenge;
/// the device refuses it (**CHL-2**, **CHL-3**, **CHL-4**).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScheduleViolation {
    /// Not inside any enrolled window.
    #[error("the challenge is outside every enrolled window")]
    OutsideWindow,
    /// A second scheduled challenge in one window.
    #[error("a scheduled challenge was already issued in this window")]
    ScheduledAlreadyIssued,
    /// Over the cap of check-ins per local day.
    #[error("the daily cap of {cap} check-ins is reached")]
    DailyCapReached {
        /// The cap.
        cap: u8,
    },
    /// Over the cap of ad-hoc challenges in 30 days.
    #[error("the cap of {cap} ad-hoc challenges in 30 days is reached")]
    AdHocCapReached {
        /// The cap.
        cap: u8,
    },
}

impl ScheduleViolation {
    /// The machine-readable code, as in the spec.
    pub const fn code(&self) -> &'static str {
        match self {
            Self::OutsideWindow => "outside_window",
            Self::ScheduledAlreadyIssued => "scheduled_already_issued",
            Self::DailyCapReached { .. } => "daily_cap_reached",
            Self::AdHocCapReached { .. } => "adhoc_cap_reached",
        }
    }
}

/// A participant's weekly check-in schedule, as JSON and TOML spell it: its time zone,
/// its windows and its caps (spec/schedule.md).
#[derive(Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = Schedule))]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    time_zone: String,
    windows: Vec<Window>,
    daily_cap: u8,
    adhoc_cap_30d: u8,
}

/// A participant's enrolled schedule.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "RawSchedule")]
pub struct Schedule {
    time_zone: String,
    windows: Vec<Window>,
    daily_cap: u8,
    adhoc_cap_30d: u8,
    #[serde(skip)]
    tz: TimeZone,
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Schedule {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        <RawSchedule as utoipa::PartialSchema>::schema()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Schedule {
    fn schemas(
        schemas: &mut Vec<(
            String,
            utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
        )>,
    ) {
        <RawSchedule as utoipa::ToSchema>::schemas(schemas);
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for LocalTime {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::local_time()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for LocalTime {}

impl PartialEq for Schedule {
    fn eq(&self, other: &Self) -> bool {
        (
            &self.time_zone,
            &self.windows,
            self.daily_cap,
            self.adhoc_cap_30d,
        ) == (
            &other.time_zone,
            &other.windows,
            other.daily_cap,
            other.adhoc_cap_30d,
        )
    }
}

impl Eq for Schedule {}

impl TryFrom<RawSchedule> for Schedule {
    type Error = ScheduleError;

    fn try_from(raw: RawSchedule) -> Result<Self, Self::Error> {
        Self::new(
            &raw.time_zone,
            raw.windows,
            raw.daily_cap,
            raw.adhoc_cap_30d,
        )
    }
}

impl Schedule {
    /// Builds a schedule, checking its own consistency (the policy check is
    /// [`Schedule::check_policy`]).
    ///
    /// # Errors
    /// [`ScheduleError`] for an unknown time zone, no windows, an empty or overlapping
    /// window, more windows on a day than the daily cap, or a daily cap of zero.
    pub fn new(
        time_zone: &str,
        mut windows: Vec<Window>,
        daily_cap: u8,
        adhoc_cap_30d: u8,
    ) -> Result<Self, ScheduleError> {
        let tz = jiff::tz::db()
            .get(time_zone)
            .map_err(|_| ScheduleError::UnknownTimeZone {
                name: time_zone.to_owned(),
            })?;
        if windows.is_empty() {
            return Err(ScheduleError::NoWindows);
        }
        if daily_cap == 0 {
            return Err(ScheduleError::ZeroDailyCap);
        }
        windows.sort_by_key(|w| (w.weekday, w.start));
        for w in &windows {
            if w.end <= w.start {
                return Err(ScheduleError::EmptyWindow { weekday: w.weekday });
            }
        }
        for pair in windows.windows(2) {
            if pair[0].weekday == pair[1].weekday && pair[1].start < pair[0].end {
                return Err(ScheduleError::OverlappingWindows {
                    weekday: pair[0].weekday,
                });
            }
        }
        for chunk in windows.chunk_by(|a, b| a.weekday == b.weekday) {
            if chunk.len() > usize::from(daily_cap) {
                return Err(ScheduleError::TooManyWindows {
                    weekday: chunk[0].weekday,
                    count: chunk.len(),
                    cap: daily_cap,
                });
            }
        }
        Ok(Self {
            time_zone: time_zone.to_owned(),
            windows,
            daily_cap,
            adhoc_cap_30d,
            tz,
        })
    }

    /// Checks the caps against the policy's limits (**CHL-1**).
    ///
    /// # Errors
    /// [`ScheduleError::DailyCapOutOfPolicy`] or [`ScheduleError::AdHocCapOutOfPolicy`].
    pub fn check_policy(&self, policy: &Policy) -> Result<(), ScheduleError> {
        if u32::from(self.daily_cap) > policy.max_checkins_per_day() {
            return Err(ScheduleError::DailyCapOutOfPolicy {
                value: self.daily_cap,
                max: policy.max_checkins_per_day(),
            });
        }
        if u32::from(self.adhoc_cap_30d) > policy.max_adhoc_per_30_days() {
            return Err(ScheduleError::AdHocCapOutOfPolicy {
                value: self.adhoc_cap_30d,
                max: policy.max_adhoc_per_30_days(),
            });
        }
        Ok(())
    }

    /// The IANA time zone name.
    pub fn time_zone(&self) -> &str {
        &self.time_zone
    }

    /// The windows, sorted by day and start.
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    /// Most challenges per local day.
    pub fn daily_cap(&self) -> u8 {
        self.daily_cap
    }

    /// Most ad-hoc challenges in any 30 days.
    pub fn adhoc_cap_30d(&self) -> u8 {
        self.adhoc_cap_30d
    }

    fn local_date(&self, t: UnixTime) -> Option<jiff::civil::Date> {
        let ts = jiff::Timestamp::from_second(t.seconds()).ok()?;
        Some(self.tz.to_datetime(ts).date())
    }

    fn span_on(&self, date: jiff::civil::Date, w: &Window) -> Option<WindowSpan> {
        let at = |m: u16| -> Option<UnixTime> {
            // 24:00 is the next day's midnight.
            let (d, m) = if m == 1440 {
                (date.tomorrow().ok()?, 0)
            } else {
                (date, m)
            };
            let dt = d.at((m / 60) as i8, (m % 60) as i8, 0, 0);
            let z = dt.to_zoned_datetime(self.tz.clone()).ok()?;
            Some(UnixTime(z.timestamp().as_second()))
        };
        Some(WindowSpan {
            start: at(w.start.minutes())?,
            end: at(w.end.minutes())?,
        })
    }

    /// The occurrence of a window that contains `t`, if any.
    pub fn window_at(&self, t: UnixTime) -> Option<WindowSpan> {
        let date = self.local_date(t)?;
        let weekday = Weekday::from_jiff(date.weekday());
        self.windows
            .iter()
            .filter(|w| w.weekday == weekday)
            .filter_map(|w| self.span_on(date, w))
            .find(|span| span.contains(t))
    }

    /// The occurrences of windows that begin in `[from, to)`, in order.
    pub fn spans_between(&self, from: UnixTime, to: UnixTime) -> Vec<WindowSpan> {
        let mut out = Vec::new();
        let (Some(mut date), Some(last)) = (self.local_date(from), self.local_date(to)) else {
            return out;
        };
        while date <= last {
            let weekday = Weekday::from_jiff(date.weekday());
            for w in self.windows.iter().filter(|w| w.weekday == weekday) {
                if let Some(span) = self.span_on(date, w)
                    && from <= span.start
                    && span.start < to
                {
                    out.push(span);
                }
            }
            match date.tomorrow() {
                Ok(d) => date = d,
                Err(_) => break,
            }
        }
        out
    }

    /// Whether `span` is an occurrence of one of the enrolled windows.
    pub fn is_occurrence(&self, span: WindowSpan) -> bool {
        self.window_at(span.start) == Some(span)
    }

    /// Whether the schedule admits `candidate` after the challenges in `prior` (every
    /// challenge already issued to this participant; order does not matter, **CHL-10**),
    /// each placed at its issue time in the window occurrence that contains it. This is the
    /// server's view (CHL-7): its issue times are its own clock.
    ///
    /// # Errors
    /// The first [`ScheduleViolation`] found: outside every window, a second scheduled
    /// challenge in a window, the daily cap, the ad-hoc cap.
    pub fn admits(&self, prior: &[Slot], candidate: Slot) -> Result<WindowSpan, ScheduleViolation> {
        let span = self
            .window_at(candidate.at)
            .ok_or(ScheduleViolation::OutsideWindow)?;
        let placed: Vec<Placement> = prior.iter().map(|s| self.place(*s)).collect();
        self.admits_placement(
            &placed,
            Placement {
                window: span,
                at: candidate.at,
                kind: candidate.kind,
            },
        )?;
        Ok(span)
    }

    /// A slot placed at its own time. A slot outside every window (which `admits` never
    /// admitted) keeps its local day, through a one-second span, and no window.
    fn place(&self, s: Slot) -> Placement {
        Placement {
            window: self.window_at(s.at).unwrap_or(WindowSpan {
                start: s.at,
                end: s.at.plus(1),
            }),
            at: s.at,
            kind: s.kind,
        }
    }

    /// The rule (CHL-2 to CHL-4, **CHL-9**, **CHL-10**): whether `candidate` may be added
    /// to the challenges already placed in `prior`. Order does not matter: the 30-day count
    /// looks both ways from the candidate's time, so a challenge placed at an earlier time
    /// than those already placed is counted with them, and every 30 days of a history
    /// built by this rule, one challenge at a time in any order, hold at most the ad-hoc
    /// cap.
    ///
    /// # Errors
    /// The first [`ScheduleViolation`] found: a window that is not an enrolled occurrence
    /// (`OutsideWindow`), a second scheduled challenge in the occurrence, the daily cap
    /// (challenges placed in occurrences on the same local day), the ad-hoc cap (ad-hoc
    /// challenges placed less than 30 × 86400 seconds before or after).
    pub fn admits_placement(
        &self,
        prior: &[Placement],
        candidate: Placement,
    ) -> Result<(), ScheduleViolation> {
        if !self.is_occurrence(candidate.window) {
            return Err(ScheduleViolation::OutsideWindow);
        }
        if candidate.kind == ChallengeKind::Scheduled
            && prior
                .iter()
                .any(|p| p.kind == ChallengeKind::Scheduled && p.window == candidate.window)
        {
            return Err(ScheduleViolation::ScheduledAlreadyIssued);
        }
        let day = self.local_date(candidate.window.start);
        let same_day = prior
            .iter()
            .filter(|p| self.local_date(p.window.start) == day)
            .count();
        if same_day >= usize::from(self.daily_cap) {
            return Err(ScheduleViolation::DailyCapReached {
                cap: self.daily_cap,
            });
        }
        if candidate.kind == ChallengeKind::AdHoc {
            let near = prior
                .iter()
                .filter(|p| {
                    p.kind == ChallengeKind::AdHoc
                        && p.at.seconds().abs_diff(candidate.at.seconds()) < THIRTY_DAYS
                })
                .count();
            if near >= usize::from(self.adhoc_cap_30d) {
                return Err(ScheduleViolation::AdHocCapReached {
                    cap: self.adhoc_cap_30d,
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::default_policy;

    fn t(s: &str) -> UnixTime {
        UnixTime(s.parse::<jiff::Timestamp>().unwrap().as_second())
    }

    fn thursday_morning(daily: u8, adhoc: u8) -> Schedule {
        Schedule::new(
            "America/Chicago",
            vec![Window {
                weekday: Weekday::Thursday,
                start: "09:00".parse().unwrap(),
                end: "12:00".parse().unwrap(),
            }],
            daily,
            adhoc,
        )
        .unwrap()
    }

    #[test]
    fn chl_1_windows_are_local_time() {
        let s = thursday_morning(1, 0);
        // 2026-11-26 is a Thursday; Chicago is UTC-6 in November.
        assert!(s.window_at(t("2026-11-26T15:00:00Z")).is_some());
        assert!(s.window_at(t("2026-11-26T14:59:59Z")).is_none());
        assert!(
            s.window_at(t("2026-11-26T18:00:00Z")).is_none(),
            "end is exclusive"
        );
        // In July Chicago is UTC-5.
        assert!(s.window_at(t("2026-07-02T14:00:00Z")).is_some());
        assert!(
            s.window_at(t("2026-11-25T15:00:00Z")).is_none(),
            "a Wednesday"
        );
        let span = s.window_at(t("2026-11-26T16:00:00Z")).unwrap();
        assert_eq!(span.start, t("2026-11-26T15:00:00Z"));
        assert_eq!(span.end, t("2026-11-26T18:00:00Z"));
    }

    #[test]
    fn chl_1_schedule_is_checked_against_policy() {
        let p = default_policy();
        assert!(thursday_morning(3, 4).check_policy(&p).is_ok());
        assert!(matches!(
            thursday_morning(4, 0).check_policy(&p),
            Err(ScheduleError::DailyCapOutOfPolicy { value: 4, max: 3 })
        ));
        assert!(matches!(
            thursday_morning(1, 5).check_policy(&p),
            Err(ScheduleError::AdHocCapOutOfPolicy { value: 5, max: 4 })
        ));
    }

    #[test]
    fn chl_1_bad_schedules_are_refused() {
        let w = |d, a: &str, b: &str| Window {
            weekday: d,
            start: a.parse().unwrap(),
            end: b.parse().unwrap(),
        };
        assert!(matches!(
            Schedule::new(
                "Mars/Olympus",
                vec![w(Weekday::Monday, "09:00", "10:00")],
                1,
                0
            ),
            Err(ScheduleError::UnknownTimeZone { .. })
        ));
        assert_eq!(
            Schedule::new("UTC", vec![], 1, 0).unwrap_err(),
            ScheduleError::NoWindows
        );
        assert!(matches!(
            Schedule::new("UTC", vec![w(Weekday::Monday, "10:00", "10:00")], 1, 0),
            Err(ScheduleError::EmptyWindow { .. })
        ));
        assert!(matches!(
            Schedule::new(
                "UTC",
                vec![
                    w(Weekday::Monday, "09:00", "11:00"),
                    w(Weekday::Monday, "10:00", "12:00")
                ],
                2,
                0
            ),
            Err(ScheduleError::OverlappingWindows { .. })
        ));
        assert!(matches!(
            Schedule::new(
                "UTC",
                vec![
                    w(Weekday::Monday, "09:00", "10:00"),
                    w(Weekday::Monday, "11:00", "12:00")
                ],
                1,
                0
            ),
            Err(ScheduleError::TooManyWindows {
                count: 2,
                cap: 1,
                ..
            })
        ));
        assert_eq!(
            Schedule::new("UTC", vec![w(Weekday::Monday, "09:00", "10:00")], 0, 0).unwrap_err(),
            ScheduleError::ZeroDailyCap
        );
        assert!("25:00".parse::<LocalTime>().is_err());
        assert!("9:00".parse::<LocalTime>().is_err());
        assert!("24:00".parse::<LocalTime>().is_ok());
    }

    #[test]
    fn chl_2_one_scheduled_challenge_per_window() {
        let s = thursday_morning(3, 0);
        let first = Slot {
            at: t("2026-11-26T15:00:00Z"),
            kind: ChallengeKind::Scheduled,
        };
        assert!(s.admits(&[], first).is_ok());
        let second = Slot {
            at: t("2026-11-26T16:00:00Z"),
            kind: ChallengeKind::Scheduled,
        };
        assert_eq!(
            s.admits(&[first], second),
            Err(ScheduleViolation::ScheduledAlreadyIssued)
        );
        let outside = Slot {
            at: t("2026-11-26T20:00:00Z"),
            kind: ChallengeKind::AdHoc,
        };
        assert_eq!(
            s.admits(&[], outside),
            Err(ScheduleViolation::OutsideWindow)
        );
    }

    #[test]
    fn chl_3_daily_cap_counts_every_challenge() {
        let s = thursday_morning(2, 8);
        let mut prior = vec![];
        for (i, minute) in ["15:00", "15:10", "15:20"].iter().enumerate() {
            let slot = Slot {
                at: t(&format!("2026-11-26T{minute}:00Z")),
                kind: if i == 0 {
                    ChallengeKind::Scheduled
                } else {
                    ChallengeKind::AdHoc
                },
            };
            let r = s.admits(&prior, slot);
            if i < 2 {
                assert!(r.is_ok(), "{i}: {r:?}");
                prior.push(slot);
            } else {
                assert_eq!(r, Err(ScheduleViolation::DailyCapReached { cap: 2 }));
            }
        }
    }

    #[test]
    fn chl_4_adhoc_cap_is_a_rolling_30_days() {
        let s = thursday_morning(3, 2);
        let adhoc = |d: &str| Slot {
            at: t(&format!("{d}T16:00:00Z")),
            kind: ChallengeKind::AdHoc,
        };
        let prior = [adhoc("2026-11-05"), adhoc("2026-11-12")];
        assert_eq!(
            s.admits(&prior, adhoc("2026-11-26")),
            Err(ScheduleViolation::AdHocCapReached { cap: 2 })
        );
        // 2026-12-10 is 35 days after 11-05 but 28 after 11-12: one in the last 30 days.
        assert!(s.admits(&prior, adhoc("2026-12-10")).is_ok());
    }

    #[test]
    fn chl_10_adhoc_cap_counts_challenges_placed_later_too() {
        // The bypass: ad-hoc challenges placed at decreasing times each saw none of the
        // earlier ones "before" them, so a cap of 1 let the daily cap's worth through.
        let s = thursday_morning(3, 1);
        let adhoc = |hm: &str| Slot {
            at: t(&format!("2026-11-26T{hm}:00Z")),
            kind: ChallengeKind::AdHoc,
        };
        let first = adhoc("17:00");
        assert!(s.admits(&[], first).is_ok());
        for earlier in ["16:30", "16:00", "17:00"] {
            assert_eq!(
                s.admits(&[first], adhoc(earlier)),
                Err(ScheduleViolation::AdHocCapReached { cap: 1 }),
                "{earlier}"
            );
        }
        // 30 days either side is the limit: a challenge placed 30 days earlier than the
        // first is not within 30 days of it.
        let before = Slot {
            at: first.at.plus(-(THIRTY_DAYS as i64)),
            kind: ChallengeKind::AdHoc,
        };
        let placed = |slot: Slot| Placement {
            window: WindowSpan {
                start: t("2026-10-29T14:00:00Z"),
                end: t("2026-10-29T17:00:00Z"),
            },
            at: slot.at,
            kind: slot.kind,
        };
        assert!(
            s.admits_placement(
                &[Placement {
                    window: s.window_at(first.at).unwrap(),
                    at: first.at,
                    kind: first.kind
                }],
                placed(before)
            )
            .is_ok()
        );
        assert_eq!(
            s.admits_placement(
                &[Placement {
                    window: s.window_at(first.at).unwrap(),
                    at: first.at,
                    kind: first.kind
                }],
                placed(Slot {
                    at: before.at.plus(1),
                    kind: ChallengeKind::AdHoc
                })
            ),
            Err(ScheduleViolation::AdHocCapReached { cap: 1 })
        );
    }

    #[test]
    fn chl_10_a_window_that_is_not_an_occurrence_is_outside() {
        let s = thursday_morning(3, 3);
        let real = s.window_at(t("2026-11-26T16:00:00Z")).unwrap();
        for window in [
            WindowSpan {
                start: real.start.plus(-60),
                end: real.end,
            },
            WindowSpan {
                start: real.start,
                end: real.end.plus(60),
            },
            WindowSpan {
                start: t("2026-11-25T15:00:00Z"),
                end: t("2026-11-25T18:00:00Z"),
            },
        ] {
            assert_eq!(
                s.admits_placement(
                    &[],
                    Placement {
                        window,
                        at: real.start,
                        kind: ChallengeKind::AdHoc
                    }
                ),
                Err(ScheduleViolation::OutsideWindow)
            );
        }
    }

    mod order {
        use super::*;
        use proptest::prelude::*;

        /// Thursday 09:00–12:00 and 14:00–15:00 and Monday 09:00–12:00, Chicago: three
        /// window occurrences a week.
        fn schedule(daily: u8, adhoc: u8) -> Schedule {
            let w = |d, a: &str, b: &str| Window {
                weekday: d,
                start: a.parse().unwrap(),
                end: b.parse().unwrap(),
            };
            Schedule::new(
                "America/Chicago",
                vec![
                    w(Weekday::Thursday, "09:00", "12:00"),
                    w(Weekday::Thursday, "14:00", "15:00"),
                    w(Weekday::Monday, "09:00", "12:00"),
                ],
                daily,
                adhoc,
            )
            .unwrap()
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            /// Whatever order challenges are offered in, the ones admitted one at a time
            /// keep every window, every local day and every 30 days within the caps, and
            /// the answer for a candidate does not depend on the order of `prior`.
            #[test]
            fn chl_10_any_order_of_admission_keeps_every_period_within_the_caps(
                daily in 2u8..=3,
                adhoc in 0u8..=4,
                offers in proptest::collection::vec((0usize..30, 0i64..4 * 3_600, any::<bool>()), 1..80),
                seed in any::<u64>(),
            ) {
                let s = schedule(daily, adhoc);
                let from = t("2026-10-01T00:00:00Z");
                let spans = s.spans_between(from, from.plus(80 * 86_400));
                prop_assert!(spans.len() >= 30);
                let mut prior: Vec<Slot> = Vec::new();
                for (i, offset, is_adhoc) in offers {
                    let span = spans[i];
                    let slot = Slot {
                        at: span.start.plus(offset % (span.end.seconds() - span.start.seconds())),
                        kind: if is_adhoc { ChallengeKind::AdHoc } else { ChallengeKind::Scheduled },
                    };
                    let verdict = s.admits(&prior, slot);
                    // The same verdict for `prior` in another order.
                    let mut shuffled = prior.clone();
                    let n = shuffled.len();
                    if n > 1 {
                        let mut x = seed;
                        for k in (1..n).rev() {
                            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                            shuffled.swap(k, (x >> 33) as usize % (k + 1));
                        }
                    }
                    prop_assert_eq!(s.admits(&shuffled, slot), verdict);
                    if verdict.is_ok() {
                        prior.push(slot);
                    }
                }
                for (i, a) in prior.iter().enumerate() {
                    let w = s.window_at(a.at).unwrap();
                    let in_window: Vec<_> = prior.iter().filter(|b| w.contains(b.at)).collect();
                    prop_assert!(in_window.iter().filter(|b| b.kind == ChallengeKind::Scheduled).count() <= 1);
                    let day = s.local_date(a.at);
                    prop_assert!(prior.iter().filter(|b| s.local_date(b.at) == day).count() <= usize::from(daily));
                    // The 30 days ending at each admitted ad-hoc challenge.
                    if a.kind == ChallengeKind::AdHoc {
                        let since = a.at.plus(-(THIRTY_DAYS as i64));
                        let n = prior
                            .iter()
                            .filter(|b| b.kind == ChallengeKind::AdHoc && since < b.at && b.at <= a.at)
                            .count();
                        prop_assert!(n <= usize::from(adhoc), "{} ad-hoc in the 30 days to #{}", n, i);
                    }
                }
            }
        }
    }

    #[test]
    fn chl_1_spans_between_lists_occurrences() {
        let s = thursday_morning(1, 0);
        let spans = s.spans_between(t("2026-11-01T00:00:00Z"), t("2026-12-01T00:00:00Z"));
        assert_eq!(spans.len(), 4, "four Thursdays in November 2026");
        assert!(spans.windows(2).all(|p| p[0].start < p[1].start));
    }

    #[test]
    fn chl_1_schedule_json_round_trip_and_validation() {
        let s = thursday_morning(1, 2);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(
            json,
            r#"{"time_zone":"America/Chicago","windows":[{"weekday":"thursday","start":"09:00","end":"12:00"}],"daily_cap":1,"adhoc_cap_30d":2}"#
        );
        assert_eq!(serde_json::from_str::<Schedule>(&json).unwrap(), s);
        let bad = json.replace("America/Chicago", "Nowhere/Atlantis");
        assert!(serde_json::from_str::<Schedule>(&bad).is_err());
        let extra = json.replace("\"daily_cap\"", "\"gps_interval\":60,\"daily_cap\"");
        assert!(serde_json::from_str::<Schedule>(&extra).is_err());
    }
}
