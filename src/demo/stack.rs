//! The demo's services: the operator's server and both key custodians, each a real TLS
//! 1.3 service on loopback with its own data directory, and the development PKI that joins
//! them.
//!
//! The services run on simulated clocks ([`minimis_server::ManualClock`],
//! [`minimis_custodian::ManualClock`]), moved together by [`Stack::set_time`]: a
//! documented demo and test mode; a production service runs on the system clock and its
//! own timers.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, anyhow};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use minimis_client::Api;
use minimis_client::transport::Https;
use minimis_crypto::SigningKey;
use minimis_custodian::config::{Endpoint, SecretSource, TlsSource as CustodianTls};
use minimis_custodian::keystore::{Keystore, PinSource, TokenConfig, WorkFactor};
use minimis_custodian::tls::{DevCa, PemPair};
use minimis_custodian::{Custodian, CustodianConfig};
use minimis_log::{KeyName, NoteSigner, VerifierKey};
use minimis_proto::{CustodianRole, Policy, PublicKey, UnixTime};
use minimis_server::{Server, ServerConfig, TlsSource, WitnessLink};

/// The log's origin (its key name) in the demo.
pub(crate) const LOG_ORIGIN: &str = "localhost/minimis-log";
/// The witness's key name.
pub(crate) const WITNESS_NAME: &str = "oversight.minimis/witness";
/// The scrypt work factor of the demo's file keystores: the floor (2^15). They are opened
/// with a random key file, so scrypt guards nothing a person chose; a deployment with a
/// passphrase keeps the default (2^18).
const DEMO_SCRYPT_LOG_N: u8 = WorkFactor::FLOOR;

/// SoftHSM2's PKCS#11 module on Debian (package `softhsm2`).
pub(crate) const SOFTHSM2_MODULE: &str = "/usr/lib/softhsm/libsofthsm2.so";

/// Where the demo's custodians keep their keys.
pub(crate) enum Keys {
    /// Development mode: a key file per custodian, beside (never inside) its data
    /// directory.
    File,
    /// A SoftHSM2 token per custodian, made in `home` (which `SOFTHSM2_CONF` names),
    /// with its PIN in a file there: outside every data directory.
    SoftHsm2 { module: PathBuf, home: PathBuf },
}

/// How many HTTPS connections the simulated phones share, and the officers'.
pub(crate) const DEVICE_CONNECTIONS: usize = 24;
const OFFICER_CONNECTIONS: usize = 8;

/// The running services and what a client needs to reach them.
pub(crate) struct Stack {
    pub(crate) server: minimis_server::Running,
    pub(crate) agency: minimis_custodian::Running,
    pub(crate) oversight: Option<minimis_custodian::Running>,
    server_clock: minimis_server::ManualClock,
    custodian_clock: minimis_custodian::ManualClock,
    /// The PEM roots of the operator's server certificate (pinned in the app).
    pub(crate) server_roots: String,
    /// The PEM roots of the agency custodian's certificate.
    pub(crate) agency_roots: String,
    officers: DevCa,
    /// The log's and the witness's verifier keys.
    pub(crate) log_key: VerifierKey,
    pub(crate) witness_key: Option<VerifierKey>,
    /// The custodians' Ed25519 keys (they sign their epoch recipients).
    pub(crate) custodian_keys: minimis_seal::CustodianKeys,
    /// The caseload file the agency custodian reads.
    pub(crate) caseload: PathBuf,
    /// The operator's data directory (its database, for the backup).
    pub(crate) operator_dir: PathBuf,
    /// The operator's configuration as its process holds it (`Debug`), to search.
    pub(crate) operator_config: String,
}

fn write(path: &Path, text: &str, secret: bool) -> anyhow::Result<()> {
    minimis_custodian::tls::write_pem(path, text, secret)
        .with_context(|| format!("cannot write {}", path.display()))
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// A free loopback port, for a service that must be named before it starts (the witness
/// and the operator name each other). Bound and released at once; on loopback nothing
/// else takes it in between in practice, and a clash fails loudly at start.
fn free_port() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("cannot bind a loopback port")?;
    l.local_addr().context("no local address")
}

