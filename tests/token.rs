//! Epoch keys in a PKCS#11 token (RET-34, RET-35, RET-39), with SoftHSM2 standing in for
//! an HSM. These tests need SoftHSM2 (Debian `softhsm2`); `.ci/run` installs it and runs
//! them with `--ignored`.
//!
//! SoftHSM2 reads where its tokens live from `SOFTHSM2_CONF` when its module is loaded. A
//! test cannot safely change its own environment while other tests run, so each test here
//! runs itself again in a child process with the variable set to a token directory of its
//! own: a temporary directory outside every data directory, as an HSM is outside the
//! custodian's disk.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use minimis_crypto::{SigningKey, TagKey};
use minimis_custodian::keystore::token::init_token;
use minimis_custodian::keystore::{
    Keystore, KeystoreError, KeystoreSecret, PinSource, Protection, TokenConfig, WorkFactor,
};
use minimis_custodian::operator::StoredRecord;
use minimis_custodian::{Clock as _, InProcessDeployment, ManualClock, Node};
use minimis_proto::*;
use minimis_testkit::NOW;

/// SoftHSM2's module on Debian.
const MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";
/// Set in the child: its token directory.
const CHILD: &str = "MINIMIS_TEST_SOFTHSM2_HOME";
const USER_PIN: &str = "user-pin-4711";

/// Runs `body` in a child process of this test binary, with `SOFTHSM2_CONF` naming a
/// fresh token directory; in the parent, checks that the child ran the test and passed.
fn in_softhsm2(test: &str, body: impl FnOnce(&Path)) {
    if let Some(home) = std::env::var_os(CHILD) {
        body(Path::new(&home));
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let tokens = home.path().join("tokens");
    std::fs::create_dir_all(&tokens).unwrap();
    let conf = home.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n",
            tokens.display()
        ),
    )
    .unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            test,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env("SOFTHSM2_CONF", &conf)
        .env(CHILD, home.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 passed"),
        "the child did not run {test}:\n{stdout}"
    );
    // What the child measured (shown with --nocapture).
    for line in stdout.lines() {
        if let Some(i) = line.find("measured: ") {
            println!("{}", &line[i..]);
        }
    }
}

/// A fresh token labelled `label`, its PIN in a file beside the tokens.
fn token(home: &Path, label: &str) -> TokenConfig {
    let pin = home.join(format!("{label}.pin"));
    std::fs::write(&pin, USER_PIN).unwrap();
    init_token(Path::new(MODULE), label, "so-pin-0815", USER_PIN).unwrap();
    TokenConfig {
        module: PathBuf::from(MODULE),
        token: label.to_owned(),
        pin: PinSource::File(pin),
    }
}

/// The attributes of the token key labelled `label`, read as any PKCS#11 client would,
/// and whether its value could be read.
fn key_attributes(label_of_token: &str, key: &str) -> (Vec<cryptoki::object::Attribute>, bool) {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::object::{Attribute, AttributeType, ObjectClass};
    use cryptoki::session::UserType;
    let p = Pkcs11::new(MODULE).unwrap();
    let _ = p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK));
    let slot = p
        .get_slots_with_initialized_token()
        .unwrap()
        .into_iter()
        .find(|s| p.get_token_info(*s).unwrap().label().trim_end() == label_of_token)
        .unwrap();
    let s = p.open_ro_session(slot).unwrap();
    let _ = s.login(UserType::User, Some(&USER_PIN.to_owned().into()));
    let h = s
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Label(key.as_bytes().to_vec()),
        ])
        .unwrap();
    assert_eq!(h.len(), 1, "one object labelled {key}");
    let attrs = s
        .get_attributes(
            h[0],
            &[
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::NeverExtractable,
                AttributeType::Local,
                AttributeType::Token,
            ],
        )
        .unwrap();
    let value = s
        .get_attributes(h[0], &[AttributeType::Value])
        .is_ok_and(|v| v.iter().any(|a| matches!(a, Attribute::Value(_))));
    (attrs, value)
}

