//! The one error type of the harness: every variant says what to do about it.

use std::fmt;
use std::io;
use std::time::Duration;

/// Why a peer could not be started or driven.
#[derive(Debug)]
pub enum HarnessError {
    /// A file or program the harness needs is not installed.
    Missing {
        /// What is missing, with the path that was looked at.
        what: String,
        /// How to install it.
        remedy: String,
    },
    /// The operating system refused to start a program.
    Spawn {
        /// The program.
        program: String,
        /// The underlying error.
        source: io::Error,
    },
    /// A peer started but exited, or said something unexpected, before it was ready.
    Startup {
        /// Which peer.
        peer: String,
        /// What happened, with the end of its stderr.
        detail: String,
    },
    /// Something did not happen in time.
    Timeout {
        /// What was awaited.
        what: String,
        /// How long we waited.
        after: Duration,
        /// Anything the peer said (the end of its stderr).
        detail: String,
    },
    /// The mock cluster answered a control command with `ERR ...`.
    Refused {
        /// The command sent.
        command: String,
        /// The mock's full answer.
        answer: String,
    },
    /// A peer or helper process failed after it started (exited, non-zero status).
    Failed {
        /// What failed.
        what: String,
        /// Its status and output.
        detail: String,
    },
    /// Reading or writing a file or pipe failed.
    Io(io::Error),
}

impl fmt::Display for HarnessError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { what, remedy } => write!(f, "{what}: {remedy}"),
            Self::Spawn { program, source } => write!(f, "could not run {program}: {source}"),
            Self::Startup { peer, detail } => write!(f, "{peer} did not start: {detail}"),
            Self::Timeout {
                what,
                after,
                detail,
            } => {
                write!(f, "{what} did not happen within {after:?}")?;
                if !detail.is_empty() {
                    write!(f, "; stderr: {detail}")?;
                }
                Ok(())
            }
            Self::Refused { command, answer } => {
                write!(f, "mock cluster refused {command:?}: {answer}")
            }
            Self::Failed { what, detail } => write!(f, "{what} failed: {detail}"),
            Self::Io(e) => write!(f, "harness I/O: {e}"),
        }
    }
}

impl std::error::Error for HarnessError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Spawn { source, .. } | Self::Io(source) => Some(source),
            _ => None,
        }
    }
}

impl From<io::Error> for HarnessError {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}
