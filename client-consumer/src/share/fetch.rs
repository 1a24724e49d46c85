//! Turning one ShareFetch partition answer into deliverable records.
//!
//! Pure code. Only offsets inside an `AcquiredRecords` range belong to this
//! member; each is either delivered (with its range's delivery count) or,
//! when no data record exists for it (compacted, control batch, abort
//! marker), acknowledged as GAP. Control batches never reach the user.

use std::sync::Arc;

use bytes::Bytes;
use rkafka_protocol::messages::share_fetch_response::AcquiredRecords;
use rkafka_protocol::records::{DecodeOptions, FetchBatches, RecordBatch, RecordsError};
use uuid::Uuid;

use super::record::ShareRecord;

/// The most acquired offsets one partition answer may claim. The broker's
/// own cap (`group.share.partition.max.record.locks`) is 2000 by default;
/// anything beyond this bound is bad input and is not expanded, so a bogus
/// range cannot make the client allocate without limit.
const MAX_ACQUIRED: u64 = 1 << 20;

/// Where a partition's records came from.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub node: i32,
    pub topic_id: Uuid,
    pub topic: Arc<str>,
    pub partition: i32,
}

/// What one partition answer yields.
#[derive(Debug, Default)]
pub(crate) struct Extracted {
    /// Records to hand out, in offset order.
    pub records: Vec<ShareRecord>,
    /// Acquired offsets with no data record: acknowledge as GAP.
    pub gaps: Vec<i64>,
    /// Acquired offsets in batches that failed to decode: reject them (the
    /// Java client's rule) and report.
    pub corrupt: Vec<i64>,
    /// Acquired offsets past a cut-off or unreadable end of the payload:
    /// whether records exist there is unknown, so they are released (a GAP
    /// would tell the broker there is nothing, losing them).
    pub unknown: Vec<i64>,
    /// The decode error, if any.
    pub error: Option<String>,
}

/// Sorted, non-overlapping, bounded acquired ranges `(first, last, count)`.
fn normalise(acquired: &[AcquiredRecords]) -> Vec<(i64, i64, i16)> {
    let mut ranges: Vec<(i64, i64, i16)> = acquired
        .iter()
        .filter(|a| a.first_offset >= 0 && a.first_offset <= a.last_offset)
        .map(|a| (a.first_offset, a.last_offset, a.delivery_count))
        .collect();
    ranges.sort_by_key(|r| r.0);
    let mut out: Vec<(i64, i64, i16)> = Vec::with_capacity(ranges.len());
    let mut budget = MAX_ACQUIRED;
    for (mut first, last, count) in ranges {
        if let Some(prev) = out.last() {
            // Overlaps are a broker bug: the first range wins.
            match prev.1.checked_add(1) {
                Some(next) => first = first.max(next),
                None => continue, // the previous range reaches i64::MAX
            }
        }
        if first > last || budget == 0 {
            continue;
        }
        let len = (last - first) as u64 + 1;
        let last = if len > budget {
            tracing::warn!(first, last, "acquired range too large; truncated");
            first + budget as i64 - 1
        } else {
            last
        };
        budget -= (last - first) as u64 + 1;
        out.push((first, last, count));
    }
    out
}

/// Adds the records of `batch` that fall in the acquired `ranges` to
/// `records` (and their offsets to `handled`), moving `r` through the
/// ranges. Records decode as they are read: all of the batch is read, and
/// if any record is malformed nothing of the batch is kept and the error is
/// returned, so the caller rejects the batch as a whole.
fn deliver(
    origin: &Origin,
    batch: &RecordBatch,
    ranges: &[(i64, i64, i16)],
    r: &mut usize,
    records: &mut Vec<ShareRecord>,
    handled: &mut Vec<i64>,
) -> Result<(), RecordsError> {
    let (r_before, records_before, handled_before) = (*r, records.len(), handled.len());
    for rec in batch.records() {
        let rec = match rec {
            Ok(rec) => rec,
            Err(e) => {
                *r = r_before;
                records.truncate(records_before);
                handled.truncate(handled_before);
                return Err(e);
            }
        };
        let offset = rec.offset();
        while *r < ranges.len() && ranges[*r].1 < offset {
            *r += 1;
        }
        let Some(&(first, _, count)) = ranges.get(*r) else {
            continue; // past our ranges, but still read for a malformed record
        };
        if offset < first {
            continue; // not acquired by us
        }
        handled.push(offset);
        records.push(ShareRecord {
            topic: origin.topic.clone(),
            partition: origin.partition,
            offset,
            key: rec.key_bytes(),
            value: rec.value_bytes(),
            headers: rec.headers().map(|h| h.to_header()).collect(),
            timestamp: rec.timestamp(),
            delivery_count: count,
            node: origin.node,
            topic_id: origin.topic_id,
        });
    }
    Ok(())
}

