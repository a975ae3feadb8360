//! Both custodians and an operator in one process: [`InProcessDeployment`], for tests,
//! benchmarks and the demo. Every piece is the real one (keystores on disk, the log with
//! its signatures and proofs, the witness's `add-checkpoint` handler, the custodians'
//! protocol messages); only the network is left out. No deployment runs this way: each
//! party holds only its own keys.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use minimis_crypto::SigningKey;
use minimis_log::entry::CustodianId;
use minimis_proto::{
    CheckInPayload, CustodianRole, ParticipantTag, Policy, Pseudonym, RecordId, UnixTime,
};
use minimis_seal::{CustodianKeys, SealingKeys};

use crate::clock::{Clock, ManualClock};
use crate::keystore::{KeystoreSecret, Protection, WorkFactor};
use crate::node::{Node, NodeOptions, StartError, TickReport};
use crate::operator::InProcessOperator;
use crate::peer::InProcessPeer;

/// Why a check-in could not be sealed and stored in process.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealAndStoreError {
    /// The custodians' recipients do not verify for now (not published yet?).
    #[error(transparent)]
    Recipients(#[from] minimis_seal::RecipientError),
    /// Sealing failed.
    #[error(transparent)]
    Seal(#[from] minimis_seal::SealError),
    /// The operator could not store it.
    #[error(transparent)]
    Store(#[from] crate::operator::InProcessError),
    /// A custodian's public key is not available.
    #[error("a custodian's key is not available")]
    NoKey,
}

/// An operator and the policy's custodians, in process, on a manual clock.
#[derive(Debug)]
pub struct InProcessDeployment {
    /// The operator.
    pub operator: Arc<InProcessOperator>,
    /// The agency custodian.
    pub agency: Node,
    /// The oversight custodian, if the policy names one.
    pub oversight: Option<Node>,
    /// The shared clock.
    pub clock: ManualClock,
    /// The agency custodian's caseload file.
    pub caseload: PathBuf,
}

/// The oversight custodian's witness key, read from its keystore ahead of opening it.
fn witness_vkey(o: &NodeOptions) -> Result<minimis_log::VerifierKey, StartError> {
    let mut ks = crate::keystore::Keystore::open_or_create(
        &o.data_dir.join("keystore"),
        &o.protection,
        o.role,
        &o.policy
            .custodian(o.role)
            .ok_or(StartError::NoSuchCustodian(o.role))?
            .id,
    )?;
    let key = ks.witness_key()?;
    let name = minimis_log::KeyName::new(&format!(
        "{}.minimis/witness",
        o.policy
            .custodian(o.role)
            .ok_or(StartError::NoSuchCustodian(o.role))?
            .id
    ))
    .map_err(|e| StartError::Config(e.to_string()))?;
    Ok(minimis_log::VerifierKey::cosignature_v1(
        name,
        key.public_key(),
    ))
}

fn options(role: CustodianRole, policy: &Policy, dir: &Path) -> Result<NodeOptions, StartError> {
    let key_file = dir.join(format!("{role}.key"));
    KeystoreSecret::make_key_file(&key_file)?;
    Ok(NodeOptions {
        role,
        policy: policy.clone(),
        data_dir: dir.join(role.as_str()),
        protection: Protection::File {
            secret: KeystoreSecret::KeyFile(key_file),
            // Below the floor, for speed: the in-process deployment is for tests and
            // benchmarks, with a random key file.
            work: WorkFactor::below_floor_for_tests(10),
        },
        log_key: None,
        witnesses: Vec::new(),
        caseload: None,
        witness_name: None,
        reviewer: None,
        keystore: None,
    })
}

impl InProcessDeployment {
    /// Opens (or reopens) a deployment under `dir` at `clock`'s time; ticks both
    /// custodians once, so that the current and next epochs have published recipients.
    /// `tweak` adjusts each custodian's options (a reviewer, say).
    ///
    /// # Errors
    /// [`StartError`].
    pub async fn open(
        dir: &Path,
        policy: Policy,
        clock: ManualClock,
        tweak: impl Fn(&mut NodeOptions),
    ) -> Result<Self, StartError> {
        crate::files::make_private_dir(dir).map_err(crate::store::StoreError::from)?;
        let shared: Arc<dyn Clock> = Arc::new(clock.clone());
        let operator = InProcessOperator::new(policy.clone(), shared.clone())
            .map_err(|e| StartError::Config(e.to_string()))?;
        let oversight = match policy.custodian(CustodianRole::Oversight) {
            Some(_) => {
                let mut o = options(CustodianRole::Oversight, &policy, dir)?;
                // The tweak first: it may choose how the keystore is protected.
                tweak(&mut o);
                // The in-process operator has each batch cosigned before it answers, so
                // both custodians can require the witness's cosignature on every proof.
                if o.witnesses.is_empty() {
                    o.witnesses = vec![witness_vkey(&o)?];
                }
                let node = Node::open(
                    o,
                    shared.clone(),
                    Arc::new(operator.link(CustodianRole::Oversight)),
                    None,
                )
                .await?;
                if let Some(w) = node.witness() {
                    operator.attach_witness(w.clone());
                }
                Some(node)
            }
            None => None,
        };
        let caseload = dir.join("caseload.toml");
        if !caseload.exists() {
            std::fs::write(&caseload, "[officers]\n")
                .map_err(|e| StartError::Config(e.to_string()))?;
        }
        let mut a = options(CustodianRole::Agency, &policy, dir)?;
        a.caseload = Some(caseload.clone());
        if let Some(w) = oversight.as_ref().and_then(Node::witness) {
            a.witnesses.push(w.verifier_key().clone());
        }
        tweak(&mut a);
        let agency_id = CustodianId::new(
            &policy
                .custodian(CustodianRole::Agency)
                .ok_or(StartError::NoSuchCustodian(CustodianRole::Agency))?
                .id,
        )
        .map_err(|e| StartError::Config(e.to_string()))?;
        let peer = oversight.as_ref().map(|o| {
            Arc::new(InProcessPeer::new(o.clone(), agency_id)) as Arc<dyn crate::OversightLink>
        });
        let agency = Node::open(
            a,
            shared,
            Arc::new(operator.link(CustodianRole::Agency)),
            peer,
        )
        .await?;
        let d = Self {
            operator,
            agency,
            oversight,
            clock,
            caseload,
        };
        d.tick().await;
        Ok(d)
    }

    /// Ticks both custodians (oversight first).
    pub async fn tick(&self) -> (TickReport, Option<TickReport>) {
        let o = match &self.oversight {
            Some(o) => Some(o.tick().await),
            None => None,
        };
        (self.agency.tick().await, o)
    }

    /// The custodians' public keys, as an enrollment bundle gives them to a device.
    ///
    /// # Errors
    /// [`SealAndStoreError::NoKey`].
    pub fn custodian_keys(&self) -> Result<CustodianKeys, SealAndStoreError> {
        Ok(CustodianKeys {
            agency: self.agency.public_key().ok_or(SealAndStoreError::NoKey)?,
            oversight: match &self.oversight {
                Some(o) => Some(o.public_key().ok_or(SealAndStoreError::NoKey)?),
                None => None,
            },
        })
    }

    /// A device's check-in, now: checks the published recipients (SEAL-7), seals,
    /// signs, and has the operator store it.
    ///
    /// # Errors
    /// [`SealAndStoreError`].
    pub fn check_in(
        &self,
        device: &SigningKey,
        pseudonym: Pseudonym,
        tag: ParticipantTag,
        payload: &CheckInPayload,
    ) -> Result<RecordId, SealAndStoreError> {
        let keys = self.sealing_keys(self.clock.now())?;
        let env = minimis_seal::seal_envelope(payload, &keys, pseudonym, device)?;
        Ok(self.operator.store(&env, tag)?)
    }

    /// The verified sealing keys at `at`.
    ///
    /// # Errors
    /// [`SealAndStoreError`].
    pub fn sealing_keys(&self, at: UnixTime) -> Result<SealingKeys, SealAndStoreError> {
        Ok(SealingKeys::verify(
            self.agency.policy(),
            at,
            &self.operator.recipients(),
            &self.custodian_keys()?,
        )?)
    }

    /// Writes the caseload file: each officer's pseudonyms.
    ///
    /// # Errors
    /// I/O errors.
    pub fn set_caseload(&self, officers: &[(&str, &[Pseudonym])]) -> std::io::Result<()> {
        let mut text = String::from("[officers]\n");
        for (o, ps) in officers {
            let list: Vec<String> = ps.iter().map(|p| format!("\"{p}\"")).collect();
            text.push_str(&format!("{o} = [{}]\n", list.join(", ")));
        }
        // A new file, so that the change is seen even within one clock tick.
        let tmp = self.caseload.with_extension("tmp");
        std::fs::write(&tmp, text)?;
        std::fs::rename(&tmp, &self.caseload)
    }
}
