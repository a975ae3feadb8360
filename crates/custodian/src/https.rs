//! The custodian's links over HTTPS: to the operator ([`HttpsOperator`], the operator's
//! typed client [`OperatorClient`]) and from the agency custodian to the oversight
//! custodian ([`HttpsPeer`], the custodians' typed client [`CustodianClient`], with the
//! agency custodian's client certificate).
//!
//! Both run on the workspace's one HTTPS client, [`HttpsClient`] of the wire contract
//! (TLS 1.3, HTTP/1.1): every answer the custodian reads, from anyone, is bounded
//! (**RET-41**): the connection by [`Limits::connect`], each wait for a part of the
//! answer by [`Limits::read`], the whole exchange by [`Limits::total`], the body by
//! [`Limits::max_body`] bytes. Each bound has its own
//! [`TransportError`](minimis_wire::TransportError).

use std::fmt;
use std::sync::Arc;

use minimis_crypto::SigningKey;
use minimis_log::{LogEntry, VerifierKey};
use minimis_proto::{CustodianRole, RecordId, SignedEpochRecipient, UnixTime};
pub use minimis_wire::https::HttpsClient;
use minimis_wire::operator::{EntriesRequest, HoldRequest as OperatorHold};
pub use minimis_wire::transport::{Limits, Response};
use minimis_wire::{
    CallError, CustodianClient, CustodianError, CustodianSigner, OperatorClient, OperatorError,
    OperatorRefusal,
};

use crate::clock::Clock;
use crate::operator::{LinkError, LinkFuture, OperatorLink, StoredRecord, Unreachable};
use crate::peer::OversightLink;
use crate::protocol::{HoldRequest, HoldRewrapResponse, OuterRequest, OuterResponse};

/// The custodian's HTTPS link to the operator (the contract in [`crate::operator`]).
pub struct HttpsOperator {
    client: OperatorClient<HttpsClient>,
    role: CustodianRole,
    key: SigningKey,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for HttpsOperator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpsOperator")
            .field("client", self.client.transport())
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// A failed call to the operator, as the link reports it: a 5xx is the operator being
/// unavailable, whatever its code.
fn operator_error(e: OperatorError) -> LinkError {
    match e {
        CallError::Transport(t) => LinkError::Unavailable(Unreachable::Transport(t)),
        CallError::Refused(r) if r.status >= 500 => {
            LinkError::Unavailable(Unreachable::ServerError(r.status))
        }
        CallError::Refused(r) if r.refusal == OperatorRefusal::UnknownRecord => {
            LinkError::UnknownRecord
        }
        CallError::Refused(r) => LinkError::OperatorRefused(r.refusal),
        CallError::Unexpected(minimis_wire::UnexpectedAnswer::NoRefusal { status })
        | CallError::Unexpected(minimis_wire::UnexpectedAnswer::UnknownCode { status, .. })
            if status >= 500 =>
        {
            LinkError::Unavailable(Unreachable::ServerError(status))
        }
        CallError::Unexpected(_) => LinkError::Malformed {
            what: "an answer the operator's API does not specify",
        },
        _ => LinkError::Malformed {
            what: "an answer the operator's API does not specify",
        },
    }
}

impl HttpsOperator {
    /// A link over `client`, signing requests as `role` with `key` at `clock`'s time.
    pub fn new(
        client: HttpsClient,
        role: CustodianRole,
        key: SigningKey,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            client: OperatorClient::new(client),
            role,
            key,
            clock,
        }
    }

    fn signer(&self) -> CustodianSigner<'_> {
        CustodianSigner {
            role: self.role,
            key: &self.key,
        }
    }

    /// `Minimis-Custodian role=…,time=…,signature=…` for a request, at the clock's time.
    pub fn authorization(&self, method: &str, path: &str, body: &[u8]) -> String {
        self.signer()
            .authorization(method, path, body, self.clock.now())
    }

    fn now(&self) -> UnixTime {
        self.clock.now()
    }
}

impl OperatorLink for HttpsOperator {
    fn append<'a>(&'a self, entries: &'a [LogEntry]) -> LinkFuture<'a, Vec<String>> {
        Box::pin(async move {
            let r = self
                .client
                .append(self.signer(), &EntriesRequest::new(entries), self.now())
                .await
                .map_err(operator_error)?;
            Ok(r.proofs)
        })
    }

    fn record(&self, id: RecordId) -> LinkFuture<'_, StoredRecord> {
        Box::pin(async move {
            let b = self
                .client
                .record(self.signer(), &id, self.now())
                .await
                .map_err(operator_error)?;
            Ok(StoredRecord {
                record_id: b.record_id,
                epoch: b.epoch,
                pseudonym: b.pseudonym,
                challenge_id: b.challenge_id,
                ciphertext: b.ciphertext,
            })
        })
    }

    fn hold<'a>(&'a self, records: &'a [RecordId], until: UnixTime) -> LinkFuture<'a, ()> {
        Box::pin(async move {
            let req = OperatorHold {
                records: records.to_vec(),
                until: until.seconds(),
            };
            self.client
                .hold(self.signer(), &req, self.now())
                .await
                .map_err(operator_error)
        })
    }

    fn publish<'a>(&'a self, recipient: &'a SignedEpochRecipient) -> LinkFuture<'a, ()> {
        Box::pin(async move {
            self.client
                .publish_recipient(recipient)
                .await
                .map_err(operator_error)
        })
    }

    fn log_key(&self) -> LinkFuture<'_, VerifierKey> {
        Box::pin(async move {
            let k = self.client.keys().await.map_err(operator_error)?;
            k.log.parse().map_err(|_| LinkError::Malformed {
                what: "not a verifier key",
            })
        })
    }
}

/// A failed call to the other custodian, as the link reports it.
fn peer_error(e: CustodianError) -> LinkError {
    match e {
        CallError::Transport(t) => LinkError::Unavailable(Unreachable::Transport(t)),
        CallError::Refused(r) => LinkError::PeerRefused(r.refusal),
        CallError::Unexpected(minimis_wire::UnexpectedAnswer::Body(_)) => LinkError::Malformed {
            what: "an answer of the oversight custodian",
        },
        CallError::Unexpected(
            minimis_wire::UnexpectedAnswer::NoRefusal { status }
            | minimis_wire::UnexpectedAnswer::UnknownCode { status, .. }
            | minimis_wire::UnexpectedAnswer::WrongStatus { status, .. },
        ) => LinkError::Unavailable(Unreachable::ServerError(status)),
        _ => LinkError::Malformed {
            what: "an answer of the oversight custodian",
        },
    }
}

/// The agency custodian's mutual-TLS link to the oversight custodian.
#[derive(Debug)]
pub struct HttpsPeer {
    client: CustodianClient<HttpsClient>,
}

impl HttpsPeer {
    /// A link over `client` (which must present the agency custodian's certificate).
    pub fn new(client: HttpsClient) -> Self {
        Self {
            client: CustodianClient::new(client),
        }
    }
}

impl OversightLink for HttpsPeer {
    fn remove_outer(&self, req: OuterRequest) -> LinkFuture<'_, OuterResponse> {
        Box::pin(async move { self.client.outer(&req).await.map_err(peer_error) })
    }

    fn hold_rewrap(&self, req: HoldRequest) -> LinkFuture<'_, HoldRewrapResponse> {
        Box::pin(async move { self.client.hold_rewrap(&req).await.map_err(peer_error) })
    }

    fn hold_release(&self, req: HoldRequest) -> LinkFuture<'_, ()> {
        Box::pin(async move { self.client.hold_release(&req).await.map_err(peer_error) })
    }
}