/// Extracts the acquired records of one partition answer.
pub(crate) fn extract(
    origin: &Origin,
    records: Option<&Bytes>,
    acquired: &[AcquiredRecords],
) -> Extracted {
    let ranges = normalise(acquired);
    let mut out = Extracted::default();
    if ranges.is_empty() {
        return out;
    }
    // Offsets handled (delivered or corrupt), ascending.
    let mut handled: Vec<i64> = Vec::new();
    let mut r = 0;
    let mut batches = FetchBatches::new(records.cloned().unwrap_or_default());
    // The last offset the payload's complete batches account for.
    let mut covered: Option<i64> = None;
    let mut cut_short = false;
    while let Some(raw) = batches.next_raw() {
        let raw = match raw {
            Ok(raw) => raw,
            Err(e) => {
                // Framing cannot be trusted past this point.
                out.error = Some(e.to_string());
                cut_short = true;
                break;
            }
        };
        let header = raw.header;
        covered = Some(covered.map_or(header.last_offset(), |c| c.max(header.last_offset())));
        if header.is_control() {
            continue;
        }
        // librdkafka's mock writes some batches with a CRC of 0; a data
        // batch is checked. A failed check, or a malformed record in a batch
        // whose CRC holds, rejects all of the batch's acquired offsets.
        let delivered = raw.decode(&DecodeOptions::default()).and_then(|batch| {
            deliver(
                origin,
                &batch,
                &ranges,
                &mut r,
                &mut out.records,
                &mut handled,
            )
        });
        if let Err(e) = delivered {
            let (lo, hi) = (header.base_offset, header.last_offset());
            for &(first, last, _) in &ranges {
                let (a, b) = (first.max(lo), last.min(hi));
                if a <= b {
                    out.corrupt.extend(a..=b);
                }
            }
            handled.extend(
                out.corrupt
                    .iter()
                    .copied()
                    .filter(|o| (lo..=hi).contains(o)),
            );
            out.error = Some(format!("batch at offset {lo}: {e}"));
        }
    }
    cut_short |= batches.incomplete().is_some();
    handled.sort_unstable();
    handled.dedup();
    let mut h = 0;
    for &(first, last, _) in &ranges {
        // An inclusive range: no overflow when `last` is i64::MAX.
        for o in first..=last {
            while h < handled.len() && handled[h] < o {
                h += 1;
            }
            if handled.get(h) != Some(&o) {
                if cut_short && covered.is_none_or(|c| o > c) {
                    out.unknown.push(o);
                } else {
                    out.gaps.push(o);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rkafka_protocol::records::{NewRecord, RecordBatchBuilder};

    fn origin() -> Origin {
        Origin {
            node: 1,
            topic_id: Uuid::from_u128(9),
            topic: "t".into(),
            partition: 0,
        }
    }

    fn batch(base: i64, n: usize, control: bool) -> Bytes {
        let mut b = RecordBatchBuilder::new().base_offset(base).control(control);
        for i in 0..n {
            let v = format!("v{}", base + i as i64);
            b.push(&NewRecord {
                timestamp: 1000,
                key: None,
                value: Some(v.as_bytes()),
                headers: &[],
            })
            .unwrap();
        }
        b.finish().unwrap()
    }

    fn acq(first: i64, last: i64, count: i16) -> AcquiredRecords {
        AcquiredRecords::default()
            .with_first_offset(first)
            .with_last_offset(last)
            .with_delivery_count(count)
    }

    #[test]
    fn only_acquired_offsets_are_delivered_with_their_count() {
        let data = batch(0, 10, false);
        let got = extract(&origin(), Some(&data), &[acq(2, 3, 1), acq(7, 8, 3)]);
        let offs: Vec<(i64, i16)> = got
            .records
            .iter()
            .map(|r| (r.offset, r.delivery_count))
            .collect();
        assert_eq!(offs, vec![(2, 1), (3, 1), (7, 3), (8, 3)]);
        assert_eq!(got.records[0].value.as_deref(), Some(&b"v2"[..]));
        assert!(got.gaps.is_empty());
    }

    #[test]
    fn acquired_offsets_without_records_become_gaps_and_control_batches_are_hidden() {
        let mut data = batch(0, 2, false).to_vec();
        data.extend_from_slice(&batch(2, 1, true));
        data.extend_from_slice(&batch(5, 1, false));
        let got = extract(&origin(), Some(&Bytes::from(data)), &[acq(0, 6, 1)]);
        let offs: Vec<i64> = got.records.iter().map(|r| r.offset).collect();
        assert_eq!(offs, vec![0, 1, 5]);
        assert_eq!(got.gaps, vec![2, 3, 4, 6]);
    }

    #[test]
    fn overlapping_and_inverted_ranges_are_tolerated() {
        let data = batch(0, 4, false);
        let got = extract(
            &origin(),
            Some(&data),
            &[acq(0, 2, 1), acq(1, 3, 2), acq(9, 1, 1)],
        );
        let offs: Vec<(i64, i16)> = got
            .records
            .iter()
            .map(|r| (r.offset, r.delivery_count))
            .collect();
        assert_eq!(offs, vec![(0, 1), (1, 1), (2, 1), (3, 2)]);
    }

    #[test]
    fn huge_ranges_are_bounded() {
        let got = extract(&origin(), None, &[acq(0, i64::MAX, 1)]);
        assert_eq!(got.gaps.len() as u64, MAX_ACQUIRED);
    }

    #[test]
    fn ranges_ending_at_the_largest_offset_do_not_overflow() {
        let got = extract(
            &origin(),
            None,
            &[acq(i64::MAX - 2, i64::MAX, 1), acq(i64::MAX, i64::MAX, 1)],
        );
        assert_eq!(got.gaps, vec![i64::MAX - 2, i64::MAX - 1, i64::MAX]);
    }

    /// Random ranges over random or real record bytes: never a panic, only
    /// acquired offsets delivered, each acquired offset delivered, a gap or
    /// corrupt exactly once.
    #[test]
    fn random_answers_keep_the_invariants() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(932);
        for _ in 0..500 {
            let ranges: Vec<AcquiredRecords> = (0..rng.random_range(0..5))
                .map(|_| {
                    let first = rng.random_range(-3..40);
                    acq(
                        first,
                        first + rng.random_range(-2..10),
                        rng.random_range(1..6),
                    )
                })
                .collect();
            let data = match rng.random_range(0..3) {
                0 => batch(rng.random_range(0..20), rng.random_range(1..20), false),
                1 => Bytes::from(
                    (0..rng.random_range(0..200))
                        .map(|_| rng.random::<u8>())
                        .collect::<Vec<_>>(),
                ),
                _ => {
                    let mut b = batch(0, 30, false).to_vec();
                    let cut = rng.random_range(0..b.len());
                    b.truncate(cut);
                    Bytes::from(b)
                }
            };
            let got = extract(&origin(), Some(&data), &ranges);
            let acquired: std::collections::BTreeSet<i64> = normalise(&ranges)
                .iter()
                .flat_map(|&(a, b, _)| a..=b)
                .collect();
            let mut all: Vec<i64> = got.records.iter().map(|r| r.offset).collect();
            all.extend(&got.gaps);
            all.extend(&got.corrupt);
            all.extend(&got.unknown);
            all.sort_unstable();
            let n = all.len();
            all.dedup();
            assert_eq!(all.len(), n, "an offset handled twice");
            assert_eq!(
                all.into_iter().collect::<std::collections::BTreeSet<_>>(),
                acquired
            );
        }
    }

    #[test]
    fn offsets_past_a_cut_off_payload_are_unknown_not_gaps() {
        let mut data = batch(0, 3, false).to_vec();
        let second = batch(3, 3, false);
        data.extend_from_slice(&second[..second.len() / 2]);
        let got = extract(&origin(), Some(&Bytes::from(data)), &[acq(0, 6, 1)]);
        assert_eq!(got.records.len(), 3);
        assert!(got.gaps.is_empty(), "{:?}", got.gaps);
        assert_eq!(got.unknown, vec![3, 4, 5, 6]);
    }

    #[test]
    fn corrupt_batch_offsets_are_reported_not_delivered() {
        let mut data = batch(0, 3, false).to_vec();
        let n = data.len();
        data[n - 1] ^= 0xff; // breaks the CRC
        let got = extract(&origin(), Some(&Bytes::from(data)), &[acq(0, 2, 1)]);
        assert!(got.records.is_empty());
        assert_eq!(got.corrupt, vec![0, 1, 2]);
        assert!(got.gaps.is_empty());
        assert!(got.error.is_some());
    }

    #[test]
    fn a_malformed_record_under_a_good_crc_rejects_the_whole_batch() {
        let mut data = batch(0, 3, false).to_vec();
        // The last record's header count (its last byte) becomes 1, a header
        // the record has no bytes for; then the CRC is made right again.
        let n = data.len();
        data[n - 1] = 0x02;
        let crc = crc32c(&data[21..]);
        data[17..21].copy_from_slice(&crc.to_be_bytes());
        let got = extract(&origin(), Some(&Bytes::from(data)), &[acq(0, 2, 1)]);
        assert!(
            got.records.is_empty(),
            "no record of the batch is delivered"
        );
        assert_eq!(got.corrupt, vec![0, 1, 2]);
        assert!(got.error.unwrap().contains("invalid record 2"));
    }

    /// CRC32C, bit by bit: enough for a test, and independent of the codec's.
    fn crc32c(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = (crc >> 1) ^ (0x82f6_3b78 & 0u32.wrapping_sub(crc & 1));
            }
        }
        !crc
    }
}
