//! Canaries: values a party must never hold, and a scanner that looks for every usual
//! encoding of each in every file under a directory.
//!
//! `minimis demo` uses it to measure, rather than assert, what the operator holds at the
//! end of its run: it collects every secret key, location fix and name that existed
//! during the run, and scans the operator's data directory (database, WAL, shared
//! memory, request log) and the backups made of it. The tests plant one canary of each
//! kind in a copy of those files and check that the scanner reports it, so that a count
//! of zero means "searched and not found", not "never searched".
//!
//! What is searched for, by [`Kind`]:
//!
//! - [`Kind::Key`]: a secret key of another party. An age X25519 identity as its
//!   `AGE-SECRET-KEY-1…` Bech32 string (upper and lower case) and as its raw 32-byte
//!   scalar; any 32-byte secret (a device's Ed25519 seed, a keystore's key file) raw, in
//!   hex (both cases) and in base64 (standard and URL-safe alphabets: the characters that
//!   do not depend on padding); and, whatever the key, any `AGE-SECRET-KEY-` prefix.
//! - [`Kind::Location`]: each coordinate of a fix as an IEEE 754 double, big- and
//!   little-endian (SQLite stores a REAL big-endian), and as decimal text, shortest
//!   round-trip form (Rust's `{}`, what JSON serializers write) and every fixed precision
//!   from 4 to 17 decimals; a zone's GeoJSON verbatim, and each vertex as both doubles and
//!   as a `lon,lat` or `lat,lon` pair of text at the same precisions.
//! - [`Kind::Image`]: the headers of common image formats (below).
//! - [`Kind::Name`]: texts as UTF-8, as given and in upper case.
//! - [`Kind::Content`]: what a device seals (a participant's note), as [`Kind::Name`].
//! - [`Kind::Control`]: something the scanned party holds *by design*, with the same
//!   encodings as [`Kind::Key`] or [`Kind::Name`]: a positive control, whose being found
//!   shows that the scan read the files and matched the encoding.
//!
//! Not searched for: UTF-16 text, a coordinate as a 32-bit float or as an integer in
//! units of 1e-7 degree (four bytes each: one would match by chance about once in 4 GB of
//! random bytes per pattern, too often for a check that fails the demo), shortest-form
//! text of fewer than [`MIN_PATTERN_LEN`] bytes, a coordinate as a double with three or
//! more zero bytes (a whole or half degree such as -88.0, `C0 56 00 …`: two bytes of chance
//! before a run of zeros; such values are searched for as text only), and data compressed
//! or encrypted by the party itself (which the party can read, and the scan cannot).
//!
//! # Chance matches
//!
//! Most of what the operator holds is ciphertext, indistinguishable from random bytes.
//! A pattern of `n` fixed bytes matches a random position with probability `2^-8n`: a
//! 32-byte key, a 15-byte `AGE-SECRET-KEY-` or an 8-byte double never matches by chance
//! (at most 2^-64 a byte). Image magic numbers are short, so they are not searched bare:
//! JPEG's `FF D8 FF` alone would match a random position with probability 2^-24, about
//! 0.6 times in 10 MB of ciphertext. The rules are therefore:
//!
//! | format | rule | chance a random byte starts a match |
//! |---|---|---|
//! | PNG | the 8-byte signature `89 50 4E 47 0D 0A 1A 0A` | 2^-64 |
//! | GIF | `GIF87a` or `GIF89a` | 2 × 2^-48 ≈ 7.1e-15 |
//! | WebP | `RIFF`, 4 bytes of size, `WEBP` | 2^-64 |
//! | HEIF, HEIC, AVIF | `ftyp` and a brand: `heic`, `heix`, `hevc`, `heim`, `heis`, `mif1`, `msf1`, `avif` | 8 × 2^-64 |
//! | JPEG | `FF D8 FF`, then an APP0 `JFIF\0`/`JFXX\0`, APP1 `Exif\0\0`/XMP, APP2 `ICC_PROFILE\0` or APP14 `Adobe` segment, or else three well-formed segments in a row (each `FF`, one of the 34 markers a JPEG header starts with, a length of at least 2) | 2^-40 × (34/256)^3 ≈ 2.1e-15 |
//!
//! In all, [`IMAGE_CHANCE_PER_BYTE`] ≈ 9.2e-15 a byte: 9e-6 chance matches expected in
//! 1 GB of random bytes, where bare `FF D8 FF` would give about 60. [`Scan::image_chance`]
//! gives the figure for the bytes a scan read.
//!
//! The patterns are secrets (keys): they are kept in zeroizing buffers and never printed;
//! the search automaton holds copies that are not zeroized, which is why this lives in
//! the testkit and the demo, which hold every party's keys anyway, and nowhere else.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use serde::Serialize;
use zeroize::Zeroizing;

/// The shortest pattern searched for, in bytes: six fixed bytes match a random position
/// with probability 2^-48.
pub const MIN_PATTERN_LEN: usize = 6;

/// The chance that a random byte starts a match of one of the image rules (module docs):
/// GIF's two 6-byte signatures, the JPEG rule's three segments, and ten 8-byte
/// signatures (PNG, WebP, eight HEIF brands). The JPEG rule's named segments (at least
/// 9 fixed bytes, 2^-72) are left out as negligible.
pub const IMAGE_CHANCE_PER_BYTE: f64 = {
    let byte = 1.0 / 256.0;
    let marker = 34.0 / 256.0;
    let six = byte * byte * byte * byte * byte * byte;
    2.0 * six
        + byte * byte * byte * marker * (byte * marker) * (byte * marker)
        + 10.0 * six * byte * byte
};

