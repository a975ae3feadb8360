//! The key custodians across crates: both custodians as TLS services (officers, the
//! operator and the agency custodian authenticated by client certificates), the
//! crypto-shredding of a backup, the keystore after destruction, and a participant's
//! departure against the real operator's server.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use base64::Engine as _;
use minimis_crypto::{SigningKey, TagKey};
use minimis_custodian::config::SecretSource;
use minimis_custodian::https::{HttpsClient, HttpsPeer};
use minimis_custodian::operator::StoredRecord;
use minimis_custodian::protocol::{AccessRequest, PlaceHoldRequest};
use minimis_custodian::tls::DevCa;
use minimis_custodian::{
    Clock as _, Custodian, CustodianConfig, InProcessDeployment, InProcessOperator, ManualClock,
    Node, OversightLink, Running,
};
use minimis_log::LogEntry;
use minimis_log::entry::OfficerId;
use minimis_proto::*;
use minimis_testkit::NOW;
use minimis_testkit::https::{Client, Method, StatusCode, Versions};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn payload(note: &str) -> CheckInPayload {
    minimis_testkit::payload(
        ChallengeId::from_bytes(minimis_crypto::random_bytes().unwrap()),
        ZoneResult::Outside,
        note,
    )
}

// ---- two custodians as services ---------------------------------------------------------

struct Services {
    dir: tempfile::TempDir,
    clock: ManualClock,
    operator: Arc<InProcessOperator>,
    agency: Running,
    oversight: Running,
}

pub(crate) fn config(role: CustodianRole, dir: &Path) -> CustodianConfig {
    let mut c = CustodianConfig::new(role);
    c.data_dir = dir.join(role.as_str());
    c.listen = "127.0.0.1:0".parse().unwrap();
    c.secret = SecretSource::KeyFile(dir.join(format!("{role}.key")));
    c.scrypt = minimis_custodian::keystore::WorkFactor::below_floor_for_tests(10);
    c
}

pub(crate) fn read(p: PathBuf) -> String {
    std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

impl Services {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(NOW);
        let policy = default_policy();
        let operator = InProcessOperator::new(policy, Arc::new(clock.clone())).unwrap();
        let oversight = Custodian::start_with(
            config(CustodianRole::Oversight, dir.path()),
            clock.clone(),
            Arc::new(operator.link(CustodianRole::Oversight)),
            None,
        )
        .await
        .unwrap();
        let witness = oversight.node().witness().unwrap().clone();
        operator.attach_witness(witness.clone());
        // The agency custodian reaches the oversight custodian over mutual TLS, with the
        // client certificate the oversight custodian's development PKI issued it.
        let otls = dir.path().join("oversight/tls");
        let peer: Arc<dyn OversightLink> = Arc::new(HttpsPeer::new(
            HttpsClient::new(
                oversight.addr(),
                "localhost",
                &read(otls.join("ca.crt")),
                Some((
                    &read(otls.join("agency-client.crt")),
                    &read(otls.join("agency-client.key")),
                )),
            )
            .unwrap(),
        ));
        let mut a = config(CustodianRole::Agency, dir.path());
        let caseload = dir.path().join("caseload.toml");
        std::fs::write(&caseload, "[officers]\n").unwrap();
        a.caseload = Some(caseload);
        a.witnesses = vec![witness.verifier_key().to_string()];
        let agency = Custodian::start_with(
            a,
            clock.clone(),
            Arc::new(operator.link(CustodianRole::Agency)),
            Some(peer),
        )
        .await
        .unwrap();
        oversight.tick().await;
        agency.tick().await;
        Self {
            dir,
            clock,
            operator,
            agency,
            oversight,
        }
    }

    fn tls(&self, role: &str, file: &str) -> String {
        read(self.dir.path().join(role).join("tls").join(file))
    }

    fn caseload(&self, officer: &str, p: Pseudonym) {
        let path = self.dir.path().join("caseload.toml");
        let tmp = self.dir.path().join("caseload.tmp");
        std::fs::write(&tmp, format!("[officers]\n{officer} = [\"{p}\"]\n")).unwrap();
        std::fs::rename(tmp, path).unwrap();
    }

    fn check_in(&self, p: Pseudonym, note: &str) -> (RecordId, CheckInPayload) {
        let keys = minimis_seal::SealingKeys::verify(
            self.agency.node().policy(),
            self.clock.now(),
            &self.operator.recipients(),
            &minimis_seal::CustodianKeys {
                agency: self.agency.node().public_key().unwrap(),
                oversight: self.oversight.node().public_key(),
            },
        )
        .unwrap();
        let pl = payload(note);
        let env =
            minimis_seal::seal_envelope(&pl, &keys, p, &SigningKey::generate().unwrap()).unwrap();
        let tag = TagKey::generate().unwrap().tag(&p, keys.epoch());
        (self.operator.store(&env, tag).unwrap(), pl)
    }

    async fn officer(&self, cert: Option<(&str, &str)>) -> Option<Client> {
        Client::connect(
            self.agency.addr(),
            &self.tls("agency", "ca.crt"),
            cert,
            Versions::Tls13,
        )
        .await
        .ok()
    }
}

fn access_body(records: &[RecordId]) -> Vec<u8> {
    serde_json::to_vec(&AccessRequest {
        records: records.iter().map(ToString::to_string).collect(),
        purpose: "compliance-review".into(),
        legal_basis: "release-conditions".into(),
        case_reference: "HOU-2025-004211".into(),
    })
    .unwrap()
}

