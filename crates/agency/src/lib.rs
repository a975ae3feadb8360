//! # minimis-agency: the agency's case system (library)
//!
//! The supervising agency's own system, where officers work (`spec/obligations.md`). It
//! holds, for each enrollment, a **case identity** ([`minimis_seal::CaseIdentity`]) whose
//! recipient goes into the signed enrollment bundle, and with it opens that enrollment's
//! condition results and filings; it keeps the **condition ledger** and the **reviews**;
//! it signs, with the agency's enrollment key, the reminders, decisions and
//! acknowledgements it seals to the participant's inbox.
//!
//! - [`CaseSystem::accept_condition`] verifies a condition result's device signature
//!   under the enrolled key and that it answers the ledger row's challenge, before it opens
//!   it (**OBL-5**), and opens a review of every condition not met or not checked
//!   (**OBL-6**); [`CaseSystem::missed`] opens one for every row that ends
//!   `pending-review`.
//! - [`CaseSystem::accept_filing`] does the same for filings (**OBL-9**);
//!   [`CaseSystem::acknowledge`] acknowledges one (**OBL-10**).
//! - [`CaseSystem::decide`] records an officer's decision with one of the policy's reasons
//!   and seals it to the participant with the last day to contest it (**OBL-14**);
//!   a contest filing marks the review contested (**OBL-15**).
//! - [`CaseSystem::remind`] seals an appointment or hearing reminder; [`reminder_days`]
//!   says when they are due (**OBL-13**).
//! - [`CaseSystem::conditions_summary`] counts an epoch's results for the log's
//!   `conditions summary` entry (**OBL-7**).
//!
//! Every operation checks everything before it changes anything: bad input gets a typed
//! error and leaves the case system as it was.
//!
//! **Trust domain:** the supervising agency. **Holds:** the case identities, the
//! enrollment key, the opened condition results, filings and reviews. **Never holds:** a
//! custodian's epoch key (it cannot open a check-in's content: that still takes a
//! justified, logged two-party request), the operator's keys, or a device key; it is not
//! linked by the operator's server or the custodians (`tests/deps.rs`).
//!
//! Not yet here (`spec/obligations.md` marks them planned): the case identity's key store
//! (a PKCS#11 token, OBL-1), deletion at the enrollment's close (OBL-2), the oversight
//! body's side of an appeal, and re-enrollment of a replaced phone (OBL-18).

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(clippy::unwrap_used)]

mod case;

pub use minimis_proto::obligations::ReviewCause;

pub use case::{
    AcceptedCondition, AcceptedFiling, AckError, CaseSystem, ConditionError, ConditionsSummary,
    DecideError, EnrollError, FilingError, InboxCheckError, MissedError, NoObligations,
    RemindError, Review, reminder_days,
};