/// A custodian's keystore, made before the services start: the operator is configured
/// with the custodian's public key, and with the witness's.
fn make_keystore(
    c: &CustodianConfig,
    policy: &Policy,
) -> anyhow::Result<(PublicKey, Option<VerifierKey>)> {
    let id = &policy
        .custodian(c.role)
        .ok_or_else(|| anyhow!("the policy names no {} custodian", c.role))?
        .id;
    let mut ks =
        Keystore::open_or_create(&c.data_dir.join("keystore"), &c.protection()?, c.role, id)?;
    let public = ks.signing_key().public_key();
    let witness = match c.role {
        CustodianRole::Oversight => Some(VerifierKey::cosignature_v1(
            KeyName::new(WITNESS_NAME)?,
            ks.witness_key()?.public_key(),
        )),
        CustodianRole::Agency => None,
    };
    Ok((public, witness))
}

impl Stack {
    /// Starts the three services in `dir`, at `start` on the simulated clocks.
    pub(crate) async fn start(
        dir: &Path,
        policy: &Policy,
        policy_file: &Path,
        start: UnixTime,
        keys: &Keys,
    ) -> anyhow::Result<Self> {
        let pki = dir.join("pki");
        std::fs::create_dir_all(&pki)
            .with_context(|| format!("cannot create {}", pki.display()))?;
        // Two development CAs: one for the services' certificates, one for officers'.
        let services = DevCa::generate("minimis demo services CA")?;
        let officers = DevCa::generate("minimis demo officers CA")?;
        write(&pki.join("services-ca.crt"), &services.cert, false)?;
        write(&pki.join("officers-ca.crt"), &officers.cert, false)?;
        let tls_pair = |name: &str| -> anyhow::Result<(PathBuf, PathBuf)> {
            let p = services.issue_server("minimis demo service")?;
            let (c, k) = (
                pki.join(format!("{name}.crt")),
                pki.join(format!("{name}.key")),
            );
            write(&c, &p.cert, false)?;
            write(&k, &p.key, true)?;
            Ok((c, k))
        };
        let (server_cert, server_key) = tls_pair("operator")?;
        let (agency_cert, agency_key) = tls_pair("agency")?;

        let config = |role: CustodianRole| -> anyhow::Result<CustodianConfig> {
            let mut c = CustodianConfig::new(role);
            c.data_dir = dir.join(role.as_str());
            c.listen = SocketAddr::from(([127, 0, 0, 1], 0));
            c.policy = Some(policy_file.to_owned());
            // The key file sits beside the data directory, not in it (RET-36): a copy of
            // `dir/agency` alone holds no secret. (A copy of the whole demo directory
            // holds both: file mode is for development.)
            c.secret = SecretSource::KeyFile(dir.join(format!("{role}.key-file")));
            c.scrypt = WorkFactor::new(DEMO_SCRYPT_LOG_N)?;
            c.witness_name = Some(WITNESS_NAME.to_owned());
            if let Keys::SoftHsm2 { module, home } = keys {
                let label = format!("minimis-{role}");
                let pin = home.join(format!("{role}.pin"));
                let user_pin = B64.encode(minimis_crypto::random_bytes::<18>()?);
                let so_pin = B64.encode(minimis_crypto::random_bytes::<18>()?);
                write(&pin, &user_pin, true)?;
                minimis_custodian::keystore::token::init_token(module, &label, &so_pin, &user_pin)
                    .with_context(|| {
                        format!(
                            "cannot make the SoftHSM2 token {label} with {}",
                            module.display()
                        )
                    })?;
                c.token = Some(TokenConfig {
                    module: module.clone(),
                    token: label,
                    pin: PinSource::File(pin),
                });
            }
            Ok(c)
        };
        let mut a = config(CustodianRole::Agency)?;
        let two = policy.custodian(CustodianRole::Oversight).is_some();
        let mut o = match two {
            true => Some(config(CustodianRole::Oversight)?),
            false => None,
        };
        let (agency_public, _) = make_keystore(&a, policy)?;
        let (oversight_public, witness_key) = match &o {
            Some(o) => {
                let (k, w) = make_keystore(o, policy)?;
                (Some(k), w)
            }
            None => (None, None),
        };

        // The log's key, made ahead (the server reads it from its data directory), so that
        // the witness is pinned to it before the server starts.
        let operator_dir = dir.join("operator");
        let keys_dir = operator_dir.join("keys");
        std::fs::create_dir_all(&keys_dir)
            .with_context(|| format!("cannot create {}", keys_dir.display()))?;
        let log_seed: zeroize::Zeroizing<[u8; 32]> =
            zeroize::Zeroizing::new(minimis_crypto::random_bytes()?);
        write(
            &keys_dir.join("log.key"),
            &format!("{}\n", B64.encode(*log_seed)),
            true,
        )?;
        let log_key = NoteSigner::new(
            KeyName::new(LOG_ORIGIN)?,
            SigningKey::from_seed(log_seed.as_slice())?,
        )
        .verifier_key();

        // The operator's address is fixed first: the custodians call it, and it calls the
        // witness.
        let server_addr = free_port()?;
        let operator_endpoint = Endpoint {
            address: server_addr,
            server_name: "localhost".into(),
            ca: pki.join("services-ca.crt"),
            client: None,
        };

        // The oversight custodian: the outer layer, and the log's witness.
        let clock = minimis_custodian::ManualClock::new(start);
        let oversight = match o.as_mut() {
            Some(o) => {
                o.log_key = Some(log_key.to_string());
                o.operator = Some(operator_endpoint.clone());
                Some(Custodian::start(o.clone(), clock.clone()).await?)
            }
            None => None,
        };
        let otls = dir.join("oversight").join("tls");
        let witness = match (&oversight, &witness_key) {
            (Some(running), Some(vkey)) => Some(WitnessLink {
                addr: running.addr(),
                server_name: "localhost".into(),
                roots_pem: read(&otls.join("ca.crt"))?,
                client: Some((
                    read(&otls.join("operator.crt"))?,
                    zeroize::Zeroizing::new(read(&otls.join("operator.key"))?),
                )),
                prefix: "/witness".into(),
                vkey: vkey.clone(),
            }),
            _ => None,
        };

        // The operator.
        let server_clock = minimis_server::ManualClock::new(start);
        let server_config = ServerConfig {
            data_dir: operator_dir.clone(),
            listen: server_addr,
            log_origin: LOG_ORIGIN.to_owned(),
            policy: Some(policy_file.to_owned()),
            tls: TlsSource::Files {
                cert: server_cert,
                key: server_key,
            },
            officer_ca: Some(pki.join("officers-ca.crt")),
            agency_key: Some(agency_public),
            oversight_key: oversight_public,
            witnesses: witness.map(|w| minimis_server::WitnessSet {
                witnesses: vec![w],
                quorum: 1,
                policy: None,
            }),
            ..ServerConfig::default()
        };
        let operator_config = format!("{server_config:?}");
        let server = Server::start(server_config, server_clock.clone())
            .await
            .context("the operator's server did not start")?;
        if server.log_key() != log_key.to_string() {
            return Err(anyhow!(
                "the server signs with another log key than the one made"
            ));
        }

        // The agency custodian: the inner layer; officers ask it for content.
        let caseload = dir.join("caseload.toml");
        write(&caseload, "[officers]\n", false)?;
        a.operator = Some(operator_endpoint);
        a.log_key = Some(log_key.to_string());
        a.caseload = Some(caseload.clone());
        a.tls = CustodianTls::Files {
            cert: agency_cert,
            key: agency_key,
            officer_ca: Some(pki.join("officers-ca.crt")),
            operator_ca: None,
            agency_ca: None,
        };
        if let Some(running) = &oversight {
            a.oversight = Some(Endpoint {
                address: running.addr(),
                server_name: "localhost".into(),
                ca: otls.join("ca.crt"),
                client: Some((
                    otls.join("agency-client.crt"),
                    otls.join("agency-client.key"),
                )),
            });
        }
        let agency = Custodian::start(a, clock.clone())
            .await
            .context("the agency custodian did not start")?;

        let roots = read(&pki.join("services-ca.crt"))?;
        Ok(Self {
            server,
            agency,
            oversight,
            server_clock,
            custodian_clock: clock,
            server_roots: roots.clone(),
            agency_roots: roots,
            officers,
            log_key,
            witness_key,
            custodian_keys: minimis_seal::CustodianKeys {
                agency: agency_public,
                oversight: oversight_public,
            },
            caseload,
            operator_dir,
            operator_config,
        })
    }

