//! `minimis demo --export DIR`: sealed records, the live epoch's identity files and the
//! log, so anyone can check the formats with tools we did not write.
//!
//! Layout (what `minimis audit DIR` reads; the key files only when named with
//! `--log-key`/`--witness`, or with `--trust-keys-in-dir`):
//!
//! ```text
//! DIR/README.txt               how to check everything below
//! DIR/policy.toml              the policy whose hash the log publishes
//! DIR/log/                     the log as a C2SP tlog-tiles directory (checkpoint, tile/…)
//! DIR/log.vkey                 the log's verifier key (C2SP signed-note vkey)
//! DIR/witnesses.vkey           the witnesses' verifier keys, one per line
//! DIR/records/epoch-N/ID.age   sealed records, as the operator stored them
//! DIR/identities/ROLE-epoch-N.txt  the live epoch's age identities (demo only, RET-4)
//! DIR/demo-series.json         what each party held over the run (the HTML report's charts)
//! DIR/report.html              the audit report (`minimis audit report DIR --html FILE`)
//! ```
//!
//! The log is fetched from the operator's public HTTPS endpoints, as any outsider would
//! fetch it; the records of the destroyed epoch come from a backup of the operator's
//! database taken the day before their deadline.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use minimis_audit::series::{DEMO_SERIES_FILE, DemoSeries};
use minimis_log::VerifierKey;
use minimis_proto::{CustodianRole, EpochId, RecordId};
use zeroize::Zeroizing;

/// What the demo exports.
pub(crate) struct Export<'a> {
    /// The policy file's text.
    pub(crate) policy_text: &'a str,
    /// An epoch whose keys were destroyed, if one's deadline fell in the run.
    pub(crate) destroyed: Option<EpochId>,
    /// The live epoch whose identities are exported.
    pub(crate) live: EpochId,
    /// Sealed records: of the destroyed epoch (from the backup) and of the live one.
    pub(crate) sample: &'a [(EpochId, RecordId, &'a [u8])],
    /// The live epoch's identity files, by custodian.
    pub(crate) identities: &'a [(CustodianRole, Zeroizing<String>)],
    /// The log's files, as the operator serves them (C2SP tlog-tiles paths).
    pub(crate) log_files: &'a [(String, Vec<u8>)],
    /// The log's verifier key.
    pub(crate) log_key: &'a VerifierKey,
    /// The witness's verifier key.
    pub(crate) witness_key: Option<&'a VerifierKey>,
    /// The demo's series, for the HTML report.
    pub(crate) series: &'a DemoSeries,
}

fn write_file(path: &Path, bytes: &[u8], secret: bool) -> anyhow::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt as _;
        opts.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = secret;
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    f.write_all(bytes)
        .with_context(|| format!("cannot write {}", path.display()))
}

/// Refuses a directory that exists and is not empty.
pub(crate) fn check_empty(dir: &Path) -> anyhow::Result<()> {
    if dir.exists()
        && fs::read_dir(dir)
            .with_context(|| format!("cannot read {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} is not empty; give --export a new or empty directory",
            dir.display()
        );
    }
    Ok(())
}

