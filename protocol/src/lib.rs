//! The Kafka wire protocol, as rkafka speaks it.
//!
//! - [`primitives`]: how each protocol type is laid out in bytes ([`Wire`]).
//! - [`messages`]: every request, response, header and data struct of Kafka
//!   4.3, generated from the JSON specs by `rkafka-codegen`.
//! - [`ApiKey`] and [`ErrorCode`]: every API and every error code.
//! - [`records`]: the record batch v2 codec, with compression.
//!
//! Decoders never panic on bad input: they return [`DecodeError`].

pub mod error;
pub mod primitives;
pub mod records;

pub use error::{DecodeError, EncodeError};
pub use primitives::{VersionRange, Wire};
