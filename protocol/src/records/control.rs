//! Control records: the transaction markers a coordinator writes into each
//! partition when a transaction commits or aborts.
//!
//! A control batch has the control and transactional attribute bits set and
//! holds one record whose key is `version int16 | type int16` (0 abort,
//! 1 commit) and, for commit and abort, whose value is
//! `version int16 | coordinatorEpoch int32`.

use bytes::Bytes;

use super::batch::RecordBatch;
use super::builder::RecordBatchBuilder;
use super::encode::NewRecord;
use super::error::RecordsError;
use super::record::Record;

/// The control record key version this crate writes.
const KEY_VERSION: i16 = 0;
/// The end-transaction marker value version this crate writes.
const MARKER_VERSION: i16 = 0;
const ABORT: i16 = 0;
const COMMIT: i16 = 1;

/// A decoded control record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ControlRecord {
    /// The producer's transaction was aborted: a `read_committed` consumer
    /// drops its records.
    Abort {
        /// Epoch of the transaction coordinator that wrote the marker.
        coordinator_epoch: i32,
    },
    /// The producer's transaction was committed.
    Commit {
        /// Epoch of the transaction coordinator that wrote the marker.
        coordinator_epoch: i32,
    },
    /// A control type this crate does not interpret (KRaft's leader change,
    /// snapshot and voter records, or a future type). Clients skip these.
    Other {
        /// The control type from the key.
        kind: i16,
        /// The raw value.
        value: Option<Bytes>,
    },
}

fn invalid(why: &'static str) -> RecordsError {
    RecordsError::InvalidControlRecord(why)
}

impl ControlRecord {
    /// Parses a control record from its key and value.
    ///
    /// Newer key or marker versions are accepted as long as they start with
    /// the fields this version knows, as the Java client does.
    pub fn parse(key: Option<&[u8]>, value: Option<&Bytes>) -> Result<Self, RecordsError> {
        let key = key.ok_or_else(|| invalid("null key"))?;
        let Some(k) = key.first_chunk::<4>() else {
            return Err(invalid("key shorter than 4 bytes"));
        };
        let version = i16::from_be_bytes([k[0], k[1]]);
        if version < 0 {
            return Err(invalid("negative key version"));
        }
        let kind = i16::from_be_bytes([k[2], k[3]]);
        if kind != ABORT && kind != COMMIT {
            return Ok(Self::Other {
                kind,
                value: value.cloned(),
            });
        }
        let value = value.ok_or_else(|| invalid("null end-transaction marker value"))?;
        let Some(v) = value.first_chunk::<6>() else {
            return Err(invalid("end-transaction marker value shorter than 6 bytes"));
        };
        if i16::from_be_bytes([v[0], v[1]]) < 0 {
            return Err(invalid("negative end-transaction marker version"));
        }
        let coordinator_epoch = i32::from_be_bytes([v[2], v[3], v[4], v[5]]);
        Ok(if kind == COMMIT {
            Self::Commit { coordinator_epoch }
        } else {
            Self::Abort { coordinator_epoch }
        })
    }

    /// Parses the control record held by `record`, a record of a control batch.
    pub fn from_record(record: &Record) -> Result<Self, RecordsError> {
        Self::parse(record.key.as_deref(), record.value.as_ref())
    }

    /// Whether this is a commit marker.
    pub fn is_commit(&self) -> bool {
        matches!(self, Self::Commit { .. })
    }

    /// Whether this is an abort marker.
    pub fn is_abort(&self) -> bool {
        matches!(self, Self::Abort { .. })
    }

    /// The control type: 0 abort, 1 commit, or the type of [`ControlRecord::Other`].
    pub fn kind(&self) -> i16 {
        match self {
            Self::Abort { .. } => ABORT,
            Self::Commit { .. } => COMMIT,
            Self::Other { kind, .. } => *kind,
        }
    }

    /// The encoded key: key version 0 and the control type.
    pub fn key_bytes(&self) -> [u8; 4] {
        let mut k = [0; 4];
        k[..2].copy_from_slice(&KEY_VERSION.to_be_bytes());
        k[2..].copy_from_slice(&self.kind().to_be_bytes());
        k
    }

    /// The encoded value: for commit and abort, marker version 0 and the
    /// coordinator epoch; for other types, the raw value.
    pub fn value_bytes(&self) -> Option<Bytes> {
        match self {
            Self::Abort { coordinator_epoch } | Self::Commit { coordinator_epoch } => {
                let mut v = Vec::with_capacity(6);
                v.extend_from_slice(&MARKER_VERSION.to_be_bytes());
                v.extend_from_slice(&coordinator_epoch.to_be_bytes());
                Some(Bytes::from(v))
            }
            Self::Other { value, .. } => value.clone(),
        }
    }

    /// Encodes a control batch holding this one record, as a transaction
    /// coordinator writes it: control and transactional bits set, the
    /// producer's id and epoch, no sequence, uncompressed.
    pub fn encode_batch(
        &self,
        base_offset: i64,
        producer_id: i64,
        producer_epoch: i16,
        timestamp: i64,
    ) -> Result<Bytes, RecordsError> {
        let key = self.key_bytes();
        let value = self.value_bytes();
        let mut b = RecordBatchBuilder::new()
            .base_offset(base_offset)
            .producer(producer_id, producer_epoch, -1)
            .transactional(true)
            .control(true);
        b.push(&NewRecord {
            timestamp,
            key: Some(&key),
            value: value.as_deref(),
            headers: &[],
        })?;
        b.finish()
    }
}

impl RecordBatch {
    fn parse_control(
        key: Option<&[u8]>,
        value: Option<Bytes>,
    ) -> Result<ControlRecord, RecordsError> {
        ControlRecord::parse(key, value.as_ref())
    }

    /// For a control batch, its control record (Kafka writes exactly one per
    /// batch); `None` for a data batch or an empty control batch.
    pub fn control_record(&self) -> Option<Result<ControlRecord, RecordsError>> {
        if !self.header.is_control() {
            return None;
        }
        self.records()
            .next()
            .map(|r| r.and_then(|r| Self::parse_control(r.key(), r.value_bytes())))
    }
}