    /// Moves every service's clock to `t`.
    pub(crate) fn set_time(&self, t: UnixTime) {
        self.server_clock.set(t);
        self.custodian_clock.set(t);
    }

    /// Runs the custodians' schedules (identities made and published ahead, keys
    /// destroyed at their deadline), then the operator's (challenges, missed rows, purges).
    pub(crate) async fn tick_all(&self) -> anyhow::Result<(u64, minimis_server::TickReport)> {
        let mut destroyed = 0u64;
        if let Some(o) = &self.oversight {
            destroyed += o.tick().await.destroyed.len() as u64;
        }
        destroyed += self.agency.tick().await.destroyed.len() as u64;
        let r = self.tick_server().await?;
        Ok((destroyed, r))
    }

    /// Runs the operator's schedule.
    pub(crate) async fn tick_server(&self) -> anyhow::Result<minimis_server::TickReport> {
        self.server
            .tick()
            .await
            .map_err(|e| anyhow!("the operator's scheduler failed: {e}"))
    }

    /// A pool of connections to the operator, as participants' phones make them.
    pub(crate) fn device_pool(&self) -> anyhow::Result<Vec<Api<Https>>> {
        (0..DEVICE_CONNECTIONS)
            .map(|_| {
                Ok(Api::new(
                    Https::new(self.server.addr(), "localhost", &self.server_roots, None)?
                        .with_limits(minimis_client::transport::Limits::LOG_READER),
                ))
            })
            .collect()
    }

