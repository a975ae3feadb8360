//! `minimis dev-pki`: every certificate a hand-started stack needs, for development and
//! trials only (SVC-15): one CA for the services' server certificates, and one CA per
//! class of client (officers, the operator calling the witness, the agency custodian
//! calling the oversight custodian), each with its certificates.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use minimis_proto::CustodianRole;
use minimis_service::dev_pki::{DevCa, PemPair};

use crate::Outcome;

/// Options of `minimis dev-pki`.
#[derive(clap::Args)]
pub(crate) struct DevPkiArgs {
    /// The directory to write into (made if missing; refused if it holds a CA already).
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
    /// An officer's role pseudonym (the certificate's common name, 1 to 32 of `a-z`,
    /// `0-9`, `-`); repeat for several. Default: `officer-0001`.
    #[arg(long, value_name = "ID")]
    officer: Vec<String>,
    /// The policy whose agency custodian id names the agency custodian's client
    /// certificate (default: the embedded reference policy).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
}

fn write(path: &Path, text: &str, secret: bool) -> anyhow::Result<()> {
    minimis_service::files::write_atomic(path, text.as_bytes(), secret)
        .with_context(|| format!("cannot write {}", path.display()))
}

fn pair(dir: &Path, name: &str, p: &PemPair) -> anyhow::Result<()> {
    write(&dir.join(format!("{name}.crt")), &p.cert, false)?;
    write(&dir.join(format!("{name}.key")), &p.key, true)
}

/// Whether `id` is a role pseudonym an officer certificate may carry.
fn officer_id_ok(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

pub(crate) fn run(args: &DevPkiArgs) -> anyhow::Result<Outcome> {
    let officers = if args.officer.is_empty() {
        vec!["officer-0001".to_owned()]
    } else {
        args.officer.clone()
    };
    if let Some(bad) = officers.iter().find(|o| !officer_id_ok(o)) {
        anyhow::bail!(
            "--officer {bad:?}: an officer id is 1 to 32 of a-z, 0-9 and -, a role pseudonym, never a name"
        );
    }
    let policy = crate::load_policy(args.policy.as_ref())?;
    let agency_id = policy
        .custodian(CustodianRole::Agency)
        .ok_or_else(|| anyhow::anyhow!("the policy names no agency custodian"))?
        .id
        .clone();
    let dir = &args.dir;
    if dir.join("ca.crt").exists() {
        anyhow::bail!(
            "{} holds a PKI already: name another directory",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;

    let services = DevCa::generate("minimis development services CA")?;
    write(&dir.join("ca.crt"), &services.cert, false)?;
    for name in ["operator", "agency", "oversight"] {
        pair(
            dir,
            name,
            &services.issue_server(&format!("minimis development {name}"))?,
        )?;
    }
    let officer_ca = DevCa::generate("minimis development officer CA")?;
    write(&dir.join("officer-ca.crt"), &officer_ca.cert, false)?;
    for o in &officers {
        pair(dir, o, &officer_ca.issue_client(o)?)?;
    }
    let operator_ca = DevCa::generate("minimis development operator client CA")?;
    write(
        &dir.join("operator-client-ca.crt"),
        &operator_ca.cert,
        false,
    )?;
    pair(
        dir,
        "operator-client",
        &operator_ca.issue_client("operator")?,
    )?;
    let agency_ca = DevCa::generate("minimis development agency custodian client CA")?;
    write(&dir.join("agency-client-ca.crt"), &agency_ca.cert, false)?;
    pair(dir, "agency-client", &agency_ca.issue_client(&agency_id)?)?;

    println!(
        "minimis dev-pki: a development PKI in {} (for trials only: the CA keys are not kept)",
        dir.display()
    );
    println!("  ca.crt                         the services' CA: every client trusts it");
    println!(
        "  operator.crt, agency.crt, oversight.crt (.key)   server certificates for localhost and 127.0.0.1"
    );
    println!(
        "  officer-ca.crt                 officers' CA; certificates {}",
        officers
            .iter()
            .map(|o| format!("{o}.crt"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  operator-client-ca.crt, operator-client.crt (.key)   the operator, calling the witness"
    );
    println!(
        "  agency-client-ca.crt, agency-client.crt (.key)   the agency custodian ({agency_id}), calling the oversight custodian"
    );
    Ok(Outcome::Success)
}
