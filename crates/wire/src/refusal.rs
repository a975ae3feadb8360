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

/// The OpenAPI schema of a refusal body of interface `R` (feature `openapi`): the
/// `{"error": {"code", "message"}}` object, its `code` one of the interface's codes, and
/// with `status`, only those it answers with that status. Made from [`Refusal::ALL`], so
/// the document lists exactly the codes the service can write.
#[cfg(feature = "openapi")]
pub fn refusal_schema<R: Refusal>(
    status: Option<u16>,
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};
    let mut codes: Vec<&str> = R::ALL
        .iter()
        .filter(|r| status.is_none_or(|s| r.status() == s))
        .map(|r| r.code())
        .collect();
    codes.sort_unstable();
    codes.dedup();
    let inner = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property(
            "code",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(codes))
                .description(Some("The machine-readable code (snake_case, SVC-41).")),
        )
        .required("code")
        .property(
            "message",
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some("What went wrong, for people.")),
        )
        .required("message")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::Object)
            .description(Some(
                "A refusal (SVC-8): the request changed nothing. The code says why.",
            ))
            .property("error", inner)
            .required("error")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)))
            .build(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CustodianRefusal, OperatorRefusal};

    #[test]
    fn svc_41_every_operator_refusal_reads_back_as_itself_from_its_code_and_status() {
        assert_eq!(check_interface::<OperatorRefusal>(), Ok(()));
        assert!(OperatorRefusal::ALL.len() >= 40);
    }

    #[test]
    fn svc_41_every_custodian_refusal_reads_back_as_itself_from_its_code_and_status() {
        assert_eq!(check_interface::<CustodianRefusal>(), Ok(()));
        // A logged denial's code is its log name with `_` for `-`, and maps back to it.
        for d in minimis_log::DenialReason::ALL {
            let r = CustodianRefusal::from_denial(d);
            assert_eq!(r.code(), d.as_str().replace('-', "_"), "{d:?}");
            assert_eq!(r.denial(), Some(d), "{d:?}");
        }
        assert_eq!(CustodianRefusal::HoldUnknown.denial(), None);
    }

    #[test]
    fn svc_41_a_client_refuses_what_the_interface_does_not_answer() {
        let body =
            |code: &str| serde_json::to_vec(&RefusalBody::new(code, "m")).unwrap_or_default();
        // The other interface's style, or a code the interface does not have.
        assert_eq!(
            Refused::<CustodianRefusal>::parse(403, &body("purpose-not-allowed")),
            Err(UnexpectedAnswer::UnknownCode {
                status: 403,
                code: "purpose-not-allowed".into()
            })
        );
        assert!(matches!(
            Refused::<OperatorRefusal>::parse(403, &body("purpose_not_allowed")),
            Err(UnexpectedAnswer::UnknownCode { .. })
        ));
        // A known code with another status.
        assert_eq!(
            Refused::<OperatorRefusal>::parse(500, &body("malformed")),
            Err(UnexpectedAnswer::WrongStatus {
                code: "malformed",
                status: 500,
                expected: 400
            })
        );
        // No refusal body at all.
        assert_eq!(
            Refused::<OperatorRefusal>::parse(502, b"<html>bad gateway</html>"),
            Err(UnexpectedAnswer::NoRefusal { status: 502 })
        );
        // An endless code is not kept whole.
        let long = "x".repeat(10_000);
        match Refused::<OperatorRefusal>::parse(400, &body(&long)) {
            Err(UnexpectedAnswer::UnknownCode { code, .. }) => assert_eq!(code.len(), 64),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn svc_41_check_interface_catches_a_broken_interface() {
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        enum Bad {
            Kebab,
        }
        impl Refusal for Bad {
            const ALL: &'static [Self] = &[Self::Kebab];
            fn status(self) -> u16 {
                400
            }
            fn code(self) -> &'static str {
                match self {
                    Self::Kebab => "not-snake",
                }
            }
        }
        assert!(check_interface::<Bad>().is_err_and(|e| e.contains("snake_case")));
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        struct Dup(u8);
        impl Refusal for Dup {
            const ALL: &'static [Self] = &[Self(1), Self(2)];
            fn status(self) -> u16 {
                409
            }
            fn code(self) -> &'static str {
                "same"
            }
        }
        assert!(check_interface::<Dup>().is_err_and(|e| e.contains("another refusal")));
    }
}
