//! rkafka's core client: broker connections, TLS, SASL and version
//! negotiation.
//!
//! Each broker connection is owned by a reader task and a writer task; callers
//! hold cheap, cloneable handles and talk to the tasks through channels. See
//! [`conn`] for the design.

#![deny(missing_docs)]

pub mod admin;
pub mod backoff;
pub mod broker;
pub mod client;
pub mod config;
pub mod conn;
pub mod error;
pub mod group_metadata;
pub mod metadata;
pub mod net;
pub mod retry;
pub mod route;
pub mod sasl;

pub use client::{Client, ClientConfig};
pub use error::{Error, Result, SaslError};
pub use route::{CoordinatorKind, Target};
