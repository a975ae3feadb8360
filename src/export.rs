//! `minimis demo --export DIR`: sealed records and the live epoch's identity files, so
//! anyone can check the format with an age implementation we did not write.

use std::fs;
use std::io::Write as _;
use std::path::Path;

use anyhow::{Context as _, bail};
use minimis_proto::{EpochId, Policy, RecordId};
use minimis_seal::EpochIdentity;

fn write_file(path: &Path, bytes: &[u8], secret: bool) -> anyhow::Result<()> {
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

/// Writes the export. `sample` holds records of both epochs; `identities` are the
/// surviving epoch's (agency first).
pub(crate) fn write(
    dir: &Path,
    policy: &Policy,
    destroyed: EpochId,
    sample: &[(EpochId, RecordId, &[u8])],
    identities: &[&EpochIdentity],
) -> anyhow::Result<()> {
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
    let live = identities
        .first()
        .map(|i| i.epoch())
        .context("no live identity to export")?;
    fs::create_dir_all(dir.join("identities"))
        .with_context(|| format!("cannot create {}", dir.display()))?;
    for (epoch, id, bytes) in sample {
        let sub = dir.join("records").join(format!("epoch-{epoch}"));
        fs::create_dir_all(&sub).with_context(|| format!("cannot create {}", sub.display()))?;
        write_file(&sub.join(format!("{id}.age")), bytes, false)?;
    }
    for identity in identities {
        let name = format!("{}-epoch-{}.txt", identity.role(), identity.epoch());
        write_file(
            &dir.join("identities").join(name),
            identity.to_identity_file().as_bytes(),
            true,
        )?;
    }
    write_file(
        &dir.join("policy.toml"),
        policy_text(policy).as_bytes(),
        false,
    )?;
    write_file(
        &dir.join("README.txt"),
        readme(live, destroyed, identities.len() == 2).as_bytes(),
        false,
    )?;
    Ok(())
}

fn policy_text(policy: &Policy) -> String {
    format!(
        "# The policy in force for this export: hash {}\n# (the embedded default unless the demo was given --policy)\n{}",
        policy.hash(),
        minimis_proto::DEFAULT_POLICY_TOML
    )
}

fn readme(live: EpochId, destroyed: EpochId, two_layers: bool) -> String {
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

A sample of sealed check-ins exactly as the operator stores them, and the custodians'
age identities for the epoch that is still live. Open them with any implementation of
the age v1 format (https://age-encryption.org/v1), for example the `age` command-line
tool (Debian: apt install age). This is how you check, without trusting our code, that
minimis uses a standard format and that retention erased what it says it erased.

  records/epoch-{live}/*.age    sealed in epoch {live}, whose keys still exist: they open.
  records/epoch-{destroyed}/*.age    sealed in epoch {destroyed}, whose keys both custodians
                                destroyed: no identity here, or anywhere, opens them.
  identities/*-epoch-{live}.txt  the custodians' identities for epoch {live}
                                (standard AGE-SECRET-KEY-1 identity files)
  policy.toml                   the policy in force

Opening a record takes both custodians: the oversight custodian's identity removes the
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
    29+n     ...  zero padding to 512

`minimis payload decode payload.bin` prints it as JSON; `xxd payload.bin` shows the bytes.
There is no field for a location, an image or an identity: the zone result is all that
is left of the one location fix the phone took, inside the phone.

Now try a record of epoch {destroyed} with each identity file: age answers that no
identity matched. Nothing can: both custodians' keys for that epoch were zeroized.

A real custodian never exports its keys (spec RET-4); the demo writes the live epoch's
identities here only so that you can check the format yourself.
"
    )
}
