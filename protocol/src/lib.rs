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
//!
//! # Example: a request and its response on the wire
//!
//! ```
//! use bytes::BytesMut;
//! use rkafka_protocol::messages::{MetadataRequest, MetadataResponse, RequestHeader};
//! use rkafka_protocol::{Message, Request};
//!
//! let version = 12;
//! let request = MetadataRequest::default().with_allow_auto_topic_creation(false);
//! let header = RequestHeader::default()
//!     .with_request_api_key(MetadataRequest::API_KEY as i16)
//!     .with_request_api_version(version)
//!     .with_correlation_id(7)
//!     .with_client_id(Some("example".into()));
//!
//! // Size prefix, header (in the version the request's version calls for), body.
//! let header_version = MetadataRequest::request_header_version(version);
//! let size = header.encoded_size(header_version) + request.encoded_size(version);
//! let mut frame = BytesMut::new();
//! frame.extend_from_slice(&(size as i32).to_be_bytes());
//! header.encode(&mut frame, header_version).unwrap();
//! request.encode(&mut frame, version).unwrap();
//! assert_eq!(frame.len(), 4 + size);
//!
//! // Decoding is the same in reverse.
//! let mut body = frame.split_off(4).freeze();
//! let back = RequestHeader::decode(&mut body, header_version).unwrap();
//! assert_eq!(back.correlation_id, 7);
//! assert_eq!(MetadataRequest::decode(&mut body, version).unwrap(), request);
//!
//! // A response's type comes from its request (`Request::Response`), in the
//! // same version.
//! let mut bytes = BytesMut::new();
//! MetadataResponse::default()
//!     .with_throttle_time_ms(5)
//!     .encode(&mut bytes, version)
//!     .unwrap();
//! let response =
//!     <MetadataRequest as Request>::Response::decode(&mut bytes.freeze(), version).unwrap();
//! assert_eq!(response.throttle_time_ms, 5);
//!
//! // Truncated bytes are an error, never a panic.
//! let mut short = bytes::Bytes::from_static(&[0, 0, 0]);
//! assert!(MetadataResponse::decode(&mut short, version).is_err());
//! ```

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