/// How many bytes after its first byte a structural check may read (a JPEG header's
/// first three segments, each at most 2 + 65535 bytes, after the 2-byte SOI).
const LOOKAHEAD: usize = 2 + 3 * (2 + 0xFFFF) + 2;

/// How much of a file is searched at once.
const CHUNK: usize = 4 << 20;

/// How many hits a scan keeps the details of (the counts are exact).
pub const HITS_KEPT: usize = 32;

/// What a canary is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// A secret key of another party.
    Key,
    /// A location: a fix's coordinates, a zone.
    Location,
    /// An image.
    Image,
    /// A person's name, or an identifier such as a case number.
    Name,
    /// Content sealed on the device (a participant's note), as plain text.
    Content,
    /// Something the scanned party holds by design (a positive control).
    Control,
}

impl Kind {
    /// Every kind, in order.
    pub const ALL: [Kind; 6] = [
        Kind::Key,
        Kind::Location,
        Kind::Image,
        Kind::Name,
        Kind::Content,
        Kind::Control,
    ];
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Key => "secret key",
            Kind::Location => "location",
            Kind::Image => "image",
            Kind::Name => "name",
            Kind::Content => "sealed content",
            Kind::Control => "control",
        })
    }
}

/// Why a canary could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanaryError {
    /// Not an age X25519 identity (`AGE-SECRET-KEY-1…`).
    #[error("{label}: not an age X25519 identity")]
    NotAnAgeIdentity {
        /// The canary's label.
        label: String,
    },
    /// Too short to search for without chance matches.
    #[error("{label}: {len} bytes is too short to search for (at least {MIN_PATTERN_LEN})")]
    TooShort {
        /// The canary's label.
        label: String,
        /// Its length.
        len: usize,
    },
    /// A coordinate that is not a finite number.
    #[error("{label}: a coordinate is not a finite number")]
    NotFinite {
        /// The canary's label.
        label: String,
    },
    /// Not a GeoJSON geometry with coordinates.
    #[error("{label}: not a GeoJSON geometry with coordinates")]
    NotGeoJson {
        /// The canary's label.
        label: String,
    },
}

/// Why a scan failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// A file or directory could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// What could not be read.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The search automaton could not be built.
    #[error("cannot build the search automaton: {0}")]
    Build(#[from] aho_corasick::BuildError),
}

/// A structural check after a pattern's first byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Check {
    /// The pattern alone.
    None,
    /// `FF D8 FF` starts a plausible JPEG header.
    Jpeg,
    /// `RIFF` is followed by a size and `WEBP`.
    Webp,
}

struct Item {
    kind: Kind,
    label: String,
}

struct Pattern {
    item: usize,
    encoding: &'static str,
    check: Check,
}

/// One place a canary was found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Hit {
    /// The file.
    pub path: PathBuf,
    /// The byte offset in it.
    pub offset: u64,
    /// The canary's kind.
    pub kind: Kind,
    /// The canary's label (never the secret itself).
    pub canary: String,
    /// The encoding that matched.
    pub encoding: &'static str,
}

/// What a scan read and found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Scan {
    /// Files read.
    pub files: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Files listed that were gone when they were opened.
    pub vanished: u64,
    /// Occurrences by kind: distinct (file, offset) pairs for every kind but
    /// [`Kind::Control`], all matches for controls.
    pub found: BTreeMap<Kind, u64>,
    /// Canaries found at least once, by kind.
    pub canaries_found: BTreeMap<Kind, u64>,
    /// The first [`HITS_KEPT`] hits that are not controls.
    pub hits: Vec<Hit>,
}

impl Scan {
    /// Occurrences of `kind`.
    pub fn found(&self, kind: Kind) -> u64 {
        self.found.get(&kind).copied().unwrap_or(0)
    }

    /// Canaries of `kind` found at least once.
    pub fn canaries_found(&self, kind: Kind) -> u64 {
        self.canaries_found.get(&kind).copied().unwrap_or(0)
    }

    /// The image matches expected by chance if every byte read were random.
    pub fn image_chance(&self) -> f64 {
        self.bytes as f64 * IMAGE_CHANCE_PER_BYTE
    }
}

/// A set of canaries to search for. Holds secrets: zeroized on drop, redacted in `Debug`,
/// no `Clone` or `Serialize`.
pub struct Canaries {
    items: Vec<Item>,
    bytes: Vec<Zeroizing<Vec<u8>>>,
    patterns: Vec<Pattern>,
}

impl fmt::Debug for Canaries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Canaries")
            .field("canaries", &self.items.len())
            .field("patterns", &self.patterns.len())
            .finish_non_exhaustive()
    }
}

impl Default for Canaries {
    fn default() -> Self {
        Self::new()
    }
}

/// `v` as decimal text: the shortest round-trip form and every precision from 4 to 17.
fn decimal_texts(v: f64) -> Vec<String> {
    let mut t: Vec<String> = std::iter::once(format!("{v}"))
        .chain((4..=17).map(|p| format!("{v:.p$}")))
        .collect();
    t.sort();
    t.dedup();
    t
}