    /// An officer's certificate (its common name is the officer's role pseudonym).
    pub(crate) fn officer_cert(&self, officer: &str) -> anyhow::Result<PemPair> {
        Ok(self.officers.issue_client(officer)?)
    }

    /// Connections to the operator's officer API, as `officer`.
    pub(crate) fn officer_pool(&self, officer: &PemPair) -> anyhow::Result<Vec<Api<Https>>> {
        (0..OFFICER_CONNECTIONS)
            .map(|_| {
                Ok(Api::new(Https::new(
                    self.server.addr(),
                    "localhost",
                    &self.server_roots,
                    Some((officer.cert.as_str(), officer.key.as_str())),
                )?))
            })
            .collect()
    }

    /// A connection to the agency custodian, as `officer`.
    pub(crate) fn officer_to_agency(&self, officer: &PemPair) -> anyhow::Result<Https> {
        Ok(Https::new(
            self.agency.addr(),
            "localhost",
            &self.agency_roots,
            Some((officer.cert.as_str(), officer.key.as_str())),
        )?)
    }

    /// Waits until the witness has cosigned a checkpoint of at least `size` entries.
    pub(crate) async fn witnessed(&self, size: u64) -> anyhow::Result<()> {
        if self.witness_key.is_none() {
            return Ok(());
        }
        for _ in 0..2_000 {
            if let Some(note) = self
                .server
                .cosigned_checkpoint()
                .await
                .map_err(|e| anyhow!("{e}"))?
            {
                let cp = minimis_log::SignedCheckpoint::open(note.as_bytes(), &self.log_key)?;
                if cp.checkpoint().tree_size() >= size {
                    return Ok(());
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        Err(anyhow!(
            "the witness did not cosign the log within 10 seconds"
        ))
    }

    /// Prints where each service listens.
    pub(crate) fn print_addresses(&self) {
        println!(
            "  operator   https://{}  (TLS 1.3; officers by client certificate)",
            self.server.addr()
        );
        println!(
            "  agency     https://{}  (key custodian; officers by client certificate)",
            self.agency.addr()
        );
        if let Some(o) = &self.oversight {
            println!(
                "  oversight  https://{}  (key custodian and the log's witness; mutual TLS)",
                o.addr()
            );
        }
    }

    /// Stops every service.
    pub(crate) async fn stop(self) {
        self.agency.shutdown().await;
        if let Some(o) = self.oversight {
            o.shutdown().await;
        }
        self.server.shutdown().await;
    }
}

/// A pool member for job `i`.
pub(crate) fn pick<T>(pool: &[T], i: usize) -> &T {
    &pool[i % pool.len()]
}