fn identity_lines(text: &str) -> Vec<age::x25519::Identity> {
    text.lines()
        .filter(|l| l.starts_with("AGE-SECRET-KEY-1"))
        .filter_map(|l| l.parse().ok())
        .collect()
}

#[test]
#[ignore = "needs softhsm2; run by .ci/run"]
fn ret_34_ret_35_each_epoch_has_its_own_non_extractable_token_key_found_after_a_restart_and_destroyed_with_it()
 {
    in_softhsm2(
        "token::ret_34_ret_35_each_epoch_has_its_own_non_extractable_token_key_found_after_a_restart_and_destroyed_with_it",
        |home| {
            let t = token(home, "minimis-test-agency");
            let dir = tempfile::tempdir().unwrap();
            let ks_dir = dir.path().join("keystore");
            let p = Protection::Token(t.clone());
            let (e, e2) = (EpochId::new(2968), EpochId::new(2969));
            let (r1, r2, signing) = {
                let mut ks =
                    Keystore::open_or_create(&ks_dir, &p, CustodianRole::Agency, "agency").unwrap();
                assert!(ks.is_token());
                ks.generate_epoch(e).unwrap();
                ks.generate_epoch(e2).unwrap();
                (
                    ks.epoch(e).unwrap().recipient(),
                    ks.epoch(e2).unwrap().recipient(),
                    ks.signing_key().public_key(),
                )
            };
            // No scrypt file; every file an age file whose only stanza names its token key.
            assert!(!ks_dir.join("keystore.age").exists());
            for (name, label) in [
                ("epoch-2968.age", "minimis/agency/epoch/2968"),
                ("epoch-2969.age", "minimis/agency/epoch/2969"),
                ("signing.age", "minimis/agency/master"),
            ] {
                let bytes = std::fs::read(ks_dir.join(name)).unwrap();
                let head = String::from_utf8_lossy(&bytes[..120]);
                let lines: Vec<&str> = head.lines().collect();
                assert_eq!(lines[0], "age-encryption.org/v1", "{name}");
                assert!(
                    lines[1].starts_with(&format!("-> minimis-pkcs11 {label} ")),
                    "{name}: {}",
                    lines[1]
                );
                assert!(!head.contains("AGE-SECRET-KEY"), "{name}");
            }
            // A restart finds every key by its label.
            let mut ks =
                Keystore::open_or_create(&ks_dir, &p, CustodianRole::Agency, "agency").unwrap();
            assert_eq!(ks.epoch(e).unwrap().recipient(), r1);
            assert_eq!(ks.epoch(e2).unwrap().recipient(), r2);
            assert_eq!(ks.signing_key().public_key(), signing);
            let labels: BTreeSet<String> = ks.token_labels().unwrap().into_iter().collect();
            assert_eq!(
                labels,
                [
                    "minimis/agency/epoch/2968",
                    "minimis/agency/epoch/2969",
                    "minimis/agency/master"
                ]
                .map(str::to_owned)
                .into()
            );
            // As the token reports them: sensitive, never extractable, made in the token,
            // and their value cannot be read.
            use cryptoki::object::Attribute;
            let (attrs, value) = key_attributes("minimis-test-agency", "minimis/agency/epoch/2968");
            for want in [
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
                Attribute::NeverExtractable(true),
                Attribute::Local(true),
                Attribute::Token(true),
            ] {
                assert!(attrs.contains(&want), "{want:?} in {attrs:?}");
            }
            assert!(!value, "a key's value was read out of the token");

            // A copy of the epoch's file, as a backup would hold it, opens with the token
            // before the destruction and with nothing after it.
            let copy = std::fs::read(ks_dir.join("epoch-2968.age")).unwrap();
            let opened = ks.try_open_with_every_token_key(&copy).unwrap();
            assert_eq!(
                identity_lines(&opened)[0].to_public().to_string(),
                r1.to_string()
            );
            ks.destroy_epoch(e, UnixTime(1_000)).unwrap();
            assert!(ks.try_open_with_every_token_key(&copy).is_none());
            assert!(!ks_dir.join("epoch-2968.age").exists());
            assert!(
                !ks.token_labels()
                    .unwrap()
                    .contains(&"minimis/agency/epoch/2968".to_owned())
            );
            drop(ks);
            let ks =
                Keystore::open_or_create(&ks_dir, &p, CustodianRole::Agency, "agency").unwrap();
            assert!(ks.epoch(e).is_err());
            assert_eq!(ks.epoch(e2).unwrap().recipient(), r2);
            drop(ks);

            // A wrong PIN and a file-mode open are refused, typed.
            let wrong_pin = home.join("wrong.pin");
            std::fs::write(&wrong_pin, "not-the-pin").unwrap();
            let wrong = Protection::Token(TokenConfig {
                pin: PinSource::File(wrong_pin),
                ..t.clone()
            });
            let err = Keystore::open_or_create(&ks_dir, &wrong, CustodianRole::Agency, "agency")
                .unwrap_err();
            assert!(
                matches!(
                    err,
                    KeystoreError::Token(minimis_custodian::keystore::TokenError::WrongPin(_))
                ),
                "{err}"
            );
            let key_file = dir.path().join("k");
            KeystoreSecret::make_key_file(&key_file).unwrap();
            let file = Protection::File {
                secret: KeystoreSecret::KeyFile(key_file),
                work: WorkFactor::below_floor_for_tests(10),
            };
            assert!(matches!(
                Keystore::open_or_create(&ks_dir, &file, CustodianRole::Agency, "agency"),
                Err(KeystoreError::ModeMismatch { found: "token", .. })
            ));
        },
    );
}

