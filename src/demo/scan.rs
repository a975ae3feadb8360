//! What the operator holds, measured: every secret key, location, name and sealed text
//! that existed during the run is searched for, in its usual encodings, in everything
//! the operator holds at the end (its data directory: database, WAL, shared memory, log
//! tiles, key files; the backups made of it; its configuration), with the canary scanner
//! of `minimis-testkit` (whose module docs list the encodings and the chance of a false
//! match). A positive control shows that the scan read the database (the participants'
//! pseudonyms and tag keys, which the operator holds by design, are found), and a
//! planted control that
//! it finds each kind: one canary of each is written into a copy of the operator's
//! directory, and the copy is scanned.
//!
//! The demo holds every party's keys at once (it runs them all), so it can do what no
//! party can: name every key that must not be anywhere else.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use minimis_crypto::{SigningKey, TagKey};
use minimis_proto::Pseudonym;
use minimis_testkit::canary::{Canaries, Hit, Kind, Scan};
use serde::Serialize;
use zeroize::Zeroizing;

use super::people;
use super::stack::Stack;

/// The case reference of the request without an allowed purpose.
pub(crate) const CASE_REFUSED: &str = "CASE-2026-000000";
/// The case reference of the request for a record whose keys were destroyed.
pub(crate) const CASE_AFTER_DESTRUCTION: &str = "CASE-2026-999999";

/// Participants whose device keys, names and case numbers are searched for: the first
/// this many (the search automaton grows with the patterns; 40 patterns per device).
pub(crate) const PARTICIPANTS_SEARCHED: usize = 2_000;

/// The canaries collected during the run.
pub(crate) struct Harvest {
    canaries: Canaries,
    /// The custodian identities added, by (role, epoch).
    epoch_keys: BTreeSet<(String, u32)>,
    custodian_signing_keys: BTreeSet<String>,
    /// One canary of each kind, to plant in a copy (the first found of each).
    plant_key: Option<Zeroizing<String>>,
    plant_fix: Option<(f64, f64)>,
    plant_name: Option<String>,
}

/// What the scan of the operator found.
#[derive(Serialize)]
pub(crate) struct OperatorScan {
    /// What was read: files, the operator's configuration counted as one.
    pub(crate) files: u64,
    pub(crate) bytes: u64,
    /// Canaries searched for, by kind (each in several encodings).
    pub(crate) searched: BTreeMap<Kind, u64>,
    /// Patterns (encodings) searched for, by kind.
    pub(crate) patterns: BTreeMap<Kind, u64>,
    /// Occurrences found, by kind (the controls excepted: they must be found).
    pub(crate) found: BTreeMap<Kind, u64>,
    /// The first occurrences found: where, which canary (by label) and in which
    /// encoding; never the secret itself.
    pub(crate) hits: Vec<Hit>,
    /// The positive control: what the operator holds by design, in its database (the
    /// participants' pseudonyms and tag keys, data.md D17), searched for and found.
    pub(crate) controls_searched: u64,
    pub(crate) controls_found: u64,
    /// The planted control: canaries of each kind written into a copy of the
    /// operator's directory, and the occurrences the scan of the copy found.
    pub(crate) planted: BTreeMap<Kind, u64>,
    pub(crate) planted_found: BTreeMap<Kind, u64>,
    /// Image matches expected by chance in the bytes read, were they random.
    pub(crate) image_matches_expected_by_chance: f64,
}

fn err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{e}")
}

impl Harvest {
    pub(crate) fn new() -> Self {
        Self {
            canaries: Canaries::new(),
            epoch_keys: BTreeSet::new(),
            custodian_signing_keys: BTreeSet::new(),
            plant_key: None,
            plant_fix: None,
            plant_name: None,
        }
    }

    /// Participant `i`'s secrets (device key, tag key), name and case number, and
    /// pseudonym (a control).
    pub(crate) fn participant(
        &mut self,
        i: usize,
        key: &SigningKey,
        tags: &TagKey,
        pseudonym: &Pseudonym,
    ) -> anyhow::Result<()> {
        if i >= PARTICIPANTS_SEARCHED {
            return Ok(());
        }
        let c = &mut self.canaries;
        c.add_bytes(Kind::Key, format!("device key {i}"), key.expose_seed())
            .map_err(err)?;
        // The operator holds the tag key by design, to write the log's epoch tags (data.md
        // D17, ENR-3): a positive control, as the pseudonym.
        c.add_bytes(Kind::Control, "tag key", tags.expose_secret())
            .map_err(err)?;
        let name = people::name(i);
        c.add_text(Kind::Name, format!("name of participant {i}"), &name)
            .map_err(err)?;
        c.add_text(
            Kind::Name,
            format!("case number of participant {i}"),
            &people::case_number(i),
        )
        .map_err(err)?;
        c.add_bytes(Kind::Control, "pseudonym", pseudonym.as_bytes())
            .map_err(err)?;
        self.plant_name.get_or_insert(name);
        Ok(())
    }

