//! Location by construction (LOC-3, LOC-4).
//!
//! A location fix exists only inside an accepted check-in, and only when the supervising
//! agency or a court ordered a zone:
//!
//! - the library calls the platform's [`LocationSource`] only with a [`FixCapability`],
//!   which it makes once per accepted challenge and only when the enrollment has a zone;
//!   the capability is consumed by the call, so one challenge gives at most one fix;
//! - a [`Fix`] can be made only by consuming a capability; it has no `Clone`, no
//!   `Serialize`, no `Debug` that shows a coordinate, and no accessor: nothing outside this
//!   module can read its coordinates;
//! - the only thing that reads them is [`Zone::test`], which consumes the fix (zeroizing
//!   it) and returns a [`ZoneResult`]: inside, outside, or unavailable. That result is all
//!   that leaves the device (LOC-2).
//!
//! Compile-fail tests (`tests/compile-fail/`) show that a fix cannot be serialized, cloned,
//! printed or read, and that a capability cannot be made outside the library.

use std::fmt;

use geo::{Contains as _, Intersects as _};
use minimis_proto::{ChallengeId, ZoneResult};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The right to take one location fix, for one accepted challenge. Made only by the
/// library; consumed by [`LocationSource::one_fix`] or [`FixCapability::into_fix`].
#[must_use = "a capability that is not used takes no fix"]
pub struct FixCapability {
    challenge: ChallengeId,
    // Private: no code outside this crate can make one.
    _private: (),
}

impl FixCapability {
    pub(crate) fn new(challenge: ChallengeId) -> Self {
        Self {
            challenge,
            _private: (),
        }
    }

    /// The challenge this capability was made for.
    pub fn challenge(&self) -> ChallengeId {
        self.challenge
    }

    /// Turns the platform's one reading into a [`Fix`], consuming the capability.
    /// Coordinates are WGS 84 degrees.
    pub fn into_fix(self, latitude: f64, longitude: f64) -> Fix {
        Fix {
            latitude,
            longitude,
        }
    }
}

impl fmt::Debug for FixCapability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FixCapability")
            .field("challenge", &self.challenge)
            .finish_non_exhaustive()
    }
}

/// One location reading. No `Clone`, `Serialize`, coordinate `Debug` or accessor; zeroized
/// when dropped; consumed by [`Zone::test`].
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Fix {
    latitude: f64,
    longitude: f64,
}

impl fmt::Debug for Fix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Fix(<redacted>)")
    }
}

/// Why no fix could be taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LocationError {
    /// The platform gave no reading (no signal, timeout).
    #[error("no location reading was available")]
    Unavailable,
    /// The participant or the platform refused location permission.
    #[error("location permission was refused")]
    PermissionRefused,
}

/// The platform's location service, as the library sees it: one reading, for one
/// capability.
///
/// An implementation reads the platform's location once and returns
/// `cap.into_fix(lat, lon)`. It must not read the location at any other time; on a mobile
/// platform that means requesting "while using the app" permission only, never background
/// location (POL-21).
pub trait LocationSource {
    /// Takes one reading.
    ///
    /// # Errors
    /// [`LocationError`] when no reading can be taken; the check-in then reports
    /// [`ZoneResult::Unavailable`].
    fn one_fix(&mut self, cap: FixCapability) -> Result<Fix, LocationError>;
}

/// The zone the supervising agency or a court ordered: one or more polygons (GeoJSON,
/// RFC 7946). Kept on the device; the operator never receives it.
#[derive(Clone, PartialEq)]
pub struct Zone {
    area: geo::MultiPolygon<f64>,
    geojson: String,
}

impl fmt::Debug for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Zone(<{} polygons>)", self.area.0.len())
    }
}

/// Why a zone file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ZoneError {
    /// Not GeoJSON.
    #[error("the zone is not valid GeoJSON")]
    NotGeoJson,
    /// A geometry that is not a polygon or multipolygon.
    #[error("a zone may contain only Polygon and MultiPolygon geometries")]
    NotPolygons,
    /// No polygon at all.
    #[error("the zone contains no polygon")]
    Empty,
    /// A coordinate outside longitude −180..180 or latitude −90..90, or not finite.
    #[error("a zone coordinate is out of range")]
    OutOfRange,
}