impl Canaries {
    /// The canaries every scan looks for: the image headers and any age secret key.
    pub fn new() -> Self {
        let mut c = Self {
            items: Vec::new(),
            bytes: Vec::new(),
            patterns: Vec::new(),
        };
        let png = c.item(Kind::Image, "a PNG image");
        c.pattern(png, "signature", b"\x89PNG\r\n\x1a\n", Check::None);
        let gif = c.item(Kind::Image, "a GIF image");
        c.pattern(gif, "GIF87a", b"GIF87a", Check::None);
        c.pattern(gif, "GIF89a", b"GIF89a", Check::None);
        let webp = c.item(Kind::Image, "a WebP image");
        c.pattern(webp, "RIFF....WEBP", b"RIFF", Check::Webp);
        let heif = c.item(Kind::Image, "a HEIF, HEIC or AVIF image");
        for brand in [
            b"ftypheic",
            b"ftypheix",
            b"ftyphevc",
            b"ftypheim",
            b"ftypheis",
            b"ftypmif1",
            b"ftypmsf1",
            b"ftypavif",
        ] {
            c.pattern(heif, "ftyp box", brand, Check::None);
        }
        let jpeg = c.item(Kind::Image, "a JPEG image");
        c.pattern(jpeg, "SOI and header", b"\xFF\xD8\xFF", Check::Jpeg);
        let age = c.item(Kind::Key, "any age secret key");
        c.pattern(age, "AGE-SECRET-KEY-", b"AGE-SECRET-KEY-", Check::None);
        c.pattern(age, "age-secret-key-", b"age-secret-key-", Check::None);
        c
    }

    fn item(&mut self, kind: Kind, label: impl Into<String>) -> usize {
        self.items.push(Item {
            kind,
            label: label.into(),
        });
        self.items.len() - 1
    }

    fn pattern(&mut self, item: usize, encoding: &'static str, bytes: &[u8], check: Check) {
        self.bytes.push(Zeroizing::new(bytes.to_vec()));
        self.patterns.push(Pattern {
            item,
            encoding,
            check,
        });
    }

    fn fixed(&mut self, item: usize, encoding: &'static str, bytes: &[u8]) {
        if bytes.len() >= MIN_PATTERN_LEN {
            self.pattern(item, encoding, bytes, Check::None);
        }
    }

    /// How many canaries of `kind` are searched for.
    pub fn count(&self, kind: Kind) -> u64 {
        self.items.iter().filter(|i| i.kind == kind).count() as u64
    }

    /// How many patterns (encodings) of `kind` are searched for.
    pub fn patterns(&self, kind: Kind) -> u64 {
        self.patterns
            .iter()
            .filter(|p| self.items[p.item].kind == kind)
            .count() as u64
    }

    /// A secret (or, for [`Kind::Control`], a public) byte string: raw, hex in both
    /// cases, base64 in both alphabets at each of its three alignments.
    ///
    /// # Errors
    /// [`CanaryError::TooShort`] under 16 bytes: its hex and base64 forms are searched
    /// for too, and a short secret is not a key.
    pub fn add_bytes(
        &mut self,
        kind: Kind,
        label: impl Into<String>,
        bytes: &[u8],
    ) -> Result<(), CanaryError> {
        let label = label.into();
        if bytes.len() < 16 {
            return Err(CanaryError::TooShort {
                label,
                len: bytes.len(),
            });
        }
        let item = self.item(kind, label);
        self.pattern(item, "raw", bytes, Check::None);
        let lower = Zeroizing::new(hex::encode(bytes));
        self.pattern(item, "hex", lower.as_bytes(), Check::None);
        let upper = Zeroizing::new(lower.to_ascii_uppercase());
        self.pattern(item, "HEX", upper.as_bytes(), Check::None);
        // Base64 at each of the three alignments the bytes may have inside a longer
        // encoded text (at 0, 1 or 2 bytes past a multiple of three): the characters
        // fixed by the bytes alone, 6 bits each, so a partial character at either end
        // (which depends on the bytes around) is left out.
        for shift in 0..3usize {
            let first = (8 * shift).div_ceil(6);
            let end = 8 * (shift + bytes.len()) / 6;
            for (encoding, engine) in [
                ("base64", &base64::engine::general_purpose::STANDARD_NO_PAD),
                (
                    "base64url",
                    &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                ),
            ] {
                let mut padded = Zeroizing::new(vec![0u8; shift]);
                padded.extend_from_slice(bytes);
                let b = Zeroizing::new(engine.encode(padded.as_slice()));
                let fixed = &b.as_bytes()[first..end];
                if encoding == "base64" || !self.same_as_last(fixed) {
                    self.pattern(item, encoding, fixed, Check::None);
                }
            }
        }
        Ok(())
    }

    fn same_as_last(&self, bytes: &[u8]) -> bool {
        self.bytes.last().is_some_and(|b| b.as_slice() == bytes)
    }

    /// An age X25519 identity (`AGE-SECRET-KEY-1…`): the string in both cases, and its
    /// scalar as [`Canaries::add_bytes`] searches for bytes.
    ///
    /// # Errors
    /// [`CanaryError::NotAnAgeIdentity`].
    pub fn add_age_identity(
        &mut self,
        label: impl Into<String>,
        identity: &str,
    ) -> Result<(), CanaryError> {
        let label = label.into();
        let bad = || CanaryError::NotAnAgeIdentity {
            label: label.clone(),
        };
        let identity = identity.trim();
        let (hrp, scalar) = bech32::decode(identity).map_err(|_| bad())?;
        let scalar = Zeroizing::new(scalar);
        if !hrp.as_str().eq_ignore_ascii_case("AGE-SECRET-KEY-") || scalar.len() != 32 {
            return Err(bad());
        }
        self.add_bytes(Kind::Key, format!("{label} (scalar)"), &scalar)?;
        let item = self.item(Kind::Key, label);
        let upper = Zeroizing::new(identity.to_ascii_uppercase());
        let lower = Zeroizing::new(identity.to_ascii_lowercase());
        self.pattern(item, "AGE-SECRET-KEY-1…", upper.as_bytes(), Check::None);
        self.pattern(item, "age-secret-key-1…", lower.as_bytes(), Check::None);
        Ok(())
    }