    /// What the run knows beside the participants: the zones, the notes and failure
    /// reports the phones seal, the case references of the requests that name no
    /// participant's case.
    pub(crate) fn fixed(&mut self) -> anyhow::Result<()> {
        let c = &mut self.canaries;
        for (k, place) in people::PLACES.iter().enumerate() {
            c.add_zone_geojson(format!("zone {k}"), place.zone)
                .map_err(err)?;
        }
        for (k, note) in people::NOTES
            .iter()
            .enumerate()
            .filter(|(_, n)| !n.is_empty())
        {
            c.add_text(Kind::Content, format!("note {k}"), note)
                .map_err(err)?;
        }
        c.add_text(Kind::Content, "failure report", people::FAILURE_WORDS)
            .map_err(err)?;
        for case in [CASE_REFUSED, CASE_AFTER_DESTRUCTION] {
            c.add_text(Kind::Name, "case reference", case)
                .map_err(err)?;
        }
        Ok(())
    }

    /// The custodians' keys as they are now: every epoch identity live at either (each
    /// added once, so that calling this every simulated day catches every identity
    /// before its destruction), and their signing keys.
    pub(crate) fn custodian_keys(&mut self, stack: &Stack) -> anyhow::Result<()> {
        let runs = std::iter::once(&stack.agency).chain(stack.oversight.as_ref());
        for r in runs {
            let role = r.node().role().to_string();
            let known = &self.epoch_keys;
            let (signing, identities) = r
                .node()
                .with_keystore(|ks| {
                    let ring = ks.keyring();
                    let identities: Vec<(u32, Zeroizing<String>)> = ring
                        .live_epochs()
                        .filter(|e| !known.contains(&(role.clone(), e.get())))
                        .filter_map(|e| {
                            let file = ring.identity(e).ok()?.to_identity_file();
                            let line = file
                                .lines()
                                .find(|l| l.starts_with("AGE-SECRET-KEY-1"))
                                .map(|l| Zeroizing::new(l.to_owned()))?;
                            Some((e.get(), line))
                        })
                        .collect();
                    (Zeroizing::new(*ks.signing_key().expose_seed()), identities)
                })
                .ok_or_else(|| anyhow!("the {role} custodian's keystore is unreadable"))?;
            if self.custodian_signing_keys.insert(role.clone()) {
                self.canaries
                    .add_bytes(
                        Kind::Key,
                        format!("{role} custodian's signing key"),
                        signing.as_slice(),
                    )
                    .map_err(err)?;
            }
            for (epoch, identity) in identities {
                self.canaries
                    .add_age_identity(format!("{role} identity of epoch {epoch}"), &identity)
                    .map_err(err)?;
                self.epoch_keys.insert((role.clone(), epoch));
                if self.plant_key.is_none() {
                    self.plant_key = Some(identity);
                }
            }
        }
        Ok(())
    }

    /// Every distinct fix the phones took.
    pub(crate) fn fixes(
        &mut self,
        fixes: impl IntoIterator<Item = (u64, u64)>,
    ) -> anyhow::Result<()> {
        for (lat, lon) in fixes {
            let (lat, lon) = (f64::from_bits(lat), f64::from_bits(lon));
            self.canaries
                .add_location(format!("fix {lat:.4},{lon:.4}"), lat, lon)
                .map_err(err)?;
            self.plant_fix.get_or_insert((lat, lon));
        }
        Ok(())
    }

    /// How many custodian identities were collected.
    pub(crate) fn epoch_identities(&self) -> u64 {
        self.epoch_keys.len() as u64
    }

