//! `minimis custodian serve`: a key custodian (`minimis-custodian`), with a configuration
//! file and flags over defaults; `minimis custodian rotate-key`: its keystore moved to a
//! new secret, or into a PKCS#11 token.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use minimis_custodian::config::{Endpoint, SecretSource};
use minimis_custodian::keystore::{Keystore, KeystoreSecret, Protection, TokenConfig};
use minimis_custodian::{Custodian, CustodianConfig, SystemClock};
use minimis_proto::CustodianRole;
use zeroize::Zeroizing;

use crate::Outcome;

#[derive(clap::Subcommand)]
pub(crate) enum CustodianCommand {
    /// Run a key custodian: its epoch keys (encrypted at rest, destroyed at each epoch's
    /// retention deadline), justified two-party access over mutual TLS, legal holds,
    /// and (oversight) the log's witness.
    Serve(ServeArgs),
    /// Move a stopped custodian's keystore to a new secret (a new key file or
    /// passphrase: a fresh key-encryption key, every file re-encrypted, the old scrypt
    /// file and old key file scrubbed), or into a PKCS#11 token (--new-keystore). Copies
    /// made before (backups) still open with the old secret.
    RotateKey(RotateArgs),
}

/// Where the keystore and its current secret are (as for `serve`).
#[derive(clap::Args)]
pub(crate) struct KeystoreArgs {
    /// A TOML configuration file (every key: spec/configuration.md).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Which custodian (required without --config).
    #[arg(long, value_enum)]
    role: Option<Role>,
    /// The data directory (keystore, holds, case book, witness state, development TLS).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// The policy file (default: the embedded reference policy).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Keys in a PKCS#11 token, as an RFC 7512 URI:
    /// `pkcs11:token=LABEL?module-path=MODULE.so&pin-source=env:VAR` (or
    /// `pin-source=file:PATH`). Production mode: each epoch key is wrapped by its own
    /// non-extractable token key, destroyed at the deadline.
    #[arg(long, value_name = "PKCS11-URI", conflicts_with_all = ["key_file", "passphrase_env", "passphrase_file"])]
    keystore: Option<String>,
    /// Development mode: the keystore key file (made on first start if missing). Must not
    /// be inside the data directory.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["passphrase_env", "passphrase_file"])]
    key_file: Option<PathBuf>,
    /// Development mode: a file holding the keystore passphrase (one line; a final newline
    /// is not part of it). Unlike an environment variable, it is not inherited by child
    /// processes or shown in the process's environment; keep it readable by the service
    /// only (a systemd credential, for example).
    #[arg(long, value_name = "FILE", conflicts_with = "passphrase_env")]
    passphrase_file: Option<PathBuf>,
    /// Development mode: the environment variable that holds the keystore passphrase (at
    /// least 15 characters, 10^14 guesses by zxcvbn's estimate).
    #[arg(long, value_name = "VAR")]
    passphrase_env: Option<String>,
    /// Allow the key file inside the data directory. Dangerous: any copy of the data
    /// directory (a backup) then opens every key it holds, destroyed since or not.
    #[arg(long)]
    dangerous_key_file_in_data_dir: bool,
}

/// Options of `minimis custodian rotate-key`.
#[derive(clap::Args)]
pub(crate) struct RotateArgs {
    #[command(flatten)]
    keystore: KeystoreArgs,
    /// The new key file (made if missing; never inside the data directory).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["new_passphrase_env", "new_keystore"])]
    new_key_file: Option<PathBuf>,
    /// The environment variable that holds the new passphrase.
    #[arg(long, value_name = "VAR", conflicts_with = "new_keystore")]
    new_passphrase_env: Option<String>,
    /// Move the keystore into this PKCS#11 token (an RFC 7512 URI, as for --keystore).
    #[arg(long, value_name = "PKCS11-URI")]
    new_keystore: Option<String>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Role {
    Agency,
    Oversight,
}

/// Options of `minimis custodian serve`. Flags override the configuration file.
#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    keystore: KeystoreArgs,
    /// The address to listen on.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// The operator's address.
    #[arg(long, value_name = "ADDR", requires = "operator_ca")]
    operator: Option<SocketAddr>,
    /// The CA (PEM) that the operator's server certificate is checked against (for
    /// `minimis serve`'s development certificate: its `tls/server.crt`).
    #[arg(long, value_name = "FILE")]
    operator_ca: Option<PathBuf>,
    /// The name the operator's certificate is checked against.
    #[arg(long, value_name = "NAME", default_value = "localhost")]
    operator_name: String,
    /// The caseload file (agency custodian).
    #[arg(long, value_name = "FILE")]
    caseload: Option<PathBuf>,
    #[command(flatten)]
    links: Box<LinkArgs>,
}