#[test]
#[ignore = "needs softhsm2; run by .ci/run"]
fn ret_39_a_file_keystore_moves_into_a_token_and_its_files_and_secret_are_scrubbed() {
    in_softhsm2(
        "token::ret_39_a_file_keystore_moves_into_a_token_and_its_files_and_secret_are_scrubbed",
        |home| {
            let t = token(home, "minimis-test-oversight");
            let dir = tempfile::tempdir().unwrap();
            let ks_dir = dir.path().join("data").join("keystore");
            let key_file = dir.path().join("oversight.key");
            KeystoreSecret::make_key_file(&key_file).unwrap();
            let file = Protection::File {
                secret: KeystoreSecret::KeyFile(key_file.clone()),
                work: WorkFactor::below_floor_for_tests(10),
            };
            let e = EpochId::new(2968);
            let (r, w) = {
                let mut ks =
                    Keystore::open_or_create(&ks_dir, &file, CustodianRole::Oversight, "oversight")
                        .unwrap();
                ks.generate_epoch(e).unwrap();
                let w = ks.witness_key().unwrap().public_key();
                (ks.epoch(e).unwrap().recipient(), w)
            };
            let token = Protection::Token(t);
            Keystore::rotate(
                &ks_dir,
                &file,
                &token,
                CustodianRole::Oversight,
                "oversight",
            )
            .unwrap();
            assert!(!key_file.exists(), "the old key file is scrubbed");
            assert!(!ks_dir.join("keystore.age").exists());
            let mut ks =
                Keystore::open_or_create(&ks_dir, &token, CustodianRole::Oversight, "oversight")
                    .unwrap();
            assert_eq!(ks.epoch(e).unwrap().recipient(), r);
            assert_eq!(ks.witness_key().unwrap().public_key(), w);
            // And back to files is refused: a token keystore does not leave its token.
            let back = Protection::File {
                secret: KeystoreSecret::Passphrase(zeroize::Zeroizing::new(
                    "correct horse battery staple".into(),
                )),
                work: WorkFactor::below_floor_for_tests(10),
            };
            drop(ks);
            assert!(matches!(
                Keystore::rotate(
                    &ks_dir,
                    &token,
                    &back,
                    CustodianRole::Oversight,
                    "oversight"
                ),
                Err(KeystoreError::Rotation(_))
            ));
        },
    );
}

