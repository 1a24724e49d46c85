//! The Kafka wire protocol, as rkafka speaks it.
//!
//! - [`primitives`]: how each protocol type is laid out in bytes ([`Wire`]).
//! - [`messages`]: every request, response, header and data struct of Kafka
//!   4.3, generated from the JSON specs by `rkafka-codegen`, each with
//!   encode, encoded size and decode for every valid version ([`Message`],
//!   [`Request`]).
//! - [`ApiKey`] and [`ErrorCode`]: every API and every error code.
//! - [`records`]: the record batch v2 codec, with compression.
//!
//! Decoders never panic on bad input: they return [`DecodeError`].

#![deny(missing_docs)]

#[cfg(any(test, feature = "arbitrary"))]
pub mod arbitrary;
pub mod error;
mod generated;
mod message;
pub mod primitives;
pub mod records;

pub use error::{DecodeError, EncodeError};
pub use generated::api_key::ApiKey;
pub use generated::error_code::ErrorCode;
pub use generated::messages;
pub use message::{Message, Request};
pub use primitives::{RawTaggedField, VersionRange, Wire};