    /// A location fix: each coordinate as big- and little-endian doubles and as decimal
    /// text.
    ///
    /// # Errors
    /// [`CanaryError::NotFinite`].
    pub fn add_location(
        &mut self,
        label: impl Into<String>,
        latitude: f64,
        longitude: f64,
    ) -> Result<(), CanaryError> {
        let label = label.into();
        if !latitude.is_finite() || !longitude.is_finite() {
            return Err(CanaryError::NotFinite { label });
        }
        let item = self.item(Kind::Location, label);
        for v in [latitude, longitude] {
            self.doubles(item, v);
            for t in decimal_texts(v) {
                self.fixed(item, "decimal text", t.as_bytes());
            }
        }
        Ok(())
    }

    fn doubles(&mut self, item: usize, v: f64) {
        // A double with three or more zero bytes (a whole or half degree: -88.0 is
        // `C0 56 00 00 00 00 00 00`) is no more than two or three bytes of chance before a
        // run of zeros, which database pages are full of: a demo's write-ahead log held
        // -88.0 that way, by chance. Such values are searched for as text only.
        if v.to_be_bytes().iter().filter(|&&b| b == 0).count() > 2 {
            return;
        }
        self.pattern(item, "f64 big-endian", &v.to_be_bytes(), Check::None);
        self.pattern(item, "f64 little-endian", &v.to_le_bytes(), Check::None);
    }