    /// Scans what the operator holds: `roots` (its data directory, its backups) and its
    /// configuration; then a copy of its data directory, in `scratch`, with one canary
    /// of each kind planted in a file.
    pub(crate) fn scan_operator(
        &self,
        operator_dir: &Path,
        backups: &Path,
        config: &str,
        scratch: &Path,
    ) -> anyhow::Result<OperatorScan> {
        let mut roots = vec![operator_dir];
        if backups.exists() {
            roots.push(backups);
        }
        let scan = self
            .canaries
            .scan_sources(
                &roots,
                &[(
                    Path::new("(the operator's configuration, in memory)"),
                    config.as_bytes(),
                )],
            )
            .context("scanning what the operator holds")?;
        let (planted, planted_scan) = self.planted(operator_dir, scratch)?;
        let searched = Kind::ALL
            .iter()
            .map(|&k| (k, self.canaries.count(k)))
            .collect();
        let patterns = Kind::ALL
            .iter()
            .map(|&k| (k, self.canaries.patterns(k)))
            .collect();
        let found = Kind::ALL
            .iter()
            .filter(|&&k| k != Kind::Control)
            .map(|&k| (k, scan.found(k)))
            .collect();
        let planted_found = planted
            .keys()
            .map(|&k| (k, planted_scan.found(k)))
            .collect();
        Ok(OperatorScan {
            files: scan.files,
            bytes: scan.bytes,
            searched,
            patterns,
            found,
            hits: scan.hits.clone(),
            controls_searched: self.canaries.count(Kind::Control),
            controls_found: scan.canaries_found(Kind::Control),
            planted,
            planted_found,
            image_matches_expected_by_chance: scan.image_chance(),
        })
    }

    /// Copies `operator_dir` into `scratch`, writes a file there holding one canary of
    /// each kind the run collected (an epoch identity, a fix as a big-endian double and
    /// as text, a name, a case number, a note, a JPEG header), scans the copy, and
    /// removes it. Returns what was planted, by kind, and the scan.
    fn planted(
        &self,
        operator_dir: &Path,
        scratch: &Path,
    ) -> anyhow::Result<(BTreeMap<Kind, u64>, Scan)> {
        let copy = scratch.join("operator-copy");
        if copy.exists() {
            std::fs::remove_dir_all(&copy)
                .with_context(|| format!("cannot remove {}", copy.display()))?;
        }
        copy_dir(operator_dir, &copy)?;
        let mut planted = BTreeMap::new();
        let mut file = Zeroizing::new(Vec::new());
        let mut put = |kind: Kind, bytes: &[u8]| {
            file.extend_from_slice(b"\n..");
            file.extend_from_slice(bytes);
            *planted.entry(kind).or_insert(0u64) += 1;
        };
        if let Some(k) = &self.plant_key {
            put(Kind::Key, k.as_bytes());
        }
        if let Some((lat, lon)) = self.plant_fix {
            put(Kind::Location, &lat.to_be_bytes());
            put(Kind::Location, format!("{lon}").as_bytes());
        }
        if let Some(n) = &self.plant_name {
            put(Kind::Name, n.as_bytes());
        }
        put(Kind::Name, people::case_number(0).as_bytes());
        put(Kind::Content, people::FAILURE_WORDS.as_bytes());
        put(
            Kind::Image,
            b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00",
        );
        let path = copy.join("planted");
        std::fs::write(&path, file.as_slice())
            .with_context(|| format!("cannot write {}", path.display()))?;
        let scan = self.canaries.scan(&[&copy]);
        std::fs::remove_dir_all(&copy)
            .with_context(|| format!("cannot remove {}", copy.display()))?;
        Ok((planted, scan.context("scanning the planted copy")?))
    }
}

/// Copies the regular files under `from` into `to` (symbolic links are skipped, as the
/// scan skips them; a file gone since it was listed is skipped).
fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("cannot create {}", to.display()))?;
    let entries: Vec<PathBuf> = std::fs::read_dir(from)
        .with_context(|| format!("cannot read {}", from.display()))?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("cannot read {}", from.display()))?;
    for e in entries {
        let Some(name) = e.file_name() else { continue };
        let meta = match std::fs::symlink_metadata(&e) {
            Ok(m) => m,
            Err(x) if x.kind() == std::io::ErrorKind::NotFound => continue,
            Err(x) => return Err(x).with_context(|| format!("cannot read {}", e.display())),
        };
        if meta.is_dir() {
            copy_dir(&e, &to.join(name))?;
        } else if meta.is_file() {
            match std::fs::copy(&e, to.join(name)) {
                Ok(_) => {}
                Err(x) if x.kind() == std::io::ErrorKind::NotFound => {}
                Err(x) => return Err(x).with_context(|| format!("cannot copy {}", e.display())),
            }
        }
    }
    Ok(())
}