/// Copies `from` into `to`, file by file (what a backup program does; a file being
/// written may be copied half-written, as it would be).
fn copy_dir(from: &Path, to: &Path) {
    let Ok(entries) = std::fs::read_dir(from) else {
        return;
    };
    let _ = std::fs::create_dir_all(to);
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            let _ = std::fs::copy(&p, to.join(e.file_name()));
        }
    }
}

fn files_named(dir: &Path, ext: &str, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_named(&p, ext, out);
        } else if p.extension().is_some_and(|x| x == ext) {
            out.push(p);
        }
    }
}

/// Every identity that opens from any file of any copy, with every key left in either
/// token, plus every identity either custodian holds now.
fn keys_from_copies(copies: &Path, nodes: &[&Node]) -> (Vec<age::x25519::Identity>, usize) {
    let mut files = Vec::new();
    files_named(copies, "age", &mut files);
    let mut keys = Vec::new();
    for f in &files {
        let Ok(bytes) = std::fs::read(f) else {
            continue;
        };
        for n in nodes {
            if let Some(Some(text)) = n.with_keystore(|k| k.try_open_with_every_token_key(&bytes)) {
                keys.extend(identity_lines(&text));
            }
        }
    }
    for n in nodes {
        let texts: Vec<String> = n
            .with_keystore(|k| {
                k.keyring()
                    .live_epochs()
                    .map(|e| k.epoch(e).unwrap().to_identity_file().to_string())
                    .collect()
            })
            .unwrap();
        for t in texts {
            keys.extend(identity_lines(&t));
        }
    }
    // The same identity found in many copies is tried once.
    let mut seen = BTreeSet::new();
    keys.retain(|k| seen.insert(k.to_public().to_string()));
    (keys, files.len())
}

fn opens(file: &[u8], id: &age::x25519::Identity) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let d = age::Decryptor::new_buffered(file).ok()?;
    let mut r = d.decrypt(std::iter::once(id as &dyn age::Identity)).ok()?;
    let mut out = Vec::new();
    r.read_to_end(&mut out).ok()?;
    Some(out)
}

/// The records that open with some (outer, inner) pair of `keys`.
fn opened(records: &[StoredRecord], keys: &[age::x25519::Identity]) -> usize {
    records
        .iter()
        .filter(|r| {
            keys.iter().any(|outer| {
                opens(&r.ciphertext, outer)
                    .is_some_and(|inner| keys.iter().any(|k| opens(&inner, k).is_some()))
            })
        })
        .count()
}