/// A GeoJSON position as a coordinate: a position has two or more numbers (RFC 7946
/// §3.1.1); the geojson crate reads one of fewer, and its own conversion then panics, so
/// positions are converted here.
fn coord(p: &geojson::Position) -> Result<geo::Coord<f64>, ZoneError> {
    match p.as_slice() {
        [x, y, ..] => Ok(geo::Coord { x: *x, y: *y }),
        _ => Err(ZoneError::NotGeoJson),
    }
}

/// A GeoJSON polygon (its exterior ring, then its holes) as a georust polygon.
fn polygon(rings: &[Vec<geojson::Position>]) -> Result<geo::Polygon<f64>, ZoneError> {
    let ring = |r: &Vec<geojson::Position>| -> Result<geo::LineString<f64>, ZoneError> {
        r.iter()
            .map(coord)
            .collect::<Result<Vec<_>, _>>()
            .map(geo::LineString)
    };
    let (exterior, holes) = rings.split_first().ok_or(ZoneError::Empty)?;
    Ok(geo::Polygon::new(
        ring(exterior)?,
        holes.iter().map(ring).collect::<Result<_, _>>()?,
    ))
}

impl Zone {
    /// Reads a zone from GeoJSON: a geometry, a feature or a feature collection, whose
    /// geometries are all polygons or multipolygons.
    ///
    /// # Errors
    /// [`ZoneError`].
    pub fn from_geojson(text: &str) -> Result<Self, ZoneError> {
        let gj: geojson::GeoJson = text.parse().map_err(|_| ZoneError::NotGeoJson)?;
        let geometries: Vec<geojson::Geometry> = match gj {
            geojson::GeoJson::Geometry(g) => vec![g],
            geojson::GeoJson::Feature(f) => f.geometry.into_iter().collect(),
            geojson::GeoJson::FeatureCollection(c) => {
                c.features.into_iter().filter_map(|f| f.geometry).collect()
            }
        };
        let mut polygons = Vec::new();
        for g in geometries {
            match &g.value {
                geojson::GeometryValue::Polygon { coordinates } => {
                    polygons.push(polygon(coordinates)?);
                }
                geojson::GeometryValue::MultiPolygon { coordinates } => {
                    for p in coordinates {
                        polygons.push(polygon(p)?);
                    }
                }
                _ => return Err(ZoneError::NotPolygons),
            }
        }
        if polygons.is_empty() {
            return Err(ZoneError::Empty);
        }
        let ok = |c: &geo::Coord<f64>| {
            c.x.is_finite()
                && c.y.is_finite()
                && (-180.0..=180.0).contains(&c.x)
                && (-90.0..=90.0).contains(&c.y)
        };
        for p in &polygons {
            let rings = std::iter::once(p.exterior()).chain(p.interiors());
            for ring in rings {
                if ring.0.len() < 4 {
                    return Err(ZoneError::Empty);
                }
                if !ring.0.iter().all(ok) {
                    return Err(ZoneError::OutOfRange);
                }
            }
        }
        Ok(Self {
            area: geo::MultiPolygon(polygons),
            geojson: text.to_owned(),
        })
    }

    /// The GeoJSON it was read from (kept on the device, encrypted at rest).
    pub fn geojson(&self) -> &str {
        &self.geojson
    }

    /// The zone test, on the device: consumes the fix and returns only whether it was in
    /// the zone. A point on the boundary counts as inside.
    pub fn test(&self, fix: Fix) -> ZoneResult {
        let point = geo::Point::new(fix.longitude, fix.latitude);
        drop(fix);
        if !point.x().is_finite() || !point.y().is_finite() {
            return ZoneResult::Unavailable;
        }
        if self.area.contains(&point) || self.area.intersects(&point) {
            ZoneResult::Inside
        } else {
            ZoneResult::Outside
        }
    }
}

