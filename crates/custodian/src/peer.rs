//! The agency custodian's link to the oversight custodian ([`OversightLink`]): over
//! mutual TLS ([`crate::https::HttpsPeer`]) or in process ([`InProcessPeer`]).

use crate::node::Node;
use crate::operator::{LinkError, LinkFuture};
use crate::protocol::{HoldRequest, HoldRewrapResponse, OuterRequest, OuterResponse, Refusal};
use minimis_log::entry::CustodianId;

/// What the agency custodian asks of the oversight custodian.
pub trait OversightLink: Send + Sync {
    /// Remove the outer layer of the records of a logged access (**ACC-7**).
    fn remove_outer(&self, req: OuterRequest) -> LinkFuture<'_, OuterResponse>;
    /// Re-wrap the outer layers of a logged hold's records and return their inner
    /// headers (**RET-31**).
    fn hold_rewrap(&self, req: HoldRequest) -> LinkFuture<'_, HoldRewrapResponse>;
    /// Destroy the hold's identity after its logged release (**RET-33**).
    fn hold_release(&self, req: HoldRequest) -> LinkFuture<'_, ()>;
}

fn refused(r: &Refusal) -> LinkError {
    LinkError::PeerRefused(r.refusal())
}

/// An oversight custodian in the same process, called as the agency custodian
/// `caller` (as its client certificate would name it).
#[derive(Debug, Clone)]
pub struct InProcessPeer {
    node: Node,
    caller: CustodianId,
}

impl InProcessPeer {
    /// A link to `oversight`, calling as `caller`.
    pub fn new(oversight: Node, caller: CustodianId) -> Self {
        Self {
            node: oversight,
            caller,
        }
    }
}

impl OversightLink for InProcessPeer {
    fn remove_outer(&self, req: OuterRequest) -> LinkFuture<'_, OuterResponse> {
        Box::pin(async move {
            self.node
                .remove_outer(&self.caller, req)
                .await
                .map_err(|r| refused(&r))
        })
    }

    fn hold_rewrap(&self, req: HoldRequest) -> LinkFuture<'_, HoldRewrapResponse> {
        Box::pin(async move {
            self.node
                .hold_rewrap(&self.caller, req)
                .await
                .map_err(|r| refused(&r))
        })
    }

    fn hold_release(&self, req: HoldRequest) -> LinkFuture<'_, ()> {
        Box::pin(async move {
            self.node
                .hold_release(&self.caller, req)
                .await
                .map_err(|r| refused(&r))
        })
    }
}
