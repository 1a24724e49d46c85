//! Byte streams to brokers: TCP and TLS.

pub mod tls;
pub mod transport;