/// Takes the one fix a challenge allows, if a zone was ordered, and reduces it to a zone
/// result; with no zone, takes no fix at all (LOC-3).
pub(crate) fn zone_result(
    zone: Option<&Zone>,
    challenge: ChallengeId,
    source: &mut dyn LocationSource,
) -> ZoneResult {
    match zone {
        None => ZoneResult::NotRequired,
        Some(zone) => match source.one_fix(FixCapability::new(challenge)) {
            Ok(fix) => zone.test(fix),
            Err(_) => ZoneResult::Unavailable,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUSTON_SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[-95.5,29.6],[-95.2,29.6],[-95.2,29.9],[-95.5,29.9],[-95.5,29.6]]]}"#;

    struct At(f64, f64, u32);

    impl LocationSource for At {
        fn one_fix(&mut self, cap: FixCapability) -> Result<Fix, LocationError> {
            self.2 += 1;
            Ok(cap.into_fix(self.0, self.1))
        }
    }

    struct NoSignal;

    impl LocationSource for NoSignal {
        fn one_fix(&mut self, _cap: FixCapability) -> Result<Fix, LocationError> {
            Err(LocationError::Unavailable)
        }
    }

    #[test]
    fn aud_40_loc_4_a_position_of_one_number_is_refused_not_a_panic() {
        // Found by the `zone` fuzz target (fuzz/regressions/zone/): the geojson crate
        // reads `[9.6]` as a position, and its conversion to georust indexes past it.
        let short = r#"{"type":"Polygon","coordinates":[[[-95.5,29.6],[9.6],[-95.2,29.6],[-95.5,29.9],[-95.5,29.6]]]}"#;
        assert_eq!(Zone::from_geojson(short), Err(ZoneError::NotGeoJson));
        let multi = r#"{"type":"MultiPolygon","coordinates":[[[[1,2],[3,4],[5],[1,2]]]]}"#;
        assert_eq!(Zone::from_geojson(multi), Err(ZoneError::NotGeoJson));
        let hole = r#"{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]],[[0.1,0.1],[]]]}"#;
        assert_eq!(Zone::from_geojson(hole), Err(ZoneError::NotGeoJson));
        // No ring at all is no polygon.
        let none = r#"{"type":"Polygon","coordinates":[]}"#;
        assert_eq!(Zone::from_geojson(none), Err(ZoneError::Empty));
        // A third number (an altitude) is allowed by RFC 7946 and ignored.
        let z = r#"{"type":"Polygon","coordinates":[[[-95.5,29.6,10],[-95.2,29.6,10],[-95.2,29.9,10],[-95.5,29.6,10]]]}"#;
        assert!(Zone::from_geojson(z).is_ok());
    }

    #[test]
    fn loc_2_loc_4_the_zone_test_yields_only_a_result() {
        let zone = Zone::from_geojson(HOUSTON_SQUARE).unwrap();
        let c = ChallengeId::from_bytes([1; 16]);
        assert_eq!(
            zone_result(Some(&zone), c, &mut At(29.76, -95.37, 0)),
            ZoneResult::Inside
        );
        assert_eq!(
            zone_result(Some(&zone), c, &mut At(30.27, -97.74, 0)),
            ZoneResult::Outside,
            "Austin is outside"
        );
        assert_eq!(
            zone_result(Some(&zone), c, &mut NoSignal),
            ZoneResult::Unavailable
        );
        assert_eq!(
            zone.test(FixCapability::new(c).into_fix(29.6, -95.3)),
            ZoneResult::Inside,
            "the boundary counts as inside"
        );
    }

    #[test]
    fn loc_3_no_zone_no_fix() {
        let mut source = At(29.76, -95.37, 0);
        let r = zone_result(None, ChallengeId::from_bytes([1; 16]), &mut source);
        assert_eq!(r, ZoneResult::NotRequired);
        assert_eq!(source.2, 0, "no fix was taken");
    }

    #[test]
    fn loc_4_fix_debug_shows_no_coordinate() {
        let fix = FixCapability::new(ChallengeId::from_bytes([1; 16])).into_fix(29.7601, -95.3701);
        let dbg = format!("{fix:?}");
        assert!(!dbg.contains("29.76") && !dbg.contains("95.37"), "{dbg}");
    }

    #[test]
    fn zones_are_validated() {
        assert_eq!(Zone::from_geojson("{").unwrap_err(), ZoneError::NotGeoJson);
        assert_eq!(
            Zone::from_geojson(r#"{"type":"Point","coordinates":[-95.3,29.7]}"#).unwrap_err(),
            ZoneError::NotPolygons
        );
        assert_eq!(
            Zone::from_geojson(r#"{"type":"FeatureCollection","features":[]}"#).unwrap_err(),
            ZoneError::Empty
        );
        assert_eq!(
            Zone::from_geojson(
                r#"{"type":"Polygon","coordinates":[[[-195.5,29.6],[-95.2,29.6],[-95.2,29.9],[-195.5,29.6]]]}"#
            )
            .unwrap_err(),
            ZoneError::OutOfRange
        );
        let feature =
            format!(r#"{{"type":"Feature","properties":{{}},"geometry":{HOUSTON_SQUARE}}}"#);
        assert!(Zone::from_geojson(&feature).is_ok());
    }
}
