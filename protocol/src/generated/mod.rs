//! Code written by `rkafka-codegen` (`just codegen`); do not edit by hand.

pub mod api_key;
pub mod error_code;
pub mod messages;
