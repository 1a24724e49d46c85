//! Errors of the protocol layer: what could not be encoded or decoded, and why.

use std::fmt;

/// Bytes could not be decoded into a protocol value.
///
/// Every decoder in this crate returns this instead of panicking: truncated,
/// oversized or malformed input is an error, and no length read off the wire
/// sizes an allocation beyond the bytes actually present.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ended before the value did.
    Truncated {
        /// Bytes the next read needed.
        needed: usize,
        /// Bytes that were left.
        remaining: usize,
    },
    /// A length or count prefix is negative (and the value is not nullable) or
    /// larger than the bytes that follow it.
    InvalidLength {
        /// What the length was for ("string", "bytes", "array", ...).
        what: &'static str,
        /// The length as read.
        length: i64,
        /// Bytes that were left after the prefix.
        remaining: usize,
    },
    /// A null was read where the version does not allow one.
    UnexpectedNull {
        /// What was null ("string", "bytes", "array", "struct").
        what: &'static str,
    },
    /// A variable-length integer ran past its maximum width.
    VarintTooLong,
    /// A string was not valid UTF-8.
    InvalidUtf8,
    /// The version is outside the message's valid range.
    UnsupportedVersion {
        /// The message name.
        message: &'static str,
        /// The version asked for.
        version: i16,
    },
    /// An API key that this crate does not know.
    UnknownApiKey(i16),
    /// Bytes were left over where a value should have used all of its input.
    TrailingBytes {
        /// What was decoded.
        what: &'static str,
        /// How many bytes were left.
        remaining: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { needed, remaining } => write!(
                f,
                "input truncated: needed {needed} more bytes, {remaining} left"
            ),
            Self::InvalidLength {
                what,
                length,
                remaining,
            } => write!(
                f,
                "invalid {what} length {length} with {remaining} bytes remaining"
            ),
            Self::UnexpectedNull { what } => write!(f, "null {what} where none is allowed"),
            Self::VarintTooLong => f.write_str("variable-length integer is too long"),
            Self::InvalidUtf8 => f.write_str("string is not valid UTF-8"),
            Self::UnsupportedVersion { message, version } => {
                write!(f, "{message} has no version {version}")
            }
            Self::UnknownApiKey(key) => write!(f, "unknown API key {key}"),
            Self::TrailingBytes { what, remaining } => {
                write!(f, "{remaining} unexpected bytes after {what}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// A value could not be encoded at the requested version.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The version is outside the message's valid range.
    UnsupportedVersion {
        /// The message name.
        message: &'static str,
        /// The version asked for.
        version: i16,
    },
    /// A field holds a non-default value but the chosen version cannot carry it
    /// and the field is not ignorable: encoding would silently lose data.
    FieldNotInVersion {
        /// The struct that holds the field.
        message: &'static str,
        /// The field name as in the Kafka spec.
        field: &'static str,
        /// The version asked for.
        version: i16,
    },
    /// A field is null but the chosen version does not allow null for it.
    NullNotAllowed {
        /// The struct that holds the field.
        message: &'static str,
        /// The field name as in the Kafka spec.
        field: &'static str,
        /// The version asked for.
        version: i16,
    },
    /// A string, byte array or collection is longer than its length prefix can say.
    TooLong {
        /// What was too long.
        what: &'static str,
        /// Its length.
        length: usize,
    },
    /// An unknown tagged field uses a tag that the version also knows.
    DuplicateTag {
        /// The struct that holds the field.
        message: &'static str,
        /// The tag.
        tag: u32,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedVersion { message, version } => {
                write!(f, "{message} has no version {version}")
            }
            Self::FieldNotInVersion {
                message,
                field,
                version,
            } => write!(
                f,
                "{message}.{field} is set but version {version} cannot carry it"
            ),
            Self::NullNotAllowed {
                message,
                field,
                version,
            } => write!(
                f,
                "{message}.{field} is null but version {version} does not allow null"
            ),
            Self::TooLong { what, length } => write!(f, "{what} of length {length} is too long"),
            Self::DuplicateTag { message, tag } => {
                write!(
                    f,
                    "{message} has an unknown tagged field with known tag {tag}"
                )
            }
        }
    }
}

impl std::error::Error for EncodeError {}
