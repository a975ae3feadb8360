//! minimis wire contract: every request and response of every HTTP interface, once.
//!
//! - [`operator`]: the operator's API (participants' devices, officers, key custodians,
//!   anyone), its types and its refusals ([`operator::OperatorRefusal`]);
//! - [`custodian`]: the custodians' API (officers, the other custodian, the operator's
//!   witness requests), its types and its refusals ([`custodian::CustodianRefusal`]);
//! - [`refusal`]: the refusal body every interface answers with, and how a client reads
//!   it back as the interface's enum (**SVC-41**);
//! - [`transport`] and [`https`]: how a client reaches a service, and the workspace's one
//!   HTTPS client, bounded in size and time with a typed error per bound (**SVC-42**);
//! - [`client`]: typed clients, one method per endpoint (**SVC-43**).
//!
//! Both sides of every trust boundary build on this crate, so it holds no secret key and
//! no code that decrypts: it never depends on minimis-seal or age (**SVC-40**,
//! `tests/deps.rs`). The shared enums (a ledger row's state, a resolution and its reason,
//! the categories of reports and statements) live in `minimis-proto`.
//!
//! Holds: message shapes, codes and statuses. Never holds: keys (it borrows a signing
//! key to sign a request), content in the clear (an opened note, read by an officer's
//! tool, zeroizes on drop and has no `Serialize`).

#![forbid(unsafe_code)]

pub mod client;
pub mod custodian;
#[cfg(feature = "https")]
pub mod https;
pub mod operator;
pub mod refusal;
pub mod transport;

pub use client::{
    CallError, CaseSigner, CustodianClient, CustodianError, CustodianSigner, DeviceSigner,
    OperatorClient, OperatorError,
};
pub use custodian::CustodianRefusal;
#[cfg(feature = "https")]
pub use https::{HttpsClient, HttpsConfigError};
pub use operator::OperatorRefusal;
pub use refusal::{Refusal, RefusalBody, Refused, UnexpectedAnswer};
pub use transport::{Limits, Request, Response, Transport, TransportError};
