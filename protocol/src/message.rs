//! The traits every generated message implements: [`Message`] (encode,
//! size, decode at a version) and [`Request`] (ties a request to its API key,
//! response type and header versions).

use std::fmt::Debug;

use bytes::{Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};
use crate::primitives::{VersionRange, Wire};
use crate::ApiKey;

/// A top-level protocol message: a request, a response, a header or a data
/// struct (such as the consumer protocol's subscription).
pub trait Message: Wire + Default + Clone + PartialEq + Debug + Send + Sync + 'static {
    /// The spec name (`"FetchRequest"`).
    const NAME: &'static str;
    /// The versions this message can be encoded and decoded at.
    const VERSIONS: VersionRange;
    /// The first flexible version (compact strings, tagged fields);
    /// `i16::MAX` when no version is flexible.
    const FLEXIBLE_MIN: i16;

    /// Whether `version` is a flexible version.
    #[inline]
    fn is_flexible(version: i16) -> bool {
        version >= Self::FLEXIBLE_MIN
    }

    /// Appends the message body at `version` to `buf`.
    ///
    /// Fails when the version is not valid for the message, when a field
    /// holds a value the version cannot carry (and the field is not
    /// ignorable), or when a field is null where the version forbids it.
    fn encode(&self, buf: &mut BytesMut, version: i16) -> Result<(), EncodeError> {
        if !Self::VERSIONS.contains(version) {
            return Err(EncodeError::UnsupportedVersion {
                message: Self::NAME,
                version,
            });
        }
        self.write(buf, version, Self::is_flexible(version))
    }

    /// The number of bytes [`Message::encode`] appends at `version`.
    #[inline]
    fn encoded_size(&self, version: i16) -> usize {
        self.wire_size(version, Self::is_flexible(version))
    }

    /// Decodes a message body at `version` from the front of `buf`,
    /// advancing it. Byte and record fields are zero-copy slices of `buf`.
    fn decode(buf: &mut Bytes, version: i16) -> Result<Self, DecodeError> {
        if !Self::VERSIONS.contains(version) {
            return Err(DecodeError::UnsupportedVersion {
                message: Self::NAME,
                version,
            });
        }
        Self::read(buf, version, Self::is_flexible(version))
    }
}

/// A request: knows its API key, its response type and its header versions.
pub trait Request: Message {
    /// The API this request belongs to.
    const API_KEY: ApiKey;
    /// The response the broker answers with.
    type Response: Message;
    /// Whether the highest version in [`Message::VERSIONS`] is still unstable
    /// (brokers do not offer it unless configured to).
    const LATEST_VERSION_UNSTABLE: bool;

    /// The versions a client should use: [`Message::VERSIONS`] without an
    /// unstable latest version.
    fn stable_versions() -> VersionRange {
        let v = Self::VERSIONS;
        if Self::LATEST_VERSION_UNSTABLE {
            VersionRange {
                min: v.min,
                max: v.max - 1,
            }
        } else {
            v
        }
    }

    /// The request header version used with request `version`: 2 for
    /// flexible versions, else 1.
    fn request_header_version(version: i16) -> i16 {
        if Self::is_flexible(version) {
            2
        } else {
            1
        }
    }

    /// The response header version used with `version`: 1 for flexible
    /// versions, else 0. ApiVersions responses always use 0, so that a client
    /// can read the answer whatever version it asked with.
    fn response_header_version(version: i16) -> i16 {
        if Self::API_KEY != ApiKey::ApiVersions && Self::Response::is_flexible(version) {
            1
        } else {
            0
        }
    }
}

/// Generates `RequestKind` and `ResponseKind`, enums over every API, from the
/// list the code generator emits in `messages/mod.rs`.
macro_rules! kinds {
    ($($key:ident => $req:ident, $resp:ident;)*) => {
        /// Any request, for code that handles APIs chosen at run time.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        #[allow(clippy::large_enum_variant)]
        pub enum RequestKind {
            $(#[doc = concat!("A `", stringify!($req), "`.")] $key($req),)*
        }

        /// Any response, for code that handles APIs chosen at run time.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        #[allow(clippy::large_enum_variant)]
        pub enum ResponseKind {
            $(#[doc = concat!("A `", stringify!($resp), "`.")] $key($resp),)*
        }

        crate::message::kinds!(@impl RequestKind, $($key => $req;)*);
        crate::message::kinds!(@impl ResponseKind, $($key => $resp;)*);
    };
    (@impl $kind:ident, $($key:ident => $ty:ident;)*) => {
        impl $kind {
            /// The API this message belongs to.
            pub fn api_key(&self) -> crate::ApiKey {
                match self { $(Self::$key(_) => crate::ApiKey::$key,)* }
            }

            /// The valid versions of the API's message.
            pub fn versions(key: crate::ApiKey) -> crate::VersionRange {
                match key { $(crate::ApiKey::$key => <$ty as crate::Message>::VERSIONS,)* }
            }

            /// Decodes the message of API `key` at `version`.
            pub fn decode(
                key: crate::ApiKey,
                buf: &mut bytes::Bytes,
                version: i16,
            ) -> Result<Self, crate::DecodeError> {
                match key {
                    $(crate::ApiKey::$key => <$ty as crate::Message>::decode(buf, version).map(Self::$key),)*
                }
            }

            /// Encodes the message at `version`.
            pub fn encode(&self, buf: &mut bytes::BytesMut, version: i16) -> Result<(), crate::EncodeError> {
                match self { $(Self::$key(m) => crate::Message::encode(m, buf, version),)* }
            }

            /// A random message valid at `version` (see [`crate::arbitrary`]).
            #[cfg(any(test, feature = "arbitrary"))]
            pub fn arbitrary(key: crate::ApiKey, g: &mut crate::arbitrary::Gen, version: i16) -> Self {
                match key {
                    $(crate::ApiKey::$key => Self::$key(<$ty as crate::arbitrary::Arbitrary>::arbitrary(g, version)),)*
                }
            }

            /// The bytes [`Self::encode`] appends at `version`.
            pub fn encoded_size(&self, version: i16) -> usize {
                match self { $(Self::$key(m) => crate::Message::encoded_size(m, version),)* }
            }
        }
    };
}
pub(crate) use kinds;