/// The links and pinned keys of `minimis custodian serve`: the oversight custodian (agency
/// custodian, two custodians), the log's key and the witnesses.
#[derive(clap::Args)]
pub(crate) struct LinkArgs {
    /// The oversight custodian's address (agency custodian, under a policy with two
    /// custodians: the agency custodian opens the inner layer only after the oversight
    /// custodian has opened the outer one, so it must be able to reach it).
    #[arg(
        long,
        value_name = "ADDR",
        requires_all = ["oversight_ca", "oversight_client_cert", "oversight_client_key"]
    )]
    oversight: Option<SocketAddr>,
    /// The CA (PEM) that the oversight custodian's server certificate is checked against
    /// (for a development PKI: the oversight custodian's `tls/ca.crt`).
    #[arg(long, value_name = "FILE", requires = "oversight")]
    oversight_ca: Option<PathBuf>,
    /// The name the oversight custodian's certificate is checked against.
    #[arg(long, value_name = "NAME", default_value = "localhost")]
    oversight_name: String,
    /// The agency custodian's client certificate (PEM) for the oversight custodian, issued
    /// by its `agency_ca` (development PKI: its `tls/agency-client.crt`).
    #[arg(long, value_name = "FILE", requires = "oversight")]
    oversight_client_cert: Option<PathBuf>,
    /// The key of that client certificate (PEM, PKCS#8).
    #[arg(long, value_name = "FILE", requires = "oversight")]
    oversight_client_key: Option<PathBuf>,
    /// Pin the log's verifier key (C2SP vkey); otherwise the first one the operator
    /// serves is kept.
    #[arg(long, value_name = "VKEY")]
    log_key: Option<String>,
    /// A witness whose cosignature every proof from the operator must carry (C2SP vkey);
    /// repeat for several.
    #[arg(long, value_name = "VKEY")]
    witness: Vec<String>,
    /// The witness's key name (oversight custodian), as in its cosignatures.
    #[arg(long, value_name = "NAME")]
    witness_name: Option<String>,
}

/// The configuration of `--config` and the flags over it.
fn config_of(args: &KeystoreArgs) -> anyhow::Result<CustodianConfig> {
    let mut config = match (&args.config, args.role) {
        (Some(p), _) => CustodianConfig::load(p)?,
        (None, Some(Role::Agency)) => CustodianConfig::new(CustodianRole::Agency),
        (None, Some(Role::Oversight)) => CustodianConfig::new(CustodianRole::Oversight),
        (None, None) => anyhow::bail!(
            "say which custodian this is: --role agency or --role oversight (or --config FILE)"
        ),
    };
    if let Some(d) = &args.data_dir {
        config.data_dir = d.clone();
    }
    if let Some(p) = &args.policy {
        config.policy = Some(p.clone());
    }
    if let Some(k) = &args.key_file {
        config.secret = SecretSource::KeyFile(k.clone());
        config.token = None;
    }
    if let Some(f) = &args.passphrase_file {
        config.secret = SecretSource::PassphraseFile(f.clone());
        config.token = None;
    }
    if let Some(v) = &args.passphrase_env {
        config.secret = SecretSource::PassphraseEnv(v.clone());
        config.token = None;
    }
    if let Some(uri) = &args.keystore {
        config.token = Some(TokenConfig::from_uri(uri).context("--keystore")?);
    }
    if args.dangerous_key_file_in_data_dir {
        config.dangerous_key_file_in_data_dir = true;
    }
    Ok(config)
}

