//! SASL PLAIN (RFC 4616): one message, `authzid NUL authcid NUL passwd`.
//!
//! PLAIN sends the password in clear: use it only over TLS (`SASL_SSL`).

/// The single PLAIN message, with an empty authorization id (Kafka derives
/// the principal from the authentication id).
pub(crate) fn initial_response(username: &str, password: &str) -> Vec<u8> {
    let mut m = Vec::with_capacity(2 + username.len() + password.len());
    m.push(0);
    m.extend_from_slice(username.as_bytes());
    m.push(0);
    m.extend_from_slice(password.as_bytes());
    m
}

#[cfg(test)]
mod tests {
    #[test]
    fn layout() {
        assert_eq!(
            super::initial_response("alice", "s3cr=t"),
            b"\0alice\0s3cr=t"
        );
    }
}