/// Whether a request over a connection made with `cert` fails before reaching the
/// application (in TLS 1.3 the server's refusal of a client certificate arrives with
/// the first read).
async fn refused_at_handshake(s: &Services, cert: Option<(&str, &str)>, body: Vec<u8>) -> bool {
    match s.officer(cert).await {
        None => true,
        Some(mut c) => c.post("/v1/access", body).await.is_err(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acc_1_acc_8_an_officer_with_a_certificate_reads_over_mutual_tls_and_nobody_else_does() {
    let s = Services::start().await;
    let p = Pseudonym::from_bytes([0x31; 16]);
    s.caseload("officer-0001", p);
    let (id, pl) = s.check_in(p, "the bus was late");
    let (cert, key) = (
        s.tls("agency", "officer-0001.crt"),
        s.tls("agency", "officer-0001.key"),
    );

    // No certificate, or one from another CA: the handshake fails, nothing is logged.
    let before = s.operator.entries().len();
    assert!(refused_at_handshake(&s, None, access_body(&[id])).await);
    let stranger = DevCa::generate("not the officer CA")
        .unwrap()
        .issue_client("officer-0001")
        .unwrap();
    assert!(
        refused_at_handshake(
            &s,
            Some((&stranger.cert, &stranger.key)),
            access_body(&[id])
        )
        .await
    );
    // The oversight custodian's agency-custodian certificate is not an officer's.
    let (ac, ak) = (
        s.tls("oversight", "agency-client.crt"),
        s.tls("oversight", "agency-client.key"),
    );
    assert!(refused_at_handshake(&s, Some((&ac, &ak)), access_body(&[id])).await);
    assert_eq!(
        s.operator.entries().len(),
        before,
        "nothing reached the log"
    );

    // The officer: the plaintext comes back on this connection only.
    let mut officer = s.officer(Some((&cert, &key))).await.unwrap();
    let r = officer
        .post("/v1/access", access_body(&[id]))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    let j = r.json();
    // The answer is the contract's (SVC-40).
    let opened: minimis_wire::custodian::AccessResponse = serde_json::from_slice(&r.body).unwrap();
    assert_eq!(opened.records[0].record_id, id);
    assert_eq!(opened.records[0].note.expose(), "the bus was late");
    assert_eq!(opened.records[0].zone, pl.zone);
    assert_eq!(opened.log.len(), 2);
    assert_eq!(
        j["log"].as_array().unwrap().len(),
        2,
        "both custodians logged it"
    );
    // Nothing the custodians keep holds the plaintext (ACC-8): a canary note.
    let mut files = Vec::new();
    files_under(s.dir.path(), &mut files);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        assert!(
            !bytes.windows(16).any(|w| w == b"the bus was late"),
            "{}",
            f.display()
        );
    }
    // A malformed request: 400, not logged.
    let r = officer
        .post("/v1/access", b"{\"records\": 1}".to_vec())
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::BAD_REQUEST, "request_malformed".into())
    );
    // A refusal, with its code.
    let r = officer
        .post(
            "/v1/access",
            serde_json::to_vec(&serde_json::json!({
                "records": [id.to_string()], "purpose": "curiosity",
                "legal_basis": "release-conditions", "case_reference": "X-1"}))
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "purpose_not_allowed".into())
    );

    // The operator's certificate opens the witness, not the outer layer.
    let (oc, ok) = (
        s.tls("oversight", "operator.crt"),
        s.tls("oversight", "operator.key"),
    );
    let mut op = Client::connect(
        s.oversight.addr(),
        &s.tls("oversight", "ca.crt"),
        Some((&oc, &ok)),
        Versions::Tls13,
    )
    .await
    .unwrap();
    let r = op.post("/v1/outer", b"{}".to_vec()).await.unwrap();
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::FORBIDDEN, "not_allowed".into())
    );
    // And an officer cannot reach the oversight custodian at all.
    let refused = match Client::connect(
        s.oversight.addr(),
        &s.tls("oversight", "ca.crt"),
        Some((&cert, &key)),
        Versions::Tls13,
    )
    .await
    {
        Err(_) => true,
        Ok(mut c) => c.post("/v1/outer", b"{}".to_vec()).await.is_err(),
    };
    assert!(refused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_16_log_32_the_witness_answers_tlog_witness_requests_from_the_operator() {
    let s = Services::start().await;
    let (oc, ok) = (
        s.tls("oversight", "operator.crt"),
        s.tls("oversight", "operator.key"),
    );
    let mut op = Client::connect(
        s.oversight.addr(),
        &s.tls("oversight", "ca.crt"),
        Some((&oc, &ok)),
        Versions::Tls13,
    )
    .await
    .unwrap();
    // A batch, which the operator has the witness cosign.
    s.check_in(Pseudonym::from_bytes([1; 16]), "");
    let latest = s.oversight.node().witness().unwrap().latest().unwrap();
    let cp = s.operator.checkpoint();
    // A wrong old size: 409 with the size last cosigned, as text/x.tlog.size.
    let r = op
        .request(
            Method::POST,
            "/witness/add-checkpoint",
            &[],
            format!("old 0\n\n{cp}").into_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::CONFLICT);
    assert_eq!(
        String::from_utf8(r.body.to_vec()).unwrap(),
        format!("{}\n", latest.tree_size)
    );
    // The right one: a cosignature line.
    let r = op
        .request(
            Method::POST,
            "/witness/add-checkpoint",
            &[],
            format!("old {}\n\n{cp}", latest.tree_size).into_bytes(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK);
    let line = String::from_utf8(r.body.to_vec()).unwrap();
    assert!(line.starts_with("— oversight.minimis/witness "), "{line}");
    // Garbage: 400.
    let r = op
        .request(
            Method::POST,
            "/witness/add-checkpoint",
            &[],
            b"hello".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

// ---- crypto-shredding -------------------------------------------------------------------

/// Every age identity that exists anywhere after the deadline: each custodian's live
/// epoch identities and hold identities, as identity files read back from the keystore.
fn every_key_left(d: &InProcessDeployment) -> Vec<age::x25519::Identity> {
    let mut out = Vec::new();
    let nodes: Vec<&Node> = std::iter::once(&d.agency)
        .chain(d.oversight.as_ref())
        .collect();
    for n in nodes {
        let texts: Vec<String> = n
            .with_keystore(|k| {
                let mut v: Vec<String> = k
                    .keyring()
                    .live_epochs()
                    .map(|e| k.epoch(e).unwrap().to_identity_file().to_string())
                    .collect();
                v.extend(k.live_holds().map(|h| {
                    use age::secrecy::ExposeSecret as _;
                    k.hold(h)
                        .unwrap()
                        .age_identity()
                        .to_string()
                        .expose_secret()
                        .to_owned()
                }));
                v
            })
            .unwrap();
        for t in texts {
            if let Some(line) = t.lines().find(|l| l.starts_with("AGE-SECRET-KEY-1")) {
                out.push(line.parse().unwrap());
            }
        }
    }
    out
}

fn opens(file: &[u8], id: &age::x25519::Identity) -> Option<Vec<u8>> {
    use std::io::Read as _;
    let d = age::Decryptor::new_buffered(file).ok()?;
    let mut r = d.decrypt(std::iter::once(id as &dyn age::Identity)).ok()?;
    let mut out = Vec::new();
    r.read_to_end(&mut out).ok()?;
    Some(out)
}

/// Tries every key on every record of the backup, alone and as an (outer, inner) pair.
fn any_opens(backup: &[StoredRecord], keys: &[age::x25519::Identity]) -> Vec<RecordId> {
    let mut opened = Vec::new();
    for r in backup {
        for outer in keys {
            if let Some(inner) = opens(&r.ciphertext, outer) {
                // The outer layer came off; does any key open the inner one?
                if keys.iter().any(|k| opens(&inner, k).is_some()) {
                    opened.push(r.record_id);
                }
            }
        }
    }
    opened
}

use crate::server::files_under;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ret_2_ret_3_ret_4_ret_8_ret_31_a_backup_taken_before_the_deadline_opens_with_no_key_left_anywhere()
 {
    let dir = tempfile::tempdir().unwrap();
    let d = InProcessDeployment::open(dir.path(), default_policy(), ManualClock::new(NOW), |_| {})
        .await
        .unwrap();
    let policy = default_policy();
    let e = policy.epoch_at(NOW).unwrap();
    let people: Vec<Pseudonym> = (1..=3).map(|i| Pseudonym::from_bytes([i; 16])).collect();
    d.set_caseload(&[("officer-1", &people)]).unwrap();
    let device = SigningKey::generate().unwrap();
    let tags = TagKey::generate().unwrap();
    let mut ours = Vec::new();
    for p in &people {
        for n in 0..2 {
            let id = d
                .check_in(&device, *p, tags.tag(p, e), &payload(&format!("note {n}")))
                .unwrap();
            ours.push(id);
        }
    }
    // The next epoch's records, which must stay readable.
    d.clock.set(policy.epoch_start(e.next().unwrap()));
    d.tick().await;
    let later = d
        .check_in(
            &device,
            people[0],
            tags.tag(&people[0], e.next().unwrap()),
            &payload("later"),
        )
        .unwrap();
    // A hold on one record of the epoch.
    let held = ours[0];
    let deadline = policy.content_deadline(e);
    let placed = d
        .agency
        .place_hold(
            &OfficerId::new("officer-1").unwrap(),
            PlaceHoldRequest {
                records: vec![held.to_string()],
                legal_basis: "court-order".into(),
                until: deadline.plus(86_400).seconds(),
            },
        )
        .await
        .unwrap();
    assert!(placed.complete);

    // The backup: a full copy of the operator's records, the day before the deadline.
    d.clock.set(deadline.plus(-86_400));
    d.tick().await;
    let backup: Vec<StoredRecord> = d
        .operator
        .backup()
        .into_iter()
        .filter(|r| r.epoch == e)
        .collect();
    assert_eq!(backup.len(), 6);
    // What the keystore holds of the epoch, to look for afterwards.
    let mut traces: Vec<Vec<u8>> = Vec::new();
    for n in std::iter::once(&d.agency).chain(d.oversight.as_ref()) {
        let (line, file) = n
            .with_keystore(|k| {
                let text = k.epoch(e).unwrap().to_identity_file();
                let line = text.lines().last().unwrap().to_owned();
                let file = std::fs::read(k.dir().join(format!("epoch-{}.age", e.get()))).unwrap();
                (line, file)
            })
            .unwrap();
        traces.push(line.into_bytes());
        traces.push(file);
    }
    assert!(
        any_opens(&backup, &every_key_left(&d)).len() == backup.len(),
        "before the deadline every record opens with the epoch's keys"
    );

    // The deadline.
    d.clock.set(deadline);
    let (a, o) = d.tick().await;
    assert_eq!(a.destroyed, vec![e]);
    assert_eq!(o.unwrap().destroyed, vec![e]);
    d.operator.purge_due().unwrap();

    // Every key that exists anywhere, the next epochs' and the holds' included, against
    // every record of the epoch in the backup: none opens.
    let keys = every_key_left(&d);
    assert!(keys.len() >= 4, "later epochs' keys exist: {}", keys.len());
    assert_eq!(any_opens(&backup, &keys), Vec::<RecordId>::new());
    // The later epoch is untouched.
    let later_rec = d
        .operator
        .backup()
        .into_iter()
        .find(|r| r.record_id == later)
        .unwrap();
    assert_eq!(any_opens(&[later_rec], &keys), vec![later]);
    // The held record opens only the way the hold allows: through both custodians.
    let opened = d
        .agency
        .access(
            &OfficerId::new("officer-1").unwrap(),
            AccessRequest {
                records: vec![held.to_string()],
                purpose: "court-order".into(),
                legal_basis: "court-order".into(),
                case_reference: "ORDER-77".into(),
            },
        )
        .await
        .unwrap();
    assert_eq!(opened.records.len(), 1);
    for id in &ours[1..] {
        let r = d
            .agency
            .access(
                &OfficerId::new("officer-1").unwrap(),
                AccessRequest {
                    records: vec![id.to_string()],
                    purpose: "court-order".into(),
                    legal_basis: "court-order".into(),
                    case_reference: "ORDER-77".into(),
                },
            )
            .await
            .unwrap_err();
        // Purged by the operator, and its keys destroyed by both custodians.
        assert!(
            matches!(r.code(), "record_unknown" | "key_destroyed"),
            "{r}"
        );
    }
    // The hold ends: now nothing opens it either.
    d.agency.release_hold(placed.hold).await.unwrap();
    let keys = every_key_left(&d);
    assert_eq!(any_opens(&backup, &keys), Vec::<RecordId>::new());

    // The keystores hold no trace of the epoch's identities: not the identity, not a
    // 64-byte piece of its encrypted file.
    let mut files = Vec::new();
    files_under(dir.path(), &mut files);
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for t in &traces {
            let w = 64.min(t.len());
            assert!(
                !bytes.windows(w).any(|b| t.windows(w).any(|x| x == b)),
                "{} holds a trace of a destroyed epoch identity",
                f.display()
            );
        }
        assert!(
            !f.to_string_lossy()
                .ends_with(&format!("epoch-{}.age", e.get())),
            "{}",
            f.display()
        );
    }
    // And the log says so.
    let destroyed = d
        .operator
        .entries()
        .into_iter()
        .filter(|x| matches!(x, LogEntry::EpochKeyDestroyed { epoch, .. } if *epoch == e))
        .count();
    assert_eq!(destroyed, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ret_3_either_custodian_alone_destroying_leaves_the_backup_unreadable() {
    for which in [CustodianRole::Agency, CustodianRole::Oversight] {
        let dir = tempfile::tempdir().unwrap();
        let d =
            InProcessDeployment::open(dir.path(), default_policy(), ManualClock::new(NOW), |_| {})
                .await
                .unwrap();
        let e = default_policy().epoch_at(NOW).unwrap();
        let p = Pseudonym::from_bytes([5; 16]);
        let dev = SigningKey::generate().unwrap();
        let tags = TagKey::generate().unwrap();
        for _ in 0..3 {
            d.check_in(&dev, p, tags.tag(&p, e), &payload("x")).unwrap();
        }
        let backup = d.operator.backup();
        let node = match which {
            CustodianRole::Agency => d.agency.clone(),
            CustodianRole::Oversight => d.oversight.clone().unwrap(),
        };
        node.destroy_epoch(e).await.unwrap();
        // The other custodian's key for the epoch is intact, and is among the keys.
        let keys = every_key_left(&d);
        assert_eq!(any_opens(&backup, &keys), Vec::<RecordId>::new(), "{which}");
    }
}

// ---- against the operator's server -----------------------------------------------------

/// The operator's server (`minimis-server`, TLS, SQLite) with both custodians as TLS
/// services talking HTTPS to it, and the oversight custodian as its witness.
pub(crate) struct RealStack {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) server: minimis_server::Running,
    pub(crate) server_clock: minimis_server::ManualClock,
    pub(crate) agency: Running,
    pub(crate) oversight: Running,
    pub(crate) keys: [PublicKey; 2],
    pub(crate) policy: Policy,
}

impl RealStack {
    pub(crate) async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let clock = ManualClock::new(NOW);
        let policy = default_policy();
        // The custodians' keystores first: the operator is configured with their keys,
        // and with the oversight custodian's witness key.
        let mut keys = Vec::new();
        let mut witness_key = None;
        for role in [CustodianRole::Agency, CustodianRole::Oversight] {
            let c = config(role, dir.path());
            let mut ks = minimis_custodian::keystore::Keystore::open_or_create(
                &c.data_dir.join("keystore"),
                &c.protection().unwrap(),
                role,
                &policy.custodian(role).unwrap().id,
            )
            .unwrap();
            keys.push(ks.signing_key().public_key());
            if role == CustodianRole::Oversight {
                witness_key = Some(minimis_log::VerifierKey::cosignature_v1(
                    minimis_log::KeyName::new("oversight.minimis/witness").unwrap(),
                    ks.witness_key().unwrap().public_key(),
                ));
            }
        }
        // The log's key, made ahead (the server reads it from its data directory), so
        // that the witness can be started, pinned to it, before the server.
        let log_seed: [u8; 32] = minimis_crypto::random_bytes().unwrap();
        let keys_dir = dir.path().join("operator/keys");
        std::fs::create_dir_all(&keys_dir).unwrap();
        std::fs::write(
            keys_dir.join("log.key"),
            format!("{}\n", B64.encode(log_seed)),
        )
        .unwrap();
        let log_vkey = minimis_log::NoteSigner::new(
            minimis_log::KeyName::new("localhost/minimis-log").unwrap(),
            SigningKey::from_seed(&log_seed).unwrap(),
        )
        .verifier_key();

        let mut o = config(CustodianRole::Oversight, dir.path());
        o.log_key = Some(log_vkey.to_string());
        // Not contacted before the first tick.
        o.operator = Some(minimis_custodian::config::Endpoint {
            address: "127.0.0.1:9".parse().unwrap(),
            server_name: "localhost".into(),
            ca: dir.path().join("operator/tls/server.crt"),
            client: None,
        });
        // The operator's CA file does not exist yet: start the oversight custodian with an
        // in-process link for the log key, then point it at the server below.
        let otls = dir.path().join("oversight/tls");
        let oversight_probe = Custodian::start_with(
            o.clone(),
            clock.clone(),
            Arc::new(
                InProcessOperator::new(policy.clone(), Arc::new(clock.clone()))
                    .unwrap()
                    .link(CustodianRole::Oversight),
            ),
            None,
        )
        .await
        .unwrap();
        let witness_addr = oversight_probe.addr();
        oversight_probe.shutdown().await;

        let server_clock = minimis_server::ManualClock::new(NOW);
        let server = minimis_server::Server::start(
            minimis_server::ServerConfig {
                data_dir: dir.path().join("operator"),
                listen: "127.0.0.1:0".parse().unwrap(),
                agency_key: Some(keys[0]),
                oversight_key: Some(keys[1]),
                witnesses: Some(minimis_server::WitnessSet {
                    witnesses: vec![minimis_server::WitnessLink {
                        addr: witness_addr,
                        server_name: "localhost".into(),
                        roots_pem: read(otls.join("ca.crt")),
                        client: Some((
                            read(otls.join("operator.crt")),
                            zeroize::Zeroizing::new(read(otls.join("operator.key"))),
                        )),
                        prefix: "/witness".into(),
                        vkey: witness_key.unwrap(),
                    }],
                    quorum: 1,
                    policy: None,
                }),
                ..minimis_server::ServerConfig::default()
            },
            server_clock.clone(),
        )
        .await
        .unwrap();
        assert_eq!(server.log_key(), log_vkey.to_string());
        let endpoint = minimis_custodian::config::Endpoint {
            address: server.addr(),
            server_name: "localhost".into(),
            ca: dir.path().join("operator/tls/server.crt"),
            client: None,
        };
        // Both custodians as services, talking HTTPS to the operator; the oversight
        // custodian back on the address the server's witness link names.
        o.operator = Some(endpoint.clone());
        o.listen = witness_addr;
        let oversight = Custodian::start(o, clock.clone()).await.unwrap();
        let mut a = config(CustodianRole::Agency, dir.path());
        a.operator = Some(endpoint);
        a.oversight = Some(minimis_custodian::config::Endpoint {
            address: oversight.addr(),
            server_name: "localhost".into(),
            ca: otls.join("ca.crt"),
            client: Some((
                otls.join("agency-client.crt"),
                otls.join("agency-client.key"),
            )),
        });
        let caseload = dir.path().join("caseload.toml");
        std::fs::write(&caseload, "[officers]\n").unwrap();
        a.caseload = Some(caseload);
        let agency = Custodian::start(a, clock.clone()).await.unwrap();
        // The agency custodian took the log's key from the operator (GET /v1/keys).
        assert_eq!(agency.node().log_key().to_string(), server.log_key());
        // They publish their signed recipients (POST /v1/recipients).
        assert_eq!(oversight.tick().await.published.len(), 2);
        assert_eq!(agency.tick().await.published.len(), 2);
        Self {
            dir,
            server,
            server_clock,
            agency,
            oversight,
            keys: [keys[0], keys[1]],
            policy,
        }
    }

    pub(crate) fn server_tls(&self, f: &str) -> String {
        read(self.dir.path().join("operator/tls").join(f))
    }

    async fn officer(&self) -> Client {
        let (c, k) = (
            self.server_tls("officer-0001.crt"),
            self.server_tls("officer-0001.key"),
        );
        Client::connect(
            self.server.addr(),
            &self.server_tls("server.crt"),
            Some((&c, &k)),
            Versions::Tls13,
        )
        .await
        .unwrap()
    }

    async fn device(&self) -> Client {
        Client::connect(
            self.server.addr(),
            &self.server_tls("server.crt"),
            None,
            Versions::Tls13,
        )
        .await
        .unwrap()
    }

    async fn enroll(&self, off: &mut Client) -> minimis_testkit::Participant {
        let world = minimis_testkit::World::new(&[]);
        minimis_testkit::https::enroll(off, world.participant()).await
    }

    /// A device's check-in: fetch the recipients the operator serves and check them
    /// under the custodians' keys (SEAL-7), seal, send. Returns the reply.
    async fn check_in(
        &self,
        c: &mut Client,
        p: &minimis_testkit::Participant,
        note: &str,
    ) -> minimis_testkit::https::Reply {
        let e = self.policy.epoch_at(NOW).unwrap();
        let r = c
            .get(&format!("/v1/epochs/{}/recipients", e.get()))
            .await
            .unwrap();
        let published: Vec<SignedEpochRecipient> = serde_json::from_slice(&r.body).unwrap();
        let sealing = minimis_seal::SealingKeys::verify(
            &self.policy,
            NOW,
            &published,
            &minimis_seal::CustodianKeys {
                agency: self.keys[0],
                oversight: Some(self.keys[1]),
            },
        )
        .unwrap();
        let path = format!("/v1/participants/{}/challenges", p.pseudonym);
        let r = c
            .signed(Method::GET, &path, &p.pseudonym, &p.device, NOW, Vec::new())
            .await
            .unwrap();
        let challenge = if r.status == StatusCode::OK {
            let v: Vec<SignedChallenge> = serde_json::from_slice(&r.body).unwrap();
            v.first().map(|s| s.challenge.id)
        } else {
            None
        }
        .unwrap_or_else(|| ChallengeId::from_bytes([0; 16]));
        let env = minimis_seal::seal_envelope(
            &minimis_testkit::payload(challenge, ZoneResult::Inside, note),
            &sealing,
            p.pseudonym,
            &p.device,
        )
        .unwrap();
        c.post("/v1/checkins", serde_json::to_vec(&env).unwrap())
            .await
            .unwrap()
    }

    pub(crate) async fn stop(self) {
        self.agency.shutdown().await;
        self.oversight.shutdown().await;
        self.server.shutdown().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ret_10_a_closed_enrollment_gets_nothing_new_sealed_and_custodians_hold_nothing_per_participant()
 {
    let s = RealStack::start().await;
    let mut off = s.officer().await;
    let staying = s.enroll(&mut off).await;
    let leaving = s.enroll(&mut off).await;
    s.server.tick().await.unwrap();
    let r = off
        .post(
            &format!("/v1/enrollments/{}/close", leaving.pseudonym),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // The recipients verify under the custodians' keys, so a device could seal; the
    // operator refuses what a closed enrollment sends, so nothing new is stored for the
    // custodians to ever open.
    let mut c = s.device().await;
    let r = s.check_in(&mut c, &staying, "").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    let r = s.check_in(&mut c, &leaving, "").await;
    assert_eq!(
        (r.status, r.code()),
        (StatusCode::GONE, "enrollment_closed".into())
    );
    // The custodians hold nothing per participant: their keystores are per epoch.
    for role in ["agency", "oversight"] {
        let mut files = Vec::new();
        files_under(&s.dir.path().join(role).join("keystore"), &mut files);
        for f in files {
            let name = f.file_name().unwrap().to_string_lossy().into_owned();
            assert!(
                name.starts_with("epoch-")
                    || [
                        "keystore.age",
                        "signing.age",
                        "witness.age",
                        "tombstones.json"
                    ]
                    .contains(&name.as_str()),
                "{name}"
            );
            let text = String::from_utf8_lossy(&std::fs::read(&f).unwrap()).into_owned();
            for p in [&staying, &leaving] {
                assert!(!text.contains(&p.pseudonym.to_string()));
            }
        }
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acc_4_acc_7_ret_32_end_to_end_through_the_operators_server_and_its_witness() {
    let s = RealStack::start().await;
    let mut off = s.officer().await;
    let p = s.enroll(&mut off).await;
    s.server.tick().await.unwrap();
    let mut c = s.device().await;
    let r = s.check_in(&mut c, &p, "at the clinic").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    let record: RecordId = r.json()["receipt"]["record_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    std::fs::write(
        s.dir.path().join("caseload.toml"),
        format!("[officers]\nofficer-0001 = [\"{}\"]\n", p.pseudonym),
    )
    .unwrap();
    // The officer asks the agency custodian over mutual TLS; the custodians log to the
    // operator (POST /v1/custodian/entries), verify the proofs, fetch the record
    // (GET /v1/custodian/records/…), and open it.
    let agency_tls = s.dir.path().join("agency/tls");
    let (oc, ok) = (
        read(agency_tls.join("officer-0001.crt")),
        read(agency_tls.join("officer-0001.key")),
    );
    let mut officer = Client::connect(
        s.agency.addr(),
        &read(agency_tls.join("ca.crt")),
        Some((&oc, &ok)),
        Versions::Tls13,
    )
    .await
    .unwrap();
    let r = officer
        .post("/v1/access", access_body(&[record]))
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.json());
    assert_eq!(r.json()["records"][0]["note"], "at the clinic");
    // A hold: logged, the operator told (POST /v1/custodian/holds), both layers re-wrapped.
    let e = s.policy.epoch_at(NOW).unwrap();
    let until = s.policy.content_deadline(e).plus(86_400);
    let r = officer
        .post(
            "/v1/holds",
            serde_json::to_vec(&PlaceHoldRequest {
                records: vec![record.to_string()],
                legal_basis: "court-order".into(),
                until: until.seconds(),
            })
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    let placed: minimis_wire::custodian::PlaceHoldResponse =
        serde_json::from_slice(&r.body).unwrap();
    assert!(placed.complete);
    assert_eq!(placed.records, vec![record]);
    // The log, as the public fetches it, holds both custodians' entries and the hold.
    s.server_clock.advance(1);
    s.server.tick().await.unwrap();
    let mut entries = Vec::new();
    let cp = c.get("/v1/log/checkpoint").await.unwrap();
    let text = String::from_utf8(cp.body.to_vec()).unwrap();
    let size: u64 = text.lines().nth(1).unwrap().parse().unwrap();
    for b in minimis_log::tiles::bundles_for(size) {
        let r = c.get(&format!("/v1/log/{}", b.path())).await.unwrap();
        for e in minimis_log::tiles::split_bundle(&r.body, b.width()).unwrap() {
            entries.push(LogEntry::decode(e).unwrap());
        }
    }
    let accessed: Vec<String> = entries
        .iter()
        .filter_map(|e| match e {
            LogEntry::ContentAccessed(a) => Some(a.custodian.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(accessed, vec!["agency".to_owned(), "oversight".to_owned()]);
    assert!(
        entries
            .iter()
            .any(|e| matches!(e, LogEntry::LegalHoldPlaced(_)))
    );
    // The witness cosigns what the operator asks it to, off the request path (CHK-31).
    let mut waited = 0;
    while s.oversight.node().witness().unwrap().latest().is_none() && waited < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        waited += 1;
    }
    assert!(s.oversight.node().witness().unwrap().latest().is_some());
    s.stop().await;
}

/// The witness cosigns the operator's checkpoints off the check-in's path: the first
/// receipt is against an uncosigned checkpoint, and the receipt fetched again once the
/// witness has answered carries its verified cosignature, as does the published
/// checkpoint while it is current.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chk_31_chk_30_the_witness_cosigns_after_the_receipt_and_the_receipt_is_reissued() {
    let s = RealStack::start().await;
    let witness = s.oversight.node().witness().unwrap().verifier_key().clone();
    let log_key: minimis_log::VerifierKey = s.server.log_key().parse().unwrap();
    let mut off = s.officer().await;
    let p = s.enroll(&mut off).await;
    s.server.tick().await.unwrap();
    let mut c = s.device().await;
    let r = s.check_in(&mut c, &p, "").await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.json());
    let record: RecordId = r.json()["receipt"]["record_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let first = minimis_log::TlogProof::parse(
        r.json()["receipt"]["tlog_proof"]
            .as_str()
            .unwrap()
            .as_bytes(),
    )
    .unwrap();
    let first_cp =
        minimis_log::SignedCheckpoint::open(first.checkpoint_text().as_bytes(), &log_key).unwrap();
    // The answer did not wait for the witness.
    assert!(matches!(
        first_cp.verify_cosignatures(std::slice::from_ref(&witness)),
        Err(minimis_log::cosignature::CosignatureError::Missing { .. })
    ));

    // The server has the checkpoint cosigned on its own, and keeps it.
    let mut cosigned = None;
    for _ in 0..400 {
        if let Some(note) = s.server.cosigned_checkpoint().await.unwrap() {
            let cp = minimis_log::SignedCheckpoint::open(note.as_bytes(), &log_key).unwrap();
            if cp.checkpoint().tree_size() > first.leaf_index() {
                cosigned = Some(cp);
                break;
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let cosigned = cosigned.expect("the witness cosigned within 10 s");
    cosigned
        .verify_cosignatures(std::slice::from_ref(&witness))
        .unwrap();
    // While it is current, the published checkpoint carries the cosignature.
    let published = c.get("/v1/log/checkpoint").await.unwrap();
    let published = minimis_log::SignedCheckpoint::open(&published.body, &log_key).unwrap();
    assert_eq!(published.checkpoint(), cosigned.checkpoint());
    published
        .verify_cosignatures(std::slice::from_ref(&witness))
        .unwrap();

    // The receipt fetched again is against the cosigned checkpoint, and proves the entry.
    let ledger = c
        .signed(
            Method::GET,
            &format!("/v1/participants/{}/ledger", p.pseudonym),
            &p.pseudonym,
            &p.device,
            NOW,
            Vec::new(),
        )
        .await
        .unwrap();
    let challenge: ChallengeId = ledger.json()[0]["challenge"]["challenge"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let epoch = s.policy.epoch_at(NOW).unwrap();
    let entry = LogEntry::CheckInReceived {
        tag: p.tags.tag(&p.pseudonym, epoch),
        record,
        challenge,
        epoch,
    };
    let again = c
        .signed(
            Method::GET,
            &format!("/v1/participants/{}/receipts/{record}", p.pseudonym),
            &p.pseudonym,
            &p.device,
            NOW,
            Vec::new(),
        )
        .await
        .unwrap();
    assert_eq!(again.status, StatusCode::OK, "{:?}", again.json());
    let proof = again.json()["tlog_proof"].as_str().unwrap().to_owned();
    let verified = minimis_log::verify_tlog_proof(
        proof.as_bytes(),
        &entry.encode(),
        &log_key,
        std::slice::from_ref(&witness),
    )
    .unwrap();
    assert_eq!(verified.checkpoint, *cosigned.checkpoint());
    s.stop().await;
}

#[test]
fn custodian_serve_says_what_is_missing() {
    let out = crate::minimis()
        .args(["custodian", "serve"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--role agency"));
    let dir = tempfile::tempdir().unwrap();
    let out = crate::minimis()
        .args(["custodian", "serve", "--role", "agency", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--operator"));
}

// ---- a hostile operator (RET-40, RET-41) ---------------------------------------------

/// How the fake operator answers.
#[derive(Clone, Debug)]
enum Answer {
    /// 200 with a chunked body that never ends (capped at 256 MiB).
    EndlessBody,
    /// 200 declaring a 1 TiB body, then nothing.
    DeclaredHuge,
    /// Reads the request and never answers.
    Hang,
    /// Never completes the TLS handshake.
    NoHandshake,
    /// One byte of body every 200 ms, for ever.
    Trickle,
    /// 500 to everything.
    ServerError,
    /// The log's key for `GET /v1/keys`, 204 for anything else.
    Friendly(String),
}

/// A TLS 1.3 server on loopback that answers every request as `answer` says; returns
/// its address and the PEM of its CA. Serves at most 64 connections.
async fn fake_operator(answer: Answer) -> (std::net::SocketAddr, String) {
    use rustls_pki_types::pem::PemObject as _;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let ca = DevCa::generate("fake operator CA").unwrap();
    let pair = ca.issue_server("fake operator").unwrap();
    let certs = rustls_pki_types::CertificateDer::pem_slice_iter(pair.cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(pair.key.as_bytes()).unwrap();
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS13])
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        for _ in 0..64 {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, answer) = (acceptor.clone(), answer.clone());
            tokio::spawn(async move {
                if matches!(answer, Answer::NoHandshake) {
                    tokio::time::sleep(std::time::Duration::from_secs(120)).await;
                    drop(tcp);
                    return;
                }
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut buf = vec![0u8; 1 << 16];
                for _request in 0..100 {
                    // The request's head (and whatever body came with it).
                    let mut got = Vec::new();
                    loop {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                        if got.windows(4).any(|w| w == b"\r\n\r\n") {
                            break;
                        }
                    }
                    let head = String::from_utf8_lossy(&got).into_owned();
                    let reply = |status: &str, body: &str| {
                        format!(
                            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        )
                    };
                    match &answer {
                        Answer::EndlessBody => {
                            let _ = tls
                                .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
                                .await;
                            let chunk = format!("10000\r\n{}\r\n", "[".repeat(1 << 16));
                            for _ in 0..4_096 {
                                if tls.write_all(chunk.as_bytes()).await.is_err() {
                                    return;
                                }
                            }
                            return;
                        }
                        Answer::DeclaredHuge => {
                            let _ = tls
                                .write_all(
                                    b"HTTP/1.1 200 OK\r\ncontent-length: 1099511627776\r\n\r\n",
                                )
                                .await;
                            tokio::time::sleep(std::time::Duration::from_secs(120)).await;
                            return;
                        }
                        Answer::Hang | Answer::NoHandshake => {
                            tokio::time::sleep(std::time::Duration::from_secs(120)).await;
                            return;
                        }
                        Answer::Trickle => {
                            let _ = tls
                                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1000000\r\n\r\n")
                                .await;
                            for _ in 0..600 {
                                if tls.write_all(b" ").await.is_err() {
                                    return;
                                }
                                let _ = tls.flush().await;
                                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                            }
                            return;
                        }
                        Answer::ServerError => {
                            let r = reply(
                                "500 Internal Server Error",
                                "{\"error\":{\"code\":\"internal\"}}",
                            );
                            if tls.write_all(r.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                        Answer::Friendly(log_key) => {
                            let r = if head.starts_with("GET /v1/keys ") {
                                // The contract's answer (SVC-40).
                                let keys = minimis_wire::operator::KeysResponse {
                                    operator: minimis_proto::PublicKey([1; 32]),
                                    log: log_key.clone(),
                                };
                                reply("200 OK", &serde_json::to_string(&keys).unwrap())
                            } else {
                                "HTTP/1.1 204 No Content\r\n\r\n".to_owned()
                            };
                            if tls.write_all(r.as_bytes()).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }
    });
    (addr, ca.cert)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ret_41_every_answer_the_custodian_reads_is_bounded_in_size_and_time_with_typed_errors() {
    use minimis_custodian::https::Limits;
    use minimis_custodian::operator::{LinkError, Unreachable};
    use minimis_wire::TransportError;
    let limits = Limits {
        connect: std::time::Duration::from_millis(500),
        read: std::time::Duration::from_millis(500),
        total: std::time::Duration::from_secs(2),
        max_body: 1 << 20,
    };
    let cases = [
        (
            Answer::EndlessBody,
            Unreachable::Transport(TransportError::TooLarge(1 << 20)),
        ),
        (
            Answer::DeclaredHuge,
            Unreachable::Transport(TransportError::TooLarge(1 << 20)),
        ),
        (
            Answer::Hang,
            Unreachable::Transport(TransportError::ReadTimeout),
        ),
        (
            Answer::NoHandshake,
            Unreachable::Transport(TransportError::ConnectTimeout),
        ),
        (
            Answer::Trickle,
            Unreachable::Transport(TransportError::Timeout),
        ),
    ];
    for (answer, want) in cases {
        let (addr, ca) = fake_operator(answer.clone()).await;
        let client = HttpsClient::new(addr, "localhost", &ca, None)
            .unwrap()
            .with_limits(limits);
        // Generous: only catches a client that does not stop by itself.
        let got = tokio::time::timeout(
            std::time::Duration::from_secs(30),
            client.exchange(minimis_wire::Request::get("/v1/keys")),
        )
        .await
        .expect("the client stopped by itself")
        .unwrap_err();
        assert_eq!(Unreachable::Transport(got), want, "{answer:?}");
        // The other custodian's answers go through the same bounds.
        let peer = HttpsPeer::new(
            HttpsClient::new(addr, "localhost", &ca, None)
                .unwrap()
                .with_limits(limits),
        );
        let req = minimis_custodian::protocol::HoldRequest {
            logged: minimis_custodian::protocol::LoggedEntry::new(
                &LogEntry::LegalHoldReleased(minimis_log::entry::LegalHold {
                    hold: minimis_log::entry::HoldId::from_bytes([1; 16]),
                    records: minimis_log::entry::RecordSet::new(vec![RecordId::from_bytes(
                        [2; 32],
                    )])
                    .unwrap(),
                    legal_basis: minimis_log::entry::LegalBasisId::new("court-order").unwrap(),
                    expires: NOW,
                }),
                String::new(),
            ),
        };
        let got = tokio::time::timeout(std::time::Duration::from_secs(30), peer.hold_release(req))
            .await
            .expect("the peer link stopped by itself")
            .unwrap_err();
        assert_eq!(got, LinkError::Unavailable(want), "{answer:?} (peer)");
    }
    // A 500 is an answer, read and counted as the operator being unavailable.
    let (addr, ca) = fake_operator(Answer::ServerError).await;
    let client = HttpsClient::new(addr, "localhost", &ca, None).unwrap();
    let r = client
        .exchange(minimis_wire::Request::get("/v1/keys"))
        .await
        .unwrap();
    assert_eq!(r.status, 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ret_40_a_hostile_operator_keeps_no_key_past_its_deadline_at_start_or_at_a_tick() {
    let policy = default_policy();
    let first = policy.epoch_at(NOW).unwrap();
    let second = first.next().unwrap();
    for answer in [Answer::EndlessBody, Answer::Hang, Answer::ServerError] {
        let dir = tempfile::tempdir().unwrap();
        let (addr, ca) = fake_operator(answer.clone()).await;
        std::fs::write(dir.path().join("operator-ca.crt"), &ca).unwrap();
        let mut c = config(CustodianRole::Oversight, dir.path());
        c.operator = Some(minimis_custodian::config::Endpoint {
            address: addr,
            server_name: "localhost".into(),
            ca: dir.path().join("operator-ca.crt"),
            client: None,
        });
        // The log's key is pinned (as after a first start): starting needs no call.
        let log = minimis_log::NoteSigner::new(
            minimis_log::KeyName::new("localhost/minimis-log").unwrap(),
            SigningKey::generate().unwrap(),
        );
        c.log_key = Some(log.verifier_key().to_string());
        // The custodian made both epochs' identities while the operator was honest.
        {
            let mut ks = minimis_custodian::keystore::Keystore::open_or_create(
                &c.data_dir.join("keystore"),
                &c.protection().unwrap(),
                CustodianRole::Oversight,
                &policy.custodian(CustodianRole::Oversight).unwrap().id,
            )
            .unwrap();
            ks.generate_epoch(first).unwrap();
            ks.generate_epoch(second).unwrap();
        }
        let epoch_file = |e: EpochId| {
            c.data_dir
                .join("keystore")
                .join(format!("epoch-{}.age", e.get()))
        };
        assert!(epoch_file(first).exists());

        // It starts 30 s after the first epoch's deadline: the key is destroyed before
        // anything is asked of the operator.
        let clock = ManualClock::new(policy.content_deadline(first).plus(30));
        let running = tokio::time::timeout(
            std::time::Duration::from_secs(60),
            Custodian::start(c.clone(), clock.clone()),
        )
        .await
        .expect("started")
        .unwrap();
        let node = running.node().clone();
        assert!(
            node.with_keystore(|k| k.epoch(first).is_err()).unwrap(),
            "{answer:?}"
        );
        assert!(!epoch_file(first).exists(), "{answer:?}");

        // 30 s after the second epoch's deadline, a tick destroys it whatever the
        // operator does (the generous timeout only catches a hang).
        clock.set(policy.content_deadline(second).plus(30));
        let report = tokio::time::timeout(std::time::Duration::from_secs(90), running.tick())
            .await
            .expect("the tick returned");
        assert_eq!(report.destroyed, vec![second], "{answer:?}");
        assert!(report.published.is_empty(), "{answer:?}");
        assert!(!epoch_file(second).exists(), "{answer:?}");
        // Both entries wait for the operator, with the time of each destruction.
        let waiting: Vec<(EpochId, UnixTime)> = node
            .pending_entries()
            .into_iter()
            .filter_map(|e| match e {
                LogEntry::EpochKeyDestroyed {
                    epoch,
                    destroyed_at,
                    ..
                } => Some((epoch, destroyed_at)),
                _ => None,
            })
            .collect();
        assert_eq!(
            waiting,
            vec![
                (first, policy.content_deadline(first).plus(30)),
                (second, policy.content_deadline(second).plus(30))
            ],
            "{answer:?}"
        );
        running.shutdown().await;
    }
}

#[test]
fn ret_36_custodian_serve_starts_on_first_run_with_its_default_key_file_and_refuses_one_inside_its_data()
 {
    use std::io::BufRead as _;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let log = minimis_log::NoteSigner::new(
        minimis_log::KeyName::new("localhost/minimis-log").unwrap(),
        SigningKey::generate().unwrap(),
    );
    let (addr, ca) = rt.block_on(fake_operator(Answer::Friendly(
        log.verifier_key().to_string(),
    )));
    let cwd = tempfile::tempdir().unwrap();
    std::fs::write(cwd.path().join("operator-ca.crt"), &ca).unwrap();
    // Inside the data directory: refused, and nothing made.
    let out = crate::minimis()
        .current_dir(cwd.path())
        .args([
            "custodian",
            "serve",
            "--role",
            "oversight",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(["--key-file", "custodian-oversight/inside.key"])
        .args([
            "--operator",
            &addr.to_string(),
            "--operator-ca",
            "operator-ca.crt",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--dangerous-key-file-in-data-dir"),
        "{stderr}"
    );
    assert!(!cwd.path().join("custodian-oversight/inside.key").exists());
    // The defaults, relative to the working directory: it starts.
    let mut child = crate::minimis()
        .current_dir(cwd.path())
        .args([
            "custodian",
            "serve",
            "--role",
            "oversight",
            "--listen",
            "127.0.0.1:0",
        ])
        .args([
            "--operator",
            &addr.to_string(),
            "--operator-ca",
            "operator-ca.crt",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let mut listening = false;
    let mut seen = Vec::new();
    // Generous: scrypt at 2^18 on a loaded machine, and the first start's certificates.
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(120)) {
        listening |= line.contains("listening on https://");
        seen.push(line);
        if seen.iter().any(|l| l.contains("epoch keys made")) {
            break;
        }
    }
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    assert!(
        listening,
        "{}\n{}",
        seen.join("\n"),
        String::from_utf8_lossy(&out.stderr)
    );
    let key = cwd.path().join("custodian-oversight.key");
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    assert!(
        cwd.path()
            .join("custodian-oversight/keystore/signing.age")
            .exists()
    );
}