pub(crate) fn run(command: &CustodianCommand) -> anyhow::Result<Outcome> {
    let args = match command {
        CustodianCommand::Serve(args) => args,
        CustodianCommand::RotateKey(args) => return rotate(args),
    };
    let mut config = config_of(&args.keystore)?;
    if let Some(l) = args.listen {
        config.listen = l;
    }
    if let (Some(addr), Some(ca)) = (args.operator, &args.operator_ca) {
        config.operator = Some(Endpoint {
            address: addr,
            server_name: args.operator_name.clone(),
            ca: ca.clone(),
            client: None,
        });
    }
    if let Some(c) = &args.caseload {
        config.caseload = Some(c.clone());
    }
    let links = &args.links;
    if let (Some(addr), Some(ca), Some(cert), Some(key)) = (
        links.oversight,
        &links.oversight_ca,
        &links.oversight_client_cert,
        &links.oversight_client_key,
    ) {
        config.oversight = Some(Endpoint {
            address: addr,
            server_name: links.oversight_name.clone(),
            ca: ca.clone(),
            client: Some((cert.clone(), key.clone())),
        });
    }
    if let Some(k) = &links.log_key {
        config.log_key = Some(k.clone());
    }
    if !links.witness.is_empty() {
        config.witnesses.clone_from(&links.witness);
    }
    if let Some(n) = &links.witness_name {
        config.witness_name = Some(n.clone());
    }
    if config.operator.is_none() {
        anyhow::bail!(
            "no operator to log to: pass --operator ADDR --operator-ca FILE, or [operator] in --config; a custodian opens nothing it cannot log"
        );
    }
    let policy = crate::load_policy(config.policy.as_ref())?;
    if config.role == CustodianRole::Agency
        && policy.custodian(CustodianRole::Oversight).is_some()
        && config.oversight.is_none()
    {
        anyhow::bail!(
            "the policy names an oversight custodian, and the agency custodian opens nothing before it has: pass --oversight ADDR --oversight-ca FILE --oversight-client-cert FILE --oversight-client-key FILE, or [oversight] in --config"
        );
    }
    // Logs go to standard error, undated, with no line per request (SVC-11 to SVC-13).
    minimis_service::logging::init();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let running = Custodian::start(config.clone(), SystemClock)
            .await
            .context("cannot start the custodian")?;
        let node = running.node();
        println!(
            "minimis custodian serve: the {} custodian `{}`, listening on https://{}",
            node.role(),
            node.id(),
            running.addr()
        );
        println!("  data directory     {}", config.data_dir.display());
        println!(
            "  keystore           {}",
            match &config.token {
                Some(t) => format!("PKCS#11 token {:?} (non-extractable keys, one per epoch)", t.token),
                None => "file (development: a copy of the keystore with its secret opens every key it held)".to_owned(),
            }
        );
        println!("  policy             {}", node.policy().hash());
        if let Some(k) = node.public_key() {
            println!(
                "  custodian key      {}   (configure the operator: [custodians] {} = \"…\")",
                k.to_base64(),
                node.role()
            );
        }
        println!("  log key            {}", node.log_key());
        if let Some(w) = node.witness() {
            println!("  witness key        {}", w.verifier_key());
        }
        let report = running.tick().await;
        println!(
            "  epoch keys made {:?}, recipients published {:?}, destroyed {:?}",
            report.generated.iter().map(|e| e.get()).collect::<Vec<_>>(),
            report.published.iter().map(|e| e.get()).collect::<Vec<_>>(),
            report.destroyed.iter().map(|e| e.get()).collect::<Vec<_>>()
        );
        tokio::select! {
            () = running.wait() => {}
            () = minimis_service::shutdown_signal() => {}
        }
        Ok(Outcome::Success)
    })
}

fn rotate(args: &RotateArgs) -> anyhow::Result<Outcome> {
    let config = config_of(&args.keystore)?;
    let policy = crate::load_policy(config.policy.as_ref())?;
    let id = policy
        .custodian(config.role)
        .ok_or_else(|| anyhow::anyhow!("the policy names no {} custodian", config.role))?
        .id
        .clone();
    if !config
        .data_dir
        .join("keystore")
        .join("signing.age")
        .exists()
    {
        anyhow::bail!(
            "{} holds no keystore to rotate",
            config.data_dir.join("keystore").display()
        );
    }
    let from = config
        .protection()
        .context("the keystore's current secret")?;
    let to = match (
        &args.new_key_file,
        &args.new_passphrase_env,
        &args.new_keystore,
    ) {
        (Some(f), None, None) => {
            let mut c = config.clone();
            c.secret = SecretSource::KeyFile(f.clone());
            c.token = None;
            if f.exists() {
                anyhow::bail!(
                    "{} exists: name a new file (rotate-key makes it)",
                    f.display()
                );
            }
            // The same rule as for the current key file: never inside the data directory
            // (checked before the file is made).
            c.protection()?;
            KeystoreSecret::make_key_file(f)?;
            Protection::File {
                secret: KeystoreSecret::KeyFile(f.clone()),
                work: config.scrypt,
            }
        }
        (None, Some(v), None) => Protection::File {
            secret: KeystoreSecret::Passphrase(Zeroizing::new(std::env::var(v).map_err(|_| {
                anyhow::anyhow!("the environment variable {v} (the new passphrase) is not set")
            })?)),
            work: config.scrypt,
        },
        (None, None, Some(uri)) => {
            Protection::Token(TokenConfig::from_uri(uri).context("--new-keystore")?)
        }
        _ => anyhow::bail!(
            "name the new secret: --new-key-file FILE, --new-passphrase-env VAR or --new-keystore PKCS11-URI"
        ),
    };
    Keystore::rotate(
        &config.data_dir.join("keystore"),
        &from,
        &to,
        config.role,
        &id,
    )
    .context("cannot rotate the keystore")?;
    println!(
        "minimis custodian rotate-key: the {} custodian's keystore in {} is now under {}",
        config.role,
        config.data_dir.display(),
        to.describe()
    );
    if let Protection::File {
        secret: KeystoreSecret::KeyFile(old),
        ..
    } = &from
    {
        println!("  the old key file {} was scrubbed", old.display());
    }
    println!(
        "  start the custodian with the new secret; copies of the keystore made before (backups) still open with the old one"
    );
    Ok(Outcome::Success)
}
