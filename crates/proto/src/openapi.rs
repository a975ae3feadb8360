//! OpenAPI schemas of the protocol's values (feature `openapi`), so that the operator's
//! `/v1/openapi.json` describes every message with the same types the server parses and
//! writes (issue "The specification is enough"). Values whose JSON form is written by hand
//! (hexadecimal identifiers, base64 keys and signatures, times, epochs, clock times of a
//! schedule) have their schemas written here, beside the rules they state: the exact
//! length, the alphabet, the range. Structures and enums derive theirs from their serde
//! attributes.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, Schema, SchemaFormat, Type};

fn string(builder: ObjectBuilder) -> RefOr<Schema> {
    RefOr::T(Schema::Object(builder.schema_type(Type::String).build()))
}

/// An identifier of `len` bytes as lowercase hexadecimal (spec/operator.md).
pub(crate) fn hex(len: usize, what: &str) -> RefOr<Schema> {
    string(
        ObjectBuilder::new()
            .description(Some(format!(
                "A {what}: {len} bytes as {} lowercase hexadecimal characters.",
                2 * len
            )))
            .min_length(Some(2 * len))
            .max_length(Some(2 * len))
            .pattern(Some(format!("^[0-9a-f]{{{}}}$", 2 * len))),
    )
}

/// The regular expression of exactly `len` bytes in standard base64 with padding.
pub(crate) fn base64_pattern(len: usize) -> String {
    let (whole, rest) = (len / 3, len % 3);
    let tail = match rest {
        1 => "[A-Za-z0-9+/]{2}==",
        2 => "[A-Za-z0-9+/]{3}=",
        _ => "",
    };
    format!("^[A-Za-z0-9+/]{{{}}}{tail}$", whole * 4)
}

/// `len` bytes in standard base64 with padding (RFC 4648 §4).
pub(crate) fn base64_fixed(len: usize, what: &str) -> RefOr<Schema> {
    let chars = len.div_ceil(3) * 4;
    string(
        ObjectBuilder::new()
            .description(Some(format!(
                "{what}: {len} bytes in standard base64 with padding ({chars} characters)."
            )))
            .content_encoding("base64")
            .min_length(Some(chars))
            .max_length(Some(chars))
            .pattern(Some(base64_pattern(len))),
    )
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_time() -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .description(Some("Seconds since 1970-01-01T00:00:00Z (Unix time)."))
            .build(),
    ))
}

/// An epoch number (SEAL-6).
pub(crate) fn epoch() -> RefOr<Schema> {
    RefOr::T(Schema::Object(
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(0))
            .maximum(Some(u32::MAX))
            .description(Some(
                "An epoch: the number of whole epoch lengths since 1970-01-05T00:00:00Z \
                 (SEAL-6), an unsigned 32-bit integer.",
            ))
            .build(),
    ))
}

/// A minute of the day, `HH:MM`.
pub(crate) fn local_time() -> RefOr<Schema> {
    string(
        ObjectBuilder::new()
            .description(Some(
                "A local clock time, `HH:MM` (00:00 to 23:59), in the schedule's time zone.",
            ))
            .pattern(Some("^([01][0-9]|2[0-3]):[0-5][0-9]$")),
    )
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as B64;

    use super::*;

    /// The base64 pattern accepts the encoding of exactly `len` bytes and nothing near it.
    #[test]
    fn base64_pattern_accepts_exactly_the_encodings_of_its_length() {
        for len in [16usize, 32, 33, 64] {
            let re = regex::Regex::new(&base64_pattern(len)).unwrap();
            let good = B64.encode(vec![0xa5; len]);
            assert!(re.is_match(&good), "{good}");
            for bad in [
                B64.encode(vec![0xa5; len - 1]),
                B64.encode(vec![0xa5; len + 1]),
                good.trim_end_matches('=').to_owned(),
                format!("{good}="),
                good.replacen('p', "-", 1).replacen('l', "_", 1),
            ] {
                assert!(!re.is_match(&bad) || bad == good, "{len}: {bad}");
            }
        }
    }

    /// The clock-time pattern takes every minute of a day and nothing else.
    #[test]
    fn local_time_pattern_takes_the_minutes_of_a_day() {
        let RefOr::T(Schema::Object(o)) = local_time() else {
            panic!("a string schema")
        };
        let re = regex::Regex::new(o.pattern.as_deref().unwrap()).unwrap();
        for h in 0..24 {
            for m in 0..60 {
                assert!(re.is_match(&format!("{h:02}:{m:02}")));
            }
        }
        for bad in ["24:00", "9:00", "09:60", "09:5", "0900", " 09:00"] {
            assert!(!re.is_match(bad), "{bad}");
        }
    }
}