    /// A zone as GeoJSON: the text verbatim; each vertex as doubles and as coordinate
    /// pairs of text (`lon,lat`, `lon, lat`, `lat,lon`, `lat, lon`).
    ///
    /// # Errors
    /// [`CanaryError::NotGeoJson`], [`CanaryError::NotFinite`].
    pub fn add_zone_geojson(
        &mut self,
        label: impl Into<String>,
        geojson: &str,
    ) -> Result<(), CanaryError> {
        let label = label.into();
        let value: serde_json::Value =
            serde_json::from_str(geojson).map_err(|_| CanaryError::NotGeoJson {
                label: label.clone(),
            })?;
        let mut vertices = Vec::new();
        collect_positions(&value["coordinates"], &mut vertices);
        if vertices.is_empty() {
            return Err(CanaryError::NotGeoJson { label });
        }
        if vertices
            .iter()
            .any(|(lon, lat)| !lon.is_finite() || !lat.is_finite())
        {
            return Err(CanaryError::NotFinite { label });
        }
        vertices.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.total_cmp(&b.1)));
        vertices.dedup();
        let item = self.item(Kind::Location, label);
        self.fixed(item, "GeoJSON", geojson.as_bytes());
        for (lon, lat) in vertices {
            self.doubles(item, lon);
            self.doubles(item, lat);
            let (lons, lats) = (decimal_texts(lon), decimal_texts(lat));
            for (x, y) in lons.iter().zip(&lats) {
                for sep in [",", ", "] {
                    self.fixed(item, "coordinate pair", format!("{x}{sep}{y}").as_bytes());
                    self.fixed(item, "coordinate pair", format!("{y}{sep}{x}").as_bytes());
                }
            }
        }
        Ok(())
    }

    /// A text (a name, a case number), as given and in upper case.
    ///
    /// # Errors
    /// [`CanaryError::TooShort`].
    pub fn add_text(
        &mut self,
        kind: Kind,
        label: impl Into<String>,
        text: &str,
    ) -> Result<(), CanaryError> {
        let label = label.into();
        if text.len() < MIN_PATTERN_LEN {
            return Err(CanaryError::TooShort {
                label,
                len: text.len(),
            });
        }
        let item = self.item(kind, label);
        self.pattern(item, "text", text.as_bytes(), Check::None);
        let upper = text.to_uppercase();
        if upper != text {
            self.pattern(item, "TEXT", upper.as_bytes(), Check::None);
        }
        Ok(())
    }

    /// Scans every regular file under each of `roots` (a root may be a file). Symbolic
    /// links are not followed. A root that does not exist is an error, so that a wrong
    /// path never reads as "nothing found".
    ///
    /// # Errors
    /// [`ScanError`].
    pub fn scan(&self, roots: &[&Path]) -> Result<Scan, ScanError> {
        self.scan_sources(roots, &[])
    }

    /// As [`Canaries::scan`], and each of `memory` as one more file of that name: what
    /// a party holds outside its files (a process's configuration).
    ///
    /// # Errors
    /// [`ScanError`].
    pub fn scan_sources(
        &self,
        roots: &[&Path],
        memory: &[(&Path, &[u8])],
    ) -> Result<Scan, ScanError> {
        let ac = self.automaton()?;
        let mut files = Vec::new();
        for root in roots {
            list_files(root, &mut files)?;
        }
        let mut acc = Acc::default();
        for path in files {
            match std::fs::File::open(&path) {
                Ok(f) => {
                    acc.scan.files += 1;
                    self.scan_reader(&ac, f, &path, CHUNK, &mut acc)
                        .map_err(|source| ScanError::Io {
                            path: path.clone(),
                            source,
                        })?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => acc.scan.vanished += 1,
                Err(source) => return Err(ScanError::Io { path, source }),
            }
        }
        for (name, bytes) in memory {
            acc.scan.files += 1;
            self.scan_reader(&ac, *bytes, name, CHUNK, &mut acc)
                .map_err(|source| ScanError::Io {
                    path: name.to_path_buf(),
                    source,
                })?;
        }
        Ok(acc.finish(self))
    }

    /// Scans `bytes` as one file named `name`.
    ///
    /// # Errors
    /// [`ScanError::Build`].
    pub fn scan_bytes(&self, name: &Path, bytes: &[u8]) -> Result<Scan, ScanError> {
        self.scan_bytes_in_chunks(name, bytes, CHUNK)
    }

    fn scan_bytes_in_chunks(
        &self,
        name: &Path,
        bytes: &[u8],
        chunk: usize,
    ) -> Result<Scan, ScanError> {
        let ac = self.automaton()?;
        let mut acc = Acc::default();
        acc.scan.files = 1;
        self.scan_reader(&ac, bytes, name, chunk, &mut acc)
            .map_err(|source| ScanError::Io {
                path: name.to_owned(),
                source,
            })?;
        Ok(acc.finish(self))
    }

    fn automaton(&self) -> Result<AhoCorasick, aho_corasick::BuildError> {
        AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(self.bytes.iter().map(|b| b.as_slice()))
    }

    /// Searches `r` in chunks of `chunk` bytes, each with the end of the one before:
    /// enough to hold any pattern and any structural check whole. A match is counted in
    /// the first chunk that holds it whole (a structural check: that holds its
    /// look-ahead, or the last).
    fn scan_reader(
        &self,
        ac: &AhoCorasick,
        mut r: impl Read,
        path: &Path,
        chunk: usize,
        acc: &mut Acc,
    ) -> std::io::Result<()> {
        let longest = self.bytes.iter().map(|b| b.len()).max().unwrap_or(0);
        let overlap = LOOKAHEAD.max(longest);
        let mut buf: Vec<u8> = Vec::with_capacity(chunk + overlap);
        // The absolute offset of buf[0], and the end of what the previous round saw.
        let mut base = 0u64;
        let mut seen_to = 0u64;
        let mut eof = false;
        let mut at: HashSet<(u64, Kind)> = HashSet::new();
        loop {
            let want = buf.len() + chunk;
            while buf.len() < want && !eof {
                let old = buf.len();
                buf.resize(want, 0);
                match r.read(&mut buf[old..]) {
                    Ok(0) => {
                        buf.truncate(old);
                        eof = true;
                    }
                    Ok(n) => buf.truncate(old + n),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => buf.truncate(old),
                    Err(e) => return Err(e),
                }
            }
            acc.scan.bytes += buf.len() as u64 - (seen_to - base);
            for m in ac.find_overlapping_iter(&buf) {
                let p = &self.patterns[m.pattern().as_usize()];
                let start = base + m.start() as u64;
                let new = match p.check {
                    Check::None => base + m.end() as u64 > seen_to,
                    Check::Jpeg | Check::Webp => {
                        let whole = m.start() + LOOKAHEAD <= buf.len();
                        if start + LOOKAHEAD as u64 <= seen_to || !(whole || eof) {
                            // Checked in the round before, or to check in the next.
                            false
                        } else {
                            let rest = &buf[m.start()..];
                            match p.check {
                                Check::Jpeg => is_jpeg_header(rest),
                                _ => is_webp_header(rest),
                            }
                        }
                    }
                };
                if new {
                    let kind = self.items[p.item].kind;
                    // Every canary matched is found; an offset counts once per kind.
                    let counted = kind == Kind::Control || at.insert((start, kind));
                    acc.hit(path, start, kind, p, &self.items[p.item], counted);
                }
            }
            if eof {
                return Ok(());
            }
            seen_to = base + buf.len() as u64;
            let keep_from = buf.len().saturating_sub(overlap);
            buf.drain(..keep_from);
            base += keep_from as u64;
        }
    }
}

#[derive(Default)]
struct Acc {
    scan: Scan,
    items_found: HashSet<usize>,
}

impl Acc {
    fn hit(
        &mut self,
        path: &Path,
        offset: u64,
        kind: Kind,
        p: &Pattern,
        item: &Item,
        counted: bool,
    ) {
        self.items_found.insert(p.item);
        if !counted {
            return;
        }
        *self.scan.found.entry(kind).or_default() += 1;
        if kind != Kind::Control && self.scan.hits.len() < HITS_KEPT {
            self.scan.hits.push(Hit {
                path: path.to_owned(),
                offset,
                kind,
                canary: item.label.clone(),
                encoding: p.encoding,
            });
        }
    }

    fn finish(mut self, c: &Canaries) -> Scan {
        for k in Kind::ALL {
            self.scan.found.entry(k).or_default();
            self.scan.canaries_found.entry(k).or_default();
        }
        for i in self.items_found {
            *self.scan.canaries_found.entry(c.items[i].kind).or_default() += 1;
        }
        self.scan
    }
}