#[test]
#[ignore = "needs softhsm2; run by .ci/run"]
fn ret_34_copies_of_the_custodians_data_taken_throughout_a_run_open_nothing_after_the_deadlines() {
    in_softhsm2(
        "token::ret_34_copies_of_the_custodians_data_taken_throughout_a_run_open_nothing_after_the_deadlines",
        |home| {
            let agency = token(home, "minimis-test-agency");
            let oversight = token(home, "minimis-test-oversight");
            let dir = tempfile::tempdir().unwrap();
            let copies = tempfile::tempdir().unwrap();
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let d = InProcessDeployment::open(
                    dir.path(),
                    default_policy(),
                    ManualClock::new(NOW),
                    move |o| {
                        o.protection = Protection::Token(match o.role {
                            CustodianRole::Agency => agency.clone(),
                            CustodianRole::Oversight => oversight.clone(),
                        });
                    },
                )
                .await
                .unwrap();
                let policy = default_policy();
                assert!(d.agency.with_keystore(|k| k.is_token()).unwrap());

                // A backup program copies both custodians' data directories every 50 ms,
                // whatever they are doing; the run copies them too after every day.
                let stop = Arc::new(AtomicBool::new(false));
                let copier = {
                    let (stop, src, dst) = (stop.clone(), dir.path().to_owned(), copies.path().to_owned());
                    std::thread::spawn(move || {
                        let mut n = 0u32;
                        while !stop.load(Ordering::SeqCst) && n < 5_000 {
                            for role in ["agency", "oversight"] {
                                copy_dir(&src.join(role), &dst.join(format!("bg-{n}")).join(role));
                            }
                            n += 1;
                            std::thread::sleep(std::time::Duration::from_millis(50));
                        }
                        n
                    })
                };
                let copy_now = |n: u32| {
                    for role in ["agency", "oversight"] {
                        copy_dir(
                            &dir.path().join(role),
                            &copies.path().join(format!("day-{n}")).join(role),
                        );
                    }
                };

                // Two weeks of check-ins, then every day until both epochs' deadlines
                // have passed: identities made, published and destroyed as in a run.
                let device = SigningKey::generate().unwrap();
                let tags = TagKey::generate().unwrap();
                let people: Vec<Pseudonym> =
                    (1..=3).map(|i| Pseudonym::from_bytes([i; 16])).collect();
                let first = policy.epoch_at(NOW).unwrap();
                let second = first.next().unwrap();
                let last_deadline = policy.content_deadline(second);
                let mut backups: Vec<StoredRecord> = Vec::new();
                let mut control = None;
                let mut day = 0u32;
                let mut made = 0usize;
                while d.clock.now() <= last_deadline.plus(86_400) {
                    let now = d.clock.now();
                    let e = policy.epoch_at(now).unwrap();
                    if e == first || e == second {
                        for p in &people {
                            let payload = minimis_testkit::payload(
                                ChallengeId::from_bytes(minimis_crypto::random_bytes().unwrap()),
                                ZoneResult::Inside,
                                "day",
                            );
                            d.check_in(&device, *p, tags.tag(p, e), &payload).unwrap();
                            made += 1;
                        }
                    }
                    // The day before each deadline: the operator's backup of the epoch,
                    // and (once) proof that the test's method opens what still has keys.
                    for epoch in [first, second] {
                        let deadline = policy.content_deadline(epoch);
                        if now < deadline && now.plus(86_400) >= deadline {
                            let records: Vec<StoredRecord> = d
                                .operator
                                .backup()
                                .into_iter()
                                .filter(|r| r.epoch == epoch)
                                .collect();
                            if control.is_none() {
                                copy_now(day);
                                let (keys, _) = keys_from_copies(
                                    &copies.path().join(format!("day-{day}")),
                                    &[&d.agency, d.oversight.as_ref().unwrap()],
                                );
                                control = Some(opened(&records, &keys));
                                assert_eq!(
                                    control,
                                    Some(records.len()),
                                    "before the deadline a copy opens the epoch's records"
                                );
                            }
                            backups.extend(records);
                        }
                    }
                    d.clock.advance(86_400);
                    d.tick().await;
                    copy_now(day);
                    day += 1;
                    // Let the copier catch the keystores between days.
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                }
                stop.store(true, Ordering::SeqCst);
                let background = copier.join().unwrap();
                // The operator's backups hold every record of both epochs.
                assert_eq!(backups.len(), made);
                for n in std::iter::once(&d.agency).chain(d.oversight.as_ref()) {
                    let destroyed = n
                        .with_keystore(|k| {
                            k.destroyed_at(first).is_some() && k.destroyed_at(second).is_some()
                        })
                        .unwrap();
                    assert!(destroyed);
                }

                // Every copy, every file in it, every key left in either token or held by
                // either custodian: no record of the destroyed epochs opens.
                let (keys, files) = keys_from_copies(
                    copies.path(),
                    &[&d.agency, d.oversight.as_ref().unwrap()],
                );
                assert!(!keys.is_empty(), "later epochs' keys exist");
                let n = opened(&backups, &keys);
                println!(
                    "measured: {day} days, {background} background copies and {day} daily copies, {files} key files tried with every token key, {} identities, {} records: {n} open",
                    keys.len(),
                    backups.len()
                );
                assert_eq!(n, 0);
            });
        },
    );
}
