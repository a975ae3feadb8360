//! Refusals on the wire: `{"error": {"code": "<code>", "message": "<text>"}}` with an HTTP
//! status (**SVC-8**). Each interface has one enum of its refusals ([`Refusal`]): every
//! variant has one status and one snake_case code (**SVC-41**), the service writes a
//! refusal from its variant and the client reads the variant back from the code
//! ([`Refused::parse`]), so the two sides cannot drift.

use serde::{Deserialize, Serialize};

/// The JSON body of every refusal: `{"error": {"code", "message"}}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalBody {
    /// The refusal.
    pub error: RefusalInner,
}

/// The inside of a [`RefusalBody`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefusalInner {
    /// The machine-readable code.
    pub code: String,
    /// What went wrong, for people. Never secrets, content or request metadata.
    pub message: String,
}

impl RefusalBody {
    /// The body for `code` and `message`.
    pub fn new(code: &str, message: &str) -> Self {
        Self {
            error: RefusalInner {
                code: code.to_owned(),
                message: message.to_owned(),
            },
        }
    }
}

/// The refusals of one interface: a closed set of codes, each with its status.
pub trait Refusal: Copy + Eq + std::fmt::Debug + Send + Sync + 'static {
    /// Every refusal of the interface.
    const ALL: &'static [Self];

    /// The HTTP status it is answered with.
    fn status(self) -> u16;

    /// Its machine-readable code: snake_case (**SVC-41**).
    fn code(self) -> &'static str;

    /// The refusal with this code, if the interface has one.
    fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|r| r.code() == code)
    }
}

/// A refusal as a client received it: the variant, the status it came with and the
/// service's message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("refused: {status} {code}: {message}", code = refusal.code())]
pub struct Refused<R: Refusal> {
    /// What was refused.
    pub refusal: R,
    /// The status it came with.
    pub status: u16,
    /// The service's message, for people.
    pub message: String,
}

/// An answer that is not what the interface specifies.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnexpectedAnswer {
    /// A failure status whose body is not a refusal of this interface.
    #[error("status {status} without a refusal body")]
    NoRefusal {
        /// The status.
        status: u16,
    },
    /// A refusal code the interface does not have.
    #[error("status {status} with the unknown code {code:?}")]
    UnknownCode {
        /// The status.
        status: u16,
        /// The code, as received (at most 64 characters are kept).
        code: String,
    },
    /// A known code with another status than the interface gives it.
    #[error("the code {code} with status {status}, where the interface answers it with {expected}")]
    WrongStatus {
        /// The code.
        code: &'static str,
        /// The status received.
        status: u16,
        /// The status the interface gives the code.
        expected: u16,
    },
    /// A success whose body does not parse as the answer the route specifies.
    #[error("the answer does not parse: {0}")]
    Body(String),
}

impl<R: Refusal> Refused<R> {
    /// A refusal with a message.
    pub fn new(refusal: R, message: impl Into<String>) -> Self {
        Self {
            refusal,
            status: refusal.status(),
            message: message.into(),
        }
    }

    /// Reads a refusal of this interface from a failure `status` and its `body`. The code
    /// must be one of the interface's and come with its status; anything else is an
    /// [`UnexpectedAnswer`].
    ///
    /// # Errors
    /// [`UnexpectedAnswer`].
    pub fn parse(status: u16, body: &[u8]) -> Result<Self, UnexpectedAnswer> {
        let b: RefusalBody =
            serde_json::from_slice(body).map_err(|_| UnexpectedAnswer::NoRefusal { status })?;
        let refusal = R::from_code(&b.error.code).ok_or_else(|| UnexpectedAnswer::UnknownCode {
            status,
            code: b.error.code.chars().take(64).collect(),
        })?;
        if refusal.status() != status {
            return Err(UnexpectedAnswer::WrongStatus {
                code: refusal.code(),
                status,
                expected: refusal.status(),
            });
        }
        Ok(Self {
            refusal,
            status,
            message: b.error.message,
        })
    }

    /// The body the service answers with.
    pub fn body(&self) -> RefusalBody {
        RefusalBody::new(self.refusal.code(), &self.message)
    }
}

/// Whether `code` is snake_case: lowercase ASCII letters and digits in words joined by
/// single underscores.
pub fn is_snake_case(code: &str) -> bool {
    !code.is_empty()
        && code.split('_').all(|w| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// Checks an interface's refusals: every code snake_case and distinct, every status a
/// client or server error, and every code and status read back as the same variant.
///
/// # Errors
/// What is wrong, naming the refusal.
pub fn check_interface<R: Refusal>() -> Result<(), String> {
    let mut seen = std::collections::BTreeSet::new();
    for &r in R::ALL {
        let code = r.code();
        if !is_snake_case(code) {
            return Err(format!("{r:?}: {code} is not snake_case"));
        }
        if !seen.insert(code) {
            return Err(format!("{r:?}: {code} is the code of another refusal"));
        }
        if !(400..600).contains(&r.status()) {
            return Err(format!("{r:?}: status {} is not a failure", r.status()));
        }
        let body = serde_json::to_vec(&Refused::new(r, "m").body()).map_err(|e| e.to_string())?;
        match Refused::<R>::parse(r.status(), &body) {
            Ok(back) if back.refusal == r && back.status == r.status() && back.message == "m" => {}
            other => return Err(format!("{r:?} reads back as {other:?}")),
        }
    }
    Ok(())
}
