//! Acknowledgement types and their wire encoding (contiguous batches).
//!
//! Pure code: which offsets of a partition were acknowledged how, turned
//! into the `AcknowledgementBatches` the broker validates (ascending,
//! non-overlapping, one type when uniform, else one type per offset).

use std::collections::BTreeMap;

/// How the application settles a delivered record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AcknowledgeType {
    /// Processed: the broker archives the record.
    Accept,
    /// Not processed: the broker makes it available again (delivery count + 1
    /// on the next delivery, archived once the group's delivery limit is hit).
    Release,
    /// Unprocessable: archived, never delivered again.
    Reject,
    /// Still working on it: extend the acquisition lock (KIP-1222). Explicit
    /// mode only, and only against brokers with ShareFetch/ShareAcknowledge v2.
    Renew,
}

impl AcknowledgeType {
    /// The wire code (1..=4; 0 is the client-internal GAP).
    pub fn code(self) -> i8 {
        match self {
            Self::Accept => 1,
            Self::Release => 2,
            Self::Reject => 3,
            Self::Renew => 4,
        }
    }
}

/// The wire code of a GAP acknowledgement: an acquired offset that has no
/// record (compacted away, a control batch, an abort marker).
pub(crate) const GAP: i8 = 0;
/// The wire code of RENEW.
pub(crate) const RENEW: i8 = 4;

/// One encoded batch: `first..=last` with either one type for all offsets or
/// exactly one type per offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AckBatch {
    pub first: i64,
    pub last: i64,
    pub types: Vec<i8>,
}

/// Runs of at least this many equal types inside a mixed run get their own
/// single-type batch (the Java client's rule), keeping requests small.
const SPLIT_RUN: usize = 10;

/// Encodes one partition's acknowledgements (offset → type code).
pub(crate) fn encode(acks: &BTreeMap<i64, i8>) -> Vec<AckBatch> {
    let mut out = Vec::new();
    let mut run: Vec<(i64, i8)> = Vec::new();
    for (&offset, &ty) in acks {
        if let Some(&(prev, _)) = run.last() {
            if prev.checked_add(1) != Some(offset) {
                flush_contiguous(&run, &mut out);
                run.clear();
            }
        }
        run.push((offset, ty));
    }
    flush_contiguous(&run, &mut out);
    out
}

/// Encodes a contiguous run, splitting out long uniform stretches.
fn flush_contiguous(run: &[(i64, i8)], out: &mut Vec<AckBatch>) {
    if run.is_empty() {
        return;
    }
    if run.iter().all(|&(_, t)| t == run[0].1) {
        out.push(AckBatch {
            first: run[0].0,
            last: run[run.len() - 1].0,
            types: vec![run[0].1],
        });
        return;
    }
    // Mixed: cut into stretches of equal type; long stretches stand alone,
    // short ones are merged into per-offset batches.
    let mut mixed: Vec<(i64, i8)> = Vec::new();
    let mut i = 0;
    while i < run.len() {
        let mut j = i;
        while j + 1 < run.len() && run[j + 1].1 == run[i].1 {
            j += 1;
        }
        let stretch = &run[i..=j];
        if stretch.len() >= SPLIT_RUN {
            push_mixed(&mixed, out);
            mixed.clear();
            out.push(AckBatch {
                first: stretch[0].0,
                last: stretch[stretch.len() - 1].0,
                types: vec![stretch[0].1],
            });
        } else {
            mixed.extend_from_slice(stretch);
        }
        i = j + 1;
    }
    push_mixed(&mixed, out);
}

fn push_mixed(mixed: &[(i64, i8)], out: &mut Vec<AckBatch>) {
    if mixed.is_empty() {
        return;
    }
    let types: Vec<i8> = mixed.iter().map(|&(_, t)| t).collect();
    let uniform = types.iter().all(|&t| t == types[0]);
    out.push(AckBatch {
        first: mixed[0].0,
        last: mixed[mixed.len() - 1].0,
        types: if uniform { vec![types[0]] } else { types },
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acks(pairs: &[(i64, i8)]) -> BTreeMap<i64, i8> {
        pairs.iter().copied().collect()
    }

    #[test]
    fn uniform_contiguous_run_is_one_batch_with_one_type() {
        let b = encode(&acks(&[(5, 1), (6, 1), (7, 1)]));
        assert_eq!(
            b,
            vec![AckBatch {
                first: 5,
                last: 7,
                types: vec![1]
            }]
        );
    }

    #[test]
    fn holes_split_batches() {
        let b = encode(&acks(&[(1, 1), (2, 1), (4, 2), (9, 3)]));
        assert_eq!(
            b,
            vec![
                AckBatch {
                    first: 1,
                    last: 2,
                    types: vec![1]
                },
                AckBatch {
                    first: 4,
                    last: 4,
                    types: vec![2]
                },
                AckBatch {
                    first: 9,
                    last: 9,
                    types: vec![3]
                },
            ]
        );
    }

    #[test]
    fn mixed_run_has_one_type_per_offset() {
        let b = encode(&acks(&[(0, 1), (1, 2), (2, 1), (3, 0)]));
        assert_eq!(
            b,
            vec![AckBatch {
                first: 0,
                last: 3,
                types: vec![1, 2, 1, 0]
            }]
        );
    }

    #[test]
    fn long_uniform_stretch_inside_a_mixed_run_stands_alone() {
        let mut m: Vec<(i64, i8)> = vec![(0, 2), (1, 3)];
        m.extend((2..14).map(|o| (o, 1)));
        m.push((14, 2));
        let b = encode(&acks(&m));
        assert_eq!(
            b,
            vec![
                AckBatch {
                    first: 0,
                    last: 1,
                    types: vec![2, 3]
                },
                AckBatch {
                    first: 2,
                    last: 13,
                    types: vec![1]
                },
                AckBatch {
                    first: 14,
                    last: 14,
                    types: vec![2]
                },
            ]
        );
        // Ascending and non-overlapping, as the broker requires.
        for w in b.windows(2) {
            assert!(w[0].last < w[1].first);
        }
    }

    #[test]
    fn empty_is_nothing() {
        assert!(encode(&BTreeMap::new()).is_empty());
    }
}