fn list_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), ScanError> {
    let io = |source| ScanError::Io {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::symlink_metadata(path).map_err(io)?;
    if meta.is_file() {
        out.push(path.to_owned());
    } else if meta.is_dir() {
        let mut entries = std::fs::read_dir(path)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(io)?;
        entries.sort();
        for e in entries {
            match list_files(&e, out) {
                // Gone between the listing and now (a database's transient file).
                Err(ScanError::Io { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound => {}
                r => r?,
            }
        }
    }
    Ok(())
}

fn collect_positions(v: &serde_json::Value, out: &mut Vec<(f64, f64)>) {
    if let Some(a) = v.as_array() {
        match (
            a.first().and_then(|x| x.as_f64()),
            a.get(1).and_then(|x| x.as_f64()),
        ) {
            (Some(lon), Some(lat)) => out.push((lon, lat)),
            _ => a.iter().for_each(|x| collect_positions(x, out)),
        }
    }
}

/// A JPEG segment marker that may appear in a header: SOFn and DHT/DAC (`C0`-`CF`
/// but `C8`), DQT, DRI, APPn, COM. 34 of 256.
fn is_header_marker(m: u8) -> bool {
    matches!(m, 0xC0..=0xC7 | 0xC9..=0xCF | 0xDB | 0xDD | 0xE0..=0xEF | 0xFE)
}

/// Whether `b` (starting with `FF D8 FF`) starts a plausible JPEG header (module docs).
fn is_jpeg_header(b: &[u8]) -> bool {
    let len_at = |p: usize| -> Option<usize> {
        Some(usize::from(u16::from_be_bytes([
            *b.get(p)?,
            *b.get(p + 1)?,
        ])))
    };
    // A first segment that names itself.
    let ident = b.get(6..).unwrap_or_default();
    let named = match b.get(3) {
        Some(0xE0) => ident.starts_with(b"JFIF\0") || ident.starts_with(b"JFXX\0"),
        Some(0xE1) => {
            ident.starts_with(b"Exif\0\0") || ident.starts_with(b"http://ns.adobe.com/xap/1.0/\0")
        }
        Some(0xE2) => ident.starts_with(b"ICC_PROFILE\0"),
        Some(0xEE) => ident.starts_with(b"Adobe"),
        _ => false,
    };
    if named {
        return true;
    }
    // Or three well-formed segments in a row.
    let mut p = 2;
    for _ in 0..3 {
        if b.get(p) != Some(&0xFF) || !b.get(p + 1).is_some_and(|&m| is_header_marker(m)) {
            return false;
        }
        match len_at(p + 2) {
            Some(l) if l >= 2 => p += 2 + l,
            _ => return false,
        }
    }
    true
}

/// Whether `b` (starting with `RIFF`) is a WebP file's header.
fn is_webp_header(b: &[u8]) -> bool {
    b.get(8..12) == Some(b"WEBP")
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [7; 32];

    fn only(scan: &Scan) -> Vec<(Kind, u64)> {
        scan.found
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| (*k, *n))
            .collect()
    }

    fn scan(c: &Canaries, bytes: &[u8]) -> Scan {
        c.scan_bytes(Path::new("mem"), bytes).unwrap()
    }

    /// Deterministic bytes that look random (SplitMix64), for chance-match tests.
    fn noise(n: usize, seed: u64) -> Vec<u8> {
        let mut x = seed;
        let mut out = Vec::with_capacity(n + 8);
        while out.len() < n {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            out.extend_from_slice(&(z ^ (z >> 31)).to_le_bytes());
        }
        out.truncate(n);
        out
    }

    #[test]
    fn nothing_planted_nothing_found() {
        let mut c = Canaries::new();
        c.add_bytes(Kind::Key, "seed", &SECRET).unwrap();
        c.add_location("fix", 40.7128, -74.006).unwrap();
        c.add_text(Kind::Name, "name", "María García").unwrap();
        let s = scan(&c, &noise(1 << 20, 1));
        assert_eq!(only(&s), vec![]);
        assert_eq!((s.files, s.bytes), (1, 1 << 20));
    }

    #[test]
    fn each_encoding_of_a_secret_is_found() {
        let mut c = Canaries::new();
        c.add_bytes(Kind::Key, "seed", &SECRET).unwrap();
        let b64 = base64::engine::general_purpose::STANDARD.encode(SECRET);
        for planted in [
            SECRET.to_vec(),
            hex::encode(SECRET).into_bytes(),
            hex::encode_upper(SECRET).into_bytes(),
            b64.into_bytes(),
        ] {
            let mut bytes = noise(4096, 2);
            bytes.splice(1000..1000, planted);
            let s = scan(&c, &bytes);
            assert_eq!(only(&s), vec![(Kind::Key, 1)]);
            assert_eq!(s.hits[0].offset, 1000);
            assert_eq!(s.hits[0].canary, "seed");
        }
    }

    #[test]
    fn a_secret_inside_a_longer_base64_text_is_found_at_each_alignment() {
        let mut c = Canaries::new();
        c.add_bytes(Kind::Key, "seed", &SECRET).unwrap();
        for shift in 0..3 {
            for engine in [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::URL_SAFE,
            ] {
                let mut around = noise(shift, 9);
                around.extend_from_slice(&SECRET);
                around.extend(noise(5, 10));
                let text = engine.encode(&around);
                let s = scan(&c, text.as_bytes());
                assert_eq!(s.found(Kind::Key), 1, "shift {shift}: {text}");
            }
        }
        // The same text with the secret's bytes changed is not found.
        let mut other = SECRET;
        other[16] ^= 1;
        let text = base64::engine::general_purpose::STANDARD.encode([&[0u8][..], &other].concat());
        assert_eq!(scan(&c, text.as_bytes()).found(Kind::Key), 0);
    }

    #[test]
    fn an_age_identity_is_found_as_its_string_its_scalar_and_its_prefix() {
        // The identity of age's own test vectors (age-keygen's format).
        let id = "AGE-SECRET-KEY-1GQ9778VQXMMJVE8SK7J6VT8UJ4HDQAJUVSFCWCM02D8GEWQ72PVQ2Y5J33";
        let (_, scalar) = bech32::decode(id).unwrap();
        let mut c = Canaries::new();
        c.add_age_identity("epoch 1", id).unwrap();
        // One occurrence each (one offset); the canaries it matches: the identity and
        // "any age secret key" for the string, the identity's scalar for the bytes.
        for (planted, canaries) in [
            (id.as_bytes().to_vec(), 2),
            (id.to_ascii_lowercase().into_bytes(), 2),
            (scalar.clone(), 1),
            (b"AGE-SECRET-KEY-1QQQ".to_vec(), 1), // another key: the prefix only
        ] {
            let s = scan(&c, &[b"....".as_slice(), &planted, b"...."].concat());
            let what = String::from_utf8_lossy(&planted).into_owned();
            assert_eq!(s.found(Kind::Key), 1, "{what}");
            assert_eq!(s.canaries_found(Kind::Key), canaries, "{what}");
            assert_eq!(s.hits[0].offset, 4, "{what}");
        }
        assert!(matches!(
            c.add_age_identity(
                "x",
                "age1xvnsv8aglgtlxgyqnsl5cfpfyemhkkapa92mdx6gp2vnq3h6hq0qfda4ae"
            ),
            Err(CanaryError::NotAnAgeIdentity { .. })
        ));
    }

    #[test]
    fn a_round_coordinate_is_not_searched_as_a_double_that_zeros_would_match() {
        // The false find of a demo run: -88.0 as a big-endian double in a write-ahead log,
        // two bytes before a page's zeros.
        let mut c = Canaries::new();
        c.add_location("round", -88.0, 41.8781).unwrap();
        let mut page = vec![0xbc, 0x05, 0x2e, 0x13, 0xd9, 0xf7, 0x85, 0xd0];
        page.extend_from_slice(&(-88.0_f64).to_be_bytes());
        page.extend_from_slice(&[0; 64]);
        assert_eq!(scan(&c, &page).found(Kind::Location), 0);
        // The other coordinate of the fix is still searched for as a double, and the round
        // one as text.
        let other = [b"xx".as_slice(), &41.8781_f64.to_le_bytes(), b"xx"].concat();
        assert_eq!(scan(&c, &other).found(Kind::Location), 1);
        assert_eq!(scan(&c, b"lat -88.0000 ").found(Kind::Location), 1);
    }

    #[test]
    fn a_location_is_found_as_doubles_and_as_text_at_any_precision() {
        let (lat, lon) = (40.7128_f64, -74.006_f64);
        let mut c = Canaries::new();
        c.add_location("fix", lat, lon).unwrap();
        for planted in [
            lat.to_be_bytes().to_vec(),
            lon.to_le_bytes().to_vec(),
            br#"{"lat":40.7128,"lon":-74.006}"#.to_vec(),
            b"-74.00600".to_vec(),
            format!("{lat:.12}").into_bytes(),
        ] {
            let s = scan(&c, &[b"xx".as_slice(), &planted, b"xx"].concat());
            assert!(s.found(Kind::Location) >= 1, "{planted:?}");
            assert_eq!(s.canaries_found(Kind::Location), 1);
        }
        // Text at several precisions that starts at one offset counts once.
        assert_eq!(scan(&c, b"x40.71280000x").found(Kind::Location), 1);
        assert!(matches!(
            c.add_location("nan", f64::NAN, 0.0),
            Err(CanaryError::NotFinite { .. })
        ));
    }

    #[test]
    fn a_zone_is_found_verbatim_and_by_its_vertices() {
        let zone = r#"{"type":"Polygon","coordinates":[[[-74.3,40.5],[-73.7,40.5],[-73.7,40.95],[-74.3,40.95],[-74.3,40.5]]]}"#;
        let mut c = Canaries::new();
        c.add_zone_geojson("zone", zone).unwrap();
        for planted in [
            zone.as_bytes().to_vec(),
            b"[[-73.7,40.95]]".to_vec(),
            b"40.9500, -73.7000".to_vec(),
            (-74.3_f64).to_be_bytes().to_vec(),
        ] {
            let s = scan(&c, &planted);
            assert!(s.found(Kind::Location) >= 1, "{planted:?}");
        }
        // A lone short coordinate is not searched for: it would match by chance.
        assert_eq!(scan(&c, b" -74.3 ").found(Kind::Location), 0);
        assert!(matches!(
            c.add_zone_geojson("z", r#"{"type":"Polygon"}"#),
            Err(CanaryError::NotGeoJson { .. })
        ));
    }

    #[test]
    fn image_headers_are_found_and_a_bare_jpeg_magic_is_not() {
        let c = Canaries::new();
        let jfif = b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00";
        let exif = b"\xFF\xD8\xFF\xE1\x12\x34Exif\x00\x00MM";
        // SOI, DQT (67 bytes), SOF0 (17), DHT: a JPEG with no APP segment.
        let mut raw = b"\xFF\xD8\xFF\xDB\x00\x43".to_vec();
        raw.extend([1u8; 65]);
        raw.extend(b"\xFF\xC0\x00\x11");
        raw.extend([2u8; 15]);
        raw.extend(b"\xFF\xC4\x00\x1F");
        let mut webp = b"RIFF\x24\x10\x00\x00WEBPVP8 ".to_vec();
        webp.extend([0u8; 8]);
        let heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00";
        for (planted, what) in [
            (jfif.to_vec(), "JPEG (JFIF)"),
            (exif.to_vec(), "JPEG (Exif)"),
            (raw, "JPEG (three segments)"),
            (b"\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR".to_vec(), "PNG"),
            (b"GIF89a\x01\x00\x01\x00".to_vec(), "GIF"),
            (webp, "WebP"),
            (heic.to_vec(), "HEIC"),
        ] {
            let s = scan(&c, &[noise(100, 3), planted, noise(100, 4)].concat());
            assert_eq!(only(&s), vec![(Kind::Image, 1)], "{what}");
        }
        // FF D8 FF followed by anything else, or RIFF without WEBP: no image.
        for planted in [
            b"\xFF\xD8\xFF\x00\x00\x00\x00\x00".as_slice(),
            b"\xFF\xD8\xFF\xE0\x00\x10JFIG\x00",
            b"\xFF\xD8\xFF\xDB\x00\x04\x00\x00\xFF\x00\x00\x04",
            b"RIFF\x24\x10\x00\x00WAVEfmt ",
        ] {
            assert_eq!(scan(&c, planted).found(Kind::Image), 0, "{planted:?}");
        }
    }

    #[test]
    fn random_bytes_hold_bare_jpeg_magic_but_no_image() {
        // 32 MB of noise: about 2 bare FF D8 FF are expected (2^-24 a byte), and none
        // passes the rules (9.2e-15 a byte: 3e-7 expected).
        let bytes = noise(32 << 20, 5);
        let bare = bytes.windows(3).filter(|w| w == b"\xFF\xD8\xFF").count();
        assert!(bare > 0, "the noise has no bare magic to refuse");
        let s = scan(&Canaries::new(), &bytes);
        assert_eq!(s.found(Kind::Image), 0);
        assert!(s.image_chance() < 1e-5, "{}", s.image_chance());
    }

    #[test]
    fn a_match_across_chunks_is_found_once() {
        let mut c = Canaries::new();
        c.add_bytes(Kind::Key, "seed", &SECRET).unwrap();
        c.add_text(Kind::Name, "name", "Amara Okafor").unwrap();
        let chunk = 1000;
        let mut bytes = noise(LOOKAHEAD * 3 + 5000, 6);
        // Straddling the first chunk's end, inside the overlap, and at the very end.
        for (at, what) in [
            (chunk - 10, SECRET.as_slice()),
            (chunk + LOOKAHEAD - 5, b"Amara Okafor".as_slice()),
            (bytes.len() - 32, SECRET.as_slice()),
        ] {
            bytes[at..at + what.len()].copy_from_slice(what);
        }
        // A JPEG header whose look-ahead straddles a chunk's end.
        let jpeg_at = 2 * chunk + LOOKAHEAD - 100;
        bytes[jpeg_at..jpeg_at + 20].copy_from_slice(
            b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
        );
        let s = c
            .scan_bytes_in_chunks(Path::new("mem"), &bytes, chunk)
            .unwrap();
        assert_eq!(
            only(&s),
            vec![(Kind::Key, 2), (Kind::Image, 1), (Kind::Name, 1)]
        );
        assert_eq!(s.bytes, bytes.len() as u64);
        let whole = scan(&c, &bytes);
        assert_eq!(only(&whole), only(&s));
    }

    #[test]
    fn a_scan_reads_every_file_under_its_roots_and_refuses_a_missing_one() {
        let dir = tempfile_dir();
        std::fs::create_dir_all(dir.join("a/b")).unwrap();
        std::fs::write(dir.join("a/one"), b"nothing").unwrap();
        std::fs::write(dir.join("a/b/two"), [b"..".as_slice(), &SECRET].concat()).unwrap();
        let mut c = Canaries::new();
        c.add_bytes(Kind::Key, "seed", &SECRET).unwrap();
        c.add_bytes(Kind::Control, "public", &[9; 32]).unwrap();
        let s = c.scan(&[&dir.join("a")]).unwrap();
        assert_eq!((s.files, s.bytes), (2, 7 + 34));
        assert_eq!(s.found(Kind::Key), 1);
        assert_eq!(s.hits[0].path, dir.join("a/b/two"));
        assert_eq!(s.canaries_found(Kind::Control), 0);
        assert!(matches!(
            c.scan(&[&dir.join("missing")]),
            Err(ScanError::Io { .. })
        ));
        assert_eq!(c.count(Kind::Key), 2, "the seed and any age key");
        assert_eq!(c.count(Kind::Control), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn short_canaries_are_refused_and_the_set_is_redacted() {
        let mut c = Canaries::new();
        assert!(matches!(
            c.add_text(Kind::Name, "x", "Ana"),
            Err(CanaryError::TooShort { len: 3, .. })
        ));
        assert!(matches!(
            c.add_bytes(Kind::Key, "x", &[1; 8]),
            Err(CanaryError::TooShort { len: 8, .. })
        ));
        c.add_bytes(Kind::Key, "seed", &SECRET).unwrap();
        let debug = format!("{c:?}");
        assert!(
            !debug.contains(&hex::encode(SECRET)) && !debug.contains("7, 7"),
            "{debug}"
        );
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "minimis-canary-{}-{}",
            std::process::id(),
            noise(8, u64::from(std::process::id()))[0]
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