/// Writes the export into `dir`, which must be new or empty.
pub(crate) fn write(dir: &Path, e: &Export<'_>) -> anyhow::Result<()> {
    check_empty(dir)?;
    fs::create_dir_all(dir.join("identities"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    for (epoch, id, bytes) in e.sample {
        let sub = dir.join("records").join(format!("epoch-{epoch}"));
        write_file(&sub.join(format!("{id}.age")), bytes, false)?;
    }
    for (role, file) in e.identities {
        let name = format!("{role}-epoch-{}.txt", e.live);
        write_file(&dir.join("identities").join(name), file.as_bytes(), true)?;
    }
    write_file(&dir.join("policy.toml"), e.policy_text.as_bytes(), false)?;
    for (path, bytes) in e.log_files {
        // Paths come from the tile and bundle ids, never from the server's answers.
        write_file(&dir.join("log").join(path), bytes, false)?;
    }
    write_file(
        &dir.join("log.vkey"),
        format!("{}\n", e.log_key).as_bytes(),
        false,
    )?;
    let witnesses = e.witness_key.map(|w| format!("{w}\n")).unwrap_or_default();
    write_file(&dir.join("witnesses.vkey"), witnesses.as_bytes(), false)?;
    write_file(
        &dir.join(DEMO_SERIES_FILE),
        serde_json::to_string_pretty(e.series)?.as_bytes(),
        false,
    )?;
    write_file(
        &dir.join("README.txt"),
        readme(e.live, e.destroyed, e.identities.len() == 2).as_bytes(),
        false,
    )?;
    Ok(())
}

fn readme(live: EpochId, destroyed: Option<EpochId>, two_layers: bool) -> String {
    let destroyed = destroyed.map_or_else(|| "(none in this run)".to_owned(), |e| e.to_string());
    let open = if two_layers {
        format!(
            "    age -d -i identities/oversight-epoch-{live}.txt records/epoch-{live}/RECORD.age > inner.age\n\
             \x20   age -d -i identities/agency-epoch-{live}.txt inner.age > payload.bin\n"
        )
    } else {
        format!(
            "    age -d -i identities/agency-epoch-{live}.txt records/epoch-{live}/RECORD.age > payload.bin\n"
        )
    };
    format!(
        "minimis demo export
===================

What the demo's operator stored and logged, and the custodians' age identities for the
epoch that is still live. Every format here is a published standard, so you can check it
with tools we did not write:

  records/epoch-{live}/*.age    sealed in epoch {live}, whose keys still exist: they open.
  records/epoch-{destroyed}/*.age    sealed in epoch {destroyed}, whose keys both custodians
                                destroyed at its retention deadline: nothing opens them.
                                (The operator purged them too; these copies come from a
                                backup of its database taken the day before.)
  identities/*-epoch-{live}.txt  the custodians' identities for epoch {live}
                                (standard AGE-SECRET-KEY-1 identity files)
  policy.toml                   the policy in force; the log publishes its hash
  log/                          the transparency log as C2SP tlog-tiles: checkpoint, tiles
                                and entry bundles
  log.vkey, witnesses.vkey      the log's and the witness's verifier keys (C2SP signed-note)
  report.html                   the audit of this log as one web page (open it in any
                                browser; `minimis audit report . --html FILE` remakes it)
  demo-series.json              what each party held over the run, for the report's charts
                                (the demo's measurements, not audited facts)

1. Open a record. The records are age v1 files (https://age-encryption.org/v1); open them
   with any implementation, for example the `age` command-line tool (Debian: apt install
   age). Opening takes both custodians: the oversight custodian's identity removes the
   outer layer, the agency custodian's opens the inner one:

{open}
   payload.bin is exactly 512 bytes, whatever it says:

     offset  size  field
          0     1  version            0x01
          1    16  challenge_id
         17     1  zone               1 inside, 2 outside, 3 unavailable, 4 not-required
         18     1  presence           1 confirmed, 2 not-confirmed, 3 unavailable, 4 not-required
         19     8  device_time        i64 big-endian, seconds since 1970-01-01 UTC
         27     2  note_len           u16 big-endian
         29     n  note               UTF-8
       29+n   ...  zero padding to 512

   `minimis payload decode payload.bin` prints it as JSON; `xxd payload.bin` shows the
   bytes. There is no field for a location, an image or an identity: the zone result is
   all that is left of the one location fix the phone took, inside the phone.

2. Try a record of epoch {destroyed} with each identity file: age answers that no identity
   matched. Nothing can open it: both custodians' keys for that epoch were zeroized, and
   the log records when.

3. Audit the log: `minimis audit . --log-key log.vkey --witness witnesses.vkey` (from
   this directory) verifies the checkpoint's signature and the witness's cosignature,
   recomputes the tree from the tiles, and checks the policy's claims: challenges within
   the caps, keys destroyed and records purged by their deadlines, every access with an
   allowed purpose and legal basis. It names the keys it used and where they came from.
   Here both key files come from this directory, which the demo wrote; for a log you did
   not make, get the log's key and the witness's key from their owners (the operator's
   published key, the oversight body's), not from the directory whose log you audit:
   whoever wrote the directory chose the keys in it. (`--trust-keys-in-dir` takes them
   from the directory, and the output says so.) The tiles follow
   https://c2sp.org/tlog-tiles, so any tlog-tiles client can read them too.

A real custodian never exports its keys (spec RET-4); the demo writes the live epoch's
identities here only so that you can check the format yourself.
"
    )
}
